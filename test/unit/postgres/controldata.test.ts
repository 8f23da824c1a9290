import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cleanShutdownRoute, isCleanShutdown, parseControlData } from '../../../src/postgres/controldata.js';

/** Captured from PostgreSQL 15.18: `LC_ALL=C pg_controldata -D <dir>` of a promoted primary. */
const PRIMARY = `pg_control version number:            1300
Catalog version number:               202209061
Database system identifier:           7711107836677860545
Database cluster state:               in production
pg_control last modified:             Sun Nov 22 21:17:01 2026
Latest checkpoint location:           0/301A1E0
Latest checkpoint's REDO location:    0/301A1A8
Latest checkpoint's REDO WAL file:    000000020000000000000003
Latest checkpoint's TimeLineID:       2
Latest checkpoint's PrevTimeLineID:   2
Latest checkpoint's full_page_writes: on
Latest checkpoint's NextXID:          0:725
Latest checkpoint's NextOID:          24576
Latest checkpoint's NextMultiXactId:  1
Latest checkpoint's NextMultiOffset:  0
Latest checkpoint's oldestXID:        716
Latest checkpoint's oldestXID's DB:   1
Latest checkpoint's oldestActiveXID:  725
Latest checkpoint's oldestMultiXid:   1
Latest checkpoint's oldestMulti's DB: 1
Latest checkpoint's oldestCommitTsXid:0
Latest checkpoint's newestCommitTsXid:0
Time of latest checkpoint:            Sun Nov 22 21:17:01 2026
Fake LSN counter for unlogged rels:   0/3E8
Minimum recovery ending location:     0/0
Min recovery ending loc's timeline:   0
Backup start location:                0/0
Backup end location:                  0/0
End-of-backup record required:        no
wal_level setting:                    replica
wal_log_hints setting:                on
max_connections setting:              100
max_worker_processes setting:         8
max_wal_senders setting:              10
max_prepared_xacts setting:           0
max_locks_per_xact setting:           64
track_commit_timestamp setting:       off
Maximum data alignment:               8
Database block size:                  8192
Blocks per segment of large relation: 131072
WAL block size:                       8192
Bytes per WAL segment:                16777216
Maximum length of identifiers:        64
Maximum columns in an index:          32
Maximum size of a TOAST chunk:        1996
Size of a large-object chunk:         2048
Date/time type storage:               64-bit integers
Float8 argument passing:              by value
Data page checksum version:           0
Mock authentication nonce:            9c1adc4f44b4d87062e0faab25ab80182553eacf8eb2d03d2889dc56367c41df
`;


/** The same directory's lines that differ on a rewound standby. */
const REWOUND = PRIMARY.replace('in production', 'in archive recovery').replace('Minimum recovery ending location:     0/0', 'Minimum recovery ending location:     0/301A258');

describe('pg_controldata parsing', () => {
  it('reads system identifier, cluster state, checkpoint timeline and location from real output', () => {
    assert.deepEqual(parseControlData(PRIMARY), { systemIdentifier: '7711107836677860545', state: 'in production', timeline: 2, checkpointLsn: 0x301a1e0 });
    assert.equal(parseControlData(REWOUND).state, 'in archive recovery');
  });

  it('reads missing or garbled values as null instead of throwing', () => {
    assert.deepEqual(parseControlData(''), { systemIdentifier: null, state: null, timeline: null, checkpointLsn: null });
    const garbled = parseControlData("Database system identifier: abc\nLatest checkpoint's TimeLineID: x\nLatest checkpoint location: nowhere\n");
    assert.deepEqual(garbled, { systemIdentifier: null, state: null, timeline: null, checkpointLsn: null });
  });
});

describe('clean shutdown', () => {
  it('accepts only the two states pg_rewind accepts', () => {
    assert.equal(isCleanShutdown('shut down'), true);
    assert.equal(isCleanShutdown('shut down in recovery'), true);
    for (const s of ['in production', 'in archive recovery', 'in crash recovery', 'shutting down', null]) assert.equal(isCleanShutdown(s), false, String(s));
  });

  it('recovers a crashed replica as a standby and a crashed primary in single-user mode', () => {
    assert.equal(cleanShutdownRoute('shut down', false), 'none');
    assert.equal(cleanShutdownRoute('in archive recovery', false), 'standby');
    assert.equal(cleanShutdownRoute('in production', false), 'single-user');
    assert.equal(cleanShutdownRoute('in crash recovery', false), 'single-user');
    assert.equal(cleanShutdownRoute('shutting down', false), 'single-user');
  });

  it('never ends recovery from a backup label on a timeline of its own', () => {
    assert.equal(cleanShutdownRoute('in production', true), 'standby');
  });
});
