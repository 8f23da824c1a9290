/**
 * Operator-requested leader changes, read from the `failover` key (reference §1.3, §2.6):
 * `{"leader": <from>, "member": <to>, "scheduled_at": <ISO time>}`, every field optional.
 *
 * The leader runs a planned switchover: it stops PostgreSQL cleanly while keeping the key, waits
 * until a candidate has received all of its WAL, and only then releases the key (so no
 * acknowledged write is lost). Replicas leave the free key to the named candidate while that
 * candidate is healthy. Whoever leads afterwards clears the request.
 */
import { findMember, type ClusterSnapshot, type FailoverRequest } from '../domain/cluster.js';
import type { PeerStatus } from '../domain/peer.js';
import { bytes, runsAsPrimary, seconds } from './facts.js';
import type { Upstream } from '../postgres/port.js';
import type { Action, Observation } from './types.js';
import { memberUpstream } from './upstream.js';
import { leadRefusal } from './eligibility.js';

/** Where a request stands in time. A request without `scheduled_at` is due at once. */
export type ScheduleState = { kind: 'due' } | { kind: 'waiting'; inMs: number } | { kind: 'missed'; lateMs: number } | { kind: 'invalid' };

/**
 * A scheduled request runs when its time has come, and is dropped when the leader noticed it
 * more than `max(1.5 × loop_wait, 10 s)` late (Patroni drops it after 1.5 × loop_wait; pgwarden
 * gives a slow cycle a little more room).
 */
export function scheduleState(f: FailoverRequest, wallNow: number, loopWaitMs: number): ScheduleState {
  if (f.scheduled_at === undefined) return { kind: 'due' };
  const at = Date.parse(f.scheduled_at);
  if (Number.isNaN(at)) return { kind: 'invalid' };
  const late = wallNow - at;
  if (late < 0) return { kind: 'waiting', inMs: -late };
  if (late > Math.max(1.5 * loopWaitMs, 10_000)) return { kind: 'missed', lateMs: late };
  return { kind: 'due' };
}

/** What the leader does about a pending request this cycle. */
export type LeaderStep =
  /** Nothing pending, or a request that waits for its time: lead as usual (`note` explains). */
  | { kind: 'none'; note: string | null }
  /** Act instead of the usual leader work. */
  | { kind: 'act'; actions: Action[]; reason: string };

function clear(cluster: ClusterSnapshot, why: string): LeaderStep {
  return {
    kind: 'act',
    actions: [{ type: 'renewLeader' }, { type: 'clearFailover', modRevision: cluster.failoverModRevision, why }],
    reason: `clearing the switchover request: ${why}`,
  };
}

/** Why a probed peer cannot take over now, or null when it can. */
export function unfitCandidate(p: PeerStatus, leaderLsn: number, maximumLag: number): string | null {
  if (!p.reachable) return `${p.name} is not reachable`;
  if (p.nofailover) return `${p.name} is tagged nofailover`;
  if (p.watchdogFailed) return `${p.name} reports a failed watchdog`;
  if (p.isPrimary) return `${p.name} runs as a primary`;
  if (p.lsn === null) return `${p.name} did not report its WAL position`;
  const lag = leaderLsn - p.lsn;
  if (lag > maximumLag) return `${p.name} is ${bytes(lag)} behind, beyond maximum_lag_on_failover`;
  return null;
}

/**
 * The leader (PostgreSQL running as primary, key held) with a `failover` key: wait for a
 * scheduled time, clear requests that do not apply to it or cannot be carried out (with the
 * reason), probe the candidates, and start the planned switchover towards the fit ones.
 */
export function leaderFailoverStep(obs: Observation, cluster: ClusterSnapshot): LeaderStep {
  const f = cluster.failover;
  if (f === null || !runsAsPrimary(obs.pg)) return { kind: 'none', note: null };
  const self = obs.self.name;
  const s = obs.settings;
  const when = scheduleState(f, obs.wallNow, s.loopWaitMs);
  if (when.kind === 'invalid') return clear(cluster, `scheduled_at ${JSON.stringify(f.scheduled_at)} is not a valid time`);
  if (f.leader !== undefined && f.leader !== self) {
    const done = f.member === self ? `the switchover from ${f.leader} to me is done` : `it asks to switch over from ${f.leader}, but I am the leader`;
    return clear(cluster, done);
  }
  if (f.member === self) return clear(cluster, 'I am already the leader');
  if (when.kind === 'missed') return clear(cluster, `the switchover scheduled at ${f.scheduled_at} was missed by ${seconds(when.lateMs)}`);
  if (when.kind === 'waiting') {
    return { kind: 'none', note: `switchover to ${f.member ?? 'the best replica'} scheduled at ${f.scheduled_at} (in ${seconds(when.inMs)})` };
  }
  if (f.member === undefined && s.paused) return clear(cluster, 'in a paused cluster a switchover needs a named candidate');
  const others = cluster.members.filter((m) => m.name !== self);
  const wanted = f.member === undefined ? others : others.filter((m) => m.name === f.member);
  if (wanted.length === 0) {
    return clear(cluster, f.member === undefined ? 'there is no other member to switch over to' : `the candidate ${f.member} is not a member of the cluster`);
  }
  if (obs.peers === null) {
    return {
      kind: 'act',
      actions: [{ type: 'probePeers', members: wanted.map((m) => ({ name: m.name, apiUrl: m.data.api_url })) }],
      reason: 'switchover requested: asking the candidates where they are',
    };
  }
  const pg = obs.pg;
  const leaderLsn = pg.running ? pg.lsn : 0;
  // Only a replica streaming from this node receives its last WAL during the clean shutdown.
  const streaming = new Set(pg.running ? pg.replication.filter((r) => r.state === 'streaming').map((r) => r.application_name) : []);
  const unfit: string[] = [];
  const fit: Upstream[] = [];
  for (const m of wanted) {
    const answer = obs.peers.find((p) => p.name === m.name);
    const upstream = memberUpstream(m);
    let why = answer ? unfitCandidate(answer, leaderLsn, s.maximumLagOnFailover) : `${m.name} was not asked`;
    if (why === null && !streaming.has(m.name)) why = `${m.name} is not streaming from me`;
    const refusal = why === null ? leadRefusal(s, cluster, m.name) : null;
    if (refusal !== null) why = `${m.name} may not lead: ${refusal}`;
    if (why === null && upstream) fit.push(upstream);
    else unfit.push(why ?? `cannot parse the conn_url of ${m.name}`);
  }
  if (fit.length === 0) return clear(cluster, `switchover is not possible: ${unfit.join('; ')}`);
  const to = f.member ?? fit.map((c) => c.name).join(' or ');
  return {
    kind: 'act',
    actions: [{ type: 'renewLeader' }, { type: 'switchover', candidates: fit }],
    reason: `switching over to ${to}: stopping PostgreSQL cleanly; the leader key is released once ${to} has all of its WAL`,
  };
}

/**
 * The former leader after its `demote` task succeeded (PostgreSQL stopped cleanly, a candidate
 * has everything): release the key and start read-only, streaming from the named candidate.
 */
export function afterDemote(obs: Observation, cluster: ClusterSnapshot): { actions: Action[]; reason: string; following: string | null } | null {
  if (obs.finished?.kind !== 'demote' || !obs.finished.ok || obs.pg.running || obs.pg.postmasterAlive) return null;
  const to = cluster.failover?.member;
  const target = to === undefined ? undefined : findMember(cluster, to);
  const upstream = target ? memberUpstream(target) : null;
  return {
    actions: [{ type: 'releaseLeader' }, { type: 'start', role: 'replica', upstream }],
    reason: `switchover: PostgreSQL stopped cleanly and ${to ?? 'a replica'} has all of its WAL; releasing the leader key${upstream ? ` and following ${upstream.name}` : ''}`,
    following: upstream?.name ?? null,
  };
}

/**
 * A replica with no leader key and a due request: the named candidate takes the key; the others
 * wait while it is healthy; a former leader that switched over to "anyone" leaves the key to
 * the others while one of them can take it. Null means: race as usual.
 */
export function noLeaderFailoverStep(obs: Observation, cluster: ClusterSnapshot): { take: boolean; reason: string } | null {
  const f = cluster.failover;
  if (f === null) return null;
  if (scheduleState(f, obs.wallNow, obs.settings.loopWaitMs).kind !== 'due') return null;
  const self = obs.self.name;
  if (f.member === self) {
    if (obs.self.nofailover) return null;
    return { take: true, reason: `taking the leader key: a ${f.leader ? 'switchover' : 'failover'} to me was requested` };
  }
  if (obs.peers === null) return null;
  if (f.member !== undefined) {
    const c = obs.peers.find((p) => p.name === f.member);
    if (c && c.reachable && !c.nofailover && !c.watchdogFailed && leadRefusal(obs.settings, cluster, c.name) === null) {
      return { take: false, reason: `not racing: ${f.member}, the requested candidate, is healthy and takes the key` };
    }
    return null;
  }
  if (f.leader === self) {
    // An heir is a peer that will race: healthy, allowed to lead, and not behind me (it would
    // defer to me; not behind also keeps it within maximum_lag_on_failover, as I am).
    const mine = obs.pg.running ? obs.pg.lsn : 0;
    const heir = obs.peers.find(
      (p) => p.reachable && !p.nofailover && !p.isPrimary && p.lsn !== null && p.lsn >= mine && leadRefusal(obs.settings, cluster, p.name) === null,
    );
    if (heir) return { take: false, reason: `not racing: I switched over, ${heir.name} can take the key` };
  }
  return null;
}
