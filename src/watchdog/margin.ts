/** Patroni's default `watchdog.safety_margin`, seconds. */
export const DEFAULT_SAFETY_MARGIN_S = 5;

/** The timing keys of the dynamic configuration the margin depends on, seconds. */
export interface LoopTiming {
  ttl: number;
  loop_wait: number;
  retry_timeout: number;
}

/**
 * How long before the leader lease ends the companion fencer (and the kernel watchdog) act,
 * seconds: `watchdog.safety_margin`, −1 meaning ttl/2 (Patroni). Capped so that an ordinary slow
 * cycle — `loop_wait`, then an etcd call taking all of `retry_timeout` — still renews (or, in
 * failsafe mode, gets its members' confirmations) a second before the fence would act.
 */
export function fencerMarginS(configured: number, t: LoopTiming): number {
  const cap = Math.max(0.5, Math.min(t.ttl / 2, t.ttl - t.loop_wait - t.retry_timeout - 1));
  return configured < 0 ? cap : Math.min(configured, cap);
}
