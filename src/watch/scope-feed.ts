/**
 * Follows one cluster (scope) in etcd: reads it, waits for a change or the poll interval, reads
 * again, and reports every snapshot it read. The Dcs watch wakes it at once when the leader key
 * changes; member health lives in member keys, which the watch ignores (they change every HA
 * cycle), so the periodic read is what notices a replica going down.
 *
 * When etcd does not answer, the feed reports nothing — the watcher keeps the last topology it
 * knows, so plugins are never told "the cluster is empty" because of a network problem — and
 * logs the outage once, and its end once.
 */
import type { ClusterSnapshot } from '../domain/cluster.js';
import type { Dcs } from '../dcs/port.js';
import { errorText } from '../errors.js';
import type { Logger } from '../log.js';

/**
 * Smallest gap between two reads of one scope. A change feed that fires again and again (a
 * flapping leader, a watch that keeps reconnecting) must not turn into a read loop on etcd.
 */
const MIN_READ_GAP_MS = 100;

export interface ScopeFeedOptions {
  scope: string;
  /** Only reads: the observer hands in a reader that cannot write (`observe/etcd-reader.ts`). */
  dcs: Pick<Dcs, 'getCluster' | 'waitForChange'>;
  pollIntervalMs: number;
  log: Logger;
  /** What the caller does while etcd is down, for the outage log line; default the watcher's. */
  whileDown?: string;
  /** Called with every snapshot read (unchanged ones too). Must not throw. */
  onSnapshot(snapshot: ClusterSnapshot): void;
}

export class ScopeFeed {
  private readonly abort = new AbortController();
  private done: Promise<void> | null = null;
  /** Monotonic ms when the current outage began; null while etcd answers. */
  private unavailableSince: number | null = null;

  constructor(private readonly opts: ScopeFeedOptions) {}

  start(): void {
    this.done ??= this.run();
  }

  /** Ends the loop; resolves once a read in progress has returned (bounded by the Dcs deadline). */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.done;
  }

  private async run(): Promise<void> {
    const { dcs, pollIntervalMs } = this.opts;
    const signal = this.abort.signal;
    while (!signal.aborted) {
      const readAt = performance.now();
      let read = false;
      try {
        read = await this.readOnce();
        if (signal.aborted) return;
        // After a failed read the watch is no help (it is as unreachable as the reads): just wait.
        if (read) await dcs.waitForChange(pollIntervalMs, signal);
      } catch (e) {
        // Neither the Dcs nor onSnapshot should throw here; if one does, keep following the scope.
        this.opts.log.error(`scope ${this.opts.scope}: unexpected error while following the cluster: ${errorText(e)}`);
        read = false;
      }
      if (!read) await sleep(pollIntervalMs, signal);
      const gap = performance.now() - readAt;
      if (gap < MIN_READ_GAP_MS) await sleep(MIN_READ_GAP_MS - gap, signal);
    }
  }

  private async readOnce(): Promise<boolean> {
    const { scope, dcs, log, pollIntervalMs } = this.opts;
    let snapshot: ClusterSnapshot;
    try {
      snapshot = await dcs.getCluster();
    } catch (e) {
      if (this.unavailableSince === null) {
        this.unavailableSince = performance.now();
        log.warn(
          `scope ${scope}: cannot read etcd (${errorText(e)}); ${this.opts.whileDown ?? 'keeping the last known topology, plugins wait'}, ` +
            `trying again every ${pollIntervalMs / 1000} s`,
        );
      } else {
        log.debug(`scope ${scope}: etcd still unreadable: ${errorText(e)}`);
      }
      return false;
    }
    if (this.unavailableSince !== null) {
      const seconds = ((performance.now() - this.unavailableSince) / 1000).toFixed(1);
      log.info(`scope ${scope}: etcd answers again after ${seconds} s`);
      this.unavailableSince = null;
    }
    this.opts.onSnapshot(snapshot);
    return true;
  }
}

/** Resolves after `ms` or as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
