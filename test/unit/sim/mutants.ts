import { decide } from '../../../src/ha/decide.js';
import type { Action, Decision, Memory, Observation } from '../../../src/ha/types.js';

/**
 * Deliberately broken `decide` functions for the simulation's self-tests: each breaks one rule
 * that a new invariant exists to protect, so a test can show the simulation notices. They wrap
 * the real `decide` and change only what they are named for.
 */

/**
 * Ignores `syncRaceRefusal`: with no leader, every replica decides as if the `sync` key named it
 * (the standbys stay as they are), so it races like any other node. Caught by `syncPromotion`.
 */
export function ignoresSyncKey(o: Observation, m: Memory): Decision {
  if (!o.dcs.ok || o.dcs.cluster.leader !== null) return decide(o, m);
  const c = o.dcs.cluster;
  const sync = { leader: o.self.name, standbys: c.sync?.standbys ?? [] };
  return decide({ ...o, dcs: { ok: true, cluster: { ...c, sync } } }, m);
}

/**
 * A synchronous-mode leader that writes every streaming standby into the `sync` key but never
 * sets `synchronous_standby_names`, so PostgreSQL acknowledges commits without waiting for any of
 * them. Caught by `syncLoss` (a listed standby is promoted without the last acknowledged commits).
 */
export function listsUnconfirmedStandbys(o: Observation, m: Memory): Decision {
  const d = decide(o, m);
  if (!o.pg.running || o.pg.inRecovery) return d;
  const streaming = o.pg.replication.filter((r) => r.state === 'streaming').map((r) => r.application_name).sort();
  const revision = o.dcs.ok ? (o.dcs.cluster.syncModRevision ?? '0') : '0';
  // Where the real leader would set synchronous_standby_names, it lists the standbys instead.
  const actions: Action[] = d.actions.map((a) => {
    if (a.type === 'setSyncStandbyNames') return { type: 'writeSync', value: { leader: o.self.name, standbys: streaming }, modRevision: revision };
    return a.type === 'writeSync' && a.value !== null ? { ...a, value: { leader: a.value.leader, standbys: streaming } } : a;
  });
  return { ...d, actions };
}

/**
 * Forgets the failsafe confirmations it gave: a replica races although the leader told it, less
 * than ttl ago, that it leads on without etcd. Caught by `belief` (two primaries whose leases
 * overlap, one of them on failsafe confirmations).
 */
export function forgetsFailsafe(o: Observation, m: Memory): Decision {
  return decide({ ...o, failsafeLeader: null }, m);
}
