import type { Lsn } from './lsn.js';

/** Roles as written to etcd and the REST API (Patroni 4.x names; `master` is accepted on input). */
export type MemberRole = 'primary' | 'replica' | 'standby_leader' | 'uninitialized' | 'demoted' | 'promoted';

/** PostgreSQL states as Patroni names them in member data and `/patroni`. */
export type PgState =
  | 'running'
  | 'starting'
  | 'stopped'
  | 'stopping'
  | 'restarting'
  | 'start failed'
  | 'stop failed'
  | 'crashed'
  | 'creating replica'
  | 'initializing new cluster'
  | 'initdb failed'
  | 'rewinding'
  | 'unknown';

/** Effective tags as published: falsy `nofailover`/`noloadbalance`/`clonefrom`/`nosync` dropped. */
export type Tags = Record<string, string | number | boolean>;

/**
 * Value of `members/<name>` (reference §1.3). Field order matters only for readability; readers
 * parse JSON. Unknown fields from other writers are kept in `extra` when decoding.
 */
export interface MemberData {
  conn_url: string;
  api_url: string;
  state: PgState | string;
  role: MemberRole | 'master' | string;
  version: string;
  xlog_location?: Lsn;
  timeline?: number;
  tags?: Tags;
  pending_restart?: boolean;
  /** `{"schedule": ISO time, "postmaster_start_time": ..., plus the request's filters}`. */
  scheduled_restart?: Record<string, unknown>;
  pause?: boolean;
  checkpoint_after_promote?: boolean;
}

export interface Member {
  name: string;
  data: MemberData;
  /** etcd lease id (decimal string) the key is attached to, when known. */
  leaseId?: string;
}

export interface LeaderKey {
  /** Member name stored as the bare value of `leader`. */
  name: string;
  /** etcd `mod_revision` of the key as read. */
  modRevision: string;
  leaseId?: string;
}

/** One row of `history`: [timeline, switch_lsn, reason, timestamp?, new_leader?]. */
export type HistoryRow = [number, number, string, string?, string?];

export interface FailoverRequest {
  leader?: string;
  member?: string;
  scheduled_at?: string;
}

/**
 * The `sync` key (reference §1.3): in synchronous mode, the leader that manages it and the
 * standbys PostgreSQL confirms as synchronous. Only these may be promoted automatically.
 */
export interface SyncState {
  leader: string | null;
  /** Sorted names; empty when no standby is synchronous (`sync_standby: null`). */
  standbys: string[];
}

/**
 * One consistent read of the cluster prefix `/<namespace>/<scope>/`. Absent keys are `null`.
 * `initialize` is `''` while a bootstrap is in progress and the system identifier afterwards.
 */
export interface ClusterSnapshot {
  initialize: string | null;
  config: Record<string, unknown> | null;
  configModRevision: string | null;
  leader: LeaderKey | null;
  members: Member[];
  /** `status.optime`: the last leader WAL position published. */
  optime: Lsn | null;
  history: HistoryRow[] | null;
  failover: FailoverRequest | null;
  /** mod_revision of `failover` whenever the key exists (also when it holds `{}`). */
  failoverModRevision: string | null;
  sync: SyncState | null;
  /** `failsafe`: member name → api_url, written by the leader in failsafe mode. */
  failsafe: Record<string, string> | null;
  /** mod_revision of `sync` whenever the key exists (also when its value did not parse). */
  syncModRevision: string | null;
  /** etcd header revision of the read. */
  revision: string;
}

export function findMember(cluster: ClusterSnapshot, name: string): Member | undefined {
  return cluster.members.find((m) => m.name === name);
}

/** Accepts Patroni 3.x `master` as an alias of `primary`. */
export function isPrimaryRole(role: string | undefined): boolean {
  return role === 'primary' || role === 'master';
}

/** Timeline the cluster is on according to `history` (last row + 1; `[]` or absent = 1). */
export function clusterTimeline(cluster: ClusterSnapshot): number {
  const h = cluster.history;
  if (!h || h.length === 0) return 1;
  return h[h.length - 1]![0] + 1;
}
