/**
 * pg_rewind: the command line and what its output means. Verified on PostgreSQL 15:
 *  - histories match: `source and target cluster are on the same timeline` / `no rewind required`, exit 0;
 *  - diverged: `servers diverged at WAL location 0/3018058 on timeline 1`, then either
 *    `rewinding from last common checkpoint ...` / `Done!` (exit 0), or, when the target no longer
 *    has the WAL back to the last common checkpoint, `could not find previous WAL record` (exit 1);
 *  - a target not shut down cleanly: `target server must be shut down cleanly` (exit 1).
 * Right after a promotion the source's pg_control still names the old timeline, and pg_rewind
 * then wrongly reports "same timeline": callers make the source checkpoint first.
 */
import { PgwardenError } from '../errors.js';
import { conninfo } from './conf.js';
import type { Upstream } from './port.js';

export type DryRunVerdict = 'not-needed' | 'needed';

/**
 * Reads `pg_rewind --dry-run` output. Divergence counts even when the dry run then failed for
 * missing WAL: the histories did diverge, the rewind will fail too, and the caller re-clones.
 * Anything else that failed is not an answer and rejects `PG_COMMAND_FAILED`.
 */
export function dryRunVerdict(output: string, ok: boolean, detail: string): DryRunVerdict {
  if (/servers diverged at WAL location/.test(output)) return 'needed';
  if (ok && /no rewind required/.test(output)) return 'not-needed';
  if (ok && /Done!/.test(output)) return 'needed';
  throw new PgwardenError('PG_COMMAND_FAILED', `pg_rewind --dry-run gave no verdict: ${detail}`);
}

/** `--source-server` connection string; the password comes from the pgpass file (PGPASSFILE). */
export function rewindSource(source: Upstream, user: string): string {
  return conninfo({ host: source.host, port: source.port, user, dbname: 'postgres', connect_timeout: 10 });
}

export function rewindArgs(dataDir: string, source: string, dryRun: boolean): string[] {
  return ['--target-pgdata', dataDir, '--source-server', source, ...(dryRun ? ['--dry-run'] : [])];
}

/**
 * `postgres --single` arguments for crash recovery of a former primary. `wal_keep_size` is raised
 * for this one run so the end-of-recovery checkpoint removes no WAL segment: pg_rewind needs the
 * target's WAL back to the last checkpoint both histories share.
 */
export function singleUserArgs(dataDir: string): string[] {
  return ['--single', '-D', dataDir, '-c', 'wal_keep_size=1TB', 'postgres'];
}
