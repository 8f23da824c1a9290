/**
 * Server lifecycle through `pg_ctl`: start, stop with escalation, promote, reload. Each call is
 * bounded by its deadline; a failed start carries the tail of the server log, because pg_ctl
 * itself only says "Examine the log output".
 */
import { open, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { errorText, PgwardenError } from '../errors.js';
import { killHard, postgresPidsIn, readPostmasterPid, isPostgresOf, runProgram, runProgramResult, tail, waitGone } from './process.js';
import type { StopMode } from './port.js';

export interface ServerPaths {
  binDir: string;
  dataDir: string;
  /** File pg_ctl appends the server's stdout/stderr to (`-l`). */
  logPath: string;
  logger: { info(msg: string): void; warn(msg: string): void };
  /** Extra environment for the server and pg_ctl (PGPASSFILE). */
  env: Readonly<Record<string, string>>;
}

/** Whole seconds for pg_ctl's `-t`, at least 1. */
export function pgCtlSeconds(ms: number): string {
  return String(Math.max(1, Math.ceil(ms / 1000)));
}

/** The postmaster PID when a server runs in this directory, else null. */
export function runningPostmaster(dataDir: string): number | null {
  const pid = readPostmasterPid(dataDir);
  return pid !== null && isPostgresOf(pid, dataDir) ? pid : null;
}

async function fileSize(path: string): Promise<number> {
  return stat(path).then((s) => s.size, () => 0);
}

/** Last lines the server wrote to `path` after byte `from` (at most 8 KiB are read). */
export async function logTail(path: string, from: number, lines = 5): Promise<string> {
  try {
    const fh = await open(path, 'r');
    try {
      const size = (await fh.stat()).size;
      const start = Math.max(from, size - 8192);
      const buf = Buffer.alloc(Math.max(0, size - start));
      await fh.read(buf, 0, buf.length, start);
      return tail(buf.toString('utf8'), lines);
    } finally {
      await fh.close();
    }
  } catch {
    return '';
  }
}

/**
 * A `postmaster.pid` whose PID is not a server of this directory, with no server process of
 * this directory alive at all (not even orphaned backends, which still hold shared memory), is
 * stale: PostgreSQL would refuse to start if that PID now belongs to another process. Removes it
 * and says so. Returns true when it removed the file.
 */
export async function clearStaleLock(p: ServerPaths): Promise<boolean> {
  const pid = readPostmasterPid(p.dataDir);
  if (pid === null || isPostgresOf(pid, p.dataDir)) return false;
  if (postgresPidsIn(p.dataDir).length > 0) return false;
  const pidFile = join(p.dataDir, 'postmaster.pid');
  const socketLock = await socketLockOf(pidFile, pid);
  await rm(pidFile, { force: true });
  p.logger.warn(`removed stale ${pidFile}: PID ${pid} is not a PostgreSQL server of this data directory`);
  if (socketLock !== null) {
    await rm(socketLock, { force: true });
    p.logger.warn(`removed stale ${socketLock} of the same PID ${pid}`);
  }
  return true;
}

/**
 * The unix socket lock file (`<dir>/.s.PGSQL.<port>.lock`) named by lines 4 and 5 of a stale
 * postmaster.pid, when it still names the same PID. A SIGKILLed postmaster stays a zombie until
 * its parent (init, once pg_ctl has exited) reaps it; PostgreSQL sees that PID as alive and
 * refuses to start on the socket lock, so a crash restart would otherwise wait for the reaper.
 */
async function socketLockOf(pidFile: string, pid: number): Promise<string | null> {
  const lines = (await readFile(pidFile, 'utf8').catch(() => '')).split('\n');
  const port = lines[3]?.trim();
  const dir = lines[4]?.trim();
  if (!port || !/^\d+$/.test(port) || !dir || !dir.startsWith('/')) return null;
  const lock = join(dir, `.s.PGSQL.${port}.lock`);
  const owner = Number.parseInt((await readFile(lock, 'utf8').catch(() => '')).split('\n')[0] ?? '', 10);
  return owner === pid && (await isDeadOrZombie(pid)) ? lock : null;
}

/** True when `pid` no longer exists or is a zombie (exited, not yet reaped). */
async function isDeadOrZombie(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (stat === null) return false;
  return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
}

/**
 * `pg_ctl start -w -t <secs> -l <log>`: resolves once the server accepts connections. Rejects
 * `PG_TIMEOUT` when it did not get there in `timeoutMs` (the postmaster may still be starting;
 * the caller decides whether to wait or stop it), `PG_COMMAND_FAILED` with the server log tail
 * when it exited, `ABORTED` on abort. Bounded by `timeoutMs` + 2 s.
 */
export async function startServer(p: ServerPaths, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  await clearStaleLock(p);
  const from = await fileSize(p.logPath);
  const args = ['start', '-D', p.dataDir, '-w', '-t', pgCtlSeconds(timeoutMs), '-l', p.logPath];
  const began = Date.now();
  // No LC_ALL=C here: the postmaster inherits this environment and its locale is the user's business.
  const r = await runProgramResult(join(p.binDir, 'pg_ctl'), args, { timeoutMs: timeoutMs + 2_000, signal, env: p.env });
  if (r.ok) return;
  const server = await logTail(p.logPath, from);
  const where = `${server ? ` Server log: ${server}` : ''} (log file ${p.logPath})`;
  // pg_ctl's own message is translated; its exit after the full -t wait is what marks a timeout.
  if (Date.now() - began >= Number(pgCtlSeconds(timeoutMs)) * 1000 && runningPostmaster(p.dataDir) !== null) {
    throw new PgwardenError('PG_TIMEOUT', `PostgreSQL did not accept connections within ${pgCtlSeconds(timeoutMs)} s.${where}`);
  }
  throw new PgwardenError('PG_COMMAND_FAILED', `pg_ctl start failed (${r.exit}): ${r.detail}.${where}`);
}

/** One `pg_ctl stop -m <mode>` attempt; true when the server is gone afterwards. */
async function pgCtlStop(p: ServerPaths, mode: StopMode, ms: number): Promise<boolean> {
  try {
    await runProgram(join(p.binDir, 'pg_ctl'), ['stop', '-D', p.dataDir, '-m', mode, '-w', '-t', pgCtlSeconds(ms)], { timeoutMs: ms + 2_000, env: p.env, cLocale: true });
    return true;
  } catch (e) {
    if (runningPostmaster(p.dataDir) === null) return true;
    p.logger.warn(`pg_ctl stop -m ${mode} did not stop PostgreSQL: ${errorText(e)}`);
    return false;
  }
}

/**
 * Stops the server; a server that is not running is not an error. `fast` gets 3/4 of
 * `timeoutMs`, then `immediate` gets the rest; if the postmaster is still there, it and every
 * server process of the directory get SIGKILL. Rejects `PG_TIMEOUT` only if even that fails.
 * Worst case: `timeoutMs` plus up to 2 s of whole-second rounding in pg_ctl's `-t`, plus up to
 * 10 s for killed processes to be reaped (measured: 2 s budget → about 4.5 s in total).
 */
export async function stopServer(p: ServerPaths, mode: StopMode, timeoutMs: number): Promise<void> {
  const pid = runningPostmaster(p.dataDir);
  if (pid === null) return;
  p.logger.info(`stopping PostgreSQL (${mode} shutdown, postmaster PID ${pid})`);
  const first = mode === 'fast' ? Math.max(1_000, Math.floor(timeoutMs * 0.75)) : timeoutMs;
  if (await pgCtlStop(p, mode, first)) return;
  if (mode === 'fast' && (await pgCtlStop(p, 'immediate', Math.max(1_000, timeoutMs - first)))) return;
  const pids = postgresPidsIn(p.dataDir);
  const victims = pids.includes(pid) ? pids : [pid, ...pids];
  p.logger.warn(`PostgreSQL did not stop: sending SIGKILL to the postmaster (PID ${pid}) and ${victims.length - 1} other server process(es)`);
  for (const v of victims) killHard(v);
  if (!(await waitGone(victims, 10_000))) {
    throw new PgwardenError('PG_TIMEOUT', `PostgreSQL processes ${victims.join(', ')} survived SIGKILL for 10 s`);
  }
}

/**
 * `pg_ctl promote -W`: asks the server to leave recovery and returns at once. The caller waits
 * itself: pg_ctl's own wait (`-w`) looks at pg_control only every 100 ms, which a failover pays.
 */
export async function promoteServer(p: ServerPaths): Promise<void> {
  await runProgram(join(p.binDir, 'pg_ctl'), ['promote', '-D', p.dataDir, '-W'], { timeoutMs: 10_000, env: p.env, cLocale: true });
}

/** `pg_ctl reload` (SIGHUP to the postmaster). */
export async function reloadServer(p: ServerPaths): Promise<void> {
  await runProgram(join(p.binDir, 'pg_ctl'), ['reload', '-D', p.dataDir], { timeoutMs: 10_000, env: p.env, cLocale: true });
}
