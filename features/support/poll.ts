/**
 * Bounded polling for acceptance steps: every "within N seconds" step goes through `waitFor`, so a
 * failing step always says what it waited for and what it saw last.
 */

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Error text of anything thrown. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

/**
 * Calls `probe` every `intervalMs` until it returns a value other than `undefined`/`false`, or
 * `seconds` have passed. A probe that throws counts as "not yet"; its message becomes the "last
 * seen" text of the timeout error. Guarantees: resolves with the probe's value, or rejects after
 * at most `seconds` + one probe duration.
 */
export async function waitFor<T>(
  seconds: number,
  what: string,
  probe: () => Promise<T | undefined | false>,
  intervalMs = 500,
): Promise<T> {
  const started = Date.now();
  const deadline = started + seconds * 1000;
  let last = 'no observation yet';
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
      last = 'condition not met';
    } catch (e) {
      last = describeError(e);
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${seconds} s waiting until ${what}; last seen: ${last}`);
    }
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
}

/**
 * The opposite of `waitFor`: calls `check` every `intervalMs` for `seconds` and fails at the first
 * call that throws (the check must hold the whole time).
 */
export async function holdsFor(seconds: number, what: string, check: () => Promise<void>, intervalMs = 500): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    try {
      await check();
    } catch (e) {
      throw new Error(`expected ${what} for ${seconds} s, but it broke: ${describeError(e)}`);
    }
    if (Date.now() >= deadline) return;
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
}
