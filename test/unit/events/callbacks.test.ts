import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Callbacks, callbackJob } from '../../../src/events/callbacks.js';
import { buildEventDocument } from '../../../src/events/document.js';
import { CommandRunner } from '../../../src/events/runner.js';
import { memoryLogger, scratch, snap, RecordingRunner } from './helpers.js';

const doc = buildEventDocument({
  event: 'on_role_change',
  scope: 'main',
  cluster: snap('n1', { n1: {}, n2: {} }),
  member: { name: 'n1', role: 'primary' },
  now: new Date(0),
});

/** A runner that records submitted jobs instead of running them. */
describe('callbackJob', () => {
  it('appends action, role and scope to the configured command and sends the document', () => {
    const job = callbackJob({ on_role_change: "/usr/local/bin/cb --mode 'v ip'" }, 'on_role_change', 'primary', 'main', doc, 30);
    assert.deepEqual(job, {
      key: 'callback:on_role_change',
      label: 'callback on_role_change',
      argv: ['/usr/local/bin/cb', '--mode', 'v ip', 'on_role_change', 'primary', 'main'],
      stdin: JSON.stringify(doc),
      timeoutMs: 30_000,
    });
  });

  it('returns null when the action or the whole section is not configured', () => {
    assert.equal(callbackJob({ on_start: '/cb' }, 'on_stop', 'replica', 'main', doc, 30), null);
    assert.equal(callbackJob(undefined, 'on_start', 'replica', 'main', doc, 30), null);
  });
});

describe('Callbacks', () => {
  it('submits the configured callback and ignores unconfigured actions', () => {
    const runner = new RecordingRunner();
    const cb = new Callbacks(runner, memoryLogger(), { callbacks: { on_start: '/cb' }, scope: 'main', timeoutSeconds: 5 });
    cb.fire('on_start', 'replica', doc);
    cb.fire('on_stop', 'replica', doc);
    assert.deepEqual(runner.jobs.map((j) => j.argv), [['/cb', 'on_start', 'replica', 'main']]);
  });

  it('logs a warning instead of throwing for a command line that cannot be split', () => {
    const runner = new RecordingRunner();
    const log = memoryLogger();
    const cb = new Callbacks(runner, log, { callbacks: { on_stop: '/cb "open' }, scope: 'main', timeoutSeconds: 5 });
    assert.doesNotThrow(() => cb.fire('on_stop', 'replica', doc));
    assert.equal(runner.jobs.length, 0);
    assert.match(log.lines[0]?.msg ?? '', /callback on_stop not run: .*unterminated double quote/);
    assert.equal(log.lines[0]?.level, 'WARNING');
  });

  it('runs a real script that receives Patroni-style arguments and a JSON document it can parse', async () => {
    const s = scratch();
    try {
      const prog = s.script('cb', `echo "$@" > "${s.dir}/args"\ncat > "${s.dir}/doc.json"`);
      const runner = new CommandRunner(memoryLogger());
      new Callbacks(runner, memoryLogger(), { callbacks: { on_role_change: prog }, scope: 'main', timeoutSeconds: 5 }).fire(
        'on_role_change',
        'primary',
        doc,
      );
      await runner.idle();
      assert.equal(s.read('args'), 'on_role_change primary main\n');
      assert.deepEqual(JSON.parse(s.read('doc.json')), doc);
    } finally {
      s.cleanup();
    }
  });
});
