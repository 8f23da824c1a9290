/**
 * Runs operator commands (callbacks, cluster triggers, watcher plugins) in the background.
 *
 * The HA loop must never wait for an operator's script: a hanging `on_role_change` must not
 * delay a demotion. So `submit` only queues, and every outcome is reported through the log
 * (and an optional hook), never thrown. Jobs sharing a key are serialised because they
 * describe the same thing (the role, the leader) at successive moments: running two at once
 * could let an older state finish last. Since the commands are idempotent, only the newest
 * waiting job per key is worth running; older waiting ones are dropped.
 *
 * Each command runs without a shell, detached in its own process group, so a timeout can kill
 * the script AND whatever it started (SIGTERM to the group, SIGKILL 2 s later).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { PgwardenError, errorText } from '../errors.js';
import type { Logger } from '../log.js';

export interface CommandJob {
  /**
   * Jobs with the same key never run at the same time. A job submitted while one with its key
   * runs waits; a later submission for that key replaces the one still waiting (latest state
   * wins: commands are idempotent). Different keys run concurrently.
   */
  key: string;
  /** What to log, e.g. `callback on_role_change` or `plugin pgbouncer`. */
  label: string;
  /** argv[0] is the program; run without a shell. */
  argv: readonly string[];
  /** Written to the command's stdin, then stdin is closed (commands may ignore it; EPIPE must not crash anything). */
  stdin: string;
  timeoutMs: number;
  /** Added to (and overriding) pgwarden's own environment, so PATH and HOME stay available. */
  env?: Readonly<Record<string, string>>;
  /** Log success at DEBUG instead of INFO (heartbeat runs every cycle). */
  quiet?: boolean;
}

export interface CommandOutcome {
  key: string;
  label: string;
  /** Exit status of the program, null when it was ended by a signal or never started. */
  exitCode: number | null;
  /** Signal that ended the program (e.g. `SIGTERM` after a timeout), else null. */
  signal: string | null;
  timedOut: boolean;
  durationMs: number;
  /** Last ~2 KB of the program's stderr, trimmed; '' when it wrote nothing. */
  stderrTail: string;
  /** Why the program could not be started (e.g. `spawn /x ENOENT`). */
  error?: string;
}

/** After SIGTERM, how long the process group gets before SIGKILL. */
const KILL_AFTER_MS = 2_000;
/** Bytes of stderr kept for the log line. */
const STDERR_TAIL_BYTES = 2_048;
/**
 * After the program exits, how long we wait for its stderr to reach end-of-file. A background
 * child that inherited stderr (a script ending in `daemon &`) would otherwise hold the job
 * "running" for as long as that child lives.
 */
const STDIO_SETTLE_MS = 250;

interface Run {
  job: CommandJob;
  child: ChildProcess;
  startedAt: number;
  stderr: Buffer[];
  stderrBytes: number;
  /** Why we are killing it, once we are. */
  killing: 'timeout' | 'stop' | null;
  /** The program itself has exited (its stderr may still be open); too late to time it out. */
  exitSeen: boolean;
  /** Set when the program has exited and its stderr closed. */
  exited: { code: number | null; signal: string | null } | null;
  deadline: NodeJS.Timeout;
  escalation: NodeJS.Timeout | null;
  grace: NodeJS.Timeout | null;
  settled: boolean;
}

export class CommandRunner {
  private readonly running = new Map<string, Run>();
  private readonly waiting = new Map<string, CommandJob>();
  private idleWaiters: Array<() => void> = [];
  private stopped = false;

  constructor(
    private readonly log: Logger,
    private readonly onOutcome?: (o: CommandOutcome) => void,
  ) {}

  /** Never throws and never blocks the caller (the HA loop does not await commands). */
  submit(job: CommandJob): void {
    if (this.stopped) {
      this.log.debug(`${job.label} not run: pgwarden is shutting down`);
      return;
    }
    if (this.running.has(job.key)) {
      if (this.waiting.has(job.key)) this.log.debug(`${job.label}: an older waiting run is replaced by a newer one`);
      this.waiting.set(job.key, job);
      return;
    }
    this.start(job);
  }

  /** Resolves when nothing runs or waits (tests, orderly shutdown). */
  idle(): Promise<void> {
    if (this.running.size === 0 && this.waiting.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Refuse new jobs, drop waiting ones, give running ones graceMs, then kill them (SIGTERM to
   * the group, SIGKILL 2 s later): resolves within graceMs + 2 s.
   */
  stop(graceMs: number): Promise<void> {
    this.stopped = true;
    for (const job of this.waiting.values()) this.log.debug(`${job.label} not run: pgwarden is shutting down`);
    this.waiting.clear();
    for (const run of this.running.values()) {
      run.grace ??= setTimeout(() => this.kill(run, 'stop'), graceMs);
    }
    const done = this.idle();
    this.notifyIfIdle();
    return done;
  }

  private start(job: CommandJob): void {
    const startedAt = performance.now();
    const [program, ...args] = job.argv;
    let child: ChildProcess;
    try {
      if (program === undefined || program === '') throw new Error('empty command');
      child = spawn(program, args, {
        detached: true,
        stdio: ['pipe', 'ignore', 'pipe'],
        env: job.env ? { ...process.env, ...job.env } : process.env,
      });
    } catch (e) {
      // spawn throws synchronously only for malformed arguments; report like a spawn failure.
      this.report(job, { exitCode: null, signal: null, timedOut: false, durationMs: 0, stderrTail: '', error: errorText(e) });
      this.notifyIfIdle();
      return;
    }
    const run: Run = {
      job,
      child,
      startedAt,
      stderr: [],
      stderrBytes: 0,
      killing: null,
      exitSeen: false,
      exited: null,
      deadline: setTimeout(() => this.kill(run, 'timeout'), job.timeoutMs),
      escalation: null,
      grace: null,
      settled: false,
    };
    this.running.set(job.key, run);

    child.stderr?.on('data', (chunk: Buffer) => this.keepTail(run, chunk));
    child.stdin?.on('error', () => {
      // The command may exit without reading stdin (EPIPE): that is its right, not a failure.
    });
    child.stdin?.end(job.stdin);

    child.once('error', (e) => {
      // Without a pid the program never started (ENOENT, EACCES); other 'error' events come from
      // kill()/send(), which we do not use.
      if (child.pid === undefined) this.settle(run, null, null, errorText(e));
    });
    child.once('exit', () => {
      run.exitSeen = true;
      setTimeout(() => child.stderr?.destroy(), STDIO_SETTLE_MS).unref();
    });
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
      if (child.pid === undefined) return;
      run.exited = { code, signal };
      // A killed command's children may outlive it; the next run of its key waits for SIGKILL.
      if (run.escalation && groupAlive(child.pid)) return;
      this.settle(run, code, signal);
    });
  }

  private keepTail(run: Run, chunk: Buffer): void {
    run.stderr.push(chunk);
    run.stderrBytes += chunk.length;
    while (run.stderr.length > 1 && run.stderrBytes - run.stderr[0]!.length >= STDERR_TAIL_BYTES) {
      run.stderrBytes -= run.stderr.shift()!.length;
    }
  }

  private kill(run: Run, why: 'timeout' | 'stop'): void {
    const pid = run.child.pid;
    if (run.settled || run.exitSeen || run.killing || pid === undefined) return;
    run.killing = why;
    clearTimeout(run.deadline);
    signalGroup(pid, 'SIGTERM');
    run.escalation = setTimeout(() => {
      signalGroup(pid, 'SIGKILL');
      run.escalation = null;
      if (run.exited) this.settle(run, run.exited.code, run.exited.signal);
    }, KILL_AFTER_MS);
  }

  private settle(run: Run, exitCode: number | null, signal: string | null, error?: string): void {
    if (run.settled) return;
    run.settled = true;
    clearTimeout(run.deadline);
    if (run.escalation) clearTimeout(run.escalation);
    if (run.grace) clearTimeout(run.grace);
    this.running.delete(run.job.key);

    const all = Buffer.concat(run.stderr);
    const stderrTail = all.subarray(Math.max(0, all.length - STDERR_TAIL_BYTES)).toString('utf8').trim();
    const outcome: Omit<CommandOutcome, 'key' | 'label'> = {
      exitCode,
      signal,
      timedOut: run.killing === 'timeout',
      durationMs: Math.round(performance.now() - run.startedAt),
      stderrTail,
    };
    if (error !== undefined) outcome.error = error;
    this.report(run.job, outcome, run.killing === 'stop');

    const next = this.waiting.get(run.job.key);
    if (next) {
      this.waiting.delete(run.job.key);
      this.start(next);
    }
    this.notifyIfIdle();
  }

  private report(job: CommandJob, o: Omit<CommandOutcome, 'key' | 'label'>, killedAtStop = false): void {
    const outcome: CommandOutcome = { key: job.key, label: job.label, ...o };
    const what = `${job.label} (${argvText(job.argv)})`;
    const took = `after ${o.durationMs} ms`;
    const stderr = o.stderrTail === '' ? '' : `; stderr: ${o.stderrTail}`;
    if (o.error !== undefined) {
      this.log.warn(`${what} could not be started: ${o.error}`);
    } else if (o.timedOut) {
      this.log.warn(`${what} timed out ${took} and was killed (${o.signal ?? `exit code ${o.exitCode}`})${stderr}`);
    } else if (killedAtStop) {
      this.log.warn(`${what} was killed at shutdown ${took} (${o.signal ?? `exit code ${o.exitCode}`})${stderr}`);
    } else if (o.exitCode === 0) {
      const line = `${what} succeeded in ${o.durationMs} ms`;
      if (job.quiet) this.log.debug(line);
      else this.log.info(line);
    } else {
      const how = o.signal !== null ? `was killed by ${o.signal}` : `failed with exit code ${o.exitCode}`;
      this.log.warn(`${what} ${how} ${took}${stderr}`);
    }
    try {
      this.onOutcome?.(outcome);
    } catch (e) {
      this.log.error(`handling the outcome of ${job.label} failed: ${errorText(e)}`);
    }
  }

  private notifyIfIdle(): void {
    if (this.running.size > 0 || this.waiting.size > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** Sends a signal to a whole process group; a group that is already gone is not an error. */
function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: every member already exited.
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** argv as one readable log fragment: words with spaces or quotes are JSON-quoted. */
function argvText(argv: readonly string[]): string {
  return argv.map((a) => (a === '' || /[\s"'\\]/.test(a) ? JSON.stringify(a) : a)).join(' ');
}

/**
 * Splits a configured command line into argv like a POSIX shell would for words and quotes
 * ('...', "...", backslash), without running a shell. Nothing is expanded: `$VAR`, `~`, `*`,
 * `;` and `|` stay literal characters of their word. Inside double quotes a backslash escapes
 * only `$`, `` ` ``, `"`, `\` and a newline, as in sh. Throws a clear Error (`CONFIG_INVALID`)
 * on an unterminated quote or a trailing backslash.
 */
export function splitCommand(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  function fail(why: string): never {
    throw new PgwardenError('CONFIG_INVALID', `command ${JSON.stringify(text)}: ${why}`);
  }
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\n') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) fail('unterminated single quote');
      word += text.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      inWord = true;
      i++;
      for (;;) {
        if (i >= text.length) fail('unterminated double quote');
        const d = text[i]!;
        if (d === '"') break;
        const next = text[i + 1];
        if (d === '\\' && next !== undefined && '$`"\\\n'.includes(next)) {
          if (next !== '\n') word += next;
          i += 2;
        } else {
          word += d;
          i++;
        }
      }
      i++;
    } else if (c === '\\') {
      const next = text[i + 1];
      if (next === undefined) fail('ends with a backslash');
      if (next !== '\n') {
        word += next;
        inWord = true;
      }
      i += 2;
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}
