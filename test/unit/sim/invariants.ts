import type { Agent } from './agent.js';
import { REQUEST_WINDOW_MS } from './commits.js';
import type { DcsStore } from './fake-dcs.js';

/** What the checker needs to see of the world at one instant. */
export interface WorldView {
  now: number;
  agents: readonly Agent[];
  store: DcsStore;
  maximumLagOnFailover: number;
}

/**
 * The properties checked after every simulated event, one name per class so a run reports the
 * first violation of each class separately.
 *
 * Invariant 1 (no split brain), split into what the lease rule can promise:
 *  - `belief`: at most one running primary believes it is leader (`leaderUntil > now`), and that
 *    node really holds the leader key in etcd (its deadline never outlives the real lease). In
 *    failsafe mode a primary may outlive its key on a deadline that a failsafe round every member
 *    confirmed set, but only while nobody else holds the key.
 *  - `fencing`: a live, unfrozen agent whose PostgreSQL runs as primary is within its fence
 *    deadline + `stopSlackMs`. The deadline is the latest `leaderUntil` it held (send time of the
 *    last confirmed renewal + ttl ≤ the lease's real expiry in etcd). A primary that came up
 *    without a valid lease (late promotion, restart in place, an agent woken from SIGSTOP) gets
 *    `allowanceMs` from that moment: the time for one more cycle to notice and stop it.
 *  - `dual`: two running primaries at once only while one belongs to a frozen agent or to one
 *    just woken from SIGSTOP (within its allowance) — the gap a watchdog would close.
 * Invariant 2 (`lag`): when etcd creates the leader key for a racing replica, its WAL position is
 * at most maximum_lag_on_failover behind `status.optime` — unless an operator request names it
 * (a requested candidate skips the lag check by design, as in Patroni).
 * Synchronous mode (`syncPromotion`, `syncLoss`): see `commits.ts`.
 * Invariant 3, from `convergeBy` on:
 *  - `convergence`: exactly one leader whose PostgreSQL is a running primary holding a valid
 *    lease; every other node a running replica configured to follow it;
 *  - `streaming`: and each of those replicas can really replay the leader's WAL (its history has
 *    not diverged from the leader's).
 * `fatal`: a node stopped with an error that needs a human.
 * `fenceReplica`: the lease fence stopped a read-only server that the loop had stopped or
 * started read-only after the last renewal armed the fence (stopping it only costs availability).
 */
export type Invariant = 'belief' | 'fencing' | 'dual' | 'lag' | 'convergence' | 'streaming' | 'fatal' | 'fenceReplica' | 'syncPromotion' | 'syncLoss';

export interface Violation {
  invariant: Invariant;
  at: number;
  message: string;
  /** The trace as it was when the violation was found (oldest first). */
  trace: string[];
}

export class Checker {
  /** First violation of each invariant. */
  readonly violations = new Map<Invariant, Violation>();
  /** Largest lag seen at a race (bytes), and the largest fence overrun (ms), for the summary. */
  maxRaceLag = 0;
  maxOverrunMs = 0;
  races = 0;
  convergeBy = Infinity;
  private fence = new Map<string, number>();
  private zombieUntil = new Map<string, number>();
  private wasPrimary = new Map<string, boolean>();

  constructor(
    private readonly stopSlackMs: number,
    private readonly allowanceMs: number,
    private readonly clock: () => number,
    private readonly traceNow: () => string[],
  ) {}

  onFreeze(node: string): void {
    this.zombieUntil.set(node, Infinity);
  }

  onThaw(node: string, now: number): void {
    this.zombieUntil.set(node, now + this.allowanceMs);
    this.fence.set(node, Math.max(this.fence.get(node) ?? -Infinity, now + this.allowanceMs));
  }

  /** The node's processes died with SIGKILL: whatever it was running is gone. */
  onKill(node: string): void {
    this.zombieUntil.delete(node);
  }

  onRace(w: WorldView, node: string): void {
    const agent = w.agents.find((a) => a.name === node)!;
    this.races++;
    const optime = w.store.optime;
    if (optime === null || w.store.requestNaming(node, REQUEST_WINDOW_MS) !== null) return;
    const lag = optime - agent.pg.lsn;
    this.maxRaceLag = Math.max(this.maxRaceLag, lag);
    if (lag > w.maximumLagOnFailover) {
      this.fail('lag', `${node} won the leader race ${lag} bytes behind status.optime ${optime} (limit ${w.maximumLagOnFailover})`);
    }
  }

  fail(invariant: Invariant, message: string): void {
    if (this.violations.has(invariant)) return;
    this.violations.set(invariant, { invariant, at: this.clock(), message, trace: this.traceNow() });
  }

  check(w: WorldView): void {
    const { now } = w;
    const primaries = w.agents.filter((a) => a.pg.isPrimary);
    for (const a of w.agents) {
      const believes = a.alive && a.leaderUntil !== null && a.leaderUntil > now;
      if (believes) this.fence.set(a.name, Math.max(this.fence.get(a.name) ?? -Infinity, a.leaderUntil!));
      const isPrimary = a.pg.isPrimary;
      if (isPrimary && !this.wasPrimary.get(a.name) && !believes) {
        this.fence.set(a.name, Math.max(this.fence.get(a.name) ?? -Infinity, now + this.allowanceMs));
      }
      this.wasPrimary.set(a.name, isPrimary);
      const fence = this.fence.get(a.name) ?? -Infinity;
      if (isPrimary && a.alive && !a.frozen && now > fence) {
        this.maxOverrunMs = Math.max(this.maxOverrunMs, now - fence);
        if (now > fence + this.stopSlackMs) {
          this.fail('fencing', `${a.name} still runs as primary ${now - fence} ms after its lease deadline (allowed: ${this.stopSlackMs} ms)`);
        }
      }
    }
    const believers = primaries.filter((a) => a.alive && a.leaderUntil !== null && a.leaderUntil > now);
    if (believers.length > 1) this.fail('belief', `${believers.map((a) => a.name).join(' and ')} both run as primary believing they lead`);
    const holder = w.store.leaderName();
    for (const a of believers) {
      const onFailsafe = holder === null && a.failsafeUntil !== null && a.failsafeUntil === a.leaderUntil;
      if (holder !== a.name && !onFailsafe) this.fail('belief', `${a.name} runs as primary believing it leads until ${a.leaderUntil}, but etcd's leader key is ${holder ?? 'absent'}`);
    }
    if (primaries.length > 1) {
      const fenced = primaries.filter((a) => (this.zombieUntil.get(a.name) ?? -Infinity) < now);
      if (fenced.length > 1) this.fail('dual', `${primaries.map((a) => a.name).join(' and ')} both run as writable primaries`);
    }
    if (now >= this.convergeBy) {
      const why = notConverged(w);
      if (why) this.fail(why.invariant, why.message);
    }
  }
}

/** Null when the cluster is in the healthy end state, else which part of invariant 3 fails and why. */
export function notConverged(w: WorldView): { invariant: 'convergence' | 'streaming'; message: string } | null {
  const bad = (message: string) => ({ invariant: 'convergence' as const, message });
  const down = w.agents.filter((a) => !a.alive || a.frozen);
  if (down.length > 0) return bad(`${down.map((a) => a.name).join(', ')} not running`);
  const holder = w.store.leaderName();
  if (holder === null) return bad('no leader key');
  const leader = w.agents.find((a) => a.name === holder)!;
  if (!leader.pg.isPrimary) return bad(`leader ${holder} does not run a primary`);
  if (!(leader.leaderUntil !== null && leader.leaderUntil > w.now)) return bad(`leader ${holder} has no valid lease deadline`);
  const others = w.agents.filter((a) => a !== leader);
  for (const a of others) {
    if (!a.pg.running) return bad(`${a.name}: PostgreSQL is not running`);
    if (!a.pg.inRecovery) return bad(`${a.name} also runs as primary`);
    if (a.pg.upstream !== holder) return bad(`${a.name} follows ${a.pg.upstream ?? 'nobody'}, not the leader ${holder}`);
  }
  const stuck = others.find((a) => a.pg.divergedFrom(leader.pg));
  if (stuck) {
    const at = (pg: Agent['pg']): string => `timeline ${pg.timelines.describe(pg.tl)} at ${pg.lsn}`;
    return { invariant: 'streaming', message: `${stuck.name} cannot stream from ${holder}: its WAL diverged from the leader's history (${stuck.name}: ${at(stuck.pg)}; ${holder}: ${at(leader.pg)})` };
  }
  return null;
}
