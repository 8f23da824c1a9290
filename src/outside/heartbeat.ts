/**
 * True replication delay, also on an idle cluster (plusmoin's method). Comparing WAL positions
 * says nothing when no WAL is written, and `pg_last_xact_replay_timestamp()` only ages while
 * the primary is idle. So the leader writes the time into a one-row table every HA cycle; the
 * row reaches each replica through replication, and a replica reads how old the newest beat it
 * has replayed is.
 *
 * Reading the age: beats are `interval` seconds apart (the loop period), so a replica that is
 * perfectly up to date still reads an age between 0 and `interval`. The age is therefore an
 * UPPER bound of the delay, and `age − interval` a LOWER bound (`certainDelaySeconds`): the
 * replica has surely been missing a beat for that long. Clock skew between the hosts adds to
 * both, since the age compares the leader's clock with the replica's.
 *
 * Functions take the smallest query interface (`Queryable`, which `pg.Client` satisfies) so the
 * caller decides which connection, timeouts and error listeners to use.
 */
/** What `pg.Client` offers: one statement, positional parameters `$1...`. */
export interface Queryable {
  query(sql: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

/** A table name split into its parts; `schema` null means the connection's `search_path`. */
export interface TableName {
  schema: string | null;
  table: string;
}

/** The configured default: a schema of its own, so nothing lands in applications' `public`. */
export const DEFAULT_HEARTBEAT_TABLE = 'pgwarden.heartbeat';

/**
 * Parses `heartbeat_table.name`: `table` or `schema.table`, split at the one dot. Each part is
 * used VERBATIM as one identifier (case and spaces kept, no SQL quoting rules applied): the name
 * `Ops.Beat` is the table `"Ops"."Beat"`.
 */
export function parseTableName(name: string): TableName {
  const parts = name.split('.');
  if (parts.length > 2 || parts.some((p) => p === '')) {
    throw new Error(`heartbeat table name ${JSON.stringify(name)} must be 'table' or 'schema.table'`);
  }
  return parts.length === 2 ? { schema: parts[0]!, table: parts[1]! } : { schema: null, table: parts[0]! };
}

/** An SQL identifier in double quotes, inner quotes doubled: safe for any name. */
export function quoteIdent(name: string): string {
  if (name.includes('\0')) throw new Error('an SQL identifier cannot contain a NUL character');
  return `"${name.replace(/"/g, '""')}"`;
}

/** `"schema"."table"` (or `"table"`). */
export function qualifiedName(t: TableName): string {
  return t.schema === null ? quoteIdent(t.table) : `${quoteIdent(t.schema)}.${quoteIdent(t.table)}`;
}

/** The single row every statement touches. */
const ROW_ID = 1;

/** The statements, exported so the README and tests can show the exact SQL. */
export function heartbeatSql(t: TableName): { createSchema: string | null; createTable: string; upsert: string; select: string } {
  const table = qualifiedName(t);
  return {
    createSchema: t.schema === null ? null : `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(t.schema)}`,
    createTable: `CREATE TABLE IF NOT EXISTS ${table} (id int PRIMARY KEY, leader text NOT NULL, beat timestamptz NOT NULL)`,
    upsert:
      `INSERT INTO ${table} (id, leader, beat) VALUES (${ROW_ID}, $1, now()) ` +
      'ON CONFLICT (id) DO UPDATE SET leader = excluded.leader, beat = excluded.beat',
    // extract() returns numeric since PostgreSQL 14, which node-postgres hands back as a string.
    select: `SELECT leader, extract(epoch FROM now() - beat)::float8 AS age_seconds FROM ${table} WHERE id = ${ROW_ID}`,
  };
}

/** SQLSTATEs meaning "the table (or its schema) is not there (yet)". */
const MISSING = new Set(['42P01', '3F000']);

function isMissingTable(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && MISSING.has(code);
}

/**
 * Creates the schema and table when missing. Only on a primary; idempotent. Commits like
 * `writeHeartbeat` (see there), since DDL waits for synchronous standbys too.
 */
export async function ensureHeartbeatTable(db: Queryable, t: TableName): Promise<void> {
  await inLocallyCommittedTransaction(db, () => createTable(db, t));
}

/**
 * The leader's beat: stores `leader` and the current time, creating the table on first use.
 * Call it on the primary only (a replica or a standby leader is read-only and rejects it).
 *
 * The write commits with `synchronous_commit = local`: in synchronous mode with no synchronous
 * standby left, an ordinary commit would wait forever, and the HA loop with it. The statements
 * run in one transaction on `db`, which must therefore be one connection, not a pool. Give that
 * connection a query timeout: the update waits for the row lock if another session holds it.
 */
export async function writeHeartbeat(db: Queryable, t: TableName, leader: string): Promise<void> {
  const upsert = async (): Promise<void> => {
    await db.query(heartbeatSql(t).upsert, [leader]);
  };
  try {
    await inLocallyCommittedTransaction(db, upsert);
  } catch (e) {
    if (!isMissingTable(e)) throw e;
    await inLocallyCommittedTransaction(db, async () => {
      await createTable(db, t);
      await upsert();
    });
  }
}

async function createTable(db: Queryable, t: TableName): Promise<void> {
  const s = heartbeatSql(t);
  if (s.createSchema !== null) await db.query(s.createSchema);
  await db.query(s.createTable);
}

async function inLocallyCommittedTransaction(db: Queryable, work: () => Promise<void>): Promise<void> {
  await db.query('BEGIN');
  try {
    await db.query('SET LOCAL synchronous_commit = local');
    await work();
    await db.query('COMMIT');
  } catch (e) {
    await db.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

/** The newest beat a server has, as it reads it now. */
export interface HeartbeatReading {
  /** Member that wrote the beat. */
  leader: string;
  /** Seconds since the beat, by this server's clock (never negative). */
  ageSeconds: number;
}

/**
 * Reads the beat on any server (replica or primary). Null when there is none yet: the table or
 * its schema does not exist, or holds no row. Other errors are thrown.
 */
export async function readHeartbeat(db: Queryable, t: TableName): Promise<HeartbeatReading | null> {
  let rows: Record<string, unknown>[];
  try {
    rows = (await db.query(heartbeatSql(t).select)).rows;
  } catch (e) {
    if (isMissingTable(e)) return null;
    throw e;
  }
  const row = rows[0];
  if (row === undefined) return null;
  const age = Number(row['age_seconds']);
  if (!Number.isFinite(age)) throw new Error(`heartbeat table ${qualifiedName(t)}: unexpected age ${String(row['age_seconds'])}`);
  return { leader: String(row['leader']), ageSeconds: Math.max(0, age) };
}

/**
 * How long a replica has surely been behind: the age of its newest beat minus the beat interval
 * (see the module comment), never negative. Use `loop_wait` plus a cycle's duration as interval.
 */
export function certainDelaySeconds(ageSeconds: number, intervalSeconds: number): number {
  return Math.max(0, ageSeconds - intervalSeconds);
}
