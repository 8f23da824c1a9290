import { parseLsn } from '../domain/lsn.js';
import type { PgStatus, ReplicationRow } from '../domain/pg-status.js';

/**
 * Everything the probe needs in one round trip. Functions that fail in recovery (or outside it)
 * sit behind CASE, which PostgreSQL evaluates lazily.
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
  (SELECT sender_host || ':' || sender_port FROM pg_stat_wal_receiver WHERE status = 'streaming' LIMIT 1) AS upstream,
  (SELECT count(*) > 0 FROM pg_settings WHERE pending_restart) AS pending_restart,
  (SELECT coalesce(json_agg(json_build_object('usename', usename, 'application_name', application_name,
     'client_addr', host(client_addr), 'state', state, 'sync_state', sync_state, 'sync_priority', sync_priority)
     ORDER BY application_name), '[]'::json) FROM pg_stat_replication) AS replication`;

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
  replication: ReplicationRow[] | string;
}

const lsnOrNull = (s: string | null): number | null => (s ? parseLsn(s) : null);

/** Turns the status row into the running variant of `PgStatus`. */
export function parseStatusRow(r: StatusRow): PgStatus {
  const received = lsnOrNull(r.receive_lsn);
  const replayed = lsnOrNull(r.replay_lsn);
  const lsn = r.in_recovery ? Math.max(received ?? 0, replayed ?? 0) : lsnOrNull(r.current_lsn) ?? 0;
  const timeline = r.in_recovery ? r.receiver_tli ?? r.checkpoint_tli ?? 0 : r.primary_tli ?? r.checkpoint_tli ?? 0;
  const replication = typeof r.replication === 'string' ? (JSON.parse(r.replication) as ReplicationRow[]) : r.replication;
  return {
    running: true,
    dataDirInitialized: true,
    systemIdentifier: r.sysid,
    inRecovery: r.in_recovery,
    timeline,
    lsn,
    receivedLsn: r.in_recovery ? received ?? replayed : null,
    replayedLsn: r.in_recovery ? replayed : null,
    replayedTimestamp: r.replay_ts,
    replayPaused: r.replay_paused,
    postmasterStartTime: r.start_time,
    serverVersion: r.server_version,
    replication,
    upstream: r.upstream,
    pendingRestart: r.pending_restart,
  };
}

/** SQL literal (single quotes doubled). */
export function literal(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** SQL identifier (double quotes doubled). */
export function ident(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

/** Idempotent "create or alter" of a login role with a password and extra options. */
export function ensureRoleSql(name: string, password: string | undefined, options: string[]): string {
  const opts = ['LOGIN', ...options.map((o) => o.toUpperCase().replace(/[^A-Z_ ]/g, ''))].join(' ');
  const pw = password ? ` PASSWORD ${literal(password)}` : '';
  return `DO $pgw$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${literal(name)}) THEN
    EXECUTE ${literal(`CREATE ROLE ${ident(name)} ${opts}${pw}`)};
  ELSE
    EXECUTE ${literal(`ALTER ROLE ${ident(name)} ${opts}${pw}`)};
  END IF;
END $pgw$;`;
}

/** What pg_rewind needs from a non-superuser source connection (PostgreSQL 11+). */
export function rewindGrantsSql(user: string): string {
  const u = ident(user);
  return [
    `GRANT EXECUTE ON FUNCTION pg_catalog.pg_ls_dir(text, boolean, boolean) TO ${u}`,
    `GRANT EXECUTE ON FUNCTION pg_catalog.pg_stat_file(text, boolean) TO ${u}`,
    `GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text) TO ${u}`,
    `GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean) TO ${u}`,
  ].join(';\n');
}
