/**
 * Pure rendering of the files pgwarden owns in a data directory: `pgwarden.conf` (parameters),
 * `pgwarden.recovery.conf` (where a replica streams from), `pg_hba.conf`, the pgpass file, and
 * the `primary_conninfo` / `--source-server` connection strings. No I/O here, so every quoting
 * rule is unit tested.
 */
import { ConfigError } from '../errors.js';
import type { Upstream } from './port.js';

export type ParamValue = string | number | boolean;

/** The file `postgresql.conf` includes (once, at its end) so pgwarden's settings win. */
export const PARAMS_FILE = 'pgwarden.conf';
/** Included last from `pgwarden.conf`: replica settings, or only a comment on a primary. */
export const RECOVERY_FILE = 'pgwarden.recovery.conf';
export const INCLUDE_LINE = `include_if_exists = '${PARAMS_FILE}'`;

const HEADER = '# Written by pgwarden; edits are overwritten.';

/**
 * A value as `postgresql.conf` reads it: numbers bare, booleans `on`/`off`, strings in single
 * quotes with `'` doubled and backslash, newline, carriage return and tab escaped (the GUC
 * scanner undoes exactly these escapes).
 */
export function confValue(v: ParamValue): string {
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new ConfigError('postgresql.parameters', [`${v} is not a valid parameter value`]);
    return String(v);
  }
  const escaped = v
    .replace(/\\/g, '\\\\')
    .replace(/'/g, "''")
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r')
    .replace(/\t/g, '\\t');
  return `'${escaped}'`;
}

/** GUC names, including `extension.custom` names. Anything else could inject config lines. */
const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;
/** Names that would break the include chain pgwarden relies on. */
const RESERVED = new Set(['include', 'include_if_exists', 'include_dir']);

/**
 * Marks the `synchronous_standby_names` line synchronous mode wrote over the configured value, so
 * the next agent can tell it from a configured one (`syncOverrideOf`).
 */
const SYNC_OVERRIDE_MARK = '# synchronous_standby_names is set by synchronous mode, over the configured value:';

/**
 * `pgwarden.conf`: every parameter sorted by name, then synchronous mode's
 * `synchronous_standby_names` when it overrides the configured one (marked, and last of the
 * parameters so it wins), then the include of the recovery file (last, so `primary_conninfo`
 * there wins over anything earlier). Null or undefined values (YAML `null`) are skipped. Throws
 * `ConfigError` for a name that is not a GUC name.
 */
export function renderParameters(params: Readonly<Record<string, ParamValue | null | undefined>>, syncOverride: string | null = null): string {
  const problems: string[] = [];
  const lines = [`${HEADER} Change parameters in the YAML file or the cluster's dynamic configuration.`];
  for (const key of Object.keys(params).sort()) {
    const value = params[key];
    if (value === null || value === undefined) continue;
    if (!PARAM_NAME.test(key)) problems.push(`postgresql.parameters.${key}: not a valid parameter name`);
    else if (RESERVED.has(key.toLowerCase())) problems.push(`postgresql.parameters.${key}: pgwarden manages the include files itself`);
    else if (syncOverride === null || key !== 'synchronous_standby_names') lines.push(`${key} = ${confValue(value)}`);
  }
  if (problems.length > 0) throw new ConfigError('postgresql.parameters', problems);
  if (syncOverride !== null) lines.push(SYNC_OVERRIDE_MARK, `synchronous_standby_names = ${confValue(syncOverride)}`);
  lines.push(`include_if_exists = ${confValue(RECOVERY_FILE)}`);
  return `${lines.join('\n')}\n`;
}

/** The `synchronous_standby_names` synchronous mode wrote into a `pgwarden.conf`, or null when the configured value is in force. */
export function syncOverrideOf(paramsText: string): string | null {
  const lines = paramsText.split('\n');
  const at = lines.indexOf(SYNC_OVERRIDE_MARK);
  const m = at < 0 ? null : /^synchronous_standby_names = '((?:[^'\\]|''|\\.)*)'$/.exec(lines[at + 1] ?? '');
  if (!m) return null;
  const escapes: Record<string, string> = { n: '\n', r: '\r', t: '\t' };
  return m[1]!.replace(/''|\\(.)/g, (_all, c: string | undefined) => (c === undefined ? "'" : (escapes[c] ?? c)));
}

/**
 * `postgresql.conf` with the include line appended, or null when it is already there (so the
 * caller writes nothing and the file stays byte-identical).
 */
export function withIncludeLine(postgresqlConf: string): string | null {
  const present = postgresqlConf.split('\n').some((l) => l.trim() === INCLUDE_LINE);
  if (present) return null;
  const body = postgresqlConf === '' || postgresqlConf.endsWith('\n') ? postgresqlConf : `${postgresqlConf}\n`;
  return `${body}# Added by pgwarden: its settings come last and win.\n${INCLUDE_LINE}\n`;
}

/** One libpq keyword value: bare when safe, else single-quoted with `\` and `'` backslash-escaped. */
export function conninfoValue(v: string): string {
  return /^[A-Za-z0-9_.\-/:@]+$/.test(v) ? v : `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** A libpq keyword/value connection string; undefined and empty values are left out. */
export function conninfo(parts: Readonly<Record<string, string | number | undefined>>): string {
  return Object.entries(parts)
    .filter((e): e is [string, string | number] => e[1] !== undefined && e[1] !== '')
    .map(([k, v]) => `${k}=${conninfoValue(String(v))}`)
    .join(' ');
}

export interface RecoverySettings {
  upstream: Upstream | null;
  slotName: string | null;
  replicationUser: string;
  /** Member name: how the primary's `pg_stat_replication` and synchronous_standby_names see us. */
  applicationName: string;
  passfile: string;
}

/** `primary_conninfo` for streaming from `upstream`; the password comes from the passfile. */
export function primaryConninfo(s: RecoverySettings, upstream: Upstream): string {
  return conninfo({
    host: upstream.host,
    port: upstream.port,
    user: s.replicationUser,
    application_name: s.applicationName,
    passfile: s.passfile,
    sslmode: 'prefer',
  });
}

/**
 * `pgwarden.recovery.conf` for a replica. Every setting is written explicitly (an empty value
 * when unused) so a reload also clears what an earlier version of the file set. No upstream
 * means a read-only standby with no source: empty conninfo and no slot.
 */
export function renderReplicaRecovery(s: RecoverySettings): string {
  const info = s.upstream ? primaryConninfo(s, s.upstream) : '';
  const slot = s.upstream && s.slotName ? s.slotName : '';
  return [
    `${HEADER} This server runs as a replica of ${s.upstream ? s.upstream.name : 'nobody (no source)'}.`,
    `primary_conninfo = ${confValue(info)}`,
    `primary_slot_name = ${confValue(slot)}`,
    `recovery_target_timeline = 'latest'`,
    '',
  ].join('\n');
}

/** `pgwarden.recovery.conf` on a primary: no settings (standby.signal is absent anyway). */
export const PRIMARY_RECOVERY = `${HEADER} This server runs as a primary.\n`;

/**
 * pgpass lines `*:*:*:user:password` for every user that has a password (first one wins per
 * user name), with `\` and `:` escaped as libpq requires. A newline cannot be represented in a
 * pgpass file, so such a password is a configuration error.
 */
export function renderPgpass(users: readonly { username: string; password?: string | undefined }[]): string {
  const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
  const seen = new Set<string>();
  let out = '';
  for (const u of users) {
    if (u.password === undefined || u.password === '' || seen.has(u.username)) continue;
    if (/[\r\n]/.test(u.password) || /[\r\n]/.test(u.username)) {
      throw new ConfigError('postgresql.authentication', [`${u.username}: user names and passwords cannot contain a line break`]);
    }
    seen.add(u.username);
    out += `*:*:*:${esc(u.username)}:${esc(u.password)}\n`;
  }
  return out;
}

/**
 * `pg_hba.conf` from the configured lines, verbatim. With no lines: a loopback-only default —
 * local socket by OS user (peer), TCP from 127.0.0.1 and ::1 with a password (`md5`, which also
 * accepts SCRAM secrets) for every database and for replication.
 */
export function renderHba(lines: readonly string[]): string {
  const body =
    lines.length > 0
      ? lines
      : [
          '# Default: loopback only. Set postgresql.pg_hba to allow other hosts.',
          'local all all peer',
          'host all all 127.0.0.1/32 md5',
          'host all all ::1/128 md5',
          'host replication all 127.0.0.1/32 md5',
          'host replication all ::1/128 md5',
        ];
  return `${HEADER} Set postgresql.pg_hba (or bootstrap.pg_hba) instead.\n${body.join('\n')}\n`;
}

/** initdb / pg_basebackup options as Patroni's YAML writes them. */
export type ProgramOptions = readonly (string | Readonly<Record<string, ParamValue>>)[] | Readonly<Record<string, ParamValue>>;

/** `['data-checksums', {encoding: 'UTF8'}]` or `{encoding: 'UTF8'}` → `--data-checksums --encoding=UTF8`. */
export function programOptions(opts: ProgramOptions): string[] {
  const list: readonly (string | Readonly<Record<string, ParamValue>>)[] = Array.isArray(opts)
    ? (opts as readonly (string | Readonly<Record<string, ParamValue>>)[])
    : Object.entries(opts).map(([k, v]) => ({ [k]: v }));
  const out: string[] = [];
  for (const o of list) {
    if (typeof o === 'string') out.push(`--${o.replace(/^--?/, '')}`);
    else for (const [k, v] of Object.entries(o)) out.push(`--${k.replace(/^--?/, '')}=${String(v)}`);
  }
  return out;
}
