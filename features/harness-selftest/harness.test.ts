/**
 * Self-test of the acceptance harness pieces without a pgwarden agent: etcd control and key
 * reads, PostgreSQL helpers on a hand-made server, haproxy routing by fake REST health checks,
 * process control and the BUG-line scan. Run as a non-root user:
 *   node --import tsx --test features/harness-selftest/harness.test.ts
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ScenarioCluster } from '../support/cluster.js';
import { Haproxy } from '../support/haproxy.js';
import { AgentNode } from '../support/node.js';
import { PG_BIN_DIR } from '../support/paths.js';
import { holdsFor, waitFor } from '../support/poll.js';
import { nextPortSlot, portIsFree } from '../support/ports.js';
import { ManagedProcess, runSync } from '../support/process.js';
import { rest } from '../support/rest.js';
import { hasRow, insertRow, isInRecovery, query, timeline } from '../support/sql.js';
import { overlappingWriters, type Ack } from '../support/writer.js';

const root = mkdtempSync(join(tmpdir(), 'pgw-selftest-'));

/** A fake REST API answering `code` on every path, like an agent's health check. */
function fakeRest(port: number, code: { value: number }): Promise<Server> {
  const srv = createServer((req, res) => {
    res.writeHead(code.value, req.url === '/reload' ? { 'www-authenticate': 'Basic realm="x"' } : {});
    res.end();
  });
  return new Promise((r) => srv.listen(port, '127.0.0.1', () => r(srv)));
}

describe('the acceptance harness', { skip: process.getuid?.() === 0 ? 'run as a non-root user' : false }, () => {
  let cluster: ScenarioCluster;
  let node: AgentNode;

  before(async () => {
    cluster = new ScenarioCluster(join(root, 'c'), await nextPortSlot());
    mkdirSync(cluster.dir, { recursive: true });
    await cluster.startEtcd();
    node = cluster.node('postgres0');
    // A hand-made PostgreSQL where the agent would have put it.
    mkdirSync(join(cluster.dir, 'data'), { recursive: true, mode: 0o700 });
    const pw = join(cluster.dir, 'pw');
    writeFileSync(pw, `${node.pg.password}\n`);
    const init = runSync(join(PG_BIN_DIR, 'initdb'), ['-D', node.dataDir, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pw}`, '-N'], 120_000);
    assert.equal(init.status, 0, init.output);
    const start = runSync(join(PG_BIN_DIR, 'pg_ctl'), [
      'start', '-w', '-D', node.dataDir, '-l', join(cluster.dir, 'pg.log'),
      '-o', `-p ${node.spec.pgPort} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${cluster.dir}`,
    ], 60_000);
    assert.equal(start.status, 0, start.output);
  });

  after(async () => {
    await cluster.teardown();
    rmSync(root, { recursive: true, force: true });
  });

  it('reads the leader key through the etcd JSON gateway and notices a suspended etcd', async () => {
    const view = cluster.view();
    assert.equal(await view.leader(), null);
    const etcd = cluster.etcd!;
    const put = runSync('etcdctl', ['--endpoints', etcd.endpoint, 'put', '/service/batman/leader', 'postgres0']);
    assert.equal(put.status, 0, put.output);
    runSync('etcdctl', ['--endpoints', etcd.endpoint, 'put', '/service/batman/members/postgres0', '{"role":"primary","state":"running"}']);
    assert.equal(await view.leader(), 'postgres0');
    assert.deepEqual(await view.member('postgres0'), { role: 'primary', state: 'running' });
    assert.match(await view.dump(), /\/service\/batman\/leader = postgres0/);
    etcd.suspend();
    const t0 = Date.now();
    await assert.rejects(view.leader());
    assert.ok(Date.now() - t0 < 3000, 'a read of a suspended etcd must give up within its deadline');
    etcd.resume();
    assert.equal(await waitFor(5, 'etcd answers again', () => view.leader().then((v) => v ?? undefined)), 'postgres0');
    runSync('etcdctl', ['--endpoints', etcd.endpoint, 'del', '--prefix', '/service/']);
  });

  it('runs SQL on the node: role, timeline, writes and reads', async () => {
    assert.equal(await isInRecovery(node.pg), false);
    assert.equal(await timeline(node.pg), 1);
    await insertRow(node.pg, 'selftest', 'one');
    assert.equal(await hasRow(node.pg, 'selftest', 'one'), true);
    assert.equal(await hasRow(node.pg, 'selftest', 'two'), false);
    assert.equal(await hasRow(node.pg, 'no_such_table', 'one'), false);
    await assert.rejects(query({ ...node.pg, password: 'wrong' }, 'SELECT 1'), /password authentication failed/);
    await assert.rejects(query({ ...node.pg, port: node.spec.pgPort + 40 }, 'SELECT 1'), /ECONNREFUSED/);
  });

  it('routes haproxy\'s primary port to the server whose REST check answers 200', async () => {
    const good = { value: 200 };
    const bad = { value: 503 };
    const srv0 = await fakeRest(node.spec.restPort, good);
    const srv1 = await fakeRest(node.spec.restPort + 1, bad);
    try {
      const h = await Haproxy.start(cluster.dir, { primary: cluster.ports.haproxyPrimary, replicas: cluster.ports.haproxyReplicas, stats: cluster.ports.haproxyStats }, [
        { name: 'postgres0', pgPort: node.spec.pgPort, restPort: node.spec.restPort },
        { name: 'postgres1', pgPort: node.spec.pgPort + 1, restPort: node.spec.restPort + 1 },
      ]);
      cluster.haproxy = h;
      // haproxy starts every server UP until its checks fail: wait for the settled states.
      await waitFor(10, 'haproxy marks postgres0 UP and postgres1 DOWN', async () => {
        const s = await h.serverStates('primary');
        return s.postgres0 === 'UP' && s.postgres1 === 'DOWN';
      }, 100);
      const rows = await query<{ port: number }>(cluster.haproxyPrimary(), 'SELECT inet_server_port() AS port');
      assert.equal(rows[0]?.port, node.spec.pgPort);
      good.value = 503;
      await waitFor(10, 'haproxy marks postgres0 DOWN', async () => (await h.serverStates('primary')).postgres0 === 'DOWN');
      await assert.rejects(query(cluster.haproxyPrimary(), 'SELECT 1', [], 2000));
      const r = await rest(node.restApi, 'POST', '/reload');
      assert.equal(r.status, 503);
      assert.match(r.headers.get('www-authenticate') ?? '', /^Basic/);
    } finally {
      srv0.close();
      srv1.close();
    }
  });

  it('crashes PostgreSQL with an immediate shutdown and finds the postmaster PID', async () => {
    const pid = node.postmasterPid();
    assert.ok(pid !== null && pid > 0);
    assert.equal(await node.crashPostgres(), pid);
    assert.equal(node.postmasterPid(), null);
    assert.equal(await portIsFree(node.spec.pgPort), true);
  });

  it('stops a managed process with SIGTERM and reports how it ended', async () => {
    const p = await ManagedProcess.start('sleeper', 'sleep', ['60'], { cwd: root, logPath: join(root, 'sleep.log') });
    assert.equal(p.running, true);
    await p.stop(2000);
    assert.equal(p.running, false);
    assert.equal(p.exitDescription, 'signal SIGTERM');
  });

  it('finds BUG, Unhandled and uncaught lines in agent logs, whatever their case, but not DEBUG', () => {
    writeFileSync(node.logPath, 'DEBUG all good\nERROR unhandled rejection: boom\nCRITICAL please report it as a bug\nINFO Uncaught TypeError\n');
    const lines = cluster.bugLines();
    assert.equal(lines.length, 3);
    assert.match(lines[0] ?? '', /unhandled rejection/);
    writeFileSync(node.logPath, 'INFO fine\n');
    assert.deepEqual(cluster.bugLines(), []);
  });

  it('polls until a condition holds and fails a held condition at the first break', async () => {
    let n = 0;
    assert.equal(await waitFor(2, 'n reaches 3', async () => (++n >= 3 ? n : undefined), 10), 3);
    await assert.rejects(waitFor(0.2, 'never', async () => false, 50), /timed out after 0.2 s waiting until never/);
    let m = 0;
    await assert.rejects(holdsFor(2, 'm below 3', async () => {
      if (++m >= 3) throw new Error('m is 3');
    }, 10), /m is 3/);
  });
});

describe('the dual-primary check over acknowledged writes', () => {
  const ack = (port: number, at: number, id = at): Ack => ({ id, at, port });

  it('accepts one handover, in whatever order the clients recorded their acknowledgements', () => {
    assert.deepEqual(overlappingWriters([ack(2, 500), ack(1, 100), ack(1, 200), ack(2, 600)], 0), []);
  });

  it('names a server that took writes again after another one had', () => {
    const found = overlappingWriters([ack(1, 100), ack(2, 200), ack(1, 300), ack(2, 400)], 0);
    assert.equal(found.length, 2);
    assert.match(found[0]!, /port 1 acknowledged writes 0.10 s–0.10 s and again 0.30 s–0.30 s, with port 2 \(1 writes 0.20 s–0.20 s\) in between/);
  });
});
