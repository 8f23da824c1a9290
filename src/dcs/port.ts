import type { ClusterSnapshot, FailoverRequest, HistoryRow, MemberData, SyncState } from '../domain/cluster.js';
import type { Lsn } from '../domain/lsn.js';

/**
 * The distributed configuration store as pgwarden needs it: the keys of Patroni's etcd layout
 * under `/<namespace>/<scope>/` (reference §1). The etcd3 adapter and the in-memory fake both
 * implement it and pass the same contract suite (`test/support/dcs-contract.ts`).
 *
 * Errors: every method either resolves or rejects with a `PgwardenError` whose code is
 *  - `DCS_UNAVAILABLE` when etcd did not answer within the call deadline (outcome unknown),
 *  - `DCS_LEASE_LOST` when a write needed the node lease and etcd says it does not exist.
 * A compare that fails is not an error: the method resolves `false`.
 * Every call carries a deadline of at most `callTimeoutMs` (set at construction, kept well inside
 * `retry_timeout`), so no await on this port can hang the HA loop.
 */
export interface Dcs {
  /** One read of the whole cluster prefix. */
  getCluster(): Promise<ClusterSnapshot>;

  /**
   * Makes sure this node owns a live lease with the given TTL, granting a new one when there is
   * none, when the previous one expired, or when `ttlSeconds` changed. Does not keep it alive.
   */
  ensureLease(ttlSeconds: number): Promise<void>;

  /**
   * Sends one keepalive for the node lease. Resolves `true` when etcd confirmed the lease is
   * alive (its TTL restarted at some instant after the call began), `false` when etcd says the
   * lease is gone (the caller must call `ensureLease` again; its keys are gone too).
   */
  keepAlive(): Promise<boolean>;

  /** Writes `members/<name>` attached to the node lease (plain put). */
  touchMember(name: string, data: MemberData): Promise<void>;

  /**
   * Leader race: transaction "create_revision(leader) == 0 → put leader=name with the node lease".
   * Resolves `true` iff this call created the key. Never overwrites an existing key.
   * With `claimSync` (synchronous mode) the same transaction also requires the `sync` key's
   * mod_revision to equal `claimSync` (`'0'` = absent) and writes `sync` = `{leader: name,
   * standbys: []}`: a race decided on a sync key that has changed since (the agent may have been
   * frozen in between) creates nothing, and no winner ever holds the key under an old standby list.
   */
  attemptToAcquireLeader(name: string, claimSync?: string): Promise<boolean>;

  /**
   * Leader renewal, called only from the HA loop: keepalive of the node lease, then a
   * transaction "value(leader) == name → put leader=name with the node lease" (re-attaching it to
   * the current lease if needed). Resolves `true` iff the key holds `name` on this node's lease
   * after the call; `false` when the key is missing or holds another name (never overwritten).
   */
  updateLeader(name: string): Promise<boolean>;

  /** Transaction "value(leader) == name → delete leader". Resolves `true` iff it deleted the key. */
  deleteLeader(name: string): Promise<boolean>;

  /** Bootstrap race: create `initialize` = `''` iff absent. Resolves `true` iff this call created it. */
  initializeRace(): Promise<boolean>;

  /** Stores the system identifier in `initialize` (plain put, after a successful bootstrap). */
  setInitialize(sysid: string): Promise<void>;

  /** Deletes `initialize` after a failed bootstrap. */
  cancelInitialize(): Promise<void>;

  /**
   * Writes `config` as compact JSON. With `expectedModRevision` the write is a compare-and-set on
   * the key's mod_revision (`'0'` = must not exist) and resolves `false` on mismatch.
   */
  setConfig(value: Record<string, unknown>, expectedModRevision?: string): Promise<boolean>;

  /**
   * Writes `failover` (a switchover or failover request; `{}` clears it). With
   * `expectedModRevision` the write is a compare-and-set on the key's mod_revision (`'0'` = must not
   * exist) and resolves `false` on mismatch; without it the write is plain (as `POST /switchover`).
   */
  setFailover(value: FailoverRequest, expectedModRevision?: string): Promise<boolean>;

  /**
   * Writes `sync` (`value`) or deletes it (`null`), always as a compare-and-set on the key's
   * mod_revision (`'0'` = must not exist); resolves `false` on mismatch. Leader only.
   */
  setSync(value: SyncState | null, expectedModRevision: string): Promise<boolean>;

  /** Writes `failsafe` (member name → api_url, compact JSON; plain put) or deletes it (`null`). */
  writeFailsafe(members: Record<string, string> | null): Promise<void>;

  /** Deletes every key of the cluster (`pgwardenctl remove`). Only for the operator CLI. */
  removeCluster(): Promise<void>;

  /** Writes `status` = `{"optime": <lsn>}` (plain put, no lease). */
  writeStatus(optime: Lsn): Promise<void>;

  /** Writes `history` as a compact JSON array (plain put, no lease). */
  writeHistory(rows: HistoryRow[]): Promise<void>;

  /**
   * Waits until something under the cluster prefix that matters to the HA loop changes
   * (the leader key changes value or disappears, `config` changes, `failover` changes), or until
   * `timeoutMs` passes, or until `signal` aborts. Never rejects: a broken watch just times out.
   */
  waitForChange(timeoutMs: number, signal?: AbortSignal): Promise<void>;

  /** Revokes the node lease (its keys vanish at once). Best effort, bounded by the call deadline. */
  revokeLease(): Promise<void>;

  /** Stops the watch and closes connections. */
  close(): Promise<void>;
}

/** Settings every Dcs implementation is built from. */
export interface DcsOptions {
  /** e.g. `/service/` or `service` — joined and slash-collapsed like Patroni. */
  namespace: string;
  scope: string;
  /** Upper bound of any single call, in milliseconds. */
  callTimeoutMs: number;
}

/** `/<namespace>/<scope>/` with repeated slashes collapsed and a trailing slash. */
export function clusterPrefix(namespace: string, scope: string): string {
  return `/${namespace}/${scope}/`.replace(/\/+/g, '/');
}
