import { ExponentialBackoff, noop, type IBackoff } from 'cockatiel';
import { Etcd3, type IKeyValue, type Lease } from 'etcd3';
import type { ClusterSnapshot, FailoverRequest, HistoryRow, MemberData, SyncState } from '../domain/cluster.js';
import type { Lsn } from '../domain/lsn.js';
import { PgwardenError, isPgwardenError } from '../errors.js';
import { decodeCluster, encodeConfig, encodeFailover, encodeHistory, encodeMember, encodeStatus, encodeSync, KEYS, type RawKv } from './codec.js';
import { CallRunner, HostGates } from './etcd3-calls.js';
import { ChangeWatch } from './etcd3-watch.js';
import { clusterPrefix, type Dcs, type DcsOptions } from './port.js';

/** Construction options of `Etcd3Dcs`. */
export interface Etcd3DcsOptions extends DcsOptions {
  /** Client URLs, e.g. `http://127.0.0.1:2379` (all http or all https). */
  hosts: string[];
  username?: string;
  password?: string;
  /** Receives operator-readable lines about host failures and watch trouble. */
  logger?: (msg: string) => void;
  /** How long a failed host is tried only after the others; default `max(5 s, 2 × callTimeoutMs)`. */
  hostCooldownMs?: number;
}

/**
 * The `Dcs` port on etcd v3 (gRPC, npm `etcd3`), with Patroni's keys and values (reference §1).
 *
 * Safety choices (DESIGN.md §4): the node lease is granted without the library's automatic
 * keepalive and renewed only by `keepAlive()` / `updateLeader()`, i.e. from the HA loop; the
 * library's `Election` and its `lost` event are not used. Leader writes are transactions that
 * never overwrite another node's key. Every method is bounded by `callTimeoutMs` (retries across
 * hosts included) and rejects only with `PgwardenError` (`DCS_UNAVAILABLE`, `DCS_LEASE_LOST`).
 */
export class Etcd3Dcs implements Dcs {
  readonly prefix: string;
  private readonly client: Etcd3;
  private readonly calls: CallRunner;
  private readonly changes: ChangeWatch;
  private lease: Lease | null = null;
  private leaseId: string | null = null;
  private leaseTtl = 0;
  private leaseLost = false;

  constructor(opts: Etcd3DcsOptions) {
    if (opts.hosts.length === 0) throw new PgwardenError('CONFIG_INVALID', 'etcd3: no hosts configured');
    if (!(opts.callTimeoutMs > 0)) throw new PgwardenError('CONFIG_INVALID', 'etcd3: callTimeoutMs must be positive');
    this.prefix = clusterPrefix(opts.namespace, opts.scope);
    const log = opts.logger ?? (() => undefined);
    const gates = new HostGates(opts.hosts, opts.hostCooldownMs ?? Math.max(5000, 2 * opts.callTimeoutMs), log);
    const timeout = opts.callTimeoutMs;
    try {
      this.client = new Etcd3({
        hosts: opts.hosts,
        ...(opts.username ? { auth: { username: opts.username, password: opts.password ?? '' } } : {}),
        // Fallback deadline for calls the adapter does not time itself (the auth token exchange);
        // streams (the watch) live on.
        defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeout }),
        faultHandling: {
          global: noop,
          host: (h) => gates.policyFor(h),
          // The library calls `.next()` on this value to start every backoff sequence, i.e. it uses
          // it as a factory; its type wrongly asks for one step of a sequence.
          watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 2000 }) as unknown as IBackoff<unknown>,
        },
        grpcOptions: {
          // Notice a hung etcd (SIGSTOP, partition) on idle streams, and reconnect quickly.
          'grpc.keepalive_time_ms': 10_000,
          'grpc.keepalive_timeout_ms': 5_000,
          'grpc.initial_reconnect_backoff_ms': 100,
          'grpc.max_reconnect_backoff_ms': 1000,
        },
      });
    } catch (e) {
      // e.g. a mix of http:// and https:// hosts, which the library refuses.
      throw new PgwardenError('CONFIG_INVALID', `etcd3: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    this.calls = new CallRunner(opts.hosts.length, timeout, () => {
      this.leaseLost = true;
    });
    this.changes = new ChangeWatch(this.client, this.prefix, log);
  }

  /** The node lease id as etcd knows it, or `null`; for logs and tests. */
  get currentLease(): string | null {
    return this.leaseLost ? null : this.leaseId;
  }

  async getCluster(): Promise<ClusterSnapshot> {
    const res = await this.calls.run('read the cluster', (o) => this.client.getAll().prefix(this.prefix).options(o).exec());
    const revision = String(res.header.revision);
    this.changes.sawRevision(Number(revision));
    return decodeCluster(this.prefix, res.kvs.map(rawKv), revision);
  }

  async ensureLease(ttlSeconds: number): Promise<void> {
    if (this.lease && !this.leaseLost && this.leaseTtl === ttlSeconds) return;
    const ttl = Math.max(1, Math.round(ttlSeconds));
    const granted = await this.calls.run('grant a lease', async (o) => {
      const lease = this.client.lease(ttl, { autoKeepAlive: false, ...o });
      lease.on('lost', () => undefined);
      return { lease, id: await lease.grant() };
    });
    // The previous lease (if any) is left to expire, not revoked: the leader key may still be
    // on it until `updateLeader` moves it to the new lease.
    this.lease?.release();
    this.lease = granted.lease;
    this.leaseId = String(granted.id);
    this.leaseTtl = ttlSeconds;
    this.leaseLost = false;
  }

  keepAlive(): Promise<boolean> {
    return this.keepAliveUntil(this.calls.deadline());
  }

  async touchMember(name: string, data: MemberData): Promise<void> {
    const id = this.requireLease();
    await this.calls.run('write the member key', (o) => this.client.put(this.key(KEYS.membersDir + name)).value(encodeMember(data)).lease(id).options(o).exec());
  }

  async attemptToAcquireLeader(name: string, claimSync?: string): Promise<boolean> {
    const id = this.requireLease();
    const key = this.key(KEYS.leader);
    const syncKey = this.key(KEYS.sync);
    if (claimSync !== undefined && !/^\d+$/.test(claimSync)) throw new PgwardenError('BUG', `claim sync: not a revision: ${JSON.stringify(claimSync)}`);
    const res = await this.calls.run('create the leader key', (o) => {
      let txn = this.client.if(key, 'Create', '==', 0);
      if (claimSync !== undefined) txn = txn.and(syncKey, claimSync === '0' ? 'Create' : 'Mod', '==', claimSync);
      const puts = [this.client.put(key).value(name).lease(id)];
      if (claimSync !== undefined) puts.push(this.client.put(syncKey).value(encodeSync({ leader: name, standbys: [] })));
      return txn.then(...puts).else(this.client.get(key)).options(o).commit();
    });
    if (res.succeeded) return true;
    // A retried attempt may find its own earlier write: our name on our lease counts as won.
    const kv = res.responses[0]?.response_range?.kvs[0];
    return kv !== undefined && kv.value.toString() === name && String(kv.lease) === id;
  }

  async updateLeader(name: string): Promise<boolean> {
    const end = this.calls.deadline();
    if (!(await this.keepAliveUntil(end))) return false;
    const id = this.leaseId!;
    const key = this.key(KEYS.leader);
    try {
      // Common case: the key already holds our name on our lease; the keepalive was the renewal.
      const check = await this.calls.run(
        'check the leader key',
        (o) => this.client.if(key, 'Value', '==', name).and(key, 'Lease', '==', id).options(o).commit(),
        end,
      );
      if (check.succeeded) return true;
      const moved = await this.calls.run(
        'move the leader key to the node lease',
        (o) => this.client.if(key, 'Value', '==', name).then(this.client.put(key).value(name).lease(id)).options(o).commit(),
        end,
      );
      return moved.succeeded;
    } catch (e) {
      if (isPgwardenError(e, 'DCS_LEASE_LOST')) return false;
      throw e;
    }
  }

  async deleteLeader(name: string): Promise<boolean> {
    const key = this.key(KEYS.leader);
    const res = await this.calls.run('delete the leader key', (o) =>
      this.client.if(key, 'Value', '==', name).then(this.client.delete().key(key)).options(o).commit(),
    );
    return res.succeeded;
  }

  async initializeRace(): Promise<boolean> {
    const key = this.key(KEYS.initialize);
    const res = await this.calls.run('create the initialize key', (o) =>
      this.client.if(key, 'Create', '==', 0).then(this.client.put(key).value('')).options(o).commit(),
    );
    return res.succeeded;
  }

  async setInitialize(sysid: string): Promise<void> {
    await this.calls.run('write the initialize key', (o) => this.client.put(this.key(KEYS.initialize)).value(sysid).options(o).exec());
  }

  async cancelInitialize(): Promise<void> {
    await this.calls.run('delete the initialize key', (o) => this.client.delete().key(this.key(KEYS.initialize)).options(o).exec());
  }

  async setConfig(value: Record<string, unknown>, expectedModRevision?: string): Promise<boolean> {
    return this.putMaybeCas(KEYS.config, encodeConfig(value), 'config', expectedModRevision);
  }

  async setFailover(value: FailoverRequest, expectedModRevision?: string): Promise<boolean> {
    return this.putMaybeCas(KEYS.failover, encodeFailover(value), 'failover', expectedModRevision);
  }

  async setSync(value: SyncState | null, expectedModRevision: string): Promise<boolean> {
    if (value !== null) return this.putMaybeCas(KEYS.sync, encodeSync(value), 'sync', expectedModRevision);
    if (expectedModRevision === '0') return true;
    const key = this.key(KEYS.sync);
    const res = await this.calls.run('delete the sync key', (o) =>
      this.client.if(key, 'Mod', '==', expectedModRevision).then(this.client.delete().key(key)).options(o).commit(),
    );
    return res.succeeded;
  }

  async writeFailsafe(members: Record<string, string> | null): Promise<void> {
    const key = this.key(KEYS.failsafe);
    if (members === null) await this.calls.run('delete the failsafe key', (o) => this.client.delete().key(key).options(o).exec());
    else await this.calls.run('write the failsafe key', (o) => this.client.put(key).value(JSON.stringify(members)).options(o).exec());
  }

  async removeCluster(): Promise<void> {
    await this.calls.run('delete the cluster keys', (o) => this.client.delete().prefix(this.prefix).options(o).exec());
  }

  /** Plain put, or compare-and-set on mod_revision (`'0'` = the key must not exist). */
  private async putMaybeCas(rel: string, text: string, what: string, expectedModRevision?: string): Promise<boolean> {
    const key = this.key(rel);
    if (expectedModRevision === undefined) {
      await this.calls.run(`write the ${what} key`, (o) => this.client.put(key).value(text).options(o).exec());
      return true;
    }
    if (!/^\d+$/.test(expectedModRevision)) throw new PgwardenError('BUG', `write ${what}: not a revision: ${JSON.stringify(expectedModRevision)}`);
    const res = await this.calls.run(`compare-and-set the ${what} key`, (o) =>
      this.client
        .if(key, expectedModRevision === '0' ? 'Create' : 'Mod', '==', expectedModRevision)
        .then(this.client.put(key).value(text))
        .options(o)
        .commit(),
    );
    return res.succeeded;
  }

  async writeStatus(optime: Lsn): Promise<void> {
    await this.calls.run('write the status key', (o) => this.client.put(this.key(KEYS.status)).value(encodeStatus(optime)).options(o).exec());
  }

  async writeHistory(rows: HistoryRow[]): Promise<void> {
    await this.calls.run('write the history key', (o) => this.client.put(this.key(KEYS.history)).value(encodeHistory(rows)).options(o).exec());
  }

  waitForChange(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return this.changes.wait(timeoutMs, signal);
  }

  async revokeLease(): Promise<void> {
    const lease = this.lease;
    const lost = this.leaseLost;
    this.lease = null;
    this.leaseId = null;
    this.leaseLost = false;
    if (!lease || lost) return;
    await this.calls.run('revoke the lease', (o) => lease.revoke(o));
  }

  async close(): Promise<void> {
    this.lease?.release();
    await this.changes.close();
    this.calls.close();
    this.client.close();
  }

  private async keepAliveUntil(end: number): Promise<boolean> {
    const lease = this.lease;
    if (!lease || this.leaseLost) return false;
    try {
      await this.calls.run('keep the lease alive', (o) => lease.keepaliveOnce(o), end);
      return true;
    } catch (e) {
      if (isPgwardenError(e, 'DCS_LEASE_LOST')) return false;
      throw e;
    }
  }

  private requireLease(): string {
    if (this.leaseId === null || this.leaseLost) {
      throw new PgwardenError('DCS_LEASE_LOST', 'etcd: the node has no live lease (call ensureLease first)');
    }
    return this.leaseId;
  }

  private key(rel: string): string {
    return this.prefix + rel;
  }
}

function rawKv(kv: IKeyValue): RawKv {
  return {
    key: kv.key.toString(),
    value: kv.value.toString(),
    modRevision: String(kv.mod_revision),
    createRevision: String(kv.create_revision),
    lease: String(kv.lease ?? '0'),
  };
}
