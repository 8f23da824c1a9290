/**
 * Synchronous mode (`synchronous_mode`, `synchronous_mode_strict`, `synchronous_node_count`, tag
 * `nosync`; the `sync` key, reference §1.3). Pure rules, table-tested.
 *
 * The invariant: every commit this primary acknowledged is on at least one node that the `sync`
 * key names (or on the leader itself), and only the nodes the key names may be promoted
 * automatically. So the key may only ever list standbys PostgreSQL already treats as
 * synchronous, and the leader changes things one step per cycle, in this order:
 * 1. a key written by another leader is taken over as `{leader: me, standbys: []}`;
 * 2. standbys that are no longer picked or no longer synchronous leave the key first;
 * 3. then `synchronous_standby_names` is set to the picked standbys (`N ("a","b")`), or to `*`
 *    in strict mode when none is available (commits wait for any standby), or to '' (async);
 * 4. standbys that PostgreSQL now reports as `sync` join the key.
 */
import type { ClusterSnapshot, SyncState } from '../domain/cluster.js';
import type { PgStatus, ReplicationRow } from '../domain/pg-status.js';
import type { Action, Observation, Settings } from './types.js';

type RunningPg = Extract<PgStatus, { running: true }>;

const truthy = (v: unknown): boolean => v === true || (typeof v === 'string' && ['true', 'on', 'yes', '1'].includes(v.toLowerCase()));

/** `synchronous_standby_names` for the picked standbys: `N ("a","b")`, identifiers quoted. */
export function standbyNamesFor(picked: readonly string[], count: number, strict: boolean): string {
  if (picked.length === 0) return strict ? '*' : '';
  return `${Math.min(count, picked.length)} (${picked.map((n) => `"${n.replace(/"/g, '""')}"`).join(',')})`;
}

/**
 * Standbys that may be synchronous: members streaming from this primary (application_name =
 * member name), not tagged `nosync`. Order: standbys within `maximum_lag_on_syncnode` first (a
 * lagging synchronous standby gives way to a healthy asynchronous one, but is kept when there is
 * none), then the ones PostgreSQL already has as `sync` (no churn), then by name. The first
 * `synchronous_node_count` are picked. Lag is measured on `flush_lsn` against the most advanced
 * standby when there are several (under a heavy write load all of them trail the primary), else
 * against the primary's position.
 */
export function pickStandbys(pg: RunningPg, cluster: ClusterSnapshot, self: string, count: number, maxLag = -1): { picked: string[]; confirmed: string[] } {
  const members = new Map(cluster.members.map((m) => [m.name, m]));
  const rows = pg.replication.filter((r) => {
    const m = members.get(r.application_name);
    return r.application_name !== self && m !== undefined && r.state === 'streaming' && !truthy(m.data.tags?.['nosync']);
  });
  const flushed = rows.map((r) => r.flushLsn).filter((l): l is number => typeof l === 'number');
  const reference = flushed.length > 1 ? Math.max(...flushed) : pg.lsn;
  const lags = (r: ReplicationRow): boolean => maxLag >= 0 && typeof r.flushLsn === 'number' && reference - r.flushLsn > maxLag;
  rows.sort(
    (a, b) =>
      Number(lags(a)) - Number(lags(b)) ||
      Number(b.sync_state === 'sync') - Number(a.sync_state === 'sync') ||
      a.application_name.localeCompare(b.application_name),
  );
  const picked = [...new Set(rows.map((r) => r.application_name))].slice(0, Math.max(1, count));
  const confirmed = rows.filter((r) => r.sync_state === 'sync' && picked.includes(r.application_name)).map((r) => r.application_name);
  return { picked, confirmed: [...new Set(confirmed)].sort() };
}

const same = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * The leader's synchronous-mode step for this cycle (after its renewal): at most one change, in
 * the order of the module comment. With synchronous mode off, a `sync` key left from before is
 * deleted and `synchronous_standby_names` handed back to the configuration.
 */
export function syncStep(obs: Observation, cluster: ClusterSnapshot): { actions: Action[]; note: string | null } {
  const pg = obs.pg;
  if (!pg.running || pg.inRecovery) return { actions: [], note: null };
  const s = obs.settings;
  const me = obs.self.name;
  const rev = cluster.syncModRevision ?? '0';
  if (!s.synchronousMode) {
    if (cluster.sync === null && cluster.syncModRevision === null) {
      // An override left behind (its hand-back failed, or a restarted agent kept it): hand it back.
      return pg.syncStandbyNamesOverridden
        ? { actions: [{ type: 'setSyncStandbyNames', value: null }], note: 'synchronous_mode is off: synchronous_standby_names back to the configured value' }
        : { actions: [], note: null };
    }
    return {
      actions: [{ type: 'writeSync', value: null, modRevision: rev }, { type: 'setSyncStandbyNames', value: null }],
      note: 'synchronous_mode is off: removing the sync key',
    };
  }
  const sync = cluster.sync;
  if (sync === null || sync.leader !== me) {
    return { actions: [{ type: 'writeSync', value: { leader: me, standbys: [] }, modRevision: rev }], note: 'synchronous mode: taking over the sync key' };
  }
  const { picked, confirmed } = pickStandbys(pg, cluster, me, s.synchronousNodeCount, s.maximumLagOnSyncnode);
  const keep = sync.standbys.filter((n) => confirmed.includes(n));
  if (!same(keep, sync.standbys)) {
    const gone = sync.standbys.filter((n) => !keep.includes(n));
    return { actions: [{ type: 'writeSync', value: { leader: me, standbys: keep }, modRevision: rev }], note: `synchronous mode: ${gone.join(', ')} no longer synchronous` };
  }
  const names = standbyNamesFor(picked, s.synchronousNodeCount, s.synchronousModeStrict);
  if (pg.syncStandbyNames !== names) {
    return { actions: [{ type: 'setSyncStandbyNames', value: names }], note: `synchronous mode: synchronous_standby_names = '${names}'` };
  }
  if (!same(confirmed, sync.standbys)) {
    return { actions: [{ type: 'writeSync', value: { leader: me, standbys: confirmed }, modRevision: rev }], note: `synchronous mode: ${confirmed.join(', ') || 'no standby'} synchronous` };
  }
  return { actions: [], note: null };
}

/**
 * In synchronous mode only the sync key's leader and standbys may take a free leader key: any
 * other node may lack commits the last primary acknowledged. Null when `name` may lead.
 */
export function syncLeadRefusal(settings: Settings, cluster: ClusterSnapshot, name: string): string | null {
  if (!settings.synchronousMode) return null;
  const sync = cluster.sync;
  if (sync !== null && (sync.leader === name || sync.standbys.includes(name))) return null;
  const listed = sync === null ? 'there is no sync key' : `the sync key names ${[sync.leader, ...sync.standbys].filter((n) => n !== null).join(', ') || 'nobody'}`;
  return `synchronous_mode is on and ${listed}, not ${name} (it may lack acknowledged commits)`;
}

/**
 * `synchronous_standby_names` for a primary that starts again while holding the leader key: every
 * standby the sync key still names (whoever wrote it) in the usual `N (...)` form, so no commit is
 * acknowledged before one of them has it; the steps above adjust it afterwards. Undefined outside synchronous mode.
 */
export function standbyNamesAtStart(settings: Settings, cluster: ClusterSnapshot, self: string): string | undefined {
  if (!settings.synchronousMode) return undefined;
  const named = (cluster.sync?.standbys ?? []).filter((n) => n !== self);
  return standbyNamesFor(named, settings.synchronousNodeCount, settings.synchronousModeStrict);
}

/** True when `name` is listed as a synchronous standby (`/sync`, `sync_standby`). */
export function isSyncStandby(sync: SyncState | null, name: string): boolean {
  return sync !== null && sync.standbys.includes(name);
}
