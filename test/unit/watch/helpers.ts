import type { ClusterSnapshot, MemberData } from '../../../src/domain/cluster.js';
import { encodeMember, KEYS } from '../../../src/dcs/codec.js';
import { MemoryDcs, MemoryStore } from '../../../src/dcs/memory.js';
import { clusterPrefix } from '../../../src/dcs/port.js';
import type { CommandJob, CommandOutcome } from '../../../src/events/runner.js';
import type { WatchDocument } from '../../../src/watch/document.js';
import type { PluginRunner } from '../../../src/watch/watcher.js';

export { memoryLogger, scratch } from '../events/helpers.js';

/** Member data of a running replica on 127.0.0.1, port 5432 + index. */
export function memberData(index: number, over: Partial<MemberData> = {}): MemberData {
  return {
    conn_url: `postgres://127.0.0.1:${5432 + index}/postgres`,
    api_url: `http://127.0.0.1:${8008 + index}/patroni`,
    state: 'running',
    role: 'replica',
    version: '0.1.0',
    xlog_location: 1000,
    timeline: 1,
    ...over,
  };
}

/** A snapshot with `leader` holding the key and the given members (nothing else set). */
export function snapshot(leader: string | null, members: Record<string, MemberData>): ClusterSnapshot {
  return {
    initialize: '7000000000000000000',
    config: {},
    configModRevision: '1',
    leader: leader === null ? null : { name: leader, modRevision: '2' },
    members: Object.entries(members).map(([name, data]) => ({ name, data })),
    optime: null,
    history: null,
    failover: null,
    failoverModRevision: null,
    sync: null,
    failsafe: null,
    syncModRevision: null,
    revision: '3',
  };
}

/**
 * One cluster in a `MemoryStore`, written the way agents write it (plain keys, no leases, so
 * nothing expires under a test): steps move the leader and change member keys.
 */
export class FakeCluster {
  readonly prefix: string;

  constructor(
    readonly store: MemoryStore,
    readonly scope: string,
  ) {
    this.prefix = clusterPrefix('/service/', scope);
    store.put(this.prefix + KEYS.initialize, '7000000000000000000');
  }

  member(name: string, data: MemberData): void {
    this.store.put(`${this.prefix}${KEYS.membersDir}${name}`, encodeMember(data));
  }

  removeMember(name: string): void {
    this.store.delete(`${this.prefix}${KEYS.membersDir}${name}`);
  }

  leader(name: string | null): void {
    if (name === null) this.store.delete(this.prefix + KEYS.leader);
    else this.store.put(this.prefix + KEYS.leader, name);
  }

  /** A reader for the watcher (one Dcs per scope, as `pgwarden watch` makes). */
  dcs(): MemoryDcs {
    return new MemoryDcs(this.store, { namespace: '/service/', scope: this.scope, callTimeoutMs: 1000, nodeName: 'watcher' });
  }
}

/**
 * A runner that records jobs and lets the test end each run with the outcome it chooses.
 * It fails the test (records a violation) if a job is submitted while one with its key runs.
 */
export class ScriptedRunner implements PluginRunner {
  readonly jobs: CommandJob[] = [];
  readonly violations: string[] = [];
  private readonly running = new Map<string, CommandJob>();
  private onOutcome: (o: CommandOutcome) => void = () => undefined;
  stoppedWith: number | null = null;

  bind(onOutcome: (o: CommandOutcome) => void): this {
    this.onOutcome = onOutcome;
    return this;
  }

  submit(job: CommandJob): void {
    if (this.running.has(job.key)) this.violations.push(`${job.label} submitted while a run of it was in flight`);
    this.running.set(job.key, job);
    this.jobs.push(job);
  }

  /** Jobs submitted for one plugin, oldest first. */
  runsOf(plugin: string): CommandJob[] {
    return this.jobs.filter((j) => j.key === `watch:${plugin}`);
  }

  isRunning(plugin: string): boolean {
    return this.running.has(`watch:${plugin}`);
  }

  /** Ends the run in flight of `plugin` with `exitCode` (0 = success). */
  finish(plugin: string, exitCode = 0, more: Partial<CommandOutcome> = {}): void {
    const key = `watch:${plugin}`;
    const job = this.running.get(key);
    if (!job) throw new Error(`no run of ${plugin} in flight`);
    this.running.delete(key);
    this.onOutcome({ key, label: job.label, exitCode, signal: null, timedOut: false, durationMs: 1, stderrTail: '', ...more });
  }

  async stop(graceMs: number): Promise<void> {
    this.stoppedWith = graceMs;
  }
}

/** The watch document a job carries on stdin. */
export function docOf(job: CommandJob | undefined): WatchDocument {
  if (!job) throw new Error('no such job');
  return JSON.parse(job.stdin) as WatchDocument;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` every 10 ms until it is true; fails with `what` after `ms`. */
export async function until(what: string, probe: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await sleep(10);
  }
}
