/**
 * What the observer's REST API serves, built from the published {@link ScopeState}s. Pure.
 *
 * `/cluster` JSON: the same document a node serves under `GET /cluster` (built by the same
 * function, `api/status.ts`), from the snapshot the last round probed, with per member an
 * `observed` block (what the member's PostgreSQL and REST API answered the observer) and one
 * `observer` block with the conclusions and the alerts in force.
 *
 * `/metrics`: Prometheus text, every name `pgwarden_observer_*` with `scope` (and `name` for a
 * member) labels. The observer does not reuse Patroni's `patroni_*` names: a dashboard summing
 * `patroni_primary` over every target would count each primary once more.
 */
import { escapeLabel } from '../api/metrics.js';
import { clusterJson, type ClusterJson, type ClusterMemberJson } from '../api/status.js';
import type { MemberRole } from '../domain/cluster.js';
import type { LagWarning } from '../outside/lag.js';
import { OBSERVER_ALERTS, type MemberProbe, type ObserverAlert } from './detect.js';
import type { ScopeState } from './scope-observer.js';

/** What the observer measured of one member. */
export interface ObservedMemberJson {
  postgres:
    | {
        reachable: true;
        in_recovery: boolean;
        xlog_location: number;
        received_location: number | null;
        replayed_location: number | null;
        timeline: number;
        server_version: number;
        lag_bytes: number | null;
        lag_seconds: number | null;
        heartbeat_age_seconds: number | null;
        heartbeat_error: string | null;
      }
    | { reachable: false; error: string; authentication_failed: boolean };
  api: { reachable: true; role: string | null; state: string | null; reason: string | null } | { reachable: false; error: string };
}

/** The observer's conclusions about one cluster. */
export interface ObserverBlockJson {
  /** ISO time of the last successful etcd read, null when never. */
  etcd_last_read_at: string | null;
  /** ISO time the last round started, null before the first. */
  round_at: string | null;
  round_age_seconds: number | null;
  leader: string | null;
  /** Members whose PostgreSQL answered as primary. */
  primaries: string[];
  multiple_primaries: boolean;
  leader_in_recovery: boolean;
  standby_cluster: boolean;
  /** Alerts in force (confirmed in two rounds in a row). */
  alerts: ObserverAlert[];
  warning_replication_bytes_lag: number | null;
  warning_replication_time_lag: number | null;
  over_lag_limit: LagWarning[];
}

export type ObservedClusterJson = { scope: string } & Omit<ClusterJson, 'members'> & {
    members: (ClusterMemberJson & { observed: ObservedMemberJson })[];
    observer: ObserverBlockJson;
  };

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
const round3 = (x: number): number => Math.round(x * 1000) / 1000;

function observedMember(p: MemberProbe | undefined, lag: { bytes: number | null; seconds: number | null } | undefined): ObservedMemberJson {
  const none = { reachable: false as const, error: 'not probed yet' };
  if (p === undefined) return { postgres: { ...none, authentication_failed: false }, api: none };
  const pg = p.pg;
  const api = p.api;
  return {
    postgres: pg.ok
      ? {
          reachable: true,
          in_recovery: pg.inRecovery,
          xlog_location: pg.lsn,
          received_location: pg.receivedLsn,
          replayed_location: pg.replayedLsn,
          timeline: pg.timeline,
          server_version: pg.serverVersion,
          lag_bytes: lag?.bytes ?? null,
          lag_seconds: lag?.seconds === null || lag?.seconds === undefined ? null : round3(lag.seconds),
          heartbeat_age_seconds: pg.heartbeatAgeSeconds === null ? null : round3(pg.heartbeatAgeSeconds),
          heartbeat_error: pg.heartbeatError,
        }
      : { reachable: false, error: pg.error, authentication_failed: pg.authFailed },
    api: api.ok ? { reachable: true, role: api.role, state: api.state, reason: api.reason } : { reachable: false, error: api.error },
  };
}

/** The `/cluster` document of one scope at wall-clock `nowMs`. */
export function observedClusterJson(state: ScopeState, nowMs: number): ObservedClusterJson {
  const round = state.round;
  const a = round?.assessment ?? null;
  const observer: ObserverBlockJson = {
    etcd_last_read_at: iso(state.etcdReadAt),
    round_at: iso(round?.at ?? null),
    round_age_seconds: round ? round3(Math.max(0, nowMs - round.at) / 1000) : null,
    leader: a?.leader ?? null,
    primaries: a?.primaries ?? [],
    multiple_primaries: (a?.primaries.length ?? 0) > 1,
    leader_in_recovery: a?.leaderInRecovery ?? false,
    standby_cluster: a?.standbyCluster ?? false,
    alerts: [...state.alerts],
    warning_replication_bytes_lag: state.lagLimits.bytes ?? null,
    warning_replication_time_lag: state.lagLimits.seconds ?? null,
    over_lag_limit: a?.overLimit ?? [],
  };
  if (round === null) return { scope: state.scope, members: [], observer };
  const cluster = round.cluster;
  const leaderRole = cluster.members.find((m) => m.name === cluster.leader?.name)?.data.role;
  // clusterJson compares the role with 'standby_leader' only.
  const base = clusterJson({ cluster, paused: cluster.config?.['pause'] === true, role: (leaderRole ?? 'replica') as MemberRole });
  const members = base.members.map((m) => ({
    ...m,
    observed: observedMember(
      round.probes.find((p) => p.name === m.name),
      round.assessment.lags[m.name],
    ),
  }));
  return { scope: state.scope, ...base, members, observer };
}

type Sample = [labels: Record<string, string>, value: number];

function family(name: string, type: 'gauge', help: string, samples: readonly Sample[]): string {
  let out = `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`;
  for (const [labels, value] of samples) {
    const text = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',');
    out += `${name}{${text}} ${value}\n`;
  }
  return out;
}

const flag = (b: boolean): number => (b ? 1 : 0);

/** Prometheus text for every observed scope (ends with a line feed). */
export function observerMetricsText(states: readonly ScopeState[]): string {
  const perScope = (value: (s: ScopeState) => number | null): Sample[] =>
    states.flatMap((s) => {
      const v = value(s);
      return v === null ? [] : [[{ scope: s.scope }, v] as Sample];
    });
  const perMember = (value: (p: MemberProbe, s: ScopeState) => number | null): Sample[] =>
    states.flatMap((s) =>
      (s.round?.probes ?? []).flatMap((p) => {
        const v = value(p, s);
        return v === null ? [] : [[{ scope: s.scope, name: p.name }, v] as Sample];
      }),
    );
  const lag = (s: ScopeState, name: string) => s.round?.assessment.lags[name];
  return [
    family('pgwarden_observer_etcd_last_read_seconds', 'gauge', 'Epoch seconds of the last successful etcd read of the cluster.', perScope((s) => (s.etcdReadAt === null ? 0 : s.etcdReadAt / 1000))),
    family('pgwarden_observer_round_seconds', 'gauge', 'Epoch seconds at which the last observation round started.', perScope((s) => (s.round === null ? 0 : s.round.at / 1000))),
    family('pgwarden_observer_members', 'gauge', 'Members in the cluster snapshot of the last round.', perScope((s) => s.round?.cluster.members.length ?? 0)),
    family('pgwarden_observer_has_leader', 'gauge', 'Value is 1 if the leader key names a member, 0 otherwise.', perScope((s) => flag((s.round?.assessment.leader ?? null) !== null))),
    family('pgwarden_observer_primaries', 'gauge', 'Members whose PostgreSQL answered the observer as primary (not in recovery).', perScope((s) => s.round?.assessment.primaries.length ?? 0)),
    family(
      'pgwarden_observer_alert',
      'gauge',
      'Value is 1 while the observer alert is in force, 0 otherwise.',
      states.flatMap((s) => OBSERVER_ALERTS.map((a): Sample => [{ scope: s.scope, alert: a }, flag(s.alerts.includes(a))])),
    ),
    family('pgwarden_observer_postgres_reachable', 'gauge', 'Value is 1 if the member\'s PostgreSQL answered the last probe, 0 otherwise.', perMember((p) => flag(p.pg.ok))),
    family('pgwarden_observer_postgres_primary', 'gauge', 'Value is 1 if the member\'s PostgreSQL answered as primary (not in recovery), 0 otherwise.', perMember((p) => flag(p.pg.ok && !p.pg.inRecovery))),
    family('pgwarden_observer_api_reachable', 'gauge', 'Value is 1 if the member\'s REST API answered the last probe, 0 otherwise.', perMember((p) => flag(p.api.ok))),
    family('pgwarden_observer_xlog_location', 'gauge', 'WAL position the member\'s PostgreSQL reported, in bytes.', perMember((p) => (p.pg.ok ? p.pg.lsn : null))),
    family('pgwarden_observer_replication_lag_bytes', 'gauge', 'Bytes of WAL the replica is behind the leader, as measured by the observer.', perMember((p, s) => lag(s, p.name)?.bytes ?? null)),
    family('pgwarden_observer_replication_lag_seconds', 'gauge', 'Seconds the replica is behind the leader, as measured by the observer.', perMember((p, s) => lag(s, p.name)?.seconds ?? null)),
  ].join('');
}
