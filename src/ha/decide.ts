import { clusterTimeline, findMember, type ClusterSnapshot, type Member } from '../domain/cluster.js';
import type { PgStatus } from '../domain/pg-status.js';
import { slotNameFor, type Upstream } from '../postgres/port.js';
import { runsAsPrimary, runsAsReplica, seconds, stoppedFormerPrimary } from './facts.js';
import { decideWithoutLeader } from './race.js';
import { failsafeChores, failsafeWithoutDcs } from './failsafe.js';
import { standbyNamesAtStart, syncStep } from './sync.js';
import { leadRefusal } from './eligibility.js';
import { afterDemote, leaderFailoverStep } from './switchover.js';
import type { Action, Decision, Memory, Observation } from './types.js';
import { cloneSource, memberUpstream, streamSource } from './upstream.js';

/**
 * The HA decision: a pure function of what the loop observed and what it remembers. No await,
 * no clock, no I/O — the shell (`src/loop/`) gathers the observation and runs the actions.
 * Every return carries one reason sentence that is logged and shown by the REST API.
 */
export function decide(obs: Observation, memory: Memory): Decision {
  let mem = obs.pg.running ? { ...memory, crashedSince: null } : memory;
  // A rejoin that failed has not proven this node's history matches the leader's: check again.
  if (obs.finished?.kind === 'rejoin' && !obs.finished.ok) mem = { ...mem, mustCheckDivergence: true };
  if (!obs.dcs.ok) return decideWithoutDcs(obs, mem, obs.dcs.error);

  const cluster = obs.dcs.cluster;
  const leaderName = cluster.leader?.name ?? null;
  const lastFailsafe = Object.entries(cluster.failsafe ?? {}).map(([name, apiUrl]) => ({ name, apiUrl }));
  const remembered: Memory = leaderName
    ? { ...mem, lastFailsafe, lastMembers: cluster.members.map((m) => ({ name: m.name, apiUrl: m.data.api_url })) }
    : { ...mem, lastFailsafe };

  const sysid = obs.pg.systemIdentifier;
  if (cluster.initialize && sysid && cluster.initialize !== sysid) {
    return {
      actions: [{ type: 'fatal', message: `data directory belongs to system ${sysid}, but the cluster in etcd is ${cluster.initialize}; refusing to run on it` }],
      reason: 'refusing to run: the data directory belongs to another cluster',
      memory: remembered,
    };
  }

  if (obs.task) return decideDuringTask(obs, cluster, remembered);
  if (!obs.pg.running && !obs.pg.dataDirInitialized && !obs.pg.postmasterAlive) {
    return decideWithEmptyDataDir(obs, cluster, remembered);
  }
  if (leaderName === null) return decideWithoutLeader(obs, cluster, remembered);
  if (leaderName === obs.self.name) return decideAsLeader(obs, cluster, remembered);
  const leader = findMember(cluster, leaderName);
  if (!leader) {
    return { actions: [], reason: `waiting: ${leaderName} holds the leader key but has no member entry yet`, memory: remembered };
  }
  return decideAsFollower(obs, cluster, leader, remembered);
}

/** etcd did not answer: a primary cannot prove it still holds the key, so it steps down. */
function decideWithoutDcs(obs: Observation, mem: Memory, error: string): Decision {
  const pg = obs.pg;
  if (runsAsPrimary(pg)) {
    if (obs.settings.paused) {
      return { actions: [], reason: `etcd is not reachable (${error}); paused, so the primary keeps running`, memory: mem };
    }
    const failsafe = failsafeWithoutDcs(obs, mem, error);
    if (failsafe !== null && 'actions' in failsafe) return failsafe;
    if (failsafe !== null) error = `${error}; ${failsafe.note}`;
    // Riding out needs room for one more etcd read and one more renewal, each up to retry_timeout.
    const left = obs.leaderUntil === null ? 0 : obs.leaderUntil - obs.now;
    if (left > 2 * obs.settings.retryTimeoutMs) {
      return {
        actions: [],
        reason: `etcd is not reachable (${error}); the leader lease is still valid for ${seconds(left)}, retrying`,
        memory: mem,
      };
    }
    return {
      actions: [{ type: 'stop', mode: 'fast' }],
      reason: `demoting: etcd is not reachable (${error}) and the leader key could expire before it is renewed`,
      memory: { ...mem, mustCheckDivergence: true, following: null },
    };
  }
  if (!pg.running && pg.dataDirInitialized && !pg.postmasterAlive && !obs.task && !obs.settings.paused) {
    return {
      actions: [{ type: 'start', role: 'replica', upstream: null }],
      reason: `starting PostgreSQL read-only: etcd is not reachable (${error})`,
      memory: { ...mem, following: null, mustCheckDivergence: mem.mustCheckDivergence || stoppedFormerPrimary(pg) },
    };
  }
  return { actions: [], reason: `etcd is not reachable (${error}); keeping PostgreSQL as it is (${pg.running ? 'read-only' : 'stopped'})`, memory: mem };
}

/** A long action runs: keep the lease if we hold it, and cancel a promotion we may no longer do. */
function decideDuringTask(obs: Observation, cluster: ClusterSnapshot, mem: Memory): Decision {
  const task = obs.task!;
  const leaderName = cluster.leader?.name ?? null;
  const running = `${task.kind} in progress for ${seconds(obs.now - task.startedAt)}`;
  if (leaderName === obs.self.name) {
    if (task.kind === 'start' && mem.crashedSince !== null && obs.now - mem.crashedSince > obs.settings.primaryStartTimeoutMs) {
      return {
        actions: [{ type: 'cancelTask' }, { type: 'stop', mode: 'immediate' }, { type: 'releaseLeader' }],
        reason: `releasing the leader key: PostgreSQL did not come back within primary_start_timeout (${seconds(obs.settings.primaryStartTimeoutMs)})`,
        memory: { ...mem, mustCheckDivergence: true },
      };
    }
    return { actions: [{ type: 'renewLeader' }], reason: `${running}; renewed the leader key`, memory: mem };
  }
  if (task.kind === 'promote' || (task.kind === 'start' && mem.crashedSince !== null)) {
    return {
      actions: [{ type: 'cancelTask' }, { type: 'stop', mode: 'immediate' }],
      reason: `cancelling ${task.kind}: the leader key is ${leaderName ? `held by ${leaderName}` : 'gone'}`,
      memory: { ...mem, mustCheckDivergence: true, crashedSince: null },
    };
  }
  return { actions: [], reason: running, memory: mem };
}

/** No data directory yet: bootstrap a new cluster, or clone from the leader. */
function decideWithEmptyDataDir(obs: Observation, cluster: ClusterSnapshot, mem: Memory): Decision {
  const leaderName = cluster.leader?.name ?? null;
  if (leaderName === obs.self.name) {
    return { actions: [{ type: 'releaseLeader' }], reason: 'releasing the leader key: my data directory is empty', memory: mem };
  }
  const leader = leaderName ? findMember(cluster, leaderName) : undefined;
  if (leader) {
    const source = cloneSource(cluster, leader, obs.self.name);
    const follow = streamSource(cluster, leader, obs.self.replicatefrom);
    if (!source || !follow) {
      return { actions: [], reason: `waiting: cannot parse conn_url of ${leader.name}`, memory: mem };
    }
    return {
      actions: [{ type: 'clone', source, follow }],
      reason: `creating a replica: cloning from ${source.name}`,
      memory: { ...mem, following: follow.name, mustCheckDivergence: false },
    };
  }
  if (cluster.initialize === null) {
    if (obs.self.canBootstrap && !obs.self.nofailover) {
      return { actions: [{ type: 'bootstrap' }], reason: 'bootstrapping a new cluster: etcd has no cluster yet', memory: mem };
    }
    return { actions: [], reason: 'waiting for another node to bootstrap the cluster (this node has no bootstrap section or is nofailover)', memory: mem };
  }
  if (cluster.initialize === '') {
    return { actions: [], reason: 'waiting: another node is bootstrapping the cluster', memory: mem };
  }
  return { actions: [], reason: 'waiting for a leader to clone from', memory: mem };
}

/** Housekeeping a healthy leader does every cycle after renewing. */
function leaderChores(obs: Observation, cluster: ClusterSnapshot): Action[] {
  const pg = obs.pg;
  if (!pg.running) return [];
  const chores: Action[] = [];
  if (cluster.optime !== pg.lsn) chores.push({ type: 'writeStatus', optime: pg.lsn });
  if (pg.timeline > clusterTimeline(cluster)) chores.push({ type: 'writeHistory', timeline: pg.timeline });
  if (cluster.config === null) chores.push({ type: 'writeConfig' });
  if (obs.settings.useSlots) {
    const slots = cluster.members.filter((m) => m.name !== obs.self.name).map((m) => slotNameFor(m.name));
    chores.push({ type: 'syncSlots', slots: slots.sort() });
  }
  return chores;
}

function decideAsLeader(obs: Observation, cluster: ClusterSnapshot, mem: Memory): Decision {
  const pg = obs.pg;
  const s = obs.settings;
  if (obs.leaderUntil !== null && obs.now + s.retryTimeoutMs >= obs.leaderUntil && runsAsPrimary(pg)) {
    return {
      actions: [{ type: 'stop', mode: 'immediate' }],
      reason: `demoting: the leader lease runs out in ${seconds(obs.leaderUntil - obs.now)}, too soon to be sure a renewal lands in time`,
      memory: { ...mem, mustCheckDivergence: true },
    };
  }
  if (runsAsPrimary(pg)) {
    const led = { ...mem, following: null, mustCheckDivergence: false };
    const step = leaderFailoverStep(obs, cluster);
    if (step.kind === 'act') {
      const chores = step.actions.some((a) => a.type === 'clearFailover') ? [...failsafeChores(obs, cluster), ...leaderChores(obs, cluster)] : [];
      return { actions: [...step.actions, ...chores], reason: step.reason, memory: led };
    }
    const sync = syncStep(obs, cluster);
    const notes = [step.note, sync.note].filter((n) => n !== null).join('; ');
    return {
      actions: [{ type: 'renewLeader' }, ...sync.actions, ...failsafeChores(obs, cluster), ...leaderChores(obs, cluster)],
      reason: notes === '' ? 'no action: I am the leader with the lock' : `no action: I am the leader with the lock; ${notes}`,
      memory: led,
    };
  }
  const handover = afterDemote(obs, cluster);
  if (handover) {
    return {
      actions: handover.actions,
      reason: handover.reason,
      memory: { ...mem, crashedSince: null, following: handover.following, mustCheckDivergence: handover.following === null },
    };
  }
  if (runsAsReplica(pg)) {
    if (s.paused) {
      return { actions: [{ type: 'releaseLeader' }], reason: 'paused: PostgreSQL was demoted by hand, releasing the leader key', memory: mem };
    }
    if (s.synchronousMode && cluster.sync?.leader !== obs.self.name) {
      // The claim of the sync key failed after the race (someone changed it): promote only once it is ours.
      const refusal = leadRefusal(s, cluster, obs.self.name);
      if (refusal !== null) {
        return { actions: [{ type: 'releaseLeader' }], reason: `releasing the leader key without promoting: ${refusal}`, memory: mem };
      }
      return {
        actions: [{ type: 'renewLeader' }, { type: 'writeSync', value: { leader: obs.self.name, standbys: [] }, modRevision: cluster.syncModRevision ?? '0' }, { type: 'promote' }],
        reason: 'promoting: I hold the leader key and claim the sync key first',
        memory: { ...mem, following: null },
      };
    }
    return { actions: [{ type: 'renewLeader' }, { type: 'promote' }], reason: 'promoting: I hold the leader key', memory: { ...mem, following: null } };
  }
  if (!pg.running && pg.postmasterAlive) {
    return { actions: [{ type: 'renewLeader' }], reason: 'waiting for PostgreSQL to accept connections; renewed the leader key', memory: mem };
  }
  if (s.paused) {
    return { actions: [{ type: 'releaseLeader' }], reason: 'paused: PostgreSQL is stopped, releasing the leader key', memory: mem };
  }
  const crashedSince = mem.crashedSince ?? obs.now;
  const down = obs.now - crashedSince;
  if (s.primaryStartTimeoutMs === 0 || down > s.primaryStartTimeoutMs) {
    const why = s.primaryStartTimeoutMs === 0 ? 'primary_start_timeout is 0' : `it stayed down longer than primary_start_timeout (${seconds(s.primaryStartTimeoutMs)})`;
    return {
      actions: [{ type: 'releaseLeader' }, { type: 'start', role: 'replica', upstream: null }],
      reason: `PostgreSQL is down and ${why}: releasing the leader key so a replica takes over`,
      memory: { ...mem, crashedSince: null, mustCheckDivergence: true, following: null },
    };
  }
  const role = stoppedFormerPrimary(pg) ? 'primary' : 'replica';
  const syncStandbyNames = standbyNamesAtStart(s, cluster, obs.self.name);
  const start: Action = role === 'primary'
    ? { type: 'start', role, ...(syncStandbyNames === undefined ? {} : { syncStandbyNames }) }
    : { type: 'start', role, upstream: null };
  return {
    actions: [{ type: 'renewLeader' }, start],
    reason: `PostgreSQL is down; restarting it in place as ${role} while holding the leader key (${seconds(s.primaryStartTimeoutMs - down)} left of primary_start_timeout)`,
    memory: { ...mem, crashedSince, following: null },
  };
}

function decideAsFollower(obs: Observation, cluster: ClusterSnapshot, leader: Member, memory: Memory): Decision {
  let mem = memory;
  const pg = obs.pg;
  if (runsAsPrimary(pg)) {
    if (obs.settings.paused) {
      return { actions: [], reason: `paused: ${leader.name} holds the leader key but this node also runs as primary; not demoting`, memory: mem };
    }
    return {
      actions: [{ type: 'stop', mode: 'immediate' }],
      reason: `demoting: ${leader.name} holds the leader key`,
      memory: { ...mem, mustCheckDivergence: true, following: null },
    };
  }
  const upstream = streamSource(cluster, leader, obs.self.replicatefrom) ?? memberUpstream(leader);
  if (!upstream) return { actions: [], reason: `waiting: cannot parse conn_url of ${leader.name}`, memory: mem };
  if (!pg.running) {
    if (pg.postmasterAlive) return { actions: [], reason: 'waiting: PostgreSQL is starting or shutting down', memory: mem };
    if (obs.settings.paused) return { actions: [], reason: 'paused: PostgreSQL is stopped; not starting it', memory: mem };
    if (mem.mustCheckDivergence || stoppedFormerPrimary(pg)) {
      return {
        actions: [{ type: 'rejoin', upstream }],
        reason: `rejoining as a replica of ${upstream.name}: this node was a primary, checking whether pg_rewind is needed`,
        memory: { ...mem, following: upstream.name, mustCheckDivergence: false },
      };
    }
    return {
      actions: [{ type: 'start', role: 'replica', upstream }],
      reason: `starting PostgreSQL as a replica of ${upstream.name}`,
      memory: { ...mem, following: upstream.name },
    };
  }
  if (mem.mustCheckDivergence) {
    return {
      actions: [{ type: 'rejoin', upstream }],
      reason: `rejoining as a replica of ${upstream.name}: this node was a primary, checking whether pg_rewind is needed`,
      memory: { ...mem, following: upstream.name, mustCheckDivergence: false },
    };
  }
  const stalled = stalledStreaming(obs, pg, cluster, leader, upstream, mem);
  if (stalled.rejoin) {
    return {
      actions: [{ type: 'rejoin', upstream }],
      reason: `rejoining as a replica of ${upstream.name}: ${stalled.why}`,
      memory: { ...stalled.memory, following: upstream.name, mustCheckDivergence: false },
    };
  }
  mem = stalled.memory;
  if (mem.following !== upstream.name) {
    return {
      actions: [{ type: 'follow', upstream }],
      reason: `following ${upstream.name}${upstream.name === leader.name ? ', the leader' : ` (cascading; ${leader.name} is the leader)`}`,
      memory: { ...mem, following: upstream.name },
    };
  }
  const streaming = pg.upstream !== null;
  return {
    actions: [],
    reason: `no action: I am a replica of ${upstream.name}${streaming ? ', streaming' : ', not streaming yet'}`,
    memory: mem,
  };
}

type RunningPg = Extract<PgStatus, { running: true }>;

/**
 * A running replica pointed at its upstream that does not stream is stuck somewhere a follow
 * cannot fix: on an older timeline than the cluster's it may hold WAL the leader never had; on
 * any timeline its history may have forked from the leader's at the same timeline number (two
 * promotions, one that etcd never recorded). A rejoin stops it, asks pg_rewind whether the
 * histories diverged, rewinds if so, and starts it again. The first case waits a short grace
 * (time to switch timelines); the second a longer one, doubled after each such rejoin in a row,
 * so a replica that cannot stream for another reason (leader unreachable, WAL gone) is restarted
 * rarely, not in a loop.
 */
function stalledStreaming(
  obs: Observation,
  pg: RunningPg,
  cluster: ClusterSnapshot,
  leader: Member,
  upstream: Upstream,
  mem: Memory,
): { rejoin: true; why: string; memory: Memory } | { rejoin: false; memory: Memory } {
  const s = obs.settings;
  if (pg.upstream !== null || mem.following !== upstream.name || s.paused) {
    const streaming = pg.upstream !== null;
    const memory = { ...mem, notStreamingSince: null, stalledRejoins: streaming ? 0 : mem.stalledRejoins };
    return { rejoin: false, memory };
  }
  const since = mem.notStreamingSince ?? obs.now;
  const stalledFor = obs.now - since;
  const clusterTl = clusterTimeline(cluster);
  const behindGrace = Math.max(2 * s.loopWaitMs, 5_000);
  if (pg.timeline < clusterTl && stalledFor > behindGrace) {
    const why = `still on timeline ${pg.timeline} while the cluster is on ${clusterTl} and not streaming, so this node may hold WAL the leader never had`;
    return { rejoin: true, why, memory: { ...mem, notStreamingSince: null } };
  }
  const stallGrace = Math.max(s.ttlMs + 2 * s.loopWaitMs, 15_000) * 2 ** Math.min(mem.stalledRejoins, 6);
  const leaderServes = upstream.name !== leader.name || leader.data.state === 'running';
  if (leaderServes && stalledFor > stallGrace) {
    const why = `not streaming for ${seconds(stalledFor)} although ${upstream.name} runs; checking whether this node's history forked from the leader's`;
    return { rejoin: true, why, memory: { ...mem, notStreamingSince: null, stalledRejoins: mem.stalledRejoins + 1 } };
  }
  return { rejoin: false, memory: { ...mem, notStreamingSince: since } };
}
