/**
 * One case per decision defect the simulation found (issue 4, letters as in the commit that
 * fixed them): each pins the rule, so a regression fails here with a readable case instead of
 * only as a seed in the simulation.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClusterSnapshot, SyncState } from '../../../src/domain/cluster.js';
import type { PgStatus, ReplicationRow } from '../../../src/domain/pg-status.js';
import { decide } from '../../../src/ha/decide.js';
import { failsafeAudience, LEADER_BEFORE_START } from '../../../src/ha/failsafe.js';
import type { Observation } from '../../../src/ha/types.js';
import { cluster, mem, obs, peer, primaryPg, replicaPg, stoppedPg, withLeader } from './builders.js';

type RunningPg = Extract<PgStatus, { running: true }>;
const SYNC = { synchronousMode: true, synchronousModeStrict: false, synchronousNodeCount: 1 };
const streaming = (name: string, sync_state = 'sync'): ReplicationRow => ({
  usename: 'replicator', application_name: name, client_addr: '127.0.0.1', state: 'streaming', sync_state, sync_priority: 1,
});

/** Node `name` with `pg`, reading `c`, with these settings on top of the defaults. */
function at(name: string, pg: PgStatus, c: ClusterSnapshot, settings: Partial<Observation['settings']> = {}, over: Partial<Observation> = {}): Observation {
  const base = obs();
  return { ...base, self: { ...base.self, name }, pg, settings: { ...base.settings, ...settings }, dcs: { ok: true, cluster: c }, ...over };
}

const syncKey = (leader: string, ...standbys: string[]): Partial<ClusterSnapshot> => ({ sync: { leader, standbys } as SyncState, syncModRevision: '42' });

describe('requested candidates obey the same keys as any racer', () => {
  it('A: a failover candidate that confirmed a failsafe leader within ttl does not take the key', () => {
    const c = cluster({ failover: { member: 'n2' }, failoverModRevision: '9' });
    const d = decide(at('n2', replicaPg(), c, { failsafeMode: true }, { failsafeLeader: { name: 'n1', ageMs: 2_000 } }), mem());
    assert.deepEqual(d.actions, []);
    assert.match(d.reason, /n1 confirmed 2(\.0)? s ago that it leads/);
  });

  it('E: in synchronous mode a candidate the sync key does not name does not take the key', () => {
    const c = cluster({ failover: { member: 'n3' }, failoverModRevision: '9', ...syncKey('n1', 'n2') });
    const d = decide(at('n3', replicaPg(), c, SYNC), mem());
    assert.deepEqual(d.actions, []);
    assert.match(d.reason, /not racing: synchronous_mode is on and the sync key names n1, n2, not n3/);
  });

  it('E: the sync standby named in the request takes the key and claims the sync key in the same step', () => {
    const c = cluster({ failover: { member: 'n2' }, failoverModRevision: '9', ...syncKey('n1', 'n2') });
    assert.deepEqual(decide(at('n2', replicaPg(), c, SYNC), mem()).actions, [{ type: 'acquireLeader', promote: true, takeSync: '42' }]);
  });
});

describe('I: a primary without the key re-takes it only when it may lead', () => {
  it('demotes when the sync key names another leader and standbys', () => {
    const d = decide(at('n3', primaryPg(), cluster(syncKey('n2', 'n1')), SYNC), mem());
    assert.deepEqual(d.actions, [{ type: 'stop', mode: 'immediate' }]);
    assert.match(d.reason, /^demoting: not racing: synchronous_mode is on and the sync key names n2, n1, not n3/);
  });

  it('re-takes the key when the sync key names it as leader', () => {
    assert.deepEqual(decide(at('n1', primaryPg(), cluster(syncKey('n1', 'n2')), SYNC), mem()).actions, [{ type: 'acquireLeader', promote: false }]);
  });

  it('in a paused cluster only says so', () => {
    const d = decide(at('n3', primaryPg(), cluster(syncKey('n2', 'n1')), { ...SYNC, paused: true }), mem());
    assert.deepEqual(d.actions, []);
    assert.match(d.reason, /^paused: .*but not demoting/);
  });
});

describe('F: switchovers go only to nodes that may lead', () => {
  function leaderWithRequest(member: string | undefined, sync: Partial<ClusterSnapshot>): Observation {
    const pg = { ...(primaryPg() as RunningPg), replication: [streaming('n2'), streaming('n3', 'async')], syncStandbyNames: '1 ("n2")' };
    const c = withLeader(cluster({ failover: { leader: 'n1', ...(member ? { member } : {}) }, failoverModRevision: '9', ...sync }), 'n1');
    return at('n1', pg, c, SYNC, { leaderUntil: obs().now + 8_000, peers: [peer('n2'), peer('n3')] });
  }

  it('a switchover to an asynchronous standby is refused with the reason', () => {
    const d = decide(leaderWithRequest('n3', syncKey('n1', 'n2')), mem());
    assert.equal(d.actions.find((a) => a.type === 'switchover'), undefined);
    assert.match(d.reason, /n3 may not lead: synchronous_mode is on and the sync key names n1, n2, not n3/);
  });

  it('a switchover to anyone goes to the synchronous standby only', () => {
    const d = decide(leaderWithRequest(undefined, syncKey('n1', 'n2')), mem());
    const sw = d.actions.find((a) => a.type === 'switchover');
    assert.deepEqual(sw?.type === 'switchover' ? sw.candidates.map((c) => c.name) : null, ['n2']);
  });

  it('the former leader does not defer to an heir that may not lead or is behind it', () => {
    const request = { failover: { leader: 'n1' }, failoverModRevision: '9' };
    const race = (peers: ReturnType<typeof peer>[], extra: Partial<ClusterSnapshot>, settings: Partial<Observation['settings']> = {}) =>
      decide(at('n1', replicaPg(5_000), cluster({ ...request, optime: 5_000, ...extra }), settings, { peers }), mem());
    assert.match(race([peer('n2', { lsn: 5_000 })], {}).reason, /I switched over, n2 can take the key/);
    assert.equal(race([peer('n2', { lsn: 5_000 })], syncKey('n1'), SYNC).actions[0]?.type, 'acquireLeader');
    assert.equal(race([peer('n2', { lsn: 4_999 })], {}).actions[0]?.type, 'acquireLeader');
  });
});

describe('D: a leader restarting its primary in place in synchronous mode', () => {
  it('starts it with the sync key standbys in synchronous_standby_names', () => {
    const c = withLeader(cluster(syncKey('n1', 'n2')), 'n1');
    const d = decide(at('n1', stoppedPg('shut down'), c, SYNC, { leaderUntil: obs().now + 8_000 }), mem());
    assert.deepEqual(d.actions, [{ type: 'renewLeader' }, { type: 'start', role: 'primary', syncStandbyNames: '1 ("n2")' }]);
  });

  it('in strict mode with no standby named, makes commits wait for any standby', () => {
    const c = withLeader(cluster(syncKey('n1')), 'n1');
    const d = decide(at('n1', stoppedPg('shut down'), c, { ...SYNC, synchronousModeStrict: true }, { leaderUntil: obs().now + 8_000 }), mem());
    assert.deepEqual(d.actions[1], { type: 'start', role: 'primary', syncStandbyNames: '*' });
  });

  it('outside synchronous mode leaves the setting alone', () => {
    const d = decide(at('n1', stoppedPg('shut down'), withLeader(cluster(), 'n1'), {}, { leaderUntil: obs().now + 8_000 }), mem());
    assert.deepEqual(d.actions[1], { type: 'start', role: 'primary' });
  });
});

describe('H: a replica holding the leader key promotes only once the sync key is its own', () => {
  const holder = (sync: Partial<ClusterSnapshot>) => at('n2', replicaPg(), withLeader(cluster(sync), 'n2'), SYNC, { leaderUntil: obs().now + 8_000 });

  it('claims a sync key that names it as standby, then promotes (the claim failing stops the promotion)', () => {
    assert.deepEqual(decide(holder(syncKey('n1', 'n2')), mem()).actions, [
      { type: 'renewLeader' }, { type: 'writeSync', value: { leader: 'n2', standbys: [] }, modRevision: '42' }, { type: 'promote' },
    ]);
  });

  it('releases the key when the sync key does not name it', () => {
    const d = decide(holder(syncKey('n1', 'n3')), mem());
    assert.deepEqual(d.actions, [{ type: 'releaseLeader' }]);
    assert.match(d.reason, /releasing the leader key without promoting/);
  });

  it('promotes at once when it already claimed the key', () => {
    assert.deepEqual(decide(holder(syncKey('n2')), mem()).actions, [{ type: 'renewLeader' }, { type: 'promote' }]);
  });
});

describe('G: the leader keeps the failsafe key current also while it clears a request', () => {
  it('writes the failsafe key in the same cycle as the clearing', () => {
    const c = withLeader(cluster({ failover: { leader: 'n9', member: 'n2' }, failoverModRevision: '9', failsafe: { n1: 'x' } }), 'n1');
    const d = decide(at('n1', primaryPg(), c, { failsafeMode: true }, { leaderUntil: obs().now + 8_000 }), mem());
    assert.equal(d.actions[1]?.type, 'clearFailover');
    assert.ok(d.actions.some((a) => a.type === 'writeFailsafe'), JSON.stringify(d.actions));
  });
});

describe('B: failsafe rounds ask everyone the failsafe key listed', () => {
  it('the audience is the last members plus the failsafe key, without this node', () => {
    const m = mem({ lastMembers: [{ name: 'n1', apiUrl: 'a1' }], lastFailsafe: [{ name: 'n1', apiUrl: 'a1' }, { name: 'n3', apiUrl: 'a3' }] });
    assert.deepEqual(failsafeAudience(m, 'n1'), [{ name: 'n3', apiUrl: 'a3' }]);
  });

  it('a cut-off primary pings the members of the failsafe key it last read', () => {
    const c = withLeader(cluster({ failsafe: { n1: 'a1', n2: 'a2', n3: 'a3' } }), 'n1');
    const remembered = decide(at('n1', primaryPg(), c, { failsafeMode: true }, { leaderUntil: obs().now + 8_000 }), mem({ lastMembers: [] })).memory;
    const cut = { ...at('n1', primaryPg(), c, { failsafeMode: true }, { leaderUntil: obs().now + 8_000 }), dcs: { ok: false as const, error: 'no answer' } };
    const d = decide(cut, { ...remembered, lastMembers: [{ name: 'n1', apiUrl: 'a1' }] });
    assert.deepEqual(d.actions, [{ type: 'failsafePing', members: [{ name: 'n2', apiUrl: 'a2' }, { name: 'n3', apiUrl: 'a3' }] }]);
  });

  it('a racing replica also asks the members only the failsafe key names', () => {
    const c = cluster({ members: [], failsafe: { n1: 'a1', n2: 'a2' } });
    const d = decide(at('n2', replicaPg(), c, { failsafeMode: true }), mem());
    assert.deepEqual(d.actions, [{ type: 'probePeers', members: [{ name: 'n1', apiUrl: 'a1' }] }]);
  });
});

describe('a restarted agent in failsafe mode', () => {
  it('does not race within ttl of its start: it may have confirmed a failsafe leader just before', () => {
    const o = (ageMs: number, failsafeMode = true) => at('n2', replicaPg(), cluster(), { failsafeMode }, { failsafeLeader: { name: LEADER_BEFORE_START, ageMs } });
    assert.match(decide(o(4_000), mem()).reason, /this agent started 4(\.0)? s ago and may have confirmed a failsafe leader/);
    assert.equal(decide(o(10_000), mem()).actions[0]?.type, 'probePeers');
    assert.equal(decide(o(4_000, false), mem()).actions[0]?.type, 'probePeers');
  });
});

describe('known_gone_nodes', () => {
  it('are neither probed in a race nor asked in a failsafe round', () => {
    const gone = { knownGoneNodes: ['n3'] };
    assert.deepEqual(decide(at('n2', replicaPg(), cluster(), gone), mem()).actions, [
      { type: 'probePeers', members: [{ name: 'n1', apiUrl: 'http://127.0.0.1:8432/patroni' }] },
    ]);
    const m = mem({ lastMembers: [{ name: 'n1', apiUrl: 'a1' }, { name: 'n2', apiUrl: 'a2' }, { name: 'n3', apiUrl: 'a3' }] });
    assert.deepEqual(failsafeAudience(m, 'n1', ['n3']), [{ name: 'n2', apiUrl: 'a2' }]);
  });
});
