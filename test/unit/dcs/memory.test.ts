import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock, MemoryDcs, MemoryStore } from '../../../src/dcs/memory.js';
import type { Dcs } from '../../../src/dcs/port.js';
import { isPgwardenError } from '../../../src/errors.js';
import { dcsContract, type DcsContractEnv } from '../../support/dcs-contract.js';

/** Contract-suite environment on a MemoryStore: a fresh scope per test, unavailability by `setAvailable(false)`. */
let scopes = 0;

function envOn(store: MemoryStore, advance?: (ms: number) => Promise<void>): DcsContractEnv {
  const scope = `contract${++scopes}`;
  const made: MemoryDcs[] = [];
  const make = (nodeName = 'node'): MemoryDcs => {
    const d = new MemoryDcs(store, { namespace: '/service/', scope, callTimeoutMs: 1000, nodeName });
    made.push(d);
    return d;
  };
  return {
    make,
    ...(advance ? { advance } : {}),
    async unavailable() {
      const dcs = make('cut-off');
      await dcs.ensureLease(10);
      store.setAvailable(false);
      return { dcs, boundMs: 50, restore: async () => store.setAvailable(true) };
    },
    async cleanup() {
      await Promise.all(made.map((d) => d.close()));
      store.close();
    },
  };
}

dcsContract('MemoryDcs on a manual clock', async () => {
  const store = new MemoryStore({ clock: new ManualClock(), timers: 'manual' });
  return envOn(store, (ms) => store.advance(ms));
});

describe('MemoryDcs fault injection and simulated time', () => {
  const manual = (): { store: MemoryStore; clock: ManualClock; node(name: string): MemoryDcs } => {
    const clock = new ManualClock();
    const store = new MemoryStore({ clock, timers: 'manual' });
    return { store, clock, node: (name) => new MemoryDcs(store, { namespace: 'service', scope: 'sim', callTimeoutMs: 1000, nodeName: name }) };
  };
  const unavailable = (e: unknown): boolean => isPgwardenError(e, 'DCS_UNAVAILABLE');

  it('cuts off one partitioned node while the others keep working', async () => {
    const { node } = manual();
    const [a, b] = [node('a'), node('b')];
    await a.ensureLease(30);
    a.setReachable(false);
    await assert.rejects(a.getCluster(), unavailable);
    await assert.rejects(a.keepAlive(), unavailable);
    await b.ensureLease(30);
    assert.equal(await b.attemptToAcquireLeader('b'), true);
    a.setReachable(true);
    assert.equal((await a.getCluster()).leader?.name, 'b');
  });

  it('expires a partitioned node lease on the store clock', async () => {
    const { store, node } = manual();
    const [a, b] = [node('a'), node('b')];
    await a.ensureLease(10);
    assert.equal(await a.attemptToAcquireLeader('a'), true);
    a.setReachable(false);
    await store.advance(9_999);
    assert.equal((await b.getCluster()).leader?.name, 'a');
    await store.advance(1);
    assert.equal((await b.getCluster()).leader, null);
  });

  it('freezes leases while the whole store is down and restarts their TTL when it returns', async () => {
    const { store, node } = manual();
    const a = node('a');
    await a.ensureLease(10);
    assert.equal(await a.attemptToAcquireLeader('a'), true);
    store.setAvailable(false);
    await store.advance(60_000);
    store.setAvailable(true);
    assert.equal((await a.getCluster()).leader?.name, 'a', 'an etcd outage does not expire leases');
    await store.advance(9_999);
    assert.equal((await a.getCluster()).leader?.name, 'a');
    await store.advance(1);
    assert.equal((await a.getCluster()).leader, null);
  });

  it('wakes a waiter when the leader lease expires, at the simulated instant of expiry', async () => {
    const { store, clock, node } = manual();
    const [a, b] = [node('a'), node('b')];
    await a.ensureLease(10);
    assert.equal(await a.attemptToAcquireLeader('a'), true);
    await b.getCluster();
    const start = clock.now();
    let wokeAt: number | null = null;
    const p = b.waitForChange(60_000).then(() => {
      wokeAt = clock.now();
    });
    await store.advance(30_000);
    await p;
    assert.equal(wokeAt, start + 10_000);
  });

  it('does not wake a partitioned node for changes it cannot see', async () => {
    const { store, node } = manual();
    const [a, b] = [node('a'), node('b')];
    await a.ensureLease(30);
    assert.equal(await a.attemptToAcquireLeader('a'), true);
    await b.getCluster();
    b.setReachable(false);
    let done = false;
    const p = b.waitForChange(5_000).then(() => {
      done = true;
    });
    assert.equal(await a.deleteLeader('a'), true);
    await store.advance(4_999);
    assert.equal(done, false);
    await store.advance(1);
    await p;
    assert.equal(done, true);
  });

  it('rejects every call of a closed node and releases its waiters', async () => {
    const { node } = manual();
    const a: Dcs = node('a');
    const p = a.waitForChange(60_000);
    await a.close();
    await p;
    await assert.rejects(a.getCluster(), unavailable);
  });

  it('runs on its own host timers by default: a lease expires and a wait times out in real time', async () => {
    const store = new MemoryStore();
    const node = (name: string): MemoryDcs => new MemoryDcs(store, { namespace: 'service', scope: 'rt', callTimeoutMs: 1000, nodeName: name });
    const [a, b] = [node('a'), node('b')];
    await a.ensureLease(1);
    assert.equal(await a.attemptToAcquireLeader('a'), true);
    await b.getCluster();
    const started = Date.now();
    await b.waitForChange(300);
    const waited = Date.now() - started;
    assert.ok(waited >= 290 && waited < 1000, `a quiet wait lasted ${waited} ms`);
    await b.getCluster();
    await b.waitForChange(5_000);
    const tookMs = Date.now() - started;
    assert.ok(tookMs >= 950 && tookMs < 2000, `the lease expiry woke the waiter after ${tookMs} ms`);
    assert.equal((await b.getCluster()).leader, null);
    await Promise.all([a.close(), b.close()]);
    store.close();
  });

  it('refuses advance on a store that does not run on a ManualClock', async () => {
    const store = new MemoryStore();
    await assert.rejects(store.advance(10), /ManualClock/);
    store.close();
  });

  it('keeps revisions like etcd: one per write, one per lease expiry however many keys', async () => {
    const { store, node } = manual();
    const a = node('a');
    await a.ensureLease(5);
    const r0 = store.revision;
    await a.touchMember('a', { conn_url: '', api_url: '', state: 'running', role: 'replica', version: '1' });
    assert.equal(await a.attemptToAcquireLeader('a'), true);
    assert.equal(store.revision, r0 + 2);
    const key = store.get('/service/sim/leader');
    assert.equal(key?.createRevision, r0 + 2);
    await store.advance(5_000);
    assert.equal(store.revision, r0 + 3);
  });
});
