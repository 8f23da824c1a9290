import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isPgwardenError } from '../../../src/errors.js';
import { dryRunVerdict, rewindArgs, rewindSource, singleUserArgs } from '../../../src/postgres/rewind.js';

// Output captured from pg_rewind 15.18 (LC_ALL=C).
const SAME = 'pg_rewind: source and target cluster are on the same timeline\npg_rewind: no rewind required\n';
const DIVERGED = 'pg_rewind: servers diverged at WAL location 0/3018058 on timeline 1\npg_rewind: rewinding from last common checkpoint at 0/2000060 on timeline 1\npg_rewind: Done!\n';
const WAL_GONE =
  'pg_rewind: servers diverged at WAL location 0/3018058 on timeline 1\npg_rewind: error: could not open file "a/pg_wal/000000010000000000000002": No such file or directory\npg_rewind: error: could not find previous WAL record at 0/2000100\n';
const UNCLEAN = 'pg_rewind: executing "/usr/lib/postgresql/15/bin/postgres" for target server to complete crash recovery\npg_rewind: error: target server must be shut down cleanly\n';

describe('pg_rewind --dry-run verdicts', () => {
  it('reads "no rewind required" as not needed', () => {
    assert.equal(dryRunVerdict(SAME, true, ''), 'not-needed');
  });

  it('reads a divergence as needed, also when the dry run then failed for missing WAL', () => {
    assert.equal(dryRunVerdict(DIVERGED, true, ''), 'needed');
    assert.equal(dryRunVerdict(WAL_GONE, false, 'could not find previous WAL record'), 'needed');
  });

  it('refuses to guess when pg_rewind failed for another reason', () => {
    assert.throws(() => dryRunVerdict(UNCLEAN, false, 'target server must be shut down cleanly'), (e) => isPgwardenError(e, 'PG_COMMAND_FAILED') && /shut down cleanly/.test(e.message));
    assert.throws(() => dryRunVerdict(SAME, false, 'boom'), (e) => isPgwardenError(e, 'PG_COMMAND_FAILED'));
  });
});

describe('pg_rewind command line', () => {
  it('names the source by host, port, user and database, with no password on the command line', () => {
    const src = rewindSource({ name: 'pg2', host: '10.0.0.2', port: 5433 }, 'rewind user');
    assert.equal(src, "host=10.0.0.2 port=5433 user='rewind user' dbname=postgres connect_timeout=10");
    assert.deepEqual(rewindArgs('/d', src, true), ['--target-pgdata', '/d', '--source-server', src, '--dry-run']);
    assert.equal(rewindArgs('/d', src, false).includes('--dry-run'), false);
  });

  it('keeps every WAL segment during single-user crash recovery', () => {
    assert.deepEqual(singleUserArgs('/d'), ['--single', '-D', '/d', '-c', 'wal_keep_size=1TB', 'postgres']);
  });
});
