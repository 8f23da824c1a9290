import type { Upstream } from './port.js';

export type ParamValue = string | number | boolean;

/** A value as postgresql.conf wants it: numbers bare, booleans on/off, strings single-quoted. */
export function confValue(v: ParamValue): string {
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  if (typeof v === 'number') return String(v);
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** `pgwarden.conf`: every parameter, then the include of the recovery file (last, so it wins). */
export function renderParameters(params: Record<string, ParamValue>, recoveryFile: string): string {
  const lines = ['# Written by pgwarden; edits are overwritten. Change parameters in the YAML or the etcd config key.'];
  for (const key of Object.keys(params).sort()) lines.push(`${key} = ${confValue(params[key]!)}`);
  lines.push(`include_if_exists = ${confValue(recoveryFile)}`);
  return `${lines.join('\n')}\n`;
}

/** One libpq keyword value, quoted when it needs to be. */
function conninfoValue(v: string): string {
  return /^[A-Za-z0-9_.\-/:]+$/.test(v) ? v : `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export function conninfo(parts: Record<string, string | number | undefined>): string {
  return Object.entries(parts)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${k}=${conninfoValue(String(v))}`)
    .join(' ');
}

export interface RecoverySettings {
  upstream: Upstream | null;
  slotName: string | null;
  replicationUser: string;
  applicationName: string;
  passfile: string;
}

/** `pgwarden.recovery.conf` for a replica (empty upstream = read-only standby with no source). */
export function renderRecovery(s: RecoverySettings): string {
  const lines = ['# Written by pgwarden: where this replica streams from.'];
  const info = s.upstream
    ? conninfo({ host: s.upstream.host, port: s.upstream.port, user: s.replicationUser, application_name: s.applicationName, passfile: s.passfile, sslmode: 'prefer' })
    : '';
  lines.push(`primary_conninfo = ${confValue(info)}`);
  lines.push(`primary_slot_name = ${confValue(s.upstream && s.slotName ? s.slotName : '')}`);
  lines.push(`recovery_target_timeline = 'latest'`);
  return `${lines.join('\n')}\n`;
}

export const PRIMARY_RECOVERY = '# Written by pgwarden: this server runs as primary.\n';

/** pgpass lines for the given users on any host (`*:*:*:user:password`), with `:` and `\\` escaped. */
export function renderPgpass(users: { username: string; password?: string }[]): string {
  const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
  return users.filter((u) => u.password).map((u) => `*:*:*:${esc(u.username)}:${esc(u.password!)}\n`).join('');
}

/** pg_hba.conf from configured lines; a loopback-only default when none are configured. */
export function renderHba(lines: string[], replicationUser: string): string {
  const body = lines.length > 0
    ? lines
    : [
        `host replication ${replicationUser} 127.0.0.1/32 scram-sha-256`,
        'host all all 127.0.0.1/32 scram-sha-256',
        'local all all peer',
      ];
  return `# Written by pgwarden from postgresql.pg_hba / bootstrap.pg_hba.\n${body.join('\n')}\n`;
}

/** initdb / pg_basebackup options as Patroni writes them: `name` or `{name: value}` → `--name[=value]`. */
export type ProgramOptions = (string | Record<string, ParamValue>)[] | Record<string, ParamValue>;

export function programOptions(opts: ProgramOptions): string[] {
  const list = Array.isArray(opts) ? opts : Object.entries(opts).map(([k, v]) => ({ [k]: v }));
  const out: string[] = [];
  for (const o of list) {
    if (typeof o === 'string') out.push(`--${o.replace(/^--/, '')}`);
    else for (const [k, v] of Object.entries(o)) out.push(`--${k.replace(/^--/, '')}=${String(v)}`);
  }
  return out;
}

/** `pg_wal/<tl>.history` → rows `[timeline, switch LSN bytes, reason]`. */
export function parseHistoryFile(text: string, parseLsn: (s: string) => number): [number, number, string][] {
  const rows: [number, number, string][] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [tl, lsn, ...reason] = line.split(/\s+/);
    if (!tl || !lsn || !/^\d+$/.test(tl)) continue;
    rows.push([Number(tl), parseLsn(lsn), reason.join(' ')]);
  }
  return rows;
}
