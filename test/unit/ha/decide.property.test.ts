import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { ClusterSnapshot } from '../../../src/domain/cluster.js';
import type { PeerStatus } from '../../../src/domain/peer.js';
import type { PgStatus } from '../../../src/domain/pg-status.js';
import { decide } from '../../../src/ha/decide.js';
import type { Memory, Observation } from '../../../src/ha/types.js';
import { EXECUTED_ACTIONS } from '../../../src/loop/executors.js';
import { cluster, emptyPg, member, obs, primaryPg, replicaPg, stoppedPg, SYSID } from './builders.js';

const names = ['n1', 'n2', 'n3'];

const pgArb: fc.Arbitrary<PgStatus> = fc.oneof(
  fc.nat({ max: 5000 }).map((lsn) => primaryPg(lsn)),
  fc.tuple(fc.nat({ max: 5000 }), fc.integer({ min: 1, max: 3 })).map(([lsn, tl]) => primaryPg(lsn, tl)),
  fc.nat({ max: 5000 }).map((lsn) => replicaPg(lsn)),
  fc.constantFrom('in production', 'shut down', 'shut down in recovery', 'in archive recovery', null).map((s) => stoppedPg(s)),
  fc.constant(emptyPg()),
  fc.constant<PgStatus>({ running: false, postmasterAlive: true, dataDirInitialized: true, systemIdentifier: SYSID, controlState: null, timeline: null }),
);

const clusterArb: fc.Arbitrary<ClusterSnapshot> = fc
  .record({
    leader: fc.option(fc.constantFrom(...names), { nil: null }),
    initialize: fc.constantFrom<string | null>(SYSID, '', null),
    optime: fc.option(fc.nat({ max: 5000 }), { nil: null }),
    timeline: fc.integer({ min: 1, max: 3 }),
  })
  .map(({ leader, initialize, optime, timeline }) =>
    cluster({
      leader: leader ? { name: leader, modRevision: '3' } : null,
      initialize,
      optime,
      members: names.map((n, i) => member(n, 5432 + i)),
      history: Array.from({ length: timeline - 1 }, (_, i) => [i + 1, 100 * (i + 1), 'promoted'] as [number, number, string]),
    }),
  );

const peersArb: fc.Arbitrary<PeerStatus[] | null> = fc.option(
  fc.array(
    fc.record({
      name: fc.constantFrom('n2', 'n3'),
      reachable: fc.boolean(),
      isPrimary: fc.boolean(),
      lsn: fc.option(fc.nat({ max: 5000 }), { nil: null }),
      timeline: fc.constant(1),
      nofailover: fc.boolean(),
      watchdogFailed: fc.constant(false),
    }),
    { maxLength: 2 },
  ),
  { nil: null },
);

const obsArb: fc.Arbitrary<Observation> = fc
  .record({
    pg: pgArb,
    dcs: fc.oneof(clusterArb.map((c) => ({ ok: true as const, cluster: c })), fc.constant({ ok: false as const, error: 'timeout' })),
    paused: fc.boolean(),
    nofailover: fc.boolean(),
    leaderLeft: fc.option(fc.integer({ min: -5_000, max: 10_000 }), { nil: null }),
    task: fc.option(fc.constantFrom('bootstrap', 'clone', 'start', 'promote', 'rejoin' as const), { nil: null }),
    peers: peersArb,
    startTimeout: fc.constantFrom(0, 300_000),
  })
  .map((r) => {
    const base = obs();
    return obs({
      pg: r.pg,
      dcs: r.dcs,
      self: { ...base.self, nofailover: r.nofailover },
      settings: { ...base.settings, paused: r.paused, primaryStartTimeoutMs: r.startTimeout },
      leaderUntil: r.leaderLeft === null ? null : base.now + r.leaderLeft,
      task: r.task ? { kind: r.task, startedAt: base.now - 1_000 } : null,
      peers: r.peers,
    });
  });

const memArb: fc.Arbitrary<Memory> = fc.record({
  crashedSince: fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: null }),
  lastMembers: fc.constant([]),
  lastFailsafe: fc.constant([]),
  following: fc.option(fc.constantFrom(...names), { nil: null }),
  mustCheckDivergence: fc.boolean(),
  notStreamingSince: fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: null }),
  stalledRejoins: fc.integer({ min: 0, max: 8 }),
});

const holdsKey = (o: Observation) => o.dcs.ok && o.dcs.cluster.leader?.name === o.self.name;
const runsPrimary = (o: Observation) => o.pg.running && !o.pg.inRecovery;
const types = (o: Observation, m: Memory) => decide(o, m).actions.map((a) => a.type);

describe('decide invariants', () => {
  it('every action decide emits has an executor in the shell', () => {
    fc.assert(fc.property(obsArb, memArb, (o, m) => types(o, m).every((t) => EXECUTED_ACTIONS.includes(t))), { numRuns: 3000 });
  });

  it('a node promotes only while etcd shows it holds the leader key', () => {
    fc.assert(fc.property(obsArb, memArb, (o, m) => !types(o, m).includes('promote') || holdsKey(o)), { numRuns: 3000 });
  });

  it('never races with promotion while a reachable peer reports a running primary', () => {
    fc.assert(
      fc.property(obsArb, memArb, (o, m) => {
        const livePrimary = (o.peers ?? []).some((p) => p.reachable && p.isPrimary);
        const promoting = decide(o, m).actions.some((a) => a.type === 'acquireLeader' && a.promote);
        return !(livePrimary && promoting);
      }),
      { numRuns: 3000 },
    );
  });

  it('a nofailover node never races for promotion', () => {
    fc.assert(
      fc.property(obsArb, memArb, (o, m) => !o.self.nofailover || !decide(o, m).actions.some((a) => a.type === 'acquireLeader' && a.promote)),
      { numRuns: 3000 },
    );
  });

  it('a primary that sees another leader, or cannot reach etcd near lease expiry, stops unless paused', () => {
    fc.assert(
      fc.property(obsArb, memArb, (o, m) => {
        if (!runsPrimary(o) || o.settings.paused || o.task) return true;
        const otherLeader = o.dcs.ok && o.dcs.cluster.leader !== null && o.dcs.cluster.leader.name !== o.self.name;
        const left = o.leaderUntil === null ? 0 : o.leaderUntil - o.now;
        const blind = !o.dcs.ok && left <= 2 * o.settings.retryTimeoutMs;
        const sysidOk = !o.dcs.ok || !o.dcs.cluster.initialize || o.dcs.cluster.initialize === SYSID;
        if (!(otherLeader || blind) || !sysidOk) return true;
        return types(o, m).includes('stop');
      }),
      { numRuns: 3000 },
    );
  });

  it('every decision explains itself in one sentence', () => {
    fc.assert(fc.property(obsArb, memArb, (o, m) => {
      const r = decide(o, m).reason;
      return r.length > 10 && !r.includes('\n') && !r.includes('undefined');
    }), { numRuns: 2000 });
  });
});
