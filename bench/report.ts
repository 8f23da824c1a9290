import type { System } from './cluster.js';

/** One figure of one run of one system (a row of results.jsonl). */
export interface Sample {
  scenario: string;
  metric: string;
  system: System;
  run: number;
  value: number;
}

/** What a metric measures and which direction is better (for the summary's wording only). */
export interface MetricInfo {
  label: string;
  unit: string;
  lowerIsBetter: boolean;
}

export interface Spread {
  n: number;
  min: number;
  median: number;
  max: number;
}

/** Min / median / max (median of an even count: mean of the middle two). */
export function spread(values: readonly number[]): Spread | null {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  const median = v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  return { n: v.length, min: v[0]!, median, max: v[v.length - 1]! };
}

function fmt(x: number): string {
  if (Number.isInteger(x)) return String(x);
  return Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2);
}

function cell(s: Spread | null, unit: string): string {
  if (!s) return 'n/a';
  return `${fmt(s.median)} ${unit} (${fmt(s.min)}–${fmt(s.max)}, n=${s.n})`;
}

/**
 * The Markdown summary: one table per scenario, a row per metric, min–max and median for each
 * system and the pgwarden/Patroni ratio of the medians.
 */
export function markdownSummary(
  samples: readonly Sample[],
  scenarios: ReadonlyArray<{ id: string; title: string; metrics: Record<string, MetricInfo> }>,
  systems: readonly System[],
  header: string,
): string {
  const out = [header, ''];
  for (const sc of scenarios) {
    const rows = Object.entries(sc.metrics).filter(([m]) => samples.some((s) => s.scenario === sc.id && s.metric === m));
    if (rows.length === 0) continue;
    out.push(`## ${sc.title}`, '');
    const both = systems.length === 2;
    out.push(`| metric | ${systems.join(' | ')}${both ? ' | pgwarden / Patroni |' : ''}`);
    out.push(`|---|${systems.map(() => '---|').join('')}${both ? '---|' : ''}`);
    for (const [metric, info] of rows) {
      const per = systems.map((sys) => spread(samples.filter((s) => s.scenario === sc.id && s.metric === metric && s.system === sys).map((s) => s.value)));
      let ratio = '';
      if (both) {
        const [a, b] = per;
        ratio = a && b && b.median !== 0 ? ` ${fmt(a.median / b.median)}${info.lowerIsBetter ? ' (lower is better)' : ' (higher is better)'} |` : ' n/a |';
      }
      out.push(`| ${info.label} | ${per.map((p) => cell(p, info.unit)).join(' | ')} |${ratio}`);
    }
    out.push('');
  }
  return out.join('\n');
}
