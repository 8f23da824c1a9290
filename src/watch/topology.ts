/**
 * What a watcher plugin cares about in a cluster: who leads, and which members are healthy and
 * where to reach them. Everything else in etcd changes all the time (every member rewrites its
 * key each HA cycle with a new `xlog_location`; `status` and `history` move too), and running
 * plugins on that churn would reload proxies every few seconds for nothing. So plugins run when
 * the {@link fingerprint} of this reduced view changes, not when etcd changes.
 *
 * Pure functions: no clock, no I/O.
 */
import type { ClusterSnapshot, Tags } from '../domain/cluster.js';

/** A member that runs (its member key says `state: running`), with the addresses plugins use. */
export interface HealthyMember {
  name: string;
  conn_url: string;
  api_url: string;
  /** Tags such as `noloadbalance` decide where a proxy may send reads. */
  tags: Tags;
}

export interface Topology {
  /**
   * The holder of the leader key, whatever its PostgreSQL state (a leader restarting its crashed
   * PostgreSQL in place is still where writes must go). `conn_url` is null when its member key
   * is gone. Null when nobody holds the key.
   */
  leader: { name: string; conn_url: string | null } | null;
  /** Healthy members (the leader included when it runs), sorted by name. */
  members: HealthyMember[];
}

/** The topology of one snapshot. */
export function topologyOf(cluster: ClusterSnapshot): Topology {
  const leaderName = cluster.leader?.name ?? null;
  const leaderData = cluster.members.find((m) => m.name === leaderName)?.data;
  const members = cluster.members
    .filter((m) => m.data.state === 'running')
    .map((m) => ({ name: m.name, conn_url: m.data.conn_url, api_url: m.data.api_url, tags: sortedTags(m.data.tags ?? {}) }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    leader: leaderName === null ? null : { name: leaderName, conn_url: leaderData?.conn_url ?? null },
    members,
  };
}

/** A string that is equal for two topologies exactly when plugins would be told the same thing. */
export function fingerprint(t: Topology): string {
  return JSON.stringify(t);
}

function sortedTags(tags: Tags): Tags {
  return Object.fromEntries(Object.entries(tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * One sentence saying what changed, for the log and the plugins' `reason`, e.g.
 * `leader postgres0 -> postgres1; postgres0 is no longer healthy`. `before` null = first read.
 */
export function describeChange(before: Topology | null, after: Topology): string {
  if (before === null) return `first read: ${describeTopology(after)}`;
  const parts: string[] = [];
  const was = before.leader?.name ?? null;
  const now = after.leader?.name ?? null;
  if (was !== now) parts.push(`leader ${was ?? '(none)'} -> ${now ?? '(none)'}`);
  else if (before.leader?.conn_url !== after.leader?.conn_url) parts.push(`leader ${now ?? ''} moved to ${after.leader?.conn_url ?? '(unknown address)'}`);
  const oldNames = new Map(before.members.map((m) => [m.name, m]));
  const newNames = new Map(after.members.map((m) => [m.name, m]));
  const joined = after.members.filter((m) => !oldNames.has(m.name)).map((m) => m.name);
  const left = before.members.filter((m) => !newNames.has(m.name)).map((m) => m.name);
  const changed = after.members.filter((m) => {
    const old = oldNames.get(m.name);
    return old !== undefined && JSON.stringify(old) !== JSON.stringify(m);
  });
  if (joined.length > 0) parts.push(`${list(joined)} ${joined.length === 1 ? 'is' : 'are'} healthy`);
  if (left.length > 0) parts.push(`${list(left)} ${left.length === 1 ? 'is' : 'are'} no longer healthy`);
  if (changed.length > 0) parts.push(`${list(changed.map((m) => m.name))} changed address or tags`);
  return parts.length > 0 ? parts.join('; ') : 'no change';
}

/** e.g. `leader postgres0, healthy postgres0, postgres1`. */
export function describeTopology(t: Topology): string {
  const healthy = t.members.length > 0 ? list(t.members.map((m) => m.name)) : 'none';
  return `leader ${t.leader?.name ?? '(none)'}, healthy ${healthy}`;
}

function list(names: string[]): string {
  return names.join(', ');
}
