import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { HistoryRow, MemberData } from '../../src/domain/cluster.js';
import type { Dcs } from '../../src/dcs/port.js';
import { isPgwardenError } from '../../src/errors.js';

/** What one test of the contract suite gets from an implementation. */
export interface DcsContractEnv {
  /** A Dcs for one node of a cluster that is fresh for this test (same cluster for every call). */
  make(nodeName?: string): Dcs;
  /** Moves simulated time; absent for real-time implementations (the suite then sleeps). */
  advance?(ms: number): Promise<void>;
  /**
   * A Dcs that cannot reach the store, how long a call may take to fail (`boundMs`), and how to
   * undo it. Absent: the unavailability test is skipped.
   */
  unavailable?(): Promise<{ dcs: Dcs; boundMs: number; restore(): Promise<void> }>;
  /** Closes every Dcs made and frees the cluster. */
  cleanup(): Promise<void>;
}

const SHORT_TTL = 2;
const TTL = 10;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** A limit for `Promise.race` that does not keep the process alive once the race is won. */
const limit = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

const replicaData: MemberData = {
  conn_url: 'postgres://127.0.0.1:5433/postgres',
  api_url: 'http://127.0.0.1:8009/patroni',
  state: 'running',
  role: 'replica',
  version: '4.0.0',
  xlog_location: 50331648,
  timeline: 2,
  tags: { nofailover: true, zone: 'b' },
};

async function rejectsWith(p: Promise<unknown>, code: 'DCS_UNAVAILABLE' | 'DCS_LEASE_LOST'): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isPgwardenError(e, code), `expected ${code}, got ${String(e)}`);
    return true;
  });
}

/**
 * The behaviour every `Dcs` implementation must show (the port's TSDoc, reference §1.5), run as
 * one node:test suite per implementation: the in-memory fake and the etcd3 adapter on real etcd.
 */
export function dcsContract(name: string, setup: () => Promise<DcsContractEnv>): void {
  describe(`Dcs contract: ${name}`, () => {
    let env: DcsContractEnv;
    beforeEach(async () => {
      env = await setup();
    });
    afterEach(async () => {
      await env.cleanup();
    });
    const elapse = async (ms: number): Promise<void> => (env.advance ? env.advance(ms) : sleep(ms));
    /** One short wait, so an implementation that watches lazily has its watch running. */
    const prime = async (d: Dcs): Promise<void> => {
      const w = d.waitForChange(50);
      await elapse(60);
      await w;
    };
    const node = async (n: string, ttl = TTL): Promise<Dcs> => {
      const d = env.make(n);
      await d.ensureLease(ttl);
      return d;
    };

    it('reads an empty cluster as absent keys and no members', async () => {
      const c = await env.make('a').getCluster();
      assert.deepEqual(
        { ...c, revision: undefined },
        { initialize: null, config: null, configModRevision: null, leader: null, members: [], optime: null, history: null, failover: null, failoverModRevision: null, sync: null, syncModRevision: null, failsafe: null, revision: undefined },
      );
      assert.match(c.revision, /^\d+$/);
    });

    it('lets exactly one of two racing nodes create a free leader key', async () => {
      const [a, b] = await Promise.all([node('a'), node('b')]);
      const [wa, wb] = await Promise.all([a.attemptToAcquireLeader('a'), b.attemptToAcquireLeader('b')]);
      assert.equal(Number(wa) + Number(wb), 1);
      assert.equal((await a.getCluster()).leader?.name, wa ? 'a' : 'b');
    });

    it('refuses to acquire a held leader key and leaves the holder in place', async () => {
      const [a, b] = await Promise.all([node('a'), node('b')]);
      assert.equal(await a.attemptToAcquireLeader('a'), true);
      const before = (await b.getCluster()).leader;
      assert.equal(await b.attemptToAcquireLeader('b'), false);
      assert.deepEqual((await b.getCluster()).leader, before);
    });

    it('with claimSync, creates the leader key only at that sync revision, claiming the sync key in the same step', async () => {
      const [a, b] = await Promise.all([node('a'), node('b')]);
      assert.equal(await a.attemptToAcquireLeader('a', '0'), true, "'0': the sync key is absent");
      assert.deepEqual((await a.getCluster()).sync, { leader: 'a', standbys: [] });
      assert.equal(await a.deleteLeader('a'), true);
      const seen = (await b.getCluster()).syncModRevision!;
      assert.equal(await a.setSync({ leader: 'a', standbys: ['b'] }, seen), true, 'the sync key changes after b read it');
      assert.equal(await b.attemptToAcquireLeader('b', seen), false, 'a race decided on the old sync key creates nothing');
      const c = await b.getCluster();
      assert.equal(c.leader, null);
      assert.deepEqual(c.sync, { leader: 'a', standbys: ['b'] });
      assert.equal(await b.attemptToAcquireLeader('b', c.syncModRevision!), true);
      assert.deepEqual((await b.getCluster()).sync, { leader: 'b', standbys: [] });
    });

    it('renews the leader key for its holder and for nobody else', async () => {
      const [a, b] = await Promise.all([node('a'), node('b')]);
      assert.equal(await a.updateLeader('a'), false, 'a missing key is not renewed');
      assert.equal((await a.getCluster()).leader, null, 'and not created either');
      assert.equal(await a.attemptToAcquireLeader('a'), true);
      assert.equal(await a.updateLeader('a'), true);
      assert.equal(await b.updateLeader('b'), false);
      assert.equal((await b.getCluster()).leader?.name, 'a');
    });

    it('deletes the leader key only for its holder', async () => {
      const [a, b] = await Promise.all([node('a'), node('b')]);
      assert.equal(await a.attemptToAcquireLeader('a'), true);
      assert.equal(await b.deleteLeader('b'), false);
      assert.equal((await b.getCluster()).leader?.name, 'a');
      assert.equal(await a.deleteLeader('a'), true);
      assert.equal((await b.getCluster()).leader, null);
      assert.equal(await a.deleteLeader('a'), false);
    });

    it('moves the leader key to a new lease when the TTL changes, without losing it', async () => {
      const a = await node('a');
      assert.equal(await a.attemptToAcquireLeader('a'), true);
      const first = (await a.getCluster()).leader;
      await a.ensureLease(TTL + 5);
      assert.equal(await a.updateLeader('a'), true);
      const second = (await a.getCluster()).leader;
      assert.equal(second?.name, 'a');
      assert.ok(first?.leaseId && second?.leaseId && first.leaseId !== second.leaseId, 'the key is on the new lease');
    });

    it('drops the leader and member keys once the lease expires unrenewed', async () => {
      const [a, b] = await Promise.all([node('a', SHORT_TTL), node('b')]);
      await a.touchMember('a', replicaData);
      assert.equal(await a.attemptToAcquireLeader('a'), true);
      await elapse(SHORT_TTL * 1000 - 1500);
      assert.equal((await b.getCluster()).leader?.name, 'a', 'still there before the TTL ends');
      await elapse(3000);
      const c = await b.getCluster();
      assert.equal(c.leader, null);
      assert.deepEqual(c.members, []);
      assert.equal(await a.keepAlive(), false, 'keepAlive reports the lease gone');
      assert.equal(await a.updateLeader('a'), false);
      await rejectsWith(a.touchMember('a', replicaData), 'DCS_LEASE_LOST');
      await a.ensureLease(SHORT_TTL);
      await a.touchMember('a', replicaData);
      assert.deepEqual((await b.getCluster()).members.map((m) => m.name), ['a']);
    });

    it('keeps the keys alive while keepAlive is called within the TTL', async () => {
      const a = await node('a', SHORT_TTL);
      await a.touchMember('a', replicaData);
      for (let i = 0; i < 3; i++) {
        await elapse(1000);
        assert.equal(await a.keepAlive(), true);
      }
      assert.equal((await a.getCluster()).members.length, 1);
    });

    it('removes the node keys at once when the lease is revoked', async () => {
      const [a, b] = await Promise.all([node('a'), node('b')]);
      await a.touchMember('a', replicaData);
      assert.equal(await a.attemptToAcquireLeader('a'), true);
      await a.revokeLease();
      const c = await b.getCluster();
      assert.equal(c.leader, null);
      assert.deepEqual(c.members, []);
    });

    it('refuses lease-bound writes from a node without a lease', async () => {
      const a = env.make('a');
      await rejectsWith(a.touchMember('a', replicaData), 'DCS_LEASE_LOST');
      await rejectsWith(a.attemptToAcquireLeader('a'), 'DCS_LEASE_LOST');
      assert.equal(await a.keepAlive(), false);
    });

    it('lets exactly one node win the initialize race and stores the system identifier', async () => {
      const [a, b] = [env.make('a'), env.make('b')];
      const wins = await Promise.all([a.initializeRace(), b.initializeRace()]);
      assert.deepEqual(wins.filter(Boolean), [true]);
      assert.equal((await a.getCluster()).initialize, '');
      await a.setInitialize('7214123456789012345');
      assert.equal((await b.getCluster()).initialize, '7214123456789012345');
      assert.equal(await b.initializeRace(), false);
      await a.cancelInitialize();
      assert.equal((await b.getCluster()).initialize, null);
      assert.equal(await b.initializeRace(), true);
    });

    it('writes config with compare-and-set on its mod revision', async () => {
      const a = env.make('a');
      const v1 = { ttl: 30, loop_wait: 10, postgresql: { use_pg_rewind: true, parameters: null } };
      assert.equal(await a.setConfig(v1, '0'), true);
      assert.equal(await a.setConfig({ ttl: 1 }, '0'), false, "'0' means the key must not exist");
      const c1 = await a.getCluster();
      assert.deepEqual(c1.config, v1);
      assert.match(c1.configModRevision ?? '', /^\d+$/);
      const v2 = { ...v1, ttl: 40 };
      assert.equal(await a.setConfig(v2, c1.configModRevision!), true);
      assert.equal(await a.setConfig({ ttl: 50 }, c1.configModRevision!), false, 'a stale revision fails');
      const c2 = await a.getCluster();
      assert.deepEqual(c2.config, v2);
      assert.notEqual(c2.configModRevision, c1.configModRevision);
      assert.equal(await a.setConfig({ ttl: 60 }), true, 'without a revision the write is plain');
      assert.deepEqual((await a.getCluster()).config, { ttl: 60 });
    });

    it('writes failover plainly or with compare-and-set, and reads {} as nothing pending', async () => {
      const a = env.make('a');
      assert.equal(await a.setFailover({ leader: 'n1', member: 'n2', scheduled_at: '2030-01-01T00:00:00+00:00' }), true);
      const c1 = await a.getCluster();
      assert.deepEqual(c1.failover, { leader: 'n1', member: 'n2', scheduled_at: '2030-01-01T00:00:00+00:00' });
      assert.match(c1.failoverModRevision ?? '', /^\d+$/);
      assert.equal(await a.setFailover({}, '0'), false, "'0' means the key must not exist");
      assert.equal(await a.setFailover({}, c1.failoverModRevision!), true);
      const c2 = await a.getCluster();
      assert.equal(c2.failover, null, '{} is no request');
      assert.notEqual(c2.failoverModRevision, null, 'the key still exists');
      assert.equal(await a.setFailover({ member: 'n3' }, c1.failoverModRevision!), false, 'a stale revision fails');
    });

    it('writes and deletes sync only with compare-and-set, in Patroni\'s format', async () => {
      const a = env.make('a');
      assert.equal(await a.setSync({ leader: 'n1', standbys: ['n3', 'n2'] }, '0'), true);
      const c1 = await a.getCluster();
      assert.deepEqual(c1.sync, { leader: 'n1', standbys: ['n2', 'n3'] });
      assert.equal(await a.setSync({ leader: 'n1', standbys: [] }, '0'), false, "'0' means the key must not exist");
      assert.equal(await a.setSync({ leader: 'n1', standbys: [] }, c1.syncModRevision!), true);
      const c2 = await a.getCluster();
      assert.deepEqual(c2.sync, { leader: 'n1', standbys: [] });
      assert.equal(await a.setSync(null, c1.syncModRevision!), false, 'a stale revision does not delete');
      assert.equal(await a.setSync(null, c2.syncModRevision!), true);
      assert.equal((await a.getCluster()).sync, null);
      assert.equal(await a.setSync(null, '0'), true, 'deleting an absent key is done');
    });

    it('writes and deletes the failsafe key as member name → api_url', async () => {
      const a = env.make('a');
      await a.writeFailsafe({ n1: 'http://127.0.0.1:8008/patroni', n2: 'http://127.0.0.1:8009/patroni' });
      assert.deepEqual((await a.getCluster()).failsafe, { n1: 'http://127.0.0.1:8008/patroni', n2: 'http://127.0.0.1:8009/patroni' });
      await a.writeFailsafe(null);
      assert.equal((await a.getCluster()).failsafe, null);
    });

    it('removes every key of the cluster', async () => {
      const a = env.make('a');
      await a.ensureLease(30);
      await a.touchMember('a', { conn_url: 'postgres://127.0.0.1:5432/postgres', api_url: 'http://127.0.0.1:8008/patroni', state: 'running', role: 'replica', version: '0' });
      assert.equal(await a.setConfig({ ttl: 30 }), true);
      assert.equal(await a.initializeRace(), true);
      await a.removeCluster();
      const c = await a.getCluster();
      assert.equal(c.config, null);
      assert.equal(c.initialize, null);
      assert.deepEqual(c.members, []);
    });

    it('round-trips member data attached to the node lease', async () => {
      const a = await node('a');
      const primary: MemberData = { ...replicaData, role: 'primary', pending_restart: true, pause: true, checkpoint_after_promote: false };
      await a.touchMember('a', primary);
      await a.touchMember('b2', replicaData);
      const c = await a.getCluster();
      assert.deepEqual(c.members.map((m) => [m.name, m.data]), [['a', primary], ['b2', replicaData]]);
      assert.ok(c.members.every((m) => m.leaseId && m.leaseId !== '0'));
    });

    it('round-trips the status optime and the timeline history', async () => {
      const a = env.make('a');
      const rows: HistoryRow[] = [
        [1, 50331808, 'no recovery target specified'],
        [2, 67109024, 'no recovery target specified', '2024-01-01T00:00:00+00:00', 'a'],
      ];
      await a.writeStatus(67109024);
      await a.writeHistory(rows);
      const c = await a.getCluster();
      assert.equal(c.optime, 67109024);
      assert.deepEqual(c.history, rows);
    });

    it('wakes a waiting node when the leader key is deleted', async () => {
      const [a, b] = await Promise.all([node('a'), node('b')]);
      assert.equal(await a.attemptToAcquireLeader('a'), true);
      await b.getCluster();
      const started = Date.now();
      const woke = b.waitForChange(30_000).then(() => Date.now() - started);
      await sleep(200);
      assert.equal(await a.deleteLeader('a'), true);
      const tookMs = await Promise.race([woke, limit(5000).then(() => Infinity)]);
      assert.ok(tookMs < 5000, `woke after ${tookMs} ms`);
    });

    it('wakes a waiting node when a member key appears (a new leader publishes itself)', async () => {
      const [a, b] = await Promise.all([node('a'), node('b')]);
      assert.equal(await a.attemptToAcquireLeader('a'), true);
      await b.getCluster();
      await prime(b);
      await b.getCluster();
      const started = Date.now();
      const woke = b.waitForChange(30_000).then(() => Date.now() - started);
      await sleep(200);
      await a.touchMember('a', replicaData);
      const tookMs = await Promise.race([woke, limit(5000).then(() => Infinity)]);
      assert.ok(tookMs < 5000, `woke after ${tookMs} ms`);
    });

    it('returns at once when a relevant change landed between the read and the wait', async () => {
      const [a, b] = await Promise.all([node('a'), node('b')]);
      assert.equal(await a.attemptToAcquireLeader('a'), true);
      await b.getCluster();
      await prime(b);
      await a.setConfig({ ttl: 30 });
      await sleep(300);
      const tookMs = await Promise.race([b.waitForChange(30_000).then(() => 0), limit(3000).then(() => Infinity)]);
      assert.equal(tookMs, 0);
    });

    it('sleeps until the timeout when only the holder renews the leader key', async () => {
      const [a, b] = await Promise.all([node('a'), node('b')]);
      assert.equal(await a.attemptToAcquireLeader('a'), true);
      await a.touchMember('a', replicaData);
      await b.getCluster();
      await prime(b);
      await b.getCluster();
      let done = false;
      const started = Date.now();
      const p = b.waitForChange(800).then(() => {
        done = true;
      });
      assert.equal(await a.updateLeader('a'), true);
      await a.writeStatus(1234);
      await a.touchMember('a', { ...replicaData, xlog_location: 50331649 });
      await elapse(500);
      assert.equal(done, false, 'not woken by a renewal, a status or a member update');
      await elapse(500);
      await Promise.race([p, limit(3000)]);
      assert.equal(done, true);
      if (!env.advance) assert.ok(Date.now() - started >= 750, 'waited about the timeout');
    });

    it('returns from waitForChange when the signal aborts', async () => {
      const b = env.make('b');
      await b.getCluster();
      const ac = new AbortController();
      const p = b.waitForChange(60_000, ac.signal).then(() => 'returned');
      ac.abort();
      assert.equal(await Promise.race([p, limit(2000).then(() => 'stuck')]), 'returned');
    });

    it('rejects with DCS_UNAVAILABLE within the call deadline when the store cannot be reached', async (t) => {
      if (!env.unavailable) {
        t.skip('no way to make this implementation unavailable');
        return;
      }
      const { dcs, boundMs, restore } = await env.unavailable();
      try {
        const calls: [string, () => Promise<unknown>][] = [
          ['getCluster', () => dcs.getCluster()],
          ['ensureLease', () => dcs.ensureLease(TTL)],
          ['initializeRace', () => dcs.initializeRace()],
          ['setConfig', () => dcs.setConfig({ ttl: 30 }, '0')],
          ['writeStatus', () => dcs.writeStatus(1)],
        ];
        for (const [what, call] of calls) {
          const started = Date.now();
          await rejectsWith(call(), 'DCS_UNAVAILABLE');
          const took = Date.now() - started;
          assert.ok(took <= boundMs, `${what} took ${took} ms, more than ${boundMs} ms`);
        }
        let returned = false;
        const w = dcs.waitForChange(300).then(() => {
          returned = true;
        });
        await elapse(310);
        await Promise.race([w, limit(3000)]);
        assert.ok(returned, 'waitForChange never rejects and still returns by its timeout');
      } finally {
        await restore();
      }
    });
  });
}
