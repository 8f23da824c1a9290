import type { ClusterSnapshot, FailoverRequest, HistoryRow, MemberData, SyncState } from '../../../src/domain/cluster.js';
import { PgwardenError } from '../../../src/errors.js';
import type { Gen } from './scheduler.js';

/**
 * The simulated etcd: one store shared by all nodes, with leases that expire on the sim clock and
 * take their keys with them (`leader`, `members/*`). Semantics follow `src/dcs/port.ts` and the
 * in-memory fake (`src/dcs/memory.ts`): create-if-absent acquire, compare-on-value renew and
 * delete, keepalive restarts a lease's TTL at the instant the request reaches etcd.
 *
 * `sync` and `failover` are compare-and-set on their mod revision (`'0'` = absent), as in
 * `memory.ts`; a `failover` holding `{}` reads as "nothing pending" but keeps its revision.
 *
 * Simplifications: one etcd member (no raft, no quorum loss separate from "down"); revisions are a
 * single counter; `status`, `history`, `initialize`, `config`, `sync`, `failover`, `failsafe` have
 * no lease; leases run down on the sim clock even while etcd is unreachable (real etcd renews them
 * when a new raft leader takes over, so the fake loses keys sooner, never later).
 */
export class DcsStore {
  private rev = 1;
  private nextLease = 1;
  private leases = new Map<string, { ttlMs: number; expiry: number }>();
  leader: { value: string; lease: string; modRev: number } | null = null;
  private members = new Map<string, { data: MemberData; lease: string }>();
  initialize: string | null = null;
  private config: Record<string, unknown> | null = null;
  private configRev = 0;
  optime: number | null = null;
  private history: HistoryRow[] | null = null;
  /** `sync` key: value and mod revision. */
  sync: { value: SyncState; modRev: number } | null = null;
  /** The `sync` value just before the last leader key creation (which may have claimed it). */
  syncAtLastRace: SyncState | null = null;
  /** `failover` key: value (`{}` when cleared) and mod revision. */
  failover: { value: FailoverRequest; modRev: number } | null = null;
  failsafe: Record<string, string> | null = null;
  /** Every value written to `failover`, with the sim time (for the checker: which requests a node may have acted on). */
  readonly failoverLog: { at: number; value: FailoverRequest }[] = [];
  /** Revision of the last change of the leader key (watchers wake on it). */
  leaderChangeRev = 0;

  constructor(
    private readonly clock: () => number,
    private readonly onLeaderChange: () => void,
  ) {}

  /** Drops expired leases and their keys; called before every operation and by the world tick. */
  purge(): void {
    const now = this.clock();
    for (const [id, l] of this.leases) {
      if (l.expiry > now) continue;
      this.leases.delete(id);
      for (const [name, m] of this.members) if (m.lease === id) this.members.delete(name);
      if (this.leader?.lease === id) this.setLeader(null);
    }
  }

  leaseAlive(id: string | null): boolean {
    this.purge();
    return id !== null && this.leases.has(id);
  }

  /** The leader key holder while its lease lives (for invariants). */
  leaderName(): string | null {
    this.purge();
    return this.leader?.value ?? null;
  }

  grant(ttlMs: number): string {
    const id = String(this.nextLease++);
    this.leases.set(id, { ttlMs, expiry: this.clock() + ttlMs });
    return id;
  }

  keepAlive(id: string | null): boolean {
    this.purge();
    const l = id === null ? undefined : this.leases.get(id);
    if (!l) return false;
    l.expiry = this.clock() + l.ttlMs;
    return true;
  }

  snapshot(): ClusterSnapshot {
    this.purge();
    return {
      initialize: this.initialize,
      config: this.config,
      configModRevision: this.config ? String(this.configRev) : null,
      leader: this.leader ? { name: this.leader.value, modRevision: String(this.leader.modRev), leaseId: this.leader.lease } : null,
      members: [...this.members].sort(([a], [b]) => a.localeCompare(b)).map(([name, m]) => ({ name, data: m.data, leaseId: m.lease })),
      optime: this.optime,
      history: this.history,
      failover: this.pendingFailover(),
      failoverModRevision: this.failover ? String(this.failover.modRev) : null,
      sync: this.sync ? { leader: this.sync.value.leader, standbys: [...this.sync.value.standbys] } : null,
      syncModRevision: this.sync ? String(this.sync.modRev) : null,
      failsafe: this.failsafe ? { ...this.failsafe } : null,
      revision: String(this.rev),
    };
  }

  putMember(name: string, data: MemberData, lease: string | null): void {
    this.requireLease(lease);
    this.members.set(name, { data, lease: lease! });
    this.rev++;
  }

  /** Create-if-absent; a key already holding `name` on `lease` counts as won (as in `memory.ts`). */
  /** As the port: create the leader key; with `claimSync`, only at that sync revision, claiming it too. */
  acquire(name: string, lease: string | null, claimSync?: string): boolean {
    this.requireLease(lease);
    if (this.leader) return this.leader.value === name && this.leader.lease === lease;
    if (claimSync !== undefined && String(this.sync?.modRev ?? 0) !== claimSync) return false;
    this.syncAtLastRace = this.sync?.value ?? null;
    this.setLeader({ value: name, lease: lease! });
    if (claimSync !== undefined) this.sync = { value: { leader: name, standbys: [] }, modRev: ++this.rev };
    return true;
  }

  /** Keepalive, then compare on value and re-attach to the caller's lease. */
  update(name: string, lease: string | null): boolean {
    if (!this.keepAlive(lease)) return false;
    if (this.leader?.value !== name) return false;
    if (this.leader.lease !== lease) this.leader = { ...this.leader, lease: lease!, modRev: ++this.rev };
    return true;
  }

  deleteLeader(name: string): boolean {
    this.purge();
    if (this.leader?.value !== name) return false;
    this.setLeader(null);
    return true;
  }

  initializeRace(): boolean {
    if (this.initialize !== null) return false;
    this.initialize = '';
    this.rev++;
    return true;
  }

  setInitialize(sysid: string): void {
    this.initialize = sysid;
    this.rev++;
  }

  setConfig(value: Record<string, unknown>, expected?: string): boolean {
    if (expected !== undefined && String(this.config ? this.configRev : 0) !== expected) return false;
    this.config = value;
    this.configRev = ++this.rev;
    return true;
  }

  writeStatus(optime: number): void {
    this.optime = optime;
    this.rev++;
  }

  writeHistory(rows: HistoryRow[]): void {
    this.history = rows;
    this.rev++;
  }

  /** The `failover` request as `getCluster` decodes it: `{}` is no request. */
  pendingFailover(): FailoverRequest | null {
    const v = this.failover?.value;
    return v && Object.keys(v).length > 0 ? { ...v } : null;
  }

  /** `setSync` of the port: `null` deletes; compare on the mod revision (`'0'` = absent). */
  setSync(value: SyncState | null, expected: string): boolean {
    if (String(this.sync?.modRev ?? 0) !== expected) return false;
    this.sync = value === null ? null : { value: { leader: value.leader, standbys: [...value.standbys].sort() }, modRev: ++this.rev };
    if (value === null) this.rev++;
    return true;
  }

  /** `setFailover` of the port: compare on the mod revision only when one is given. */
  setFailover(value: FailoverRequest, expected?: string): boolean {
    if (expected !== undefined && String(this.failover?.modRev ?? 0) !== expected) return false;
    this.failover = { value: { ...value }, modRev: ++this.rev };
    this.failoverLog.push({ at: this.clock(), value: { ...value } });
    return true;
  }

  /**
   * The latest request naming `node` as candidate that was in the key at some moment of the last
   * `windowMs` — a node acts on the request it read, which another write may since have replaced.
   */
  requestNaming(node: string, windowMs: number): FailoverRequest | null {
    const since = this.clock() - windowMs;
    const log = this.failoverLog;
    for (let i = log.length - 1; i >= 0; i--) {
      const inForceUntil = log[i + 1]?.at ?? Infinity;
      if (inForceUntil < since) break;
      if (log[i]!.value.member === node) return log[i]!.value;
    }
    return null;
  }

  writeFailsafe(members: Record<string, string> | null): void {
    this.failsafe = members === null ? null : { ...members };
    this.rev++;
  }

  private requireLease(lease: string | null): void {
    if (!this.leaseAlive(lease)) throw new PgwardenError('DCS_LEASE_LOST', 'the node lease does not exist');
  }

  private setLeader(next: { value: string; lease: string } | null): void {
    this.leader = next ? { ...next, modRev: ++this.rev } : null;
    if (!next) this.rev++;
    this.leaderChangeRev = this.rev;
    this.onLeaderChange();
  }
}

/** How a node's requests to etcd fare: latency, and whether the node can reach etcd right now. */
export interface DcsNet {
  /** One-way network latency for one message, in ms. */
  latency(): number;
  reachable(node: string): boolean;
  /** While unreachable: packets vanish (`timeout`) or the connection is refused at once (`refused`). */
  failMode(node: string): 'timeout' | 'refused';
  /** Deadline of one call, as the adapter's `CallRunner` (the daemon sets it to retry_timeout). */
  callTimeoutMs: number;
}

/**
 * One node's etcd client, as generator functions the agent `yield*`s. It behaves like the etcd3
 * adapter with one etcd host: a request is applied when it reaches etcd; when packets vanish the
 * attempt hangs until the call deadline, when connections are refused it is retried with a
 * growing pause (50 ms doubling to 500 ms) until the deadline; then it rejects `DCS_UNAVAILABLE`.
 * An answer lost on the way back leaves the effect applied (outcome unknown, as with real etcd).
 */
export class DcsClient {
  leaseId: string | null = null;
  /** Leader-change revision as of this node's last successful cluster read. */
  seenLeaderRev = 0;

  constructor(
    readonly name: string,
    private readonly store: DcsStore,
    private readonly net: DcsNet,
    private readonly clock: () => number,
  ) {}

  private *call<T>(what: string, op: () => T): Gen<T> {
    const end = this.clock() + this.net.callTimeoutMs;
    let pause = 50;
    for (;;) {
      yield this.net.latency();
      if (this.net.reachable(this.name)) {
        const result = op();
        yield this.net.latency();
        if (this.net.reachable(this.name)) return result;
      }
      if (this.net.failMode(this.name) === 'timeout' || this.clock() + pause >= end) break;
      yield pause;
      pause = Math.min(2 * pause, 500);
    }
    const wait = end - this.clock();
    if (wait > 0) yield wait;
    throw new PgwardenError('DCS_UNAVAILABLE', `etcd: cannot ${what}: no answer within ${this.net.callTimeoutMs} ms`);
  }

  *getCluster(): Gen<ClusterSnapshot> {
    return yield* this.call('read the cluster', () => {
      const s = this.store.snapshot();
      this.seenLeaderRev = this.store.leaderChangeRev;
      return s;
    });
  }

  *ensureLease(ttlMs: number): Gen<void> {
    yield* this.call('grant a lease', () => {
      if (!this.store.leaseAlive(this.leaseId)) this.leaseId = this.store.grant(ttlMs);
    });
  }

  *keepAlive(): Gen<boolean> {
    return yield* this.call('keep the lease alive', () => {
      if (this.store.keepAlive(this.leaseId)) return true;
      this.leaseId = null;
      return false;
    });
  }

  *touchMember(data: MemberData): Gen<void> {
    yield* this.call('write the member key', () => this.store.putMember(this.name, data, this.leaseId));
  }

  *attemptToAcquireLeader(onWon: () => void, claimSync?: string): Gen<boolean> {
    return yield* this.call('create the leader key', () => {
      const won = this.store.acquire(this.name, this.leaseId, claimSync);
      if (won) onWon();
      return won;
    });
  }

  *updateLeader(): Gen<boolean> {
    return yield* this.call('renew the leader key', () => this.store.update(this.name, this.leaseId));
  }

  *deleteLeader(): Gen<boolean> {
    return yield* this.call('delete the leader key', () => this.store.deleteLeader(this.name));
  }

  *initializeRace(): Gen<boolean> {
    return yield* this.call('create the initialize key', () => this.store.initializeRace());
  }

  *setInitialize(sysid: string): Gen<void> {
    yield* this.call('write the initialize key', () => this.store.setInitialize(sysid));
  }

  *setConfig(value: Record<string, unknown>, expected?: string): Gen<boolean> {
    return yield* this.call('write the config key', () => this.store.setConfig(value, expected));
  }

  *writeStatus(optime: number): Gen<void> {
    yield* this.call('write the status key', () => this.store.writeStatus(optime));
  }

  *writeHistory(rows: HistoryRow[]): Gen<void> {
    yield* this.call('write the history key', () => this.store.writeHistory(rows));
  }

  /** The `failover` key's mod revision from a full read (which, unlike `getCluster` here, does not count as the watch's view). */
  *failoverRevision(): Gen<string | null> {
    return yield* this.call('read the cluster', () => this.store.snapshot().failoverModRevision);
  }

  *setSync(value: SyncState | null, expected: string): Gen<boolean> {
    return yield* this.call('write the sync key', () => this.store.setSync(value, expected));
  }

  *setFailover(value: FailoverRequest, expected?: string): Gen<boolean> {
    return yield* this.call('write the failover key', () => this.store.setFailover(value, expected));
  }

  *writeFailsafe(members: Record<string, string> | null): Gen<void> {
    yield* this.call('write the failsafe key', () => this.store.writeFailsafe(members));
  }

  /** True when a leader change happened since this node's last cluster read (a watch would fire at once). */
  changedSinceRead(): boolean {
    return this.store.leaderChangeRev > this.seenLeaderRev;
  }
}
