/**
 * Discrete-event core of the simulation: a sim clock in milliseconds, an event queue ordered by
 * (time, insertion order), and cooperative processes written as generators. A process yields a
 * delay (`number`) or a wakeable wait (`{ watch: ms }`) and is resumed by the scheduler; nothing
 * uses real timers, so a run is a pure function of its seed.
 */

/** What a process yields: sleep this long, or wait this long unless woken earlier. */
export type Step = number | { watch: number };

/** A simulated async function: `yield*` it from another process body. */
export type Gen<T> = Generator<Step, T, void>;

interface Event {
  at: number;
  seq: number;
  run: () => void;
}

export class Scheduler {
  now = 0;
  private seq = 0;
  private heap: Event[] = [];

  /** Runs `run` at sim time `at` (never earlier than now). */
  at(at: number, run: () => void): void {
    this.push({ at: Math.max(at, this.now), seq: this.seq++, run });
  }

  after(ms: number, run: () => void): void {
    this.at(this.now + ms, run);
  }

  /**
   * Runs events until the queue is empty, the next one is later than `until`, or `afterEach`
   * (called after every event) returns true.
   */
  runUntil(until: number, afterEach: () => boolean): void {
    for (;;) {
      const top = this.heap[0];
      if (!top || top.at > until) break;
      this.pop();
      this.now = top.at;
      top.run();
      if (afterEach()) return;
    }
    this.now = Math.max(this.now, until);
  }

  private push(e: Event): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && before(h[l]!, h[m]!)) m = l;
      if (r < h.length && before(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}

function before(a: Event, b: Event): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/**
 * One cooperative process (an agent's HA loop or one background task). `stop()` drops it for good
 * (SIGKILL, task cancelled); `freeze()`/`thaw()` model SIGSTOP/SIGCONT: a resume that falls due
 * while frozen is held back and runs at thaw time.
 */
export class Process {
  private token = 0;
  private stopped = false;
  private frozen = false;
  private heldResume = false;
  private watching = false;

  constructor(
    private readonly sched: Scheduler,
    private readonly gen: Gen<void>,
    private readonly onExit: (error: unknown) => void,
  ) {}

  start(): void {
    this.schedule(0);
  }

  get alive(): boolean {
    return !this.stopped;
  }

  stop(): void {
    this.stopped = true;
    this.token++;
  }

  freeze(): void {
    this.frozen = true;
  }

  thaw(): void {
    this.frozen = false;
    if (this.heldResume) {
      this.heldResume = false;
      this.schedule(0);
    }
  }

  /** Cuts a `{ watch }` wait short (etcd watch event, task finished). No effect otherwise. */
  wake(delay = 0): void {
    if (!this.watching || this.stopped) return;
    this.watching = false;
    this.schedule(delay);
  }

  private schedule(delay: number): void {
    const token = ++this.token;
    this.sched.after(delay, () => this.resume(token));
  }

  private resume(token: number): void {
    if (token !== this.token || this.stopped) return;
    if (this.frozen) {
      this.heldResume = true;
      return;
    }
    this.watching = false;
    let r: IteratorResult<Step, void>;
    try {
      r = this.gen.next();
    } catch (e) {
      this.stopped = true;
      this.onExit(e);
      return;
    }
    if (r.done) {
      this.stopped = true;
      this.onExit(null);
      return;
    }
    const step = r.value;
    if (typeof step === 'number') {
      this.schedule(step);
    } else {
      this.schedule(step.watch);
      this.watching = true;
    }
  }
}
