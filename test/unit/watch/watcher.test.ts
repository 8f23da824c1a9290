import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { MemoryStore } from '../../../src/dcs/memory.js';
import type { Dcs } from '../../../src/dcs/port.js';
import { Watcher, type PluginSpec } from '../../../src/watch/watcher.js';
import { FakeCluster, ScriptedRunner, docOf, memberData, memoryLogger, sleep, until } from './helpers.js';

const POLL_MS = 30;
const RETRY_MS = 200;

let store: MemoryStore;
let batman: FakeCluster;
let runner: ScriptedRunner;
let log: ReturnType<typeof memoryLogger>;
let watcher: Watcher | null;
const readers: Dcs[] = [];

beforeEach(() => {
  store = new MemoryStore();
  batman = new FakeCluster(store, 'batman');
  batman.member('postgres0', memberData(0, { role: 'primary' }));
  batman.member('postgres1', memberData(1));
  batman.leader('postgres0');
  runner = new ScriptedRunner();
  log = memoryLogger();
  watcher = null;
});

afterEach(async () => {
  await watcher?.stop(0);
  await Promise.all(readers.splice(0).map((d) => d.close()));
  store.close();
  assert.deepEqual(runner.violations, [], 'a plugin was run while its previous run was in flight');
});

function start(clusters: FakeCluster[], plugins: PluginSpec[] = [{ name: 'p', argv: ['/bin/true'], scopes: clusters.map((c) => c.scope) }]): Watcher {
  const dcs = new Map<string, Dcs>();
  for (const c of clusters) {
    const d = c.dcs();
    readers.push(d);
    dcs.set(c.scope, d);
  }
  watcher = new Watcher({ dcs, plugins, pollIntervalMs: POLL_MS, retryIntervalMs: RETRY_MS, timeoutMs: 5000, log, makeRunner: (o) => runner.bind(o) });
  watcher.start();
  return watcher;
}

/** Waits a few poll intervals: long enough for any run the watcher would start to have started. */
const settle = () => sleep(POLL_MS * 5);
const warnings = () => log.lines.filter((l) => l.level === 'WARNING').map((l) => l.msg);

describe('the watch loop', () => {
  it('runs each plugin once at start with the cluster document on stdin', async () => {
    start([batman]);
    await until('the start run', () => runner.jobs.length === 1);
    const job = runner.jobs[0]!;
    assert.deepEqual([job.key, job.label, job.argv, job.timeoutMs], ['watch:p', 'plugin p', ['/bin/true'], 5000]);
    const doc = docOf(job);
    assert.equal(doc.event, 'watch_started');
    assert.equal(doc.plugin, 'p');
    assert.match(doc.reason, /^the watcher started: batman: leader postgres0, healthy postgres0, postgres1$/);
    assert.equal(doc.clusters.length, 1);
    const cluster = doc.clusters[0]!;
    assert.equal(cluster.scope, 'batman');
    assert.equal(cluster.event, 'watch_started');
    assert.deepEqual(cluster.leader?.name, 'postgres0');
    assert.equal(cluster.leader?.conn_url, 'postgres://127.0.0.1:5432/postgres');
    assert.deepEqual(cluster.replicas.map((r) => [r.name, r.state]), [['postgres1', 'running']]);
    runner.finish('p');
    await settle();
    assert.equal(runner.jobs.length, 1, 'an unchanged topology runs nothing more');
  });

  it('does not run plugins for WAL position churn, only for leader and member health changes', async () => {
    start([batman]);
    await until('the start run', () => runner.jobs.length === 1);
    runner.finish('p');
    for (let lsn = 2000; lsn < 2010; lsn++) {
      batman.member('postgres0', memberData(0, { role: 'primary', xlog_location: lsn }));
      batman.member('postgres1', memberData(1, { xlog_location: lsn - 1, timeline: 1 }));
      await sleep(5);
    }
    await settle();
    assert.equal(runner.jobs.length, 1, 'xlog_location updates must not trigger plugins');

    batman.member('postgres1', memberData(1, { state: 'stopped' }));
    await until('the run for postgres1 going down', () => runner.jobs.length === 2);
    const doc = docOf(runner.jobs[1]);
    assert.equal(doc.event, 'topology_changed');
    assert.equal(doc.reason, 'batman: postgres1 is no longer healthy');
    assert.equal(doc.clusters[0]?.reason, 'postgres1 is no longer healthy');
    runner.finish('p');
    await settle();
    assert.equal(runner.jobs.length, 2);
  });

  it('runs once per change when the leader fails over, telling what changed and who was lost', async () => {
    start([batman]);
    await until('the start run', () => runner.jobs.length === 1);
    runner.finish('p');
    batman.leader(null);
    batman.removeMember('postgres0');
    await until('the run for the lost leader', () => runner.jobs.length === 2);
    const lost = docOf(runner.jobs[1]);
    assert.equal(lost.clusters[0]?.leader, null);
    assert.deepEqual(lost.clusters[0]?.lost, ['postgres0']);
    runner.finish('p');
    batman.leader('postgres1');
    batman.member('postgres1', memberData(1, { role: 'primary' }));
    await until('the run for the new leader', () => runner.jobs.length === 3);
    const next = docOf(runner.jobs[2]);
    assert.equal(next.reason, 'batman: leader (none) -> postgres1');
    assert.equal(next.clusters[0]?.leader?.conn_url, 'postgres://127.0.0.1:5433/postgres');
    assert.deepEqual(next.clusters[0]?.lost, []);
    runner.finish('p');
    await settle();
    assert.equal(runner.jobs.length, 3);
  });

  it('never runs a plugin while its previous run is in flight, and then runs only the newest topology', async () => {
    start([batman]);
    await until('the start run', () => runner.jobs.length === 1);
    // The start run hangs while the topology changes three times.
    batman.leader('postgres1');
    await settle();
    batman.member('postgres2', memberData(2));
    await settle();
    batman.member('postgres3', memberData(3));
    await settle();
    assert.equal(runner.jobs.length, 1, 'no second run while the first one is in flight');
    runner.finish('p');
    assert.equal(runner.jobs.length, 2, 'the newest topology runs as soon as the previous run ends');
    const doc = docOf(runner.jobs[1]);
    assert.equal(doc.event, 'topology_changed');
    assert.deepEqual(doc.clusters[0]?.replicas.map((r) => r.name), ['postgres0', 'postgres2', 'postgres3']);
    assert.equal(doc.reason, 'batman: leader postgres0 -> postgres1; postgres2, postgres3 are healthy');
    runner.finish('p');
    await settle();
    assert.equal(runner.jobs.length, 2);
  });

  it('retries a failed run after retry_interval while the topology stays the same, then stops', async () => {
    start([batman]);
    await until('the start run', () => runner.jobs.length === 1);
    const failedAt = Date.now();
    runner.finish('p', 3, { stderrTail: 'pgbouncer is not running' });
    await until('the retry', () => runner.jobs.length === 2);
    assert.ok(Date.now() - failedAt >= RETRY_MS - 20, `retried after ${Date.now() - failedAt} ms, before retry_interval`);
    assert.equal(docOf(runner.jobs[1]).event, 'retry');
    assert.ok(log.lines.some((l) => /plugin p will run again at the next topology change or in 0\.2 s/.test(l.msg)));
    runner.finish('p', 0);
    await sleep(RETRY_MS * 2);
    assert.equal(runner.jobs.length, 2, 'no more runs after a success');
  });

  it('retries a failed or timed-out run at once when the topology changes, without waiting for the interval', async () => {
    start([batman]);
    await until('the start run', () => runner.jobs.length === 1);
    runner.finish('p', null as unknown as number, { timedOut: true, signal: 'SIGTERM' });
    batman.leader('postgres1');
    await until('the run for the change', () => runner.jobs.length === 2, RETRY_MS / 2);
    assert.equal(docOf(runner.jobs[1]).event, 'topology_changed');
    runner.finish('p', 0);
    await sleep(RETRY_MS * 2);
    assert.equal(runner.jobs.length, 2, 'the pending retry was dropped: the change already ran successfully');
  });

  it('keeps the last known topology while etcd is unreachable: no plugin run, one warning', async () => {
    start([batman]);
    await until('the start run', () => runner.jobs.length === 1);
    runner.finish('p');
    store.setAvailable(false);
    await sleep(POLL_MS * 8);
    assert.equal(runner.jobs.length, 1, 'an unreadable etcd is not an empty cluster');
    assert.equal(warnings().filter((w) => /scope batman: cannot read etcd/.test(w)).length, 1, `warnings: ${warnings().join(' | ')}`);
    assert.equal(watcher?.topology('batman')?.leader?.name, 'postgres0');
    store.setAvailable(true);
    await until('the recovery log line', () => log.lines.some((l) => /scope batman: etcd answers again after/.test(l.msg)));
    await settle();
    assert.equal(runner.jobs.length, 1, 'etcd coming back with the same topology runs nothing');
  });

  it('waits for the first read of etcd before the start run', async () => {
    store.setAvailable(false);
    start([batman]);
    await settle();
    assert.equal(runner.jobs.length, 0);
    store.setAvailable(true);
    await until('the start run', () => runner.jobs.length === 1);
    assert.equal(docOf(runner.jobs[0]).event, 'watch_started');
  });

  it('gives a plugin every scope it follows in one run, and only runs it for changes in those scopes', async () => {
    const robin = new FakeCluster(store, 'robin');
    robin.member('r0', memberData(10, { role: 'primary' }));
    robin.leader('r0');
    start([batman, robin], [
      { name: 'both', argv: ['/bin/true'], scopes: ['batman', 'robin'] },
      { name: 'robin-only', argv: ['/bin/true'], scopes: ['robin'], env: { X: '1' } },
    ]);
    await until('both start runs', () => runner.runsOf('both').length === 1 && runner.runsOf('robin-only').length === 1);
    assert.deepEqual(docOf(runner.runsOf('both')[0]).clusters.map((c) => c.scope), ['batman', 'robin']);
    assert.deepEqual(docOf(runner.runsOf('robin-only')[0]).clusters.map((c) => c.scope), ['robin']);
    assert.deepEqual(runner.runsOf('robin-only')[0]?.env, { X: '1' });
    runner.finish('both');
    runner.finish('robin-only');

    batman.leader('postgres1');
    await until('the run of the plugin that follows batman', () => runner.runsOf('both').length === 2);
    await settle();
    assert.equal(runner.runsOf('robin-only').length, 1, 'a change in batman does not concern robin-only');
    assert.equal(docOf(runner.runsOf('both')[1]).reason, 'batman: leader postgres0 -> postgres1');
  });

  it('holds back a plugin until every scope it follows has been read', async () => {
    const robin = new FakeCluster(store, 'robin');
    const robinDcs = robin.dcs();
    robinDcs.setReachable(false);
    readers.push(robinDcs);
    const batmanDcs = batman.dcs();
    readers.push(batmanDcs);
    watcher = new Watcher({
      dcs: new Map<string, Dcs>([['batman', batmanDcs], ['robin', robinDcs]]),
      plugins: [{ name: 'both', argv: ['/bin/true'], scopes: ['batman', 'robin'] }, { name: 'batman-only', argv: ['/bin/true'], scopes: ['batman'] }],
      pollIntervalMs: POLL_MS,
      retryIntervalMs: RETRY_MS,
      timeoutMs: 5000,
      log,
      makeRunner: (o) => runner.bind(o),
    });
    watcher.start();
    await until('the start run of batman-only', () => runner.runsOf('batman-only').length === 1);
    await settle();
    assert.equal(runner.runsOf('both').length, 0, 'no document without robin');
    assert.ok(log.lines.some((l) => /plugins that follow robin wait for the first read of it from etcd/.test(l.msg)));
    robinDcs.setReachable(true);
    await until('the start run of both', () => runner.runsOf('both').length === 1);
  });

  it('warns when a scope has no keys at all (a misspelt scope), and still tells the plugins', async () => {
    start([new FakeCluster(store, 'batmann')].map((c) => (store.delete(`${c.prefix}initialize`), c)));
    await until('the start run', () => runner.jobs.length === 1);
    assert.ok(warnings().some((w) => /scope batmann: etcd has no cluster under this scope/.test(w)));
    assert.equal(docOf(runner.jobs[0]).clusters[0]?.leader, null);
  });

  it('hands the grace period to the runner when it stops, and starts nothing afterwards', async () => {
    const w = start([batman]);
    await until('the start run', () => runner.jobs.length === 1);
    await w.stop(1234);
    watcher = null;
    assert.equal(runner.stoppedWith, 1234);
    runner.finish('p', 1);
    batman.leader('postgres1');
    await sleep(RETRY_MS * 2);
    assert.equal(runner.jobs.length, 1);
  });
});
