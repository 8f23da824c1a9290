import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildEventDocument } from '../../../src/events/document.js';
import { snap } from './helpers.js';

const now = new Date('2026-11-22T20:36:06.123Z');

describe('buildEventDocument', () => {
  it('describes this member, the leader and every replica with its lag', () => {
    const cluster = snap('n1', { n1: {}, n2: { lag: 4096, tags: { nofailover: true } }, n3: { state: 'stopped', lag: null } });
    const doc = buildEventDocument({
      event: 'on_role_change',
      scope: 'main',
      cluster,
      member: { name: 'n2', role: 'replica' },
      lost: ['n4'],
      lagSeconds: new Map([['n2', 1.5]]),
      reason: 'demoted after losing the leader key',
      now,
    });
    assert.deepEqual(doc, {
      event: 'on_role_change',
      scope: 'main',
      member: { name: 'n2', role: 'replica', state: 'running' },
      leader: { name: 'n1', conn_url: 'postgres://10.0.0.1:5432/postgres', api_url: 'http://10.0.0.1:8008/patroni', xlog_location: 10_000, timeline: 3 },
      replicas: [
        {
          name: 'n2', role: 'replica', state: 'running', conn_url: 'postgres://10.0.0.2:5432/postgres',
          api_url: 'http://10.0.0.2:8008/patroni', lag_bytes: 4096, lag_seconds: 1.5, tags: { nofailover: true },
        },
        {
          name: 'n3', role: 'replica', state: 'stopped', conn_url: 'postgres://10.0.0.3:5432/postgres',
          api_url: 'http://10.0.0.3:8008/patroni', lag_bytes: null, lag_seconds: null, tags: {},
        },
      ],
      lost: ['n4'],
      timestamp: '2026-11-22T20:36:06.123Z',
      reason: 'demoted after losing the leader key',
    });
  });

  it('leaves out reason when there is none and member when none is given', () => {
    const doc = buildEventDocument({ event: 'heartbeat', scope: 'main', cluster: snap('n1', { n1: {} }), now });
    assert.equal('reason' in doc, false);
    assert.equal(doc.member, null);
    assert.deepEqual(doc.lost, []);
  });

  it("takes the member's role and state from its key unless given, and reports master as primary", () => {
    const cluster = snap('n1', { n1: { role: 'master' }, n2: { state: 'starting' } });
    const fromKey = buildEventDocument({ event: 'e', scope: 's', cluster, member: { name: 'n1' }, now });
    const given = buildEventDocument({ event: 'e', scope: 's', cluster, member: { name: 'n2', role: 'primary', state: 'running' }, now });
    const unknown = buildEventDocument({ event: 'e', scope: 's', cluster, member: { name: 'n9' }, now });
    assert.deepEqual([fromKey.member, given.member, unknown.member], [
      { name: 'n1', role: 'primary', state: 'running' },
      { name: 'n2', role: 'primary', state: 'running' },
      { name: 'n9', role: 'unknown', state: 'unknown' },
    ]);
  });

  it('names a leader whose member key vanished, with null addresses', () => {
    const doc = buildEventDocument({ event: 'leader_down', scope: 's', cluster: snap('n1', { n2: {} }), now });
    assert.deepEqual(doc.leader, { name: 'n1', conn_url: null, api_url: null, xlog_location: null, timeline: null });
    assert.deepEqual(doc.replicas.map((r) => r.name), ['n2']);
  });

  it('lists every member as a replica without lag when there is no leader key', () => {
    const doc = buildEventDocument({ event: 'e', scope: 's', cluster: snap(null, { n1: {}, n2: { lag: 50 } }), now });
    assert.equal(doc.leader, null);
    assert.deepEqual(doc.replicas.map((r) => [r.name, r.lag_bytes]), [['n1', null], ['n2', null]]);
  });

  it('lists nothing when the cluster could not be read', () => {
    const doc = buildEventDocument({ event: 'on_stop', scope: 's', cluster: null, member: { name: 'n1', role: 'replica' }, now });
    assert.deepEqual([doc.leader, doc.replicas, doc.member], [null, [], { name: 'n1', role: 'replica', state: 'unknown' }]);
  });

  it('never reports negative lag for a replica ahead of the published leader position', () => {
    const doc = buildEventDocument({ event: 'e', scope: 's', cluster: snap('n1', { n1: {}, n2: { lag: -300 } }), now });
    assert.equal(doc.replicas[0]?.lag_bytes, 0);
  });
});

