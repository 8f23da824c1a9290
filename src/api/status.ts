/**
 * The JSON bodies of `GET /patroni` (also the body of every health-check GET) and `GET /cluster`,
 * built from the HA loop's view only (reference §2.4, §2.5). Pure functions: same view and time,
 * same object, with keys in Patroni's order so a diff against Patroni's output reads cleanly.
 */
import type { ClusterSnapshot, Member } from '../domain/cluster.js';
import { isSyncStandby } from '../ha/sync.js';
import type { NodeView } from '../domain/node-view.js';
import type { ReplicationRow } from '../domain/pg-status.js';
import { isStandbyCluster } from './health.js';
import { patroniTimestamp } from './pg-time.js';

/** `xlog` of a primary: its current WAL write position. */
export interface PrimaryXlog {
  location: number;
}

/** `xlog` of a replica; `received_location` falls back to the replayed position. */
export interface ReplicaXlog {
  received_location: number;
  replayed_location: number;
  replayed_timestamp: string | null;
  paused: boolean;
}

/**
 * pgwarden's own block in `/patroni`: why the node is in its state. `reason` is the sentence the
 * HA loop logged for its last cycle, `action` the long action in progress (`basebackup`, ...).
 * Times are seconds; `leader_lease_seconds_left` is null when the node does not hold the lease.
 */
export interface PgwardenStatus {
  reason: string;
  action: string | null;
  last_cycle_at: string;
  loop_age_seconds: number;
  leader_lease_seconds_left: number | null;
  /** The guards against a frozen agent (`watchdog/guard.ts`); absent where there are none. */
  watchdog?: { mode: string; device: string | null; fencer_running: boolean; problem: string | null };
}

/** `GET /patroni` body. Optional keys are absent (never `false`), as in Patroni. */
export interface StatusJson {
  state: string;
  postmaster_start_time?: string;
  role: string;
  server_version?: number;
  xlog?: PrimaryXlog | ReplicaXlog;
  timeline?: number;
  replication?: ReplicationRow[];
  cluster_unlocked?: true;
  dcs_last_seen: number;
  tags?: Record<string, string | number | boolean>;
  database_system_identifier?: string;
  pending_restart?: true;
  patroni: { version: string; scope: string; name: string };
  scheduled_restart?: Record<string, unknown>;
  pause?: true;
  /** A replica the `sync` key names as synchronous standby. */
  sync_standby?: true;
  /** This primary runs on its members' confirmations while etcd is unreachable. */
  failsafe_mode_is_active?: true;
  /** Patroni's key: a required watchdog that does not work (or, here, a dead companion fencer). */
  watchdog_failed?: true;
  pgwarden: PgwardenStatus;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/**
 * Builds the `/patroni` object. `wallNowMs` is the wall clock (for `pgwarden.last_cycle_at`),
 * `monoNowMs` the monotonic clock the view's deadlines use; it defaults to `wallNowMs`, which is
 * only right with `systemClock` (whose monotonic time is aligned to the epoch at start-up).
 *
 * There is no `xlog` when PostgreSQL is not answering: peers read that as "unreachable", exactly
 * as they do with Patroni.
 */
export function statusJson(view: NodeView, wallNowMs: number, monoNowMs: number = wallNowMs): StatusJson {
  const pg = view.pg;
  const out: Partial<StatusJson> = {};
  if (pg !== null && pg.running) {
    out.state = view.state;
    out.postmaster_start_time = patroniTimestamp(pg.postmasterStartTime);
    out.role = pg.inRecovery ? (view.role === 'standby_leader' ? 'standby_leader' : 'replica') : 'primary';
    out.server_version = pg.serverVersion;
    if (pg.inRecovery) {
      const replayed = pg.replayedLsn ?? pg.lsn;
      out.xlog = {
        received_location: pg.receivedLsn ?? replayed,
        replayed_location: replayed,
        replayed_timestamp: pg.replayedTimestamp === null ? null : patroniTimestamp(pg.replayedTimestamp),
        paused: pg.replayPaused,
      };
    } else {
      out.xlog = { location: pg.lsn };
    }
    out.timeline = pg.timeline;
    if (pg.replication.length > 0) {
      out.replication = pg.replication.map((r) => ({
        usename: r.usename, application_name: r.application_name, client_addr: r.client_addr, state: r.state, sync_state: r.sync_state, sync_priority: r.sync_priority,
      }));
    }
  } else {
    // Patroni reports `unknown` when it believes PostgreSQL runs but cannot query it.
    out.state = view.state === 'running' ? 'unknown' : view.state;
    out.role = view.role;
  }
  if (view.cluster === null || view.cluster.leader === null) out.cluster_unlocked = true;
  out.dcs_last_seen = view.dcsLastSeenEpoch;
  if (Object.keys(view.tags).length > 0) out.tags = view.tags;
  const sysid = pg?.systemIdentifier ?? null;
  if (sysid !== null) out.database_system_identifier = sysid;
  if (view.pendingRestart) out.pending_restart = true;
  out.patroni = { version: view.version, scope: view.scope, name: view.name };
  if (view.scheduledRestart) {
    const { postmaster_start_time: _omitted, ...request } = view.scheduledRestart;
    out.scheduled_restart = request;
  }
  if (view.paused) out.pause = true;
  if (view.failsafeActive) out.failsafe_mode_is_active = true;
  if (out.role === 'replica' && isSyncStandby(view.cluster?.sync ?? null, view.name)) out.sync_standby = true;
  const ageMs = Math.max(0, monoNowMs - view.lastCycleAt);
  out.pgwarden = {
    reason: view.reason,
    action: view.action,
    last_cycle_at: new Date(wallNowMs - ageMs).toISOString(),
    loop_age_seconds: round3(ageMs / 1000),
    leader_lease_seconds_left: view.leaderUntil === null ? null : round3(Math.max(0, view.leaderUntil - monoNowMs) / 1000),
  };
  const dog = view.watchdog;
  if (dog !== null) {
    if (dog.failed) out.watchdog_failed = true;
    out.pgwarden.watchdog = { mode: dog.mode, device: dog.device, fencer_running: dog.fencerRunning, problem: dog.problem };
  }
  return out as StatusJson;
}

/** One entry of `/cluster` `members`, keys in Patroni's order. */
export interface ClusterMemberJson {
  name: string;
  role: 'leader' | 'standby_leader' | 'sync_standby' | 'replica';
  state: string;
  api_url: string;
  host?: string;
  port?: number;
  timeline?: number;
  pending_restart?: true;
  tags?: Record<string, string | number | boolean>;
  lag?: number | 'unknown';
}

/** `GET /cluster` body. */
export interface ClusterJson {
  members: ClusterMemberJson[];
  pause?: true;
  scheduled_switchover?: { at: string; from?: string; to?: string };
}

/** Host and port of a `postgres://user@host:port/db` URL; port defaults to 5432. */
export function hostPort(connUrl: string): { host: string; port: number } | null {
  try {
    const u = new URL(connUrl);
    if (u.hostname === '') return null;
    const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
    return { host, port: u.port === '' ? 5432 : Number(u.port) };
  } catch {
    return null;
  }
}

function memberJson(m: Member, cluster: ClusterSnapshot, standby: boolean): ClusterMemberJson {
  const d = m.data;
  const isLeader = cluster.leader?.name === m.name;
  const out: ClusterMemberJson = {
    name: m.name,
    role: isLeader ? (standby ? 'standby_leader' : 'leader') : isSyncStandby(cluster.sync, m.name) ? 'sync_standby' : 'replica',
    state: d.state,
    api_url: d.api_url,
  };
  const hp = hostPort(d.conn_url);
  if (hp !== null) {
    out.host = hp.host;
    out.port = hp.port;
  }
  if (d.timeline !== undefined) out.timeline = d.timeline;
  if (d.pending_restart === true) out.pending_restart = true;
  if (d.tags !== undefined && Object.keys(d.tags).length > 0) out.tags = d.tags;
  if (!isLeader) {
    const xlog = d.xlog_location;
    out.lag = typeof xlog === 'number' ? Math.max(0, (cluster.optime ?? 0) - xlog) : 'unknown';
  }
  return out;
}

/**
 * Builds the `/cluster` object from the view's last cluster read: members sorted by name, the
 * leader-key holder as `leader` (`standby_leader` in a standby cluster), everyone else `replica`
 * with `lag` in bytes behind `status.optime`. An empty member list when there is no cluster view.
 * Needs only three fields of the view, so the observer (`observe/report.ts`), which has no node
 * view of its own, builds the same document from a cluster it read.
 */
export function clusterJson(view: Pick<NodeView, 'cluster' | 'paused' | 'role'>): ClusterJson {
  const cluster = view.cluster;
  if (cluster === null) return view.paused ? { members: [], pause: true } : { members: [] };
  const standby = isStandbyCluster(view);
  const members = [...cluster.members]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((m) => memberJson(m, cluster, standby));
  const out: ClusterJson = { members };
  if (view.paused) out.pause = true;
  const f = cluster.failover;
  if (f?.scheduled_at !== undefined) {
    const s: { at: string; from?: string; to?: string } = { at: f.scheduled_at };
    if (f.leader !== undefined) s.from = f.leader;
    if (f.member !== undefined) s.to = f.member;
    out.scheduled_switchover = s;
  }
  return out;
}
