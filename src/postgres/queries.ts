/**
 * SQL text pgwarden sends and PURE parsers that turn result rows into typed values. Nothing
 * here talks to a server, so the parsing and quoting rules are unit tested on plain objects.
 */
import pg from 'pg';
import { parseLsn, type Lsn } from '../domain/lsn.js';
import type { PgStatus, ReplicationRow } from '../domain/pg-status.js';
import { ConfigError, PgwardenError } from '../errors.js';

/**
 * Everything `probe()` needs in ONE round trip. Functions that fail on a standby (or only make
 * sense there) sit behind CASE, which PostgreSQL evaluates lazily. The primary's timeline comes
 * from the current WAL file name (right after promotion the checkpoint timeline still lags); a
 * replica's from its WAL receiver, else from the last restartpoint.
 */
export const STATUS_QUERY = `
SELECT pg_is_in_recovery() AS in_recovery,
  CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS current_lsn,
  pg_last_wal_receive_lsn()::text AS receive_lsn,
  pg_last_wal_replay_lsn()::text AS replay_lsn,
  pg_last_xact_replay_timestamp()::text AS replay_ts,
  CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END AS replay_paused,
  CASE WHEN pg_is_in_recovery() THEN NULL
       ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END AS primary_tli,
  (SELECT received_tli FROM pg_stat_wal_receiver LIMIT 1) AS receiver_tli,
  (SELECT timeline_id FROM pg_control_checkpoint()) AS checkpoint_tli,
  pg_postmaster_start_time()::text AS start_time,
  current_setting('server_version_num')::int AS server_version,
  (SELECT system_identifier::text FROM pg_control_system()) AS sysid,
  (SELECT sender_host || ':' || sender_port FROM pg_stat_wal_receiver
     WHERE status = 'streaming' AND sender_host IS NOT NULL LIMIT 1) AS upstream,
  (SELECT count(*) > 0 FROM pg_settings WHERE pending_restart) AS pending_restart,
  current_setting('synchronous_standby_names') AS sync_names,
  (SELECT coalesce(json_agg(json_build_object('usename', usename, 'application_name', application_name,
     'client_addr', host(client_addr), 'state', state, 'sync_state', sync_state, 'sync_priority', sync_priority,
     'flush_lsn', flush_lsn::text)
     ORDER BY application_name), '[]'::json) FROM pg_stat_replication) AS replication`;

/** One row of STATUS_QUERY as node-postgres returns it. */
export interface StatusRow {
  in_recovery: boolean;
  current_lsn: string | null;
  receive_lsn: string | null;
  replay_lsn: string | null;
  replay_ts: string | null;
  replay_paused: boolean;
  primary_tli: number | null;
  receiver_tli: number | null;
  checkpoint_tli: number | null;
  start_time: string;
  server_version: number;
  sysid: string;
  upstream: string | null;
  pending_restart: boolean;
  sync_names: string;
  replication: unknown;
}

const lsnOrNull = (s: string | null): Lsn | null => (s ? parseLsn(s) : null);

function bug(what: string): PgwardenError {
  return new PgwardenError('BUG', `unexpected status row from PostgreSQL: ${what}`);
}

function replicationRows(v: unknown): ReplicationRow[] {
  const list: unknown = typeof v === 'string' ? JSON.parse(v) : v;
  if (!Array.isArray(list)) throw bug('replication is not a list');
  return list.map((r: Record<string, unknown>) => ({
    usename: String(r.usename ?? ''),
    application_name: String(r.application_name ?? ''),
    client_addr: typeof r.client_addr === 'string' ? r.client_addr : null,
    state: String(r.state ?? ''),
    sync_state: String(r.sync_state ?? ''),
    sync_priority: Number(r.sync_priority ?? 0),
    flushLsn: typeof r.flush_lsn === 'string' ? parseLsn(r.flush_lsn) : null,
  }));
}

/**
 * STATUS_QUERY row → the running variant of `PgStatus`. A replica's `lsn` is max(received,
 * replayed) and its `receivedLsn` falls back to the replayed one (reference §1.3 / §2.4).
 * Throws `BUG` on a row that does not have the expected shape. `syncStandbyNamesOverridden` is
 * known only to the adapter that sets the value; other readers (the observer) pass nothing.
 */
export function parseStatusRow(r: StatusRow, syncStandbyNamesOverridden = false): PgStatus {
  if (typeof r.in_recovery !== 'boolean') throw bug('in_recovery is not a boolean');
  if (typeof r.sysid !== 'string' || !/^\d+$/.test(r.sysid)) throw bug('no system identifier');
  const received = lsnOrNull(r.receive_lsn);
  const replayed = lsnOrNull(r.replay_lsn);
  const lsn = r.in_recovery ? Math.max(received ?? 0, replayed ?? 0) : lsnOrNull(r.current_lsn) ?? 0;
  const timeline = r.in_recovery ? r.receiver_tli ?? r.checkpoint_tli ?? 0 : r.primary_tli ?? r.checkpoint_tli ?? 0;
  return {
    running: true,
    dataDirInitialized: true,
    systemIdentifier: r.sysid,
    inRecovery: r.in_recovery,
    timeline: Number(timeline),
    lsn,
    receivedLsn: r.in_recovery ? received ?? replayed : null,
    replayedLsn: r.in_recovery ? replayed : null,
    replayedTimestamp: r.replay_ts,
    replayPaused: r.replay_paused === true,
    postmasterStartTime: String(r.start_time),
    serverVersion: Number(r.server_version),
    replication: replicationRows(r.replication),
    upstream: r.upstream,
    pendingRestart: r.pending_restart === true,
    syncStandbyNames: typeof r.sync_names === 'string' ? r.sync_names : '',
    syncStandbyNamesOverridden,
  };
}

/**
 * On a pg_rewind source: the timeline of its last checkpoint and its real current timeline.
 * pg_rewind reads the source's timeline from pg_control, which only moves at the first
 * checkpoint after a promotion; until then it wrongly answers "no rewind required".
 */
export const SOURCE_TIMELINE_QUERY = `
SELECT pg_is_in_recovery() AS in_recovery,
  (SELECT timeline_id FROM pg_control_checkpoint()) AS checkpoint_tli,
  CASE WHEN pg_is_in_recovery() THEN NULL
       ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END AS current_tli`;

export interface SourceTimelineRow {
  in_recovery: boolean;
  checkpoint_tli: number;
  current_tli: number | null;
}

/** True when the source is a primary whose pg_control still shows a timeline older than its WAL. */
export function sourceNeedsCheckpoint(r: SourceTimelineRow): boolean {
  return !r.in_recovery && r.current_tli !== null && Number(r.checkpoint_tli) < Number(r.current_tli);
}

/** SQL string literal; uses `E'...'` when backslashes are present, so it is safe whatever `standard_conforming_strings` says. */
export function literal(s: string): string {
  return pg.escapeLiteral(s).trim(); // node-postgres puts a space before E'...'
}

/** SQL identifier, always double-quoted (so case and odd characters survive). */
export function ident(s: string): string {
  return pg.escapeIdentifier(s);
}

const ROLE_FLAG = /^(NO)?(SUPERUSER|CREATEDB|CREATEROLE|INHERIT|LOGIN|REPLICATION|BYPASSRLS)$/i;
const CONN_LIMIT = /^CONNECTION\s+LIMIT\s+(-?\d+)$/i;
const VALID_UNTIL = /^VALID\s+UNTIL\s+'?([^']+)'?$/i;

/**
 * `bootstrap.users.<name>.options` (e.g. `createdb`, `connection limit 5`, `valid until
 * '2030-01-01'`) → SQL role options. LOGIN is added unless LOGIN/NOLOGIN is given. Anything
 * else is refused with `ConfigError`: these words are spliced into SQL.
 */
export function roleOptionsSql(role: string, options: readonly string[]): string {
  const out: string[] = [];
  const problems: string[] = [];
  for (const raw of options) {
    const o = raw.trim();
    let m: RegExpExecArray | null;
    if (ROLE_FLAG.test(o)) out.push(o.toUpperCase());
    else if ((m = CONN_LIMIT.exec(o))) out.push(`CONNECTION LIMIT ${Number(m[1])}`);
    else if ((m = VALID_UNTIL.exec(o))) out.push(`VALID UNTIL ${literal(m[1]!)}`);
    else problems.push(`bootstrap.users.${role}.options: unsupported role option ${JSON.stringify(raw)}`);
  }
  if (problems.length > 0) throw new ConfigError('bootstrap.users', problems);
  if (!out.some((o) => o === 'LOGIN' || o === 'NOLOGIN')) out.unshift('LOGIN');
  return out.join(' ');
}

/** `CREATE ROLE` when the role is missing, else `ALTER ROLE` with the same options and password. */
export function roleSql(name: string, exists: boolean, password: string | undefined, options: readonly string[]): string {
  const pw = password !== undefined && password !== '' ? ` PASSWORD ${literal(password)}` : '';
  return `${exists ? 'ALTER' : 'CREATE'} ROLE ${ident(name)} WITH ${roleOptionsSql(name, options)}${pw}`;
}

export const ROLE_EXISTS_QUERY = 'SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1';

/** The functions a non-superuser pg_rewind source connection needs on PostgreSQL 11–15. */
export function rewindGrantsSql(user: string): string[] {
  const u = ident(user);
  return [
    `GRANT EXECUTE ON FUNCTION pg_catalog.pg_ls_dir(text, boolean, boolean) TO ${u}`,
    `GRANT EXECUTE ON FUNCTION pg_catalog.pg_stat_file(text, boolean) TO ${u}`,
    `GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text) TO ${u}`,
    `GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean) TO ${u}`,
  ];
}

export const LIST_SLOTS_QUERY = 'SELECT slot_name, slot_type, active FROM pg_catalog.pg_replication_slots';
export const CREATE_SLOT_QUERY = 'SELECT pg_catalog.pg_create_physical_replication_slot($1)';
export const DROP_SLOT_QUERY = 'SELECT pg_catalog.pg_drop_replication_slot($1)';

export interface SlotRow {
  slot_name: string;
  slot_type: string;
  active: boolean;
}

/**
 * Which physical slots to create and drop so that the wanted ones exist. A slot in use
 * (`active`) is never dropped, and logical slots are never touched.
 */
export function planSlots(existing: readonly SlotRow[], wanted: readonly string[]): { create: string[]; drop: string[] } {
  const names = new Set(existing.map((s) => s.slot_name));
  const want = new Set(wanted);
  return {
    create: [...want].filter((n) => !names.has(n)),
    drop: existing.filter((s) => s.slot_type === 'physical' && !s.active && !want.has(s.slot_name)).map((s) => s.slot_name),
  };
}
