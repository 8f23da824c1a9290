import type { ClusterSnapshot, MemberRole, PgState, Tags } from './cluster.js';
import type { FailsafeLeader } from './peer.js';
import type { PgStatus } from './pg-status.js';

/** The guards against a primary outliving its lease (`watchdog/guard.ts`), as reported. */
export interface WatchdogView {
  mode: 'off' | 'automatic' | 'required';
  /** The device while it is open (armed), else null. */
  device: string | null;
  /** True when a required device is unusable, or the companion fencer is not running. */
  failed: boolean;
  fencerRunning: boolean;
  /** Why the device is not in use (automatic fallback or required failure), else null. */
  problem: string | null;
}

/**
 * What the HA loop last knew, published after every cycle for the REST API, metrics and the
 * state file. Readers never call etcd or PostgreSQL on the request path; they combine this view
 * with the current monotonic time to decide health (a stale view reads as unhealthy).
 */
export interface NodeView {
  name: string;
  scope: string;
  /** pgwarden version string advertised as `patroni.version`. */
  version: string;
  /** PostgreSQL state as in member data. */
  state: PgState;
  /** Role as in member data (`primary`, `replica`, `uninitialized`, ...). */
  role: MemberRole;
  /** Last probe of the local server, or null before the first one. */
  pg: PgStatus | null;
  /** Last successful cluster read, or null when never read / older than ttl. */
  cluster: ClusterSnapshot | null;
  /** Wall-clock epoch seconds of the last successful cluster read (0 = never). */
  dcsLastSeenEpoch: number;
  /**
   * Monotonic ms until which this node holds the leader key for sure (the send time of the last
   * confirmed renewal + ttl − safety margin); null when not leader.
   */
  leaderUntil: number | null;
  /** Monotonic ms at which the last HA cycle finished. */
  lastCycleAt: number;
  /** Reason sentence of the last cycle. */
  reason: string;
  /** Effective tags (falsy built-in tags dropped). */
  tags: Tags;
  paused: boolean;
  /** `failsafe_mode` is on (`POST /failsafe` is accepted only then). */
  failsafeMode: boolean;
  /** This primary runs on its members' confirmations while etcd is unreachable. */
  failsafeActive: boolean;
  /**
   * The leader that runs without etcd on confirmed failsafe rounds, as far as this node knows:
   * itself while `failsafeActive`, else the member whose `POST /failsafe` it accepted within ttl
   * (as that request described it); null otherwise.
   */
  failsafeLeader: FailsafeLeader | null;
  ttlSeconds: number;
  loopWaitSeconds: number;
  /** Last known cluster leader WAL position (`status.optime`). */
  clusterOptime: number | null;
  pendingRestart: boolean;
  /** The restart an operator scheduled on this node (member data `scheduled_restart`), or null. */
  scheduledRestart: Record<string, unknown> | null;
  /** Long action in progress (`bootstrap`, `basebackup`, `rewind`, `restart`, ...), or null. */
  action: string | null;
  /** Companion fencer and watchdog device state; null where there is none (simulation, tests). */
  watchdog: WatchdogView | null;
}
