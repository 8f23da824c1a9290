/**
 * When one plugin runs. The rules, in the words an operator reads them:
 * - once at start, as soon as every cluster it follows has been read;
 * - again whenever the topology of those clusters differs from what its last successful run
 *   was given — but never while it is still running: the newest topology is handed over when
 *   the current run ends, intermediate ones are skipped (plugins are idempotent);
 * - after a failure (non-zero exit, timeout, could not start), at the next topology change, or
 *   after `retry_interval` when the topology stays the same.
 *
 * The slot keeps at most one run in flight by itself, so the guarantee "never concurrent" does
 * not depend on the runner's queueing, and a run's outcome is always matched to the topology
 * it was given.
 */
import type { Logger } from '../log.js';
import type { WatchEvent } from './document.js';

export interface PluginSlotDeps {
  /** Fingerprint of the plugin's clusters now, or null while one of them was never read. */
  current(): string | null;
  /** Starts a run for `fingerprint`; its end must be reported with {@link PluginSlot.finished}. */
  launch(event: WatchEvent, fingerprint: string): void;
  retryIntervalMs: number;
  log: Logger;
}

export class PluginSlot {
  /** Fingerprint given to the last successful run; null before the first success. */
  private applied: string | null = null;
  /** Fingerprint given to the last run when that run failed (and nothing succeeded since). */
  private failedOn: string | null = null;
  /** Fingerprint of the run in flight. */
  private running: string | null = null;
  private everLaunched = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    readonly name: string,
    private readonly deps: PluginSlotDeps,
  ) {}

  /** True while a run is in flight (for tests and the shutdown log). */
  get busy(): boolean {
    return this.running !== null;
  }

  /** The plugin's clusters may have changed: start a run if its topology is new to it. */
  poke(): void {
    if (this.closed || this.running !== null) return;
    const fp = this.deps.current();
    if (fp === null || fp === this.applied || fp === this.failedOn) return;
    this.start(this.everLaunched ? 'topology_changed' : 'watch_started', fp);
  }

  /** The run in flight ended; `ok` = exit status 0 within the timeout. */
  finished(ok: boolean): void {
    const fp = this.running;
    if (fp === null) return;
    this.running = null;
    if (ok) {
      this.applied = fp;
      this.failedOn = null;
    } else {
      this.failedOn = fp;
    }
    // The topology may have changed while it ran: that run starts now, failed or not.
    this.poke();
    if (!ok && !this.closed && this.running === null) {
      this.deps.log.info(`plugin ${this.name} will run again at the next topology change or in ${formatSeconds(this.deps.retryIntervalMs)}`);
      this.retryTimer = setTimeout(() => this.retry(), this.deps.retryIntervalMs);
    }
  }

  /** No more runs (shutdown). A run in flight is left to the runner's stop. */
  close(): void {
    this.closed = true;
    this.clearRetry();
  }

  private retry(): void {
    this.retryTimer = null;
    if (this.closed || this.running !== null) return;
    const fp = this.deps.current();
    if (fp === null || fp === this.applied) return;
    this.start(fp === this.failedOn ? 'retry' : 'topology_changed', fp);
  }

  private start(event: WatchEvent, fp: string): void {
    this.clearRetry();
    this.running = fp;
    this.everLaunched = true;
    this.deps.launch(event, fp);
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}
