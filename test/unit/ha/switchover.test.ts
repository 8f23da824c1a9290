import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FailoverRequest } from '../../../src/domain/cluster.js';
import { decide } from '../../../src/ha/decide.js';
import { scheduleState } from '../../../src/ha/switchover.js';
import type { PgStatus } from '../../../src/domain/pg-status.js';
import type { Action, Observation } from '../../../src/ha/types.js';
import { cluster, mem, obs, peer, primaryPg, replicaPg, stoppedPg, withLeader } from './builders.js';

const WALL = Date.parse('2026-11-22T12:00:00Z');
const iso = (offsetMs: number): string => new Date(WALL + offsetMs).toISOString();

const streamingRow = (name: string) => ({ usename: 'replicator', application_name: name, client_addr: '127.0.0.1', state: 'streaming', sync_state: 'async', sync_priority: 0 });

/** The leader n1 (primary, lease valid, n2 and n3 streaming from it) with a failover request. */
function leaderWith(f: FailoverRequest, over: Partial<Observation> = {}): Observation {
  return obs({
    pg: { ...primaryPg(5000), replication: [streamingRow('n2'), streamingRow('n3')] } as PgStatus,
    dcs: { ok: true, cluster: { ...withLeader(cluster({ optime: 5000 }), 'n1'), failover: f, failoverModRevision: '42' } },
    leaderUntil: 108_000,
    ...over,
  });
}

/** Replica `self` with no leader key and a failover request. */
function noLeaderWith(self: string, f: FailoverRequest, over: Partial<Observation> = {}): Observation {
  return obs({
    self: { name: self, nofailover: false, replicatefrom: null, canBootstrap: true },
    pg: replicaPg(5000),
    dcs: { ok: true, cluster: { ...cluster({ optime: 5000 }), failover: f, failoverModRevision: '42' } },
    ...over,
  });
}

const types = (a: Action[]): string[] => a.map((x) => x.type);

describe('switchover and failover requests', () => {
  it('a due switchover first asks the named candidate where it is', () => {
    const d = decide(leaderWith({ leader: 'n1', member: 'n2' }), mem());
    assert.deepEqual(d.actions, [{ type: 'probePeers', members: [{ name: 'n2', apiUrl: 'http://127.0.0.1:8433/patroni' }] }]);
  });

  it('with a healthy candidate the leader keeps the key and starts the planned demotion', () => {
    const d = decide(leaderWith({ leader: 'n1', member: 'n2' }, { peers: [peer('n2', { lsn: 5000 })] }), mem());
    assert.deepEqual(types(d.actions), ['renewLeader', 'switchover']);
    assert.deepEqual(d.actions[1], { type: 'switchover', candidates: [{ name: 'n2', host: '127.0.0.1', port: 5433 }] });
    assert.match(d.reason, /switching over to n2/);
  });

  it('a switchover without a candidate considers every fit member', () => {
    const d = decide(leaderWith({ leader: 'n1' }, { peers: [peer('n2'), peer('n3', { nofailover: true })] }), mem());
    assert.deepEqual(types(d.actions), ['renewLeader', 'switchover']);
    const sw = d.actions[1] as Extract<Action, { type: 'switchover' }>;
    assert.deepEqual(sw.candidates.map((c) => c.name), ['n2']);
  });

  const refusals: { name: string; f: FailoverRequest; peers?: Observation['peers']; pg?: PgStatus; paused?: boolean; why: RegExp }[] = [
    { name: 'an unreachable candidate', f: { leader: 'n1', member: 'n2' }, peers: [peer('n2', { reachable: false })], why: /n2 is not reachable/ },
    { name: 'a nofailover candidate', f: { member: 'n2' }, peers: [peer('n2', { nofailover: true })], why: /n2 is tagged nofailover/ },
    { name: 'a lagging candidate', f: { member: 'n2' }, peers: [peer('n2', { lsn: 5000 - 2_000_000 })], why: /behind, beyond maximum_lag_on_failover/ },
    { name: 'a candidate that does not stream from the leader', f: { member: 'n2' }, peers: [peer('n2')], pg: { ...primaryPg(5000), replication: [streamingRow('n3')] } as PgStatus, why: /n2 is not streaming from me/ },
    { name: 'a candidate that is not a member', f: { member: 'n9' }, why: /n9 is not a member/ },
    { name: 'a request from another leader', f: { leader: 'n3', member: 'n2' }, why: /from n3, but I am the leader/ },
    { name: 'a request naming the leader itself', f: { member: 'n1' }, why: /already the leader/ },
    { name: 'a candidate-less switchover while paused', f: { leader: 'n1' }, paused: true, why: /paused cluster a switchover needs a named candidate/ },
    { name: 'an unparseable time', f: { leader: 'n1', scheduled_at: 'tomorrow-ish' }, why: /not a valid time/ },
    { name: 'a missed schedule', f: { leader: 'n1', scheduled_at: iso(-60_000) }, why: /missed by 60 s/ },
  ];
  for (const r of refusals) {
    it(`the leader clears ${r.name} with the reason and keeps leading`, () => {
      const base = leaderWith(r.f, { ...(r.peers ? { peers: r.peers } : {}), ...(r.pg ? { pg: r.pg } : {}) });
      const o = r.paused ? { ...base, settings: { ...base.settings, paused: true } } : base;
      const d = decide(o, mem());
      assert.equal(d.actions[0]?.type, 'renewLeader');
      const clear = d.actions.find((a) => a.type === 'clearFailover');
      assert.ok(clear, `expected clearFailover, got ${types(d.actions).join(',')}`);
      assert.equal((clear as Extract<Action, { type: 'clearFailover' }>).modRevision, '42');
      assert.match(d.reason, r.why);
      assert.ok(!d.actions.some((a) => a.type === 'switchover' || a.type === 'stop'));
    });
  }

  it('the new leader clears the finished request', () => {
    const o = leaderWith({ leader: 'n3', member: 'n1' });
    const d = decide(o, mem());
    assert.match(d.reason, /switchover from n3 to me is done/);
    assert.ok(d.actions.some((a) => a.type === 'clearFailover'));
  });

  it('a scheduled switchover waits for its time while the leader leads as usual', () => {
    const d = decide(leaderWith({ leader: 'n1', member: 'n2', scheduled_at: iso(30_000) }), mem());
    assert.equal(d.actions[0]?.type, 'renewLeader');
    assert.ok(!d.actions.some((a) => a.type === 'switchover' || a.type === 'clearFailover' || a.type === 'probePeers'));
    assert.match(d.reason, /scheduled at .* \(in 30 s\)/);
  });

  it('a scheduled switchover whose time has come runs', () => {
    const d = decide(leaderWith({ leader: 'n1', member: 'n2', scheduled_at: iso(-1_000) }, { peers: [peer('n2', { lsn: 5000 })] }), mem());
    assert.deepEqual(types(d.actions), ['renewLeader', 'switchover']);
  });

  it('after the demotion succeeded the old leader releases the key and follows the candidate', () => {
    const o = leaderWith({ leader: 'n1', member: 'n2' }, { pg: stoppedPg('shut down'), finished: { kind: 'demote', ok: true, finishedAt: 99_000 } });
    const d = decide(o, mem());
    assert.deepEqual(d.actions, [
      { type: 'releaseLeader' },
      { type: 'start', role: 'replica', upstream: { name: 'n2', host: '127.0.0.1', port: 5433 } },
    ]);
    assert.equal(d.memory.following, 'n2');
  });

  it('after an aborted demotion (task failed) the leader does not release the key', () => {
    const o = leaderWith({}, { pg: primaryPg(5000), finished: { kind: 'demote', ok: false, error: 'x', finishedAt: 99_000 } });
    const d = decide({ ...o, dcs: { ok: true, cluster: withLeader(cluster({ optime: 5000 }), 'n1') } }, mem());
    assert.ok(!d.actions.some((a) => a.type === 'releaseLeader'));
  });

  it('the named candidate takes the free key and promotes, even when paused', () => {
    const o = noLeaderWith('n2', { leader: 'n1', member: 'n2' });
    for (const paused of [false, true]) {
      const d = decide({ ...o, settings: { ...o.settings, paused } }, mem());
      assert.deepEqual(d.actions, [{ type: 'acquireLeader', promote: true }]);
      assert.match(d.reason, /switchover to me was requested/);
    }
  });

  it('a named candidate tagged nofailover does not take the key on request', () => {
    const o = noLeaderWith('n2', { member: 'n2' }, { self: { name: 'n2', nofailover: true, replicatefrom: null, canBootstrap: true } });
    const d = decide(o, mem());
    assert.ok(!d.actions.some((a) => a.type === 'acquireLeader'));
  });

  it('other replicas leave the free key to a healthy candidate', () => {
    const o = noLeaderWith('n3', { leader: 'n1', member: 'n2' }, { peers: [peer('n1', { reachable: false }), peer('n2', { lsn: 4000 })] });
    const d = decide({ ...o, pg: replicaPg(5000) }, mem());
    assert.deepEqual(d.actions, []);
    assert.match(d.reason, /n2, the requested candidate, is healthy/);
  });

  it('other replicas race as usual when the candidate is gone', () => {
    const o = noLeaderWith('n3', { leader: 'n1', member: 'n2' }, { peers: [peer('n1', { reachable: false }), peer('n2', { reachable: false })] });
    const d = decide(o, mem());
    assert.deepEqual(d.actions, [{ type: 'acquireLeader', promote: true }]);
  });

  it('the former leader leaves the key to a replica after a switchover to anyone', () => {
    const o = noLeaderWith('n1', { leader: 'n1' }, { peers: [peer('n2', { lsn: 5000 }), peer('n3', { lsn: 5000 })] });
    const d = decide(o, mem());
    assert.deepEqual(d.actions, []);
    assert.match(d.reason, /I switched over/);
  });

  it('a future scheduled request does not make the candidate jump the gun', () => {
    const o = noLeaderWith('n2', { leader: 'n1', member: 'n2', scheduled_at: iso(60_000) }, { peers: [peer('n1', { reachable: false }), peer('n3', { lsn: 6000 })] });
    const d = decide(o, mem());
    assert.match(d.reason, /n3 is ahead of me/);
  });
});

describe('scheduleState', () => {
  const cases: [FailoverRequest, ScheduleKind][] = [
    [{}, 'due'],
    [{ scheduled_at: iso(5_000) }, 'waiting'],
    [{ scheduled_at: iso(-2_000) }, 'due'],
    [{ scheduled_at: iso(-11_000) }, 'missed'],
    [{ scheduled_at: 'never' }, 'invalid'],
  ];
  for (const [f, kind] of cases) {
    it(`${JSON.stringify(f)} is ${kind}`, () => assert.equal(scheduleState(f, WALL, 2_000).kind, kind));
  }
});

type ScheduleKind = ReturnType<typeof scheduleState>['kind'];

describe('pause and a free leader key', () => {
  it('a paused primary retakes the free key without promoting anything', () => {
    const o = obs({ pg: primaryPg(5000), dcs: { ok: true, cluster: cluster({ optime: 5000 }) } });
    const d = decide({ ...o, settings: { ...o.settings, paused: true } }, mem());
    assert.deepEqual(d.actions, [{ type: 'acquireLeader', promote: false }]);
  });
  it('a paused replica does not race for the free key', () => {
    const o = obs({ pg: replicaPg(5000), dcs: { ok: true, cluster: cluster({ optime: 5000 }) } });
    const d = decide({ ...o, settings: { ...o.settings, paused: true } }, mem());
    assert.deepEqual(d.actions, []);
    assert.match(d.reason, /paused/);
  });
  it('a paused primary behind the cluster timeline is left alone (no demotion)', () => {
    const o = obs({ pg: primaryPg(5000, 1), dcs: { ok: true, cluster: cluster({ optime: 5000, history: [[1, 4000, 'no recovery target specified']] }) } });
    const d = decide({ ...o, settings: { ...o.settings, paused: true } }, mem());
    assert.deepEqual(d.actions, []);
  });
});
