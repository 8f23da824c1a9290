import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide } from '../../../src/ha/decide.js';
import { failsafeChores } from '../../../src/ha/failsafe.js';
import type { Observation } from '../../../src/ha/types.js';
import { cluster, mem, obs, peer, primaryPg, replicaPg, withLeader } from './builders.js';

const MEMBERS = [{ name: 'n1', apiUrl: 'http://127.0.0.1:8432/patroni' }, { name: 'n2', apiUrl: 'http://127.0.0.1:8433/patroni' }, { name: 'n3', apiUrl: 'http://127.0.0.1:8434/patroni' }];

/** The primary n1 that cannot reach etcd, holding its lease for `leftMs` more. */
function cutOff(leftMs: number, failsafe: Observation['failsafe'], failsafeMode = true): Observation {
  const base = obs();
  return {
    ...base,
    pg: primaryPg(),
    leaderUntil: base.now + leftMs,
    dcs: { ok: false, error: 'etcd did not answer' },
    settings: { ...base.settings, failsafeMode },
    failsafe,
  };
}

describe('failsafe mode: a primary cut off from etcd', () => {
  it('first asks every other member to confirm it, before looking at the clock', () => {
    const d = decide(cutOff(4_000, null), mem({ lastMembers: MEMBERS }));
    assert.deepEqual(d.actions, [{ type: 'failsafePing', members: MEMBERS.slice(1) }]);
  });

  it('keeps the primary running when all of them confirmed', () => {
    const d = decide(cutOff(9_900, { accepted: ['n2', 'n3'], refused: [] }), mem({ lastMembers: MEMBERS }));
    assert.deepEqual(d.actions, []);
    assert.match(d.reason, /failsafe mode: all 2 member\(s\) confirmed me as leader, keeping the primary running/);
  });

  it('demotes as without failsafe when one member did not confirm and the lease is short', () => {
    const d = decide(cutOff(4_000, { accepted: ['n2'], refused: ['n3'] }), mem({ lastMembers: MEMBERS }));
    assert.deepEqual(d.actions, [{ type: 'stop', mode: 'fast' }]);
    assert.match(d.reason, /no confirmation from n3/);
  });

  it('does not ask once its lease has run out (another node may lead), nor with failsafe mode off', () => {
    assert.deepEqual(decide(cutOff(0, null), mem({ lastMembers: MEMBERS })).actions, [{ type: 'stop', mode: 'fast' }]);
    assert.deepEqual(decide(cutOff(4_000, null, false), mem({ lastMembers: MEMBERS })).actions, [{ type: 'stop', mode: 'fast' }]);
  });
});

describe('failsafe mode: the failsafe key and the race', () => {
  it('the leader keeps failsafe equal to the members\' api_urls, and deletes it when the mode is off', () => {
    const base = obs();
    const c = withLeader(cluster(), 'n1');
    const on = { ...base, settings: { ...base.settings, failsafeMode: true } };
    const expected = Object.fromEntries(c.members.map((m) => [m.name, m.data.api_url]));
    assert.deepEqual(failsafeChores(on, c), [{ type: 'writeFailsafe', members: expected }]);
    assert.deepEqual(failsafeChores(on, { ...c, failsafe: expected }), []);
    assert.deepEqual(failsafeChores(base, { ...c, failsafe: expected }), [{ type: 'writeFailsafe', members: null }]);
    assert.deepEqual(failsafeChores(base, c), []);
  });

  function replicaRace(over: Partial<Observation>): Observation {
    const base = obs();
    return { ...base, pg: replicaPg(1000), settings: { ...base.settings, failsafeMode: true }, peers: [peer('n2', { lsn: 900 }), peer('n3', { lsn: 900 })], ...over };
  }

  it('a replica that heard from the leader within ttl does not race for the expired key', () => {
    const d = decide(replicaRace({ self: { ...obs().self, name: 'n2' }, failsafeLeader: { name: 'n1', ageMs: 3_000 } }), mem());
    assert.deepEqual(d.actions, []);
    assert.match(d.reason, /n1 confirmed 3(\.0)? s ago that it leads \(failsafe mode\)/);
    const stale = decide(replicaRace({ self: { ...obs().self, name: 'n2' }, peers: [peer('n1', { reachable: false }), peer('n3', { lsn: 900 })], failsafeLeader: { name: 'n1', ageMs: 11_000 } }), mem());
    assert.equal(stale.actions[0]?.type, 'acquireLeader');
  });

  it('a node the failsafe key does not list does not race', () => {
    const d = decide(replicaRace({ self: { ...obs().self, name: 'n4' }, dcs: { ok: true, cluster: cluster({ failsafe: { n1: 'a', n2: 'b' } }) } }), mem());
    assert.match(d.reason, /the failsafe key does not list n4/);
  });
});
