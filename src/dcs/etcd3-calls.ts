import type { CallOptions } from '@grpc/grpc-js';
import { noop, type IDefaultPolicyContext, type IPolicy } from 'cockatiel';
import { EtcdError, EtcdLeaseInvalidError, isRecoverableError } from 'etcd3';
import { PgwardenError } from '../errors.js';

/**
 * Deadlines, retries across hosts, and error closing for the etcd3 adapter.
 *
 * The etcd3 library's own fault handling (three global retries, a circuit breaker that shuts a
 * host for 5 s) can stretch one call far beyond its deadline and can refuse every host at once.
 * pgwarden replaces it: the library gets a no-op global policy and a `HostGate` per host, and
 * `CallRunner.run` owns the retry loop, so one Dcs call never outlives `callTimeoutMs`.
 */

/** Monotonic milliseconds, for deadlines that must not jump with the wall clock. */
export const mono = (): number => performance.now();

const MIN_SLICE_MS = 1000;
const BACKSTOP_GRACE_MS = 250;
const MAX_PAUSE_MS = 500;

/** Thrown by a `HostGate` that is skipping its host; the pool then tries the next host. */
class HostSkipped extends Error {}

/** Thrown when the library did not settle a call by its own deadline (a safety net). */
class AttemptTimeout extends Error {}

/**
 * Per-host policy: after a host fails with a transient error it is skipped for `cooldownMs`,
 * so calls go to the other hosts first; when every host is marked bad, all are tried again
 * (never refuse a call outright because of old failures).
 */
export class HostGates {
  private readonly badUntil = new Map<string, number>();

  constructor(
    private readonly hosts: readonly string[],
    private readonly cooldownMs: number,
    private readonly log: (msg: string) => void,
  ) {}

  /** The cockatiel policy the library runs every call to `host` through. */
  policyFor(host: string): IPolicy<IDefaultPolicyContext> {
    const gates = this;
    return {
      // Type-only member of cockatiel's interface; never read at run time.
      _altReturn: undefined as never,
      onSuccess: noop.onSuccess,
      onFailure: noop.onFailure,
      async execute<T>(fn: (ctx: IDefaultPolicyContext) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T> {
        if (gates.isSkipped(host)) throw new HostSkipped(`etcd host ${host} is cooling down after a failure`);
        try {
          const out = await fn({ signal: signal ?? new AbortController().signal });
          gates.markGood(host);
          return out;
        } catch (e) {
          if (isTransient(e)) gates.markBad(host, e);
          throw e;
        }
      },
    };
  }

  private isSkipped(host: string): boolean {
    if (this.hosts.length < 2) return false;
    const now = mono();
    const until = this.badUntil.get(host);
    if (until === undefined || until <= now) return false;
    return this.hosts.some((h) => (this.badUntil.get(h) ?? 0) <= now);
  }

  private markBad(host: string, e: unknown): void {
    if (this.hosts.length < 2) return;
    if (!this.badUntil.has(host)) this.log(`etcd host ${host} failed (${messageOf(e)}); using the other hosts first`);
    this.badUntil.set(host, mono() + this.cooldownMs);
  }

  private markGood(host: string): void {
    if (this.badUntil.delete(host)) this.log(`etcd host ${host} answers again`);
  }
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The etcd error says our lease does not exist (expired or revoked). */
export function isLeaseGone(e: unknown): boolean {
  return e instanceof EtcdLeaseInvalidError || /requested lease not found/.test(messageOf(e));
}

/** Worth another attempt (maybe on another host) while the deadline allows. */
function isTransient(e: unknown): boolean {
  if (e instanceof HostSkipped || e instanceof AttemptTimeout) return true;
  if (typeof e === 'object' && e !== null && isRecoverableError(e as Error)) return true;
  return e instanceof EtcdError && /leader changed|request timed out|no leader|too many requests/.test(e.message);
}

/** Runs etcd calls under one deadline with retries; every failure leaves as a `PgwardenError`. */
export class CallRunner {
  private closed = false;

  constructor(
    private readonly hostCount: number,
    private readonly callTimeoutMs: number,
    private readonly onLeaseGone: () => void,
  ) {}

  /** Monotonic deadline for a call starting now. */
  deadline(): number {
    return mono() + this.callTimeoutMs;
  }

  close(): void {
    this.closed = true;
  }

  /**
   * Runs `fn` until it succeeds, fails for good, or `end` (monotonic ms) passes. Each attempt
   * gets a gRPC deadline: while untried hosts remain, a fair share of the time left (at least
   * 1 s), so one hung host cannot eat the whole budget. Rejects `DCS_LEASE_LOST` when etcd says
   * the lease is gone and `DCS_UNAVAILABLE` for everything else.
   */
  async run<T>(what: string, fn: (opts: CallOptions) => Promise<T>, end = this.deadline()): Promise<T> {
    let attempt = 0;
    let pause = 50;
    let last: unknown = null;
    for (;;) {
      if (this.closed) throw new PgwardenError('DCS_UNAVAILABLE', `etcd: cannot ${what}: the client is closed`);
      const remaining = end - mono();
      if (remaining <= 0) break;
      const untried = this.hostCount - attempt;
      const slice = untried > 1 ? Math.max(Math.min(remaining, MIN_SLICE_MS), remaining / untried) : remaining;
      try {
        return await backstop(fn({ deadline: Date.now() + slice }), slice + BACKSTOP_GRACE_MS);
      } catch (e) {
        last = e;
        if (isLeaseGone(e)) {
          this.onLeaseGone();
          throw new PgwardenError('DCS_LEASE_LOST', `etcd: cannot ${what}: the node lease does not exist any more`, { cause: e });
        }
        if (!isTransient(e)) {
          throw new PgwardenError('DCS_UNAVAILABLE', `etcd: cannot ${what}: ${messageOf(e)}`, { cause: e });
        }
      }
      attempt++;
      if (attempt >= this.hostCount) {
        await sleep(Math.min(pause, Math.max(0, end - mono())));
        pause = Math.min(pause * 2, MAX_PAUSE_MS);
      }
    }
    const why = last === null ? 'no time left' : messageOf(last);
    throw new PgwardenError('DCS_UNAVAILABLE', `etcd: cannot ${what}: no answer within ${this.callTimeoutMs} ms (${why})`, { cause: last ?? undefined });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Races `p` against a timer, in case the library does not honour the gRPC deadline. */
function backstop<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AttemptTimeout(`no answer within ${Math.round(ms)} ms`)), ms);
  });
  p.catch(() => undefined);
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
