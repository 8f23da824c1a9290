import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { LocalPostgres } from '../../src/postgres/local.js';
import type { Upstream } from '../../src/postgres/port.js';
import { parseTableName, readHeartbeat, writeHeartbeat, type TableName } from '../../src/outside/heartbeat.js';
import { captureLog, makeNode, pgSkipReason, SUPERUSER_PASSWORD, sql, until, type CapturedLog } from '../support/pg.js';

const PORT_A = 25470;
const PORT_B = 25471;
const TABLE = parseTableName('pgwarden.heartbeat');

/** A real `pg.Client`, as the daemon will pass it: this also checks that it satisfies `Queryable`. */
async function connect(port: number): Promise<pg.Client> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: SUPERUSER_PASSWORD, database: 'postgres', connectionTimeoutMillis: 5_000 });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

function within<T>(ms: number, p: Promise<T>): Promise<T | 'timed out'> {
  return Promise.race([p, new Promise<'timed out'>((r) => setTimeout(() => r('timed out'), ms).unref())]);
}

describe('heartbeat table on real PostgreSQL 15', { skip: pgSkipReason() }, () => {
  let dir = '';
  let log: CapturedLog;
  let a: LocalPostgres;
  let b: LocalPostgres;
  let onA: pg.Client;
  let onB: pg.Client;
  const upA: Upstream = { name: 'a', host: '127.0.0.1', port: PORT_A };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pgwarden-heartbeat-it-'));
    log = captureLog();
    a = makeNode(dir, 'a', PORT_A, log);
    b = makeNode(dir, 'b', PORT_B, log);
    await a.initdb();
    await a.start({ role: 'primary' }, 30_000);
    await a.createBootstrapUsers();
    await a.syncReplicationSlots(['b']);
    await b.basebackup(upA);
    await b.start({ role: 'replica', upstream: upA, slotName: 'b' }, 30_000);
    onA = await connect(PORT_A);
    onB = await connect(PORT_B);
  });

  after(async () => {
    await onA?.end().catch(() => undefined);
    await onB?.end().catch(() => undefined);
    for (const n of [b, a]) await n?.stop('immediate', 10_000).catch(() => undefined);
    if (process.env.PGWARDEN_KEEP_TEST_DIRS) console.log(`# kept ${dir}\n${log.lines.join('\n')}`);
    else rmSync(dir, { recursive: true, force: true });
  });

  it('reads no beat before the leader ever wrote one', async () => {
    assert.equal(await readHeartbeat(onA, TABLE), null);
    assert.equal(await readHeartbeat(onB, TABLE), null);
  });

  it('creates the schema and table on the first beat and reads a fresh beat on the leader', async () => {
    await writeHeartbeat(onA, TABLE, 'a');
    const cols = await sql(PORT_A, `SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) AS c FROM pg_attribute WHERE attrelid = 'pgwarden.heartbeat'::regclass AND attnum > 0`);
    assert.equal(cols[0]?.c, 'id integer, leader text, beat timestamp with time zone');
    const reading = await readHeartbeat(onA, TABLE);
    assert.equal(reading?.leader, 'a');
    assert.equal(typeof reading?.ageSeconds, 'number');
    assert.ok(reading!.ageSeconds < 1, `age ${reading!.ageSeconds}`);
    await writeHeartbeat(onA, TABLE, 'a2');
    assert.deepEqual(await sql(PORT_A, 'SELECT id, leader FROM pgwarden.heartbeat'), [{ id: 1, leader: 'a2' }], 'one row, updated in place');
  });

  it('lets a replica read the replicated beat, older by the time since it was written', async () => {
    await writeHeartbeat(onA, TABLE, 'a');
    // Until the write is replayed, b still shows the beat of the test before ('a2').
    const first = await until("a's new beat on b", async () => {
      const r = await readHeartbeat(onB, TABLE);
      return r?.leader === 'a' ? r : null;
    });
    await new Promise((r) => setTimeout(r, 1_100));
    const later = await readHeartbeat(onB, TABLE);
    assert.ok(later !== null && later.ageSeconds >= first.ageSeconds + 1, `ages ${first.ageSeconds} then ${later?.ageSeconds}`);
    await writeHeartbeat(onA, TABLE, 'a');
    const fresh = await until('the next beat on b', async () => {
      const r = await readHeartbeat(onB, TABLE);
      return r !== null && r.ageSeconds < later.ageSeconds ? r : null;
    });
    assert.ok(fresh.ageSeconds < 1, `age ${fresh.ageSeconds}`);
  });

  it('is refused on a replica, which is read-only', async () => {
    await assert.rejects(writeHeartbeat(onB, TABLE, 'b'), (e: unknown) => (e as { code?: string }).code === '25006');
    assert.equal((await onB.query('SELECT 1 AS ok')).rows[0]?.ok, 1, 'the connection is usable afterwards');
  });

  it('quotes any schema and table name correctly, case and quotes kept', async () => {
    const odd: TableName = parseTableName('Ops "x".My Beat');
    await writeHeartbeat(onA, odd, "o'neil");
    const rows = await sql(PORT_A, `SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = 'My Beat'`);
    assert.deepEqual(rows, [{ nspname: 'Ops "x"', relname: 'My Beat' }]);
    assert.equal((await readHeartbeat(onA, odd))?.leader, "o'neil");
  });

  it('commits a beat at once when the synchronous standby is missing, where an ordinary commit waits', async () => {
    await sql(PORT_A, "ALTER SYSTEM SET synchronous_standby_names = 'ghost'");
    await sql(PORT_A, 'SELECT pg_reload_conf()');
    await until('the setting to apply', async () => (await sql(PORT_A, 'SHOW synchronous_standby_names'))[0]?.synchronous_standby_names === 'ghost');
    const blocked = await connect(PORT_A);
    try {
      // Another table: the waiting commit still holds its row locks, which would block the beat.
      const ordinary = blocked.query('CREATE TABLE waits_for_ghost (x int)');
      assert.equal(await within(1_000, ordinary), 'timed out', 'without synchronous_commit = local the commit waits for the standby');
      assert.equal(await within(3_000, writeHeartbeat(onA, TABLE, 'a')), undefined);
      await sql(PORT_A, 'ALTER SYSTEM RESET synchronous_standby_names');
      await sql(PORT_A, 'SELECT pg_reload_conf()');
      await within(5_000, ordinary);
    } finally {
      await blocked.end().catch(() => undefined);
    }
  });
});
