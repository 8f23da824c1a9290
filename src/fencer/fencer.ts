/**
 * The companion fencer's logic (issue "watchdog"; DESIGN §4): a primary whose agent stopped
 * renewing its lease — frozen by SIGSTOP, blocked, swapped out, killed — must stop taking writes
 * before the lease can expire and a replica can be promoted. The agent's own timers freeze with
 * it, so this runs in a separate process and acts on nothing but the last `arm` it received.
 *
 * The fence is a **fast shutdown** (SIGINT to the postmaster), escalated to an immediate shutdown
 * (SIGQUIT) one second before the lease ends if the server is still up:
 * - it stops writes at once: the postmaster refuses new connections and terminates every session
 *   within milliseconds, so no further commit is acknowledged;
 * - it lets the WAL senders ship everything up to the shutdown checkpoint to connected replicas,
 *   so the replica that takes over has every acknowledged write, in asynchronous mode too (an
 *   immediate stop, or read-only plus terminated sessions, can leave the last commits unsent);
 * - the escalation bounds it when a WAL sender waits for a replica that no longer answers.
 * It never fences a server that is not the one in `<dataDir>/postmaster.pid`, and acts only
 * while armed: the agent disarms whenever this node stops running a primary under a lease.
 */
import type { ArmMessage, FencerMessage } from './protocol.js';

/** What the fencer needs from the outside world (real in `main.ts`, fake in tests). */
export interface FencerWorld {
  /** CLOCK_MONOTONIC in ns (`process.hrtime.bigint()`). */
  nowNs(): bigint;
  setTimer(ms: number, f: () => void): { cancel(): void };
  /** The postmaster PID from `<dataDir>/postmaster.pid`, or null with the reason. */
  postmasterPid(dataDir: string): { pid: number } | { none: string };
  /** True while `pid` runs. */
  alive(pid: number): boolean;
  signal(pid: number, sig: 'SIGINT' | 'SIGQUIT'): void;
  log: { info(m: string): void; warn(m: string): void; error(m: string): void };
}

/** How often the fencer checks that the postmaster has gone after the signal. */
const POLL_MS = 50;
/** The immediate stop is sent this long before the lease ends if the fast one has not finished. */
const ESCALATE_BEFORE_END_MS = 1_000;
/** Watching stops this long after the lease ended (a postmaster that ignores SIGQUIT is beyond help). */
const GIVE_UP_AFTER_END_MS = 10_000;

const ms = (ns: bigint): number => Number(ns / 1_000_000n);
const seconds = (ns: bigint): string => (Number(ns / 1_000_000n) / 1000).toFixed(1);

export class Fencer {
  private armed: ArmMessage | null = null;
  private timer: { cancel(): void } | null = null;
  private fencing = false;
  private lastArmAtNs: bigint | null = null;
  /** How many times the fence fired (reported to tests and logs). */
  fenced = 0;

  constructor(private readonly world: FencerWorld) {}

  get isArmed(): boolean {
    return this.armed !== null;
  }

  handle(m: FencerMessage): void {
    if (m.op === 'disarm') {
      this.cancel();
      this.armed = null;
      return;
    }
    if (this.fencing) return;
    this.cancel();
    this.armed = m;
    this.lastArmAtNs = this.world.nowNs();
    const delay = Math.max(0, ms(BigInt(m.fenceAtNs) - this.world.nowNs()));
    this.timer = this.world.setTimer(delay, () => this.fire());
  }

  private cancel(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  private fire(): void {
    const arm = this.armed;
    this.timer = null;
    if (arm === null) return;
    this.armed = null;
    const now = this.world.nowNs();
    const leaseEnds = BigInt(arm.leaseEndsNs);
    const quiet = this.lastArmAtNs === null ? '?' : seconds(now - this.lastArmAtNs);
    const found = this.world.postmasterPid(arm.dataDir);
    if ('none' in found) {
      this.world.log.info(`fencer: the lease renewal is ${quiet} s overdue, but ${found.none}: nothing to fence`);
      return;
    }
    const { pid } = found;
    if (!this.world.alive(pid)) {
      this.world.log.info(`fencer: the lease renewal is ${quiet} s overdue, but PostgreSQL (pid ${pid}) is not running: nothing to fence`);
      return;
    }
    this.fenced++;
    this.fencing = true;
    this.world.log.warn(
      `fencer: no lease renewal from the agent for ${quiet} s and the leader lease ends in ${seconds(leaseEnds - now)} s: ` +
        `fast shutdown of PostgreSQL (pid ${pid}) so it stops taking writes before another node can be promoted`,
    );
    try {
      this.world.signal(pid, 'SIGINT');
    } catch (e) {
      this.world.log.error(`fencer: cannot signal PostgreSQL pid ${pid}: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.watch(pid, now, leaseEnds, false);
  }

  /** Polls until the postmaster is gone; sends SIGQUIT once when the lease is about to end. */
  private watch(pid: number, since: bigint, leaseEnds: bigint, escalated: boolean): void {
    const now = this.world.nowNs();
    if (!this.world.alive(pid)) {
      this.world.log.warn(`fencer: PostgreSQL (pid ${pid}) stopped ${ms(now - since)} ms after the fence, ${seconds(leaseEnds - now)} s before the lease ends`);
      this.fencing = false;
      return;
    }
    if (escalated && now >= leaseEnds + BigInt(GIVE_UP_AFTER_END_MS) * 1_000_000n) {
      this.world.log.error(`fencer: PostgreSQL (pid ${pid}) still runs ${ms(now - since)} ms after the fence and an immediate shutdown; giving up`);
      this.fencing = false;
      return;
    }
    if (!escalated && now >= leaseEnds - BigInt(ESCALATE_BEFORE_END_MS) * 1_000_000n) {
      this.world.log.warn(`fencer: PostgreSQL (pid ${pid}) is still shutting down ${ms(now - since)} ms after the fence: immediate shutdown`);
      try {
        this.world.signal(pid, 'SIGQUIT');
      } catch {
        // Gone between the check and the signal: the next poll sees it.
      }
      escalated = true;
    }
    this.world.setTimer(POLL_MS, () => this.watch(pid, since, leaseEnds, escalated));
  }
}
