import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseLsn } from '../../../src/domain/lsn.js';
import { conninfo, confValue, parseHistoryFile, programOptions, renderHba, renderParameters, renderPgpass, renderRecovery } from '../../../src/postgres/pg-conf.js';
import { isCleanShutdown, parseControlData } from '../../../src/postgres/pg-controldata.js';
import { ensureRoleSql, parseStatusRow, type StatusRow } from '../../../src/postgres/pg-queries.js';

describe('postgresql.conf rendering', () => {
  it('quotes strings, doubles single quotes and writes booleans as on/off', () => {
    assert.equal(confValue("it's"), "'it''s'");
    assert.equal(confValue(true), 'on');
    assert.equal(confValue(100), '100');
    assert.equal(confValue('C:\\x'), "'C:\\\\x'");
  });

  it('writes parameters sorted and includes the recovery file last', () => {
    const text = renderParameters({ port: 5432, archive_mode: false, cluster_name: 'batman' }, 'pgwarden.recovery.conf');
    const lines = text.trim().split('\n').slice(1);
    assert.deepEqual(lines, ['archive_mode = off', "cluster_name = 'batman'", 'port = 5432', "include_if_exists = 'pgwarden.recovery.conf'"]);
  });

  it('points a replica at its upstream with a slot and the latest timeline', () => {
    const text = renderRecovery({ upstream: { name: 'n2', host: '127.0.0.1', port: 5433 }, slotName: 'n1', replicationUser: 'replicator', applicationName: 'n1', passfile: '/tmp/pgpass n1' });
    assert.match(text, /^primary_conninfo = 'host=127\.0\.0\.1 port=5433 user=replicator application_name=n1 passfile=''\/tmp\/pgpass n1'' sslmode=prefer'$/m);
    assert.match(text, /^primary_slot_name = 'n1'$/m);
    assert.match(text, /^recovery_target_timeline = 'latest'$/m);
  });

  it('leaves a standby without upstream with an empty conninfo and no slot', () => {
    const text = renderRecovery({ upstream: null, slotName: 'n1', replicationUser: 'r', applicationName: 'n1', passfile: '/p' });
    assert.match(text, /^primary_conninfo = ''$/m);
    assert.match(text, /^primary_slot_name = ''$/m);
  });

  it('escapes libpq values that contain quotes or spaces', () => {
    assert.equal(conninfo({ host: 'h', user: "o'k", port: 1, empty: '' }), "host=h user='o\\'k' port=1");
  });

  it('writes pgpass lines only for users with passwords, escaping colons', () => {
    assert.equal(renderPgpass([{ username: 'a', password: 'p:w' }, { username: 'b' }]), '*:*:*:a:p\\:w\n');
  });

  it('renders configured pg_hba lines or a loopback-only default', () => {
    assert.match(renderHba(['host all all 10.0.0.0/8 md5'], 'rep'), /\nhost all all 10\.0\.0\.0\/8 md5\n$/);
    const def = renderHba([], 'rep');
    assert.match(def, /host replication rep 127\.0\.0\.1\/32 scram-sha-256/);
    assert.doesNotMatch(def, /0\.0\.0\.0/);
  });

  it('turns Patroni-style option lists and maps into long options', () => {
    assert.deepEqual(programOptions([{ encoding: 'UTF8' }, 'data-checksums']), ['--encoding=UTF8', '--data-checksums']);
    assert.deepEqual(programOptions({ 'max-rate': '100M' }), ['--max-rate=100M']);
  });

  it('reads timeline history files into rows', () => {
    const rows = parseHistoryFile('1\t0/3000060\tno recovery target specified\n\n2\t0/5000000\tbefore 2026\n', parseLsn);
    assert.deepEqual(rows, [[1, 0x3000060, 'no recovery target specified'], [2, 0x5000000, 'before 2026']]);
  });
});

describe('pg_controldata parsing', () => {
  const sample = `pg_control version number:            1300
Database system identifier:           7711105251738752475
Database cluster state:               shut down in recovery
Latest checkpoint's TimeLineID:       2
Latest checkpoint location:           0/5000060`;

  it('extracts the system identifier, state and timeline', () => {
    assert.deepEqual(parseControlData(sample), { systemIdentifier: '7711105251738752475', state: 'shut down in recovery', timeline: 2 });
  });

  it('reads missing labels as null', () => {
    assert.deepEqual(parseControlData('garbage'), { systemIdentifier: null, state: null, timeline: null });
  });

  it('knows which states pg_rewind accepts without crash recovery', () => {
    assert.equal(isCleanShutdown('shut down'), true);
    assert.equal(isCleanShutdown('shut down in recovery'), true);
    assert.equal(isCleanShutdown('in production'), false);
    assert.equal(isCleanShutdown(null), false);
  });
});

describe('status query parsing', () => {
  const base: StatusRow = {
    in_recovery: false, current_lsn: '0/4000000', receive_lsn: null, replay_lsn: null, replay_ts: null, replay_paused: false,
    primary_tli: 3, receiver_tli: null, checkpoint_tli: 2, start_time: '2026-11-22 10:00:00+00', server_version: 150018,
    sysid: '77', upstream: null, pending_restart: false, replication: '[]',
  };

  it('reads a primary: current LSN and the timeline of the current WAL file', () => {
    const s = parseStatusRow(base);
    assert.ok(s.running);
    assert.equal(s.inRecovery, false);
    assert.equal(s.lsn, 0x4000000);
    assert.equal(s.timeline, 3);
    assert.deepEqual(s.replication, []);
  });

  it('reads a replica: the larger of received and replayed, and the receiver timeline', () => {
    const s = parseStatusRow({ ...base, in_recovery: true, current_lsn: null, primary_tli: null, receive_lsn: '0/5000000', replay_lsn: '0/4FFFFFF', receiver_tli: 2, upstream: '127.0.0.1:5432' });
    assert.ok(s.running);
    assert.equal(s.lsn, 0x5000000);
    assert.equal(s.replayedLsn, 0x4ffffff);
    assert.equal(s.timeline, 2);
    assert.equal(s.upstream, '127.0.0.1:5432');
  });

  it('falls back to replayed when nothing was received (archive or no upstream)', () => {
    const s = parseStatusRow({ ...base, in_recovery: true, current_lsn: null, primary_tli: null, replay_lsn: '0/300' });
    assert.ok(s.running);
    assert.equal(s.receivedLsn, 0x300);
    assert.equal(s.timeline, 2);
  });
});

describe('role SQL', () => {
  it('creates or alters a login role with quoted names and passwords', () => {
    const sql = ensureRoleSql('we"ird', "pa'ss", ['replication']);
    assert.match(sql, /rolname = 'we"ird'/);
    assert.match(sql, /CREATE ROLE "we""ird" LOGIN REPLICATION PASSWORD ''pa''''ss''/);
  });
});
