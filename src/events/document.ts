/**
 * The JSON document every callback, cluster trigger and watcher plugin reads on stdin.
 *
 * One shape for all of them, so an operator writes one `jq` filter and reuses it. Keys are
 * snake_case like the rest of Patroni's contract (member data, `/cluster`), and every field is
 * always present (null or [] when unknown) so scripts need no existence checks — except
 * `reason`, which only events that have one carry.
 */
import { isPrimaryRole, type ClusterSnapshot, type Member, type Tags } from '../domain/cluster.js';
import type { Lsn } from '../domain/lsn.js';
import { leaderPosition } from '../outside/lag.js';

/** The member an event is about. */
export interface EventMember {
  name: string;
  /** Patroni 4 role name (`primary`, `replica`, `standby_leader`, `demoted`, ...); `master` is reported as `primary`. */
  role: string;
  /** PostgreSQL state as in member data (`running`, `stopped`, ...), `unknown` when not published. */
  state: string;
}

/** The holder of the leader key. */
export interface EventLeader {
  name: string;
  /** From the leader's member data; null when its member key is gone (the leader is down). */
  conn_url: string | null;
  api_url: string | null;
  /** WAL position in bytes (see {@link leaderPosition}); null when unknown or the member key is gone. */
  xlog_location: Lsn | null;
  timeline: number | null;
}

/** Every member except the leader, with how far behind the leader it is. */
export interface EventReplica {
  name: string;
  role: string;
  state: string;
  conn_url: string;
  api_url: string;
  /** Leader position minus this member's `xlog_location` (never negative); null without a leader or a position. */
  lag_bytes: number | null;
  /** Replay delay in seconds as measured by the caller; null when not measured. */
  lag_seconds: number | null;
  tags: Tags;
}

export interface ClusterEventDocument {
  /** What happened: a callback action (`on_role_change`) or a trigger event (`replica_down`). */
  event: string;
  /** Cluster name (`scope`). */
  scope: string;
  /**
   * The member the event is about: this node for callbacks, the replica or leader concerned for
   * triggers; null when the event is about no single member (heartbeat).
   */
  member: EventMember | null;
  /** Null when no leader key exists. */
  leader: EventLeader | null;
  replicas: EventReplica[];
  /** Names of members whose key vanished since the previous observation. */
  lost: string[];
  /** When the document was built, ISO-8601 UTC. */
  timestamp: string;
  /** A sentence saying why the event fired, when there is one. */
  reason?: string;
}

export interface EventDocumentInput {
  event: string;
  scope: string;
  /** Null when the cluster could not be read: the document then lists no leader or replicas. */
  cluster: ClusterSnapshot | null;
  /**
   * The member the event is about. `role` and `state` default to what its member key says; pass
   * them when the caller knows better (a callback fires before the member key is rewritten).
   */
  member?: { name: string; role?: string; state?: string };
  lost?: readonly string[];
  /** Replay delay per member name, in seconds, where the caller measured it. */
  lagSeconds?: ReadonlyMap<string, number>;
  reason?: string;
  now?: Date;
}

export function buildEventDocument(input: EventDocumentInput): ClusterEventDocument {
  const { cluster } = input;
  const leaderName = cluster?.leader?.name ?? null;
  const doc: ClusterEventDocument = {
    event: input.event,
    scope: input.scope,
    member: input.member ? eventMember(cluster, input.member) : null,
    leader: cluster && leaderName !== null ? eventLeader(cluster, leaderName) : null,
    replicas: cluster
      ? cluster.members.filter((m) => m.name !== leaderName).map((m) => eventReplica(cluster, m, input.lagSeconds))
      : [],
    lost: [...(input.lost ?? [])],
    timestamp: (input.now ?? new Date()).toISOString(),
  };
  if (input.reason !== undefined) doc.reason = input.reason;
  return doc;
}

/** Bytes a member is behind the leader (never negative), or null when either position is unknown. */
export function replicaLagBytes(cluster: ClusterSnapshot, member: Member): number | null {
  const leader = leaderPosition(cluster);
  const own = member.data.xlog_location;
  if (leader === null || typeof own !== 'number') return null;
  return Math.max(0, leader - own);
}

function roleName(role: string | undefined): string {
  if (role === undefined) return 'unknown';
  return isPrimaryRole(role) ? 'primary' : role;
}

function eventMember(cluster: ClusterSnapshot | null, m: { name: string; role?: string; state?: string }): EventMember {
  const data = cluster?.members.find((x) => x.name === m.name)?.data;
  return { name: m.name, role: roleName(m.role ?? data?.role), state: m.state ?? data?.state ?? 'unknown' };
}

function eventLeader(cluster: ClusterSnapshot, name: string): EventLeader {
  const data = cluster.members.find((m) => m.name === name)?.data;
  return {
    name,
    conn_url: data?.conn_url ?? null,
    api_url: data?.api_url ?? null,
    xlog_location: data ? leaderPosition(cluster) : null,
    timeline: data?.timeline ?? null,
  };
}

function eventReplica(cluster: ClusterSnapshot, m: Member, lagSeconds: ReadonlyMap<string, number> | undefined): EventReplica {
  return {
    name: m.name,
    role: roleName(m.data.role),
    state: m.data.state,
    conn_url: m.data.conn_url,
    api_url: m.data.api_url,
    lag_bytes: replicaLagBytes(cluster, m),
    lag_seconds: lagSeconds?.get(m.name) ?? null,
    tags: m.data.tags ?? {},
  };
}
