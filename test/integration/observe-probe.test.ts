import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Member } from '../../src/domain/cluster.js';
import { probePostgres, READ_ONLY_BEGIN, type ProbeSettings } from '../../src/observe/probe.js';
import { parseTableName, writeHeartbeat } from '../../src/outside/heartbeat.js';
import type { LocalPostgres } from '../../src/postgres/local.js';
import { withClient } from '../../src/postgres/client.js';
import type { Upstream } from '../../src/postgres/port.js';
import { captureLog, makeNode, pgSkipReason, SUPERUSER_PASSWORD, sql, until, type CapturedLog } from '../support/pg.js';

const PORT_A = 25476;
const PORT_B = 25477;
const TABLE = parseTableName('pgwarden.heartbeat');

const memberAt = (name: string, port: number): Member => ({
  name,
  data: { conn_url: `postgres://127.0.0.1:${port}/postgres`, api_url: `http://127.0.0.1:${port + 1000}/patroni`, state: 'running', role: 'replica', version: '0.1.0' },
});

/** The observer logs in as a monitoring role, as examples/observe.yml recommends. */
const monitoring: ProbeSettings = { user: 'observer', password: 'obs-pw', database: 'postgres', timeoutMs: 3_000, heartbeat: TABLE };

describe('observer probes on real PostgreSQL 15', { skip: pgSkipReason() }, () => {
  let dir = '';
  let log: CapturedLog;
  let a: LocalPostgres;
  let b: LocalPostgres;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pgwarden-observe-it-'));
    log = captureLog();
    a = makeNode(dir, 'a', PORT_A, log);
    b = makeNode(dir, 'b', PORT_B, log);
    await a.initdb();
    await a.start({ role: 'primary' }, 30_000);
    await a.createBootstrapUsers();
    await sql(PORT_A, "CREATE ROLE observer LOGIN PASSWORD 'obs-pw' IN ROLE pg_monitor");
    const upA: Upstream = { name: 'a', host: '127.0.0.1', port: PORT_A };
    await a.syncReplicationSlots(['b']);
    await b.basebackup(upA);
    await b.start({ role: 'replica', upstream: upA, slotName: 'b' }, 30_000);
  });

  after(async () => {
    for (const n of [b, a]) await n?.stop('immediate', 10_000).catch(() => undefined);
    if (process.env.PGWARDEN_KEEP_TEST_DIRS) console.log(`# kept ${dir}\n${log.lines.join('\n')}`);
    else rmSync(dir, { recursive: true, force: true });
  });

  it('reads a primary and a replica with a pg_monitor role, heartbeat ages once it may read the table', async () => {
    await withClient({ host: '127.0.0.1', port: PORT_A, user: 'postgres', password: SUPERUSER_PASSWORD, timeoutMs: 3_000 }, 'beat', (c) => writeHeartbeat(c, TABLE, 'a'));
    const denied = await probePostgres(memberAt('a', PORT_A), monitoring);
    assert.ok(denied.ok, JSON.stringify(denied));
    assert.match(denied.heartbeatError ?? '', /permission denied for schema pgwarden/);
    await sql(PORT_A, 'GRANT USAGE ON SCHEMA pgwarden TO observer');
    await sql(PORT_A, 'GRANT SELECT ON pgwarden.heartbeat TO observer');
    await withClient({ host: '127.0.0.1', port: PORT_A, user: 'postgres', password: SUPERUSER_PASSWORD, timeoutMs: 3_000 }, 'beat', (c) => writeHeartbeat(c, TABLE, 'a'));
    const primary = await probePostgres(memberAt('a', PORT_A), monitoring);
    assert.ok(primary.ok, JSON.stringify(primary));
    assert.deepEqual([primary.inRecovery, primary.timeline, primary.replayAgeSeconds], [false, 1, null]);
    assert.equal(typeof primary.heartbeatAgeSeconds, 'number');
    const replica = await until('the replica has the beat', async () => {
      const r = await probePostgres(memberAt('b', PORT_B), monitoring);
      return r.ok && r.heartbeatAgeSeconds !== null ? r : null;
    });
    assert.equal(replica.inRecovery, true);
    assert.ok(replica.lsn <= primary.lsn + 1024 * 1024, `replica at ${replica.lsn}, primary at ${primary.lsn}`);
  });

  it('reports a refused login as an authentication failure', async () => {
    const r = await probePostgres(memberAt('a', PORT_A), { ...monitoring, password: 'wrong' });
    assert.deepEqual([r.ok, !r.ok && r.authFailed], [false, true]);
  });

  it('runs in a transaction in which PostgreSQL itself refuses writes', async () => {
    await assert.rejects(
      withClient({ host: '127.0.0.1', port: PORT_A, user: 'postgres', password: SUPERUSER_PASSWORD, timeoutMs: 3_000 }, 'write', async (c) => {
        await c.query(READ_ONLY_BEGIN);
        await c.query('CREATE TABLE observer_must_not_write (x int)');
      }),
      /read-only transaction \(SQLSTATE 25006\)/,
    );
  });
});
