import { clusterTimeline, type ClusterSnapshot } from '../domain/cluster.js';
import { bytes, raceCandidates, runsAsPrimary, stoppedFormerPrimary } from './facts.js';
import { noLeaderFailoverStep } from './switchover.js';
import { leadRefusal } from './eligibility.js';
import { failsafeRaceRefusal } from './failsafe.js';
import type { Decision, Memory, Observation } from './types.js';

/**
 * The cluster has no leader key: bootstrap-in-progress waits, a stale primary may re-take the
 * key, and a healthy replica races only when it is eligible and no reachable peer is ahead of it
 * or still running as primary (DESIGN §4).
 */
export function decideWithoutLeader(obs: Observation, cluster: ClusterSnapshot, mem: Memory): Decision {
  const pg = obs.pg;
  if (cluster.initialize === '') {
    return { actions: [], reason: 'waiting: another node is bootstrapping the cluster', memory: mem };
  }
  if (!pg.running) {
    if (pg.postmasterAlive) {
      return { actions: [], reason: 'waiting: PostgreSQL is starting or shutting down, no leader yet', memory: mem };
    }
    if (cluster.initialize === null && stoppedFormerPrimary(pg)) {
      return {
        actions: [{ type: 'start', role: 'primary' }],
        reason: 'starting PostgreSQL: the cluster is not initialized in etcd and this data directory was a primary',
        memory: mem,
      };
    }
    if (obs.settings.paused) {
      return { actions: [], reason: 'paused: PostgreSQL is stopped and there is no leader; not starting it', memory: mem };
    }
    return {
      actions: [{ type: 'start', role: 'replica', upstream: null }],
      reason: 'starting PostgreSQL read-only: there is no leader to follow yet',
      memory: { ...mem, following: null, mustCheckDivergence: mem.mustCheckDivergence || stoppedFormerPrimary(pg) },
    };
  }

  if (cluster.initialize === null) {
    if (runsAsPrimary(pg)) {
      return {
        actions: [{ type: 'writeInitialize', sysid: pg.systemIdentifier }, { type: 'acquireLeader', promote: false }],
        reason: `adopting the running primary: the cluster is not initialized in etcd, registering system identifier ${pg.systemIdentifier}`,
        memory: mem,
      };
    }
    return { actions: [], reason: 'waiting: the cluster is not initialized and this node is a replica; start pgwarden on the primary first', memory: mem };
  }

  // The sync and failsafe keys name who may lead; a failsafe leader heard recently still leads.
  const refusal = failsafeRaceRefusal(obs) ?? prefixed(leadRefusal(obs.settings, cluster, obs.self.name));
  if (runsAsPrimary(pg)) {
    const tl = clusterTimeline(cluster);
    // Also when paused: the primary the operator left running keeps the key it lost (its agent
    // restarted, or etcd lost the lease), so health checks keep routing writes to it.
    if (refusal === null && pg.timeline >= tl) {
      return {
        actions: [{ type: 'acquireLeader', promote: false }],
        reason: `taking the free leader key: PostgreSQL already runs as primary on timeline ${pg.timeline}`,
        memory: mem,
      };
    }
    const why = refusal ?? `running as primary on timeline ${pg.timeline} but the cluster moved on to timeline ${tl}`;
    if (obs.settings.paused) {
      return { actions: [], reason: `paused: ${why}, but not demoting`, memory: mem };
    }
    return { actions: [{ type: 'stop', mode: 'immediate' }], reason: `demoting: ${why}`, memory: { ...mem, mustCheckDivergence: true } };
  }
  if (refusal !== null) return { actions: [], reason: refusal, memory: mem };

  const requested = noLeaderFailoverStep(obs, cluster);
  if (requested?.take) {
    // In synchronous mode a promoted node claims the sync key before it takes writes.
    return { actions: [{ type: 'acquireLeader', promote: true, ...takeSyncOf(obs, cluster) }], reason: requested.reason, memory: mem };
  }

  if (obs.settings.paused) {
    return { actions: [], reason: 'paused: there is no leader, but automatic failover is off', memory: mem };
  }

  if (obs.self.nofailover) {
    return { actions: [], reason: 'no leader, and this node is tagged nofailover so it does not race', memory: mem };
  }

  const optime = cluster.optime;
  if (optime !== null && optime - pg.lsn > obs.settings.maximumLagOnFailover) {
    return {
      actions: [],
      reason: `not racing: my WAL position is ${bytes(optime - pg.lsn)} behind the last known leader position, beyond maximum_lag_on_failover`,
      memory: mem,
    };
  }

  const candidates = raceCandidates(obs, [
    ...mem.lastMembers,
    ...mem.lastFailsafe,
    ...cluster.members.map((m) => ({ name: m.name, apiUrl: m.data.api_url })),
  ]);
  if (candidates.length > 0 && obs.peers === null) {
    return { actions: [{ type: 'probePeers', members: candidates }], reason: 'no leader: asking the other members where they are', memory: mem };
  }

  const waitFor = noLeaderFailoverStep(obs, cluster);
  if (waitFor && !waitFor.take) return { actions: [], reason: waitFor.reason, memory: mem };
  for (const peer of obs.peers ?? []) {
    if (!peer.reachable) continue;
    if (peer.isPrimary) {
      return { actions: [], reason: `not racing: ${peer.name} is still running as primary`, memory: mem };
    }
    if (peer.nofailover || peer.lsn === null) continue;
    // Only the nodes the sync / failsafe keys name may lead; the others do not compete.
    if (leadRefusal(obs.settings, cluster, peer.name) !== null) continue;
    if (peer.lsn > pg.lsn) {
      return { actions: [], reason: `not racing: ${peer.name} is ahead of me (${peer.lsn} > ${pg.lsn})`, memory: mem };
    }
  }
  const asked = obs.peers ?? [];
  const reachable = asked.filter((p) => p.reachable).length;
  return {
    actions: [{ type: 'acquireLeader', promote: true, ...takeSyncOf(obs, cluster) }],
    reason: `racing for the leader key: no leader, my WAL position ${pg.lsn} is the most advanced of ${reachable + 1} reachable member(s) (${asked.length - reachable} unreachable)`,
    memory: mem,
  };
}

function prefixed(refusal: string | null): string | null {
  return refusal === null ? null : `not racing: ${refusal}`;
}

/** In synchronous mode the winner claims the `sync` key (compare on its revision) before promoting. */
function takeSyncOf(obs: Observation, cluster: ClusterSnapshot): { takeSync?: string } {
  return obs.settings.synchronousMode ? { takeSync: cluster.syncModRevision ?? '0' } : {};
}
