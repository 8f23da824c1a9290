import type { ReplicationRow } from '../../../src/domain/pg-status.js';

/**
 * PostgreSQL's synchronous replication as the simulation needs it: how a primary reads
 * `synchronous_standby_names` (ssn), which connected standbys it treats as synchronous, and up
 * to where it may acknowledge commits. Only the forms pgwarden writes are understood — `''`,
 * `'*'` and `N ("a","b")` (FIRST semantics) — anything else throws, so a new form cannot slip
 * through the simulation unmodelled.
 *
 * The rules follow `syncrep.c` (FIRST n): a standby is a candidate when its WAL sender is in
 * `streaming` state (it caught up once since it connected) and its application_name is listed;
 * the n candidates with the best priority (position in the list; `*` gives everyone priority 1,
 * ties broken here by name where PostgreSQL takes the lower WAL sender slot) are `sync`, other
 * listed ones `potential`, unlisted ones `async`. A commit waits until every `sync` standby has
 * flushed it, and while fewer than n candidates exist it waits, full stop. With ssn empty a
 * commit is acknowledged once it is flushed locally.
 */
export interface ParsedSsn {
  num: number;
  /** Listed names in priority order, or `'*'` for any standby. */
  names: string[] | '*';
}

export function parseSsn(ssn: string): ParsedSsn | null {
  const text = ssn.trim();
  if (text === '') return null;
  if (text === '*') return { num: 1, names: '*' };
  const m = /^(\d+)\s*\((.*)\)$/.exec(text);
  if (!m) throw new Error(`the simulation does not model synchronous_standby_names = '${ssn}'`);
  const names = [...m[2]!.matchAll(/"((?:[^"]|"")*)"/g)].map((x) => x[1]!.replace(/""/g, '"'));
  return { num: Number(m[1]), names };
}

/** One WAL sender on the primary: the standby's name, how far it flushed, whether it caught up. */
export interface Sender {
  name: string;
  lsn: number;
  caughtUp: boolean;
}

function priority(p: ParsedSsn | null, name: string): number {
  if (p === null) return 0;
  if (p.names === '*') return 1;
  const i = p.names.indexOf(name);
  return i < 0 ? 0 : i + 1;
}

/** The standbys PostgreSQL currently waits for (empty when ssn is empty), and whether there are enough. */
export function syncSet(ssn: string, senders: readonly Sender[]): { sync: Sender[]; enough: boolean; parsed: ParsedSsn | null } {
  const parsed = parseSsn(ssn);
  if (parsed === null) return { sync: [], enough: true, parsed };
  const candidates = senders
    .filter((s) => s.caughtUp && priority(parsed, s.name) > 0)
    .sort((a, b) => priority(parsed, a.name) - priority(parsed, b.name) || a.name.localeCompare(b.name));
  const sync = candidates.slice(0, parsed.num);
  return { sync, enough: sync.length >= parsed.num, parsed };
}

/**
 * Highest WAL position a primary at `lsn` may have acknowledged to its clients by now, given its
 * ssn and WAL senders; null while commits wait for a standby that is not there.
 */
export function ackablePosition(ssn: string, lsn: number, senders: readonly Sender[]): number | null {
  const { sync, enough, parsed } = syncSet(ssn, senders);
  if (parsed === null) return lsn;
  if (!enough) return null;
  return Math.min(lsn, ...sync.map((s) => s.lsn));
}

/** `pg_stat_replication` rows as the primary's probe reports them (application_name = member name). */
export function replicationRows(ssn: string, senders: readonly Sender[]): ReplicationRow[] {
  const { sync, parsed } = syncSet(ssn, senders);
  return [...senders]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((s) => {
      const prio = priority(parsed, s.name);
      const state = sync.includes(s) ? 'sync' : prio > 0 ? 'potential' : 'async';
      return {
        usename: 'replicator',
        application_name: s.name,
        client_addr: '127.0.0.1',
        state: s.caughtUp ? 'streaming' : 'catchup',
        sync_state: state,
        sync_priority: prio,
      };
    });
}
