import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { CommandRunner, splitCommand, type CommandJob, type CommandOutcome } from '../../../src/events/runner.js';
import { memoryLogger, processAlive, processGone, scratch } from './helpers.js';

let s: ReturnType<typeof scratch>;
let log: ReturnType<typeof memoryLogger>;
let outcomes: CommandOutcome[];
let runner: CommandRunner;
const strays: number[] = [];

beforeEach(() => {
  s = scratch();
  log = memoryLogger();
  outcomes = [];
  runner = new CommandRunner(log, (o) => outcomes.push(o));
});

afterEach(async () => {
  await runner.stop(0);
  for (const pid of strays.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  s.cleanup();
});

function job(argv: string[], more: Partial<CommandJob> = {}): CommandJob {
  return { key: 'k', label: 'callback on_test', argv, stdin: '', timeoutMs: 10_000, ...more };
}

const warnings = () => log.lines.filter((l) => l.level === 'WARNING').map((l) => l.msg);

describe('CommandRunner', () => {
  it('passes argv without a shell and the document on stdin, and logs success at INFO', async () => {
    const prog = s.script('record', `printf '%s\\n' "$@" > "${s.dir}/args"\ncat > "${s.dir}/stdin"`);
    runner.submit(job([prog, 'on_role_change', 'primary', 'my scope', '$HOME'], { stdin: '{"event":"x"}' }));
    await runner.idle();
    assert.equal(s.read('args'), 'on_role_change\nprimary\nmy scope\n$HOME\n');
    assert.equal(s.read('stdin'), '{"event":"x"}');
    assert.equal(outcomes[0]?.exitCode, 0);
    const info = log.lines.find((l) => l.level === 'INFO');
    assert.match(info?.msg ?? '', /callback on_test .*record on_role_change primary "my scope" \$HOME\) succeeded in \d+ ms/);
  });

  it('logs a quiet success at DEBUG only', async () => {
    runner.submit(job([s.script('ok', 'exit 0')], { quiet: true }));
    await runner.idle();
    assert.deepEqual(log.lines.map((l) => l.level), ['DEBUG']);
  });

  it('passes extra environment on top of the inherited one', async () => {
    const prog = s.script('env', `echo "$PGWARDEN_TEST_VAR:$PATH" > "${s.dir}/env"`);
    runner.submit(job([prog], { env: { PGWARDEN_TEST_VAR: 'yes' } }));
    await runner.idle();
    assert.equal(s.read('env').trim(), `yes:${process.env.PATH}`);
  });

  it('kills a hanging command and the child it started when the timeout expires', { timeout: 10_000 }, async () => {
    const prog = s.script('hang', `sleep 100 &\necho $! > "${s.dir}/child"\nwait`);
    runner.submit(job([prog], { timeoutMs: 300 }));
    await runner.idle();
    const child = Number(s.read('child'));
    strays.push(child);
    assert.equal(await processGone(child), true);
    assert.equal(outcomes[0]?.timedOut, true);
    assert.equal(outcomes[0]?.signal, 'SIGTERM');
    assert.match(warnings()[0] ?? '', /callback on_test .* timed out after \d+ ms and was killed \(SIGTERM\)/);
  });

  it('sends SIGKILL 2 s after SIGTERM to a command group that ignores SIGTERM', { timeout: 10_000 }, async () => {
    const prog = s.script('stubborn', `trap '' TERM\nsleep 100 &\necho $! > "${s.dir}/child"\nwait`);
    runner.submit(job([prog], { timeoutMs: 200 }));
    await runner.idle();
    const child = Number(s.read('child'));
    strays.push(child);
    assert.equal(await processGone(child), true);
    assert.equal(outcomes[0]?.signal, 'SIGKILL');
    assert.ok(outcomes[0]!.durationMs >= 2_000, `took ${outcomes[0]!.durationMs} ms`);
  });

  it('never overlaps jobs of one key and runs only the latest waiting one', { timeout: 10_000 }, async () => {
    const prog = s.script(
      'serial',
      `mkdir "${s.dir}/lock" 2>/dev/null || echo overlap >> "${s.dir}/overlap"\necho "$1" >> "${s.dir}/order"\nsleep 0.3\nrmdir "${s.dir}/lock"`,
    );
    for (const name of ['first', 'second', 'third']) runner.submit(job([prog, name]));
    await runner.idle();
    assert.equal(existsSync(join(s.dir, 'overlap')), false);
    assert.equal(s.read('order'), 'first\nthird\n');
  });

  it('runs jobs with different keys at the same time', { timeout: 10_000 }, async () => {
    // Each run waits (up to 5 s) until the other has started: serial runs would fail.
    const prog = s.script(
      'meet',
      `touch "${s.dir}/started-$1"\nfor i in $(seq 100); do [ -e "${s.dir}/started-$2" ] && exit 0; sleep 0.05; done\nexit 1`,
    );
    runner.submit(job([prog, 'a', 'b'], { key: 'a' }));
    runner.submit(job([prog, 'b', 'a'], { key: 'b' }));
    await runner.idle();
    assert.deepEqual(outcomes.map((o) => o.exitCode), [0, 0]);
  });

  it('logs a warning for a program that does not exist and does not throw', async () => {
    assert.doesNotThrow(() => runner.submit(job([join(s.dir, 'missing')])));
    await runner.idle();
    assert.match(outcomes[0]?.error ?? '', /ENOENT/);
    assert.match(warnings()[0] ?? '', /callback on_test .*missing\) could not be started: .*ENOENT/);
  });

  it('logs an empty command as a warning', async () => {
    runner.submit(job([], { key: 'none' }));
    runner.submit(job([''], { key: 'blank' }));
    await runner.idle();
    assert.equal(warnings().length, 2);
    for (const w of warnings()) assert.match(w, /could not be started: empty command/);
  });

  it('logs a failure with its exit code and the tail of stderr', async () => {
    const prog = s.script('fail', `echo BEGIN >&2\nhead -c 3000 /dev/zero | tr '\\0' x >&2\necho " the end" >&2\nexit 3`);
    runner.submit(job([prog]));
    await runner.idle();
    const w = warnings()[0] ?? '';
    assert.match(w, /callback on_test .* failed with exit code 3 after \d+ ms; stderr: x+ the end$/);
    assert.doesNotMatch(w, /BEGIN/);
    assert.ok(outcomes[0]!.stderrTail.length <= 2_048);
    assert.ok(outcomes[0]!.stderrTail.length > 2_000);
  });

  it('does not fail when the command exits without reading a large stdin', async () => {
    runner.submit(job([s.script('deaf', 'exit 0')], { stdin: 'y'.repeat(4_000_000) }));
    await runner.idle();
    assert.equal(outcomes[0]?.exitCode, 0);
    assert.deepEqual(warnings(), []);
  });

  it('finishes when the command exits in time although a background child it left keeps stderr open', { timeout: 10_000 }, async () => {
    const prog = s.script('daemonize', `sleep 30 &\necho $! > "${s.dir}/child"\nexit 0`);
    runner.submit(job([prog], { timeoutMs: 100 }));
    await runner.idle();
    const child = Number(s.read('child'));
    strays.push(child);
    assert.deepEqual([outcomes[0]?.exitCode, outcomes[0]?.timedOut], [0, false]);
    assert.ok(outcomes[0]!.durationMs < 2_000, `took ${outcomes[0]!.durationMs} ms`);
    assert.equal(processAlive(child), true, 'what a command leaves running after it exits in time is its business');
  });

  it('stop() drops waiting jobs, kills running ones after the grace period and refuses new ones', { timeout: 10_000 }, async () => {
    const prog = s.script('long', `echo "$1" >> "${s.dir}/order"\nsleep 100 &\necho $! > "${s.dir}/child-$1"\nwait`);
    runner.submit(job([prog, 'running']));
    runner.submit(job([prog, 'waiting']));
    while (!existsSync(join(s.dir, 'child-running'))) await new Promise((r) => setTimeout(r, 20));
    await runner.stop(100);
    runner.submit(job([prog, 'late'], { key: 'other' }));
    await runner.idle();
    const child = Number(s.read('child-running'));
    strays.push(child);
    assert.equal(await processGone(child), true);
    assert.equal(s.read('order'), 'running\n');
    assert.equal(outcomes.length, 1);
    assert.equal(outcomes[0]?.signal, 'SIGTERM');
    assert.match(warnings()[0] ?? '', /was killed at shutdown/);
  });

  it('keeps running when the outcome hook throws', async () => {
    const r = new CommandRunner(log, () => {
      throw new Error('hook broke');
    });
    r.submit(job([s.script('ok', 'exit 0')]));
    await r.idle();
    assert.match(log.lines.find((l) => l.level === 'ERROR')?.msg ?? '', /hook broke/);
  });
});

describe('splitCommand', () => {
  const rows: Array<[string, string[]]> = [
    ['/usr/bin/cb', ['/usr/bin/cb']],
    ['  /usr/bin/cb  --flag\tvalue\n', ['/usr/bin/cb', '--flag', 'value']],
    ["cb 'two words' \"and more\"", ['cb', 'two words', 'and more']],
    ["cb 'it''s'", ['cb', 'its']],
    ['cb a\\ b', ['cb', 'a b']],
    ["cb ''", ['cb', '']],
    ['cb ""x', ['cb', 'x']],
    ["cb 'a \\ \"b\"'", ['cb', 'a \\ "b"']],
    ['cb "a \\"q\\" \\\\ \\$x \\n"', ['cb', 'a "q" \\ $x \\n']],
    ['cb $HOME ~ * a;b|c', ['cb', '$HOME', '~', '*', 'a;b|c']],
    ['cb one\\\ntwo', ['cb', 'onetwo']],
    ['', []],
  ];
  for (const [input, argv] of rows) {
    it(`splits ${JSON.stringify(input)}`, () => assert.deepEqual(splitCommand(input), argv));
  }

  const bad: Array<[string, RegExp]> = [
    ["cb 'open", /unterminated single quote/],
    ['cb "open', /unterminated double quote/],
    ['cb "esc\\"', /unterminated double quote/],
    ['cb trailing\\', /ends with a backslash/],
  ];
  for (const [input, why] of bad) {
    it(`rejects ${JSON.stringify(input)}`, () => assert.throws(() => splitCommand(input), why));
  }
});
