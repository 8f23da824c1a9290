import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import { isWakeupChange, type KeyChange } from './codec.js';

const RECREATE_AFTER_MS = 1000;
const CANCEL_WAIT_MS = 500;

/**
 * The change feed behind `Etcd3Dcs.waitForChange`: one etcd watch on the whole cluster prefix
 * (with previous values, so a renewal of the leader key by its holder is told apart from a new
 * holder), created on first use and re-created when etcd cancels it.
 *
 * Bookkeeping is by revision: `seen` is the revision the caller last read (its `getCluster`),
 * `changed` the revision of the last change that matters (`isWakeupChange`). A wait returns at
 * once when a change newer than the last read is pending, so a leader deletion that lands
 * between a read and the following wait is never slept through. After the watch stream
 * reconnects, events may have been missed, so one wait returns early to make the loop re-read.
 * Nothing here throws: a broken watch only makes waits run to their timeout.
 */
export class ChangeWatch {
  private watcher: Watcher | null = null;
  private seen = 0;
  private changed = 0;
  private missedMaybe = false;
  private disconnected = false;
  private lastCreate = -Infinity;
  private closed = false;
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly client: Etcd3,
    private readonly prefix: string,
    private readonly log: (msg: string) => void,
  ) {}

  /** Records the revision of a read of the whole prefix. */
  sawRevision(revision: number): void {
    if (revision > this.seen) this.seen = revision;
  }

  wait(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.closed || signal?.aborted) return Promise.resolve();
    this.ensureWatcher();
    if (this.takePending()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        if (!this.waiters.delete(done)) return;
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, timeoutMs));
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Releases waiters and cancels the watch (bounded: a hung host cannot hold `close`). */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of [...this.waiters]) w();
    const w = this.watcher;
    this.watcher = null;
    if (!w) return;
    w.removeAllListeners();
    w.on('error', () => undefined);
    await Promise.race([w.cancel().catch(() => undefined), new Promise((r) => setTimeout(r, CANCEL_WAIT_MS).unref())]);
  }

  private takePending(): boolean {
    if (this.missedMaybe || this.changed > this.seen) {
      this.missedMaybe = false;
      this.seen = Math.max(this.seen, this.changed);
      return true;
    }
    return false;
  }

  private wake(): void {
    if (this.waiters.size === 0) return;
    this.takePending();
    for (const w of [...this.waiters]) w();
  }

  private ensureWatcher(): void {
    if (this.watcher || this.closed) return;
    const now = performance.now();
    if (now - this.lastCreate < RECREATE_AFTER_MS) return;
    this.lastCreate = now;
    try {
      const builder = this.client.watch().prefix(this.prefix).withPreviousKV();
      if (this.seen > 0) builder.startRevision(String(this.seen + 1));
      const w = builder.watcher();
      this.watcher = w;
      this.disconnected = false;
      w.on('put', (kv, prev) => this.onEvent('put', kv, prev));
      w.on('delete', (kv, prev) => this.onEvent('delete', kv, prev));
      w.on('connected', () => {
        if (!this.disconnected) return;
        this.disconnected = false;
        this.log('etcd watch reconnected; re-reading the cluster');
        this.missedMaybe = true;
        this.wake();
      });
      w.on('disconnected', (err) => {
        if (!this.disconnected) this.log(`etcd watch lost its stream (${err.message}); reconnecting`);
        this.disconnected = true;
      });
      w.on('error', (err) => {
        this.log(`etcd cancelled the watch (${err.message}); it will be re-created`);
        if (this.watcher === w) this.watcher = null;
        w.removeAllListeners();
        w.on('error', () => undefined);
        void w.cancel().catch(() => undefined);
      });
    } catch (e) {
      this.watcher = null;
      this.log(`could not start the etcd watch: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private onEvent(type: 'put' | 'delete', kv: IKeyValue, prev: IKeyValue | undefined): void {
    const change: KeyChange = {
      key: kv.key.toString(),
      type,
      previous: prev ? prev.value.toString() : null,
      value: type === 'put' ? kv.value.toString() : null,
    };
    if (!isWakeupChange(this.prefix, change)) return;
    const rev = Number(kv.mod_revision);
    if (rev > this.changed) this.changed = rev;
    this.wake();
  }
}
