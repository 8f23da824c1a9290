import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeCluster, decodeMember, encodeConfig, encodeHistory, encodeMember, encodeStatus, encodeSync, isWakeupChange, type RawKv } from '../../../src/dcs/codec.js';
import type { MemberData } from '../../../src/domain/cluster.js';

const P = '/service/batman/';
let rev = 10;
const kv = (rel: string, value: string, lease = '0'): RawKv => {
  rev++;
  return { key: P + rel, value, modRevision: String(rev), createRevision: String(rev), lease };
};

describe('codec: member values', () => {
  it('encodes member data as compact JSON in the field order Patroni writes', () => {
    const data: MemberData = {
      timeline: 1,
      xlog_location: 50331648,
      version: '3.0.2',
      role: 'replica',
      state: 'running',
      api_url: 'http://127.0.0.1:8009/patroni',
      conn_url: 'postgres://127.0.0.1:5433/postgres',
    };
    assert.equal(
      encodeMember(data),
      '{"conn_url":"postgres://127.0.0.1:5433/postgres","api_url":"http://127.0.0.1:8009/patroni","state":"running","role":"replica","version":"3.0.2","xlog_location":50331648,"timeline":1}',
    );
  });

  it('places tags, flags and extra fields where Patroni does, and drops empty tags', () => {
    const data = {
      pause: true,
      xlog_location: 1,
      tags: { nofailover: true },
      pending_restart: true,
      checkpoint_after_promote: false,
      conn_url: 'c',
      api_url: 'a',
      state: 'running',
      role: 'primary',
      version: '4.0.0',
      replication_state: 'streaming',
    };
    assert.deepEqual(Object.keys(JSON.parse(encodeMember(data))), [
      'conn_url', 'api_url', 'state', 'role', 'version', 'checkpoint_after_promote', 'tags', 'pending_restart', 'xlog_location', 'pause', 'replication_state',
    ]);
    assert.equal(encodeMember({ ...data, tags: {} }).includes('tags'), false);
  });

  it('decodes what it encodes', () => {
    const data: MemberData = { conn_url: 'c', api_url: 'a', state: 'running', role: 'primary', version: '1', tags: { zone: 'x', weight: 3 }, xlog_location: 7, timeline: 2, pause: true };
    assert.deepEqual(decodeMember(encodeMember(data)), data);
  });

  it('reads a non-JSON or non-object value as a member with empty fields', () => {
    for (const bad of ['', 'garbage{', '[1,2]', '42', 'null']) {
      assert.deepEqual(decodeMember(bad), { conn_url: '', api_url: '', state: '', role: '', version: '' }, bad);
    }
  });

  it('reads a legacy connection-string member value without throwing', () => {
    const m = decodeMember('postgres://replicator@10.0.0.1:5432/postgres?application_name=http://10.0.0.1:8008/patroni');
    assert.equal(m.api_url, 'http://10.0.0.1:8008/patroni');
    assert.match(m.conn_url, /^postgres:\/\/replicator@10\.0\.0\.1:5432\/postgres$/);
    assert.doesNotThrow(() => decodeMember('postgres://[broken'));
  });

  it('drops mistyped optional fields and keeps unknown ones', () => {
    const m = decodeMember('{"conn_url":5,"api_url":"a","state":"running","role":"replica","version":"1","xlog_location":"123","timeline":"x","tags":[1],"pause":"yes","receive_lsn":9}');
    assert.deepEqual(m, { conn_url: '', api_url: 'a', state: 'running', role: 'replica', version: '1', xlog_location: 123, receive_lsn: 9 });
  });
});

describe('codec: cluster snapshot', () => {
  it('decodes every key of the layout', () => {
    const snap = decodeCluster(
      P,
      [
        kv('config', '{"ttl":30,"loop_wait":10}'),
        kv('failover', '{"leader":"a","member":"b"}'),
        kv('history', '[[1,50331808,"no recovery target specified","2024-01-01T00:00:00+00:00","a"]]'),
        kv('initialize', '7214123456789012345'),
        kv('leader', 'a', '111'),
        kv('members/b', '{"conn_url":"c","api_url":"x","state":"running","role":"replica","version":"4.0.0"}', '222'),
        kv('members/a', '{"conn_url":"c","api_url":"x","state":"running","role":"master","version":"3.0.2"}', '111'),
        kv('status', '{"optime":67109024,"slots":{"s":1}}'),
        kv('sync', '{"leader":"a","sync_standby":null}'),
      ],
      '99',
    );
    assert.deepEqual(snap.config, { ttl: 30, loop_wait: 10 });
    assert.equal(snap.configModRevision, '11');
    assert.deepEqual(snap.failover, { leader: 'a', member: 'b' });
    assert.deepEqual(snap.history, [[1, 50331808, 'no recovery target specified', '2024-01-01T00:00:00+00:00', 'a']]);
    assert.equal(snap.initialize, '7214123456789012345');
    assert.deepEqual(snap.leader, { name: 'a', modRevision: '15', leaseId: '111' });
    assert.deepEqual(snap.members.map((m) => [m.name, m.data.role, m.leaseId]), [['a', 'master', '111'], ['b', 'replica', '222']]);
    assert.equal(snap.optime, 67109024);
    assert.equal(snap.revision, '99');
  });

  it('reads an empty failover object as no pending failover', () => {
    assert.equal(decodeCluster(P, [kv('failover', '{}')], '1').failover, null);
  });

  it('reads and writes sync as Patroni does: comma-separated sorted standbys, null for none', () => {
    assert.equal(encodeSync({ leader: 'n1', standbys: ['n3', 'n2'] }), '{"leader":"n1","sync_standby":"n2,n3"}');
    assert.equal(encodeSync({ leader: 'n1', standbys: [] }), '{"leader":"n1","sync_standby":null}');
    const snap = decodeCluster(P, [kv('sync', '{"leader":"n1","sync_standby":"n3, n2"}')], '1');
    assert.deepEqual(snap.sync, { leader: 'n1', standbys: ['n2', 'n3'] });
    assert.deepEqual(decodeCluster(P, [kv('sync', '{"leader":"n1","sync_standby":null}')], '1').sync, { leader: 'n1', standbys: [] });
    const broken = decodeCluster(P, [kv('sync', 'nope')], '1');
    assert.equal(broken.sync, null);
    assert.notEqual(broken.syncModRevision, null, 'a broken key can still be replaced with a compare-and-set');
  });

  it('reads the legacy leader:candidate failover form', () => {
    assert.deepEqual(decodeCluster(P, [kv('failover', 'a:b')], '1').failover, { leader: 'a', member: 'b' });
  });

  it('reads broken values as absent instead of throwing', () => {
    const snap = decodeCluster(P, [kv('config', '{ttl'), kv('status', 'x'), kv('history', '{"a":1}'), kv('failover', '[]'), kv('leader', '')], '1');
    assert.equal(snap.config, null);
    assert.match(snap.configModRevision ?? '', /^\d+$/, 'the revision stays usable to repair a broken config');
    assert.equal(snap.optime, null);
    assert.equal(snap.history, null);
    assert.equal(snap.failover, null);
    assert.equal(snap.leader, null);
  });

  it('counts as members only keys with exactly one component under members/', () => {
    const snap = decodeCluster(P, [kv('members/', '{}'), kv('members/a/b', '{}'), kv('members/ok', '{}')], '1');
    assert.deepEqual(snap.members.map((m) => m.name), ['ok']);
  });

  it('ignores keys of other clusters and unknown keys', () => {
    const other: RawKv = { key: '/service/batman2/leader', value: 'z', modRevision: '1', createRevision: '1', lease: '0' };
    const snap = decodeCluster(P, [other, kv('failsafe', '{}'), kv('optime/leader', '5')], '1');
    assert.equal(snap.leader, null);
    assert.equal(snap.optime, 5, 'the legacy optime/leader is the fallback for status');
  });

  it('keeps usable history rows and skips malformed ones', () => {
    const snap = decodeCluster(P, [kv('history', '[[1,100,"r"],["x",1,"r"],[2,"200","r2","t"],5]')], '1');
    assert.deepEqual(snap.history, [[1, 100, 'r'], [2, 200, 'r2', 't']]);
  });
});

describe('codec: other values and wake-ups', () => {
  it('writes status, history and config as compact JSON', () => {
    assert.equal(encodeStatus(67109024), '{"optime":67109024}');
    assert.equal(encodeHistory([[1, 100, 'r'], [2, 200, 'r2', 't', 'a']]), '[[1,100,"r"],[2,200,"r2","t","a"]]');
    assert.equal(encodeHistory([[1, 100, 'r', undefined, undefined]]), '[[1,100,"r"]]');
    assert.equal(encodeConfig({ ttl: 30, postgresql: { parameters: null } }), '{"ttl":30,"postgresql":{"parameters":null}}');
  });

  it('wakes on a new leader, a deleted leader, a new member key, config and failover changes only', () => {
    const c = (rel: string, type: 'put' | 'delete', previous: string | null, value: string | null) => isWakeupChange(P, { key: P + rel, type, previous, value });
    assert.equal(c('leader', 'put', null, 'a'), true);
    assert.equal(c('leader', 'put', 'a', 'b'), true);
    assert.equal(c('leader', 'delete', 'a', null), true);
    assert.equal(c('leader', 'put', 'a', 'a'), false, 'a renewal by the holder');
    assert.equal(c('config', 'put', null, '{}'), true);
    assert.equal(c('failover', 'put', '{}', '{"member":"b"}'), true);
    assert.equal(c('status', 'put', null, '{"optime":1}'), false);
    assert.equal(c('members/a', 'put', null, '{}'), true, 'a member key appearing');
    assert.equal(c('members/a', 'put', '{}', '{"role":"replica"}'), false, 'an update of a member key');
    assert.equal(c('members/a', 'delete', '{}', null), false);
    assert.equal(isWakeupChange(P, { key: '/service/other/leader', type: 'delete', previous: 'a', value: null }), false);
  });
});
