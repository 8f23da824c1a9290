import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { ClusterSnapshot } from '../../../src/domain/cluster.js';
import { ClusterTriggers } from '../../../src/events/cluster-triggers.js';
import type { ClusterEventDocument } from '../../../src/events/document.js';
import type { CycleReport } from '../../../src/loop/loop.js';
import { AlertFiles } from '../../../src/outside/alert-files.js';
import { OutsideViews } from '../../../src/outside/cycle-observer.js';
import { readStateFile, StateFileWriter } from '../../../src/outside/state-file.js';
import { cluster, leaderView, member, NOW, replicaView, WALL } from '../api/fixtures.js';
import { recordingLogger, tempDir } from './helpers.js';
import { RecordingRunner } from '../events/helpers.js';

/** An OutsideViews of member n2 writing into a fresh directory; `probeError` feeds authentication_error. */
function setup(limits: { bytes?: number; seconds?: number } = {}) {
  const dir = tempDir('cycle');
  const log = recordingLogger();
  const runner = new RecordingRunner();
  let probeError: string | null = null;
  const stateFile = new StateFileWriter(join(dir, 'state.json'), log);
  const views = new OutsideViews({
    name: 'n2',
    scope: 'batman',
    clock: { now: () => NOW, wallNow: () => WALL },
    log,
    runner,
    alerts: new AlertFiles(dir, log),
    triggers: new ClusterTriggers(runner, log, { triggers: { failover_happened: '/t' }, scope: 'batman', timeoutSeconds: 5, announceAs: 'n2' }),
    stateFile,
    statsd: null,
    heartbeat: null,
    limits,
    overWarningLimitCommand: '/bin/over --now',
    failoverCommand: '/bin/failover',
    timeoutSeconds: 9,
    pgProbeError: () => probeError,
  });
  const report = (c: ClusterSnapshot | null, dcsError: string | null = null): CycleReport => ({
    view: (c?.leader?.name === 'n2' ? leaderView : replicaView)({ name: 'n2', cluster: c }),
    cluster: c,
    dcsError,
    durationMs: 12,
  });
  const alert = (name: string) => existsSync(join(dir, name));
  return { dir, views, runner, report, alert, setProbeError: (e: string | null) => (probeError = e) };
}

const withLeader = (leader: string | null, over: Partial<ClusterSnapshot> = {}) =>
  cluster({
    leader: leader === null ? null : { name: leader, modRevision: '9' },
    members: [member('n1', 5440, { role: leader === 'n1' ? 'primary' : 'replica' }), member('n2', 5441, { role: leader === 'n2' ? 'primary' : 'replica' })],
    ...over,
  });

describe('OutsideViews', () => {
  it('raises failover_has_happened and runs failover_command (on the new leader only) when the leader changes', () => {
    const { views, runner, report, alert } = setup();
    views.observe(report(withLeader('n1')));
    views.observe(report(withLeader(null)));
    assert.equal(alert('failover_has_happened'), false, 'the first leader seen and a leaderless gap are no failover');
    views.observe(report(withLeader('n2')));
    assert.equal(alert('failover_has_happened'), true);
    const commands = runner.jobs.filter((j) => j.key === 'failover_command');
    assert.deepEqual(commands.map((j) => [j.argv, j.timeoutMs]), [[['/bin/failover'], 9000]]);
    const doc = JSON.parse(commands[0]!.stdin) as ClusterEventDocument;
    assert.deepEqual([doc.event, doc.leader?.name, doc.reason], ['failover', 'n2', 'this node took over the leadership from n1']);
    // The triggers announce the events of the leaderless gap once n2 holds the key.
    assert.deepEqual(runner.jobs.filter((j) => j.key.startsWith('trigger')).map((j) => j.argv.join(' ')), ['/t failover_happened batman n2']);
  });

  it('does not run failover_command on a node that did not take over', () => {
    const { views, runner, report, alert } = setup();
    views.observe(report(withLeader('n2')));
    views.observe(report(withLeader('n1')));
    assert.equal(alert('failover_has_happened'), true);
    assert.deepEqual(runner.jobs.filter((j) => j.key === 'failover_command'), []);
  });

  it('raises replication_delay_warning over the byte limit, runs over_warning_limit_command once, and clears it', () => {
    const { views, runner, report, alert } = setup({ bytes: 1000 });
    const lagging = withLeader('n1', { members: [member('n1', 5440, { role: 'primary' }), member('n2', 5441, { xlog_location: 67_108_864 - 5000 })] });
    views.observe(report(withLeader('n1')));
    assert.equal(alert('replication_delay_warning'), false);
    views.observe(report(lagging));
    views.observe(report(lagging));
    assert.equal(alert('replication_delay_warning'), true);
    const over = runner.jobs.filter((j) => j.key === 'over_warning_limit_command');
    assert.deepEqual(over.map((j) => j.argv), [['/bin/over', '--now']]);
    assert.match((JSON.parse(over[0]!.stdin) as ClusterEventDocument).reason ?? '', /n2 \(bytes\)/);
    views.observe(report(withLeader('n1')));
    assert.equal(alert('replication_delay_warning'), false);
  });

  it('raises multiple_primary_warning while two members run as primary', () => {
    const { views, report, alert } = setup();
    const two = withLeader('n1', { members: [member('n1', 5440, { role: 'primary' }), member('n2', 5441, { role: 'primary' })] });
    views.observe(report(two));
    assert.equal(alert('multiple_primary_warning'), true);
    views.observe(report(withLeader('n1')));
    assert.equal(alert('multiple_primary_warning'), false);
  });

  it('raises authentication_error for a refused PostgreSQL login or etcd authentication, not for other failures', () => {
    const { views, report, alert, setProbeError } = setup();
    views.observe(report(null, 'etcd: deadline exceeded'));
    assert.equal(alert('authentication_error'), false);
    setProbeError('probe: password authentication failed for user "postgres" (SQLSTATE 28P01)');
    views.observe(report(withLeader('n1')));
    assert.equal(alert('authentication_error'), true);
    setProbeError(null);
    views.observe(report(withLeader('n1')));
    assert.equal(alert('authentication_error'), false);
    views.observe(report(null, 'etcdserver: authentication failed, invalid user ID or password'));
    assert.equal(alert('authentication_error'), true);
  });

  it('writes the state file with the members, lags and alerts of the cycle', async () => {
    const { dir, views, report } = setup({ bytes: 0 });
    views.observe(report(withLeader('n1', { members: [member('n1', 5440, { role: 'primary' }), member('n2', 5441, { xlog_location: 67_108_000 })] })));
    const path = join(dir, 'state.json');
    for (let i = 0; i < 100 && !existsSync(path); i++) await new Promise((r) => setTimeout(r, 10));
    const doc = await readStateFile(path);
    assert.deepEqual([doc.member, doc.leader, doc.members['n2']?.lag_bytes, doc.alerts], ['n2', 'n1', 864, ['replication_delay_warning']]);
    assert.ok(readFileSync(path, 'utf8').endsWith('\n'));
  });
});
