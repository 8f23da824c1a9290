/**
 * What the observer concludes from one round: PURE functions of the cluster as etcd shows it and
 * of what every member's PostgreSQL and REST API answered the observer itself. No I/O, no clock,
 * so every rule is table-tested (`test/unit/observe/detect.test.ts`).
 *
 * The observer's alerts (files in `<alert_file_dir>/<scope>/`, see `outside/alert-files.ts`):
 * - `multiple_primary_warning`: more than one member's PostgreSQL answers `pg_is_in_recovery()`
 *   = false. Asked of PostgreSQL itself, not read from member keys: a server promoted by hand
 *   behind pgwarden's back publishes nothing, yet takes writes.
 * - `leader_in_recovery_warning`: the leader key names a member whose PostgreSQL answers that it
 *   is in recovery, so the cluster has no writable primary although etcd says it has a leader
 *   (not raised in a standby cluster, whose leader replicates by design).
 * - `replication_delay_warning`: a replica is over `warning_replication_bytes_lag` or
 *   `warning_replication_time_lag`, measured by the observer (see {@link observedLags}).
 * - `authentication_error`: a member's PostgreSQL refused the observer's login.
 *
 * A condition is an alert only once it is seen in two rounds in a row ({@link confirmAlerts}):
 * during a normal failover the new leader holds the key a moment before its promotion ends, and
 * two probes of one round run at slightly different instants.
 */
import type { MemberRole, ClusterSnapshot } from '../domain/cluster.js';
import type { Lsn } from '../domain/lsn.js';
import { isStandbyCluster } from '../api/health.js';
import { membersOverLagLimit, type LagLimits, type LagWarning, type MemberLag } from '../outside/lag.js';

/** What a member's PostgreSQL told the observer (read-only queries, `probe.ts`). */
export interface PgReading {
  ok: true;
  inRecovery: boolean;
  /** Primary: current WAL write position. Replica: the larger of received and replayed. */
  lsn: Lsn;
  receivedLsn: Lsn | null;
  replayedLsn: Lsn | null;
  timeline: number;
  serverVersion: number;
  /** A replica's age of its last replayed transaction by its own clock; null on a primary or when unknown. */
  replayAgeSeconds: number | null;
  /** Age of the newest heartbeat row this server has (`heartbeat_table`); null when not read. */
  heartbeatAgeSeconds: number | null;
  /**
   * Why the heartbeat could not be read (e.g. the observer's role lacks SELECT on the table);
   * null when it was read, is not configured, or does not exist yet. It never fails the probe:
   * the server's role and WAL position are known all the same.
   */
  heartbeatError: string | null;
}

/** A PostgreSQL probe that got no answer; `authFailed` when the server refused the login. */
export interface PgFailure {
  ok: false;
  error: string;
  authFailed: boolean;
}

/** What a member's `GET /patroni` said (role and state as the agent reports them). */
export interface ApiReading {
  ok: true;
  role: string | null;
  state: string | null;
  /** pgwarden's `pgwarden.reason` sentence; null from Patroni or when absent. */
  reason: string | null;
}

export interface ApiFailure {
  ok: false;
  error: string;
}

/** Everything one round learnt about one member. */
export interface MemberProbe {
  name: string;
  pg: PgReading | PgFailure;
  api: ApiReading | ApiFailure;
}

export type ObserverAlert = 'multiple_primary_warning' | 'leader_in_recovery_warning' | 'replication_delay_warning' | 'authentication_error';

/** Every observer alert, in the order the REST API and metrics list them. */
export const OBSERVER_ALERTS: readonly ObserverAlert[] = [
  'multiple_primary_warning',
  'leader_in_recovery_warning',
  'replication_delay_warning',
  'authentication_error',
];

/** The conclusions of one round about one cluster. */
export interface Assessment {
  /** Holder of the leader key in the snapshot, or null. */
  leader: string | null;
  /** Members whose PostgreSQL answered as primary (not in recovery), sorted. */
  primaries: string[];
  /** The leader's PostgreSQL answered that it is in recovery (never true in a standby cluster). */
  leaderInRecovery: boolean;
  standbyCluster: boolean;
  /** Lag of every probed member by name, as the observer measured it. */
  lags: Record<string, MemberLag>;
  /** Replicas over a warning limit (leader and unknown lags never). */
  overLimit: LagWarning[];
  /** Members whose PostgreSQL refused the observer's login, sorted. */
  authFailed: string[];
  /** Members whose PostgreSQL did not answer, sorted (with `authFailed` ones). */
  pgUnreachable: string[];
}

const sorted = (names: Iterable<string>): string[] => [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

/**
 * Lag of every probed member, from the observer's own readings of one round:
 * - bytes: the leader's current WAL position (when its PostgreSQL answered as primary) minus the
 *   member's position; unknown (null) when the leader did not answer as primary;
 * - seconds: with heartbeat readings on both the leader and the replica, how much older the
 *   replica's newest beat is than the leader's (the clocks of both servers cancel out but for
 *   their skew); otherwise 0 when the replica has replayed everything the leader had written at
 *   the probe, else the age of its last replayed transaction (pglookout's measure; it grows on
 *   an idle primary only while the replica is behind, which is the point).
 * The leader reads 0/0; a member that did not answer or runs as a primary without holding the
 * key reads null/null (a rogue primary has no lag: it has a split brain).
 */
export function observedLags(leader: string | null, probes: readonly MemberProbe[]): Record<string, MemberLag> {
  const leaderPg = probes.find((p) => p.name === leader)?.pg;
  const top = leaderPg?.ok === true && !leaderPg.inRecovery ? leaderPg : null;
  const out: Record<string, MemberLag> = {};
  for (const { name, pg } of probes) {
    if (name === leader) {
      out[name] = top === null ? { bytes: null, seconds: null } : { bytes: 0, seconds: 0 };
      continue;
    }
    if (!pg.ok || !pg.inRecovery) {
      out[name] = { bytes: null, seconds: null };
      continue;
    }
    const bytes = top === null ? null : Math.max(0, top.lsn - pg.lsn);
    let seconds: number | null;
    if (top !== null && top.heartbeatAgeSeconds !== null && pg.heartbeatAgeSeconds !== null) {
      seconds = Math.max(0, pg.heartbeatAgeSeconds - top.heartbeatAgeSeconds);
    } else if (top !== null && (pg.replayedLsn ?? pg.lsn) >= top.lsn) {
      seconds = 0;
    } else {
      seconds = pg.replayAgeSeconds === null ? null : Math.max(0, pg.replayAgeSeconds);
    }
    out[name] = { bytes, seconds };
  }
  return out;
}

/** Concludes one round: see the module comment for what each field means. */
export function assess(cluster: ClusterSnapshot, probes: readonly MemberProbe[], limits: LagLimits): Assessment {
  const leader = cluster.leader?.name ?? null;
  const leaderRole = cluster.members.find((m) => m.name === leader)?.data.role;
  // Only compared with 'standby_leader' there; any other member role reads as "not standby".
  const standbyCluster = isStandbyCluster({ role: (leaderRole ?? 'replica') as MemberRole, cluster });
  const leaderPg = probes.find((p) => p.name === leader)?.pg;
  const lags = observedLags(leader, probes);
  return {
    leader,
    primaries: sorted(probes.filter((p) => p.pg.ok && !p.pg.inRecovery).map((p) => p.name)),
    leaderInRecovery: !standbyCluster && leaderPg?.ok === true && leaderPg.inRecovery,
    standbyCluster,
    lags,
    overLimit: membersOverLagLimit(lags, limits, leader),
    authFailed: sorted(probes.filter((p) => !p.pg.ok && p.pg.authFailed).map((p) => p.name)),
    pgUnreachable: sorted(probes.filter((p) => !p.pg.ok).map((p) => p.name)),
  };
}

/** The alert conditions an assessment shows, each with the details its alert file records. */
export function alertConditions(a: Assessment, limits: LagLimits): Map<ObserverAlert, object> {
  const out = new Map<ObserverAlert, object>();
  if (a.primaries.length > 1) out.set('multiple_primary_warning', { primaries: a.primaries, leader: a.leader });
  if (a.leaderInRecovery) out.set('leader_in_recovery_warning', { leader: a.leader });
  if (a.overLimit.length > 0) out.set('replication_delay_warning', { members: a.overLimit, limits });
  if (a.authFailed.length > 0) out.set('authentication_error', { members: a.authFailed });
  return out;
}

/**
 * The alerts in force after a round: the conditions seen in this round AND in the round before
 * (see the module comment). An alert therefore ends at the first round that does not see it.
 */
export function confirmAlerts(seenBefore: ReadonlySet<ObserverAlert>, seenNow: ReadonlySet<ObserverAlert>): Set<ObserverAlert> {
  return new Set(OBSERVER_ALERTS.filter((a) => seenBefore.has(a) && seenNow.has(a)));
}
