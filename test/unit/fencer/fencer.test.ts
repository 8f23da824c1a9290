import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Fencer, type FencerWorld } from '../../../src/fencer/fencer.js';
import { encodeMessage, parseMessage, type ArmMessage } from '../../../src/fencer/protocol.js';

const MS = 1_000_000n;

/** A fake world on a manual clock: timers run when `advance` passes them. */
function world(opts: { pid?: number | null; diesAfterSignals?: number } = {}) {
  let now = 1_000_000n * MS;
  let timers: { at: bigint; f: () => void; live: boolean }[] = [];
  const signals: string[] = [];
  const logs: string[] = [];
  let alive = opts.pid !== null;
  const w: FencerWorld = {
    nowNs: () => now,
    setTimer(ms, f) {
      const t = { at: now + BigInt(ms) * MS, f, live: true };
      timers.push(t);
      return { cancel: () => void (t.live = false) };
    },
    postmasterPid: () => (opts.pid === null ? { none: 'd/postmaster.pid does not exist' } : { pid: opts.pid ?? 4242 }),
    alive: () => alive,
    signal(pid, sig) {
      signals.push(`${sig} ${pid}`);
      if (signals.length >= (opts.diesAfterSignals ?? 1)) alive = false;
    },
    log: { info: (m) => logs.push(`I ${m}`), warn: (m) => logs.push(`W ${m}`), error: (m) => logs.push(`E ${m}`) },
  };
  const advance = (ms: number): void => {
    const end = now + BigInt(ms) * MS;
    for (;;) {
      const due = timers.filter((t) => t.live && t.at <= end).sort((a, b) => (a.at < b.at ? -1 : 1))[0];
      if (!due) break;
      due.live = false;
      now = due.at;
      due.f();
      timers = timers.filter((t) => t.live);
    }
    now = end;
  };
  const arm = (fenceInMs: number, leaseInMs: number): ArmMessage => ({
    op: 'arm', fenceAtNs: String(now + BigInt(fenceInMs) * MS), leaseEndsNs: String(now + BigInt(leaseInMs) * MS), dataDir: '/d',
  });
  return { w, advance, arm, signals, logs, get alive() { return alive; } };
}

describe('Fencer', () => {
  it('fences with a fast shutdown when no new arm arrives before the fence time, and logs why', () => {
    const t = world();
    const f = new Fencer(t.w);
    f.handle(t.arm(5_000, 10_000));
    t.advance(4_999);
    assert.deepEqual(t.signals, []);
    t.advance(1);
    assert.deepEqual(t.signals, ['SIGINT 4242']);
    assert.equal(f.fenced, 1);
    assert.match(t.logs.join('\n'), /no lease renewal from the agent for 5\.0 s and the leader lease ends in 5\.0 s: fast shutdown of PostgreSQL \(pid 4242\)/);
    t.advance(100);
    assert.match(t.logs.join('\n'), /stopped \d+ ms after the fence, 5\.0 s before the lease ends/);
  });

  it('never fires while renewals keep moving the deadline', () => {
    const t = world();
    const f = new Fencer(t.w);
    for (let i = 0; i < 20; i++) {
      f.handle(t.arm(5_000, 10_000));
      t.advance(2_000);
    }
    assert.deepEqual(t.signals, []);
    assert.equal(f.fenced, 0);
  });

  it('does nothing once disarmed (demoted, replica, clean shutdown)', () => {
    const t = world();
    const f = new Fencer(t.w);
    f.handle(t.arm(5_000, 10_000));
    f.handle({ op: 'disarm' });
    t.advance(60_000);
    assert.deepEqual(t.signals, []);
    assert.equal(f.isArmed, false);
  });

  it('escalates to an immediate shutdown one second before the lease ends when the fast one hangs', () => {
    const t = world({ diesAfterSignals: 2 });
    const f = new Fencer(t.w);
    f.handle(t.arm(5_000, 10_000));
    t.advance(5_000);
    assert.deepEqual(t.signals, ['SIGINT 4242']);
    t.advance(3_900);
    assert.deepEqual(t.signals, ['SIGINT 4242']);
    t.advance(200);
    assert.deepEqual(t.signals, ['SIGINT 4242', 'SIGQUIT 4242']);
    t.advance(100);
    assert.equal(t.alive, false);
    assert.match(t.logs.join('\n'), /still shutting down \d+ ms after the fence: immediate shutdown/);
  });

  it('fences at once when the arm arrives already late (the agent was slow to send it)', () => {
    const t = world();
    const f = new Fencer(t.w);
    f.handle(t.arm(-500, 4_500));
    t.advance(0);
    assert.deepEqual(t.signals, ['SIGINT 4242']);
  });

  it('signals nothing when no postmaster runs', () => {
    const t = world({ pid: null });
    const f = new Fencer(t.w);
    f.handle(t.arm(1_000, 6_000));
    t.advance(2_000);
    assert.deepEqual(t.signals, []);
    assert.match(t.logs.join('\n'), /postmaster\.pid does not exist: nothing to fence/);
  });
});

describe('fencer protocol', () => {
  it('round-trips arm and disarm and refuses anything else', () => {
    const arm: ArmMessage = { op: 'arm', fenceAtNs: '123', leaseEndsNs: '456', dataDir: '/var/lib/pg' };
    assert.deepEqual(parseMessage(encodeMessage(arm).trim()), arm);
    assert.deepEqual(parseMessage(encodeMessage({ op: 'disarm' }).trim()), { op: 'disarm' });
    for (const bad of ['', 'nope', '{"op":"arm"}', '{"op":"arm","fenceAtNs":"-1","leaseEndsNs":"2","dataDir":"/d"}', '{"op":"arm","fenceAtNs":1,"leaseEndsNs":"2","dataDir":"/d"}', '{"op":"fire"}', 'null']) {
      assert.equal(parseMessage(bad), null, bad);
    }
  });
});
