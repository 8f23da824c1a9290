/**
 * The observer's probes of one member: its PostgreSQL (role and WAL positions, asked of the
 * server itself) and its REST API (`GET /patroni`). Both carry a deadline (`probe_timeout`) and
 * never reject: a member that does not answer is a reading of its own (`ok: false`).
 *
 * READ-ONLY by construction: every SQL statement runs inside `BEGIN TRANSACTION READ ONLY`,
 * which PostgreSQL itself enforces (a write would fail with SQLSTATE 25006), and the transaction
 * is rolled back; the statements are the agent's own status query, a replay-age query and the
 * heartbeat read (a role with `pg_monitor` also needs `USAGE` on the heartbeat schema and
 * `SELECT` on the table, granted on the primary). The REST probe is one GET. The observer never changes a member.
 */
import { HttpClient } from '../api/http-client.js';
import type { Member } from '../domain/cluster.js';
import { errorText } from '../errors.js';
import { memberUpstream } from '../ha/upstream.js';
import { qualifiedName, readHeartbeat, type HeartbeatReading, type Queryable, type TableName } from '../outside/heartbeat.js';
import { withClient } from '../postgres/client.js';
import { parseStatusRow, STATUS_QUERY, type StatusRow } from '../postgres/queries.js';
import type { ApiFailure, ApiReading, MemberProbe, PgFailure, PgReading } from './detect.js';

/** First statement of every observer session: PostgreSQL refuses any write after it. */
export const READ_ONLY_BEGIN = 'BEGIN TRANSACTION READ ONLY';

/** A replica's age of its last replayed transaction, by its own clock. */
export const REPLAY_AGE_QUERY =
  'SELECT CASE WHEN pg_is_in_recovery() THEN extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END AS replay_age';

/** SQLSTATEs of a refused login: invalid_password, invalid_authorization_specification (pg_hba). */
const AUTH_FAILURES = new Set(['28P01', '28000']);

/**
 * Reads one server in a read-only transaction (see the module comment) and rolls it back.
 * `heartbeat` null skips the heartbeat read. Throws what the queries throw.
 */
export async function readMember(db: Queryable, heartbeat: TableName | null): Promise<PgReading> {
  await db.query(READ_ONLY_BEGIN);
  try {
    const row = (await db.query(STATUS_QUERY)).rows[0];
    if (row === undefined) throw new Error('the status query returned no row');
    const status = parseStatusRow(row as unknown as StatusRow);
    if (!status.running) throw new Error('the status query did not describe a running server');
    const age = (await db.query(REPLAY_AGE_QUERY)).rows[0]?.['replay_age'];
    // Last: a failed heartbeat read aborts the transaction, which is rolled back anyway.
    let beat: HeartbeatReading | null = null;
    let heartbeatError: string | null = null;
    if (heartbeat !== null) {
      try {
        beat = await readHeartbeat(db, heartbeat);
      } catch (e) {
        heartbeatError = `heartbeat table ${qualifiedName(heartbeat)}: ${errorText(e)}`;
      }
    }
    return {
      ok: true,
      inRecovery: status.inRecovery,
      lsn: status.lsn,
      receivedLsn: status.receivedLsn,
      replayedLsn: status.replayedLsn,
      timeline: status.timeline,
      serverVersion: status.serverVersion,
      replayAgeSeconds: typeof age === 'number' && Number.isFinite(age) ? age : null,
      heartbeatAgeSeconds: beat?.ageSeconds ?? null,
      heartbeatError,
    };
  } finally {
    await db.query('ROLLBACK').catch(() => undefined);
  }
}

/** True when `e` (or an error it wraps) is PostgreSQL refusing the login. */
export function isAuthFailure(e: unknown): boolean {
  for (let cur: unknown = e; cur !== null && typeof cur === 'object'; cur = (cur as { cause?: unknown }).cause) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && AUTH_FAILURES.has(code)) return true;
  }
  return false;
}

/** How the observer logs in and how long a probe may take. */
export interface ProbeSettings {
  user: string;
  password?: string | undefined;
  database: string;
  timeoutMs: number;
  /** The heartbeat table to read, or null. */
  heartbeat: TableName | null;
}

/** Probes a member's PostgreSQL at the host:port of its `conn_url`. Never rejects. */
export async function probePostgres(member: Member, s: ProbeSettings): Promise<PgReading | PgFailure> {
  const at = memberUpstream(member);
  if (at === null) return { ok: false, error: `members/${member.name}: conn_url ${JSON.stringify(member.data.conn_url)} names no host`, authFailed: false };
  try {
    const params = { host: at.host, port: at.port, user: s.user, password: s.password, database: s.database, timeoutMs: s.timeoutMs };
    return await withClient(params, `observe ${member.name} (${at.host}:${at.port})`, (c) => readMember(c, s.heartbeat));
  } catch (e) {
    return { ok: false, error: errorText(e), authFailed: isAuthFailure(e) };
  }
}

const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** Probes a member's REST API with one `GET <api_url>`. Never rejects. */
export async function probeApi(http: HttpClient, member: Member, timeoutMs: number): Promise<ApiReading | ApiFailure> {
  const url = member.data.api_url;
  try {
    const r = await http.requestJson({ method: 'GET', url, timeoutMs });
    if (r.status !== 200) return { ok: false, error: `GET ${url}: HTTP ${r.status}` };
    const body = r.json !== null && typeof r.json === 'object' ? (r.json as Record<string, unknown>) : null;
    if (body === null) return { ok: false, error: `GET ${url}: the answer is not a JSON object` };
    const own = body['pgwarden'];
    const reason = own !== null && typeof own === 'object' ? text((own as Record<string, unknown>)['reason']) : null;
    return { ok: true, role: text(body['role']), state: text(body['state']), reason };
  } catch (e) {
    return { ok: false, error: errorText(e) };
  }
}

/** Both probes of a member, at the same time. */
export async function probeMember(http: HttpClient, member: Member, s: ProbeSettings): Promise<MemberProbe> {
  const [pg, api] = await Promise.all([probePostgres(member, s), probeApi(http, member, s.timeoutMs)]);
  return { name: member.name, pg, api };
}
