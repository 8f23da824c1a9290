import type { ClusterSnapshot } from '../../../src/domain/cluster.js';
import type { PeerStatus } from '../../../src/domain/peer.js';
import type { PgStatus } from '../../../src/domain/pg-status.js';
import { errorText, isPgwardenError } from '../../../src/errors.js';
import type { decide as realDecide } from '../../../src/ha/decide.js';
import { LEADER_BEFORE_START } from '../../../src/ha/failsafe.js';
import { initialMemory, type FinishedTask, type Memory, type Observation, type Settings, type TaskKind } from '../../../src/ha/types.js';
import { memberData } from '../../../src/loop/member-data.js';
import type { StopMode } from '../../../src/postgres/port.js';
import { DcsClient, type DcsNet, type DcsStore } from './fake-dcs.js';
import { describeAction } from './format.js';
import type { FakePg } from './fake-pg.js';
import { FENCE_MARGIN_MS, stopBudgetMs } from '../../../src/loop/fence.js';
import { SimFence } from './fence.js';
import { DEFAULT_SAFETY_MARGIN_S, fencerMarginS } from '../../../src/watchdog/margin.js';
import type { Rng } from './prng.js';
import { Process, type Gen, type Scheduler } from './scheduler.js';
import { execute, type ExecHost } from './executors.js';
import { failsafeRound, probePeers, type FailsafeLeg } from './peer-calls.js';
import type { TaskHost } from './task-bodies.js';

/** What an agent needs from the world around it. */
export interface AgentEnv {
  sched: Scheduler;
  rng: Rng;
  settings: Settings;
  store: DcsStore;
  net: DcsNet;
  decide: typeof realDecide;
  pgOf(name: string): FakePg;
  /** A peer's `/patroni` as read by `from` now: answer delay and content. */
  peerAnswer(from: string, name: string): { delay: number; status: PeerStatus };
  /** How `POST /failsafe` from `from` to `name` travels (null: no answer before the timeout). */
  failsafeLeg(from: string, name: string): FailsafeLeg | null;
  /** Statistics: a failsafe round ended, confirmed by every member or not. */
  onFailsafeRound(confirmed: boolean): void;
  /** `pg_last_wal_receive_lsn()` of `name`'s server asked by `from`: a position, null (primary), or an error text. */
  receivedLsnOf(from: string, name: string): number | null | string;
  trace(node: string, text: string): void;
  /** Called at the instant etcd creates the leader key for a racing replica (invariant 2). */
  onRace(node: string): void;
  onFatal(node: string, message: string): void;
  /** True when replication between the two servers is cut (isolation). */
  cutOff(a: string, b: string): boolean;
  /** Run the lease fence (false only in a self-test). */
  fence: boolean;
  /** Called when the fence fires or trips (for the run's statistics). */
  /** `demotedSinceArm`: the loop stopped PostgreSQL or started it read-only after the fence was last armed. */
  onFenceStop(node: string, demotedSinceArm: boolean): void;
}

/** Deadline of one `POST /failsafe` (`failsafePing` executor: min(2 × 750 ms, retry_timeout)). */
const FAILSAFE_POST_TIMEOUT_MS = 1_500;
/** Budget the fence gives its immediate stop (`pg.stop('immediate', 5_000)` in the loop). */
const FENCE_STOP_TIMEOUT_MS = 5_000;
/**
 * The daemon runs two fences: the loop's own (`FENCE_MARGIN_MS`) and the companion fencer
 * process, which acts `fencerMarginS` (default `watchdog.safety_margin`) before the lease ends.
 * The earlier of the two is the one that stops PostgreSQL, so the simulation fences there.
 */
function fenceMarginMs(s: Settings): number {
  const timing = { ttl: s.ttlMs / 1000, loop_wait: s.loopWaitMs / 1000, retry_timeout: s.retryTimeoutMs / 1000 };
  return Math.max(FENCE_MARGIN_MS, fencerMarginS(DEFAULT_SAFETY_MARGIN_S, timing) * 1000);
}

/** Wall-clock time at simulated time 0 (compared with the `scheduled_at` of operator requests). */
export const SIM_WALL_EPOCH_MS = Date.parse('2026-01-01T00:00:00Z');

/**
 * One node's pgwarden daemon as the simulation runs it: the HA loop of `src/loop/loop.ts`
 * (observe → `decide` → execute → publish the member key, one cycle per loop_wait or sooner),
 * the executors of `src/loop/executors.ts` and the lease fence of `src/loop/fence.ts`,
 * re-expressed as generator processes over the fake etcd and PostgreSQL. Background tasks are
 * separate processes, so the loop keeps cycling while they run; a task that succeeds wakes the
 * loop, one that fails waits for the next regular cycle. A cycle in which an action failed
 * (returned false or threw) skips the member-key write and asks for the next cycle soon. The REST
 * API a peer reads is the view published at the end of the last cycle.
 *
 * Failsafe mode as the loop runs it: a `failsafePing` first action is carried out before the
 * second `decide` call, and a round every member accepted moves the lease deadline to its send
 * time + ttl (and arms the fence); `POST /failsafe` from a leader is remembered for the
 * `failsafeLeader` observation, in memory only (a restarted agent has forgotten it, so it starts
 * as if an unknown leader had confirmed itself at that moment).
 *
 * Simplifications: no REST API besides `/patroni` and `/failsafe`, no slots, config changes or
 * pause; PostgreSQL probes never fail; `follow` always reloads; task cancellation drops the task
 * at once.
 */
export class Agent implements ExecHost {
  memory: Memory = initialMemory;
  leaderUntil: number | null = null;
  /** Why etcd failed an action of a failsafe leader's last cycle (the next observation takes it as etcd's answer). */
  private dcsJustFailed: string | null = null;
  /** Sim time the loop last stopped PostgreSQL or started it read-only. */
  private demotedAt = -Infinity;
  /** PostgreSQL as of the last completed cycle: what `/patroni` answers. */
  viewPg: PgStatus | null = null;
  /** The lease deadline the last failsafe round set (null once etcd confirmed a renewal since). */
  failsafeUntil: number | null = null;
  /** The last leader that sent `POST /failsafe` and when (sim ms). */
  /** As the loop: an agent starts as if an unknown failsafe leader had confirmed itself at its start. */
  private failsafeHeard: { name: string; at: number };
  task: { kind: TaskKind; startedAt: number; proc: Process } | null = null;
  alive = true;
  frozen = false;
  readonly dcs: DcsClient;
  private finished: FinishedTask | null = null;
  private lastMemberJson: string | null = null;
  /** Like `logReason` in the loop: a reason is traced when it changes. */
  private lastReason = '';
  private readonly loop: Process;
  readonly fence: SimFence;
  readonly host: TaskHost;
  private readonly s: Settings;

  constructor(
    readonly name: string,
    readonly pg: FakePg,
    readonly index: number,
    readonly env: AgentEnv,
  ) {
    this.s = env.settings;
    this.dcs = new DcsClient(name, env.store, env.net, () => env.sched.now);
    this.loop = new Process(env.sched, this.run(), (e) => {
      if (e) env.onFatal(name, `BUG: the HA loop threw: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    });
    this.fence = new SimFence(env.sched, fenceMarginMs(this.s), (reason) => this.fenceStop(reason), env.fence);
    this.host = { name, pg, env, dcs: this.dcs, settings: this.s, stopPg: (m) => this.loopStop(m), acquire: (p) => this.acquire(p) };
    // A new daemon process has a new PostgreSQL adapter and rewrites pgwarden.conf early on.
    pg.newAdapter();
    this.failsafeHeard = { name: LEADER_BEFORE_START, at: env.sched.now };
  }

  private get now(): number {
    return this.env.sched.now;
  }

  start(): void {
    this.loop.start();
  }

  /** SIGKILL: the loop and its task vanish with everything the process remembered. */
  kill(): void {
    this.alive = false;
    this.loop.stop();
    this.task?.proc.stop();
    this.task = null;
    this.fence.kill();
    this.leaderUntil = null;
  }

  freeze(): void {
    this.frozen = true;
    this.loop.freeze();
    this.task?.proc.freeze();
    this.fence.freeze();
  }

  thaw(): void {
    this.frozen = false;
    this.loop.thaw();
    this.task?.proc.thaw();
    this.fence.thaw();
  }

  /** An etcd watch event reached this node. */
  wake(delay: number): void {
    this.loop.wake(delay);
  }

  /** `POST /failsafe` from `leader` reaches this node's REST API (`acceptFailsafe`). */
  acceptFailsafe(leader: string): boolean {
    if (!this.alive || this.frozen || !this.s.failsafeMode) return false;
    if (this.viewPg?.running && !this.viewPg.inRecovery) return false;
    this.failsafeHeard = { name: leader, at: this.now };
    return true;
  }

  private *run(): Gen<void> {
    for (;;) {
      const started = this.now;
      const again = yield* this.cycle();
      const wait = Math.max(0, started + (again ? Math.min(this.s.loopWaitMs, 500) : this.s.loopWaitMs) - this.now);
      if (wait <= 0) continue;
      if (this.dcs.changedSinceRead() && this.env.net.reachable(this.name)) yield this.env.net.latency();
      else yield { watch: wait };
    }
  }

  private *cycle(): Gen<boolean> {
    // As in the loop: task state is read before etcd and PostgreSQL; a result waits while a task runs.
    const task = this.task ? { kind: this.task.kind, startedAt: this.task.startedAt } : null;
    const finished = task ? null : this.finished;
    if (!task) this.finished = null;
    // As in the loop: a failsafe leader does not ask etcd again right after it timed out on an action.
    let dcsObs: Observation['dcs'];
    if (this.dcsJustFailed !== null) {
      dcsObs = { ok: false, error: this.dcsJustFailed };
      this.dcsJustFailed = null;
    } else {
      try {
        yield* this.dcs.ensureLease(this.s.ttlMs);
        dcsObs = { ok: true, cluster: yield* this.dcs.getCluster() };
      } catch (e) {
        dcsObs = { ok: false, error: errorText(e) };
      }
    }
    if (dcsObs.ok && dcsObs.cluster.leader?.name !== this.name) {
      this.leaderUntil = null;
      this.fence.disarm();
    }
    if (this.leaderUntil !== null && this.now >= this.leaderUntil) this.leaderUntil = null;

    yield this.env.rng.int(1, 10);
    const pg = this.pg.status();
    const observation: Observation = {
      now: this.now,
      wallNow: SIM_WALL_EPOCH_MS + this.now,
      self: { name: this.name, nofailover: false, replicatefrom: null, canBootstrap: true },
      settings: this.s,
      dcs: dcsObs,
      pg,
      leaderUntil: this.leaderUntil,
      failsafe: null,
      failsafeLeader: { name: this.failsafeHeard.name, ageMs: this.now - this.failsafeHeard.at },
      task,
      finished,
      peers: null,
    };
    let decision = this.env.decide(observation, this.memory);
    const first = decision.actions[0];
    if (first?.type === 'probePeers') {
      const peers = yield* probePeers(this.env, this.name, first.members.map((m) => m.name));
      const seen = peers.map((p) => `${p.name}=${p.reachable ? `${p.isPrimary ? 'primary@' : ''}${p.lsn}` : 'unreachable'}`);
      this.env.trace(this.name, `probed peers at my WAL position ${pg.running ? pg.lsn : '-'}: ${seen.join(', ')}`);
      decision = this.env.decide({ ...observation, peers, now: this.now, wallNow: SIM_WALL_EPOCH_MS + this.now }, this.memory);
    } else if (first?.type === 'failsafePing') {
      const failsafe = yield* this.failsafePing(first.members.map((m) => m.name));
      decision = this.env.decide({ ...observation, failsafe, leaderUntil: this.leaderUntil, now: this.now, wallNow: SIM_WALL_EPOCH_MS + this.now }, this.memory);
    }
    this.memory = decision.memory;
    if (decision.reason !== this.lastReason) {
      this.env.trace(this.name, `${decision.reason} [${decision.actions.map(describeAction).join(', ')}]`);
      this.lastReason = decision.reason;
    }

    let again = false;
    let failed = false;
    for (const action of decision.actions) {
      if (action.type === 'probePeers' || action.type === 'failsafePing') continue;
      try {
        failed = !(yield* execute(this, action));
      } catch (e) {
        this.env.trace(this.name, `${action.type} failed: ${errorText(e)}`);
        if (isPgwardenError(e, 'DCS_UNAVAILABLE') && this.s.failsafeMode && this.leaderUntil !== null) this.dcsJustFailed = errorText(e);
        failed = true;
      }
      if (['stop', 'acquireLeader', 'releaseLeader', 'cancelTask'].includes(action.type)) again = true;
      if (failed) break;
    }
    // After a failed action the loop goes straight to the next observation, without the member write.
    if (dcsObs.ok && !failed) yield* this.publishMember(dcsObs.cluster, pg);
    this.viewPg = pg;
    return again || failed || !dcsObs.ok;
  }

  /** The `failsafePing` executor: every member accepted → lease deadline = send time + ttl. */
  private *failsafePing(names: string[]): Gen<{ accepted: string[]; refused: string[] }> {
    const sentAt = this.now;
    const answers = yield* failsafeRound(this.env, this.name, names, Math.min(FAILSAFE_POST_TIMEOUT_MS, this.s.retryTimeoutMs));
    this.env.onFailsafeRound(answers.refused.length === 0);
    if (answers.refused.length === 0) {
      this.leaderUntil = sentAt + this.s.ttlMs;
      this.failsafeUntil = this.leaderUntil;
      this.fence.arm(this.leaderUntil);
    }
    const who = answers.refused.length === 0 ? `all confirmed (${answers.accepted.join(', ') || 'no other member'})` : `refused or silent: ${answers.refused.join(', ')}`;
    this.env.trace(this.name, `failsafe round: ${who}`);
    return answers;
  }

  private *publishMember(cluster: ClusterSnapshot, pg: PgStatus): Gen<void> {
    try {
      let force = false;
      if (this.leaderUntil === null && !(yield* this.dcs.keepAlive())) {
        yield* this.dcs.ensureLease(this.s.ttlMs);
        force = true;
      }
      const port = 5432 + this.index;
      const identity = { connUrl: `postgres://127.0.0.1:${port}/postgres`, apiUrl: `http://127.0.0.1:${8008 + this.index}/patroni`, version: 'sim' };
      const task = this.task ? { kind: this.task.kind, startedAt: this.task.startedAt } : null;
      const data = memberData(identity, pg, task, {}, false);
      const json = JSON.stringify(data);
      const listed = cluster.members.some((m) => m.name === this.name);
      if (force || !listed || json !== this.lastMemberJson) {
        yield* this.dcs.touchMember(data);
        this.lastMemberJson = json;
      }
    } catch {
      this.lastMemberJson = null;
    }
  }

  /** Same budget as `stopTimeoutMs` in the executors. */
  private stopTimeoutMs(): number {
    return stopBudgetMs(this.s.retryTimeoutMs, this.leaderUntil, this.now);
  }

  /** `pg_ctl stop`: the server takes writes until it is gone; past the deadline the agent escalates to immediate. */
  private *stopPg(mode: StopMode, timeout = this.stopTimeoutMs()): Gen<void> {
    if (!this.pg.running && !this.pg.starting) return;
    const takes = mode === 'immediate' ? this.env.rng.int(20, 150) : this.env.rng.int(100, 2_500);
    this.pg.requestStop(mode, takes);
    yield Math.min(takes, timeout);
    if (this.pg.running || this.pg.starting) this.pg.halt('immediate');
  }

  /** `stopPg()` of the executors: a stop the loop ordered leaves nothing for the fence to stop. */
  *loopStop(mode: StopMode): Gen<void> {
    yield* this.stopPg(mode);
    this.demotedAt = this.now;
    this.fence.disarm();
  }

  /** Keepalive + create, as `acquire()` in the executors: the deadline counts from before the keepalive. */
  *acquire(promote: boolean, claimSync?: string): Gen<boolean> {
    const sentAt = this.now;
    if (!(yield* this.dcs.keepAlive())) yield* this.dcs.ensureLease(this.s.ttlMs);
    const won = yield* this.dcs.attemptToAcquireLeader(() => {
      if (promote) this.env.onRace(this.name);
    }, claimSync);
    if (won) {
      this.leaderUntil = sentAt + this.s.ttlMs;
      this.failsafeUntil = null;
      this.fence.arm(this.leaderUntil);
    }
    return won;
  }

  /** What the fence does when it fires or trips: immediate stop, then wake the loop. */
  private *fenceStop(reason: string): Gen<void> {
    this.env.trace(this.name, `fencing: ${reason}; stopping PostgreSQL immediately`);
    this.env.onFenceStop(this.name, this.demotedAt > this.fence.armedAt);
    yield* this.stopPg('immediate', FENCE_STOP_TIMEOUT_MS);
    this.loop.wake(0);
  }

  markDemoted(): void {
    this.demotedAt = this.now;
  }

  startTask(kind: TaskKind, body: Gen<void>): void {
    if (this.task) throw new Error(`cannot start ${kind}: ${this.task.kind} is still running`);
    const proc: Process = new Process(this.env.sched, body, (e) => {
      if (this.task?.proc !== proc) return;
      this.task = null;
      this.finished = { kind, ok: !e, finishedAt: this.now, ...(e ? { error: errorText(e) } : {}) };
      this.env.trace(this.name, `${kind} ${e ? `failed: ${errorText(e)}` : 'finished'}`);
      // A success is acted on at once; a failure waits for the next regular cycle.
      if (!e) this.loop.wake(0);
    });
    this.task = { kind, startedAt: this.now, proc };
    if (this.frozen) proc.freeze();
    proc.start();
  }

  /** Aborts the task; a postmaster it was starting dies with it (a launched promote cannot be recalled). */
  cancelTask(): void {
    const t = this.task;
    if (!t) return;
    t.proc.stop();
    this.task = null;
    if (this.pg.starting) this.pg.halt('immediate');
  }
}
