/**
 * Output of `pgwardenctl` tables in patronictl's formats: `pretty` (bordered table with the
 * cluster in the top border), `tsv` (header line, tab-separated rows), `json` and `yaml` (a list
 * of objects keyed by column title, empty cells left out).
 */
import yaml from 'js-yaml';

export type Format = 'pretty' | 'tsv' | 'json' | 'yaml';
export const FORMATS: readonly Format[] = ['pretty', 'tsv', 'json', 'yaml'];

export type Row = Record<string, string>;

/** Columns patronictl right-aligns. */
const RIGHT_ALIGNED: ReadonlySet<string> = new Set(['TL', 'Lag in MB', 'LSN']);

/** A bordered text table; `title` goes into the top border. */
export function prettyTable(title: string | null, columns: readonly string[], rows: readonly Row[]): string {
  const width = columns.map((c) => Math.max(c.length, ...rows.map((r) => (r[c] ?? '').length)));
  const right = columns.map((c) => RIGHT_ALIGNED.has(c));
  const line = (cells: string[], align: boolean[]) => `| ${cells.map((c, i) => (align[i] ? c.padStart(width[i]!) : c.padEnd(width[i]!))).join(' | ')} |`;
  const border = `+${width.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const head = title === null ? '' : `+ ${title} `;
  const top = head === '' ? border : head + border.slice(Math.min(head.length, border.length - 1));
  return [
    top,
    line([...columns], columns.map(() => false)),
    border,
    ...rows.map((r) => line(columns.map((c) => r[c] ?? ''), right)),
    border,
  ].join('\n');
}

/** Renders rows in `format`; `extra` keys (like `Cluster`) come first in json/yaml/tsv. */
export function renderRows(format: Format, title: string | null, columns: readonly string[], rows: readonly Row[]): string {
  switch (format) {
    case 'pretty':
      return prettyTable(title, columns, rows);
    case 'tsv':
      return [columns.join('\t'), ...rows.map((r) => columns.map((c) => r[c] ?? '').join('\t'))].join('\n');
    case 'json':
    case 'yaml': {
      const objects = rows.map((r) => Object.fromEntries(columns.filter((c) => (r[c] ?? '') !== '').map((c) => [c, r[c]])));
      return format === 'json' ? JSON.stringify(objects) : yaml.dump(objects, { lineWidth: -1 }).trimEnd();
    }
  }
}

export function parseFormat(text: string): Format {
  if ((FORMATS as readonly string[]).includes(text)) return text as Format;
  throw new Error(`unknown format "${text}" (use ${FORMATS.join(', ')})`);
}
