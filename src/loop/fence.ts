import type { Clock } from '../domain/clock.js';

/** The fence stops PostgreSQL this long before the local lease deadline; an immediate stop takes well under it. */
export const FENCE_MARGIN_MS = 1_500;

/**
 * How long the loop lets a `pg_ctl stop` run before it escalates to an immediate stop. A leader's
 * stop must finish before the fence would fire, or the two race over the same server.
 */
export function stopBudgetMs(retryTimeoutMs: number, leaderUntil: number | null, now: number): number {
  const normal = Math.max(2_000, retryTimeoutMs);
  if (leaderUntil === null) return normal;
  return Math.max(500, Math.min(normal, leaderUntil - FENCE_MARGIN_MS - 250 - now));
}

/**
 * The backstop of DESIGN §4 "a primary that cannot renew must stop taking writes before its lease
 * can expire". The HA loop arms it after every renewal etcd confirmed, with the local lease
 * deadline; if no further renewal lands by `deadline − margin` — because etcd calls hang, the
 * loop is stuck in a slow await, or etcd refused the renewal — it stops PostgreSQL at once.
 * It never renews anything: the lease is still renewed only from the loop.
 * A frozen process freezes this timer too: that case belongs to the companion fencer, a separate
 * process told every arm and disarm, which fences earlier (`watchdog.safety_margin`).
 */
/** What the loop's fence forwards to a fence outside this process. */
export interface OutOfProcessFence {
  arm(leaderUntil: number): void;
  disarm(): void;
}

export class LeaseFence {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly marginMs: number,
    private readonly stopNow: (reason: string) => Promise<void>,
    /** The out-of-process fence (`fencer/companion.ts`), told the same arm/disarm. */
    private readonly companion: OutOfProcessFence = { arm: () => undefined, disarm: () => undefined },
  ) {}

  /** A renewal was confirmed: the lease holds at least until `leaderUntil` (monotonic ms). */
  arm(leaderUntil: number): void {
    // Only this timer is replaced: the companion keeps running and is simply told the new deadline.
    if (this.timer) clearTimeout(this.timer);
    this.companion.arm(leaderUntil);
    const delay = Math.max(0, leaderUntil - this.marginMs - this.clock.now());
    this.timer = setTimeout(() => this.trip(`no lease renewal succeeded and the leader lease runs out in ${Math.round(this.marginMs / 100) / 10} s`), delay);
  }

  /** This node no longer acts as leader (released the key, demoted, or stopped PostgreSQL itself). */
  disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.companion.disarm();
  }

  get armed(): boolean {
    return this.timer !== null;
  }

  /** Stops PostgreSQL now (e.g. etcd refused the renewal: another node holds the key). */
  trip(reason: string): void {
    this.disarm();
    void this.stopNow(reason);
  }
}
