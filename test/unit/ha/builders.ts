import type { ClusterSnapshot, Member } from '../../../src/domain/cluster.js';
import type { PeerStatus } from '../../../src/domain/peer.js';
import type { PgStatus } from '../../../src/domain/pg-status.js';
import { initialMemory, type Memory, type Observation } from '../../../src/ha/types.js';

export function member(name: string, port: number, extra: Partial<Member['data']> = {}): Member {
  return {
    name,
    data: {
      conn_url: `postgres://127.0.0.1:${port}/postgres`,
      api_url: `http://127.0.0.1:${port + 3000}/patroni`,
      state: 'running',
      role: 'replica',
      version: '0.1.0',
      ...extra,
    },
  };
}

export function cluster(over: Partial<ClusterSnapshot> = {}): ClusterSnapshot {
  return {
    initialize: '7000000000000000001',
    config: { ttl: 10 },
    configModRevision: '5',
    leader: null,
    members: [member('n1', 5432), member('n2', 5433), member('n3', 5434)],
    optime: 1000,
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

export function withLeader(c: ClusterSnapshot, name: string): ClusterSnapshot {
  return { ...c, leader: { name, modRevision: '7' } };
}

export const SYSID = '7000000000000000001';

export function primaryPg(lsn = 1000, timeline = 1): PgStatus {
  return {
    running: true, dataDirInitialized: true, systemIdentifier: SYSID, inRecovery: false, timeline, lsn,
    receivedLsn: null, replayedLsn: null, replayedTimestamp: null, replayPaused: false,
    postmasterStartTime: '2026-11-22 10:00:00+00', serverVersion: 150018, replication: [], upstream: null, pendingRestart: false, syncStandbyNames: '', syncStandbyNamesOverridden: false,
  };
}

export function replicaPg(lsn = 1000, upstream: string | null = '127.0.0.1:5432'): PgStatus {
  return { ...primaryPg(lsn), inRecovery: true, receivedLsn: lsn, replayedLsn: lsn, upstream } as PgStatus;
}

export function stoppedPg(controlState: string | null = 'shut down in recovery'): PgStatus {
  return { running: false, postmasterAlive: false, dataDirInitialized: true, systemIdentifier: SYSID, controlState, timeline: 1 };
}

export function emptyPg(): PgStatus {
  return { running: false, postmasterAlive: false, dataDirInitialized: false, systemIdentifier: null, controlState: null, timeline: null };
}

export function peer(name: string, over: Partial<PeerStatus> = {}): PeerStatus {
  return { name, reachable: true, isPrimary: false, lsn: 1000, timeline: 1, nofailover: false, watchdogFailed: false, ...over };
}

export function obs(over: Partial<Observation> = {}): Observation {
  return {
    now: 100_000,
    wallNow: Date.parse('2026-11-22T12:00:00Z'),
    self: { name: 'n1', nofailover: false, replicatefrom: null, canBootstrap: true },
    settings: {
      ttlMs: 10_000, loopWaitMs: 2_000, retryTimeoutMs: 3_000, maximumLagOnFailover: 1_048_576,
      primaryStartTimeoutMs: 300_000, paused: false, useSlots: true, usePgRewind: true,
      synchronousMode: false, synchronousModeStrict: false, synchronousNodeCount: 1, failsafeMode: false,
      maximumLagOnSyncnode: -1, knownGoneNodes: [],
    },
    dcs: { ok: true, cluster: cluster() },
    pg: replicaPg(),
    leaderUntil: null,
    task: null,
    finished: null,
    peers: null,
    failsafe: null,
    failsafeLeader: null,
    ...over,
  };
}

export function mem(over: Partial<Memory> = {}): Memory {
  return { ...initialMemory, ...over };
}
