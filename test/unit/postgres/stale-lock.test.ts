import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { clearStaleLock } from '../../../src/postgres/pgctl.js';

/** A PID that existed and has exited (and was reaped). */
function deadPid(): number {
  const r = spawnSync('sh', ['-c', 'echo $$']);
  return Number(r.stdout.toString().trim());
}

describe('clearStaleLock', () => {
  const root = mkdtempSync(join(tmpdir(), 'pgwarden-stale-lock-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const warnings: string[] = [];
  const paths = (dataDir: string) => ({ binDir: '/nonexistent', dataDir, logPath: join(root, 'log'), env: {}, logger: { info: () => undefined, warn: (m: string) => warnings.push(m) } });

  /** A data dir whose postmaster.pid names `pid`, port 26999 and `socketDir`; a socket lock naming `lockPid`. */
  function setUp(name: string, pid: number, lockPid: number): { dataDir: string; lock: string } {
    const dataDir = join(root, name);
    const socketDir = join(root, `${name}-sock`);
    spawnSync('mkdir', ['-p', dataDir, socketDir]);
    writeFileSync(join(dataDir, 'postmaster.pid'), `${pid}\n${dataDir}\n1700000000\n26999\n${socketDir}\n127.0.0.1\n  1234  5678\nready   \n`);
    const lock = join(socketDir, '.s.PGSQL.26999.lock');
    writeFileSync(lock, `${lockPid}\n${dataDir}\n1700000000\n26999\n${socketDir}\n`);
    return { dataDir, lock };
  }

  it('removes the stale postmaster.pid and the socket lock of the same dead PID', async () => {
    const pid = deadPid();
    const { dataDir, lock } = setUp('dead', pid, pid);
    assert.equal(await clearStaleLock(paths(dataDir)), true);
    assert.equal(existsSync(join(dataDir, 'postmaster.pid')), false);
    assert.equal(existsSync(lock), false, 'socket lock of the dead postmaster left behind');
    assert.ok(warnings.some((w) => w.includes('.s.PGSQL.26999.lock')));
  });

  it('removes the socket lock of a zombie postmaster (killed, not yet reaped)', async () => {
    // A shell starts a child that exits shortly after, then execs `sleep`, which never reaps it:
    // the child stays a zombie, as a SIGKILLed postmaster does until init gets round to it. (A
    // child that exited at once could be reaped by the shell before its exec, on a busy machine.)
    const parent = spawn('sh', ['-c', 'sh -c "sleep 0.3; exit 0" & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const pid = Number(await new Promise<string>((r) => parent.stdout.once('data', (d: Buffer) => r(d.toString().trim()))));
    try {
      let state = '';
      for (let i = 0; i < 300 && state !== 'Z'; i++) {
        const st = spawnSync('cat', [`/proc/${pid}/stat`]).stdout.toString();
        state = st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3);
        if (state !== 'Z') await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(state, 'Z', `PID ${pid} did not become a zombie`);
      const { dataDir, lock } = setUp('zombie', pid, pid);
      assert.equal(await clearStaleLock(paths(dataDir)), true);
      assert.equal(existsSync(lock), false, 'socket lock of the zombie postmaster left behind');
    } finally {
      parent.kill('SIGKILL');
    }
  });

  it('keeps a socket lock that names another PID, or a live one', async () => {
    const dead = deadPid();
    const other = setUp('other', dead, dead + 1_000_000);
    assert.equal(await clearStaleLock(paths(other.dataDir)), true);
    assert.equal(existsSync(other.lock), true, 'removed a lock that names another PID');
    // postmaster.pid naming this (live, non-PostgreSQL) process: stale too, but its PID lives.
    const live = setUp('live', process.pid, process.pid);
    assert.equal(await clearStaleLock(paths(live.dataDir)), true);
    assert.equal(existsSync(live.lock), true, 'removed the lock of a live process');
  });
});
