/**
 * A positive number from a command-line option of the bench and chaos tools: `fallback` when the
 * option is absent; exits with status 2 and a message naming the option when it is not positive.
 */
export function positiveOption(tool: string, name: string, v: string | undefined, fallback: number): number {
  const n = v === undefined ? fallback : Number(v);
  if (!Number.isFinite(n) || n <= 0) {
    process.stderr.write(`${tool}: --${name} must be a positive number, not ${String(v)}\n`);
    process.exit(2);
  }
  return n;
}
