import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide } from '../../../src/ha/decide.js';
import type { Action, Memory, Observation } from '../../../src/ha/types.js';
import { cluster, emptyPg, mem, member, obs, peer, primaryPg, replicaPg, stoppedPg, withLeader } from './builders.js';

interface Row {
  name: string;
  obs: Observation;
  memory?: Memory;
  actions: Action['type'][];
  reason: RegExp;
  check?: (actions: Action[], memory: Memory) => void;
}

const up = (name: string, port: number) => ({ name, host: '127.0.0.1', port });
const noCluster = cluster({ initialize: null, members: [], optime: null, config: null });

const rows: Row[] = [
  {
    name: 'an empty data directory and no cluster in etcd bootstraps a new cluster',
    obs: obs({ pg: emptyPg(), dcs: { ok: true, cluster: noCluster } }),
    actions: ['bootstrap'], reason: /bootstrapping a new cluster/,
  },
  {
    name: 'a node without a bootstrap section waits for another node to bootstrap',
    obs: obs({ pg: emptyPg(), dcs: { ok: true, cluster: noCluster }, self: { name: 'n1', nofailover: false, replicatefrom: null, canBootstrap: false } }),
    actions: [], reason: /waiting for another node to bootstrap/,
  },
  {
    name: 'an empty data directory waits while another node holds the initialize key',
    obs: obs({ pg: emptyPg(), dcs: { ok: true, cluster: { ...noCluster, initialize: '' } } }),
    actions: [], reason: /another node is bootstrapping/,
  },
  {
    name: 'an empty data directory with a leader clones from the leader',
    obs: obs({ pg: emptyPg(), dcs: { ok: true, cluster: withLeader(cluster(), 'n2') } }),
    actions: ['clone'], reason: /cloning from n2/,
    check: (a) => assert.deepEqual(a[0], { type: 'clone', source: up('n2', 5433), follow: up('n2', 5433) }),
  },
  {
    name: 'a running member tagged clonefrom is preferred as the clone source',
    obs: obs({
      pg: emptyPg(),
      dcs: { ok: true, cluster: withLeader(cluster({ members: [member('n1', 5432), member('n2', 5433, { role: 'primary' }), member('n3', 5434, { tags: { clonefrom: true } })] }), 'n2') },
    }),
    actions: ['clone'], reason: /cloning from n3/,
    check: (a) => assert.deepEqual(a[0], { type: 'clone', source: up('n3', 5434), follow: up('n2', 5433) }),
  },
  {
    name: 'the leader with a healthy primary renews its key and publishes its position',
    obs: obs({ pg: primaryPg(2000), dcs: { ok: true, cluster: withLeader(cluster(), 'n1') }, leaderUntil: 108_000 }),
    actions: ['renewLeader', 'writeStatus', 'syncSlots'], reason: /I am the leader with the lock/,
    check: (a) => assert.deepEqual(a[2], { type: 'syncSlots', slots: ['n2', 'n3'] }),
  },
  {
    name: 'a leader whose lease runs out before a renewal could land steps down at once',
    obs: obs({ pg: primaryPg(), dcs: { ok: true, cluster: withLeader(cluster(), 'n1') }, leaderUntil: 102_000 }),
    actions: ['stop'], reason: /lease runs out in 2 s/,
    check: (a, m) => { assert.deepEqual(a[0], { type: 'stop', mode: 'immediate' }); assert.equal(m.mustCheckDivergence, true); },
  },
  {
    name: 'a leader on a new timeline writes the history key',
    obs: obs({ pg: primaryPg(1000, 2), dcs: { ok: true, cluster: withLeader(cluster(), 'n1') } }),
    actions: ['renewLeader', 'writeHistory', 'syncSlots'], reason: /leader with the lock/,
  },
  {
    name: 'a leader writes the dynamic configuration when the config key is missing',
    obs: obs({ pg: primaryPg(), dcs: { ok: true, cluster: withLeader(cluster({ config: null }), 'n1') } }),
    actions: ['renewLeader', 'writeConfig', 'syncSlots'], reason: /leader with the lock/,
  },
  {
    name: 'a primary that cannot reach etcd demotes with a fast stop before its lease could expire',
    obs: obs({ pg: primaryPg(), dcs: { ok: false, error: 'deadline exceeded' }, leaderUntil: 106_000 }),
    actions: ['stop'], reason: /etcd is not reachable \(deadline exceeded\)/,
    check: (a) => assert.deepEqual(a[0], { type: 'stop', mode: 'fast' }),
  },
  {
    name: 'a primary rides out an etcd blip while its lease is valid for longer than a retry',
    obs: obs({ pg: primaryPg(), dcs: { ok: false, error: 'deadline exceeded' }, leaderUntil: 107_000 }),
    actions: [], reason: /lease is still valid for 7 s, retrying/,
  },
  {
    name: 'a paused primary that cannot reach etcd keeps running',
    obs: obs({ pg: primaryPg(), dcs: { ok: false, error: 'timeout' }, settings: { ...obs().settings, paused: true } }),
    actions: [], reason: /paused, so the primary keeps running/,
  },
  {
    name: 'a replica that cannot reach etcd keeps replaying',
    obs: obs({ pg: replicaPg(), dcs: { ok: false, error: 'timeout' } }),
    actions: [], reason: /keeping PostgreSQL as it is \(read-only\)/,
  },
  {
    name: 'a stopped node that cannot reach etcd starts read-only without an upstream',
    obs: obs({ pg: stoppedPg('in production'), dcs: { ok: false, error: 'timeout' } }),
    actions: ['start'], reason: /starting PostgreSQL read-only/,
    check: (a, m) => { assert.deepEqual(a[0], { type: 'start', role: 'replica', upstream: null }); assert.equal(m.mustCheckDivergence, true); },
  },
  {
    name: 'without a leader a healthy replica first asks its peers',
    obs: obs({ pg: replicaPg() }),
    actions: ['probePeers'], reason: /asking the other members/,
    check: (a) => assert.deepEqual(a[0], { type: 'probePeers', members: [{ name: 'n2', apiUrl: 'http://127.0.0.1:8433/patroni' }, { name: 'n3', apiUrl: 'http://127.0.0.1:8434/patroni' }] }),
  },
  {
    name: 'the race also asks members remembered from the last view with a leader',
    obs: obs({ pg: replicaPg(), dcs: { ok: true, cluster: cluster({ members: [member('n1', 5432)] }) } }),
    memory: mem({ lastMembers: [{ name: 'old', apiUrl: 'http://127.0.0.1:9/patroni' }] }),
    actions: ['probePeers'], reason: /asking/,
    check: (a) => assert.deepEqual(a[0], { type: 'probePeers', members: [{ name: 'old', apiUrl: 'http://127.0.0.1:9/patroni' }] }),
  },
  {
    name: 'a replica does not race when a peer is ahead of it',
    obs: obs({ pg: replicaPg(1000), peers: [peer('n2', { lsn: 1500 }), peer('n3', { reachable: false, lsn: null })] }),
    actions: [], reason: /n2 is ahead of me \(1500 > 1000\)/,
  },
  {
    name: 'a replica does not race while a peer still runs as primary',
    obs: obs({ pg: replicaPg(5000), peers: [peer('n2', { isPrimary: true, lsn: 10 })] }),
    actions: [], reason: /n2 is still running as primary/,
  },
  {
    name: 'a nofailover peer ahead of me does not stop my race',
    obs: obs({ pg: replicaPg(1000), peers: [peer('n2', { lsn: 9000, nofailover: true }), peer('n3', { lsn: 900 })] }),
    actions: ['acquireLeader'], reason: /most advanced of 3 reachable/,
  },
  {
    name: 'the most advanced replica races when the old leader is unreachable',
    obs: obs({ pg: replicaPg(1200), peers: [peer('n2', { reachable: false, lsn: null }), peer('n3', { lsn: 1100 })] }),
    actions: ['acquireLeader'], reason: /racing for the leader key: .*2 reachable member\(s\) \(1 unreachable\)/,
    check: (a) => assert.deepEqual(a[0], { type: 'acquireLeader', promote: true }),
  },
  {
    name: 'a replica lagging beyond maximum_lag_on_failover does not race',
    obs: obs({ pg: replicaPg(1000), dcs: { ok: true, cluster: cluster({ optime: 1000 + 2_000_000 }) } }),
    actions: [], reason: /2000000 bytes \(1.9 MiB\) behind .*maximum_lag_on_failover/,
  },
  {
    name: 'a replica tagged nofailover never races',
    obs: obs({ pg: replicaPg(), self: { name: 'n1', nofailover: true, replicatefrom: null, canBootstrap: true } }),
    actions: [], reason: /tagged nofailover/,
  },
  {
    name: 'paused clusters have no automatic failover',
    obs: obs({ pg: replicaPg(), settings: { ...obs().settings, paused: true } }),
    actions: [], reason: /automatic failover is off/,
  },
  {
    name: 'a stale primary on the current timeline takes the free key without promoting',
    obs: obs({ pg: primaryPg(1000, 1) }),
    actions: ['acquireLeader'], reason: /already runs as primary on timeline 1/,
    check: (a) => assert.deepEqual(a[0], { type: 'acquireLeader', promote: false }),
  },
  {
    name: 'a stale primary behind the cluster timeline demotes instead of taking the key',
    obs: obs({ pg: primaryPg(1000, 1), dcs: { ok: true, cluster: cluster({ history: [[1, 500, 'no recovery target specified']] }) } }),
    actions: ['stop'], reason: /cluster moved on to timeline 2/,
  },
  {
    name: 'a primary demotes at once when another node holds the key',
    obs: obs({ pg: primaryPg(), dcs: { ok: true, cluster: withLeader(cluster(), 'n2') } }),
    actions: ['stop'], reason: /demoting: n2 holds the leader key/,
    check: (a, m) => { assert.deepEqual(a[0], { type: 'stop', mode: 'immediate' }); assert.equal(m.mustCheckDivergence, true); },
  },
  {
    name: 'a stopped former primary rejoins through a divergence check',
    obs: obs({ pg: stoppedPg('in production'), dcs: { ok: true, cluster: withLeader(cluster(), 'n2') } }),
    actions: ['rejoin'], reason: /rejoining as a replica of n2/,
  },
  {
    name: 'a running replica that used to be primary rejoins before following',
    obs: obs({ pg: replicaPg(), dcs: { ok: true, cluster: withLeader(cluster(), 'n2') } }),
    memory: mem({ mustCheckDivergence: true }),
    actions: ['rejoin'], reason: /rejoining/,
    check: (_a, m) => assert.equal(m.mustCheckDivergence, false),
  },
  {
    name: 'a stopped replica starts following the leader',
    obs: obs({ pg: stoppedPg(), dcs: { ok: true, cluster: withLeader(cluster(), 'n2') } }),
    actions: ['start'], reason: /starting PostgreSQL as a replica of n2/,
    check: (a) => assert.deepEqual(a[0], { type: 'start', role: 'replica', upstream: up('n2', 5433) }),
  },
  {
    name: 'a failed rejoin leaves the divergence check armed for the next cycle',
    obs: obs({ pg: stoppedPg('shut down in recovery'), dcs: { ok: true, cluster: withLeader(cluster(), 'n2') }, finished: { kind: 'rejoin', ok: false, error: 'leader unreachable', finishedAt: 99_000 } }),
    actions: ['rejoin'], reason: /rejoining as a replica of n2/,
  },
  {
    name: 'a replica stuck on an older timeline than the cluster and not streaming rejoins after a grace period',
    obs: obs({ pg: replicaPg(1000, null), dcs: { ok: true, cluster: withLeader(cluster({ history: [[1, 500, 'promoted']] }), 'n2') } }),
    memory: mem({ following: 'n2', notStreamingSince: 90_000 }),
    actions: ['rejoin'], reason: /still on timeline 1 while the cluster is on 2/,
  },
  {
    name: 'a replica that just fell behind the cluster timeline gets time to switch timelines',
    obs: obs({ pg: replicaPg(1000, null), dcs: { ok: true, cluster: withLeader(cluster({ history: [[1, 500, 'promoted']] }), 'n2') } }),
    memory: mem({ following: 'n2' }),
    actions: [], reason: /not streaming yet/,
    check: (_a, m) => assert.equal(m.notStreamingSince, 100_000),
  },
  {
    name: 'a replica on the cluster timeline that has not streamed for longer than ttl + 2 × loop_wait rejoins to check for a forked history',
    obs: obs({ pg: replicaPg(1000, null), dcs: { ok: true, cluster: withLeader(cluster(), 'n2') } }),
    memory: mem({ following: 'n2', notStreamingSince: 84_000 }),
    actions: ['rejoin'], reason: /not streaming for 16 s although n2 runs/,
    check: (_a, m) => assert.deepEqual([m.notStreamingSince, m.stalledRejoins], [null, 1]),
  },
  {
    name: 'a stalled replica waits twice as long after each stall rejoin in a row',
    obs: obs({ pg: replicaPg(1000, null), dcs: { ok: true, cluster: withLeader(cluster(), 'n2') } }),
    memory: mem({ following: 'n2', notStreamingSince: 84_000, stalledRejoins: 1 }),
    actions: [], reason: /not streaming yet/,
    check: (_a, m) => assert.deepEqual([m.notStreamingSince, m.stalledRejoins], [84_000, 1]),
  },
  {
    name: 'a stalled replica does not restart while its leader is not running',
    obs: obs({ pg: replicaPg(1000, null), dcs: { ok: true, cluster: withLeader(cluster({ members: [member('n1', 5432), member('n2', 5433, { state: 'starting' })] }), 'n2') } }),
    memory: mem({ following: 'n2', notStreamingSince: 50_000 }),
    actions: [], reason: /not streaming yet/,
  },
  {
    name: 'a paused replica is never restarted for not streaming',
    obs: obs({ pg: replicaPg(1000, null), settings: { ...obs().settings, paused: true }, dcs: { ok: true, cluster: withLeader(cluster(), 'n2') } }),
    memory: mem({ following: 'n2', notStreamingSince: 50_000 }),
    actions: [], reason: /not streaming yet/,
  },
  {
    name: 'streaming again clears the stall count',
    obs: obs({ pg: replicaPg(1000), dcs: { ok: true, cluster: withLeader(cluster(), 'n2') } }),
    memory: mem({ following: 'n2', notStreamingSince: 84_000, stalledRejoins: 3 }),
    actions: [], reason: /streaming/,
    check: (_a, m) => assert.deepEqual([m.notStreamingSince, m.stalledRejoins], [null, 0]),
  },
  {
    name: 'a leader restarting PostgreSQL in place forgets whom it followed',
    obs: obs({ pg: stoppedPg('in production'), dcs: { ok: true, cluster: withLeader(cluster(), 'n1') } }),
    memory: mem({ following: 'n2' }),
    actions: ['renewLeader', 'start'], reason: /restarting it in place/,
    check: (_a, m) => assert.equal(m.following, null),
  },
  {
    name: 'a running replica is pointed at a new leader',
    obs: obs({ pg: replicaPg(), dcs: { ok: true, cluster: withLeader(cluster(), 'n3') } }),
    memory: mem({ following: 'n2' }),
    actions: ['follow'], reason: /following n3, the leader/,
  },
  {
    name: 'a replica with the replicatefrom tag cascades from that member',
    obs: obs({ pg: replicaPg(), dcs: { ok: true, cluster: withLeader(cluster(), 'n3') }, self: { name: 'n1', nofailover: false, replicatefrom: 'n2', canBootstrap: true } }),
    actions: ['follow'], reason: /following n2 \(cascading; n3 is the leader\)/,
  },
  {
    name: 'a replica already following the leader does nothing',
    obs: obs({ pg: replicaPg(), dcs: { ok: true, cluster: withLeader(cluster(), 'n2') } }),
    memory: mem({ following: 'n2' }),
    actions: [], reason: /no action: I am a replica of n2, streaming/,
  },
  {
    name: 'a leader whose PostgreSQL crashed restarts it in place and keeps the key',
    obs: obs({ pg: stoppedPg('in production'), dcs: { ok: true, cluster: withLeader(cluster(), 'n1') } }),
    actions: ['renewLeader', 'start'], reason: /restarting it in place as primary .*300 s left/,
    check: (a, m) => { assert.deepEqual(a[1], { type: 'start', role: 'primary' }); assert.equal(m.crashedSince, 100_000); },
  },
  {
    name: 'with primary_start_timeout 0 a crashed leader releases the key at once',
    obs: obs({ pg: stoppedPg('in production'), dcs: { ok: true, cluster: withLeader(cluster(), 'n1') }, settings: { ...obs().settings, primaryStartTimeoutMs: 0 } }),
    actions: ['releaseLeader', 'start'], reason: /primary_start_timeout is 0: releasing the leader key/,
  },
  {
    name: 'a crashed leader that stays down past primary_start_timeout releases the key',
    obs: obs({ pg: stoppedPg('in production'), dcs: { ok: true, cluster: withLeader(cluster(), 'n1') }, now: 500_000 }),
    memory: mem({ crashedSince: 100_000 }),
    actions: ['releaseLeader', 'start'], reason: /longer than primary_start_timeout \(300 s\)/,
  },
  {
    name: 'a restart in place that overruns primary_start_timeout is cancelled and the key released',
    obs: obs({ pg: stoppedPg('in production'), dcs: { ok: true, cluster: withLeader(cluster(), 'n1') }, now: 500_000, task: { kind: 'start', startedAt: 101_000 } }),
    memory: mem({ crashedSince: 100_000 }),
    actions: ['cancelTask', 'stop', 'releaseLeader'], reason: /did not come back within primary_start_timeout/,
  },
  {
    name: 'the new leader promotes its replica after winning the key',
    obs: obs({ pg: replicaPg(), dcs: { ok: true, cluster: withLeader(cluster(), 'n1') } }),
    actions: ['renewLeader', 'promote'], reason: /promoting: I hold the leader key/,
  },
  {
    name: 'a promotion in flight is cancelled when another node holds the key',
    obs: obs({ pg: replicaPg(), dcs: { ok: true, cluster: withLeader(cluster(), 'n2') }, task: { kind: 'promote', startedAt: 99_000 } }),
    actions: ['cancelTask', 'stop'], reason: /cancelling promote: the leader key is held by n2/,
  },
  {
    name: 'the leader keeps renewing while a background task runs',
    obs: obs({ pg: replicaPg(), dcs: { ok: true, cluster: withLeader(cluster(), 'n1') }, task: { kind: 'promote', startedAt: 99_000 } }),
    actions: ['renewLeader'], reason: /promote in progress for 1 s; renewed the leader key/,
  },
  {
    name: 'a data directory from another cluster is refused',
    obs: obs({ pg: { ...replicaPg(), systemIdentifier: '123' } as Observation['pg'] }),
    actions: ['fatal'], reason: /belongs to another cluster/,
  },
  {
    name: 'an existing primary is adopted when etcd has no cluster',
    obs: obs({ pg: primaryPg(), dcs: { ok: true, cluster: noCluster } }),
    actions: ['writeInitialize', 'acquireLeader'], reason: /adopting the running primary/,
  },
];

describe('decide', () => {
  for (const row of rows) {
    it(row.name, () => {
      const input = structuredClone(row.obs);
      const before = structuredClone(row.memory ?? mem());
      const memory = structuredClone(before);
      const d = decide(input, memory);
      assert.deepEqual(d.actions.map((a) => a.type), row.actions);
      assert.match(d.reason, row.reason);
      assert.deepEqual(input, row.obs, 'decide must not mutate its observation');
      assert.deepEqual(memory, before, 'decide must not mutate its memory');
      row.check?.(d.actions, d.memory);
    });
  }
});
