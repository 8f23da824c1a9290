/**
 * Everything an HA cycle shows to the outside world, driven from the loop's `onCycle` seam:
 * cluster triggers, alert files and their commands (`over_warning_limit_command`,
 * `failover_command`), the JSON state file, statsd and the heartbeat table.
 *
 * `observe` is synchronous and only STARTS work: commands go to the background runner, the
 * state file and the heartbeat are written without being awaited (each skips a cycle while its
 * previous write still runs), statsd is fire-and-forget UDP. Nothing here feeds back into an HA
 * decision; at worst an outside view is one cycle late.
 */
import type { ClusterSnapshot } from '../domain/cluster.js';
import type { Clock } from '../domain/clock.js';
import { errorText } from '../errors.js';
import type { ClusterTriggers } from '../events/cluster-triggers.js';
import { buildEventDocument } from '../events/document.js';
import { splitCommand, type CommandRunner } from '../events/runner.js';
import type { Logger } from '../log.js';
import type { CycleReport } from '../loop/loop.js';
import type { AlertFiles } from './alert-files.js';
import type { HeartbeatMonitor } from './heartbeat-monitor.js';
import { memberLags, membersOverLagLimit, primaryMembers, type LagLimits, type MemberLag } from './lag.js';
import { buildStateDocument, type StateFileWriter } from './state-file.js';
import { reportCycle, type StatsdClient } from './statsd.js';

export interface OutsideViewsOptions {
  /** This member's name. */
  name: string;
  scope: string;
  clock: Clock;
  log: Logger;
  runner: CommandRunner;
  alerts: AlertFiles;
  triggers: ClusterTriggers;
  /** Null when the feature is off. */
  stateFile: StateFileWriter | null;
  statsd: StatsdClient | null;
  heartbeat: HeartbeatMonitor | null;
  /** `warning_replication_bytes_lag` / `warning_replication_time_lag`. */
  limits: LagLimits;
  overWarningLimitCommand?: string | undefined;
  failoverCommand?: string | undefined;
  /** `postgresql.callback_timeout`, also used for these commands. */
  timeoutSeconds: number;
  /** Why the last probe of the local PostgreSQL failed, or null (feeds `authentication_error`). */
  pgProbeError: () => string | null;
}

/**
 * A refused login: PostgreSQL's SQLSTATE class 28 (`28P01` wrong password, `28000` no pg_hba
 * entry or role), and etcd's authentication / permission errors.
 */
const AUTH_FAILURE = /SQLSTATE 28|password authentication failed|no pg_hba\.conf entry|authenticat|invalid (user|password)|permission denied/i;

export class OutsideViews {
  /** The last leader seen (kept through a leaderless gap), to recognise a failover. */
  private lastLeader: string | null = null;
  private delayWarning = false;
  /** `reportCycle`'s memory: undefined until the first cycle. */
  private statsdLeader: string | null | undefined = undefined;

  constructor(private readonly o: OutsideViewsOptions) {}

  observe(report: CycleReport): void {
    const { view, cluster } = report;
    this.o.heartbeat?.tick(view, cluster);
    const seconds = this.o.heartbeat?.measured() ?? new Map<string, number>();
    let lags: Record<string, MemberLag> | undefined;
    if (cluster !== null) {
      lags = memberLags(cluster, Object.fromEntries(seconds));
      this.o.triggers.observe(cluster, this.o.clock.now(), seconds);
      this.checkLag(cluster, lags, seconds);
      const primaries = primaryMembers(cluster);
      this.o.alerts.set('multiple_primary_warning', primaries.length > 1, { primaries });
      this.checkLeaderChange(cluster, seconds);
    }
    this.checkAuthentication(report.dcsError);

    const nowMs = this.o.clock.wallNow();
    if (this.o.stateFile) {
      const doc = buildStateDocument(view, { nowMs, ...(lags ? { lags } : {}), alerts: this.o.alerts.active() });
      void this.o.stateFile.write(doc);
    }
    if (this.o.statsd) {
      this.statsdLeader = reportCycle(this.o.statsd, view, {
        loopDurationMs: report.durationMs,
        ...(lags ? { lags } : {}),
        ...(this.statsdLeader !== undefined ? { previousLeader: this.statsdLeader } : {}),
      });
    }
  }

  /** `replication_delay_warning`, and `over_warning_limit_command` when it starts. */
  private checkLag(cluster: ClusterSnapshot, lags: Record<string, MemberLag>, seconds: ReadonlyMap<string, number>): void {
    const { limits } = this.o;
    if (limits.bytes === undefined && limits.seconds === undefined) return;
    const over = membersOverLagLimit(lags, limits, cluster.leader?.name ?? null);
    const active = over.length > 0;
    this.o.alerts.set('replication_delay_warning', active, { members: over });
    if (active && !this.delayWarning) {
      const reason = `over the replication lag warning limit: ${over.map((w) => `${w.name} (${w.over.join(', ')})`).join(', ')}`;
      this.run('over_warning_limit_command', this.o.overWarningLimitCommand, 'replication_delay_warning', cluster, seconds, reason);
    }
    this.delayWarning = active;
  }

  /**
   * `failover_has_happened` when the leader key names another member than the last leader seen
   * (the first cycle only records it), and `failover_command` on the member that took over.
   */
  private checkLeaderChange(cluster: ClusterSnapshot, seconds: ReadonlyMap<string, number>): void {
    const seen = cluster.leader?.name ?? null;
    const previous = this.lastLeader;
    if (seen === null) return;
    this.lastLeader = seen;
    if (previous === null || previous === seen) return;
    this.o.alerts.set('failover_has_happened', true, { from: previous, to: seen });
    if (seen === this.o.name) {
      const reason = `this node took over the leadership from ${previous}`;
      this.run('failover_command', this.o.failoverCommand, 'failover', cluster, seconds, reason);
    }
  }

  private checkAuthentication(dcsError: string | null): void {
    const failures = [this.o.pgProbeError(), dcsError].filter((t): t is string => t !== null && AUTH_FAILURE.test(t));
    this.o.alerts.set('authentication_error', failures.length > 0, { errors: failures });
  }

  /** Submits a configured command with the event document on stdin; never throws. */
  private run(key: string, command: string | undefined, event: string, cluster: ClusterSnapshot, seconds: ReadonlyMap<string, number>, reason: string): void {
    if (command === undefined) return;
    try {
      const doc = buildEventDocument({ event, scope: this.o.scope, cluster, member: { name: this.o.name }, lagSeconds: seconds, reason });
      this.o.runner.submit({ key, label: key, argv: splitCommand(command), stdin: JSON.stringify(doc), timeoutMs: this.o.timeoutSeconds * 1000 });
    } catch (e) {
      this.o.log.warn(`${key} not run: ${errorText(e)}`);
    }
  }
}
