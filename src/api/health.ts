/**
 * Health-check status codes (reference §2.3) computed from the HA loop's published view.
 *
 * Everything here is pure: the caller passes the view and the current monotonic time, and gets
 * 200 or 503. Patroni's routing rules are kept (substring tests in a fixed order, `/` means
 * `/primary`, `lag` and `tag_<key>` query filters), with pgwarden's safety rules on top:
 *
 * - a node whose HA loop has not finished a cycle within `ttl`, or whose leader lease has
 *   lapsed, is never reported as leader or primary (Patroni's REST thread kept answering
 *   "primary" for a hung HA thread, issue #2388);
 * - `/primary` also needs the local PostgreSQL running and out of recovery (Patroni answered 200
 *   with PostgreSQL down, issue #2756);
 * - replica answers need a fresh view too, so a proxy stops sending reads to a node nobody
 *   watches.
 */
import type { NodeView } from '../domain/node-view.js';
import { isSyncStandby } from '../ha/sync.js';

export type HealthCode = 200 | 503;

/** True when the HA loop finished a cycle no longer than `ttl` ago. */
export function isFresh(view: NodeView, now: number): boolean {
  return now - view.lastCycleAt <= view.ttlSeconds * 1000;
}

/**
 * pgwarden's "is leader": the lease confirmed by etcd has not run out and the loop is alive.
 * Both use the monotonic clock, so a wall-clock jump cannot make a node leader.
 */
export function isLeader(view: NodeView, now: number): boolean {
  return view.leaderUntil !== null && now < view.leaderUntil && isFresh(view, now);
}

/** Local PostgreSQL answers queries and is not in recovery (it accepts writes). */
export function pgIsPrimary(view: NodeView): boolean {
  return view.pg !== null && view.pg.running && !view.pg.inRecovery;
}

/** Local PostgreSQL answers queries and is in recovery (a hot standby). */
export function pgIsStandby(view: NodeView): boolean {
  return view.pg !== null && view.pg.running && view.pg.inRecovery;
}

/** This node is a synchronous standby: the `sync` key of its last cluster view names it. */
export function isSyncStandbyView(view: NodeView): boolean {
  return isSyncStandby(view.cluster?.sync ?? null, view.name);
}

/** The cluster replicates from another cluster (`standby_cluster` in the dynamic config). */
export function isStandbyCluster(view: Pick<NodeView, 'role' | 'cluster'>): boolean {
  if (view.role === 'standby_leader') return true;
  const sc = view.cluster?.config?.['standby_cluster'];
  return sc !== undefined && sc !== null && sc !== false;
}

const UNITS: Readonly<Record<string, number>> = { B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };

/**
 * Parses a `lag` query value the way PostgreSQL parses a size: plain bytes or a number with
 * `B`, `kB`, `MB`, `GB`, `TB` (case as PostgreSQL writes them, 1024-based). Returns null for
 * anything else (including negatives): the filter is then ignored, as in Patroni.
 */
export function parseLag(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(text);
  if (!m) return null;
  const unit = m[2] === '' ? 'B' : m[2]!;
  const factor = UNITS[unit];
  if (factor === undefined) return null;
  return Math.round(Number(m[1]) * factor);
}

/** Tags of this node rendered as Patroni compares them with `tag_<key>=<value>`. */
function tagText(value: string | number | boolean): string {
  return typeof value === 'string' ? value : String(value).toLowerCase();
}

/** Every `tag_<key>=<value>` query parameter must name a tag this node has, with that value. */
export function tagsMatch(query: Record<string, string>, view: NodeView): boolean {
  for (const key of Object.keys(query)) {
    if (!key.startsWith('tag_')) continue;
    const mine = view.tags[key.slice(4)];
    if (mine === undefined || mine === null) return false;
    if (tagText(mine) !== query[key]) return false;
  }
  return true;
}

/** Codes for the leader-like endpoints; all 503 unless the lease is held and the loop is alive. */
interface LeaderCodes {
  leader: HealthCode;
  primary: HealthCode;
  standbyLeader: HealthCode;
}

function leaderCodes(view: NodeView, now: number): LeaderCodes {
  if (!isLeader(view, now)) return { leader: 503, primary: 503, standbyLeader: 503 };
  if (isStandbyCluster(view)) {
    return { leader: 200, primary: 503, standbyLeader: pgIsStandby(view) ? 200 : 503 };
  }
  return { leader: 200, primary: pgIsPrimary(view) ? 200 : 503, standbyLeader: 503 };
}

/**
 * 200 when this node should take read-only traffic: fresh view, a running hot standby (not the
 * standby leader), no `noloadbalance` tag, and, when `lag` is given, replay not behind the
 * cluster's last known WAL position by more than that.
 */
export function replicaCode(view: NodeView, now: number, lag: number | null): HealthCode {
  const pg = view.pg;
  if (!isFresh(view, now) || pg === null || !pg.running || !pg.inRecovery) return 503;
  if (view.state !== 'running' || view.role === 'standby_leader') return 503;
  const nlb = view.tags['noloadbalance'];
  if (nlb !== undefined && nlb !== false) return 503;
  if (lag !== null && view.clusterOptime !== null) {
    const replayed = pg.replayedLsn ?? pg.lsn;
    if (view.clusterOptime > replayed + lag) return 503;
  }
  return 200;
}

/** `/health`: PostgreSQL is up and running, as seen by a loop that is still alive. */
function healthCode(view: NodeView, now: number): HealthCode {
  return isFresh(view, now) && view.state === 'running' && view.pg !== null && view.pg.running ? 200 : 503;
}

/**
 * The status code of a health-check path (reference §2.3 table, evaluated top to bottom).
 * `path` is the request path without the query string; `query` holds one value per key.
 * Leader-like answers ignore `tag_` filters; every other 200 must pass them.
 */
export function healthStatus(path: string, query: Record<string, string>, view: NodeView, now: number): HealthCode {
  const p = path === '/' || path === '' ? '/primary' : path;
  const lagText = query['lag'];
  const lag = lagText === undefined ? null : parseLag(lagText);
  const lead = leaderCodes(view, now);

  if (p.includes('standby_leader') || p.includes('standby-leader')) return lead.standbyLeader;
  if (p.includes('leader')) return lead.leader;
  if (p.includes('master') || p.includes('primary') || p.includes('read-write')) return lead.primary;

  let code: HealthCode;
  if (p.includes('replica')) {
    code = replicaCode(view, now, lag);
  } else if (p.includes('read-only') && !p.includes('sync')) {
    code = lead.primary === 200 || lead.standbyLeader === 200 ? 200 : replicaCode(view, now, lag);
  } else if (p.includes('health')) {
    code = healthCode(view, now);
  } else if (p === '/sync' || p === '/synchronous') {
    code = isSyncStandbyView(view) ? replicaCode(view, now, lag) : 503;
  } else if (p === '/async' || p === '/asynchronous') {
    code = isSyncStandbyView(view) ? 503 : replicaCode(view, now, lag);
  } else if (p === '/read-only-sync' || p === '/read-only-synchronous') {
    code = lead.primary === 200 || lead.standbyLeader === 200 ? 200 : isSyncStandbyView(view) ? replicaCode(view, now, lag) : 503;
  } else {
    code = 503;
  }
  return code === 200 && !tagsMatch(query, view) ? 503 : code;
}

/**
 * `/liveness`: is the HA loop still cycling? 200 while paused, or while the last cycle ended
 * less than `loop_wait + ttl` ago (a running primary) or `loop_wait + 2 * ttl` ago (others).
 */
export function livenessStatus(view: NodeView, now: number): HealthCode {
  if (view.paused) return 200;
  const budget = view.loopWaitSeconds + view.ttlSeconds * (pgIsPrimary(view) ? 1 : 2);
  return now <= view.lastCycleAt + budget * 1000 ? 200 : 503;
}

/**
 * `/readiness`: 200 for the leader; otherwise 200 only when PostgreSQL runs and the node has a
 * fresh view of the cluster.
 */
export function readinessStatus(view: NodeView, now: number): HealthCode {
  if (isLeader(view, now)) return 200;
  const running = view.pg !== null && view.pg.running && view.state === 'running';
  return running && isFresh(view, now) && view.cluster !== null ? 200 : 503;
}
