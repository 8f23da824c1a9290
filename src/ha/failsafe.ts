/**
 * DCS failsafe mode (`failsafe_mode`, reference §1.12 of the behaviour notes): a primary that
 * loses etcd keeps running only while EVERY other member confirms, over REST, that it leads
 * (`POST /failsafe`). All, not a majority: members are not placed for quorum the way etcd nodes
 * are. Each confirmation keeps the confirming member out of any race for ttl, so a confirmed
 * round moves the primary's local lease deadline to the round's send time + ttl, and the usual
 * deadline rules (demote before it can pass) apply unchanged.
 */
import type { ClusterSnapshot } from '../domain/cluster.js';
import { seconds } from './facts.js';
import type { Action, Decision, Memory, Observation } from './types.js';

/** The leader keeps `failsafe` = every member's api_url while failsafe mode is on (and deletes it after). */
export function failsafeChores(obs: Observation, cluster: ClusterSnapshot): Action[] {
  if (!obs.settings.failsafeMode) return cluster.failsafe === null ? [] : [{ type: 'writeFailsafe', members: null }];
  const members: Record<string, string> = {};
  for (const m of cluster.members) members[m.name] = m.data.api_url;
  return JSON.stringify(members) === JSON.stringify(cluster.failsafe) ? [] : [{ type: 'writeFailsafe', members }];
}

/**
 * etcd is unreachable and this node runs the primary under a lease it still holds: ask the
 * other members (first call), or keep running when all of them confirmed (second call). Null
 * when failsafe mode does not apply; the caller then decides as without it.
 */
export function failsafeWithoutDcs(obs: Observation, mem: Memory, error: string): Decision | { note: string } | null {
  if (!obs.settings.failsafeMode || obs.settings.paused) return null;
  if (obs.leaderUntil === null || obs.now >= obs.leaderUntil) return null;
  const others = mem.lastMembers.filter((m) => m.name !== obs.self.name);
  if (obs.failsafe === null) {
    return { actions: [{ type: 'failsafePing', members: others }], reason: `etcd is not reachable (${error}); failsafe mode: asking every member to confirm me as leader`, memory: mem };
  }
  if (obs.failsafe.refused.length === 0) {
    return {
      actions: [],
      reason: `etcd is not reachable (${error}); failsafe mode: ${others.length === 0 ? 'no other member' : `all ${others.length} member(s) confirmed me as leader`}, keeping the primary running (lease held for ${seconds(obs.leaderUntil - obs.now)})`,
      memory: mem,
    };
  }
  return { note: `failsafe mode: no confirmation from ${obs.failsafe.refused.join(', ')}` };
}

/** A replica does not race while a leader confirmed alive by failsafe, or when the failsafe key leaves it out. */
export function failsafeRaceRefusal(obs: Observation, cluster: ClusterSnapshot): string | null {
  const heard = obs.failsafeLeader;
  if (heard !== null && heard.name !== obs.self.name && heard.ageMs < obs.settings.ttlMs) {
    return `not racing: ${heard.name} confirmed ${seconds(heard.ageMs)} ago that it leads (failsafe mode)`;
  }
  const listed = cluster.failsafe;
  if (obs.settings.failsafeMode && listed !== null && Object.keys(listed).length > 0 && !(obs.self.name in listed)) {
    return 'not racing: failsafe mode is on and the failsafe key does not list this node';
  }
  return null;
}
