/**
 * The stateful shell around `trackTopology`: keeps the last announced topology, logs each event
 * and submits the configured trigger commands (plus the heartbeat) to the runner. The daemon
 * calls `observe` once per HA cycle with the snapshot it just read; like callbacks, nothing
 * here waits for a command or throws into the loop.
 */
import type { ClusterSnapshot } from '../domain/cluster.js';
import { errorText } from '../errors.js';
import type { Logger } from '../log.js';
import type { TriggersConfig } from './config.js';
import { buildEventDocument } from './document.js';
import type { CommandRunner } from './runner.js';
import { trackTopology, triggerJob, type ClusterEvent, type TopologyState } from './triggers.js';

export interface ClusterTriggersConfig {
  triggers: TriggersConfig | undefined;
  scope: string;
  timeoutSeconds: number;
}

export class ClusterTriggers {
  private state: TopologyState | null = null;

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
    for (const event of events) {
      this.log.info(`cluster event ${event.event} for ${event.member ?? 'the cluster'}: ${event.reason}`);
      this.submit(event, cluster, lost, lagSeconds);
    }
    if (triggers.heartbeat !== undefined) {
      this.submit({ event: 'heartbeat', member: null, reason: 'HA cycle completed' }, cluster, lost, lagSeconds);
    }
    return events;
  }

  private submit(event: ClusterEvent, cluster: ClusterSnapshot, lost: string[], lagSeconds?: ReadonlyMap<string, number>): void {
    try {
      const doc = buildEventDocument({
        event: event.event,
        scope: this.config.scope,
        cluster,
        member: event.member === null ? undefined : { name: event.member },
        lost,
        lagSeconds,
        reason: event.reason,
      });
      const job = triggerJob(this.config.triggers, event, this.config.scope, doc, this.config.timeoutSeconds);
      if (job) this.runner.submit(job);
    } catch (e) {
      this.log.warn(`trigger ${event.event} not run: ${errorText(e)}`);
    }
  }
}
