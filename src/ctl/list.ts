import { isPrimaryRole, type ClusterSnapshot } from '../domain/cluster.js';
import { memberUpstream } from '../ha/upstream.js';

/** One row of `pgwardenctl list`, with patronictl's column names. */
export interface ListRow {
  Member: string;
  Host: string;
  Role: string;
  State: string;
  TL: string;
  'Lag in MB': string;
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
      return {
        Member: m.name,
        Host: up ? `${up.host}:${up.port}` : '',
        Role: isLeader ? 'Leader' : isPrimaryRole(m.data.role) ? 'Primary (no key)' : 'Replica',
        State: String(m.data.state ?? ''),
        TL: m.data.timeline === undefined ? '' : String(m.data.timeline),
        'Lag in MB': lag,
      };
    });
}

/** A bordered text table like patronictl's, with the cluster name in the top border. */
export function renderTable(title: string, rows: ListRow[]): string {
  const cols = ['Member', 'Host', 'Role', 'State', 'TL', 'Lag in MB'] as const;
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[], align: ('l' | 'r')[]) =>
    `| ${cells.map((c, i) => (align[i] === 'r' ? c.padStart(width[i]!) : c.padEnd(width[i]!))).join(' | ')} |`;
  const border = `+${width.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const head = `+ Cluster: ${title} `;
  const top = head + border.slice(Math.min(head.length, border.length - 1));
  const align: ('l' | 'r')[] = ['l', 'l', 'l', 'l', 'r', 'r'];
  return [top, line([...cols], cols.map(() => 'l')), border, ...rows.map((r) => line(cols.map((c) => r[c]), align)), border].join('\n');
}
