/**
 * The watchdog guard with a regular file standing in for `/dev/watchdog` (never the real device):
 * the file collects what pgwarden writes — `1` per keepalive, `V` on the magic close.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createLogger } from '../../../src/log.js';
import { checkDevice } from '../../../src/watchdog/kernel.js';
import { Safeguards, type WatchdogMode } from '../../../src/watchdog/guard.js';

const dir = mkdtempSync(join(tmpdir(), 'pgwarden-watchdog-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function setup(mode: WatchdogMode, deviceExists = true) {
  const device = join(dir, `dog-${Math.random().toString(36).slice(2)}`);
  if (deviceExists) writeFileSync(device, '');
  const calls: string[] = [];
  const lines: string[] = [];
  const companion = { failed: false, arm: (u: number) => void calls.push(`arm ${u}`), disarm: () => void calls.push('disarm') };
  const guard = new Safeguards({ mode: () => mode, device: () => device, maxTimeoutSeconds: () => 5, companion, log: createLogger('DEBUG', (l) => void lines.push(l)) });
  return { guard, device, calls, lines, companion, written: () => (deviceExists ? readFileSync(device, 'utf8') : '') };
}

describe('Safeguards', () => {
  it('automatic: opens the device at the first renewal as leader, feeds it on every one, magic-closes it on disarm', () => {
    const t = setup('automatic');
    assert.equal(t.guard.mayLead(), null);
    assert.equal(t.written(), '', 'asking whether it may lead opens nothing: nothing would feed the device yet');
    t.guard.arm(1000);
    assert.equal(t.written(), '1', 'opening writes the first keepalive');
    t.guard.arm(3000);
    assert.equal(t.written(), '11');
    assert.equal(t.guard.state().device, t.device);
    t.guard.disarm();
    assert.equal(t.written(), '11V');
    assert.equal(t.guard.state().device, null);
    assert.deepEqual(t.calls, ['arm 1000', 'arm 3000', 'disarm'], 'the companion fencer gets every arm and disarm');
    assert.equal(t.guard.state().failed, false);
  });

  it('automatic without a device: leads anyway, on the companion fencer alone, and says so once', () => {
    const t = setup('automatic', false);
    assert.equal(t.guard.mayLead(), null);
    t.guard.arm(1000);
    t.guard.arm(2000);
    const warnings = t.lines.filter((l) => l.includes('the companion fencer alone guards'));
    assert.equal(warnings.length, 1, t.lines.join(''));
    assert.match(warnings[0]!, /cannot open|ENOENT/);
    assert.deepEqual(t.guard.state(), { mode: 'automatic', device: null, failed: false, fencerRunning: true, problem: t.guard.state().problem });
    assert.deepEqual(t.calls, ['arm 1000', 'arm 2000']);
  });

  it('required without a device: reports watchdog_failed before it ever tries to lead, and refuses to lead', () => {
    const t = setup('required', false);
    assert.equal(t.guard.state().failed, true);
    assert.match(String(t.guard.state().problem), /ENOENT/);
    const refusal = t.guard.mayLead();
    assert.match(String(refusal), /^watchdog\.mode is required, but .*ENOENT/);
    assert.equal(t.guard.state().failed, true);
  });

  it('required with a device: leads, and a device that vanishes is reported', () => {
    const t = setup('required');
    assert.equal(t.guard.mayLead(), null);
    assert.equal(t.guard.state().failed, false);
    rmSync(t.device);
    assert.equal(t.guard.state().failed, true);
    assert.match(String(t.guard.mayLead()), /ENOENT/);
  });

  it('off: never touches the device', () => {
    const t = setup('off');
    assert.equal(t.guard.mayLead(), null);
    t.guard.arm(1000);
    t.guard.disarm();
    assert.equal(t.written(), '');
    assert.deepEqual(t.calls, ['arm 1000', 'disarm']);
  });

  it('reports a dead companion fencer as a failed watchdog', () => {
    const t = setup('off');
    t.companion.failed = true;
    assert.equal(t.guard.state().failed, true);
    assert.equal(t.guard.state().fencerRunning, false);
  });
});

describe('checkDevice', () => {
  it('accepts a stand-in file with an unknown timeout and names a missing device', () => {
    const f = join(dir, 'plain');
    writeFileSync(f, '');
    assert.deepEqual(checkDevice(f, 5), { ok: true, timeoutSeconds: null });
    const missing = checkDevice(join(dir, 'nope'), 5);
    assert.equal(missing.ok, false);
    assert.match(!missing.ok ? missing.reason : '', /nope: ENOENT/);
  });

  it('reads a character device\'s timeout from sysfs without opening it', () => {
    // /dev/null is a character device with no watchdog timeout in sysfs: refused with the path.
    const r = checkDevice('/dev/null', 5);
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.reason : '', /cannot read the timeout of \/dev\/null from \/sys\/dev\/char\/1:3\/timeout/);
  });
});
