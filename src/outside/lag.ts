/**
 * Replication lag of every member as seen from outside (pglookout's view): how far each member's
 * published WAL position (`xlog_location` in its member key) trails the leader's, and which
 * members are over the operator's warning limits. Pure functions of one cluster snapshot, so the
 * state file, statsd and the `replication_delay_warning` alert always agree.
 *
 * Byte lag alone misreads an idle cluster in one direction only (no WAL written, no lag to see),
 * and the publication delay of member keys (up to one `loop_wait`) blurs it; the TIME lag comes
 * from the heartbeat table (`heartbeat.ts`), measured by the caller and passed in by name.
 */
import { isPrimaryRole, type ClusterSnapshot } from '../domain/cluster.js';
import type { Lsn } from '../domain/lsn.js';

/** Lag of one member; null where it cannot be known. */
export interface MemberLag {
  /** Bytes of WAL behind the leader (0 for the leader itself, never negative). */
  bytes: number | null;
  /** Seconds behind, from the heartbeat table; null when not measured. */
  seconds: number | null;
}

/**
 * `warning_replication_bytes_lag` and `warning_replication_time_lag`. An absent limit is not
 * checked. A member is over a limit when its lag is strictly GREATER than it, so a limit of 0
 * means "any lag at all".
 */
export interface LagLimits {
  bytes?: number;
  seconds?: number;
}

/** A member over at least one limit, with the lags that were compared. */
export interface LagWarning {
  name: string;
  bytes: number | null;
  seconds: number | null;
  /** Which limits it is over, in this order: `bytes`, `time`. */
  over: ('bytes' | 'time')[];
}

/**
 * The leader's WAL position: the larger of the leader member's `xlog_location` and the
 * `status.optime` key. Both are written by the leader each cycle, but in separate requests, so
 * one may be a cycle older than the other; the larger one is the fresher. Null when the cluster
 * has no leader key or neither value is known.
 */
export function leaderPosition(cluster: ClusterSnapshot): Lsn | null {
  if (cluster.leader === null) return null;
  const leaderName = cluster.leader.name;
  const own = cluster.members.find((m) => m.name === leaderName)?.data.xlog_location;
  const known = [own, cluster.optime].filter((v): v is Lsn => typeof v === 'number' && Number.isFinite(v));
  return known.length === 0 ? null : Math.max(...known);
}

/**
 * Lag of every member of `cluster`, by name. Byte lag is unknown (null) for a member that
 * publishes no `xlog_location` (stopped, being cloned) and for everyone when the leader position
 * is unknown. A member AHEAD of the leader position (its key was written after the leader's)
 * reads 0. `secondsByMember` comes from the heartbeat table; names not in the cluster are ignored.
 */
export function memberLags(cluster: ClusterSnapshot, secondsByMember: Readonly<Record<string, number>> = {}): Record<string, MemberLag> {
  const top = leaderPosition(cluster);
  const leaderName = cluster.leader?.name;
  const out: Record<string, MemberLag> = {};
  for (const m of cluster.members) {
    const at = m.data.xlog_location;
    let bytes: number | null = null;
    if (m.name === leaderName) bytes = 0;
    else if (top !== null && typeof at === 'number') bytes = Math.max(0, top - at);
    const seconds = m.name === leaderName ? 0 : secondsByMember[m.name];
    out[m.name] = { bytes, seconds: typeof seconds === 'number' && Number.isFinite(seconds) ? Math.max(0, seconds) : null };
  }
  return out;
}

/**
 * Members over a limit, sorted by name. The leader is never reported, nor is a lag that is
 * unknown (null): the state file shows those as null rather than as a warning.
 */
export function membersOverLagLimit(lags: Readonly<Record<string, MemberLag>>, limits: LagLimits, leader: string | null): LagWarning[] {
  const out: LagWarning[] = [];
  for (const name of Object.keys(lags).sort()) {
    const lag = lags[name]!;
    if (name === leader) continue;
    const over: LagWarning['over'] = [];
    if (limits.bytes !== undefined && lag.bytes !== null && lag.bytes > limits.bytes) over.push('bytes');
    if (limits.seconds !== undefined && lag.seconds !== null && lag.seconds > limits.seconds) over.push('time');
    if (over.length > 0) out.push({ name, bytes: lag.bytes, seconds: lag.seconds, over });
  }
  return out;
}

/**
 * Members whose key says they run PostgreSQL as primary (role `primary` or Patroni 3's `master`,
 * state `running`), sorted. Two or more is what `multiple_primary_warning` is about: a split
 * brain seen from outside. A stopped former primary does not count: it accepts no writes.
 */
export function primaryMembers(cluster: ClusterSnapshot): string[] {
  return cluster.members.filter((m) => isPrimaryRole(m.data.role) && m.data.state === 'running').map((m) => m.name).sort();
}
