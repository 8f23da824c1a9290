import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A child process started by the features, with stdout and stderr appended to one log file.
 * Only ever signals its own PID; every instance is registered so that an interrupted run can still
 * kill what it started (see `killEverythingNow`).
 */
export class ManagedProcess {
  readonly pid: number;
  private exited = false;
  private exitCode: number | null = null;
  private exitSignal: NodeJS.Signals | null = null;
  private readonly exitPromise: Promise<void>;

  private constructor(
    readonly label: string,
    private readonly child: ChildProcess,
    readonly logPath: string,
  ) {
    if (child.pid === undefined) throw new Error(`${label}: spawn failed`);
    this.pid = child.pid;
    this.exitPromise = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exited = true;
        this.exitCode = code;
        this.exitSignal = signal;
        live.delete(this);
        resolve();
      });
    });
    live.add(this);
  }

  /** Starts `command args` in `cwd` with output appended to `logPath`; throws when spawn fails. */
  static async start(label: string, command: string, args: string[], opts: { cwd: string; logPath: string; env?: NodeJS.ProcessEnv }): Promise<ManagedProcess> {
    const fd = openSync(opts.logPath, 'a');
    let child: ChildProcess;
    try {
      child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    if (child.pid === undefined) {
      const err = await new Promise<unknown>((r) => child.once('error', r));
      throw new Error(`${label}: cannot start ${command}: ${String(err)}`);
    }
    child.on('error', () => undefined);
    return new ManagedProcess(label, child, opts.logPath);
  }

  get running(): boolean {
    return !this.exited;
  }

  /** "exit code 0" / "signal SIGKILL" / "running". */
  get exitDescription(): string {
    if (!this.exited) return 'running';
    return this.exitSignal ? `signal ${this.exitSignal}` : `exit code ${String(this.exitCode)}`;
  }

  get code(): number | null {
    return this.exitCode;
  }

  signal(sig: NodeJS.Signals): void {
    if (this.exited) return;
    try {
      process.kill(this.pid, sig);
    } catch {
      // already gone
    }
  }

  /** Resolves true once the process has exited, false after `ms`. */
  async waitExit(ms: number): Promise<boolean> {
    if (this.exited) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)));
    try {
      return await Promise.race([this.exitPromise.then(() => true), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM (plus SIGCONT in case it is stopped), SIGKILL after `graceMs`; resolves on exit. */
  async stop(graceMs: number): Promise<void> {
    if (this.exited) return;
    this.signal('SIGTERM');
    this.signal('SIGCONT');
    if (!(await this.waitExit(graceMs))) {
      this.signal('SIGKILL');
      await this.exitPromise;
    }
  }

  async kill(): Promise<void> {
    this.signal('SIGKILL');
    await this.exitPromise;
  }
}

const live = new Set<ManagedProcess>();
const dataDirs = new Set<string>();

/** Remembers a PostgreSQL data directory whose postmaster was started (via an agent) by this run. */
export function registerDataDir(dir: string): void {
  dataDirs.add(dir);
}

export function forgetDataDir(dir: string): void {
  dataDirs.delete(dir);
}

/** PID of the postmaster running on `dataDir` (first line of postmaster.pid), if it is alive. */
export function postmasterPid(dataDir: string): number | null {
  const file = join(dataDir, 'postmaster.pid');
  if (!existsSync(file)) return null;
  const pid = Number.parseInt(readFileSync(file, 'utf8').split('\n')[0] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

/**
 * Synchronous last resort for an interrupted run: SIGKILL every process this run started and
 * every postmaster on a data directory it created. Safe to call twice.
 */
export function killEverythingNow(): void {
  for (const p of live) p.signal('SIGKILL');
  for (const dir of dataDirs) {
    const pid = postmasterPid(dir);
    if (pid !== null) {
      try {
        process.kill(pid, 'SIGQUIT');
      } catch {
        // gone
      }
    }
  }
}

/** Runs a short command synchronously (bounded), returning its status and output. */
export function runSync(command: string, args: string[], timeoutMs = 30_000): { status: number | null; output: string } {
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: timeoutMs });
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

let installed = false;
/** Installs exit/signal handlers that kill leftovers when cucumber is interrupted. */
export function installEmergencyCleanup(): void {
  if (installed) return;
  installed = true;
  process.once('exit', killEverythingNow);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      process.stderr.write(`\nfeatures: ${sig} received, killing the processes this run started\n`);
      killEverythingNow();
      process.exit(130);
    });
  }
}
