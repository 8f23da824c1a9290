import { errorText } from '../errors.js';
import type { FinishedTask, RunningTask, TaskKind } from '../ha/types.js';

/**
 * Runs at most one long action (bootstrap, clone, start, promote, rejoin) in the background so
 * the HA loop keeps cycling and keeps or drops the lease while it runs. Each task gets an
 * AbortSignal; `cancel()` aborts it and waits (bounded) for it to settle.
 */
export class TaskRunner {
  private current: { info: RunningTask; abort: AbortController; done: Promise<void> } | null = null;
  private lastFinished: FinishedTask | null = null;

  constructor(
    private readonly now: () => number,
    private readonly onFinish: (t: FinishedTask) => void,
  ) {}

  get running(): RunningTask | null {
    return this.current?.info ?? null;
  }

  /** The task that finished since the last call, reported once. */
  takeFinished(): FinishedTask | null {
    const f = this.lastFinished;
    this.lastFinished = null;
    return f;
  }

  start(kind: TaskKind, work: (signal: AbortSignal) => Promise<void>): void {
    if (this.current) throw new Error(`cannot start ${kind}: ${this.current.info.kind} is still running`);
    const abort = new AbortController();
    const info: RunningTask = { kind, startedAt: this.now() };
    const done = work(abort.signal).then(
      () => this.finish({ kind, ok: true, finishedAt: this.now() }),
      (e: unknown) => this.finish({ kind, ok: false, error: errorText(e), finishedAt: this.now() }),
    );
    this.current = { info, abort, done };
  }

  private finish(f: FinishedTask): void {
    this.current = null;
    this.lastFinished = f;
    this.onFinish(f);
  }

  /** Aborts the running task and waits up to `timeoutMs` for it to settle. */
  async cancel(timeoutMs: number): Promise<void> {
    const c = this.current;
    if (!c) return;
    c.abort.abort();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([c.done, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    if (this.current === c) this.current = null;
  }
}
