import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toPgError } from '../../../src/postgres/client.js';
import type { Queryable } from '../../../src/outside/heartbeat.js';
import { isAuthFailure, READ_ONLY_BEGIN, readMember, REPLAY_AGE_QUERY } from '../../../src/observe/probe.js';
import { STATUS_QUERY } from '../../../src/postgres/queries.js';

const SYSID = '7710962064113097207';
const statusRow = (inRecovery: boolean) => ({
  in_recovery: inRecovery,
  current_lsn: inRecovery ? null : '0/4000000',
  receive_lsn: inRecovery ? '0/3FFFF00' : null,
  replay_lsn: inRecovery ? '0/3FFFE00' : null,
  replay_ts: null,
  replay_paused: false,
  primary_tli: inRecovery ? null : 2,
  receiver_tli: inRecovery ? 2 : null,
  checkpoint_tli: 2,
  start_time: '2026-11-22 11:51:02.473627+00',
  server_version: 150018,
  sysid: SYSID,
  upstream: null,
  pending_restart: false,
  sync_names: '',
  replication: '[]',
});

/** A fake connection that answers the observer's statements and records every one. */
function fakeDb(inRecovery: boolean, failOn?: string): Queryable & { sent: string[] } {
  const sent: string[] = [];
  return {
    sent,
    async query(sql: string) {
      sent.push(sql);
      if (failOn !== undefined && sql.includes(failOn)) throw Object.assign(new Error('relation does not exist'), { code: '42P01' });
      if (sql === STATUS_QUERY) return { rows: [statusRow(inRecovery)] };
      if (sql === REPLAY_AGE_QUERY) return { rows: [{ replay_age: inRecovery ? 1.25 : null }] };
      if (/heartbeat/.test(sql)) return { rows: [{ leader: 'n1', age_seconds: 0.75 }] };
      return { rows: [] };
    },
  };
}

const heartbeat = { schema: 'pgwarden', table: 'heartbeat' };

describe('readMember', () => {
  it('reads a replica inside a read-only transaction it rolls back, with nothing but SELECTs in between', async () => {
    const db = fakeDb(true);
    const r = await readMember(db, heartbeat);
    assert.deepEqual(r, {
      ok: true, inRecovery: true, lsn: 0x3ffff00, receivedLsn: 0x3ffff00, replayedLsn: 0x3fffe00, timeline: 2, serverVersion: 150018,
      replayAgeSeconds: 1.25, heartbeatAgeSeconds: 0.75, heartbeatError: null,
    });
    assert.equal(db.sent[0], READ_ONLY_BEGIN);
    assert.equal(db.sent.at(-1), 'ROLLBACK');
    for (const sql of db.sent.slice(1, -1)) assert.match(sql.trim(), /^SELECT\b/, `not a read: ${sql}`);
  });

  it('reads a primary; without a heartbeat table configured it does not look for one', async () => {
    const db = fakeDb(false);
    const r = await readMember(db, null);
    assert.deepEqual([r.inRecovery, r.lsn, r.replayAgeSeconds, r.heartbeatAgeSeconds], [false, 0x4000000, null, null]);
    assert.deepEqual(db.sent, [READ_ONLY_BEGIN, STATUS_QUERY, REPLAY_AGE_QUERY, 'ROLLBACK']);
  });

  it('treats a missing heartbeat table as "no beat" and still rolls back', async () => {
    const db = fakeDb(true, 'heartbeat');
    const r = await readMember(db, heartbeat);
    assert.deepEqual([r.heartbeatAgeSeconds, r.heartbeatError], [null, null]);
    assert.equal(db.sent.at(-1), 'ROLLBACK');
  });

  it('still reads the server when the heartbeat is not readable, and says why', async () => {
    const db = fakeDb(true);
    const query = db.query.bind(db);
    db.query = async (sql: string) => {
      if (/heartbeat/.test(sql)) throw Object.assign(new Error('permission denied for schema pgwarden'), { code: '42501' });
      return query(sql);
    };
    const r = await readMember(db, heartbeat);
    assert.deepEqual([r.inRecovery, r.heartbeatAgeSeconds, r.heartbeatError], [true, null, 'heartbeat table "pgwarden"."heartbeat": permission denied for schema pgwarden']);
    assert.equal(db.sent.at(-1), 'ROLLBACK');
  });

  it('rolls back when a query fails, and lets the failure through', async () => {
    const db = fakeDb(true, 'replay_age');
    await assert.rejects(readMember(db, null), /relation does not exist/);
    assert.equal(db.sent.at(-1), 'ROLLBACK');
  });
});

describe('isAuthFailure', () => {
  it('recognises a refused password and a pg_hba rejection through pgwarden\'s error wrapping', () => {
    for (const code of ['28P01', '28000']) {
      assert.equal(isAuthFailure(toPgError(Object.assign(new Error('refused'), { code }), 'observe n1')), true, code);
    }
  });

  it('does not count an unreachable server or another SQL error', () => {
    assert.equal(isAuthFailure(toPgError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'observe n1')), false);
    assert.equal(isAuthFailure(toPgError(Object.assign(new Error('permission denied'), { code: '42501' }), 'observe n1')), false);
  });
});
