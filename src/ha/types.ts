import type { ClusterSnapshot, SyncState } from '../domain/cluster.js';
import type { PeerStatus } from '../domain/peer.js';
import type { PgStatus } from '../domain/pg-status.js';
import type { StopMode, Upstream } from '../postgres/port.js';

/** Long actions that run in the background while the loop keeps cycling (DESIGN §3 lesson 5). */
export type TaskKind = 'bootstrap' | 'clone' | 'start' | 'promote' | 'rejoin' | 'stop' | 'demote' | 'restart' | 'reinit';

export interface RunningTask {
  kind: TaskKind;
  startedAt: number;
}

export interface FinishedTask {
  kind: TaskKind;
  ok: boolean;
  error?: string;
  finishedAt: number;
}

/** Timing and policy in force this cycle, in milliseconds where it is a duration. */
export interface Settings {
  ttlMs: number;
  loopWaitMs: number;
  retryTimeoutMs: number;
  maximumLagOnFailover: number;
  primaryStartTimeoutMs: number;
  paused: boolean;
  useSlots: boolean;
  usePgRewind: boolean;
  /** `synchronous_mode`, `synchronous_mode_strict`, `synchronous_node_count` (see `sync.ts`). */
  synchronousMode: boolean;
  synchronousModeStrict: boolean;
  synchronousNodeCount: number;
  /** `maximum_lag_on_syncnode` in bytes; -1 = a lagging synchronous standby is never replaced. */
  maximumLagOnSyncnode: number;
  /** `known_gone_nodes`: members removed on purpose, never probed nor waited for. */
  knownGoneNodes: readonly string[];
  /** `failsafe_mode`: with etcd unreachable, a primary confirmed by every member keeps running. */
  failsafeMode: boolean;
}

export interface SelfInfo {
  name: string;
  nofailover: boolean;
  /** Member to stream from instead of the leader (cascading), if any. */
  replicatefrom: string | null;
  /** True when the YAML has a `bootstrap` section, so this node may create a new cluster. */
  canBootstrap: boolean;
}

/**
 * Everything `decide` may look at, gathered by the shell before the call. It is plain data:
 * `decide` reads no clock and does no I/O.
 */
export interface Observation {
  /** Monotonic milliseconds. */
  now: number;
  /** Wall-clock epoch milliseconds, only for comparing with `scheduled_at` times from etcd. */
  wallNow: number;
  self: SelfInfo;
  settings: Settings;
  dcs: { ok: true; cluster: ClusterSnapshot } | { ok: false; error: string };
  pg: PgStatus;
  /**
   * Monotonic ms until which this node holds the leader key for sure: the send time of the last
   * renewal etcd confirmed, plus ttl. Null when this node does not believe it is leader.
   */
  leaderUntil: number | null;
  task: RunningTask | null;
  /** The background task that finished since the previous cycle, if any (seen once). */
  finished: FinishedTask | null;
  /** Peer statuses, present only when `decide` asked for them with `probePeers` this cycle. */
  peers: PeerStatus[] | null;
  /** Answers to this cycle's `failsafePing` (members that accepted / did not), else null. */
  failsafe: { accepted: string[]; refused: string[] } | null;
  /** The last leader that told this node it is alive (`POST /failsafe`), and how long ago. */
  failsafeLeader: { name: string; ageMs: number } | null;
}

/** State `decide` carries from one cycle to the next (returned, never mutated in place). */
export interface Memory {
  /** Monotonic ms when this leader found its PostgreSQL down; null when it runs. */
  crashedSince: number | null;
  /** Member names and API URLs seen in the last cluster view that had a leader. */
  lastMembers: { name: string; apiUrl: string }[];
  /** Members the `failsafe` key listed at the last cluster read (empty when it had none). */
  lastFailsafe: { name: string; apiUrl: string }[];
  /** Name of the member the local replica was last pointed at (null = none yet). */
  following: string | null;
  /**
   * Set when this node ran as primary and stopped being one (or may have, e.g. after a crash):
   * before it follows a leader, its history must be checked for divergence (pg_rewind).
   */
  mustCheckDivergence: boolean;
  /**
   * Monotonic ms since when this running replica, pointed at its upstream, has not been
   * streaming. On an older timeline than the cluster's it soon needs a rejoin (it may hold WAL the
   * leader never had); on any timeline, a long stall gets one too (see `stalledRejoins`).
   */
  notStreamingSince: number | null;
  /** Rejoins in a row started because streaming stalled; each doubles the next wait. */
  stalledRejoins: number;
}

export const initialMemory: Memory = {
  crashedSince: null,
  lastMembers: [],
  lastFailsafe: [],
  following: null,
  mustCheckDivergence: false,
  notStreamingSince: null,
  stalledRejoins: 0,
};

/**
 * What the shell must do, in order. Each kind has exactly one executor (see
 * `src/loop/executors.ts`); a unit test checks that every kind has one.
 */
export type Action =
  /** Ask peers' REST APIs for their status, then call `decide` again with the answers. */
  | { type: 'probePeers'; members: { name: string; apiUrl: string }[] }
  /** Renew the leader key from this cycle (lease keepalive + compare on value). */
  | { type: 'renewLeader' }
  /**
   * Try to create the leader key; if this node wins and its PostgreSQL is a replica, promote.
   * With `takeSync` (synchronous mode), the same etcd transaction claims the `sync` key as
   * `{leader: me, standbys: []}` and requires its mod_revision to be `takeSync` still (the one
   * the decision read), so no stale decision wins and no old standby list outlives the promotion.
   */
  | { type: 'acquireLeader'; promote: boolean; takeSync?: string }
  /** Delete the leader key (compare on value). */
  | { type: 'releaseLeader' }
  /** Race for `initialize`; the winner starts the bootstrap task (initdb, start, users, key). */
  | { type: 'bootstrap' }
  /** Clone the data directory from `source`, then start as a replica of `follow`. */
  | { type: 'clone'; source: Upstream; follow: Upstream }
  /**
   * Start PostgreSQL in the background. A primary in synchronous mode starts with
   * `syncStandbyNames` set first, so it acknowledges nothing the sync key's standbys lack.
   */
  | { type: 'start'; role: 'primary'; syncStandbyNames?: string }
  | { type: 'start'; role: 'replica'; upstream: Upstream | null }
  /** Promote the local replica (background task). */
  | { type: 'promote' }
  /** Stop PostgreSQL now, inside this cycle (fencing: no waiting for a background slot). */
  | { type: 'stop'; mode: StopMode }
  /** Point the running replica at `upstream` (rewrite recovery settings; reload or restart). */
  | { type: 'follow'; upstream: Upstream | null }
  /** Check divergence from `upstream`, rewind or re-clone if needed, start as its replica. */
  | { type: 'rejoin'; upstream: Upstream }
  /**
   * Planned switchover, first half (background task `demote`): CHECKPOINT, stop PostgreSQL
   * cleanly, then wait until one of `candidates` has received all of this node's WAL. If none
   * does in time, start again as primary and clear the request. The key is kept throughout.
   */
  | { type: 'switchover'; candidates: Upstream[] }
  /** Overwrite the `failover` key with `{}` (compare on `modRevision`), logging `why`. */
  | { type: 'clearFailover'; modRevision: string | null; why: string }
  /** Cancel the running background task. */
  | { type: 'cancelTask' }
  /** Write the cluster `status` (optime) — leader only. */
  | { type: 'writeStatus'; optime: number }
  /** Rebuild `history` from the local timeline history files — leader only. */
  | { type: 'writeHistory'; timeline: number }
  /** Write `initialize` = system identifier (adopting an existing primary's data directory). */
  | { type: 'writeInitialize'; sysid: string }
  /** Write the bootstrap dynamic configuration into `config` when the key is missing. */
  | { type: 'writeConfig' }
  /** Write the `sync` key (`null` deletes it), compare-and-set on `modRevision` — leader only. */
  | { type: 'writeSync'; value: SyncState | null; modRevision: string }
  /** Set `synchronous_standby_names` (`null`: back to the configured value) and reload. */
  | { type: 'setSyncStandbyNames'; value: string | null }
  /** Write the `failsafe` key (member name → api_url; `null` deletes it) — leader only. */
  | { type: 'writeFailsafe'; members: Record<string, string> | null }
  /**
   * etcd is unreachable and failsafe mode is on: `POST /failsafe` to every other member; if all
   * accept, the local lease deadline moves to send time + ttl. Then `decide` runs again.
   */
  | { type: 'failsafePing'; members: { name: string; apiUrl: string }[] }
  /** Create/drop physical replication slots for the other members — leader only. */
  | { type: 'syncSlots'; slots: string[] }
  /** Stop the daemon with an error that needs a human (wrong data directory...). */
  | { type: 'fatal'; message: string };

export type ActionType = Action['type'];

export interface Decision {
  actions: Action[];
  /** One sentence a human can read: what this node does and why. */
  reason: string;
  memory: Memory;
}
