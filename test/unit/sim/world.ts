import type { PeerStatus } from '../../../src/domain/peer.js';
import { decide as realDecide } from '../../../src/ha/decide.js';
import type { Settings } from '../../../src/ha/types.js';
import { Agent, type AgentEnv } from './agent.js';
import { REQUEST_WINDOW_MS, SyncChecker } from './commits.js';
import { DcsStore, type DcsNet } from './fake-dcs.js';
import { FakePg, Timelines } from './fake-pg.js';
import { describeFault, planFaults, type FailMode, type Fault, type FaultKind } from './faults.js';
import { Checker, type Violation } from './invariants.js';
import { applyRequest, planRequests, requestSettledBy } from './operator.js';
import { PROFILES, type SimMode } from './profiles.js';
import { Rng } from './prng.js';
import { Scheduler } from './scheduler.js';
import type { Sender } from './sync-rep.js';

/** Timing of the simulated cluster (Patroni's defaults: ttl 10 s, loop_wait 2 s, retry_timeout 3 s). */
export const SIM_SETTINGS: Settings = {
  ttlMs: 10_000,
  loopWaitMs: 2_000,
  retryTimeoutMs: 3_000,
  maximumLagOnFailover: 1_048_576,
  primaryStartTimeoutMs: 300_000,
  paused: false,
  synchronousMode: false,
  maximumLagOnSyncnode: -1,
  knownGoneNodes: [],
  synchronousModeStrict: false,
  synchronousNodeCount: 1,
  failsafeMode: false,
  useSlots: true,
  usePgRewind: true,
};

export interface SimOptions {
  seed: number;
  /** Which kind of schedule (default `async`, the original one); see `profiles.ts`. */
  mode?: SimMode;
  /** The decision function under test (a deliberately broken wrapper in the self-tests). */
  decide?: typeof realDecide;
  /** Faults start after this warm-up (bootstrap and first clones), ms. */
  faultsFrom?: number;
  /** No fault starts after this, ms. */
  faultsUntil?: number;
  /** Fault kinds to inject (default: all). */
  kinds?: readonly FaultKind[];
  /** How many trace lines to keep for the report. */
  traceSize?: number;
  /** Run the loop's lease fence (default true; the self-tests switch it off to show it matters). */
  fence?: boolean;
  /** Make the operator requests of the mode's profile (default true). */
  requests?: boolean;
}

export interface SimResult {
  seed: number;
  mode: SimMode;
  /** First violation of each invariant, in the order found. */
  violations: Violation[];
  /** Sim time at the end of the run, ms. */
  end: number;
  /** The last `traceSize` events of the run, oldest first. */
  trace: string[];
  stats: SimStats;
}

export interface SimStats {
  faults: number;
  leaderChanges: number;
  races: number;
  maxRaceLag: number;
  maxOverrunMs: number;
  fenceStops: number;
  writeRate: number;
  /** Operator requests the API accepted, and leader keys taken by a requested candidate. */
  requests: number;
  requestedTakeovers: number;
  /** Synchronous mode: ticks in which commits were acknowledged; explicit failovers that lost some. */
  ackAdvances: number;
  forgivenLosses: number;
  /** Failsafe rounds run by leaders without etcd, and those every member confirmed. */
  failsafeRounds: number;
  failsafeConfirmed: number;
  /** Longest time without a writable primary once the first one ran, ms (in whole ticks). */
  longestWithoutPrimaryMs: number;
}

const TICK_MS = 100;
/** etcd call deadline: the daemon builds its Etcd3Dcs with callTimeoutMs = retry_timeout. */
const CALL_TIMEOUT_MS = SIM_SETTINGS.retryTimeoutMs;
/** Timeout of a peer probe (`probePeers` executor: min(2 s, retry_timeout)). */
const PEER_TIMEOUT_MS = Math.min(2_000, SIM_SETTINGS.retryTimeoutMs);
/** Fence slack: the floor of the executors' stop budget. */
export const STOP_SLACK_MS = 500;
/** Time for an agent that finds itself primary without a lease to cycle once more and stop it. */
const ALLOWANCE_MS = SIM_SETTINGS.loopWaitMs + 4 * CALL_TIMEOUT_MS + 3_000;
/** Invariant 3 bound after the last fault: 3 × ttl + 4 × loop_wait. */
export const CONVERGE_MS = 3 * SIM_SETTINGS.ttlMs + 4 * SIM_SETTINGS.loopWaitMs;
/** How long the quiet cluster keeps being checked after the bound. */
const TAIL_MS = 20_000;
const NAMES = ['n1', 'n2', 'n3'];

/**
 * Runs one seeded simulation of a three-node cluster from empty data directories: bootstrap,
 * clones, then seeded faults and (depending on the mode, see `profiles.ts`) operator requests from
 * 20 s to 140 s, then quiet until 3 × ttl + 4 × loop_wait + 20 s after the last fault or request
 * is over. Invariants are checked after every event and the first violation of each is kept with
 * the trace of that moment. Deterministic: same options, same result.
 *
 * What is modelled faithfully: the real `decide`; the loop's cycle structure and timing (task
 * state read first, etcd calls that retry until the call deadline = retry_timeout, the second
 * `decide` after peer probes, publishing the member key except after a failed action, `again`
 * cycles after 500 ms, watch wake-ups on leader-key changes, wake-ups when a background task
 * succeeds but not when it fails); the executors' lease arithmetic and stop budget; the lease
 * fence (armed after every confirmed renewal or acquire, fires at the larger of the loop fence's
 * and the companion fencer's margin before the lease deadline or at once when etcd refuses a
 * renewal, stops PostgreSQL immediately and wakes the loop; disarmed on release and when a
 * cluster read shows another or no leader; frozen and killed with its agent, except that when a
 * kill takes the agent alone its companion fencer lives on and fast-stops the server at the last
 * deadline it was given); an agent killed alone restarting beside its running server, with a new
 * adapter that adopts the `synchronous_standby_names` override left in `pgwarden.conf`;
 * peers answering from their last published view; PostgreSQL servers that start, stop and promote
 * on their own schedule, whose probe reports an upstream only while the WAL receiver really
 * streams (source running and reachable, history compatible), as `pg_stat_wal_receiver` does.
 * Synchronous mode: `synchronous_standby_names` with PostgreSQL's FIRST-n rules, WAL senders that
 * reach `streaming` once caught up, commits acknowledged only as the rules allow (and clients that
 * stop writing while theirs wait), the adapter's override lost with its process. Failsafe mode:
 * `POST /failsafe` rounds to the members, accepted unless the member runs a primary, remembered
 * by the member's process for `failsafeLeader`. Switchover: the `demote` task with its checkpoint,
 * clean stop and polling of the candidates' received WAL, and the `failover`/`sync`/`failsafe` keys.
 *
 * Simplifications: one etcd member; `updateLeader` is one round trip; PostgreSQL probes, slots,
 * `follow` reloads and checkpoints always succeed; of the REST API only `/patroni` and `/failsafe`
 * (operator requests are written into the `failover` key as the API would, see `operator.ts`); no
 * pause, tags, `nosync`, cascading or config changes; WAL is a byte count with one tick (100 ms) of streaming lag and no slots or
 * archive; `pg_rewind`/`pg_basebackup` copy the source's current position and only fail when the
 * source is down, cut off, or (for the divergence check) still in recovery. The divergence check
 * is exact (the fake knows the timeline tree), so it also sees two forks that got the same
 * timeline number, which real pg_rewind reports as "same timeline, no rewind required".
 */
export function runSim(opts: SimOptions): SimResult {
  const profile = PROFILES[opts.mode ?? 'async'];
  const settings: Settings = { ...SIM_SETTINGS, ...profile.settings };
  const root = new Rng(opts.seed);
  const faultRng = root.fork();
  const netRng = root.fork();
  const agentRng = root.fork();
  const walRng = root.fork();
  // Drawn after the original four, so the `async` schedules stay what they were.
  const opRng = root.fork();
  const restartRng = root.fork();
  const sched = new Scheduler();
  const traceSize = opts.traceSize ?? 30;
  const trace: string[] = [];
  const log = (node: string, text: string): void => {
    trace.push(`${(sched.now / 1000).toFixed(3).padStart(8)} ${node.padEnd(4)} ${text}`);
    if (trace.length > traceSize) trace.shift();
  };

  let dcsDown = 0;
  let dcsMode: FailMode = 'timeout';
  const cut = new Map<string, { count: number; mode: FailMode }>();
  const isolated = new Map<string, number>();
  const isIsolated = (node: string): boolean => (isolated.get(node) ?? 0) > 0;
  const cutOff = (a: string, b: string): boolean => isIsolated(a) || isIsolated(b);
  const net: DcsNet = {
    latency: () => netRng.int(1, 15),
    reachable: (node) => dcsDown === 0 && (cut.get(node)?.count ?? 0) === 0 && !isIsolated(node),
    failMode: (node) => (dcsDown > 0 ? dcsMode : isIsolated(node) ? 'timeout' : (cut.get(node)?.mode ?? 'timeout')),
    callTimeoutMs: CALL_TIMEOUT_MS,
  };

  const agents: Agent[] = [];
  const agentOf = (name: string): Agent => agents.find((a) => a.name === name)!;
  let leaderChanges = 0;
  let fenceStops = 0;
  let requestedTakeovers = 0;
  const failsafe = { rounds: 0, confirmed: 0 };
  let lastHolder: string | null = null;
  const store = new DcsStore(
    () => sched.now,
    () => {
      const holder = store.leader?.value ?? null;
      if (holder !== lastHolder) {
        log('etcd', `leader key ${holder ? `created by ${holder}` : `gone (was ${lastHolder})`}`);
        if (holder) leaderChanges++;
        lastHolder = holder;
        syncChecker?.onNewHolder(holder ? agentOf(holder) : null);
      }
      for (const a of agents) if (a.alive && net.reachable(a.name)) a.wake(net.latency());
    },
  );
  const checker = new Checker(STOP_SLACK_MS, ALLOWANCE_MS, () => sched.now, () => [...trace]);
  const view = () => ({ now: sched.now, agents, store, maximumLagOnFailover: settings.maximumLagOnFailover });
  const timelines = new Timelines();
  const syncChecker = settings.synchronousMode ? new SyncChecker(timelines, (i, m) => checker.fail(i, m)) : null;
  const pgs = NAMES.map((n, i) => new FakePg(n, sched, timelines, 5432 + i));
  const pgOf = (name: string): FakePg => pgs.find((p) => p.name === name)!;
  const standbysOf = (src: FakePg): FakePg[] =>
    pgs.filter((p) => p.running && p.inRecovery && p.upstream === src.name && !cutOff(p.name, src.name) && !p.divergedFrom(src));
  const sendersOf = (src: FakePg): Sender[] => standbysOf(src).map((p) => ({ name: p.name, lsn: p.lsn, caughtUp: p.caughtUp }));
  for (const pg of pgs) {
    pg.senders = sendersOf;
    pg.onCleanStop = (src) => {
      for (const p of standbysOf(src)) {
        p.tl = src.tl;
        p.lsn = Math.max(p.lsn, src.lsn);
      }
    };
  }

  const env: AgentEnv = {
    sched,
    rng: agentRng,
    settings,
    store,
    net,
    decide: opts.decide ?? realDecide,
    pgOf,
    peerAnswer: (from, name) => peerAnswer(agentOf(name), cutOff(from, name), netRng),
    failsafeLeg: (from, name) => {
      const to = agentOf(name);
      if (cutOff(from, name) || to.frozen) return null;
      if (!to.alive) return { arriveMs: netRng.int(1, 3), backMs: 0, deliver: () => false };
      return { arriveMs: netRng.int(1, 7), backMs: netRng.int(1, 7), deliver: () => !cutOff(from, name) && agentOf(name).acceptFailsafe(from) };
    },
    onFailsafeRound: (confirmed) => {
      failsafe.rounds++;
      if (confirmed) failsafe.confirmed++;
    },
    receivedLsnOf: (from, name) => {
      const p = pgOf(name);
      if (!p.running || cutOff(from, name)) return `cannot connect to ${name}`;
      return p.inRecovery ? p.lsn : null;
    },
    trace: log,
    onRace: (node) => {
      if (store.requestNaming(node, REQUEST_WINDOW_MS) !== null) requestedTakeovers++;
      checker.onRace(view(), node);
      syncChecker?.onRace(node, store);
    },
    onFatal: (node, message) => checker.fail('fatal', `${node}: ${message}`),
    cutOff,
    fence: opts.fence ?? true,
    onFenceStop: (node, demotedSinceArm) => {
      fenceStops++;
      const pg = pgOf(node);
      if (demotedSinceArm && pg.running && pg.inRecovery) checker.fail('fenceReplica', `the fence stopped ${node}, which the loop had made read-only since the fence was armed`);
    },
  };
  NAMES.forEach((n, i) => agents.push(new Agent(n, pgs[i]!, i, env)));
  agents.forEach((a) => a.start());

  const writeRate = walRng.int(30_000, 300_000);
  let primarySeen = false;
  const withoutPrimary: { at: number | null; longest: number } = { at: null, longest: 0 };
  const tick = (): void => {
    store.purge();
    for (const p of pgs) p.lsnAtTickStart = p.lsn;
    if (pgs.some((p) => p.isPrimary)) primarySeen = true;
    else if (primarySeen) withoutPrimary.at ??= sched.now;
    if (withoutPrimary.at !== null && pgs.some((p) => p.isPrimary)) {
      withoutPrimary.longest = Math.max(withoutPrimary.longest, sched.now - withoutPrimary.at);
      withoutPrimary.at = null;
    }
    for (const p of pgs) {
      if (!p.isPrimary) continue;
      const bytes = Math.round((writeRate * TICK_MS * (0.5 + walRng.next())) / 1000);
      if (syncChecker?.clientsMayWrite(p) ?? true) p.lsn += bytes;
    }
    for (const p of pgs) p.streaming = false;
    for (const src of pgs) {
      if (!src.running) continue;
      for (const p of standbysOf(src)) {
        p.streaming = true;
        stream(p, src);
      }
    }
    // A WAL sender reaches `streaming` once its standby has everything the source had.
    for (const p of pgs) p.caughtUp = p.streaming && (p.caughtUp || p.lsn >= pgOf(p.upstream!).lsnAtTickStart);
    syncChecker?.onTick(pgs, sendersOf);
    sched.after(TICK_MS, tick);
  };
  sched.after(TICK_MS, tick);

  const faultsFrom = opts.faultsFrom ?? 20_000;
  const faultsUntil = opts.faultsUntil ?? 140_000;
  const plan = planFaults(faultRng, faultsFrom, faultsUntil, opts.kinds, profile.mix);
  const requests = profile.requestGap === null || opts.requests === false ? [] : planRequests(opRng, faultsFrom, faultsUntil, profile.requestGap);
  let accepted = 0;
  for (const r of requests) {
    sched.at(r.at, () => {
      const text = applyRequest(r, opRng, store, sched.now, dcsDown === 0);
      if (!text.includes('refused')) accepted++;
      log('op', text);
    });
  }
  const quietFrom = Math.max(plan.quietFrom, ...requests.map(requestSettledBy));
  const pickTarget = (ok: (a: Agent) => boolean): Agent | null => {
    const candidates = agents.filter(ok);
    if (candidates.length === 0) return null;
    const leader = candidates.find((a) => a.name === store.leaderName());
    return leader && faultRng.chance(0.5) ? leader : faultRng.pick(candidates);
  };
  const apply = (f: Fault): void => {
    if (f.kind === 'dcsDown') {
      dcsDown++;
      dcsMode = f.mode;
      log('sim', describeFault(f, null));
      sched.after(f.forMs, () => {
        dcsDown--;
        log('sim', 'etcd is back');
      });
      return;
    }
    if (f.kind === 'partition' || f.kind === 'isolate') {
      const t = pickTarget(() => true)!;
      log(t.name, describeFault(f, t.name));
      if (f.kind === 'isolate') isolated.set(t.name, (isolated.get(t.name) ?? 0) + 1);
      else cut.set(t.name, { count: (cut.get(t.name)?.count ?? 0) + 1, mode: f.mode });
      sched.after(f.forMs, () => {
        if (f.kind === 'isolate') isolated.set(t.name, isolated.get(t.name)! - 1);
        else cut.get(t.name)!.count--;
        log(t.name, `${f.kind === 'isolate' ? 'isolation' : 'partition'} healed`);
      });
      return;
    }
    if (f.kind === 'crashPg') {
      const t = pickTarget((a) => a.pg.running || a.pg.starting);
      if (!t) return;
      log(t.name, describeFault(f, t.name));
      t.pg.halt('crash');
      return;
    }
    const t = pickTarget((a) => a.alive && !a.frozen);
    if (!t) return;
    log(t.name, describeFault(f, t.name));
    if (f.kind === 'freeze') {
      t.freeze();
      checker.onFreeze(t.name);
      sched.after(f.forMs, () => {
        if (!t.alive) return;
        t.thaw();
        checker.onThaw(t.name, sched.now);
        log(t.name, 'agent resumed (SIGCONT)');
      });
      return;
    }
    // One kill in three takes the agent alone, which comes back soon (a supervisor restarting a
    // crashed or upgraded agent) while its PostgreSQL keeps running, primary or replica.
    const agentOnly = restartRng.chance(1 / 3);
    const orphanFenceAt = t.fence.firesAt;
    t.kill();
    if (agentOnly) {
      log(t.name, 'only the agent was killed: PostgreSQL keeps running');
      // Its companion fencer lives on and fast-stops the server at the deadline it was last given.
      if (orphanFenceAt !== null) {
        sched.at(Math.max(sched.now, orphanFenceAt), () => {
          if (!t.pg.running && !t.pg.starting) return;
          log(t.name, "the killed agent's companion fencer: fast shutdown of PostgreSQL");
          t.pg.requestStop('fast', restartRng.int(100, 2_500));
        });
      }
    } else {
      t.pg.halt('crash');
    }
    checker.onKill(t.name);
    sched.after(agentOnly ? Math.min(f.forMs, restartRng.int(200, 3_000)) : f.forMs, () => {
      const fresh = new Agent(t.name, t.pg, t.index, env);
      agents[t.index] = fresh;
      log(t.name, 'agent restarted');
      fresh.start();
    });
  };
  for (const f of plan.faults) sched.at(f.at, () => apply(f));

  checker.convergeBy = quietFrom + CONVERGE_MS;
  sched.runUntil(checker.convergeBy + TAIL_MS, () => {
    checker.check(view());
    syncChecker?.afterEvent(agents);
    return false;
  });
  const holder = store.leaderName();
  syncChecker?.atEnd(holder === null ? null : agentOf(holder));
  return {
    seed: opts.seed,
    mode: opts.mode ?? 'async',
    violations: [...checker.violations.values()],
    end: sched.now,
    trace,
    stats: {
      faults: plan.faults.length,
      leaderChanges,
      races: checker.races,
      maxRaceLag: checker.maxRaceLag,
      maxOverrunMs: checker.maxOverrunMs,
      fenceStops,
      writeRate,
      requests: accepted,
      requestedTakeovers,
      ackAdvances: syncChecker?.ackAdvances ?? 0,
      forgivenLosses: syncChecker?.forgiven ?? 0,
      failsafeRounds: failsafe.rounds,
      failsafeConfirmed: failsafe.confirmed,
      longestWithoutPrimaryMs: Math.max(withoutPrimary.longest, withoutPrimary.at === null ? 0 : sched.now - withoutPrimary.at),
    },
  };
}

/** What a peer's `/patroni` says: its last published view, if its agent answers at all. */
function peerAnswer(a: Agent, cut: boolean, rng: Rng): { delay: number; status: PeerStatus } {
  const down: PeerStatus = { name: a.name, reachable: false, isPrimary: false, lsn: null, timeline: null, nofailover: false, watchdogFailed: false };
  if (cut || a.frozen) return { delay: PEER_TIMEOUT_MS, status: down };
  if (!a.alive) return { delay: rng.int(1, 5), status: down };
  const pg = a.viewPg;
  if (!pg?.running) return { delay: rng.int(2, 15), status: down };
  return { delay: rng.int(2, 15), status: { ...down, reachable: true, isPrimary: !pg.inRecovery, lsn: pg.lsn, timeline: pg.timeline } };
}

/**
 * One tick of streaming: the standby copies from its source as it was at the start of the tick
 * (one tick of lag), at most 4 MB/s, moving onto the source's timeline when its history allows.
 */
function stream(p: FakePg, src: FakePg): void {
  p.tl = src.tl;
  const target = src.lsnAtTickStart;
  if (target > p.lsn) p.lsn = Math.min(target, p.lsn + (4_000_000 * TICK_MS) / 1000);
}
