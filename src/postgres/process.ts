/**
 * Child processes for the PostgreSQL programs (initdb, pg_ctl, pg_basebackup, pg_rewind,
 * pg_controldata, postgres --single) and the postmaster PID checks. Every run has a hard
 * deadline and an optional AbortSignal; failures become coded `PgwardenError`s whose message
 * names the program and carries the tail of its stderr, so one log line says what went wrong.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { PgwardenError } from '../errors.js';

export interface RunOptions {
  /** Hard deadline: the child gets SIGTERM, then SIGKILL 2 s later, and the call rejects `PG_TIMEOUT`. */
  timeoutMs: number;
  /** Abort: same kill sequence, rejects `ABORTED`. */
  signal?: AbortSignal | undefined;
  /** Extra environment (e.g. PGPASSFILE), on top of the inherited one minus `PG*` variables. */
  env?: Readonly<Record<string, string>>;
  /** Run with LC_ALL=C so the output we parse (pg_controldata labels, pg_rewind messages) is English. */
  cLocale?: boolean;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/**
 * The environment for a child: the inherited one without `PG*` variables (a stray PGDATA,
 * PGPORT or PGOPTIONS in the agent's environment must not redirect a program), plus `extra`.
 */
export function childEnv(base: NodeJS.ProcessEnv, extra: Readonly<Record<string, string>> = {}, cLocale = false): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) {
    if (v !== undefined && !k.startsWith('PG')) env[k] = v;
  }
  if (cLocale) {
    env.LC_ALL = 'C';
    env.LANG = 'C';
    delete env.LANGUAGE;
  }
  return { ...env, ...extra };
}

/** Arguments as shown in error messages: a `password=` anywhere in an argument masks that argument. */
export function redactArgs(args: readonly string[]): string {
  return args.map((a) => (/password\s*=/i.test(a) ? '<redacted>' : a)).join(' ');
}

/** Last `n` non-empty lines of program output, joined with ` | ` for a one-line log message. */
export function tail(text: string, n = 5): string {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .slice(-n)
    .join(' | ');
}

export interface ExitResult extends RunResult {
  ok: boolean;
  /** "exit 1", "killed by SIGSEGV", or "could not run". */
  exit: string;
  /** One line for logs: the last lines of stderr, else stdout, else the spawn error. */
  detail: string;
}

/**
 * Runs a program and reports a non-zero exit as a value (for programs whose output decides,
 * like `pg_rewind --dry-run`). Still rejects `PG_TIMEOUT` on the deadline and `ABORTED` on abort.
 */
export async function runProgramResult(file: string, args: readonly string[], opts: RunOptions): Promise<ExitResult> {
  const name = file.split('/').pop() ?? file;
  if (opts.signal?.aborted) throw new PgwardenError('ABORTED', `${name} was not started: the operation was cancelled`);
  const r = await execa(file, args, {
    timeout: opts.timeoutMs,
    cancelSignal: opts.signal,
    forceKillAfterDelay: 2_000,
    env: childEnv(process.env, opts.env, opts.cLocale ?? false),
    extendEnv: false,
    stdin: 'ignore',
    reject: false,
  });
  const stdout = typeof r.stdout === 'string' ? r.stdout : '';
  const stderr = typeof r.stderr === 'string' ? r.stderr : '';
  if (r.timedOut) {
    throw new PgwardenError('PG_TIMEOUT', `${name} did not finish within ${Math.round(opts.timeoutMs / 100) / 10} s and was killed${stderr ? `: ${tail(stderr)}` : ''}`);
  }
  if (r.isCanceled) throw new PgwardenError('ABORTED', `${name} was cancelled`);
  const exit = r.exitCode !== undefined ? `exit ${r.exitCode}` : r.signal !== undefined ? `killed by ${r.signal}` : 'could not run';
  return { ok: !r.failed, stdout, stderr, exit, detail: tail(stderr) || tail(stdout) || (r.shortMessage ?? 'no output') };
}

/** Runs a PostgreSQL program; resolves with its output only when it exits 0, else rejects `PG_COMMAND_FAILED`. */
export async function runProgram(file: string, args: readonly string[], opts: RunOptions): Promise<RunResult> {
  const r = await runProgramResult(file, args, opts);
  if (!r.ok) {
    const name = file.split('/').pop() ?? file;
    throw new PgwardenError('PG_COMMAND_FAILED', `${name} ${redactArgs(args)} failed (${r.exit}): ${r.detail}`);
  }
  return { stdout: r.stdout, stderr: r.stderr };
}

/** PID on the first line of `<dataDir>/postmaster.pid`, or null when there is no usable file. */
export function readPostmasterPid(dataDir: string): number | null {
  let text: string;
  try {
    text = readFileSync(join(dataDir, 'postmaster.pid'), 'utf8');
  } catch {
    return null;
  }
  const pid = Number(text.split('\n')[0]?.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

/** `/proc/<pid>/comm` of a PostgreSQL server process (`postgres`, or `postmaster` via the old symlink). */
export function isPostgresComm(comm: string): boolean {
  const c = comm.trim();
  return c === 'postgres' || c === 'postmaster';
}

const HAS_PROC = existsSync('/proc/self/cwd');

function realDir(dir: string): string | null {
  try {
    return realpathSync(dir);
  } catch {
    return null;
  }
}

/**
 * True when `pid` is a live PostgreSQL process of this OS user working in `dataDir` (every
 * server process, the postmaster included, has the data directory as its working directory).
 * A stale `postmaster.pid` after a reboot may name a PID that now belongs to something else,
 * or to another cluster's server: this check keeps pgwarden from reporting "starting" forever
 * or signalling a stranger. Without /proc (not Linux) it falls back to "the PID exists".
 */
export function isPostgresOf(pid: number, dataDir: string): boolean {
  return isServerIn(pid, HAS_PROC ? realDir(dataDir) : null);
}

function isServerIn(pid: number, realDataDir: string | null): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false; // ESRCH: gone; EPERM: another user's process, so not our server
  }
  if (!HAS_PROC) return true;
  if (realDataDir === null) return false;
  try {
    if (!isPostgresComm(readFileSync(`/proc/${pid}/comm`, 'utf8'))) return false;
    return readlinkSync(`/proc/${pid}/cwd`) === realDataDir;
  } catch {
    return false; // exited meanwhile, or not ours to inspect
  }
}

/**
 * Every live server process of this OS user working in `dataDir` (postmaster, backends, or
 * orphans of a killed postmaster). Empty where /proc is unavailable.
 */
export function postgresPidsIn(dataDir: string): number[] {
  const real = HAS_PROC ? realDir(dataDir) : null;
  if (real === null) return [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  return entries.filter((e) => /^\d+$/.test(e) && Number(e) !== process.pid && isServerIn(Number(e), real)).map(Number);
}

/** Sends SIGKILL, ignoring a process that is already gone. */
export function killHard(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** 'gone' once the kernel has released the PID; 'zombie' while it waits to be reaped. */
export function processState(pid: number): 'alive' | 'zombie' | 'gone' {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM' ? 'alive' : 'gone';
  }
  if (!HAS_PROC) return 'alive';
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z') ? 'zombie' : 'alive';
  } catch {
    return 'gone';
  }
}

/**
 * Cheap re-check of a PID already verified by `isPostgresOf`: one read of `/proc/<pid>/stat`
 * (its command name and state) instead of the five system calls of the full check. Meant for
 * polling many times a second; a zombie counts as dead. Without /proc, "the PID exists".
 */
export function isLivePostgres(pid: number): boolean {
  if (!HAS_PROC) return processState(pid) === 'alive';
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  return isPostgresComm(stat.slice(open + 1, close)) && !stat.slice(close + 2).startsWith('Z');
}

/**
 * Polls until every PID is released, or `timeoutMs` passes. A killed postmaster stays a zombie
 * until its parent (init) reaps it, and PostgreSQL's lock-file check counts a zombie as a live
 * server, so a restart right after SIGKILL must wait for that. Resolves true when all are gone,
 * or only zombies are left at the deadline (nothing more can be done about those).
 */
export async function waitGone(pids: readonly number[], timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const states = pids.map(processState);
    if (states.every((s) => s === 'gone')) return true;
    if (Date.now() >= end) return states.every((s) => s !== 'alive');
    await new Promise((r) => setTimeout(r, 50));
  }
}
