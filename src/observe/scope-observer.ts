/**
 * Observes one cluster (scope): a `ScopeFeed` keeps the latest etcd snapshot, and every
 * `poll_interval` (at once when the leader key changes) a ROUND probes every member of that
 * snapshot, concludes (`detect.ts`), raises or clears alerts and publishes a {@link ScopeState}
 * for the REST API. Rounds never overlap. While etcd does not answer, rounds go on over the
 * members of the last snapshot: the observer's own view of PostgreSQL is worth most then.
 */
import type { ClusterSnapshot, Member } from '../domain/cluster.js';
import { errorText } from '../errors.js';
import type { Logger } from '../log.js';
import type { AlertFiles } from '../outside/alert-files.js';
import type { LagLimits } from '../outside/lag.js';
import { ScopeFeed } from '../watch/scope-feed.js';
import { alertConditions, assess, confirmAlerts, OBSERVER_ALERTS, type Assessment, type MemberProbe, type ObserverAlert } from './detect.js';
import type { ClusterReader } from './etcd-reader.js';

/** One finished round. */
export interface Round {
  /** Wall-clock ms when the round's probes started. */
  at: number;
  /** The snapshot the round probed (the newest etcd read at that time). */
  cluster: ClusterSnapshot;
  probes: MemberProbe[];
  assessment: Assessment;
}

/** What the REST API shows for one scope. */
export interface ScopeState {
  scope: string;
  /** Wall-clock ms of the last successful etcd read, or null when etcd was never read. */
  etcdReadAt: number | null;
  /** The last finished round, or null before the first one. */
  round: Round | null;
  /** Alerts in force (confirmed in two rounds in a row), in {@link OBSERVER_ALERTS} order. */
  alerts: ObserverAlert[];
  lagLimits: LagLimits;
}

export interface ScopeObserverOptions {
  scope: string;
  reader: ClusterReader;
  /** Probes one member; must not reject (`probe.ts`). */
  probe(member: Member): Promise<MemberProbe>;
  limits: LagLimits;
  pollIntervalMs: number;
  alerts: AlertFiles;
  log: Logger;
  /** Wall clock in ms; injectable for tests. */
  now?: () => number;
}


export class ScopeObserver {
  private readonly feed: ScopeFeed;
  private readonly abort = new AbortController();
  private readonly now: () => number;
  private done: Promise<void> | null = null;
  private latest: ClusterSnapshot | null = null;
  private etcdReadAt: number | null = null;
  private round: Round | null = null;
  private seenBefore: ReadonlySet<ObserverAlert> = new Set();
  private raised: ReadonlySet<ObserverAlert> = new Set();
  /** A round was asked for (new leader, stop) since the current one started. */
  private wakeRequested = false;
  /** Ends the pause between rounds early; null while a round runs. */
  private endPause: (() => void) | null = null;

  constructor(private readonly opts: ScopeObserverOptions) {
    this.now = opts.now ?? Date.now;
    this.feed = new ScopeFeed({
      scope: opts.scope,
      dcs: opts.reader,
      pollIntervalMs: opts.pollIntervalMs,
      log: opts.log,
      whileDown: 'probing the members of the last cluster read',
      onSnapshot: (s) => this.onSnapshot(s),
    });
  }

  start(): void {
    if (this.done !== null) return;
    this.feed.start();
    this.done = this.loop();
  }

  /** Ends the rounds and the etcd feed; resolves when a round in progress has finished. */
  async stop(): Promise<void> {
    this.abort.abort();
    this.wakeUp();
    await Promise.all([this.feed.stop(), this.done]);
  }

  /** The state to publish (cheap: called per REST request). */
  state(): ScopeState {
    return {
      scope: this.opts.scope,
      etcdReadAt: this.etcdReadAt,
      round: this.round,
      alerts: OBSERVER_ALERTS.filter((a) => this.raised.has(a)),
      lagLimits: this.opts.limits,
    };
  }

  /** Records a snapshot; a new leader (or the first snapshot) starts a round at once. */
  onSnapshot(snapshot: ClusterSnapshot): void {
    const previous = this.latest;
    this.latest = snapshot;
    this.etcdReadAt = this.now();
    if (previous === null || previous.leader?.name !== snapshot.leader?.name) this.wakeUp();
  }

  private wakeUp(): void {
    this.wakeRequested = true;
    this.endPause?.();
  }

  /** One round over the latest snapshot (nothing before the first etcd read). Never rejects. */
  async runRound(): Promise<void> {
    const cluster = this.latest;
    if (cluster === null) return;
    const { scope, limits, log } = this.opts;
    const at = this.now();
    try {
      const probes = await Promise.all(cluster.members.map((m) => this.opts.probe(m)));
      const assessment = assess(cluster, probes, limits);
      this.round = { at, cluster, probes, assessment };
      this.applyAlerts(assessment);
    } catch (e) {
      log.error(`scope ${scope}: unexpected error in an observation round: ${errorText(e)}`);
    }
  }

  private applyAlerts(assessment: Assessment): void {
    const { scope, limits, alerts, log } = this.opts;
    const conditions = alertConditions(assessment, limits);
    const seen = new Set(conditions.keys());
    const confirmed = confirmAlerts(this.seenBefore, seen);
    if (confirmed.has('multiple_primary_warning') && !this.raised.has('multiple_primary_warning')) {
      log.error(
        `scope ${scope}: more than one primary: ${assessment.primaries.join(', ')} answer as primary (not in recovery); ` +
          `the leader key names ${assessment.leader ?? 'nobody'}`,
      );
    }
    if (confirmed.has('leader_in_recovery_warning') && !this.raised.has('leader_in_recovery_warning')) {
      log.error(`scope ${scope}: the leader key names ${assessment.leader ?? '?'}, but its PostgreSQL is in recovery: no writable primary`);
    }
    for (const a of OBSERVER_ALERTS) alerts.set(a, confirmed.has(a), conditions.get(a));
    this.seenBefore = seen;
    this.raised = confirmed;
  }

  private async loop(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      this.wakeRequested = false;
      await this.runRound();
      if (signal.aborted || this.wakeRequested) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => this.endPause?.(), this.opts.pollIntervalMs);
        this.endPause = () => {
          clearTimeout(timer);
          this.endPause = null;
          resolve();
        };
      });
    }
  }
}
