import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClusterSnapshot } from '../../../src/domain/cluster.js';
import { buildEventDocument } from '../../../src/events/document.js';
import { trackTopology, triggerJob, type TopologyState, type TopologyThresholds } from '../../../src/events/triggers.js';
import { snap } from './helpers.js';

interface Step {
  cluster: ClusterSnapshot;
  lagSeconds?: Record<string, number>;
  /** Expected events as `<event> <member>` (`failover_happened` adds ` from <previous>`). */
  events: string[];
}

interface Row {
  name: string;
  thresholds?: TopologyThresholds;
  steps: Step[];
}

const healthy = snap('n1', { n1: {}, n2: {}, n3: {} });
const lagSteps = (limitsLag: number[], expected: (lag: number, i: number) => string[]): Step[] =>
  limitsLag.map((lag, i) => ({ cluster: snap('n1', { n1: {}, n2: { lag } }), events: expected(lag, i) }));

const rows: Row[] = [
  {
    name: 'the first observation only records the baseline, even with a down replica',
    steps: [{ cluster: snap('n1', { n1: {}, n2: { state: 'stopped' }, n3: {} }), events: [] }],
  },
  {
    name: 'an unchanged cluster fires nothing cycle after cycle',
    steps: [healthy, healthy, healthy].map((cluster) => ({ cluster, events: [] })),
  },
  {
    name: 'the leader key vanishing is leader_down; another member taking it later is leader_up and a failover',
    steps: [
      { cluster: healthy, events: [] },
      { cluster: snap(null, { n2: {}, n3: {} }), events: ['leader_down n1'] },
      { cluster: snap(null, { n2: {}, n3: {} }), events: [] },
      { cluster: snap('n2', { n2: {}, n3: {} }), events: ['leader_up n2', 'failover_happened n2 from n1'] },
    ],
  },
  {
    name: 'the leader member key vanishing while the leader key remains is leader_down; its return is leader_up without failover',
    steps: [
      { cluster: healthy, events: [] },
      { cluster: snap('n1', { n2: {}, n3: {} }), events: ['leader_down n1'] },
      { cluster: healthy, events: ['leader_up n1'] },
    ],
  },
  {
    name: 'a leader change between two observations is down, up and failover; the promoted replica is not reported down',
    steps: [
      { cluster: healthy, events: [] },
      { cluster: snap('n2', { n2: {}, n3: {} }), events: ['leader_down n1', 'leader_up n2', 'failover_happened n2 from n1'] },
      { cluster: snap('n2', { n1: {}, n2: {}, n3: {} }), events: ['replica_up n1'] },
    ],
  },
  {
    name: 'the first leader after a leaderless baseline is leader_up without failover',
    steps: [
      { cluster: snap(null, { n1: {}, n2: {} }), events: [] },
      { cluster: snap('n1', { n1: {}, n2: {} }), events: ['leader_up n1'] },
    ],
  },
  {
    name: 'a stopped replica is down once and up again once it runs',
    steps: [
      { cluster: healthy, events: [] },
      { cluster: snap('n1', { n1: {}, n2: { state: 'stopped' }, n3: {} }), events: ['replica_down n2'] },
      { cluster: snap('n1', { n1: {}, n2: { state: 'starting' }, n3: {} }), events: [] },
      { cluster: healthy, events: ['replica_up n2'] },
    ],
  },
  {
    name: 'a vanished replica is down; its return as a running replica is up',
    steps: [
      { cluster: healthy, events: [] },
      { cluster: snap('n1', { n1: {}, n2: {} }), events: ['replica_down n3'] },
      { cluster: healthy, events: ['replica_up n3'] },
    ],
  },
  {
    name: 'a member joining is up only once it runs',
    steps: [
      { cluster: snap('n1', { n1: {}, n2: {} }), events: [] },
      { cluster: snap('n1', { n1: {}, n2: {}, n3: { state: 'creating replica', lag: null } }), events: [] },
      { cluster: healthy, events: ['replica_up n3'] },
    ],
  },
  {
    name: 'a replica that reports role primary without the leader key is down',
    steps: [
      { cluster: healthy, events: [] },
      { cluster: snap('n1', { n1: {}, n2: { role: 'primary' }, n3: {} }), events: ['replica_down n2'] },
    ],
  },
  {
    name: 'member names that are Object property names are ordinary names',
    steps: [
      { cluster: snap('n1', { n1: {}, constructor: {}, ['__proto__']: {} }), events: [] },
      { cluster: snap('n1', { n1: {}, constructor: { state: 'stopped' } }), events: ['replica_down __proto__', 'replica_down constructor'] },
    ],
  },
  {
    name: 'events of one cycle come leader first, then replicas by name',
    steps: [
      { cluster: healthy, events: [] },
      { cluster: snap(null, { n3: { state: 'stopped' } }), events: ['leader_down n1', 'replica_down n2', 'replica_down n3'] },
    ],
  },
  {
    name: 'lag hovering around the byte limit gives exactly one down and one up (hysteresis)',
    thresholds: { replica_down_lag_bytes: 1000, replica_up_lag_bytes: 500 },
    steps: lagSteps([0, 900, 1100, 950, 1050, 990, 1010, 600, 500, 700, 900], (_lag, i) =>
      i === 2 ? ['replica_down n2'] : i === 8 ? ['replica_up n2'] : [],
    ),
  },
  {
    name: 'without an up limit a replica is up again as soon as it is within the down limit',
    thresholds: { replica_down_lag_bytes: 1000 },
    steps: lagSteps([0, 1001, 1000, 1001], (_lag, i) => (i === 1 || i === 3 ? ['replica_down n2'] : i === 2 ? ['replica_up n2'] : [])),
  },
  {
    name: 'lag in seconds uses its own limits with the same hysteresis',
    thresholds: { replica_down_lag_seconds: 30, replica_up_lag_seconds: 10 },
    steps: [5, 40, 20, 35, 11, 10, 25].map((s, i) => ({
      cluster: snap('n1', { n1: {}, n2: {} }),
      lagSeconds: { n2: s },
      events: i === 1 ? ['replica_down n2'] : i === 5 ? ['replica_up n2'] : [],
    })),
  },
  {
    name: 'unknown lag never counts as too much: no leader, no position, no measured seconds',
    thresholds: { replica_down_lag_bytes: 10, replica_down_lag_seconds: 1 },
    steps: [
      { cluster: snap(null, { n2: {}, n3: {} }), events: [] },
      { cluster: snap(null, { n2: { lag: 5000 }, n3: { lag: null } }), events: [] },
    ],
  },
];

function run(row: Row): string[][] {
  let state: TopologyState | null = null;
  return row.steps.map((step, i) => {
    const seconds = step.lagSeconds ? new Map(Object.entries(step.lagSeconds)) : undefined;
    const r = trackTopology(state, step.cluster, row.thresholds ?? {}, i * 1000, seconds);
    state = r.state;
    return r.events.map((e) => `${e.event} ${e.member}${e.previous ? ` from ${e.previous}` : ''}`);
  });
}

describe('trackTopology', () => {
  for (const row of rows) {
    it(row.name, () => assert.deepEqual(run(row), row.steps.map((s) => s.events)));
  }

  it('reports vanished members as lost, once', () => {
    const first = trackTopology(null, healthy, {}, 0);
    const second = trackTopology(first.state, snap('n1', { n1: {}, n2: {} }), {}, 1000);
    const third = trackTopology(second.state, snap('n1', { n1: {}, n2: {} }), {}, 2000);
    assert.deepEqual([first.lost, second.lost, third.lost], [[], ['n3'], []]);
  });

  it('says why each event fired', () => {
    const base = trackTopology(null, healthy, { replica_down_lag_bytes: 100 }, 0);
    const r = trackTopology(base.state, snap('n1', { n1: {}, n2: { lag: 250 }, n3: { state: 'crashed' } }), { replica_down_lag_bytes: 100 }, 1000);
    assert.deepEqual(
      r.events.map((e) => e.reason),
      ['replica n2 lags 250 bytes behind the leader (limit 100)', 'replica n3 is crashed'],
    );
    const back = trackTopology(r.state, healthy, { replica_down_lag_bytes: 100 }, 43_000);
    assert.equal(back.events[0]?.reason, 'replica n2 is running within the lag limits after 42 s down');
  });
});

describe('triggerJob', () => {
  const doc = buildEventDocument({ event: 'replica_down', scope: 'main', cluster: healthy, now: new Date(0) });
  const down = { event: 'replica_down', member: 'n2', reason: 'r' } as const;

  it('runs the configured command with event, scope and member, the document on stdin', () => {
    const job = triggerJob({ replica_down: "/opt/hooks/replica 'down now'" }, down, 'main', doc, 30);
    assert.deepEqual(job, {
      key: 'trigger:replica:n2',
      label: 'trigger replica_down',
      argv: ['/opt/hooks/replica', 'down now', 'replica_down', 'main', 'n2'],
      stdin: JSON.stringify(doc),
      timeoutMs: 30_000,
      quiet: false,
    });
  });

  it('returns null when the event has no command', () => {
    assert.equal(triggerJob({ replica_up: '/x' }, down, 'main', doc, 30), null);
    assert.equal(triggerJob(undefined, down, 'main', doc, 30), null);
  });

  it('keys jobs by subject so up and down of one replica or of the leadership serialise', () => {
    const key = (event: 'leader_up' | 'leader_down' | 'replica_up' | 'replica_down' | 'failover_happened' | 'heartbeat', member: string | null) =>
      triggerJob({ [event]: '/x' }, { event, member, reason: '' }, 'main', doc, 1)?.key;
    assert.equal(key('replica_up', 'n2'), key('replica_down', 'n2'));
    assert.notEqual(key('replica_down', 'n2'), key('replica_down', 'n3'));
    assert.equal(key('leader_up', 'n1'), key('leader_down', 'n2'));
    assert.notEqual(key('failover_happened', 'n1'), key('leader_up', 'n1'));
  });

  it('runs the heartbeat quietly without a member argument', () => {
    const job = triggerJob({ heartbeat: '/hb' }, { event: 'heartbeat', member: null, reason: '' }, 'main', doc, 5);
    assert.deepEqual([job?.argv, job?.quiet, job?.key], [['/hb', 'heartbeat', 'main'], true, 'trigger:heartbeat']);
  });
});
