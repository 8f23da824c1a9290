import pg from 'pg';

/** Where and as whom the features connect (TCP with a password, like any client). */
export interface PgTarget {
  host: string;
  port: number;
  user: string;
  password: string;
  database?: string;
}

/**
 * Runs one statement on a fresh, disposable connection with short timeouts. The client always
 * has an 'error' listener (servers are killed on purpose here) and is always closed. Rejects
 * with the server's or the driver's message.
 */
export async function query<R extends pg.QueryResultRow = pg.QueryResultRow>(
  target: PgTarget,
  sql: string,
  params: unknown[] = [],
  timeoutMs = 4000,
): Promise<R[]> {
  return queries<R>(target, [[sql, params]], timeoutMs);
}

/**
 * Runs statements in order on ONE disposable connection (so they reach the same server even
 * through haproxy) and returns the rows of the last one. Same guarantees as `query`.
 */
export async function queries<R extends pg.QueryResultRow = pg.QueryResultRow>(
  target: PgTarget,
  statements: Array<[string, unknown[]]>,
  timeoutMs = 4000,
): Promise<R[]> {
  const client = new pg.Client({
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
    database: target.database ?? 'postgres',
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
    statement_timeout: timeoutMs,
    application_name: 'pgwarden-features',
  });
  client.on('error', () => undefined);
  let timer: NodeJS.Timeout | undefined;
  try {
    const work = (async () => {
      await client.connect();
      let rows: R[] = [];
      for (const [sql, params] of statements) rows = (await client.query<R>(sql, params)).rows;
      return rows;
    })();
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer from ${target.host}:${target.port} within ${timeoutMs} ms`)), timeoutMs + 1000);
    });
    return await Promise.race([work, limit]);
  } finally {
    if (timer) clearTimeout(timer);
    client.end().catch(() => undefined);
  }
}

/** true = in recovery (replica), false = primary; rejects when the server does not answer. */
export async function isInRecovery(target: PgTarget): Promise<boolean> {
  const rows = await query<{ r: boolean }>(target, 'SELECT pg_is_in_recovery() AS r');
  return rows[0]?.r === true;
}

/**
 * Current timeline: on a primary the timeline it writes WAL on (from the name of the current WAL
 * file, right after a promotion too), on a replica the timeline its WAL receiver streams.
 */
export async function timeline(target: PgTarget): Promise<number> {
  const rows = await query<{ tl: number | null }>(
    target,
    `SELECT CASE WHEN pg_is_in_recovery() THEN (SELECT received_tli FROM pg_stat_wal_receiver)
                 ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END AS tl`,
  );
  const tl = rows[0]?.tl;
  if (typeof tl !== 'number') throw new Error('timeline unknown');
  return tl;
}

/** Rows of pg_stat_replication on a primary. */
export async function replicationRows(target: PgTarget): Promise<Array<{ application_name: string; state: string; client_port: number }>> {
  return query(target, 'SELECT application_name, state, client_port FROM pg_stat_replication');
}

/** The replica's WAL receiver (status and sender port), or null when none runs. */
export async function walReceiver(target: PgTarget): Promise<{ status: string; sender_port: number | null } | null> {
  const rows = await query<{ status: string; sender_port: number | null }>(target, 'SELECT status, sender_port FROM pg_stat_wal_receiver');
  return rows[0] ?? null;
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

/** Guards table names that come from feature files (they are interpolated into SQL). */
export function checkIdent(name: string): string {
  if (!IDENT.test(name)) throw new Error(`not a plain SQL identifier: ${name}`);
  return name;
}

/** Creates the table if needed and inserts one row with `value`. */
export async function insertRow(target: PgTarget, table: string, value: string): Promise<void> {
  const t = checkIdent(table);
  await queries(target, [
    [`CREATE TABLE IF NOT EXISTS ${t} (id serial PRIMARY KEY, value text NOT NULL, at timestamptz DEFAULT now())`, []],
    [`INSERT INTO ${t} (value) VALUES ($1)`, [value]],
  ]);
}

/** true when the table exists and holds a row with `value`. */
export async function hasRow(target: PgTarget, table: string, value: string): Promise<boolean> {
  const t = checkIdent(table);
  const exists = await query<{ r: string | null }>(target, 'SELECT to_regclass($1)::text AS r', [t]);
  if (!exists[0]?.r) return false;
  const rows = await query<{ n: string }>(target, `SELECT count(*) AS n FROM ${t} WHERE value = $1`, [value]);
  return Number(rows[0]?.n ?? 0) > 0;
}
