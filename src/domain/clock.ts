/**
 * Time as the daemon sees it. Deadlines (lease, loop staleness) use `now()`, a monotonic clock
 * that never jumps with NTP or an operator's `date`; `wallNow()` is only for what humans and
 * Patroni's contract show (`dcs_last_seen`, timestamps).
 */
export interface Clock {
  /** Monotonic milliseconds. */
  now(): number;
  /** Wall-clock milliseconds since the epoch. */
  wallNow(): number;
}

export const systemClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  wallNow: () => Date.now(),
};
