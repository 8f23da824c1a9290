import type { Rng } from './prng.js';

/** How an etcd call fails while etcd cannot be reached: dropped packets (the call deadline) or a quick refusal. */
export type FailMode = 'timeout' | 'refused';

/**
 * One seeded fault. Node faults pick their target when they start (half the time the current
 * leader), so the plan stays a pure function of the seed while still hitting the node that matters.
 */
export type Fault =
  /** SIGKILL of the agent and its PostgreSQL; both come back after `forMs`. */
  | { kind: 'kill'; at: number; forMs: number }
  /** PostgreSQL alone crashes (the agent sees it down at its next probe). */
  | { kind: 'crashPg'; at: number }
  /** SIGSTOP of the agent (its PostgreSQL keeps running) for `forMs`. */
  | { kind: 'freeze'; at: number; forMs: number }
  /** etcd does not answer anyone for `forMs`. */
  | { kind: 'dcsDown'; at: number; forMs: number; mode: FailMode }
  /** One node cannot reach etcd for `forMs` (it still reaches its peers and they it). */
  | { kind: 'partition'; at: number; forMs: number; mode: FailMode }
  /** One node is cut from everything — etcd, peers' REST APIs, replication — for `forMs`. */
  | { kind: 'isolate'; at: number; forMs: number };

export interface FaultPlan {
  faults: Fault[];
  /** When the last fault is over: nodes restarted, agents thawed, etcd reachable. */
  quietFrom: number;
}

export type FaultKind = Fault['kind'];
export const FAULT_KINDS: readonly FaultKind[] = ['kill', 'crashPg', 'freeze', 'dcsDown', 'partition', 'isolate'];

/**
 * How likely each kind is, as cumulative thresholds of one uniform draw in `FAULT_KINDS` order
 * (the last kind takes the rest). Every mix makes the same draws, so a mix changes which kind a
 * fault is, never when it happens.
 */
export type FaultMix = readonly [kill: number, crashPg: number, freeze: number, dcsDown: number, partition: number];
/** The original mix: 20 % kill, 12 % crash, 18 % freeze, 15 % etcd down, 20 % partition, 15 % isolation. */
export const DEFAULT_MIX: FaultMix = [0.2, 0.32, 0.5, 0.65, 0.85];

/**
 * Faults start at `from` and none starts after `until`; gaps of 1–15 s, so some overlap. Kinds
 * left out of `kinds` are drawn but dropped, so the other faults keep their times.
 */
export function planFaults(rng: Rng, from: number, until: number, kinds: readonly FaultKind[] = FAULT_KINDS, mix: FaultMix = DEFAULT_MIX): FaultPlan {
  const faults: Fault[] = [];
  let at = from;
  let quietFrom = from;
  for (;;) {
    at += rng.int(1_000, 15_000);
    if (at > until) break;
    const mode: FailMode = rng.chance(0.7) ? 'timeout' : 'refused';
    const r = rng.next();
    let f: Fault;
    if (r < mix[0]) f = { kind: 'kill', at, forMs: rng.int(1_000, 40_000) };
    else if (r < mix[1]) f = { kind: 'crashPg', at };
    else if (r < mix[2]) f = { kind: 'freeze', at, forMs: rng.int(500, 25_000) };
    else if (r < mix[3]) f = { kind: 'dcsDown', at, forMs: rng.int(1_000, 25_000), mode };
    else if (r < mix[4]) f = { kind: 'partition', at, forMs: rng.int(1_000, 30_000), mode };
    else f = { kind: 'isolate', at, forMs: rng.int(1_000, 30_000) };
    if (!kinds.includes(f.kind)) continue;
    faults.push(f);
    quietFrom = Math.max(quietFrom, at + ('forMs' in f ? f.forMs : 0));
  }
  return { faults, quietFrom };
}

export function describeFault(f: Fault, target: string | null): string {
  const who = target ? ` ${target}` : '';
  const dur = 'forMs' in f ? ` for ${(f.forMs / 1000).toFixed(1)} s` : '';
  const mode = 'mode' in f ? ` (${f.mode})` : '';
  return `FAULT ${f.kind}${who}${dur}${mode}`;
}
