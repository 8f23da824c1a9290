import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { certainDelaySeconds, heartbeatSql, parseTableName, qualifiedName, quoteIdent, readHeartbeat, writeHeartbeat, type Queryable } from '../../../src/outside/heartbeat.js';

/** Records statements; fails the statements listed in `failures` (by prefix) once each, with a SQLSTATE. */
function fakeDb(failures: [prefix: string, code: string][] = [], rows: Record<string, unknown>[] = []): Queryable & { log: string[] } {
  const log: string[] = [];
  return {
    log,
    query(sql, params) {
      log.push(params === undefined ? sql : `${sql} -- ${JSON.stringify(params)}`);
      const i = failures.findIndex(([prefix]) => sql.startsWith(prefix));
      if (i >= 0) {
        const [, code] = failures.splice(i, 1)[0]!;
        return Promise.reject(Object.assign(new Error(`failed with ${code}`), { code }));
      }
      return Promise.resolve({ rows });
    },
  };
}

const DEFAULT = parseTableName('pgwarden.heartbeat');

describe('heartbeat table names', () => {
  it('splits schema and table at the one dot and quotes each part verbatim', () => {
    assert.deepEqual(parseTableName('pgwarden.heartbeat'), { schema: 'pgwarden', table: 'heartbeat' });
    assert.deepEqual(parseTableName('Beat'), { schema: null, table: 'Beat' });
    assert.equal(qualifiedName(parseTableName('Ops "x".my beat')), '"Ops ""x"""."my beat"');
    assert.equal(quoteIdent('a"b'), '"a""b"');
    for (const wrong of ['', 'a.', '.b', 'a.b.c']) assert.throws(() => parseTableName(wrong), /must be 'table' or 'schema.table'/);
    assert.throws(() => quoteIdent('a\0b'), /NUL/);
  });

  it('renders the exact statements', () => {
    assert.deepEqual(heartbeatSql(DEFAULT), {
      createSchema: 'CREATE SCHEMA IF NOT EXISTS "pgwarden"',
      createTable: 'CREATE TABLE IF NOT EXISTS "pgwarden"."heartbeat" (id int PRIMARY KEY, leader text NOT NULL, beat timestamptz NOT NULL)',
      upsert: 'INSERT INTO "pgwarden"."heartbeat" (id, leader, beat) VALUES (1, $1, now()) ON CONFLICT (id) DO UPDATE SET leader = excluded.leader, beat = excluded.beat',
      select: 'SELECT leader, extract(epoch FROM now() - beat)::float8 AS age_seconds FROM "pgwarden"."heartbeat" WHERE id = 1',
    });
    assert.equal(heartbeatSql(parseTableName('beat')).createSchema, null);
  });
});

describe('writeHeartbeat', () => {
  it('upserts in a transaction that commits without waiting for synchronous standbys', async () => {
    const db = fakeDb();
    await writeHeartbeat(db, DEFAULT, 'n1');
    assert.deepEqual(db.log, ['BEGIN', 'SET LOCAL synchronous_commit = local', `${heartbeatSql(DEFAULT).upsert} -- ["n1"]`, 'COMMIT']);
  });

  it('creates the schema and table when missing, then writes', async () => {
    const db = fakeDb([['INSERT', '3F000']]);
    await writeHeartbeat(db, DEFAULT, 'n1');
    const s = heartbeatSql(DEFAULT);
    assert.deepEqual(db.log, [
      'BEGIN', 'SET LOCAL synchronous_commit = local', `${s.upsert} -- ["n1"]`, 'ROLLBACK',
      'BEGIN', 'SET LOCAL synchronous_commit = local', s.createSchema, s.createTable, `${s.upsert} -- ["n1"]`, 'COMMIT',
    ]);
  });

  it('rolls back and rethrows any other error, e.g. on a read-only server', async () => {
    const db = fakeDb([['INSERT', '25006']]);
    await assert.rejects(writeHeartbeat(db, DEFAULT, 'n1'), /failed with 25006/);
    assert.deepEqual(db.log.slice(-1), ['ROLLBACK']);
    assert.equal(db.log.filter((l) => l.startsWith('CREATE')).length, 0);
  });
});

describe('readHeartbeat', () => {
  it('returns the writer and the age, never negative', async () => {
    assert.deepEqual(await readHeartbeat(fakeDb([], [{ leader: 'n1', age_seconds: 2.5 }]), DEFAULT), { leader: 'n1', ageSeconds: 2.5 });
    assert.deepEqual(await readHeartbeat(fakeDb([], [{ leader: 'n1', age_seconds: -0.3 }]), DEFAULT), { leader: 'n1', ageSeconds: 0 });
  });

  it('returns null while there is no beat: no schema, no table or no row', async () => {
    assert.equal(await readHeartbeat(fakeDb([['SELECT', '3F000']]), DEFAULT), null);
    assert.equal(await readHeartbeat(fakeDb([['SELECT', '42P01']]), DEFAULT), null);
    assert.equal(await readHeartbeat(fakeDb(), DEFAULT), null);
  });

  it('throws other errors', async () => {
    await assert.rejects(readHeartbeat(fakeDb([['SELECT', '57P01']]), DEFAULT), /57P01/);
  });
});

describe('certainDelaySeconds', () => {
  const rows: [number, number, number][] = [
    [3, 10, 0],
    [10, 10, 0],
    [25.5, 10, 15.5],
  ];
  for (const [age, interval, expected] of rows) {
    it(`is ${expected} s for a beat ${age} s old written every ${interval} s`, () => assert.equal(certainDelaySeconds(age, interval), expected));
  }
});
