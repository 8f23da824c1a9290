import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createLogger } from '../../src/log.js';
import { LocalPostgres } from '../../src/postgres/pg-local.js';
import type { Upstream } from '../../src/postgres/port.js';

const asRoot = process.getuid?.() === 0;
const skip = asRoot ? 'PostgreSQL refuses to run as root: run as the postgres user (npm test does)' : false;
const BIN = '/usr/lib/postgresql/15/bin';
const PORTS = [55401, 55402];
const PW = 'it-pw';

function node(dir: string, name: string, port: number): LocalPostgres {
  return new LocalPostgres({
    name, scope: 'itest', dataDir: join(dir, name), binDir: BIN,
    listen: { hosts: ['127.0.0.1'], port }, connectHost: '127.0.0.1',
    superuser: { username: 'postgres', password: PW }, replication: { username: 'replicator', password: 'rep-pw' },
    rewind: { username: 'rewinder', password: 'rew-pw' },
    parameters: () => ({ max_wal_senders: 10, max_replication_slots: 10, wal_level: 'replica', shared_buffers: '16MB', wal_keep_size: '128MB' }),
    pgHba: () => ['host replication replicator 127.0.0.1/32 scram-sha-256', 'host all all 127.0.0.1/32 scram-sha-256'],
    initdbOptions: [{ encoding: 'UTF8' }, 'data-checksums'], basebackupOptions: [],
    bootstrapUsers: { app: { password: 'app-pw', options: ['createdb'] } },
    pgpassPath: join(dir, `pgpass_${name}`), queryTimeoutMs: 5_000,
    logger: createLogger('WARNING'),
  });
}

async function sql(port: number, text: string, user = 'postgres', password = PW): Promise<pg.QueryResultRow[]> {
  const c = new pg.Client({ host: '127.0.0.1', port, user, password, database: 'postgres', connectionTimeoutMillis: 5_000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return (await c.query(text)).rows;
  } finally {
    await c.end();
  }
}

async function until<T>(what: string, fn: () => Promise<T | null | false>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('LocalPostgres on real PostgreSQL 15', { skip }, () => {
  let dir = '';
  let a: LocalPostgres;
  let b: LocalPostgres;
  const upA: Upstream = { name: 'a', host: '127.0.0.1', port: PORTS[0]! };
  const upB: Upstream = { name: 'b', host: '127.0.0.1', port: PORTS[1]! };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'pgwarden-pg-it-'));
    a = node(dir, 'a', PORTS[0]!);
    b = node(dir, 'b', PORTS[1]!);
  });
  after(async () => {
    await a?.stop('immediate', 10_000).catch(() => undefined);
    await b?.stop('immediate', 10_000).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports an empty data directory as uninitialized and not running', async () => {
    const s = await a.probe();
    assert.deepEqual(s, { running: false, postmasterAlive: false, dataDirInitialized: false, systemIdentifier: null, controlState: null, timeline: null });
  });

  it('initializes, starts as primary, creates the users and probes primary fields', async () => {
    await a.initdb();
    await a.start({ role: 'primary' }, 30_000);
    await a.createBootstrapUsers();
    const s = await a.probe();
    assert.ok(s.running);
    assert.equal(s.inRecovery, false);
    assert.equal(s.timeline, 1);
    assert.match(s.systemIdentifier, /^\d{10,}$/);
    assert.ok(s.lsn > 0);
    assert.ok(s.serverVersion >= 150000);
    const roles = await sql(PORTS[0]!, `SELECT rolname, rolreplication FROM pg_roles WHERE rolname IN ('replicator','rewinder','app') ORDER BY 1`);
    assert.deepEqual(roles.map((r) => [r.rolname, r.rolreplication]), [['app', false], ['replicator', true], ['rewinder', false]]);
    await sql(PORTS[0]!, 'SELECT 1', 'app', 'app-pw');
  });

  it('clones a replica that streams through its slot and sees new data', async () => {
    await a.syncReplicationSlots(['b']);
    await b.basebackup(upA);
    await b.start({ role: 'replica', upstream: upA, slotName: 'b' }, 30_000);
    await sql(PORTS[0]!, 'CREATE TABLE t(id int); INSERT INTO t VALUES (1)');
    const s = await until('streaming', async () => { const p = await b.probe(); return p.running && p.upstream ? p : null; });
    assert.ok(s.running && s.inRecovery);
    assert.equal(s.upstream, `127.0.0.1:${PORTS[0]}`);
    await until('row on the replica', async () => (await sql(PORTS[1]!, 'SELECT count(*)::int AS n FROM t'))[0]?.n === 1);
    const primary = await a.probe();
    assert.ok(primary.running);
    assert.deepEqual(primary.replication.map((r) => [r.application_name, r.state]), [['b', 'streaming']]);
    const slots = await sql(PORTS[0]!, `SELECT slot_name, active FROM pg_replication_slots`);
    assert.deepEqual(slots.map((r) => [r.slot_name, r.active]), [['b', true]]);
  });

  it('leaves an unchanged upstream alone and reloads a changed one', async () => {
    assert.equal(await b.follow(upA, 'b'), 'unchanged');
    assert.equal(await b.follow(upA, null), 'reloaded');
    assert.equal(await a.follow(upB, null), 'restart-needed');
  });

  it('promotes the replica, reads its timeline history, and rewinds the crashed old primary', async () => {
    await b.promote(30_000);
    const pb = await b.probe();
    assert.ok(pb.running && !pb.inRecovery);
    assert.equal(pb.timeline, 2);
    const hist = await b.timelineHistory(2);
    assert.equal(hist.length, 1);
    assert.equal(hist[0]![0], 1);
    await b.checkpoint();
    await sql(PORTS[0]!, 'INSERT INTO t VALUES (2)');
    await a.stop('immediate', 10_000);
    const stopped = await a.probe();
    assert.equal(stopped.running, false);
    assert.ok(!stopped.running && stopped.controlState === 'in production');
    assert.equal(await a.needsRewind(upB), true);
    await a.rewind(upB);
    await b.syncReplicationSlots(['a']);
    await a.start({ role: 'replica', upstream: upB, slotName: 'a' }, 30_000);
    await sql(PORTS[1]!, 'INSERT INTO t VALUES (3)');
    await until('old primary follows the new one', async () => (await sql(PORTS[0]!, 'SELECT count(*)::int AS n FROM t'))[0]?.n === 2);
    const rows = await sql(PORTS[0]!, 'SELECT id FROM t ORDER BY id');
    assert.deepEqual(rows.map((r) => r.id), [1, 3], 'the diverged row 2 is rewound away, row 3 arrives');
  });

  it('a cleanly stopped replica of the same history needs no rewind', async () => {
    await a.stop('fast', 20_000);
    assert.equal(await a.needsRewind(upB), false);
  });

  it('moves a data directory aside instead of deleting it', async () => {
    const moved = await a.moveDataDirAside('test');
    assert.match(moved, /a\.failed\./);
    const s = await a.probe();
    assert.equal(s.dataDirInitialized, false);
  });
});
