import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isPgwardenError } from '../../../src/errors.js';
import { logTail, pgCtlSeconds } from '../../../src/postgres/pgctl.js';
import { childEnv, isLivePostgres, isPostgresComm, isPostgresOf, processState, readPostmasterPid, redactArgs, runProgram, runProgramResult, tail } from '../../../src/postgres/process.js';

describe('child environment', () => {
  it('drops inherited PG* variables, keeps the rest and adds the extras', () => {
    const env = childEnv({ PATH: '/bin', PGDATA: '/wrong', PGPORT: '1', LANG: 'de_DE.UTF-8' }, { PGPASSFILE: '/p' });
    assert.deepEqual(env, { PATH: '/bin', LANG: 'de_DE.UTF-8', PGPASSFILE: '/p' });
  });

  it('forces the C locale only when asked, for output that gets parsed', () => {
    const env = childEnv({ LANG: 'de_DE.UTF-8', LANGUAGE: 'de' }, {}, true);
    assert.deepEqual(env, { LANG: 'C', LC_ALL: 'C' });
  });
});

describe('messages about programs', () => {
  it('masks arguments that carry a password', () => {
    assert.equal(redactArgs(['-d', 'host=x password=secret', '--no-password']), '-d <redacted> --no-password');
  });

  it('keeps the last non-empty lines on one line', () => {
    assert.equal(tail('a\n\nb\nc\n', 2), 'b | c');
  });

  it('rounds pg_ctl timeouts up to whole seconds, at least one', () => {
    assert.deepEqual([pgCtlSeconds(0), pgCtlSeconds(1_001), pgCtlSeconds(30_000)], ['1', '2', '30']);
  });
});

describe('running programs', () => {
  it('returns the output of a program that succeeds', async () => {
    assert.deepEqual(await runProgram('/bin/sh', ['-c', 'echo out; echo err >&2'], { timeoutMs: 5_000 }), { stdout: 'out', stderr: 'err' });
  });

  it('rejects PG_COMMAND_FAILED with the exit code and the stderr tail', async () => {
    await assert.rejects(runProgram('/bin/sh', ['-c', 'echo first >&2; echo "could not connect" >&2; exit 3'], { timeoutMs: 5_000 }), (e) => isPgwardenError(e, 'PG_COMMAND_FAILED') && /exit 3/.test(e.message) && /first \| could not connect/.test(e.message));
  });

  it('reports a non-zero exit as a value when asked to', async () => {
    const r = await runProgramResult('/bin/sh', ['-c', 'echo verdict; exit 1'], { timeoutMs: 5_000 });
    assert.deepEqual([r.ok, r.exit, r.stdout], [false, 'exit 1', 'verdict']);
  });

  it('rejects PG_COMMAND_FAILED for a program that does not exist', async () => {
    await assert.rejects(runProgram('/nonexistent/initdb', [], { timeoutMs: 5_000 }), (e) => isPgwardenError(e, 'PG_COMMAND_FAILED') && /initdb/.test(e.message));
  });

  it('kills a program at its deadline and rejects PG_TIMEOUT', async () => {
    const t0 = Date.now();
    await assert.rejects(runProgram('/bin/sleep', ['10'], { timeoutMs: 300 }), (e) => isPgwardenError(e, 'PG_TIMEOUT'));
    assert.ok(Date.now() - t0 < 3_000);
  });

  it('kills a program on abort and rejects ABORTED, also when aborted before it started', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    await assert.rejects(runProgram('/bin/sleep', ['10'], { timeoutMs: 10_000, signal: ac.signal }), (e) => isPgwardenError(e, 'ABORTED'));
    await assert.rejects(runProgram('/bin/true', [], { timeoutMs: 10_000, signal: ac.signal }), (e) => isPgwardenError(e, 'ABORTED'));
  });
});

describe('postmaster identity', () => {
  it('reads the PID from the first line of postmaster.pid and ignores junk', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pgwarden-pid-'));
    try {
      assert.equal(readPostmasterPid(dir), null);
      await writeFile(join(dir, 'postmaster.pid'), '4242\n/data\n1700000000\n5432\n');
      assert.equal(readPostmasterPid(dir), 4242);
      await writeFile(join(dir, 'postmaster.pid'), 'garbage\n');
      assert.equal(readPostmasterPid(dir), null);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('recognises server processes by name only', () => {
    assert.equal(isPostgresComm('postgres\n'), true);
    assert.equal(isPostgresComm('postmaster'), true);
    assert.equal(isPostgresComm('node'), false);
  });

  it('does not take a live process that is not a PostgreSQL server for a postmaster (a reused PID)', () => {
    assert.equal(isPostgresOf(process.pid, process.cwd()), false);
  });

  it('tells a live process from one that has exited and been reaped', async () => {
    assert.equal(processState(process.pid), 'alive');
    const child = spawn('/bin/true');
    await new Promise((r) => child.on('exit', r));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(processState(child.pid!), 'gone');
  });

  it('re-checks a known postmaster PID cheaply: a process named postgres is alive, its zombie and strangers are not', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pgwarden-live-'));
    const fake = join(dir, 'postgres');
    await copyFile('/bin/sleep', fake);
    await chmod(fake, 0o755);
    // The shell starts "postgres" in the background, then becomes `sleep`, which never reaps it:
    // once killed, the child stays a zombie, as a SIGKILLed postmaster does until init reaps it.
    const parent = spawn('sh', ['-c', '"$0" 30 & echo $!; exec sleep 30', fake], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const pid = Number(await new Promise<string>((r) => parent.stdout.once('data', (d: Buffer) => r(d.toString().trim()))));
      let live = false;
      for (let i = 0; i < 100 && !live; i++) {
        live = isLivePostgres(pid); // the exec of the copy may take a moment
        if (!live) await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(live, true, 'a running process named postgres was not seen as alive');
      process.kill(pid, 'SIGKILL');
      // Here the killed child stays a zombie; some sandboxes (CI's among them) report it gone at
      // once instead. Either way it must not count as a live postmaster.
      let state = processState(pid);
      for (let i = 0; i < 300 && state === 'alive'; i++) {
        await new Promise((r) => setTimeout(r, 10));
        state = processState(pid);
      }
      assert.notEqual(state, 'alive', 'the killed process never stopped running');
      assert.equal(isLivePostgres(pid), false, `a ${state} postmaster counted as alive`);
      assert.equal(isLivePostgres(process.pid), false, 'a process of another name counted as a postmaster');
      assert.equal(isLivePostgres(parent.pid!), false);
    } finally {
      parent.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('server log tail', () => {
  it('returns the last lines written after a byte offset, and nothing for a missing file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pgwarden-log-'));
    try {
      const path = join(dir, 'pg.log');
      await writeFile(path, 'old line\nLOG: starting\nFATAL: could not bind\n');
      assert.equal(await logTail(path, 'old line\n'.length), 'LOG: starting | FATAL: could not bind');
      assert.equal(await logTail(join(dir, 'missing.log'), 0), '');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
