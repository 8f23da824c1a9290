import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LeaseFence } from '../../../src/loop/fence.js';

describe('LeaseFence', () => {
  it('tells the out-of-process fence every new deadline without disarming it in between, and disarms it once', () => {
    const calls: string[] = [];
    const fence = new LeaseFence({ now: () => 0, wallNow: () => 0 }, 1_500, async () => undefined, {
      arm: (u) => void calls.push(`arm ${u}`),
      disarm: () => void calls.push('disarm'),
    });
    fence.arm(10_000);
    fence.arm(12_000);
    assert.equal(fence.armed, true);
    fence.disarm();
    assert.equal(fence.armed, false);
    assert.deepEqual(calls, ['arm 10000', 'arm 12000', 'disarm']);
  });

  it('stops PostgreSQL itself when no renewal lands before deadline − margin', async () => {
    const reasons: string[] = [];
    const fence = new LeaseFence({ now: () => 0, wallNow: () => 0 }, 1_500, async (r) => void reasons.push(r));
    fence.arm(1_550);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(reasons.length, 1);
    assert.match(reasons[0]!, /no lease renewal succeeded/);
    assert.equal(fence.armed, false);
  });
});
