import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { escapeLabel, metricsText, versionNumber } from '../../../src/api/metrics.js';
import { statusJson } from '../../../src/api/status.js';
import { NOW, WALL, leaderView, replicaPg, replicaView, stoppedPg } from './fixtures.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Family {
  type: string;
  help: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})? (\S+)(?: -?\d+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"\s*(,|$)/y;
const FLOAT = /^[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|Inf|NaN)$/;

function parseLabels(text: string): Record<string, string> {
  const inner = text.slice(1, -1);
  const out: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < inner.length) {
    const m = LABEL.exec(inner);
    if (!m) throw new Error(`bad label set ${text}`);
    const key = m[1]!;
    if (key in out) throw new Error(`duplicate label ${key}`);
    out[key] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
  }
  return out;
}

/**
 * A strict reader of Prometheus text format 0.0.4: HELP and TYPE once per family and before its
 * samples, known types, valid names, label sets and float values, samples of a family contiguous,
 * no blank lines, final line feed.
 */
function parseExposition(text: string): Map<string, Family> {
  assert.ok(text.endsWith('\n'), 'body ends with a line feed');
  const families = new Map<string, Family>();
  let current: string | null = null;
  const family = (name: string): Family => {
    let f = families.get(name);
    if (!f) {
      f = { type: '', help: '', samples: [] };
      families.set(name, f);
    }
    return f;
  };
  for (const line of text.slice(0, -1).split('\n')) {
    assert.notEqual(line, '', 'no blank lines');
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      assert.match(name, NAME);
      const f = family(name);
      assert.equal(f.samples.length, 0, `${kind} of ${name} comes before its samples`);
      if (kind === 'HELP') {
        assert.equal(f.help, '', `one HELP for ${name}`);
        assert.ok(rest.length > 0);
        f.help = rest;
      } else {
        assert.equal(f.type, '', `one TYPE for ${name}`);
        assert.match(rest, /^(counter|gauge|histogram|summary|untyped)$/);
        f.type = rest;
      }
      current = name;
      continue;
    }
    assert.ok(!line.startsWith('#'), `unexpected comment ${line}`);
    const m = SAMPLE.exec(line);
    assert.ok(m, `sample line is well-formed: ${JSON.stringify(line)}`);
    const name = m[1]!;
    assert.equal(name, current, `samples of ${name} follow its HELP/TYPE`);
    assert.match(m[3]!, FLOAT, `value of ${name} is a float`);
    family(name).samples.push({ name, labels: m[2] ? parseLabels(m[2]) : {}, value: Number(m[3]) });
  }
  return families;
}

const EXPECTED_ORDER = [
  'patroni_version', 'patroni_postgres_running', 'patroni_postmaster_start_time', 'patroni_primary',
  'patroni_xlog_location', 'patroni_standby_leader', 'patroni_replica', 'patroni_sync_standby',
  'patroni_xlog_received_location', 'patroni_xlog_replayed_location', 'patroni_xlog_replayed_timestamp',
  'patroni_xlog_paused', 'patroni_postgres_server_version', 'patroni_cluster_unlocked',
  'patroni_failsafe_mode_is_active', 'patroni_postgres_timeline', 'patroni_dcs_last_seen',
  'patroni_pending_restart', 'patroni_is_paused', 'pgwarden_watchdog_active', 'pgwarden_watchdog_failed', 'pgwarden_fencer_running', 'pgwarden_loop_age_seconds',
];

const value = (f: Map<string, Family>, name: string): number => {
  const s = f.get(name)?.samples[0];
  assert.ok(s, `${name} present`);
  return s.value;
};

describe('metricsText', () => {
  it('parses as Prometheus text with Patroni\'s metrics in order and without patroni_master', () => {
    const families = parseExposition(metricsText(leaderView(), WALL, NOW));
    assert.deepEqual([...families.keys()], EXPECTED_ORDER);
    for (const [name, f] of families) {
      assert.ok(f.help && f.type, `${name} has HELP and TYPE`);
      assert.equal(f.samples.length, 1);
      assert.deepEqual(f.samples[0]?.labels, { scope: 'batman', name: 'n1' });
    }
    assert.equal(families.get('patroni_xlog_location')?.type, 'counter');
    assert.equal(families.get('patroni_postgres_timeline')?.type, 'gauge');
  });

  it('writes no space between a metric name and its labels', () => {
    assert.doesNotMatch(metricsText(leaderView(), WALL, NOW), /^\w+ \{/m);
    assert.match(metricsText(leaderView(), WALL, NOW), /^patroni_postgres_server_version\{scope="batman",name="n1"\} 150018$/m);
  });

  it('writes the version zero-padded as Patroni does', () => {
    assert.match(metricsText(leaderView(), WALL, NOW), /^patroni_version\{[^}]*\} 000100$/m);
    assert.equal(versionNumber('3.0.2'), '030002');
    assert.equal(versionNumber('1.12.3-rc1'), '011203');
    assert.equal(versionNumber('2'), '020000');
  });

  it('reports a primary\'s values', () => {
    const f = parseExposition(metricsText(leaderView(), WALL, NOW));
    assert.equal(value(f, 'patroni_postgres_running'), 1);
    assert.equal(value(f, 'patroni_postmaster_start_time'), 1_795_348_262.473627);
    assert.equal(value(f, 'patroni_primary'), 1);
    assert.equal(value(f, 'patroni_replica'), 0);
    assert.equal(value(f, 'patroni_xlog_location'), 67_108_864);
    assert.equal(value(f, 'patroni_xlog_received_location'), 0);
    assert.equal(value(f, 'patroni_postgres_timeline'), 1);
    assert.equal(value(f, 'patroni_cluster_unlocked'), 0);
    assert.equal(value(f, 'patroni_dcs_last_seen'), 1_795_348_268);
    assert.equal(value(f, 'pgwarden_loop_age_seconds'), 1);
  });

  it('reports the watchdog device, the companion fencer and a failed watchdog', () => {
    const armed = parseExposition(metricsText(leaderView({ watchdog: { mode: 'automatic', device: '/dev/watchdog', failed: false, fencerRunning: true, problem: null } }), WALL, NOW));
    assert.deepEqual([value(armed, 'pgwarden_watchdog_active'), value(armed, 'pgwarden_watchdog_failed'), value(armed, 'pgwarden_fencer_running')], [1, 0, 1]);
    const broken = leaderView({ watchdog: { mode: 'required', device: null, failed: true, fencerRunning: true, problem: 'cannot open /dev/watchdog: ENOENT' } });
    const f = parseExposition(metricsText(broken, WALL, NOW));
    assert.deepEqual([value(f, 'pgwarden_watchdog_active'), value(f, 'pgwarden_watchdog_failed'), value(f, 'pgwarden_fencer_running')], [0, 1, 1]);
    const status = statusJson(broken, WALL, NOW);
    assert.equal(status.watchdog_failed, true);
    assert.deepEqual(status.pgwarden.watchdog, { mode: 'required', device: null, fencer_running: true, problem: 'cannot open /dev/watchdog: ENOENT' });
    assert.equal('watchdog_failed' in statusJson(leaderView(), WALL, NOW), false);
  });

  it('reports a replica\'s values', () => {
    const view = replicaView({ pg: { ...replicaPg(1000, 2000), replayPaused: true } as ReturnType<typeof replicaPg>, paused: true, pendingRestart: true });
    const f = parseExposition(metricsText(view, WALL, NOW));
    assert.equal(value(f, 'patroni_primary'), 0);
    assert.equal(value(f, 'patroni_replica'), 1);
    assert.equal(value(f, 'patroni_xlog_location'), 0);
    assert.equal(value(f, 'patroni_xlog_received_location'), 2000);
    assert.equal(value(f, 'patroni_xlog_replayed_location'), 1000);
    assert.equal(value(f, 'patroni_xlog_replayed_timestamp'), 1_795_348_500.5);
    assert.equal(value(f, 'patroni_xlog_paused'), 1);
    assert.equal(value(f, 'patroni_is_paused'), 1);
    assert.equal(value(f, 'patroni_pending_restart'), 1);
  });

  it('reports zeros when PostgreSQL is down', () => {
    const f = parseExposition(metricsText(leaderView({ pg: stoppedPg(), state: 'stopped', cluster: null }), WALL, NOW + 4_500));
    assert.equal(value(f, 'patroni_postgres_running'), 0);
    assert.equal(value(f, 'patroni_primary'), 0);
    assert.equal(value(f, 'patroni_postgres_server_version'), 0);
    assert.equal(value(f, 'patroni_postgres_timeline'), 0);
    assert.equal(value(f, 'patroni_postmaster_start_time'), 0);
    assert.equal(value(f, 'patroni_cluster_unlocked'), 1);
    assert.equal(value(f, 'pgwarden_loop_age_seconds'), 5.5);
  });

  it('escapes label values so odd scope names still parse', () => {
    const text = metricsText(leaderView({ scope: 'a"b\\c\nd' }), WALL, NOW);
    const f = parseExposition(text);
    assert.equal(f.get('patroni_primary')?.samples[0]?.labels['scope'], 'a"b\\c\nd');
    assert.equal(escapeLabel('x"y'), 'x\\"y');
  });

  it('is rejected by the checker when a line has a stray space before the labels', () => {
    assert.throws(() => parseExposition('# HELP m h\n# TYPE m gauge\nm {scope="x"} 1\n'));
  });
});
