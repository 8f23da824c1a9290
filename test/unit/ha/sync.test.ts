import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClusterSnapshot, SyncState } from '../../../src/domain/cluster.js';
import type { PgStatus, ReplicationRow } from '../../../src/domain/pg-status.js';
import { decide } from '../../../src/ha/decide.js';
import { pickStandbys, standbyNamesFor, syncStep } from '../../../src/ha/sync.js';
import type { Observation } from '../../../src/ha/types.js';
import { cluster, member, mem, obs, peer, primaryPg, replicaPg, withLeader } from './builders.js';

type RunningPg = Extract<PgStatus, { running: true }>;

const row = (name: string, sync_state = 'async', state = 'streaming'): ReplicationRow => ({
  usename: 'replicator', application_name: name, client_addr: '127.0.0.1', state, sync_state, sync_priority: sync_state === 'sync' ? 1 : 0,
});

const SYNC_ON = { synchronousMode: true, synchronousModeStrict: false, synchronousNodeCount: 1 };

/** The leader n1 with these WAL senders, this sync key and this synchronous_standby_names. */
function leaderObs(rows: ReplicationRow[], sync: SyncState | null, names = '', settings: Partial<Observation['settings']> = {}, over: Partial<ClusterSnapshot> = {}): Observation {
  const base = obs();
  const pg = { ...(primaryPg() as RunningPg), replication: rows, syncStandbyNames: names };
  const c = withLeader(cluster({ sync, syncModRevision: sync === null ? null : '42', ...over }), 'n1');
  return { ...base, pg, leaderUntil: base.now + 8_000, settings: { ...base.settings, ...SYNC_ON, ...settings }, dcs: { ok: true, cluster: c } };
}

/** The same observation with the adapter reporting synchronous mode's override in force. */
const overridden = (o: Observation): Observation => ({ ...o, pg: { ...(o.pg as RunningPg), syncStandbyNamesOverridden: true } });

const step = (o: Observation) => syncStep(o, (o.dcs as { cluster: ClusterSnapshot }).cluster).actions;

describe('synchronous_standby_names', () => {
  it('names the picked standbys quoted, * in strict mode without any, empty otherwise', () => {
    assert.equal(standbyNamesFor(['n2'], 1, false), '1 ("n2")');
    assert.equal(standbyNamesFor(['n2', 'n3'], 2, true), '2 ("n2","n3")');
    assert.equal(standbyNamesFor(['we"ird'], 1, false), '1 ("we""ird")');
    assert.equal(standbyNamesFor([], 1, true), '*');
    assert.equal(standbyNamesFor([], 1, false), '');
  });

  it('picks streaming members without nosync, current synchronous ones first', () => {
    const c = cluster({ members: [member('n1', 1), member('n2', 2), member('n3', 3), member('n4', 4, { tags: { nosync: true } })] });
    const pg = { ...(primaryPg() as RunningPg), replication: [row('n2'), row('n3', 'sync'), row('n4'), row('stranger'), row('n5', 'async', 'catchup')] };
    assert.deepEqual(pickStandbys(pg, c, 'n1', 1), { picked: ['n3'], confirmed: ['n3'] });
    assert.deepEqual(pickStandbys(pg, c, 'n1', 2), { picked: ['n3', 'n2'], confirmed: ['n3'] });
  });
});

describe('maximum_lag_on_syncnode', () => {
  const c = cluster({ members: [member('n1', 1), member('n2', 2), member('n3', 3)] });
  const at = (name: string, flushLsn: number, sync = 'async'): ReplicationRow => ({ ...row(name, sync), flushLsn });
  const pg = (rows: ReplicationRow[], lsn = 10_000): RunningPg => ({ ...(primaryPg(lsn) as RunningPg), replication: rows });

  it('replaces a lagging synchronous standby with a healthy asynchronous one', () => {
    assert.deepEqual(pickStandbys(pg([at('n2', 5_000, 'sync'), at('n3', 9_900)]), c, 'n1', 1, 1_000).picked, ['n3']);
  });

  it('keeps it when no other standby is healthy, and ignores lag when the setting is -1', () => {
    assert.deepEqual(pickStandbys(pg([at('n2', 5_000, 'sync'), at('n3', 4_000)]), c, 'n1', 1, 1_000).picked, ['n2']);
    assert.deepEqual(pickStandbys(pg([at('n2', 5_000, 'sync'), at('n3', 9_900)]), c, 'n1', 1, -1).picked, ['n2']);
  });

  it('measures against the most advanced standby when there are several, else against the primary', () => {
    // Both trail the busy primary by far, but n2 is within 1000 bytes of n3: nothing to swap.
    assert.deepEqual(pickStandbys(pg([at('n2', 5_000, 'sync'), at('n3', 5_500)], 100_000), c, 'n1', 1, 1_000).picked, ['n2']);
    assert.deepEqual(pickStandbys(pg([at('n2', 5_000, 'sync')], 100_000), c, 'n1', 1, 1_000).picked, ['n2'], 'the only standby stays');
  });

  it('makes the leader take the lagging standby out of the sync key first', () => {
    const o = leaderObs([at('n2', 5_000, 'sync'), at('n3', 9_900)], { leader: 'n1', standbys: ['n2'] }, '1 ("n2")', { maximumLagOnSyncnode: 1_000 });
    assert.deepEqual(step({ ...o, pg: { ...(o.pg as RunningPg), lsn: 10_000 } }), [{ type: 'writeSync', value: { leader: 'n1', standbys: [] }, modRevision: '42' }]);
  });
});

describe('syncStep: one safe change per cycle', () => {
  const cases: [string, Observation, unknown][] = [
    ['claims a missing sync key for itself with no standbys', leaderObs([row('n2')], null), [{ type: 'writeSync', value: { leader: 'n1', standbys: [] }, modRevision: '0' }]],
    ['claims a key another leader wrote', leaderObs([row('n2')], { leader: 'n3', standbys: ['n1'] }), [{ type: 'writeSync', value: { leader: 'n1', standbys: [] }, modRevision: '42' }]],
    ['then sets synchronous_standby_names to the picked standby', leaderObs([row('n2')], { leader: 'n1', standbys: [] }), [{ type: 'setSyncStandbyNames', value: '1 ("n2")' }]],
    ['adds a standby to the key only once PostgreSQL reports it sync', leaderObs([row('n2')], { leader: 'n1', standbys: [] }, '1 ("n2")'), []],
    ['and then publishes it', leaderObs([row('n2', 'sync')], { leader: 'n1', standbys: [] }, '1 ("n2")'), [{ type: 'writeSync', value: { leader: 'n1', standbys: ['n2'] }, modRevision: '42' }]],
    ['is quiet when everything matches', leaderObs([row('n2', 'sync'), row('n3')], { leader: 'n1', standbys: ['n2'] }, '1 ("n2")'), []],
    ['removes a standby that stopped streaming from the key before anything else', leaderObs([row('n3')], { leader: 'n1', standbys: ['n2'] }, '1 ("n2")'), [{ type: 'writeSync', value: { leader: 'n1', standbys: [] }, modRevision: '42' }]],
    ['then moves synchronous_standby_names to the next standby', leaderObs([row('n3')], { leader: 'n1', standbys: [] }, '1 ("n2")'), [{ type: 'setSyncStandbyNames', value: '1 ("n3")' }]],
    ['strict mode without standbys makes commits wait for one', leaderObs([], { leader: 'n1', standbys: [] }, '', { synchronousModeStrict: true }), [{ type: 'setSyncStandbyNames', value: '*' }]],
    ['non-strict mode without standbys goes asynchronous', leaderObs([], { leader: 'n1', standbys: [] }, '1 ("n2")'), [{ type: 'setSyncStandbyNames', value: '' }]],
    ['synchronous mode off removes the key, then hands the setting back', leaderObs([row('n2', 'sync')], { leader: 'n1', standbys: ['n2'] }, '1 ("n2")', { synchronousMode: false }), [
      { type: 'writeSync', value: null, modRevision: '42' }, { type: 'setSyncStandbyNames', value: null },
    ]],
    ['synchronous mode off and no key: nothing', leaderObs([row('n2')], null, '', { synchronousMode: false }), []],
    ['synchronous mode off, no key, but an override still in force: hands the setting back', overridden(leaderObs([row('n2', 'sync')], null, '1 ("n2")', { synchronousMode: false })), [
      { type: 'setSyncStandbyNames', value: null },
    ]],
  ];
  for (const [name, o, expected] of cases) it(name, () => assert.deepEqual(step(o), expected));

  it('runs after the renewal in the leader\'s cycle and says what it does', () => {
    const d = decide(leaderObs([row('n2', 'sync')], { leader: 'n1', standbys: [] }, '1 ("n2")'), mem());
    assert.deepEqual(d.actions.slice(0, 2), [{ type: 'renewLeader' }, { type: 'writeSync', value: { leader: 'n1', standbys: ['n2'] }, modRevision: '42' }]);
    assert.match(d.reason, /synchronous mode: n2 synchronous/);
  });
});

describe('the leader race in synchronous mode', () => {
  function replicaObs(name: string, sync: SyncState | null, peers: ReturnType<typeof peer>[] | null = null, settings = SYNC_ON): Observation {
    const base = obs();
    return {
      ...base,
      self: { ...base.self, name },
      pg: replicaPg(1000),
      settings: { ...base.settings, ...settings },
      dcs: { ok: true, cluster: cluster({ sync, syncModRevision: sync === null ? null : '42' }) },
      peers,
    };
  }

  it('keeps a node the sync key does not name out of the race', () => {
    const d = decide(replicaObs('n3', { leader: 'n1', standbys: ['n2'] }), mem());
    assert.deepEqual(d.actions, []);
    assert.match(d.reason, /not racing: synchronous_mode is on and the sync key names n1, n2, not n3/);
  });

  it('keeps everyone out when there is no sync key (nobody is known to have every commit)', () => {
    assert.match(decide(replicaObs('n2', null), mem()).reason, /there is no sync key/);
  });

  it('lets the synchronous standby race, ignoring an asynchronous peer that is ahead, and claim the key before promoting', () => {
    const first = decide(replicaObs('n2', { leader: 'n1', standbys: ['n2'] }), mem());
    assert.equal(first.actions[0]?.type, 'probePeers');
    const peers = [peer('n1', { reachable: false }), peer('n3', { lsn: 5000 })];
    const d = decide(replicaObs('n2', { leader: 'n1', standbys: ['n2'] }, peers), mem());
    assert.deepEqual(d.actions, [{ type: 'acquireLeader', promote: true, takeSync: '42' }]);
  });

  it('does not change the asynchronous race', () => {
    const d = decide(replicaObs('n3', null, [peer('n1', { reachable: false }), peer('n2', { lsn: 900 })], { synchronousMode: false, synchronousModeStrict: false, synchronousNodeCount: 1 }), mem());
    assert.deepEqual(d.actions, [{ type: 'acquireLeader', promote: true }]);
  });
});
