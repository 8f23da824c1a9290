import type { ClusterSnapshot, Tags } from '../domain/cluster.js';
import type { Clock } from '../domain/clock.js';
import type { NodeView } from '../domain/node-view.js';
import type { FailsafeLeader, PeerApi } from '../domain/peer.js';
import type { PgStatus } from '../domain/pg-status.js';
import type { Dcs } from '../dcs/port.js';
import { errorText, isPgwardenError } from '../errors.js';
import { decide } from '../ha/decide.js';
import { LEADER_BEFORE_START } from '../ha/failsafe.js';
import { initialMemory, type Memory, type Observation, type SelfInfo, type Settings } from '../ha/types.js';
import type { Logger } from '../log.js';
import type { Postgres } from '../postgres/port.js';
import { OperatorCommands } from './commands.js';
import { execute, type ShellContext } from './executors.js';
import type { LeadershipGuard } from '../watchdog/guard.js';
import { FENCE_MARGIN_MS, LeaseFence } from './fence.js';
import { memberData, pgRole, pgState, type MemberIdentity } from './member-data.js';
import { TaskRunner } from './tasks.js';

export interface LoopDeps {
  scope: string;
  identity: MemberIdentity;
  dcs: Dcs;
  pg: Postgres;
  peers: PeerApi;
  clock: Clock;
  log: Logger;
  /** Who this node is; re-read every cycle so SIGHUP can change tags. */
  self(): SelfInfo;
  tags(): Tags;
  /** Settings from the `config` key (or the local bootstrap values when it is absent/invalid). */
  settingsFor(config: Record<string, unknown> | null): Settings;
  bootstrapDcs: Record<string, unknown>;
  onFatal(message: string): void;
  /** Companion fencer and kernel watchdog (absent in the simulation and unit tests). */
  guard?: LeadershipGuard;
  /**
   * Called once at the end of every cycle with what it saw (alert files, state file, triggers,
   * statsd hang off it). Synchronous and not awaited: it must only start background work. An
   * exception is logged and never changes the cycle's outcome.
   */
  onCycle?(report: CycleReport): void;
}

/** What one HA cycle observed and decided, for outside views (`outside/cycle-observer.ts`). */
export interface CycleReport {
  /** The view published at the end of the cycle (reason, role, local PostgreSQL status). */
  view: NodeView;
  /** The snapshot read from etcd this cycle; null when etcd could not be read. */
  cluster: ClusterSnapshot | null;
  /** Why etcd could not be read, when it could not. */
  dcsError: string | null;
  /** Monotonic ms the cycle took (observe + decide + execute + publish). */
  durationMs: number;
}

/** How often an unchanged reason is logged again, so a quiet log still shows the node is alive. */
const REASON_REPEAT_MS = 60_000;

/**
 * The imperative shell around `decide`: observe (etcd, PostgreSQL) → decide → execute → publish
 * (member key, NodeView). One cycle every `loop_wait`, or sooner when etcd reports a change of
 * the leader key or a background task finishes. The leader lease is renewed only here.
 */
export class HaLoop {
  private memory: Memory = initialMemory;
  private readonly ctx: ShellContext;
  private wakeup = new AbortController();
  private stopping = false;
  private running: Promise<void> | null = null;
  private postmasterGoneNoticed = false;
  private lastPg: PgStatus | null = null;
  private lastCluster: ClusterSnapshot | null = null;
  private lastClusterAt = -Infinity;
  private dcsLastSeenEpoch = 0;
  private lastMemberJson: string | null = null;
  private lastReason = '';
  private lastReasonLoggedAt = -Infinity;
  private lastCycleAt: number;
  /**
   * Set when an action of a leader in failsafe mode found etcd unreachable (DCS_UNAVAILABLE): the
   * next observation takes that as its etcd answer instead of waiting up to another
   * retry_timeout to learn the same, so a renewal that timed out is followed by the failsafe round
   * at once, before the fencer's deadline (Patroni runs it in the same cycle). Without failsafe
   * mode the next cycle reads etcd again: an etcd that is back by then spares the demotion.
   */
  private dcsJustFailed: string | null = null;
  private failsafeHeard: { leader: FailsafeLeader; at: number };
  private currentView: NodeView;
  /** Operator restarts and reinitializations (REST API), started at the top of a cycle. */
  readonly commands: OperatorCommands;

  constructor(private readonly deps: LoopDeps) {
    const settings = deps.settingsFor(null);
    this.failsafeHeard = { leader: { name: LEADER_BEFORE_START, conn_url: '', api_url: '' }, at: deps.clock.now() };
    this.ctx = {
      name: deps.self().name,
      dcs: deps.dcs,
      pg: deps.pg,
      peers: deps.peers,
      clock: deps.clock,
      log: deps.log,
      tasks: new TaskRunner(deps.clock.now, (f) => {
        // A success is acted on at once; a failure waits for the next regular cycle (no hot retry).
        if (f.ok) {
          deps.log.info(`${f.kind} finished`);
          this.wake();
        } else {
          deps.log.error(`${f.kind} failed: ${f.error ?? 'unknown error'}`);
        }
      }),
      fence: new LeaseFence(deps.clock, FENCE_MARGIN_MS, async (reason) => {
        if (this.ctx.settings.paused) {
          deps.log.warn(`${reason}; paused, so PostgreSQL is left running`);
          return;
        }
        deps.log.warn(`fencing: ${reason}; stopping PostgreSQL immediately`);
        await deps.pg.stop('immediate', 5_000).catch((e: unknown) => deps.log.error(`fencing stop failed: ${errorText(e)}`));
        this.wake();
      }, {
        // Paused: nothing fails over, so a frozen agent cannot lead to two primaries; no fence.
        arm: (until) => (this.ctx.settings.paused ? deps.guard?.disarm() : deps.guard?.arm(until)),
        disarm: () => deps.guard?.disarm(),
      }),
      settings,
      leaderUntil: null,
      bootstrapDcs: deps.bootstrapDcs,
      lastConfig: null,
      peerAnswers: null,
      cascading: deps.self().replicatefrom !== null,
      syncedSlots: null,
      fatal: (m) => deps.onFatal(m),
      mayLead: () => deps.guard?.mayLead() ?? null,
      failsafeIdentity: { name: deps.self().name, conn_url: deps.identity.connUrl, api_url: deps.identity.apiUrl },
      failsafeAnswers: null,
      failsafeActive: false,
    };
    this.commands = new OperatorCommands({
      ctx: this.ctx,
      lastPg: () => this.lastPg,
      lastCluster: () => this.lastCluster,
      wake: () => this.wake(),
    });
    this.lastCycleAt = deps.clock.now();
    this.currentView = this.buildView('starting');
  }

  /** The latest published view (read by the REST API). */
  view(): NodeView {
    return this.currentView;
  }

  /** Cuts the current wait short (task finished, operator request, SIGHUP). */
  wake(): void {
    this.wakeup.abort();
  }

  start(): void {
    this.running ??= this.run();
    this.deps.pg.onConnectionLost(() => this.checkPostmaster());
  }

  /**
   * A postmaster that died (crash, OOM kill, kill -9) is noticed the moment the probe's kept
   * connection drops (its backend exits with the postmaster), instead of at the next regular
   * cycle up to loop_wait later: the loop is woken to re-probe and restart it (or whatever
   * decide() says). Planned stops and restarts wake it too, harmlessly, without the warning.
   */
  private checkPostmaster(): void {
    if (this.lastPg?.running !== true || this.postmasterGoneNoticed || this.stopping) return;
    this.postmasterGoneNoticed = true;
    if (this.ctx.tasks.running === null && !this.deps.pg.postmasterAlive()) this.deps.log.warn('the postmaster process is gone; looking at PostgreSQL now');
    this.wake();
  }

  /** Stops cycling after the current cycle and cancels the background task. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake();
    await this.running;
    await this.ctx.tasks.cancel(10_000);
    await this.deps.pg.closeConnections();
  }

  /** After shutdown stopped PostgreSQL: nothing left to fence. */
  disarmFence(): void {
    this.ctx.fence.disarm();
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      const started = this.deps.clock.now();
      let again = false;
      try {
        again = await this.cycle();
      } catch (e) {
        this.deps.log.error(`BUG: unexpected error in the HA cycle: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
      }
      if (this.stopping) break;
      const s = this.ctx.settings;
      const soon = Math.min(s.loopWaitMs, 500);
      const regular = Math.max(0, started + (again ? soon : s.loopWaitMs) - this.deps.clock.now());
      const wait = Math.min(regular, this.msUntilScheduled() ?? Infinity);
      if (this.wakeup.signal.aborted) this.wakeup = new AbortController();
      if (wait > 0) await this.deps.dcs.waitForChange(wait, this.wakeup.signal);
      if (this.wakeup.signal.aborted) this.wakeup = new AbortController();
    }
  }

  /** Time until a scheduled switchover (on the leader) or a scheduled restart is due, if any. */
  private msUntilScheduled(): number | null {
    const wallNow = this.deps.clock.wallNow();
    const restart = this.commands.msUntilScheduled(wallNow);
    const f = this.lastCluster?.leader?.name === this.ctx.name ? this.lastCluster.failover : null;
    const at = f?.scheduled_at === undefined ? NaN : Date.parse(f.scheduled_at);
    const switchover = Number.isNaN(at) ? null : Math.max(0, at - wallNow);
    const all = [restart, switchover].filter((x): x is number => x !== null);
    return all.length === 0 ? null : Math.min(...all);
  }

  /** One observe → decide → execute → publish round. Resolves true when the next should come soon. */
  private async cycle(): Promise<boolean> {
    const { clock, log } = this.deps;
    const ctx = this.ctx;
    const cycleStarted = clock.now();
    await this.commands.startDue(clock.wallNow());
    // Task state is read before etcd and PostgreSQL, so a task finishing mid-observation is seen
    // as still running this cycle rather than as done with a cluster view from before its end.
    const task = ctx.tasks.running;
    const finished = task ? null : ctx.tasks.takeFinished();
    const dcsObs = await this.readDcs();
    if (dcsObs.ok && dcsObs.cluster.leader?.name !== ctx.name) {
      ctx.leaderUntil = null;
      ctx.fence.disarm();
    }
    if (ctx.leaderUntil !== null && clock.now() >= ctx.leaderUntil) ctx.leaderUntil = null;

    const pg = await this.probe();
    this.lastPg = pg;
    this.postmasterGoneNoticed = false;
    // Health endpoints follow the newest observation at once: a promotion that just finished
    // answers 200 on /primary now, not after this cycle's renewals and member write.
    this.currentView = this.buildView(this.currentView.reason);
    const self = this.deps.self();
    ctx.cascading = self.replicatefrom !== null;
    const observation: Observation = {
      now: clock.now(),
      wallNow: clock.wallNow(),
      self,
      settings: ctx.settings,
      dcs: dcsObs,
      pg,
      leaderUntil: ctx.leaderUntil,
      task,
      finished,
      peers: null,
      failsafe: null,
      failsafeLeader: { name: this.failsafeHeard.leader.name, ageMs: clock.now() - this.failsafeHeard.at },
    };
    let decision = decide(observation, this.memory);
    const first = decision.actions[0];
    if (first?.type === 'probePeers' || first?.type === 'failsafePing') {
      await execute(first, ctx);
      decision = decide(
        { ...observation, peers: ctx.peerAnswers, failsafe: ctx.failsafeAnswers, leaderUntil: ctx.leaderUntil, now: clock.now(), wallNow: clock.wallNow() },
        this.memory,
      );
      ctx.peerAnswers = null;
      ctx.failsafeAnswers = null;
    }
    this.memory = decision.memory;
    this.logReason(decision.reason);

    let again = false;
    let failed = false;
    for (const action of decision.actions) {
      if (action.type === 'probePeers' || action.type === 'failsafePing') continue;
      try {
        failed = !(await execute(action, ctx));
      } catch (e) {
        log.error(`${action.type} failed: ${errorText(e)}`);
        if (isPgwardenError(e, 'DCS_UNAVAILABLE') && ctx.settings.failsafeMode && ctx.leaderUntil !== null) this.dcsJustFailed = errorText(e);
        failed = true;
      }
      if (['stop', 'acquireLeader', 'releaseLeader', 'cancelTask'].includes(action.type)) again = true;
      if (failed) break;
    }
    // After a failed action (etcd may be hanging) go straight to the next observation: another
    // slow etcd call for the member key must not delay a demotion.
    if (dcsObs.ok && !failed) await this.publishMember(dcsObs.cluster);
    again ||= failed;
    this.lastCycleAt = clock.now();
    this.currentView = this.buildView(decision.reason);
    this.report({
      view: this.currentView,
      cluster: dcsObs.ok ? dcsObs.cluster : null,
      dcsError: dcsObs.ok ? null : dcsObs.error,
      durationMs: this.lastCycleAt - cycleStarted,
    });
    return again || !dcsObs.ok;
  }

  /** This cycle's etcd observation; also refreshes the settings from the `config` key. */
  private async readDcs(): Promise<Observation['dcs']> {
    const { dcs, clock } = this.deps;
    const ctx = this.ctx;
    if (this.dcsJustFailed !== null) {
      const error = this.dcsJustFailed;
      this.dcsJustFailed = null;
      return { ok: false, error };
    }
    try {
      await dcs.ensureLease(ctx.settings.ttlMs / 1000);
      const cluster = await dcs.getCluster();
      this.lastCluster = cluster;
      this.lastClusterAt = clock.now();
      this.dcsLastSeenEpoch = Math.floor(clock.wallNow() / 1000);
      if (cluster.config) ctx.lastConfig = cluster.config;
      ctx.settings = this.deps.settingsFor(cluster.config);
      ctx.failsafeActive = false;
      return { ok: true, cluster };
    } catch (e) {
      return { ok: false, error: errorText(e) };
    }
  }

  /** Hands the cycle to `onCycle`; its failure is logged, never propagated into the loop. */
  private report(r: CycleReport): void {
    try {
      this.deps.onCycle?.(r);
    } catch (e) {
      this.deps.log.error(`outside views of this cycle failed: ${errorText(e)}`);
    }
  }

  /** One bounded probe; an unexpected failure reads as "postmaster there, not answering". */
  private async probe(): Promise<PgStatus> {
    try {
      return await this.deps.pg.probe();
    } catch (e) {
      this.deps.log.warn(`could not probe PostgreSQL: ${errorText(e)}`);
      return { running: false, postmasterAlive: true, dataDirInitialized: true, systemIdentifier: null, controlState: null, timeline: null };
    }
  }

  /** Keeps the member key alive and rewrites it when its content changed (Patroni skips no-op puts too). */
  private async publishMember(cluster: ClusterSnapshot): Promise<void> {
    const { dcs, log } = this.deps;
    const ctx = this.ctx;
    try {
      let force = false;
      if (ctx.leaderUntil === null && !(await dcs.keepAlive())) {
        await dcs.ensureLease(ctx.settings.ttlMs / 1000);
        force = true;
      }
      const data = memberData(this.deps.identity, this.lastPg, ctx.tasks.running, this.deps.tags(), ctx.settings.paused, this.scheduledRestartData());
      const json = JSON.stringify(data);
      const listed = cluster.members.some((m) => m.name === ctx.name);
      if (force || !listed || json !== this.lastMemberJson) {
        await dcs.touchMember(ctx.name, data);
        this.lastMemberJson = json;
      }
    } catch (e) {
      log.warn(`could not publish member data: ${errorText(e)}`);
      this.lastMemberJson = null;
    }
  }

  /** `scheduled_restart` as Patroni publishes it: the request, its time and the server's start time. */
  private scheduledRestartData(): Record<string, unknown> | null {
    const r = this.commands.scheduledRestart;
    if (r === null) return null;
    return { ...r.request, schedule: r.schedule, ...(r.postmasterStartTime ? { postmaster_start_time: r.postmasterStartTime } : {}) };
  }

  private logReason(reason: string): void {
    const now = this.deps.clock.now();
    if (reason !== this.lastReason || now - this.lastReasonLoggedAt >= REASON_REPEAT_MS) {
      this.deps.log.info(reason);
      this.lastReason = reason;
      this.lastReasonLoggedAt = now;
    }
  }

  /** Marks PostgreSQL as stopped in the published view (used during shutdown). */
  publishStopped(reason: string): void {
    this.lastPg = { running: false, postmasterAlive: false, dataDirInitialized: true, systemIdentifier: null, controlState: null, timeline: null };
    this.ctx.leaderUntil = null;
    this.currentView = this.buildView(reason);
  }

  /** See `NodeView.failsafeLeader`. */
  private failsafeLeader(): FailsafeLeader | null {
    if (this.ctx.failsafeActive) return this.ctx.failsafeIdentity;
    const heard = this.failsafeHeard;
    const recent = heard.leader.name !== LEADER_BEFORE_START && this.deps.clock.now() - heard.at < this.ctx.settings.ttlMs;
    return recent && this.ctx.settings.failsafeMode ? heard.leader : null;
  }

  private buildView(reason: string): NodeView {
    const s = this.ctx.settings;
    const fresh = this.deps.clock.now() - this.lastClusterAt <= s.ttlMs;
    return {
      name: this.ctx.name,
      scope: this.deps.scope,
      version: this.deps.identity.version,
      state: pgState(this.lastPg, this.ctx.tasks.running),
      role: pgRole(this.lastPg),
      pg: this.lastPg,
      cluster: fresh ? this.lastCluster : null,
      dcsLastSeenEpoch: this.dcsLastSeenEpoch,
      leaderUntil: this.ctx.leaderUntil,
      lastCycleAt: this.lastCycleAt,
      reason,
      tags: this.deps.tags(),
      paused: s.paused,
      failsafeMode: s.failsafeMode,
      failsafeActive: this.ctx.failsafeActive,
      failsafeLeader: this.failsafeLeader(),
      ttlSeconds: s.ttlMs / 1000,
      loopWaitSeconds: s.loopWaitMs / 1000,
      clusterOptime: this.lastCluster?.optime ?? null,
      pendingRestart: this.lastPg?.running === true && this.lastPg.pendingRestart,
      scheduledRestart: this.scheduledRestartData(),
      action: this.ctx.tasks.running?.kind ?? null,
      watchdog: this.deps.guard?.state() ?? null,
    };
  }

  /**
   * `POST /failsafe` from `leader` (etcd is unreachable for it): remembered for ttl, so this node
   * does not race against a leader that is alive.
   */
  heardFromFailsafeLeader(leader: FailsafeLeader): void {
    this.failsafeHeard = { leader, at: this.deps.clock.now() };
  }

  /** For shutdown: is this node the leader with a running primary right now? */
  holdsLeaderKey(): boolean {
    return this.lastCluster?.leader?.name === this.ctx.name;
  }

  paused(): boolean {
    return this.ctx.settings.paused;
  }
}
