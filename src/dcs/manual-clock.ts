import type { Clock } from '../domain/clock.js';

/**
 * A `Clock` that only moves when told to, for deterministic simulations and tests. Both the
 * monotonic and the wall clock move together by `advance(ms)`. Pass it to `MemoryStore` with
 * `timers: 'manual'` and drive time with `store.advance(ms)` so lease expiry and
 * `waitForChange` timeouts fire in order at the simulated instants.
 */
export class ManualClock implements Clock {
  private mono: number;
  private wall: number;

  /** Starts at arbitrary but fixed instants so runs are reproducible. */
  constructor(startMs = 1_000_000, wallStartMs = Date.UTC(2024, 0, 1)) {
    this.mono = startMs;
    this.wall = wallStartMs;
  }

  now(): number {
    return this.mono;
  }

  wallNow(): number {
    return this.wall;
  }

  /** Moves both clocks forward; negative steps are refused (a monotonic clock never goes back). */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`ManualClock.advance needs a non-negative step, got ${ms}`);
    this.mono += ms;
    this.wall += ms;
  }
}
