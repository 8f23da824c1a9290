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
import type { Action, Decision, Memory, Observation, Settings } from './types.js';

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
  const others = failsafeAudience(mem, obs.self.name, obs.settings.knownGoneNodes);
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

/**
 * Stands for the leader an agent may have confirmed before it (re)started: confirmations live in
 * memory only, so a shell starts as if it had heard from an unknown failsafe leader at its start.
 */
export const LEADER_BEFORE_START = '(a leader confirmed before this agent started)';

/** A replica does not race while a leader it confirmed by failsafe may still run (ttl since). */
export function failsafeRaceRefusal(obs: Observation): string | null {
  const heard = obs.failsafeLeader;
  if (!obs.settings.failsafeMode || heard === null || heard.name === obs.self.name || heard.ageMs >= obs.settings.ttlMs) return null;
  if (heard.name === LEADER_BEFORE_START) {
    return `not racing: this agent started ${seconds(heard.ageMs)} ago and may have confirmed a failsafe leader just before; waiting until ttl has passed`;
  }
  return `not racing: ${heard.name} confirmed ${seconds(heard.ageMs)} ago that it leads (failsafe mode)`;
}

/**
 * In failsafe mode only the members the failsafe key lists may lead: the last leader asks exactly
 * those before it runs on without etcd, so any other node could race it unasked. Null when `name`
 * may lead.
 */
export function failsafeLeadRefusal(settings: Settings, cluster: ClusterSnapshot, name: string): string | null {
  const listed = cluster.failsafe;
  if (settings.failsafeMode && listed !== null && Object.keys(listed).length > 0 && !(name in listed)) {
    return `failsafe mode is on and the failsafe key does not list ${name}`;
  }
  return null;
}

/**
 * The members a failsafe leader must hear from: those it last saw and those the failsafe key
 * lists, except itself and the `known_gone_nodes` an operator removed on purpose.
 */
export function failsafeAudience(mem: Memory, self: string, gone: readonly string[] = []): { name: string; apiUrl: string }[] {
  const byName = new Map<string, string>();
  for (const m of [...mem.lastMembers, ...mem.lastFailsafe]) if (m.name !== self && !gone.includes(m.name)) byName.set(m.name, m.apiUrl);
  return [...byName].map(([name, apiUrl]) => ({ name, apiUrl })).sort((a, b) => a.name.localeCompare(b.name));
}
