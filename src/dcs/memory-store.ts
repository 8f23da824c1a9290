import { systemClock, type Clock } from '../domain/clock.js';
import type { KeyChange, RawKv } from './codec.js';
import { ManualClock } from './manual-clock.js';

/** One stored key, with etcd's bookkeeping. */
export interface StoredKv {
  value: string;
  createRevision: number;
  modRevision: number;
  /** Lease id (decimal string) or `'0'`. */
  lease: string;
}

/** A change as delivered to subscribers, with the store revision it happened at. */
export interface StoreChange extends KeyChange {
  revision: number;
}

interface LeaseState {
  ttlMs: number;
  expiresAt: number;
  keys: Set<string>;
}

interface Timer {
  at: number;
  seq: number;
  fire: () => void;
}

/** How a `MemoryStore` tells time; the defaults run it in real time on the system clock. */
export interface MemoryStoreOptions {
  /** Time source for lease expiry and timeouts; default `systemClock`. */
  clock?: Clock;
  /**
   * `'real'` (default): the store arms a `setTimeout` for its next deadline, so it runs by itself
   * against a real clock. `'manual'`: no host timers at all; the driver moves time with
   * `advance(ms)` (or moves its own clock and calls `tick()`), which makes a simulation
   * fully deterministic.
   */
  timers?: 'real' | 'manual';
}

/**
 * An in-memory etcd for one process: keys with create/mod revisions, TTL leases on an injected
 * clock, and change notifications. Several `MemoryDcs` instances (one per simulated node) share
 * one store, as real nodes share one etcd cluster.
 *
 * Guarantees that mirror etcd: every write bumps the store revision by one; a lease expiry
 * deletes all of its keys in one revision; while the store is unavailable no lease expires, and
 * when it comes back every lease gets a fresh TTL (etcd does the same when a new etcd leader
 * takes over). Every operation first expires what is due at `clock.now()`, so the store is
 * always consistent with the clock even in manual mode between ticks.
 */
export class MemoryStore {
  readonly clock: Clock;
  private readonly manual: boolean;
  private kvs = new Map<string, StoredKv>();
  private leases = new Map<string, LeaseState>();
  private rev = 1;
  private nextLease = 7_587_869_000_000_000_000n;
  private up = true;
  private timers: Timer[] = [];
  private timerSeq = 0;
  private hostTimer: NodeJS.Timeout | null = null;
  private listeners = new Set<(c: StoreChange) => void>();

  constructor(opts: MemoryStoreOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.manual = opts.timers === 'manual';
  }

  /** Current store revision (the revision of the last write). */
  get revision(): number {
    return this.rev;
  }

  get available(): boolean {
    return this.up;
  }

  /**
   * Simulates etcd going away (`false`: every `MemoryDcs` call rejects `DCS_UNAVAILABLE`, leases
   * stop counting down) and coming back (`true`: every lease restarts its full TTL).
   */
  setAvailable(up: boolean): void {
    if (up && !this.up) {
      const now = this.clock.now();
      for (const l of this.leases.values()) l.expiresAt = now + l.ttlMs;
    }
    this.up = up;
    this.rearm();
  }

  /** Receives every change (puts, deletes, lease expiries) after it is applied. */
  subscribe(listener: (c: StoreChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Runs `fire` once when the clock reaches `now + delayMs`. Returns a cancel function. */
  schedule(delayMs: number, fire: () => void): () => void {
    const t: Timer = { at: this.clock.now() + Math.max(0, delayMs), seq: this.timerSeq++, fire };
    this.timers.push(t);
    this.rearm();
    return () => {
      this.timers = this.timers.filter((x) => x !== t);
      this.rearm();
    };
  }

  /** Expires due leases and fires due timers, in deadline order, at the clock's current time. */
  tick(): void {
    const now = this.clock.now();
    this.expireLeases(now);
    const due = this.timers.filter((t) => t.at <= now).sort((a, b) => a.at - b.at || a.seq - b.seq);
    this.timers = this.timers.filter((t) => t.at > now);
    for (const t of due) t.fire();
    this.rearm();
  }

  /**
   * For a store built on a `ManualClock`: moves time forward by `ms`, stopping at every deadline
   * on the way (lease expiry, timeouts) so events happen in order, and lets promise callbacks
   * run after each step.
   */
  async advance(ms: number): Promise<void> {
    if (!(this.clock instanceof ManualClock)) throw new Error('MemoryStore.advance needs a store built on a ManualClock');
    const clock = this.clock;
    const target = clock.now() + ms;
    await settle();
    for (;;) {
      const next = this.nextDeadline();
      const step = next === null || next > target ? target : Math.max(next, clock.now());
      clock.advance(step - clock.now());
      this.tick();
      await settle();
      if (step >= target) break;
    }
  }

  // ---- key/value operations: synchronous, so a compare and its write are atomic ----

  get(key: string): StoredKv | undefined {
    this.expireLeases(this.clock.now());
    return this.kvs.get(key);
  }

  /** Every key under `prefix`, sorted, as etcd's range would return them. */
  range(prefix: string): { kvs: RawKv[]; revision: string } {
    this.expireLeases(this.clock.now());
    const kvs: RawKv[] = [];
    for (const key of [...this.kvs.keys()].filter((k) => k.startsWith(prefix)).sort()) {
      const kv = this.kvs.get(key)!;
      kvs.push({ key, value: kv.value, modRevision: String(kv.modRevision), createRevision: String(kv.createRevision), lease: kv.lease });
    }
    return { kvs, revision: String(this.rev) };
  }

  /** Puts a key, optionally attached to a live lease. Throws if the lease does not exist. */
  put(key: string, value: string, lease = '0'): number {
    this.expireLeases(this.clock.now());
    if (lease !== '0' && !this.leases.has(lease)) throw new Error(`lease ${lease} not found`);
    const prev = this.kvs.get(key);
    if (prev && prev.lease !== '0') this.leases.get(prev.lease)?.keys.delete(key);
    const rev = ++this.rev;
    this.kvs.set(key, { value, createRevision: prev?.createRevision ?? rev, modRevision: rev, lease });
    if (lease !== '0') this.leases.get(lease)!.keys.add(key);
    this.emit({ key, type: 'put', previous: prev?.value ?? null, value, revision: rev });
    return rev;
  }

  /** Deletes a key; resolves whether it existed. */
  delete(key: string): boolean {
    this.expireLeases(this.clock.now());
    const prev = this.kvs.get(key);
    if (!prev) return false;
    const rev = ++this.rev;
    this.dropKey(key, prev);
    this.emit({ key, type: 'delete', previous: prev.value, value: null, revision: rev });
    return true;
  }

  // ---- leases ----

  grant(ttlSeconds: number): string {
    this.expireLeases(this.clock.now());
    const id = String(this.nextLease++);
    const ttlMs = ttlSeconds * 1000;
    this.leases.set(id, { ttlMs, expiresAt: this.clock.now() + ttlMs, keys: new Set() });
    this.rearm();
    return id;
  }

  /** Restarts the lease's TTL; `false` when it does not exist (expired or revoked). */
  keepAlive(id: string): boolean {
    this.expireLeases(this.clock.now());
    const l = this.leases.get(id);
    if (!l) return false;
    l.expiresAt = this.clock.now() + l.ttlMs;
    this.rearm();
    return true;
  }

  leaseAlive(id: string): boolean {
    this.expireLeases(this.clock.now());
    return this.leases.has(id);
  }

  /** Deletes the lease and its keys at once (one revision). */
  revoke(id: string): void {
    this.expireLeases(this.clock.now());
    this.killLease(id);
  }

  /** Drops host timers and listeners; the data stays readable. */
  close(): void {
    if (this.hostTimer) clearTimeout(this.hostTimer);
    this.hostTimer = null;
    this.timers = [];
    this.listeners.clear();
  }

  // ---- internals ----

  private dropKey(key: string, kv: StoredKv): void {
    this.kvs.delete(key);
    if (kv.lease !== '0') this.leases.get(kv.lease)?.keys.delete(key);
  }

  private killLease(id: string): void {
    const l = this.leases.get(id);
    if (!l) return;
    this.leases.delete(id);
    if (l.keys.size === 0) return;
    const rev = ++this.rev;
    const changes: StoreChange[] = [];
    for (const key of [...l.keys].sort()) {
      const kv = this.kvs.get(key);
      if (!kv) continue;
      this.kvs.delete(key);
      changes.push({ key, type: 'delete', previous: kv.value, value: null, revision: rev });
    }
    for (const c of changes) this.emit(c);
  }

  private expireLeases(now: number): void {
    if (!this.up) return;
    for (const [id, l] of [...this.leases]) if (l.expiresAt <= now) this.killLease(id);
  }

  private emit(c: StoreChange): void {
    for (const l of [...this.listeners]) l(c);
  }

  private nextDeadline(): number | null {
    let next: number | null = null;
    for (const t of this.timers) if (next === null || t.at < next) next = t.at;
    if (this.up) for (const l of this.leases.values()) if (next === null || l.expiresAt < next) next = l.expiresAt;
    return next;
  }

  /** Real-timer mode: keeps one host timer armed for the earliest deadline. */
  private rearm(): void {
    if (this.manual) return;
    if (this.hostTimer) clearTimeout(this.hostTimer);
    this.hostTimer = null;
    const next = this.nextDeadline();
    if (next === null) return;
    this.hostTimer = setTimeout(() => {
      this.hostTimer = null;
      this.tick();
    }, Math.max(0, next - this.clock.now()) + 1);
    // Lease expiry alone must not keep a process alive; pending waits must.
    if (this.timers.length === 0) this.hostTimer.unref();
  }
}

/** Lets queued promise callbacks (and anything they chain) run before time moves again. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r));
}
