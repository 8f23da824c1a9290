import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import { Etcd3Dcs } from '../../src/dcs/etcd3.js';
import type { MemberData } from '../../src/domain/cluster.js';
import { isPgwardenError } from '../../src/errors.js';
import { dcsContract } from '../support/dcs-contract.js';
import { startEtcd, startEtcdCluster, type EtcdProcess } from '../support/etcd.js';

// Ports 23790–23799 belong to this file: 23790/91 main etcd, 23792–97 three-member cluster,
// 23798/99 an etcd that gets suspended and restarted.
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const limit = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());
const logs: string[] = [];
/** Call deadline for the three-member cluster tests. */
const CALL_MS = 3000;
let scopes = 0;

function dcsOn(hosts: string[], scope: string, callTimeoutMs = 3000): Etcd3Dcs {
  return new Etcd3Dcs({ hosts, namespace: '/service/', scope, callTimeoutMs, logger: (m) => logs.push(m) });
}

const member: MemberData = {
  conn_url: 'postgres://127.0.0.1:5433/postgres',
  api_url: 'http://127.0.0.1:8009/patroni',
  state: 'running',
  role: 'replica',
  version: '4.0.0',
  xlog_location: 50331648,
  timeline: 1,
};

describe('Etcd3Dcs on a real etcd', () => {
  let etcd: EtcdProcess;
  let raw: Etcd3;
  before(async () => {
    etcd = await startEtcd({ clientPort: 23790, peerPort: 23791 });
    raw = new Etcd3({ hosts: etcd.endpoint });
  });
  after(async () => {
    raw.close();
    await etcd.stop();
    await etcd.remove();
  });

  dcsContract('Etcd3Dcs', async () => {
    const scope = `contract${++scopes}-${process.pid}`;
    const made: Etcd3Dcs[] = [];
    const make = (): Etcd3Dcs => {
      const d = dcsOn([etcd.endpoint], scope);
      made.push(d);
      return d;
    };
    return {
      make,
      async unavailable() {
        const dcs = dcsOn(['http://127.0.0.1:1'], scope, 500);
        made.push(dcs);
        return { dcs, boundMs: 500 + 400, restore: async () => undefined };
      },
      async cleanup() {
        await Promise.all(made.map(async (d) => d.revokeLease().catch(() => undefined).then(() => d.close())));
        await raw.delete().prefix(`/service/${scope}/`);
      },
    };
  });

  it("stores every key in Patroni's exact layout and value format", async () => {
    const scope = `format-${process.pid}`;
    const a = dcsOn([etcd.endpoint], scope);
    try {
      await a.ensureLease(10);
      await a.touchMember('pg0', member);
      assert.equal(await a.attemptToAcquireLeader('pg0'), true);
      assert.equal(await a.initializeRace(), true);
      await a.setInitialize('7214123456789012345');
      assert.equal(await a.setConfig({ ttl: 30, loop_wait: 10, postgresql: { use_pg_rewind: true } }, '0'), true);
      await a.writeStatus(67109024);
      await a.writeHistory([[1, 50331808, 'no recovery target specified', '2024-01-01T00:00:00+00:00', 'pg0']]);
      const res = await raw.getAll().prefix(`/service/${scope}/`).exec();
      const byKey = new Map(res.kvs.map((kv) => [kv.key.toString(), kv]));
      const value = (rel: string): string | undefined => byKey.get(`/service/${scope}/${rel}`)?.value.toString();
      assert.deepEqual([...byKey.keys()].sort(), ['config', 'history', 'initialize', 'leader', 'members/pg0', 'status'].map((k) => `/service/${scope}/${k}`));
      assert.equal(value('leader'), 'pg0');
      assert.equal(value('members/pg0'), '{"conn_url":"postgres://127.0.0.1:5433/postgres","api_url":"http://127.0.0.1:8009/patroni","state":"running","role":"replica","version":"4.0.0","xlog_location":50331648,"timeline":1}');
      assert.equal(value('initialize'), '7214123456789012345');
      assert.equal(value('config'), '{"ttl":30,"loop_wait":10,"postgresql":{"use_pg_rewind":true}}');
      assert.equal(value('status'), '{"optime":67109024}');
      assert.equal(value('history'), '[[1,50331808,"no recovery target specified","2024-01-01T00:00:00+00:00","pg0"]]');
      const lease = a.currentLease;
      assert.ok(lease);
      assert.equal(String(byKey.get(`/service/${scope}/leader`)?.lease), lease);
      assert.equal(String(byKey.get(`/service/${scope}/members/pg0`)?.lease), lease);
      assert.equal(String(byKey.get(`/service/${scope}/config`)?.lease), '0');
    } finally {
      await a.revokeLease();
      await a.close();
      await raw.delete().prefix(`/service/${scope}/`);
    }
  });

  it('reads values written by Patroni and patronictl', async () => {
    const scope = `patroni-${process.pid}`;
    const p = `/service/${scope}/`;
    const a = dcsOn([etcd.endpoint], scope);
    try {
      await raw.put(`${p}config`).value('{"ttl": 30, "loop_wait": 10}');
      await raw.put(`${p}failover`).value('{}');
      await raw.put(`${p}leader`).value('postgresql0');
      await raw.put(`${p}members/postgresql0`).value('{"conn_url":"postgres://127.0.0.1:5432/postgres","api_url":"http://127.0.0.1:8008/patroni","state":"running","role":"master","version":"3.0.2","xlog_location":50331808,"timeline":1}');
      const c = await a.getCluster();
      assert.deepEqual(c.config, { ttl: 30, loop_wait: 10 });
      assert.equal(c.failover, null);
      assert.equal(c.leader?.name, 'postgresql0');
      assert.equal(c.members[0]?.data.role, 'master');
      assert.equal(c.members[0]?.data.xlog_location, 50331808);
    } finally {
      await a.close();
      await raw.delete().prefix(p);
    }
  });

  it('keeps working when one of its hosts refuses connections', async () => {
    const scope = `deadhost-${process.pid}`;
    const a = dcsOn(['http://127.0.0.1:1', etcd.endpoint], scope, 2000);
    try {
      await a.ensureLease(10);
      assert.equal(await a.attemptToAcquireLeader('a'), true);
      for (let i = 0; i < 10; i++) {
        const started = Date.now();
        assert.equal(await a.updateLeader('a'), true);
        assert.equal((await a.getCluster()).leader?.name, 'a');
        await a.touchMember('a', member);
        assert.ok(Date.now() - started < 2000, `cycle ${i} took ${Date.now() - started} ms`);
      }
    } finally {
      await a.revokeLease();
      await a.close();
    }
  });
});

describe('Etcd3Dcs when etcd hangs or restarts', () => {
  let etcd: EtcdProcess;
  let firstRun: EtcdProcess;
  before(async () => {
    etcd = await startEtcd({ clientPort: 23798, peerPort: 23799, name: 'flaky' });
    firstRun = etcd;
  });
  after(async () => {
    await etcd.stop();
    await etcd.remove();
    // The restarted process reused the first run's data directory.
    await firstRun.remove();
  });

  it('rejects DCS_UNAVAILABLE within its deadline while the only etcd is suspended', async () => {
    const a = dcsOn([etcd.endpoint], `hang-${process.pid}`, 1000);
    try {
      await a.ensureLease(10);
      await etcd.suspend();
      for (const call of [() => a.getCluster(), () => a.keepAlive(), () => a.updateLeader('a')]) {
        const started = Date.now();
        await assert.rejects(call(), (e: unknown) => isPgwardenError(e, 'DCS_UNAVAILABLE'));
        const took = Date.now() - started;
        assert.ok(took >= 900 && took < 1500, `took ${took} ms for a 1000 ms deadline`);
      }
    } finally {
      await etcd.resume();
      await a.close();
    }
  });

  it('re-establishes its watch after etcd restarts and wakes on the next leader change', async () => {
    const scope = `restart-${process.pid}`;
    const [a, b] = [dcsOn([etcd.endpoint], scope), dcsOn([etcd.endpoint], scope)];
    try {
      await a.ensureLease(20);
      await b.ensureLease(20);
      assert.equal(await a.attemptToAcquireLeader('a'), true);
      await b.getCluster();
      await b.waitForChange(50);
      await etcd.stop();
      etcd = await startEtcd({ clientPort: 23798, peerPort: 23799, name: 'flaky', dataDir: etcd.dataDir });
      await sleep(2500);
      await b.waitForChange(3000);
      await b.getCluster();
      const started = Date.now();
      const woke = b.waitForChange(20_000).then(() => Date.now() - started);
      await sleep(200);
      assert.equal(await a.deleteLeader('a'), true, 'the lease survived the restart');
      const took = await Promise.race([woke, limit(5000).then(() => Infinity)]);
      assert.ok(took < 5000, `woke after ${took} ms`);
    } finally {
      await a.revokeLease().catch(() => undefined);
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('Etcd3Dcs on a three-member etcd cluster', () => {
  let members: EtcdProcess[] = [];
  before(async () => {
    members = await startEtcdCluster(3, 23792);
  });
  after(async () => {
    for (const m of members) {
      await m.resume();
      await m.stop();
      await m.remove();
    }
  });

  /**
   * Runs `n` HA-like cycles (renew, read, write). Every call must end within its deadline; a
   * cycle may fail with DCS_UNAVAILABLE (e.g. while etcd elects a new raft leader) but must never
   * find the leader key gone. Returns which cycles failed.
   */
  async function cycles(a: Etcd3Dcs, n: number, label: string, note: (msg: string) => void): Promise<boolean[]> {
    const failed: boolean[] = [];
    for (let i = 0; i < n; i++) {
      const started = Date.now();
      try {
        assert.equal(await a.updateLeader('a'), true, `${label}: renewal ${i} found the key gone`);
        assert.equal((await a.getCluster()).leader?.name, 'a');
        await a.touchMember('a', member);
        failed.push(false);
      } catch (e) {
        if (!isPgwardenError(e, 'DCS_UNAVAILABLE')) throw e;
        note(`${label}: cycle ${i}: ${e.message}`);
        failed.push(true);
      }
      const took = Date.now() - started;
      note(`${label}: cycle ${i} took ${took} ms`);
      assert.ok(took < 3 * (CALL_MS + 300), `${label}: cycle ${i} took ${took} ms`);
    }
    return failed;
  }

  async function raftLeader(): Promise<EtcdProcess> {
    for (const m of members) {
      const c = new Etcd3({ hosts: m.endpoint });
      try {
        const s = await c.maintenance.status();
        if (s.leader === s.header.member_id) return m;
      } finally {
        c.close();
      }
    }
    throw new Error('no etcd member says it is the raft leader');
  }

  it('keeps the leader key renewed while a follower and then the raft leader are frozen', async (t) => {
    const a = dcsOn(members.map((m) => m.endpoint), `three-${process.pid}`, CALL_MS);
    const note = (m: string): void => t.diagnostic(m);
    try {
      await a.ensureLease(10);
      assert.equal(await a.attemptToAcquireLeader('a'), true);
      const leader = await raftLeader();
      const follower = members.find((m) => m !== leader)!;
      logs.length = 0;
      await follower.suspend();
      assert.deepEqual(await cycles(a, 6, 'follower frozen', note), Array(6).fill(false), 'a frozen follower costs no cycle');
      await follower.resume();
      assert.ok(logs.some((l) => l.includes(follower.endpoint.replace('http://', '')) && l.includes('failed')), `the frozen host was tried: ${logs.join(' | ')}`);
      await sleep(1000);
      await leader.suspend();
      const failed = await cycles(a, 8, 'raft leader frozen', note);
      await leader.resume();
      assert.ok(failed.filter(Boolean).length <= 2, `at most the cycles during the etcd election fail: ${failed}`);
      assert.deepEqual(failed.slice(-4), [false, false, false, false], 'renewals succeed once etcd has a new leader');
    } finally {
      for (const m of members) await m.resume();
      await a.revokeLease().catch(() => undefined);
      await a.close();
    }
  });
});
