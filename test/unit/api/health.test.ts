import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeView } from '../../../src/domain/node-view.js';
import { healthStatus, livenessStatus, parseLag, readinessStatus } from '../../../src/api/health.js';
import { NOW, cluster, leaderView, replicaPg, replicaView, stoppedPg } from './fixtures.js';

interface Row {
  name: string;
  view: NodeView;
  path: string;
  query?: Record<string, string>;
  now?: number;
  code: 200 | 503;
}

const staleLeader = leaderView({ lastCycleAt: NOW - 31_000, leaderUntil: NOW + 5_000 });
const lapsedLeader = leaderView({ leaderUntil: NOW - 1 });
const lagging = replicaView({ pg: replicaPg(67_108_864 - 2 * 1024 * 1024) });
const syncReplica = replicaView({ cluster: cluster({ sync: { leader: 'n1', standbys: ['n2'] }, syncModRevision: '9' }) });
const standbyLeader = leaderView({ role: 'standby_leader', pg: replicaPg() });

const rows: Row[] = [
  { name: 'the leader answers 200 on /', view: leaderView(), path: '/', code: 200 },
  { name: 'the leader answers 200 on /primary', view: leaderView(), path: '/primary', code: 200 },
  { name: 'the leader answers 200 on /master', view: leaderView(), path: '/master', code: 200 },
  { name: 'the leader answers 200 on /read-write', view: leaderView(), path: '/read-write', code: 200 },
  { name: 'the leader answers 200 on /leader', view: leaderView(), path: '/leader', code: 200 },
  { name: 'the leader answers 503 on /replica', view: leaderView(), path: '/replica', code: 503 },
  { name: 'the leader answers 200 on /read-only', view: leaderView(), path: '/read-only', code: 200 },
  { name: 'the leader answers 503 on /standby-leader', view: leaderView(), path: '/standby-leader', code: 503 },
  { name: 'the leader answers 503 on /standby_leader', view: leaderView(), path: '/standby_leader', code: 503 },
  { name: 'the leader answers 200 on /health', view: leaderView(), path: '/health', code: 200 },
  { name: 'the leader answers 503 on /sync (it is no standby)', view: leaderView(), path: '/sync', code: 503 },
  { name: 'the leader answers 503 on /asynchronous', view: leaderView(), path: '/asynchronous', code: 503 },
  { name: 'the leader answers 200 on /read-only-sync', view: leaderView(), path: '/read-only-sync', code: 200 },
  { name: 'an unknown path answers 503', view: leaderView(), path: '/foo', code: 503 },
  { name: 'the leader ignores tag filters on /primary', view: leaderView(), path: '/primary', query: { tag_zone: 'a' }, code: 200 },
  { name: 'the leader applies tag filters on /read-only', view: leaderView(), path: '/read-only', query: { tag_zone: 'a' }, code: 503 },

  { name: 'a replica answers 503 on /', view: replicaView(), path: '/', code: 503 },
  { name: 'a replica answers 503 on /primary', view: replicaView(), path: '/primary', code: 503 },
  { name: 'a replica answers 503 on /leader', view: replicaView(), path: '/leader', code: 503 },
  { name: 'a replica answers 200 on /replica', view: replicaView(), path: '/replica', code: 200 },
  { name: 'a replica answers 200 on /read-only', view: replicaView(), path: '/read-only', code: 200 },
  { name: 'a replica answers 200 on /health', view: replicaView(), path: '/health', code: 200 },
  { name: 'a replica answers 200 on /async', view: replicaView(), path: '/async', code: 200 },
  { name: 'a replica answers 503 on /synchronous', view: replicaView(), path: '/synchronous', code: 503 },
  { name: 'a replica the sync key names answers 200 on /sync', view: syncReplica, path: '/sync', code: 200 },
  { name: 'a replica the sync key names answers 503 on /async', view: syncReplica, path: '/async', code: 503 },
  { name: 'a replica the sync key names answers 200 on /read-only-sync', view: syncReplica, path: '/read-only-sync', code: 200 },
  { name: 'a replica the sync key does not name answers 503 on /read-only-sync', view: replicaView(), path: '/read-only-sync', code: 503 },
  { name: 'a replica answers 503 on /read-only-synchronous', view: replicaView(), path: '/read-only-synchronous', code: 503 },
  { name: 'a replica within the lag limit answers 200', view: replicaView(), path: '/replica', query: { lag: '1MB' }, code: 200 },
  { name: 'a replica 2 MB behind answers 503 on /replica?lag=1MB', view: lagging, path: '/replica', query: { lag: '1MB' }, code: 503 },
  { name: 'a replica 2 MB behind answers 200 on /replica?lag=3MB', view: lagging, path: '/replica', query: { lag: '3MB' }, code: 200 },
  { name: 'a replica 2 MB behind answers 503 on /replica?lag=1048576', view: lagging, path: '/replica', query: { lag: '1048576' }, code: 503 },
  { name: 'a replica 2 MB behind answers 503 on /async?lag=16kB', view: lagging, path: '/async', query: { lag: '16kB' }, code: 503 },
  { name: 'a replica 2 MB behind answers 503 on /read-only?lag=1MB', view: lagging, path: '/read-only', query: { lag: '1MB' }, code: 503 },
  { name: 'an unparseable lag is ignored', view: lagging, path: '/replica', query: { lag: 'lots' }, code: 200 },
  { name: 'a replica lagging without a lag parameter still answers 200', view: lagging, path: '/replica', code: 200 },
  { name: 'a replica with a matching tag answers 200', view: replicaView({ tags: { zone: 'a' } }), path: '/replica', query: { tag_zone: 'a' }, code: 200 },
  { name: 'a replica with another tag value answers 503', view: replicaView({ tags: { zone: 'b' } }), path: '/replica', query: { tag_zone: 'a' }, code: 503 },
  { name: 'a replica without the tag answers 503', view: replicaView(), path: '/replica', query: { tag_zone: 'a' }, code: 503 },
  { name: 'boolean tags compare as lower-case text', view: replicaView({ tags: { nofailover: true } }), path: '/replica', query: { tag_nofailover: 'true' }, code: 200 },
  { name: 'a dropped falsy tag does not match tag_nofailover=false', view: replicaView(), path: '/replica', query: { tag_nofailover: 'false' }, code: 503 },
  { name: 'a replica tagged noloadbalance answers 503 on /replica', view: replicaView({ tags: { noloadbalance: true } }), path: '/replica', code: 503 },
  { name: 'a replica tagged noloadbalance still answers 200 on /health', view: replicaView({ tags: { noloadbalance: true } }), path: '/health', code: 200 },
  { name: 'a replica that is not in state running answers 503 on /replica', view: replicaView({ state: 'starting' }), path: '/replica', code: 503 },
  { name: 'a replica with PostgreSQL down answers 503 on /replica', view: replicaView({ pg: stoppedPg(), state: 'stopped' }), path: '/replica', code: 503 },
  { name: 'a replica with a stale loop answers 503 on /replica', view: replicaView({ lastCycleAt: NOW - 31_000 }), path: '/replica', code: 503 },
  { name: 'a replica with a stale loop answers 503 on /health', view: replicaView({ lastCycleAt: NOW - 31_000 }), path: '/health', code: 503 },
  { name: 'a replica whose last cycle is exactly ttl old is still fresh', view: replicaView({ lastCycleAt: NOW - 30_000 }), path: '/replica', code: 200 },

  { name: 'a leader whose loop is stale is not primary', view: staleLeader, path: '/primary', code: 503 },
  { name: 'a leader whose loop is stale is not leader', view: staleLeader, path: '/leader', code: 503 },
  { name: 'a leader whose loop is stale is not read-only either', view: staleLeader, path: '/read-only', code: 503 },
  { name: 'a leader whose lease lapsed is not primary', view: lapsedLeader, path: '/', code: 503 },
  { name: 'a leader whose lease lapsed is not leader', view: lapsedLeader, path: '/leader', code: 503 },
  { name: 'a lease that ends exactly now has lapsed', view: leaderView({ leaderUntil: NOW }), path: '/primary', code: 503 },
  { name: 'a leader with PostgreSQL down is not primary', view: leaderView({ pg: stoppedPg(), state: 'stopped' }), path: '/primary', code: 503 },
  { name: 'a leader with PostgreSQL down still holds the leader key', view: leaderView({ pg: stoppedPg(), state: 'stopped' }), path: '/leader', code: 200 },
  { name: 'a leader whose PostgreSQL is still in recovery is not primary', view: leaderView({ pg: replicaPg() }), path: '/primary', code: 503 },
  { name: 'a node before its first probe is not primary', view: leaderView({ pg: null }), path: '/primary', code: 503 },
  { name: 'a paused node without a cluster view is not primary without a lease', view: leaderView({ paused: true, cluster: null, leaderUntil: null }), path: '/primary', code: 503 },
  { name: 'a paused leader with a lease is primary', view: leaderView({ paused: true }), path: '/primary', code: 200 },

  { name: 'a standby leader answers 200 on /standby-leader', view: standbyLeader, path: '/standby-leader', code: 200 },
  { name: 'a standby leader answers 200 on /leader', view: standbyLeader, path: '/leader', code: 200 },
  { name: 'a standby leader answers 503 on /primary', view: standbyLeader, path: '/primary', code: 503 },
  { name: 'a standby leader answers 503 on /replica', view: standbyLeader, path: '/replica', code: 503 },
  { name: 'a standby leader answers 200 on /read-only', view: standbyLeader, path: '/read-only', code: 200 },
  {
    name: 'a leader of a cluster configured as standby_cluster is a standby leader',
    view: leaderView({ role: 'replica', pg: replicaPg(), cluster: cluster({ config: { standby_cluster: { host: 'x' } } }) }),
    path: '/standby_leader', code: 200,
  },
];

describe('healthStatus', () => {
  for (const row of rows) {
    it(row.name, () => {
      assert.equal(healthStatus(row.path, row.query ?? {}, row.view, row.now ?? NOW), row.code);
    });
  }
});

describe('parseLag', () => {
  it('reads plain bytes and PostgreSQL size units', () => {
    assert.equal(parseLag('1048576'), 1_048_576);
    assert.equal(parseLag('16kB'), 16 * 1024);
    assert.equal(parseLag('10MB'), 10 * 1024 * 1024);
    assert.equal(parseLag('1GB'), 1024 ** 3);
    assert.equal(parseLag(' 2 MB '), 2 * 1024 * 1024);
  });

  it('rejects unknown units, negative numbers and text', () => {
    assert.equal(parseLag('10mb'), null);
    assert.equal(parseLag('-5'), null);
    assert.equal(parseLag('abc'), null);
    assert.equal(parseLag(''), null);
  });
});

describe('livenessStatus', () => {
  it('answers 200 for a primary whose last cycle is within loop_wait + ttl', () => {
    assert.equal(livenessStatus(leaderView({ lastCycleAt: NOW - 40_000 }), NOW), 200);
  });

  it('answers 503 for a primary whose last cycle is older than loop_wait + ttl', () => {
    assert.equal(livenessStatus(leaderView({ lastCycleAt: NOW - 40_001 }), NOW), 503);
  });

  it('gives a replica loop_wait + 2 * ttl', () => {
    assert.equal(livenessStatus(replicaView({ lastCycleAt: NOW - 70_000 }), NOW), 200);
    assert.equal(livenessStatus(replicaView({ lastCycleAt: NOW - 70_001 }), NOW), 503);
  });

  it('answers 200 while paused however old the last cycle is', () => {
    assert.equal(livenessStatus(leaderView({ paused: true, lastCycleAt: 0 }), NOW), 200);
  });
});

describe('readinessStatus', () => {
  it('answers 200 for the leader even with PostgreSQL down', () => {
    assert.equal(readinessStatus(leaderView({ pg: stoppedPg(), state: 'stopped' }), NOW), 200);
  });

  it('answers 200 for a running replica with a fresh cluster view', () => {
    assert.equal(readinessStatus(replicaView(), NOW), 200);
  });

  it('answers 503 for a replica without a cluster view', () => {
    assert.equal(readinessStatus(replicaView({ cluster: null }), NOW), 503);
  });

  it('answers 503 for a replica with PostgreSQL down', () => {
    assert.equal(readinessStatus(replicaView({ pg: stoppedPg(), state: 'stopped' }), NOW), 503);
  });

  it('answers 503 for a stale leader', () => {
    assert.equal(readinessStatus(leaderView({ lastCycleAt: NOW - 31_000 }), NOW), 503);
  });
});
