import { isSyncStandby } from '../ha/sync.js';
import { isPrimaryRole, type ClusterSnapshot, type Member } from '../domain/cluster.js';
import { memberUpstream } from '../ha/upstream.js';
import { prettyTable, type Row } from './format.js';

/** Columns of `pgwardenctl list`, patronictl's titles; the last three only when some member has them. */
export const BASE_COLUMNS = ['Member', 'Host', 'Role', 'State', 'TL', 'Lag in MB'] as const;
const OPTIONAL_COLUMNS = ['Pending restart', 'Scheduled restart', 'Tags'] as const;

export type ListRow = Row;

function tagsText(m: Member): string {
  const tags = m.data.tags ?? {};
  return Object.keys(tags).length === 0 ? '' : Object.entries(tags).map(([k, v]) => `${k}: ${String(v)}`).join(', ');
}

/** Rows sorted by member name; lag is `status.optime − xlog_location`, in whole MiB. */
export function listRows(cluster: ClusterSnapshot): ListRow[] {
  const leader = cluster.leader?.name ?? null;
  return [...cluster.members]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((m) => {
      const up = memberUpstream(m);
      const isLeader = m.name === leader;
      let lag = '';
      if (!isLeader) {
        const x = m.data.xlog_location;
        lag = x === undefined || cluster.optime === null ? 'unknown' : String(Math.round(Math.max(0, cluster.optime - x) / 1048576));
      }
      const schedule = m.data.scheduled_restart?.['schedule'];
      return {
        Member: m.name,
        Host: up ? `${up.host}:${up.port}` : '',
        Role: isLeader ? 'Leader' : isPrimaryRole(m.data.role) ? 'Primary (no key)' : isSyncStandby(cluster.sync, m.name) ? 'Sync Standby' : 'Replica',
        State: String(m.data.state ?? ''),
        TL: m.data.timeline === undefined ? '' : String(m.data.timeline),
        'Lag in MB': lag,
        'Pending restart': m.data.pending_restart === true ? '*' : '',
        'Scheduled restart': typeof schedule === 'string' ? schedule : '',
        Tags: tagsText(m),
      };
    });
}

/** The columns to show: the base ones, plus each optional one some row fills. */
export function listColumns(rows: readonly ListRow[], extended = false): string[] {
  return [...BASE_COLUMNS, ...OPTIONAL_COLUMNS.filter((c) => extended || rows.some((r) => (r[c] ?? '') !== ''))];
}

/** Lines under the table: maintenance mode and a scheduled switchover. */
export function listFooter(cluster: ClusterSnapshot): string[] {
  const lines: string[] = [];
  const pause = cluster.config?.['pause'];
  if (pause === true || (typeof pause === 'string' && ['on', 'true', 'yes', '1'].includes(pause.toLowerCase()))) lines.push(' Maintenance mode: on');
  const f = cluster.failover;
  if (f?.scheduled_at !== undefined) {
    lines.push(` Switchover scheduled at: ${f.scheduled_at}`);
    if (f.leader !== undefined) lines.push(`                    from: ${f.leader}`);
    if (f.member !== undefined) lines.push(`                      to: ${f.member}`);
  }
  return lines;
}

/** A bordered text table like patronictl's, with the cluster name in the top border. */
export function renderTable(title: string, rows: ListRow[], columns: readonly string[] = listColumns(rows)): string {
  return prettyTable(`Cluster: ${title}`, columns, rows);
}

/**
 * `topology`: the leader first, then every member under the member it replicates from
 * (`replicatefrom` tag, else the leader), indented with `+ `.
 */
export function topologyRows(cluster: ClusterSnapshot): ListRow[] {
  const rows = listRows(cluster);
  const byName = new Map(rows.map((r) => [r['Member']!, r]));
  const leader = cluster.leader?.name ?? null;
  const parentOf = (m: Member): string | null => {
    const from = m.data.tags?.['replicatefrom'];
    if (typeof from === 'string' && byName.has(from) && from !== m.name) return from;
    return m.name === leader ? null : leader;
  };
  const children = new Map<string | null, string[]>();
  for (const m of [...cluster.members].sort((a, b) => a.name.localeCompare(b.name))) {
    const p = parentOf(m);
    children.set(p, [...(children.get(p) ?? []), m.name]);
  }
  const out: ListRow[] = [];
  const seen = new Set<string>();
  const walk = (name: string, depth: number): void => {
    if (seen.has(name)) return;
    seen.add(name);
    const row = byName.get(name)!;
    out.push({ ...row, Member: `${depth > 0 ? `${'  '.repeat(depth - 1)}+ ` : ''}${name}` });
    for (const c of children.get(name) ?? []) walk(c, depth + 1);
  };
  for (const root of children.get(null) ?? []) walk(root, 0);
  for (const r of rows) if (!seen.has(r['Member']!)) walk(r['Member']!, 0);
  return out;
}
