import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { MemoryStore } from '../../../src/dcs/memory.js';
import type { Dcs } from '../../../src/dcs/port.js';
import { CommandRunner } from '../../../src/events/runner.js';
import type { WatchDocument } from '../../../src/watch/document.js';
import { Watcher, type PluginSpec } from '../../../src/watch/watcher.js';
import { FakeCluster, memberData, memoryLogger, scratch, sleep, until } from './helpers.js';

let store: MemoryStore;
let batman: FakeCluster;
let s: ReturnType<typeof scratch>;
let log: ReturnType<typeof memoryLogger>;
let watcher: Watcher | null;
let reader: Dcs | null;

beforeEach(() => {
  store = new MemoryStore();
  batman = new FakeCluster(store, 'batman');
  batman.member('postgres0', memberData(0, { role: 'primary' }));
  batman.leader('postgres0');
  s = scratch();
  log = memoryLogger();
  watcher = null;
  reader = null;
});

afterEach(async () => {
  await watcher?.stop(0);
  await reader?.close();
  store.close();
  s.cleanup();
});

function start(plugin: Omit<PluginSpec, 'scopes'>, timeoutMs = 5000, retryIntervalMs = 300): void {
  reader = batman.dcs();
  watcher = new Watcher({
    dcs: new Map([['batman', reader]]),
    plugins: [{ ...plugin, scopes: ['batman'] }],
    pollIntervalMs: 30,
    retryIntervalMs,
    timeoutMs,
    log,
    makeRunner: (onOutcome) => new CommandRunner(log, onOutcome),
  });
  watcher.start();
}

/** Lines a plugin script appended to `runs`, one per run. */
const runs = (): string[] => (existsSync(join(s.dir, 'runs')) ? readFileSync(join(s.dir, 'runs'), 'utf8').trim().split('\n') : []);
const warnings = () => log.lines.filter((l) => l.level === 'WARNING').map((l) => l.msg);

describe('the watcher with the real command runner', () => {
  it('feeds the document to a real program on stdin and logs its success', async () => {
    const prog = s.script('plugin', `cat > "${s.dir}/stdin.$$"; echo "$$" >> "${s.dir}/runs"`);
    start({ name: 'recorder', argv: [prog] });
    await until('one run', () => runs().length === 1);
    const doc = JSON.parse(readFileSync(join(s.dir, `stdin.${runs()[0]}`), 'utf8')) as WatchDocument;
    assert.equal(doc.event, 'watch_started');
    assert.equal(doc.clusters[0]?.leader?.name, 'postgres0');
    await until('the success log line', () => log.lines.some((l) => l.level === 'INFO' && /plugin recorder .* succeeded in \d+ ms/.test(l.msg)));
  });

  it('never overlaps two runs of a plugin, even when the topology changes during a slow run', async () => {
    // mkdir is atomic: a second run entering while the first is inside would fail to create it.
    const prog = s.script('plugin', `mkdir "${s.dir}/inside" || echo OVERLAP >> "${s.dir}/runs"\nsleep 0.3\necho run >> "${s.dir}/runs"\nrmdir "${s.dir}/inside"`);
    start({ name: 'slow', argv: [prog] });
    await until('the start run to begin', () => existsSync(join(s.dir, 'inside')));
    batman.leader(null);
    await sleep(80);
    batman.leader('postgres0');
    await sleep(80);
    batman.member('postgres1', memberData(1));
    await until('two runs', () => runs().length >= 2, 5000);
    await sleep(600);
    assert.ok(!runs().includes('OVERLAP'), `runs: ${runs().join(', ')}`);
    assert.equal(runs().length, 2, 'intermediate topologies are skipped: start run + the newest one');
  });

  it('kills a hanging plugin at the timeout, logs it, and retries it; the watcher keeps running', async () => {
    const prog = s.script('plugin', `echo started >> "${s.dir}/runs"\necho "stuck on the lock" >&2\nexec sleep 30`);
    start({ name: 'hangs', argv: [prog] }, 200, 300);
    await until('the first timeout warning', () => warnings().some((w) => /plugin hangs .* timed out after \d+ ms and was killed \(SIGTERM\); stderr: stuck on the lock/.test(w)), 5000);
    await until('a retry run', () => runs().length >= 2, 5000);
  });

  it('logs a failing plugin with its exit status and stderr, and one that cannot start, without crashing', async () => {
    const prog = s.script('plugin', `echo run >> "${s.dir}/runs"\necho "cannot reach pgbouncer" >&2\nexit 4`);
    start({ name: 'fails', argv: [prog] }, 5000, 200);
    await until('the failure warning', () => warnings().some((w) => /plugin fails .* failed with exit code 4 after \d+ ms; stderr: cannot reach pgbouncer/.test(w)));
    await until('a retry run', () => runs().length >= 2);
    await watcher!.stop(0);
    await reader!.close();

    log = memoryLogger();
    start({ name: 'missing', argv: [join(s.dir, 'no-such-program')] }, 5000, 200);
    await until('two "could not be started" warnings (start run and retry)', () => warnings().filter((w) => /plugin missing .* could not be started: .*ENOENT/.test(w)).length >= 2);
  });
});
