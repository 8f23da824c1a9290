import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, isPgwardenError } from '../../../src/errors.js';
import { ident, literal, parseStatusRow, planSlots, rewindGrantsSql, roleOptionsSql, roleSql, sourceNeedsCheckpoint, type StatusRow } from '../../../src/postgres/queries.js';

const base: StatusRow = {
  in_recovery: false,
  current_lsn: '0/3000060',
  receive_lsn: null,
  replay_lsn: null,
  replay_ts: null,
  replay_paused: false,
  primary_tli: 3,
  receiver_tli: null,
  checkpoint_tli: 2,
  start_time: '2026-11-22 11:51:02.473627+00',
  server_version: 150018,
  sysid: '7711107836677860545',
  upstream: null,
  pending_restart: false,
  sync_names: '',
  replication: [{ usename: 'replicator', application_name: 'pg1', client_addr: '127.0.0.1', state: 'streaming', sync_state: 'async', sync_priority: 0 }],
};

describe('status row parsing', () => {
  it('reads a primary: current LSN, timeline from the WAL file name, WAL senders', () => {
    const s = parseStatusRow(base);
    assert.ok(s.running);
    assert.deepEqual(
      [s.inRecovery, s.lsn, s.timeline, s.receivedLsn, s.replayedLsn, s.serverVersion, s.systemIdentifier],
      [false, 0x3000060, 3, null, null, 150018, '7711107836677860545'],
    );
    assert.equal(s.replication[0]?.application_name, 'pg1');
  });

  it('reads a replica: LSN is the larger of received and replayed, timeline from the WAL receiver', () => {
    const s = parseStatusRow({ ...base, in_recovery: true, current_lsn: null, primary_tli: null, receive_lsn: '0/5000000', replay_lsn: '0/4000000', receiver_tli: 2, upstream: '127.0.0.1:5432', replay_paused: true, replication: [] });
    assert.ok(s.running);
    assert.deepEqual([s.lsn, s.receivedLsn, s.replayedLsn, s.timeline, s.upstream, s.replayPaused], [0x5000000, 0x5000000, 0x4000000, 2, '127.0.0.1:5432', true]);
  });

  it('falls back to the replayed LSN and the checkpoint timeline when nothing was received', () => {
    const s = parseStatusRow({ ...base, in_recovery: true, current_lsn: null, primary_tli: null, replay_lsn: '0/4000000', replication: '[]' });
    assert.ok(s.running);
    assert.deepEqual([s.lsn, s.receivedLsn, s.timeline, s.replication], [0x4000000, 0x4000000, 2, []]);
  });

  it('treats a malformed row as a bug rather than guessing', () => {
    assert.throws(() => parseStatusRow({ ...base, sysid: '' }), (e) => isPgwardenError(e, 'BUG'));
    assert.throws(() => parseStatusRow({ ...base, replication: 'null' }), (e) => isPgwardenError(e, 'BUG'));
  });
});

describe('pg_rewind source timeline', () => {
  it('asks for a checkpoint only on a promoted primary whose pg_control still names the old timeline', () => {
    assert.equal(sourceNeedsCheckpoint({ in_recovery: false, checkpoint_tli: 1, current_tli: 2 }), true);
    assert.equal(sourceNeedsCheckpoint({ in_recovery: false, checkpoint_tli: 2, current_tli: 2 }), false);
    assert.equal(sourceNeedsCheckpoint({ in_recovery: true, checkpoint_tli: 1, current_tli: null }), false);
  });
});

describe('SQL quoting', () => {
  it('quotes literals safely whatever standard_conforming_strings says', () => {
    assert.equal(literal("it's"), "'it''s'");
    assert.equal(literal('a\\b'), "E'a\\\\b'");
  });

  it('always double-quotes identifiers', () => {
    assert.equal(ident('Weird"Name'), '"Weird""Name"');
  });
});

describe('roles', () => {
  it('creates a missing role and alters an existing one with the same options and password', () => {
    assert.equal(roleSql('replicator', false, "p'w", ['REPLICATION']), `CREATE ROLE "replicator" WITH LOGIN REPLICATION PASSWORD 'p''w'`);
    assert.equal(roleSql('replicator', true, undefined, ['replication']), `ALTER ROLE "replicator" WITH LOGIN REPLICATION`);
  });

  it('accepts the role options Patroni users write, and keeps an explicit NOLOGIN', () => {
    assert.equal(roleOptionsSql('app', ['createdb', 'Connection Limit 5', "valid until '2030-01-01'"]), "LOGIN CREATEDB CONNECTION LIMIT 5 VALID UNTIL '2030-01-01'");
    assert.equal(roleOptionsSql('app', ['nologin']), 'NOLOGIN');
  });

  it('refuses anything else, since options are spliced into SQL', () => {
    assert.throws(() => roleOptionsSql('app', ['createdb; DROP TABLE x']), (e) => e instanceof ConfigError && /app/.test(e.message));
  });

  it('grants the rewind user exactly the four functions pg_rewind calls', () => {
    const grants = rewindGrantsSql('rew"ind');
    assert.equal(grants.length, 4);
    assert.ok(grants.every((g) => g.endsWith('TO "rew""ind"')));
    assert.ok(grants.some((g) => g.includes('pg_read_binary_file(text, bigint, bigint, boolean)')));
  });
});

describe('replication slot planning', () => {
  it('creates missing slots and drops unwanted inactive physical ones only', () => {
    const plan = planSlots(
      [
        { slot_name: 'pg1', slot_type: 'physical', active: true },
        { slot_name: 'old', slot_type: 'physical', active: false },
        { slot_name: 'busy', slot_type: 'physical', active: true },
        { slot_name: 'cdc', slot_type: 'logical', active: false },
      ],
      ['pg1', 'pg3'],
    );
    assert.deepEqual(plan, { create: ['pg3'], drop: ['old'] });
  });
});
