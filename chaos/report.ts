import type { FaultKind } from './faults.js';

/** One round of the campaign, as written to rounds.jsonl. */
export interface Round {
  round: number;
  seed: number;
  kind: FaultKind;
  target: string;
  leaderBefore: string;
  leaderAfter: string;
  recovered: boolean;
  /** Acknowledgements (writer + probers) from 1 s before the fault to the end of the round. */
  writesAcked: number;
  /** Acknowledged writes found missing on the leader after this round (and not before). */
  lost: number;
  lostIds: string[];
  /** Servers that acknowledged again after another server had taken over (see overlappingWriters). */
  dualPrimary: number;
  dualDetails: string[];
  /** Longest gap between two writes acknowledged through haproxy during the round. */
  writeGapMs: number;
  /** From healing the fault to a whole cluster (one leader, all streaming, haproxy writing). */
  healedToWholeMs: number;
  /** From injecting the fault to a whole cluster. */
  faultToWholeMs: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const sec = (ms: number): string => (ms / 1000).toFixed(2);

/** The Markdown table of a campaign: one row per fault kind, then the totals. */
export function summaryTable(rounds: readonly Round[], run: { seed: number; synchronous: boolean; holdMs: number }): string {
  const lines = [
    `## Chaos campaign: seed ${run.seed}, ${run.synchronous ? 'synchronous_mode on' : 'asynchronous replication'}, faults held ${run.holdMs / 1000} s`,
    '',
    '| fault | injected | not recovered | writes acked | acked writes lost | dual-primary intervals | write gap median / worst (s) | healed → whole median / worst (s) | fault → whole median / worst (s) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const kinds = [...new Set(rounds.map((r) => r.kind))].sort();
  const row = (label: string, rs: readonly Round[]): string => {
    const ok = rs.filter((r) => r.recovered);
    const pair = (f: (r: Round) => number, from: readonly Round[]) => (from.length ? `${sec(median(from.map(f)))} / ${sec(Math.max(...from.map(f)))}` : '–');
    return `| ${label} | ${rs.length} | ${rs.length - ok.length} | ${rs.reduce((s, r) => s + r.writesAcked, 0)} | ${rs.reduce((s, r) => s + r.lost, 0)} | ${rs.reduce((s, r) => s + r.dualPrimary, 0)} | ` +
      `${pair((r) => r.writeGapMs, rs)} | ${pair((r) => r.healedToWholeMs, ok)} | ${pair((r) => r.faultToWholeMs, ok)} |`;
  };
  for (const k of kinds) lines.push(row(k, rounds.filter((r) => r.kind === k)));
  if (rounds.length > 0) lines.push(row('**all**', rounds));
  return `${lines.join('\n')}\n`;
}
