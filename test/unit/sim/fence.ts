import { Process, type Gen, type Scheduler } from './scheduler.js';

/**
 * The lease fence of `src/loop/fence.ts` on the sim clock: armed with the local lease deadline
 * after every renewal or acquire etcd confirmed, it fires at `deadline − margin` and runs the
 * agent's "stop PostgreSQL immediately, then wake the loop" body. `trip()` runs that body at once
 * (etcd refused the renewal); `disarm()` cancels the timer but, as in the daemon, not a stop that
 * is already under way.
 *
 * The timer and any stop it started live in the agent's process: SIGSTOP holds them (a deadline
 * that passes while frozen fires at SIGCONT) and SIGKILL drops them.
 */
export class SimFence {
  private timer: Process | null = null;
  private readonly stops = new Set<Process>();
  private frozen = false;

  constructor(
    private readonly sched: Scheduler,
    private readonly marginMs: number,
    private readonly stopNow: (reason: string) => Gen<void>,
    /** False only in the self-test that shows the checker catches a daemon without a fence. */
    private readonly enabled = true,
  ) {}

  /** Sim time of the last `arm()`. */
  armedAt = -Infinity;
  /** When the armed timer fires (deadline − margin), or null when disarmed. */
  firesAt: number | null = null;

  get armed(): boolean {
    return this.timer !== null;
  }

  /** A renewal was confirmed: the lease holds at least until `leaderUntil` (sim ms). */
  arm(leaderUntil: number): void {
    this.disarm();
    this.armedAt = this.sched.now;
    if (!this.enabled) return;
    const delay = Math.max(0, leaderUntil - this.marginMs - this.sched.now);
    this.firesAt = this.sched.now + delay;
    const reason = `no lease renewal succeeded and the leader lease runs out in ${this.marginMs / 1000} s`;
    const self = this;
    let timer: Process | null = null;
    timer = this.spawn(
      (function* (): Gen<void> {
        yield delay;
        if (self.timer === timer) {
          self.timer = null;
          self.firesAt = null;
        }
        self.trip(reason);
      })(),
    );
    this.timer = timer;
  }

  disarm(): void {
    this.timer?.stop();
    this.timer = null;
    this.firesAt = null;
  }

  trip(reason: string): void {
    this.disarm();
    if (!this.enabled) return;
    const stop: Process = this.spawn(this.stopNow(reason), () => this.stops.delete(stop));
    this.stops.add(stop);
  }

  freeze(): void {
    this.frozen = true;
    this.timer?.freeze();
    for (const p of this.stops) p.freeze();
  }

  thaw(): void {
    this.frozen = false;
    this.timer?.thaw();
    for (const p of this.stops) p.thaw();
  }

  /** SIGKILL: the timer and any stop in progress vanish (a stop signal already sent still lands). */
  kill(): void {
    this.disarm();
    for (const p of this.stops) p.stop();
    this.stops.clear();
  }

  private spawn(body: Gen<void>, onExit: () => void = () => undefined): Process {
    const p = new Process(this.sched, body, (e) => {
      onExit();
      if (e) throw e;
    });
    if (this.frozen) p.freeze();
    p.start();
    return p;
  }
}
