/**
 * The stateful shell around `trackTopology`: keeps the last announced topology, logs each event
 * and submits the configured trigger commands (plus the heartbeat) to the runner. The daemon
 * calls `observe` once per HA cycle with the snapshot it just read; like callbacks, nothing
 * here waits for a command or throws into the loop.
 *
 * Once per cluster (`announceAs`): every node tracks the topology, so that a node that becomes
 * leader already knows what changed, but only the holder of the leader key in the snapshot
 * submits. Events seen while NO ONE holds the key (the old leader died, its key expired) are
 * kept, and the node that takes the key next submits them before its own (`leader_down`, then
 * `leader_up` and `failover_happened`); the other nodes drop theirs when they see someone else
 * lead. A node restarted while leaderless may thus miss a `leader_down`, never repeat one.
 */
import type { ClusterSnapshot } from '../domain/cluster.js';
import { errorText } from '../errors.js';
import type { Logger } from '../log.js';
import type { TriggersConfig } from './config.js';
import { buildEventDocument, type ClusterEventDocument } from './document.js';
import type { CommandRunner } from './runner.js';
import { trackTopology, triggerJob, type ClusterEvent, type TopologyState } from './triggers.js';

export interface ClusterTriggersConfig {
  triggers: TriggersConfig | undefined;
  scope: string;
  timeoutSeconds: number;
  /**
   * This node's member name: submit only while it holds the leader key (see the class comment).
   * Undefined: submit every event (a single observer, the unit tests).
   */
  announceAs?: string;
}

/** An event with the document built when it was seen, waiting for a leader to announce it. */
interface Pending {
  event: ClusterEvent;
  doc: ClusterEventDocument;
}

export class ClusterTriggers {
  private state: TopologyState | null = null;
  /** Events seen while the leader key was free (only with `announceAs`). */
  private pending: Pending[] = [];

  constructor(
    private readonly runner: CommandRunner,
    private readonly log: Logger,
    private readonly config: ClusterTriggersConfig,
  ) {}

  /**
   * Feeds one fresh snapshot (never call it when etcd could not be read). `nowMs` is any
   * monotonic clock in ms; `lagSeconds` maps member name → replay delay when measured.
   * Returns the events fired (for tests and the caller's own logging).
   */
  observe(cluster: ClusterSnapshot, nowMs: number, lagSeconds?: ReadonlyMap<string, number>): ClusterEvent[] {
    const triggers = this.config.triggers ?? {};
    const { state, events, lost } = trackTopology(this.state, cluster, triggers, nowMs, lagSeconds);
    this.state = state;
    const seen = events.map((event) => ({ event, doc: this.document(event, cluster, lost, lagSeconds) }));
    const self = this.config.announceAs;
    const holder = cluster.leader?.name ?? null;
    if (self !== undefined && holder !== self) {
      // Someone else announces (or, with no leader, whoever takes the key next).
      this.pending = holder === null ? [...this.pending, ...seen] : [];
      for (const { event } of seen) this.log.debug(`cluster event ${event.event} for ${event.member ?? 'the cluster'} (announced by the leader): ${event.reason}`);
      return events;
    }
    for (const { event, doc } of [...this.pending, ...seen]) {
      this.log.info(`cluster event ${event.event} for ${event.member ?? 'the cluster'}: ${event.reason}`);
      this.submit(event, doc);
    }
    this.pending = [];
    if (triggers.heartbeat !== undefined) {
      const heartbeat: ClusterEvent = { event: 'heartbeat', member: null, reason: 'HA cycle completed' };
      this.submit(heartbeat, this.document(heartbeat, cluster, lost, lagSeconds));
    }
    return events;
  }

  private document(event: ClusterEvent, cluster: ClusterSnapshot, lost: string[], lagSeconds?: ReadonlyMap<string, number>): ClusterEventDocument {
    return buildEventDocument({
      event: event.event,
      scope: this.config.scope,
      cluster,
      member: event.member === null ? undefined : { name: event.member },
      lost,
      lagSeconds,
      reason: event.reason,
    });
  }

  private submit(event: ClusterEvent, doc: ClusterEventDocument): void {
    try {
      const job = triggerJob(this.config.triggers, event, this.config.scope, doc, this.config.timeoutSeconds);
      if (job) this.runner.submit(job);
    } catch (e) {
      this.log.warn(`trigger ${event.event} not run: ${errorText(e)}`);
    }
  }
}
