import { execa } from 'execa';
import { PgwardenError } from '../errors.js';

export interface RunOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  env?: Record<string, string>;
  input?: string;
  cwd?: string;
}

/**
 * Runs a PostgreSQL program with a hard deadline. The child is killed on timeout or abort
 * (SIGTERM, then SIGKILL after 2 s). Failures become coded errors whose message carries the
 * command and the tail of its stderr, so a log line says what went wrong.
 */
export async function runProgram(file: string, args: string[], opts: RunOptions): Promise<{ stdout: string; stderr: string }> {
  const name = file.split('/').pop() ?? file;
  const r = await execa(file, args, {
    timeout: opts.timeoutMs,
    cancelSignal: opts.signal,
    forceKillAfterDelay: 2_000,
    env: { LC_ALL: 'C', LANG: 'C', ...opts.env },
    input: opts.input,
    stdin: opts.input === undefined ? 'ignore' : 'pipe',
    cwd: opts.cwd,
    reject: false,
    all: false,
  });
  const stderr = String(r.stderr ?? '');
  const stdout = String(r.stdout ?? '');
  if (r.timedOut) throw new PgwardenError('PG_TIMEOUT', `${name} did not finish within ${Math.round(opts.timeoutMs / 1000)} s`);
  if (r.isCanceled) throw new PgwardenError('ABORTED', `${name} was cancelled`);
  if (r.failed) {
    const tail = (stderr || stdout).trim().split('\n').slice(-5).join(' | ');
    throw new PgwardenError('PG_COMMAND_FAILED', `${name} ${args.filter((a) => !a.includes('password')).join(' ')} failed (exit ${r.exitCode ?? r.signal ?? '?'}): ${tail}`);
  }
  return { stdout, stderr };
}
