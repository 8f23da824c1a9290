/**
 * The agent's side of the companion fencer (`fencer.ts`): starts the fencer process, tells it
 * the lease deadline after every renewal this node confirmed while running a primary, and
 * disarms it when this node stops doing so. Restarts the process if it dies (and reports it as
 * failed until then); stops it on a clean shutdown.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Clock } from '../domain/clock.js';
import type { Logger } from '../log.js';
import { encodeMessage, type FencerMessage } from './protocol.js';

export interface CompanionOptions {
  dataDir: string;
  /** Fence this long before the lease deadline (`watchdog.safety_margin`). */
  safetyMarginMs: () => number;
  clock: Clock;
  log: Logger;
}

/** Where the fencer's entry point is: beside this file, run through tsx when this is source. */
function fencerCommand(): string[] {
  const here = fileURLToPath(import.meta.url);
  const source = here.endsWith('.ts');
  const script = fileURLToPath(new URL(source ? './main.ts' : './main.js', import.meta.url));
  return source ? ['--import', 'tsx', script] : [script];
}

const RESTART_DELAY_MS = 1_000;

export class CompanionFencer {
  private child: ChildProcess | null = null;
  private last: FencerMessage = { op: 'disarm' };
  private stopping = false;
  private restartTimer: NodeJS.Timeout | null = null;

  constructor(private readonly o: CompanionOptions) {}

  /** True when the fencer process is not running (it died and is being restarted). */
  get failed(): boolean {
    return !this.stopping && (this.child === null || this.child.exitCode !== null || this.child.signalCode !== null);
  }

  start(): void {
    if (this.stopping || this.child) return;
    const child = spawn(process.execPath, fencerCommand(), { stdio: ['pipe', 'inherit', 'inherit'] });
    this.child = child;
    child.stdin?.on('error', () => undefined); // EPIPE when it died; the exit handler restarts it
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = null;
      if (this.stopping) return;
      this.o.log.error(`companion fencer (pid ${String(child.pid)}) exited (${signal ?? `code ${String(code)}`}); restarting it`);
      this.restartTimer = setTimeout(() => {
        this.restartTimer = null;
        this.start();
        this.send(this.last);
      }, RESTART_DELAY_MS);
    });
    child.on('error', (e) => this.o.log.error(`companion fencer: ${e.message}`));
    this.o.log.info(`companion fencer started (pid ${String(child.pid)}): fences PostgreSQL ${this.o.safetyMarginMs() / 1000} s before the lease ends if the agent stops renewing`);
  }

  /** A renewal was confirmed while this node runs a primary: the lease holds until `leaderUntil`. */
  arm(leaderUntil: number): void {
    const hr = process.hrtime.bigint(); // before the clock reading: a pause in between errs early
    const remainingMs = leaderUntil - this.o.clock.now();
    const toNs = (msFromNow: number): string => (hr + BigInt(Math.floor(msFromNow * 1e6))).toString();
    this.send({
      op: 'arm',
      fenceAtNs: toNs(Math.max(0, remainingMs - this.o.safetyMarginMs())),
      leaseEndsNs: toNs(Math.max(0, remainingMs)),
      dataDir: this.o.dataDir,
    });
  }

  disarm(): void {
    if (this.last.op === 'disarm') return;
    this.send({ op: 'disarm' });
  }

  /** Clean shutdown: disarm, close its stdin and wait (bounded) for it to exit. */
  async stop(): Promise<void> {
    this.disarm();
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.stdin?.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
    await exited;
    clearTimeout(timer);
  }

  private send(m: FencerMessage): void {
    this.last = m;
    const stdin = this.child?.stdin;
    if (stdin && stdin.writable) stdin.write(encodeMessage(m));
  }
}
