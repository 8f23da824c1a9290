/**
 * `GET /metrics` in Prometheus text exposition format 0.0.4 (reference §5), so dashboards and
 * alert rules written for Patroni keep working. Differences from Patroni, on purpose:
 * - `patroni_master` is gone (as in Patroni 4.x); use `patroni_primary`;
 * - no stray space before `{` in `patroni_postgres_server_version` (Patroni fixed it in 4.1.4);
 * - `patroni_postgres_timeline` is a gauge that reads 0 when unknown (as in Patroni 4.x);
 * - every metric has `# HELP` and labels carry `scope` and `name` (Patroni 3.2+);
 * - `pgwarden_loop_age_seconds` tells how long ago the HA loop finished its last cycle, the
 *   number to alert on for a hung node (Patroni issue #2263).
 * Values come from the same derivation as `/patroni`, so both always agree.
 */
import type { NodeView } from '../domain/node-view.js';
import { epochSeconds } from './pg-time.js';
import { statusJson, type StatusJson } from './status.js';

/** Content-Type of the exposition format this module writes. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Escapes a label value: backslash, double quote and line feed, per the exposition format. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/**
 * Patroni's `patroni_version` value: each of the first three version numbers zero-padded to two
 * digits (`3.0.2` → `030002`, `0.1.0` → `000100`). Suffixes such as `-rc1` are ignored.
 */
export function versionNumber(version: string): string {
  const parts = version.split(/[.+-]/).slice(0, 3);
  while (parts.length < 3) parts.push('0');
  return parts.map((p) => String(parseInt(p, 10) || 0).padStart(2, '0')).join('');
}

type MetricType = 'gauge' | 'counter';
type Metric = [name: string, type: MetricType, help: string, value: (s: StatusJson) => number | string];

const flag = (b: boolean | undefined): number => (b === true ? 1 : 0);
const replicaXlog = (s: StatusJson) => (s.xlog !== undefined && 'replayed_location' in s.xlog ? s.xlog : null);

/** Patroni's metrics in Patroni's order (minus `patroni_master`). */
const METRICS: readonly Metric[] = [
  ['patroni_version', 'gauge', 'Version of pgwarden in Patroni\'s zero-padded form.', (s) => versionNumber(s.patroni.version)],
  ['patroni_postgres_running', 'gauge', 'Value is 1 if PostgreSQL is running, 0 otherwise.', (s) => flag(s.state === 'running')],
  ['patroni_postmaster_start_time', 'gauge', 'Epoch seconds since PostgreSQL started.', (s) => (s.postmaster_start_time === undefined ? 0 : epochSeconds(s.postmaster_start_time))],
  ['patroni_primary', 'gauge', 'Value is 1 if this node runs as primary, 0 otherwise.', (s) => flag(s.role === 'primary' && s.xlog !== undefined)],
  ['patroni_xlog_location', 'counter', 'Current WAL location of the primary in bytes.', (s) => (s.xlog !== undefined && 'location' in s.xlog ? s.xlog.location : 0)],
  ['patroni_standby_leader', 'gauge', 'Value is 1 if this node runs as standby leader, 0 otherwise.', (s) => flag(s.role === 'standby_leader')],
  ['patroni_replica', 'gauge', 'Value is 1 if this node runs as replica, 0 otherwise.', (s) => flag(s.role === 'replica')],
  ['patroni_sync_standby', 'gauge', 'Value is 1 if this node is a synchronous standby, 0 otherwise.', (s) => flag(s.sync_standby)],
  ['patroni_xlog_received_location', 'counter', 'Current WAL location received and flushed by a replica in bytes.', (s) => replicaXlog(s)?.received_location ?? 0],
  ['patroni_xlog_replayed_location', 'counter', 'Current WAL location replayed by a replica in bytes.', (s) => replicaXlog(s)?.replayed_location ?? 0],
  ['patroni_xlog_replayed_timestamp', 'gauge', 'Epoch seconds of the last transaction replayed by a replica.', (s) => epochSeconds(replicaXlog(s)?.replayed_timestamp ?? null)],
  ['patroni_xlog_paused', 'gauge', 'Value is 1 if WAL replay is paused, 0 otherwise.', (s) => flag(replicaXlog(s)?.paused)],
  ['patroni_postgres_server_version', 'gauge', 'Version of PostgreSQL (e.g. 150018), 0 if unknown.', (s) => s.server_version ?? 0],
  ['patroni_cluster_unlocked', 'gauge', 'Value is 1 if the cluster has no leader, 0 otherwise.', (s) => flag(s.cluster_unlocked)],
  ['patroni_failsafe_mode_is_active', 'gauge', 'Value is 1 if failsafe mode is active, 0 otherwise.', (s) => flag(s.failsafe_mode_is_active)],
  ['patroni_postgres_timeline', 'gauge', 'PostgreSQL timeline of this node, 0 if unknown.', (s) => s.timeline ?? 0],
  ['patroni_dcs_last_seen', 'gauge', 'Epoch seconds of the last successful read of the cluster from etcd.', (s) => s.dcs_last_seen],
  ['patroni_pending_restart', 'gauge', 'Value is 1 if PostgreSQL needs a restart to apply settings, 0 otherwise.', (s) => flag(s.pending_restart)],
  ['patroni_is_paused', 'gauge', 'Value is 1 if the cluster is in maintenance mode, 0 otherwise.', (s) => flag(s.pause)],
  ['pgwarden_watchdog_active', 'gauge', 'Value is 1 while a watchdog device is open and fed, 0 otherwise.', (s) => flag((s.pgwarden.watchdog?.device ?? null) !== null)],
  ['pgwarden_watchdog_failed', 'gauge', 'Value is 1 if a required watchdog does not work or the companion fencer is not running.', (s) => flag(s.watchdog_failed)],
  ['pgwarden_fencer_running', 'gauge', 'Value is 1 while the companion fencer process runs, 0 otherwise.', (s) => flag(s.pgwarden.watchdog?.fencer_running)],
  ['pgwarden_loop_age_seconds', 'gauge', 'Seconds since the HA loop finished its last cycle.', (s) => s.pgwarden.loop_age_seconds],
];

/**
 * Renders the exposition text. `monoNowMs` is the monotonic clock (for the loop age); it defaults
 * to `wallNowMs`, which is only right with `systemClock`. The body ends with a line feed.
 */
export function metricsText(view: NodeView, wallNowMs: number, monoNowMs: number = wallNowMs): string {
  const s = statusJson(view, wallNowMs, monoNowMs);
  const labels = `{scope="${escapeLabel(view.scope)}",name="${escapeLabel(view.name)}"}`;
  let out = '';
  for (const [name, type, help, value] of METRICS) {
    out += `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name}${labels} ${value(s)}\n`;
  }
  return out;
}
