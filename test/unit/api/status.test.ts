import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { epochSeconds, patroniTimestamp } from '../../../src/api/pg-time.js';
import { metricsText } from '../../../src/api/metrics.js';
import { clusterJson, hostPort, statusJson } from '../../../src/api/status.js';
import { NOW, SYSID, WALL, cluster, leaderView, member, replicaPg, replicaView, stoppedPg } from './fixtures.js';

describe('statusJson', () => {
  it('lists a primary\'s fields in Patroni\'s order with pgwarden\'s block last', () => {
    const s = statusJson(leaderView({ tags: { zone: 'a' }, pendingRestart: true, paused: true }), WALL, NOW);
    assert.deepEqual(Object.keys(s), [
      'state', 'postmaster_start_time', 'role', 'server_version', 'xlog', 'timeline', 'replication',
      'dcs_last_seen', 'tags', 'database_system_identifier', 'pending_restart', 'patroni', 'pause', 'pgwarden',
    ]);
  });

  it('describes a running primary like Patroni 4 does', () => {
    const s = statusJson(leaderView(), WALL, NOW);
    assert.equal(s.state, 'running');
    assert.equal(s.role, 'primary');
    assert.equal(s.postmaster_start_time, '2026-11-22 11:51:02.473627+00:00');
    assert.equal(s.server_version, 150018);
    assert.deepEqual(s.xlog, { location: 67_108_864 });
    assert.equal(s.timeline, 1);
    assert.equal(s.replication?.[0]?.application_name, 'n2');
    assert.equal(s.dcs_last_seen, 1_795_348_268);
    assert.equal(s.database_system_identifier, SYSID);
    assert.deepEqual(s.patroni, { version: '0.1.0', scope: 'batman', name: 'n1' });
    assert.equal('cluster_unlocked' in s, false);
    assert.equal('tags' in s, false);
    assert.equal('pause' in s, false);
    assert.equal('pending_restart' in s, false);
  });

  it('describes a replica with received and replayed positions', () => {
    const s = statusJson(replicaView({ pg: replicaPg(1000, 2000) }), WALL, NOW);
    assert.equal(s.role, 'replica');
    assert.deepEqual(s.xlog, { received_location: 2000, replayed_location: 1000, replayed_timestamp: '2026-11-22 11:55:00.5+00:00', paused: false });
    assert.deepEqual(Object.keys(s.xlog ?? {}), ['received_location', 'replayed_location', 'replayed_timestamp', 'paused']);
    assert.equal('replication' in s, false);
  });

  it('falls back to the replayed position when nothing was received', () => {
    const s = statusJson(replicaView({ pg: replicaPg(1000, null) }), WALL, NOW);
    assert.deepEqual(s.xlog, { received_location: 1000, replayed_location: 1000, replayed_timestamp: '2026-11-22 11:55:00.5+00:00', paused: false });
  });

  it('reports a standby leader\'s role as standby_leader', () => {
    assert.equal(statusJson(leaderView({ role: 'standby_leader', pg: replicaPg() }), WALL, NOW).role, 'standby_leader');
  });

  it('has no xlog when PostgreSQL is down, so peers treat the node as unreachable', () => {
    const s = statusJson(leaderView({ pg: stoppedPg(), state: 'stopped' }), WALL, NOW);
    assert.deepEqual(Object.keys(s), ['state', 'role', 'dcs_last_seen', 'database_system_identifier', 'patroni', 'pgwarden']);
    assert.equal(s.state, 'stopped');
    assert.equal(s.role, 'primary');
  });

  it('says unknown when the state is running but PostgreSQL does not answer', () => {
    assert.equal(statusJson(leaderView({ pg: stoppedPg() }), WALL, NOW).state, 'unknown');
  });

  it('marks the cluster unlocked when there is no leader or no cluster view', () => {
    assert.equal(statusJson(replicaView({ cluster: cluster({ leader: null }) }), WALL, NOW).cluster_unlocked, true);
    assert.equal(statusJson(replicaView({ cluster: null }), WALL, NOW).cluster_unlocked, true);
  });

  it('explains the last cycle in the pgwarden block', () => {
    const s = statusJson(leaderView({ action: 'rewind' }), WALL, NOW);
    assert.deepEqual(s.pgwarden, {
      reason: 'no action: I am the leader with the lock',
      action: 'rewind',
      last_cycle_at: new Date(WALL - 1000).toISOString(),
      loop_age_seconds: 1,
      leader_lease_seconds_left: 20,
    });
    assert.equal(statusJson(replicaView(), WALL, NOW).pgwarden.leader_lease_seconds_left, null);
  });

  it('serialises to JSON that parses back to the same object', () => {
    const s = statusJson(leaderView(), WALL, NOW);
    assert.deepEqual(JSON.parse(JSON.stringify(s)), s);
  });
});

describe('clusterJson', () => {
  it('sorts members by name and shows the leader as leader', () => {
    const c = clusterJson(leaderView());
    assert.deepEqual(c.members.map((m) => [m.name, m.role]), [['n1', 'leader'], ['n2', 'replica'], ['n3', 'replica']]);
  });

  it('gives each member Patroni\'s fields in Patroni\'s order', () => {
    const c = clusterJson(leaderView());
    assert.deepEqual(c.members[0], { name: 'n1', role: 'leader', state: 'running', api_url: 'http://127.0.0.1:8008/patroni', host: '127.0.0.1', port: 5440, timeline: 1 });
    assert.deepEqual(Object.keys(c.members[1] ?? {}), ['name', 'role', 'state', 'api_url', 'host', 'port', 'timeline', 'lag']);
  });

  it('computes lag as optime minus the member\'s position, never below zero', () => {
    const view = leaderView({
      cluster: cluster({ members: [member('a', 1, { xlog_location: 100 }), member('b', 2, { xlog_location: 67_108_864 + 5 }), member('c', 3, { xlog_location: undefined })], leader: null, optime: 67_108_864 }),
    });
    assert.deepEqual(clusterJson(view).members.map((m) => m.lag), [67_108_764, 0, 'unknown']);
  });

  it('shows tags, pending restarts, pause and a scheduled switchover', () => {
    const view = leaderView({
      paused: true,
      cluster: cluster({
        members: [member('n1', 5440, { tags: { nofailover: true }, pending_restart: true })],
        failover: { leader: 'n1', member: 'n2', scheduled_at: '2026-11-23T10:00:00+00:00' },
      }),
    });
    const c = clusterJson(view);
    assert.deepEqual(c.members[0]?.tags, { nofailover: true });
    assert.equal(c.members[0]?.pending_restart, true);
    assert.equal(c.pause, true);
    assert.deepEqual(c.scheduled_switchover, { at: '2026-11-23T10:00:00+00:00', from: 'n1', to: 'n2' });
  });

  it('calls the leader standby_leader in a standby cluster', () => {
    const c = clusterJson(leaderView({ cluster: cluster({ config: { standby_cluster: { host: 'far' } } }) }));
    assert.equal(c.members[0]?.role, 'standby_leader');
  });

  it('is an empty member list without a cluster view', () => {
    assert.deepEqual(clusterJson(leaderView({ cluster: null })), { members: [] });
  });
});

describe('hostPort', () => {
  it('reads host and port from a connection URL, defaulting the port to 5432', () => {
    assert.deepEqual(hostPort('postgres://u:p@db1.example:6543/postgres'), { host: 'db1.example', port: 6543 });
    assert.deepEqual(hostPort('postgresql://10.0.0.1/postgres'), { host: '10.0.0.1', port: 5432 });
    assert.deepEqual(hostPort('postgres://[::1]:5433/postgres'), { host: '::1', port: 5433 });
    assert.equal(hostPort('not a url'), null);
  });
});

describe('PostgreSQL timestamps', () => {
  it('renders offsets the way Patroni shows them', () => {
    assert.equal(patroniTimestamp('2026-11-22 11:51:02.473627+00'), '2026-11-22 11:51:02.473627+00:00');
    assert.equal(patroniTimestamp('2026-11-22 11:51:02+05:30'), '2026-11-22 11:51:02+05:30');
    assert.equal(patroniTimestamp('garbage'), 'garbage');
  });

  it('converts to epoch seconds with microseconds', () => {
    assert.equal(epochSeconds('2026-11-22 11:51:02.473627+00'), 1_795_348_262.473627);
    assert.equal(epochSeconds('2026-11-22 12:51:02+01'), 1_795_348_262);
    assert.equal(epochSeconds(null), 0);
    assert.equal(epochSeconds('garbage'), 0);
  });
});

describe('synchronous standby in /patroni, /cluster and /metrics', () => {
  it('marks the replica the sync key names, and only it', () => {
    const c = cluster({ sync: { leader: 'n1', standbys: ['n2'] }, syncModRevision: '9' });
    const view = replicaView({ cluster: c });
    assert.equal(statusJson(view, WALL, NOW).sync_standby, true);
    assert.equal('sync_standby' in statusJson(replicaView(), WALL, NOW), false);
    assert.deepEqual(clusterJson(view).members.map((m) => [m.name, m.role]), [['n1', 'leader'], ['n2', 'sync_standby'], ['n3', 'replica']]);
    assert.match(metricsText(view, WALL, NOW), /^patroni_sync_standby\{[^}]*\} 1$/m);
  });
});
