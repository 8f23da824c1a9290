/**
 * Helpers for tests that run real PostgreSQL 15 servers through `LocalPostgres`: node options
 * with working defaults, a capturing logger, one-shot SQL, and a polling wait.
 */
import { join } from 'node:path';
import pg from 'pg';
import { LocalPostgres, type LocalPostgresOptions } from '../../src/postgres/local.js';

export const PG_BIN = process.env.PGWARDEN_PG_BIN ?? '/usr/lib/postgresql/15/bin';
export const SUPERUSER_PASSWORD = 'it-super-pw';

/** Why a PostgreSQL test cannot run in this process, or false when it can. */
export function pgSkipReason(): string | false {
  if (process.getuid?.() === 0) {
    return 'PostgreSQL refuses to run as root: run as the postgres user, e.g. runuser -u postgres -- node --import tsx --test test/integration/postgres.test.ts (npm test does this)';
  }
  return false;
}

/** A logger that keeps every line (for assertions) and stays silent. */
export interface CapturedLog {
  lines: string[];
  logger: LocalPostgresOptions['logger'];
}

export function captureLog(): CapturedLog {
  const lines: string[] = [];
  return {
    lines,
    logger: {
      info: (m) => lines.push(`INFO ${m}`),
      warn: (m) => lines.push(`WARN ${m}`),
      error: (m) => lines.push(`ERROR ${m}`),
    },
  };
}

/** Options for member `name` with its data directory and pgpass under `dir`; override any field. */
export function nodeOptions(dir: string, name: string, port: number, log: CapturedLog, over: Partial<LocalPostgresOptions> = {}): LocalPostgresOptions {
  return {
    name,
    scope: 'itest',
    dataDir: join(dir, name),
    binDir: PG_BIN,
    listen: { hosts: ['127.0.0.1'], port },
    connectHost: '127.0.0.1',
    superuser: { username: 'postgres', password: SUPERUSER_PASSWORD },
    replication: { username: 'replicator', password: 'rep-pw' },
    rewind: { username: 'rewinder', password: "rew'pw:\\x" },
    parameters: () => ({ max_wal_senders: 10, max_replication_slots: 10, wal_level: 'replica', shared_buffers: '16MB', wal_keep_size: '128MB', fsync: false }),
    pgHba: () => [],
    initdbOptions: [{ encoding: 'UTF8' }, 'data-checksums'],
    basebackupOptions: [],
    bootstrapUsers: { app: { password: 'app-pw', options: ['createdb', 'connection limit 5'] } },
    pgpassPath: join(dir, `pgpass_${name}`),
    queryTimeoutMs: 5_000,
    logger: log.logger,
    ...over,
  };
}

export function makeNode(dir: string, name: string, port: number, log: CapturedLog, over: Partial<LocalPostgresOptions> = {}): LocalPostgres {
  return new LocalPostgres(nodeOptions(dir, name, port, log, over));
}

/** Runs one statement on 127.0.0.1:`port` and returns its rows. */
export async function sql(port: number, text: string, user = 'postgres', password = SUPERUSER_PASSWORD): Promise<pg.QueryResultRow[]> {
  const c = new pg.Client({ host: '127.0.0.1', port, user, password, database: 'postgres', connectionTimeoutMillis: 5_000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return (await c.query(text)).rows;
  } finally {
    await c.end();
  }
}

/** Polls `fn` every 100 ms until it returns a truthy value (errors count as "not yet"). */
export async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  let last = '';
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ` (last error: ${last})` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Milliseconds taken by `fn`, with its result. */
export async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const v = await fn();
  return [v, Math.round(performance.now() - t0)];
}
