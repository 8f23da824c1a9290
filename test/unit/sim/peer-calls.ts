import type { PeerStatus } from '../../../src/domain/peer.js';
import type { AgentEnv } from './agent.js';
import type { Gen } from './scheduler.js';

/**
 * The two REST calls agents make to each other, over the simulated network: `GET /patroni`
 * during a race and `POST /failsafe` from a leader that lost etcd. Both go out in parallel and
 * each answer reflects the peer at the moment the request reaches it.
 */

/** Asks peers in parallel; each answer reflects the peer's view when the request reaches it. */
export function* probePeers(env: AgentEnv, from: string, names: string[]): Gen<PeerStatus[]> {
  const start = env.sched.now;
  const delays = names.map((n) => ({ n, d: env.peerAnswer(from, n).delay })).sort((a, b) => a.d - b.d);
  const out = new Map<string, PeerStatus>();
  for (const { n, d } of delays) {
    const wait = start + d - env.sched.now;
    if (wait > 0) yield wait;
    out.set(n, env.peerAnswer(from, n).status);
  }
  return names.map((n) => out.get(n)!);
}

/**
 * One `POST /failsafe` on the wire: it reaches the member after `arriveMs`, where `deliver` runs
 * the member's handler (true = 200 Accepted); the answer takes `backMs` more.
 */
export interface FailsafeLeg {
  arriveMs: number;
  backMs: number;
  deliver(): boolean;
}

/**
 * The `failsafePing` executor's round: every member is asked at once; a member that does not
 * answer within `timeoutMs` (cut off, frozen) counts as refused, like an error answer.
 */
export function* failsafeRound(env: AgentEnv, from: string, names: string[], timeoutMs: number): Gen<{ accepted: string[]; refused: string[] }> {
  const start = env.sched.now;
  const legs = names.map((n) => ({ n, leg: env.failsafeLeg(from, n) }));
  const arrivals = legs.filter((l) => l.leg !== null && l.leg.arriveMs < timeoutMs).sort((a, b) => a.leg!.arriveMs - b.leg!.arriveMs);
  const answeredAt = new Map<string, { at: number; ok: boolean }>();
  for (const { n, leg } of arrivals) {
    const wait = start + leg!.arriveMs - env.sched.now;
    if (wait > 0) yield wait;
    answeredAt.set(n, { at: leg!.arriveMs + leg!.backMs, ok: leg!.deliver() });
  }
  const inTime = (n: string): boolean => {
    const a = answeredAt.get(n);
    return a !== undefined && a.at <= timeoutMs && a.ok;
  };
  const silent = names.some((n) => (answeredAt.get(n)?.at ?? Infinity) > timeoutMs);
  const last = silent ? timeoutMs : Math.max(0, ...[...answeredAt.values()].map((a) => a.at));
  const wait = start + last - env.sched.now;
  if (wait > 0) yield wait;
  return { accepted: names.filter(inTime), refused: names.filter((n) => !inTime(n)) };
}
