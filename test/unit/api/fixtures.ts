import type { ClusterSnapshot, Member } from '../../../src/domain/cluster.js';
import type { Clock } from '../../../src/domain/clock.js';
import type { NodeView } from '../../../src/domain/node-view.js';
import type { PgStatus } from '../../../src/domain/pg-status.js';

export const SYSID = '7710962064113097207';
/** Monotonic "now" used by the fixtures: the last cycle finished 1 s before it. */
export const NOW = 1_000_000;
export const WALL = Date.UTC(2026, 10, 22, 12, 0, 0);

export function primaryPg(lsn = 67_108_864): PgStatus {
  return {
    running: true, dataDirInitialized: true, systemIdentifier: SYSID, inRecovery: false, timeline: 1, lsn,
    receivedLsn: null, replayedLsn: null, replayedTimestamp: null, replayPaused: false,
    postmasterStartTime: '2026-11-22 11:51:02.473627+00', serverVersion: 150018,
    replication: [
      { usename: 'replicator', application_name: 'n2', client_addr: '127.0.0.1', state: 'streaming', sync_state: 'async', sync_priority: 0 },
    ],
    upstream: null, pendingRestart: false, syncStandbyNames: '', syncStandbyNamesOverridden: false,
  };
}

export function replicaPg(replayed = 67_108_864, received: number | null = replayed): PgStatus {
  return {
    ...primaryPg(Math.max(replayed, received ?? 0)),
    inRecovery: true, receivedLsn: received, replayedLsn: replayed,
    replayedTimestamp: '2026-11-22 11:55:00.5+00', replication: [], upstream: '127.0.0.1:5440',
  } as PgStatus;
}

export function stoppedPg(): PgStatus {
  return { running: false, postmasterAlive: false, dataDirInitialized: true, systemIdentifier: SYSID, controlState: 'shut down', timeline: 1 };
}

export function member(name: string, port: number, extra: Partial<Member['data']> = {}): Member {
  return {
    name,
    data: {
      conn_url: `postgres://127.0.0.1:${port}/postgres`,
      api_url: `http://127.0.0.1:${port + 2568}/patroni`,
      state: 'running', role: 'replica', version: '0.1.0', xlog_location: 67_108_864, timeline: 1,
      ...extra,
    },
  };
}

export function cluster(over: Partial<ClusterSnapshot> = {}): ClusterSnapshot {
  return {
    initialize: SYSID,
    config: { ttl: 30, loop_wait: 10 },
    configModRevision: '5',
    leader: { name: 'n1', modRevision: '7' },
    members: [member('n2', 5441), member('n1', 5440, { role: 'primary' }), member('n3', 5442, { xlog_location: 60_000_000 })],
    optime: 67_108_864,
    history: [],
    failover: null,
    failoverModRevision: null,
    sync: null,
    syncModRevision: null,
    failsafe: null,
    revision: '10',
    ...over,
  };
}

/** The leader `n1`: lease valid for 20 more seconds, last cycle 1 s ago, ttl 30, loop_wait 10. */
export function leaderView(over: Partial<NodeView> = {}): NodeView {
  return {
    name: 'n1', scope: 'batman', version: '0.1.0', state: 'running', role: 'primary',
    pg: primaryPg(), cluster: cluster(), dcsLastSeenEpoch: 1_795_348_268,
    leaderUntil: NOW + 20_000, lastCycleAt: NOW - 1_000, reason: 'no action: I am the leader with the lock',
    tags: {}, paused: false, failsafeMode: false, failsafeActive: false, failsafeLeader: null, ttlSeconds: 30, loopWaitSeconds: 10, clusterOptime: 67_108_864,
    pendingRestart: false, scheduledRestart: null, action: null, watchdog: null,
    ...over,
  };
}

/** A streaming replica `n2` of leader `n1`. */
export function replicaView(over: Partial<NodeView> = {}): NodeView {
  return leaderView({ name: 'n2', role: 'replica', pg: replicaPg(), leaderUntil: null, reason: 'following n1', ...over });
}

/** A clock frozen at the fixtures' times (tests move it by assigning `mono`). */
export function fixedClock(mono = NOW, wall = WALL): Clock & { mono: number } {
  return {
    mono,
    now() { return this.mono; },
    wallNow: () => wall,
  };
}
