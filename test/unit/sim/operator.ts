import type { FailoverRequest } from '../../../src/domain/cluster.js';
import { SIM_WALL_EPOCH_MS } from './agent.js';
import type { DcsStore } from './fake-dcs.js';
import type { Rng } from './prng.js';

/**
 * Operator requests (`patronictl switchover` / `failover`, `POST /switchover` / `/failover`) in
 * the fault mix. The REST API validates a request and writes it into the `failover` key; the
 * simulation writes what the API would accept at that instant:
 * - a switchover names the current leader, a candidate or none, and now or `scheduled_at` a few
 *   seconds ahead;
 * - a failover names a candidate (the API refuses one without) and no leader; it is also
 *   accepted while the cluster has no leader, which makes it the operator's escape hatch that
 *   may promote a node without every acknowledged commit.
 * Not modelled: the API's probe of the candidates (`decide` must cope with an unfit one anyway),
 * pause, and the client waiting for the outcome.
 */
export interface RequestPlanEntry {
  at: number;
  kind: 'switchover' | 'failover';
  /** Switchover only: name a candidate (a failover always does). */
  named: boolean;
  /** Switchover only: due this long after it is written (ms), or null for at once. */
  scheduledInMs: number | null;
}

/** The sim time by which the effects of a request are over (for the convergence bound). */
export function requestSettledBy(r: RequestPlanEntry): number {
  return r.at + (r.scheduledInMs ?? 0) + 15_000;
}

/** Requests from `from` to `until`, one every `gap` ms (drawn), from the mode's own random stream. */
export function planRequests(rng: Rng, from: number, until: number, gap: readonly [number, number]): RequestPlanEntry[] {
  const out: RequestPlanEntry[] = [];
  for (let at = from + rng.int(gap[0], gap[1]); at <= until; at += rng.int(gap[0], gap[1])) {
    const kind = rng.chance(0.65) ? 'switchover' : 'failover';
    const named = kind === 'failover' || rng.chance(0.5);
    const scheduledInMs = kind === 'switchover' && rng.chance(0.2) ? rng.int(2_000, 15_000) : null;
    out.push({ at, kind, named, scheduledInMs });
  }
  return out;
}

/**
 * Writes the request into the store as the API would, or explains why the API would refuse it
 * (etcd unreachable, no leader to switch over from, no other member). Returns the trace text.
 */
export function applyRequest(r: RequestPlanEntry, rng: Rng, store: DcsStore, now: number, etcdUp: boolean): string {
  if (!etcdUp) return `OPERATOR ${r.kind}: refused, etcd is not reachable (503)`;
  const cluster = store.snapshot();
  const leader = cluster.leader?.name ?? null;
  if (r.kind === 'switchover' && leader === null) return 'OPERATOR switchover: refused, there is no leader (412)';
  const others = cluster.members.map((m) => m.name).filter((n) => n !== leader);
  if (others.length === 0) return `OPERATOR ${r.kind}: refused, no member except the leader (412)`;
  const request: FailoverRequest = {};
  if (r.kind === 'switchover') request.leader = leader!;
  if (r.named) request.member = rng.pick(others);
  if (r.scheduledInMs !== null) request.scheduled_at = new Date(SIM_WALL_EPOCH_MS + now + r.scheduledInMs).toISOString();
  store.setFailover(request);
  const when = r.scheduledInMs === null ? '' : ` scheduled in ${(r.scheduledInMs / 1000).toFixed(1)} s`;
  return `OPERATOR ${r.kind}${request.leader ? ` from ${request.leader}` : ''} to ${request.member ?? 'any healthy replica'}${when}`;
}
