import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClusterSnapshot } from '../../../src/domain/cluster.js';
import { alertConditions, assess, confirmAlerts, observedLags, type MemberProbe, type ObserverAlert } from '../../../src/observe/detect.js';
import type { LagLimits } from '../../../src/outside/lag.js';
import { cluster, member } from '../api/fixtures.js';
import { primaryReading, probe, refusedLogin, replicaReading, unreachablePg } from './helpers.js';

const TOP = 67_108_864;
const healthy = (): MemberProbe[] => [probe('n1', primaryReading(TOP)), probe('n2', replicaReading(TOP)), probe('n3', replicaReading(TOP - 1000))];
const replace = (probes: MemberProbe[], p: MemberProbe): MemberProbe[] => probes.map((x) => (x.name === p.name ? p : x));

interface Row {
  name: string;
  cluster?: ClusterSnapshot;
  probes: MemberProbe[];
  limits?: LagLimits;
  primaries: string[];
  alerts: ObserverAlert[];
}

const standby = cluster({
  config: { ttl: 30, standby_cluster: { host: '10.0.0.9', port: 5432 } },
  members: [member('n1', 5440, { role: 'standby_leader' }), member('n2', 5441)],
});

const ROWS: Row[] = [
  { name: 'a healthy cluster: one primary, the leader, nothing to say', probes: healthy(), primaries: ['n1'], alerts: [] },
  {
    name: 'a replica promoted by hand answers as primary too: two primaries',
    probes: replace(healthy(), probe('n2', primaryReading(TOP + 5, { timeline: 2 }), { ok: true, role: 'replica', state: 'running', reason: null })),
    primaries: ['n1', 'n2'],
    alerts: ['multiple_primary_warning'],
  },
  {
    name: 'two primaries while nobody holds the leader key',
    cluster: cluster({ leader: null }),
    probes: replace(healthy(), probe('n3', primaryReading(TOP))),
    primaries: ['n1', 'n3'],
    alerts: ['multiple_primary_warning'],
  },
  {
    name: 'the leader key names a server in recovery: no writable primary',
    probes: replace(healthy(), probe('n1', replicaReading(TOP))),
    primaries: [],
    alerts: ['leader_in_recovery_warning'],
  },
  {
    name: 'a standby cluster whose leader replicates by design raises nothing',
    cluster: standby,
    probes: [probe('n1', replicaReading(TOP)), probe('n2', replicaReading(TOP))],
    primaries: [],
    alerts: [],
  },
  {
    name: 'an unreachable leader is not "in recovery": no alert from what is not known',
    probes: replace(healthy(), probe('n1', unreachablePg)),
    primaries: [],
    alerts: [],
  },
  {
    name: 'a refused login is an authentication error, not an unreachable server only',
    probes: replace(healthy(), probe('n3', refusedLogin)),
    primaries: ['n1'],
    alerts: ['authentication_error'],
  },
  {
    name: 'a replica more than warning_replication_bytes_lag behind',
    probes: replace(healthy(), probe('n3', replicaReading(TOP - 2_000_000))),
    limits: { bytes: 1_048_576 },
    primaries: ['n1'],
    alerts: ['replication_delay_warning'],
  },
  {
    name: 'a replica exactly at the byte limit is not over it',
    probes: replace(healthy(), probe('n3', replicaReading(TOP - 1_048_576))),
    limits: { bytes: 1_048_576 },
    primaries: ['n1'],
    alerts: [],
  },
  {
    name: 'a replica behind whose last replayed transaction is older than warning_replication_time_lag',
    probes: replace(healthy(), probe('n3', replicaReading(TOP - 100, { replayAgeSeconds: 45 }))),
    limits: { seconds: 30 },
    primaries: ['n1'],
    alerts: ['replication_delay_warning'],
  },
];

describe('assess and alertConditions', () => {
  for (const row of ROWS) {
    it(row.name, () => {
      const limits = row.limits ?? {};
      const a = assess(row.cluster ?? cluster(), row.probes, limits);
      assert.deepEqual(a.primaries, row.primaries);
      assert.deepEqual([...alertConditions(a, limits).keys()], row.alerts);
    });
  }

  it('records what each alert is about', () => {
    const a = assess(cluster(), replace(replace(healthy(), probe('n2', primaryReading(TOP))), probe('n3', refusedLogin)), {});
    assert.deepEqual(Object.fromEntries(alertConditions(a, {})), {
      multiple_primary_warning: { primaries: ['n1', 'n2'], leader: 'n1' },
      authentication_error: { members: ['n3'] },
    });
    assert.deepEqual(a.pgUnreachable, ['n3']);
  });
});

describe('observedLags', () => {
  const lagsOf = (probes: MemberProbe[], leader: string | null = 'n1') => observedLags(leader, probes);

  it('measures bytes from the leader\'s own position; the leader reads 0/0', () => {
    assert.deepEqual(lagsOf(healthy()), { n1: { bytes: 0, seconds: 0 }, n2: { bytes: 0, seconds: 0 }, n3: { bytes: 1000, seconds: 0.5 } });
  });

  it('reads 0 seconds for a replica that replayed everything, however old its last transaction (idle primary)', () => {
    const lags = lagsOf([probe('n1', primaryReading(TOP)), probe('n2', replicaReading(TOP, { replayAgeSeconds: 3600 }))]);
    assert.deepEqual(lags['n2'], { bytes: 0, seconds: 0 });
  });

  it('prefers the heartbeat: how much older the replica\'s newest beat is than the leader\'s', () => {
    const lags = lagsOf([probe('n1', primaryReading(TOP, { heartbeatAgeSeconds: 0.4 })), probe('n2', replicaReading(TOP - 10, { heartbeatAgeSeconds: 2.9, replayAgeSeconds: 99 }))]);
    assert.deepEqual(lags['n2'], { bytes: 10, seconds: 2.5 });
  });

  it('knows no byte lag without a leader answering as primary', () => {
    const lags = lagsOf([probe('n1', unreachablePg), probe('n2', replicaReading(TOP, { replayAgeSeconds: 7 }))]);
    assert.deepEqual(lags, { n1: { bytes: null, seconds: null }, n2: { bytes: null, seconds: 7 } });
  });

  it('gives a rogue primary and an unreachable member no lag at all', () => {
    const lags = lagsOf([probe('n1', primaryReading(TOP)), probe('n2', primaryReading(TOP + 99)), probe('n3', unreachablePg)]);
    assert.deepEqual([lags['n2'], lags['n3']], [{ bytes: null, seconds: null }, { bytes: null, seconds: null }]);
  });

  it('never reads a negative lag for a replica whose probe saw it ahead of the leader', () => {
    assert.deepEqual(lagsOf([probe('n1', primaryReading(TOP)), probe('n2', replicaReading(TOP + 500))])['n2'], { bytes: 0, seconds: 0 });
  });
});

describe('confirmAlerts', () => {
  const CASES: [string, ObserverAlert[], ObserverAlert[], ObserverAlert[]][] = [
    ['a condition seen once is not an alert yet', [], ['multiple_primary_warning'], []],
    ['seen in two rounds in a row it is', ['multiple_primary_warning'], ['multiple_primary_warning', 'authentication_error'], ['multiple_primary_warning']],
    ['it ends at the first round without it', ['leader_in_recovery_warning'], [], []],
  ];
  for (const [name, before, now, expected] of CASES) {
    it(name, () => assert.deepEqual([...confirmAlerts(new Set(before), new Set(now))], expected));
  }
});
