/**
 * The companion fencer as a real process: a stand-in "postmaster" named by a postmaster.pid in
 * a scratch data directory.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { CompanionFencer } from '../../../src/fencer/companion.js';
import { encodeMessage } from '../../../src/fencer/protocol.js';
import { systemClock } from '../../../src/domain/clock.js';
import { createLogger } from '../../../src/log.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/**
 * A scratch data dir whose postmaster.pid names a running stand-in with the directory on its
 * command line (as `postgres -D <dir>` has); SIGINT ends it.
 */
function fakePostmaster(): { dataDir: string; proc: ChildProcess; exited: Promise<string> } {
  const dataDir = mkdtempSync(join(tmpdir(), 'pgwarden-fencer-'));
  dirs.push(dataDir);
  const proc = spawn(process.execPath, ['-e', 'setTimeout(() => undefined, 30000)', '--', '-D', dataDir], { stdio: 'ignore' });
  writeFileSync(join(dataDir, 'postmaster.pid'), `${proc.pid}\n${dataDir}\n1700000000\n5432\n`);
  const exited = new Promise<string>((r) => proc.once('exit', (code, sig) => r(sig ?? `code ${String(code)}`)));
  return { dataDir, proc, exited };
}

const quietLog = () => {
  const lines: string[] = [];
  return { log: createLogger('DEBUG', (l) => void lines.push(l)), lines };
};

describe('CompanionFencer (real process)', () => {
  it('fences the postmaster when the arms stop coming, and exits on stop()', async () => {
    const pm = fakePostmaster();
    const { log } = quietLog();
    // Fence (fast shutdown) 1 s after arming, escalation to immediate 0.5 s later: room enough for
    // the stand-in to die of the SIGINT even on a loaded machine.
    const fencer = new CompanionFencer({ dataDir: pm.dataDir, safetyMarginMs: () => 1_500, clock: systemClock, log });
    fencer.start();
    try {
      const started = Date.now();
      fencer.arm(systemClock.now() + 2_500);
      assert.equal(await pm.exited, 'SIGINT');
      const took = Date.now() - started;
      assert.ok(took >= 900 && took < 10_000, `fenced after ${took} ms, expected about 1000 (more when the fencer process starts slowly)`);
    } finally {
      await fencer.stop();
      pm.proc.kill();
    }
    assert.equal(fencer.failed, false);
  });

  it('leaves the postmaster alone while renewals keep coming, and once disarmed', async () => {
    const pm = fakePostmaster();
    const fencer = new CompanionFencer({ dataDir: pm.dataDir, safetyMarginMs: () => 1_000, clock: systemClock, log: quietLog().log });
    fencer.start();
    try {
      for (let i = 0; i < 6; i++) {
        fencer.arm(systemClock.now() + 1_500);
        await new Promise((r) => setTimeout(r, 250));
      }
      fencer.disarm();
      await new Promise((r) => setTimeout(r, 1_000));
      assert.equal(pm.proc.exitCode, null);
      assert.equal(pm.proc.signalCode, null);
    } finally {
      await fencer.stop();
      pm.proc.kill();
    }
  });

  it('leaves alone a PID that is not a postmaster of the directory (a stale postmaster.pid)', async () => {
    const pm = fakePostmaster();
    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    writeFileSync(join(pm.dataDir, 'postmaster.pid'), `${other.pid}\n${pm.dataDir}\n1700000000\n5432\n`);
    const lines: string[] = [];
    const fencer = new CompanionFencer({ dataDir: pm.dataDir, safetyMarginMs: () => 1_000, clock: systemClock, log: createLogger('DEBUG', (l) => void lines.push(l)) });
    fencer.start();
    try {
      fencer.arm(systemClock.now() + 1_200);
      await new Promise((r) => setTimeout(r, 2_500));
      assert.equal(other.exitCode, null);
      assert.equal(other.signalCode, null);
    } finally {
      await fencer.stop();
      other.kill();
      pm.proc.kill();
    }
  });

  it('still fences after the agent is gone (stdin closed while armed), then exits by itself', async () => {
    const pm = fakePostmaster();
    const main = fileURLToPath(new URL('../../../src/fencer/main.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', main], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const childExit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const hr = process.hrtime.bigint();
    child.stdin.end(encodeMessage({ op: 'arm', fenceAtNs: String(hr + 1_500_000_000n), leaseEndsNs: String(hr + 10_000_000_000n), dataDir: pm.dataDir }));
    try {
      assert.equal(await pm.exited, 'SIGINT');
      assert.equal(await childExit, 0);
      assert.match(stderr, /the agent is gone while this node leads/);
      assert.match(stderr, /fast shutdown of PostgreSQL \(pid \d+\)/);
    } finally {
      pm.proc.kill();
      child.kill();
    }
  });
});
