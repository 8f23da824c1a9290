import type { ClusterSnapshot, FailoverRequest, HistoryRow, MemberData, SyncState } from '../domain/cluster.js';
import type { Lsn } from '../domain/lsn.js';
import { PgwardenError } from '../errors.js';
import { decodeCluster, encodeConfig, encodeFailover, encodeHistory, encodeMember, encodeStatus, encodeSync, isWakeupChange, KEYS } from './codec.js';
import { MemoryStore, type StoreChange } from './memory-store.js';
import { clusterPrefix, type Dcs, type DcsOptions } from './port.js';

export { MemoryStore, type MemoryStoreOptions, type StoredKv } from './memory-store.js';
export { ManualClock } from './manual-clock.js';

/**
 * The in-memory `Dcs` for one simulated node, on a `MemoryStore` shared with the other nodes.
 * It follows the same contract as `Etcd3Dcs` (same suite, `test/support/dcs-contract.ts`) and
 * the same value formats (it writes through `codec.ts`).
 *
 * Faults: `store.setAvailable(false)` makes every node's calls reject `DCS_UNAVAILABLE`;
 * `setReachable(false)` does it for this node only (a network partition). Unavailable calls
 * reject at once rather than after `callTimeoutMs`, so simulations need not spend time on them.
 *
 * Time: lease expiry and `waitForChange` timeouts run on the store's clock (see
 * `MemoryStoreOptions.timers`), so a simulation on a `ManualClock` is fully deterministic.
 */
export class MemoryDcs implements Dcs {
  readonly prefix: string;
  readonly nodeName: string;
  private leaseId: string | null = null;
  private ttlSeconds = 0;
  private reachable = true;
  private closed = false;
  /** Store revision of this node's last `getCluster` (or of the last change it woke up for). */
  private seenRevision = 0;
  /** Revision of the last change that should wake this node's HA loop. */
  private changeRevision = 0;
  private readonly waiters = new Set<() => void>();
  private readonly unsubscribe: () => void;

  constructor(
    readonly store: MemoryStore,
    opts: DcsOptions & { nodeName?: string },
  ) {
    this.prefix = clusterPrefix(opts.namespace, opts.scope);
    this.nodeName = opts.nodeName ?? 'node';
    this.unsubscribe = store.subscribe((c) => this.onChange(c));
  }

  /** Cuts this node off from the store (`false`) or heals the partition (`true`). */
  setReachable(reachable: boolean): void {
    this.reachable = reachable;
  }

  /** The node lease id, or `null` when it has none; for tests and simulations. */
  get currentLease(): string | null {
    return this.leaseId;
  }

  async getCluster(): Promise<ClusterSnapshot> {
    this.check('read the cluster');
    const { kvs, revision } = this.store.range(this.prefix);
    this.seenRevision = Math.max(this.seenRevision, Number(revision));
    return decodeCluster(this.prefix, kvs, revision);
  }

  async ensureLease(ttlSeconds: number): Promise<void> {
    this.check('grant a lease');
    if (this.leaseId !== null && this.ttlSeconds === ttlSeconds && this.store.leaseAlive(this.leaseId)) return;
    this.leaseId = this.store.grant(ttlSeconds);
    this.ttlSeconds = ttlSeconds;
  }

  async keepAlive(): Promise<boolean> {
    this.check('keep the lease alive');
    if (this.leaseId === null) return false;
    if (this.store.keepAlive(this.leaseId)) return true;
    this.leaseId = null;
    return false;
  }

  async touchMember(name: string, data: MemberData): Promise<void> {
    this.check('write the member key');
    this.store.put(this.key(KEYS.membersDir + name), encodeMember(data), this.liveLease());
  }

  async attemptToAcquireLeader(name: string, claimSync?: string): Promise<boolean> {
    this.check('create the leader key');
    const lease = this.liveLease();
    const cur = this.store.get(this.key(KEYS.leader));
    // A key that already holds our name on our lease counts as won (same as the etcd adapter,
    // whose retried transaction can find its own earlier write).
    if (cur) return cur.value === name && cur.lease === lease;
    if (claimSync !== undefined && String(this.store.get(this.key(KEYS.sync))?.modRevision ?? 0) !== claimSync) return false;
    this.store.put(this.key(KEYS.leader), name, lease);
    if (claimSync !== undefined) this.store.put(this.key(KEYS.sync), encodeSync({ leader: name, standbys: [] }));
    return true;
  }

  async updateLeader(name: string): Promise<boolean> {
    this.check('renew the leader key');
    if (this.leaseId === null || !this.store.keepAlive(this.leaseId)) {
      this.leaseId = null;
      return false;
    }
    const cur = this.store.get(this.key(KEYS.leader));
    if (!cur || cur.value !== name) return false;
    if (cur.lease !== this.leaseId) this.store.put(this.key(KEYS.leader), name, this.leaseId);
    return true;
  }

  async deleteLeader(name: string): Promise<boolean> {
    this.check('delete the leader key');
    const cur = this.store.get(this.key(KEYS.leader));
    if (!cur || cur.value !== name) return false;
    return this.store.delete(this.key(KEYS.leader));
  }

  async initializeRace(): Promise<boolean> {
    this.check('create the initialize key');
    if (this.store.get(this.key(KEYS.initialize))) return false;
    this.store.put(this.key(KEYS.initialize), '');
    return true;
  }

  async setInitialize(sysid: string): Promise<void> {
    this.check('write the initialize key');
    this.store.put(this.key(KEYS.initialize), sysid);
  }

  async cancelInitialize(): Promise<void> {
    this.check('delete the initialize key');
    this.store.delete(this.key(KEYS.initialize));
  }

  async setConfig(value: Record<string, unknown>, expectedModRevision?: string): Promise<boolean> {
    return this.putMaybeCas(KEYS.config, encodeConfig(value), 'config', expectedModRevision);
  }

  async setFailover(value: FailoverRequest, expectedModRevision?: string): Promise<boolean> {
    return this.putMaybeCas(KEYS.failover, encodeFailover(value), 'failover', expectedModRevision);
  }

  async setSync(value: SyncState | null, expectedModRevision: string): Promise<boolean> {
    if (value !== null) return this.putMaybeCas(KEYS.sync, encodeSync(value), 'sync', expectedModRevision);
    this.check('delete the sync key');
    const cur = this.store.get(this.key(KEYS.sync));
    if (String(cur?.modRevision ?? 0) !== expectedModRevision) return false;
    if (cur) this.store.delete(this.key(KEYS.sync));
    return true;
  }

  async writeFailsafe(members: Record<string, string> | null): Promise<void> {
    this.check('write the failsafe key');
    if (members === null) this.store.delete(this.key(KEYS.failsafe));
    else this.store.put(this.key(KEYS.failsafe), JSON.stringify(members));
  }

  async removeCluster(): Promise<void> {
    this.check('delete the cluster keys');
    for (const kv of this.store.range(this.prefix).kvs) this.store.delete(kv.key);
  }

  private putMaybeCas(rel: string, text: string, what: string, expectedModRevision?: string): boolean {
    this.check(`write the ${what} key`);
    if (expectedModRevision !== undefined) {
      const cur = this.store.get(this.key(rel));
      if (String(cur?.modRevision ?? 0) !== expectedModRevision) return false;
    }
    this.store.put(this.key(rel), text);
    return true;
  }

  async writeStatus(optime: Lsn): Promise<void> {
    this.check('write the status key');
    this.store.put(this.key(KEYS.status), encodeStatus(optime));
  }

  async writeHistory(rows: HistoryRow[]): Promise<void> {
    this.check('write the history key');
    this.store.put(this.key(KEYS.history), encodeHistory(rows));
  }

  waitForChange(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.closed || signal?.aborted) return Promise.resolve();
    if (this.changeRevision > this.seenRevision) {
      this.seenRevision = this.changeRevision;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const done = (): void => {
        if (!this.waiters.delete(done)) return;
        cancelTimer();
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.waiters.add(done);
      const cancelTimer = this.store.schedule(timeoutMs, done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  async revokeLease(): Promise<void> {
    const id = this.leaseId;
    this.leaseId = null;
    if (id === null) return;
    this.check('revoke the lease');
    this.store.revoke(id);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe();
    for (const w of [...this.waiters]) w();
  }

  private onChange(c: StoreChange): void {
    if (!this.reachable || !isWakeupChange(this.prefix, c)) return;
    this.changeRevision = Math.max(this.changeRevision, c.revision);
    if (this.waiters.size === 0) return;
    this.seenRevision = Math.max(this.seenRevision, this.changeRevision);
    for (const w of [...this.waiters]) w();
  }

  private key(rel: string): string {
    return this.prefix + rel;
  }

  /** The node lease if etcd (the store) still has it; otherwise `DCS_LEASE_LOST`. */
  private liveLease(): string {
    if (this.leaseId !== null && this.store.leaseAlive(this.leaseId)) return this.leaseId;
    this.leaseId = null;
    throw new PgwardenError('DCS_LEASE_LOST', `${this.nodeName}: the node lease does not exist in the DCS (expired or never granted)`);
  }

  private check(what: string): void {
    if (this.closed) throw new PgwardenError('DCS_UNAVAILABLE', `${this.nodeName}: cannot ${what}: the DCS client is closed`);
    if (!this.store.available || !this.reachable) {
      throw new PgwardenError('DCS_UNAVAILABLE', `${this.nodeName}: cannot ${what}: the DCS is unavailable`);
    }
  }
}
