import type { PgStatus } from '../domain/pg-status.js';
import type { Observation } from './types.js';

/** pg_controldata states of a data directory last run as a primary (not in recovery). */
const PRIMARY_CONTROL_STATES = new Set(['in production', 'shut down', 'shutting down', 'in crash recovery']);

/** The local server is up and accepting writes. */
export function runsAsPrimary(pg: PgStatus): boolean {
  return pg.running && !pg.inRecovery;
}

/** The local server is up in recovery (a standby). */
export function runsAsReplica(pg: PgStatus): boolean {
  return pg.running && pg.inRecovery;
}

/** A stopped data directory whose last run was as a primary: it may hold WAL others never saw. */
export function stoppedFormerPrimary(pg: PgStatus): boolean {
  return !pg.running && pg.controlState !== null && PRIMARY_CONTROL_STATES.has(pg.controlState);
}

/** Local WAL position, or null when the server is down. */
export function localLsn(pg: PgStatus): number | null {
  return pg.running ? pg.lsn : null;
}

export function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

/** `<n> bytes` with a MiB hint for big numbers. */
export function bytes(n: number): string {
  return n >= 1048576 ? `${n} bytes (${(n / 1048576).toFixed(1)} MiB)` : `${n} bytes`;
}

/**
 * The other members worth asking during a race: current members plus the last leader-era view,
 * without the `known_gone_nodes` an operator removed on purpose (nobody waits for them).
 */
export function raceCandidates(obs: Observation, members: { name: string; apiUrl: string }[]): { name: string; apiUrl: string }[] {
  const byName = new Map<string, string>();
  for (const m of members) byName.set(m.name, m.apiUrl);
  return [...byName]
    .filter(([name]) => name !== obs.self.name && !obs.settings.knownGoneNodes.includes(name))
    .map(([name, apiUrl]) => ({ name, apiUrl }))
    .sort((a, b) => a.name.localeCompare(b.name));
}
