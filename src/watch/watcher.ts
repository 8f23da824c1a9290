/**
 * The topology watcher (`pgwarden watch`): follows one or more clusters in etcd and runs each
 * configured plugin with the current topology whenever the leader or the healthy members
 * change. It runs on application and proxy hosts and changes nothing in etcd.
 *
 * Pieces: a `ScopeFeed` per scope reads etcd; `topology.ts` reduces each snapshot to what
 * plugins care about; a `PluginSlot` per plugin decides when it runs; the `CommandRunner`
 * runs it (no shell, own process group, killed at the timeout) and reports the outcome. A
 * plugin that fails or hangs is logged and retried; nothing a plugin does can stop the watcher.
 */
import type { ClusterSnapshot } from '../domain/cluster.js';
import type { Dcs } from '../dcs/port.js';
import { errorText } from '../errors.js';
import type { CommandJob, CommandOutcome } from '../events/runner.js';
import type { Logger } from '../log.js';
import { buildWatchDocument, type WatchedCluster, type WatchEvent } from './document.js';
import { PluginSlot } from './plugin-slot.js';
import { ScopeFeed } from './scope-feed.js';
import { describeChange, describeTopology, fingerprint, topologyOf, type Topology } from './topology.js';

/** A plugin as the watcher runs it (the watch YAML's entry, command already split). */
export interface PluginSpec {
  name: string;
  argv: readonly string[];
  /** Scopes it follows, a non-empty subset of the watched ones. */
  scopes: readonly string[];
  env?: Readonly<Record<string, string>>;
}

/** What the watcher needs of `CommandRunner` (tests substitute a recording fake). */
export interface PluginRunner {
  submit(job: CommandJob): void;
  stop(graceMs: number): Promise<void>;
}

export interface WatcherOptions {
  /** One Dcs per watched scope, in the order the watch YAML lists them. */
  dcs: ReadonlyMap<string, Dcs>;
  plugins: readonly PluginSpec[];
  pollIntervalMs: number;
  retryIntervalMs: number;
  /** How long one plugin run may take before its process group is killed. */
  timeoutMs: number;
  log: Logger;
  /** Builds the runner; the watcher passes the hook that receives every run's outcome. */
  makeRunner(onOutcome: (o: CommandOutcome) => void): PluginRunner;
}

/** What the watcher knows of one scope: its last snapshot and the topology in effect. */
interface ScopeState {
  snapshot: ClusterSnapshot;
  topology: Topology;
  fingerprint: string;
}

/** What a plugin's run was given for one scope, to tell the next run what changed since. */
interface Given {
  topology: Topology;
  members: readonly string[];
}

/** Runner keys of plugins: one key per plugin, so the runner, too, never overlaps its runs. */
const keyOf = (plugin: string): string => `watch:${plugin}`;

export class Watcher {
  private readonly scopes = new Map<string, ScopeState>();
  private readonly feeds: ScopeFeed[];
  private readonly slots = new Map<string, PluginSlot>();
  /** Per plugin name: per scope, what its last successful run was given. */
  private readonly given = new Map<string, ReadonlyMap<string, Given>>();
  /** Per plugin name: what the run in flight was given (becomes `given` when it succeeds). */
  private readonly giving = new Map<string, ReadonlyMap<string, Given>>();
  private readonly runner: PluginRunner;
  private waitingNoted = false;

  constructor(private readonly opts: WatcherOptions) {
    this.runner = opts.makeRunner((o) => this.onOutcome(o));
    for (const plugin of opts.plugins) {
      this.slots.set(
        keyOf(plugin.name),
        new PluginSlot(plugin.name, {
          current: () => this.fingerprintFor(plugin),
          launch: (event, fp) => this.launch(plugin, event, fp),
          retryIntervalMs: opts.retryIntervalMs,
          log: opts.log,
        }),
      );
    }
    this.feeds = [...opts.dcs].map(
      ([scope, dcs]) =>
        new ScopeFeed({ scope, dcs, pollIntervalMs: opts.pollIntervalMs, log: opts.log, onSnapshot: (s) => this.onSnapshot(scope, s) }),
    );
  }

  start(): void {
    for (const feed of this.feeds) feed.start();
  }

  /**
   * Stops reading etcd and starting runs; a run in flight gets `graceMs` to finish, then its
   * process group is killed. Resolves when nothing runs any more.
   */
  async stop(graceMs: number): Promise<void> {
    for (const slot of this.slots.values()) slot.close();
    const busy = [...this.slots.values()].filter((s) => s.busy).map((s) => s.name);
    if (busy.length > 0) this.opts.log.info(`waiting up to ${graceMs / 1000} s for plugin run(s) to finish: ${busy.join(', ')}`);
    await Promise.all([...this.feeds.map((f) => f.stop()), this.runner.stop(graceMs)]);
  }

  /** The topology last seen for `scope` (null before its first read); for tests and logs. */
  topology(scope: string): Topology | null {
    return this.scopes.get(scope)?.topology ?? null;
  }

  private onSnapshot(scope: string, snapshot: ClusterSnapshot): void {
    try {
      const before = this.scopes.get(scope);
      const topology = topologyOf(snapshot);
      const fp = fingerprint(topology);
      if (before && before.fingerprint === fp) {
        // Same topology: keep the fresh snapshot so the next document carries current positions.
        before.snapshot = snapshot;
        return;
      }
      this.scopes.set(scope, { snapshot, topology, fingerprint: fp });
      if (before) this.opts.log.info(`scope ${scope}: topology changed: ${describeChange(before.topology, topology)}`);
      else this.opts.log.info(`scope ${scope}: ${describeTopology(topology)}`);
      if (snapshot.members.length === 0 && snapshot.leader === null && snapshot.initialize === null) {
        this.opts.log.warn(`scope ${scope}: etcd has no cluster under this scope (no keys): is the scope (and namespace) right?`);
      }
      this.noteWaiting();
      for (const slot of this.slots.values()) slot.poke();
    } catch (e) {
      this.opts.log.error(`scope ${scope}: cannot use the snapshot read from etcd: ${errorText(e)}`);
    }
  }

  /** Fingerprint of every scope the plugin follows, or null while one was never read. */
  private fingerprintFor(plugin: PluginSpec): string | null {
    const parts: string[] = [];
    for (const scope of plugin.scopes) {
      const state = this.scopes.get(scope);
      if (!state) return null;
      parts.push(`${scope}=${state.fingerprint}`);
    }
    return parts.join('\n');
  }

  private launch(plugin: PluginSpec, event: WatchEvent, fp: string): void {
    const given = this.given.get(plugin.name);
    const giving = new Map<string, Given>();
    this.giving.set(plugin.name, giving);
    const clusters: WatchedCluster[] = plugin.scopes.map((scope) => {
      const { snapshot, topology } = this.scopes.get(scope)!;
      const before = given?.get(scope);
      const present = new Set(snapshot.members.map((m) => m.name));
      giving.set(scope, { topology, members: [...present] });
      return {
        scope,
        snapshot,
        change: describeChange(before?.topology ?? null, topology),
        lost: before ? before.members.filter((n) => !present.has(n)) : [],
      };
    });
    const reason = reasonFor(event, clusters);
    const doc = buildWatchDocument({ event, plugin: plugin.name, reason, clusters });
    this.opts.log.debug(`plugin ${plugin.name}: ${event} (${reason}); topology ${fp.replace(/\n/g, ' ')}`);
    const job: CommandJob = {
      key: keyOf(plugin.name),
      label: `plugin ${plugin.name}`,
      argv: plugin.argv,
      stdin: `${JSON.stringify(doc)}\n`,
      timeoutMs: this.opts.timeoutMs,
    };
    if (plugin.env) job.env = plugin.env;
    this.runner.submit(job);
  }

  private onOutcome(o: CommandOutcome): void {
    const ok = o.exitCode === 0 && !o.timedOut && o.error === undefined;
    const slot = this.slots.get(o.key);
    if (!slot) return;
    const giving = this.giving.get(slot.name);
    if (ok && giving) this.given.set(slot.name, giving);
    this.giving.delete(slot.name);
    slot.finished(ok);
  }

  /** Says once which scopes hold plugins back, until every scope has been read. */
  private noteWaiting(): void {
    const missing = [...this.opts.dcs.keys()].filter((s) => !this.scopes.has(s));
    if (missing.length > 0 && !this.waitingNoted) {
      this.waitingNoted = true;
      this.opts.log.info(`plugins that follow ${missing.join(', ')} wait for the first read of it from etcd`);
    }
  }
}

/** The document's top-level sentence: why this run, and what changed in which cluster. */
function reasonFor(event: WatchEvent, clusters: readonly WatchedCluster[]): string {
  if (event === 'retry') return 'the previous run failed and the topology is unchanged: running again';
  if (event === 'watch_started') return `the watcher started: ${clusters.map((c) => `${c.scope}: ${describeTopology(topologyOf(c.snapshot))}`).join('; ')}`;
  const changed = clusters.filter((c) => c.change !== 'no change').map((c) => `${c.scope}: ${c.change}`);
  return changed.length > 0 ? changed.join('; ') : 'the topology changed';
}
