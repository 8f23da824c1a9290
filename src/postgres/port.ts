import type { HistoryRow } from '../domain/cluster.js';
import type { Lsn } from '../domain/lsn.js';
import type { PgStatus } from '../domain/pg-status.js';

/** The server a replica streams from or clones from. */
export interface Upstream {
  /** Member name of the upstream (for logs). */
  name: string;
  host: string;
  port: number;
}

/** How to (re)start PostgreSQL. `replica` with `upstream: null` is a read-only standby with no source. */
export type StartMode = { role: 'primary' } | { role: 'replica'; upstream: Upstream | null; slotName: string | null };

export type StopMode = 'fast' | 'immediate';

/** Result of pointing a running replica at an upstream. */
export type FollowResult = 'unchanged' | 'reloaded' | 'restart-needed';

/**
 * The local PostgreSQL server. The real adapter drives `initdb`, `pg_ctl`, `pg_basebackup`,
 * `pg_rewind` through execa and queries through short-lived `pg` clients; a fake serves the
 * simulation. Every method has a deadline (its `timeoutMs` or the adapter's query timeout) and
 * rejects with `PG_UNAVAILABLE`, `PG_COMMAND_FAILED`, `PG_TIMEOUT` or `ABORTED`; none hangs.
 *
 * Files pgwarden owns inside the data directory (written atomically: temp file + rename):
 *  - `pgwarden.conf`: parameters (included last from `postgresql.conf`),
 *  - `pgwarden.recovery.conf`: `primary_conninfo`, `primary_slot_name`,
 *    `recovery_target_timeline = 'latest'` (empty on a primary),
 *  - `standby.signal`: present iff started as replica,
 *  - `pg_hba.conf`: rendered from configuration.
 */
export interface Postgres {
  /** One bounded look at the server: connects, queries, or reads pg_controldata when down. */
  probe(): Promise<PgStatus>;

  /**
   * Whether this data directory's postmaster process exists right now: postmaster.pid and /proc
   * only, no connection, cheap enough to ask several times a second.
   */
  postmasterAlive(): boolean;

  /**
   * Sets what to call when the connection `probe()` keeps open between calls drops: the server
   * died (a backend exits with its postmaster), was stopped or restarted, or our session was
   * terminated. It means "look again now"; it may fire for planned events too.
   */
  onConnectionLost(listener: () => void): void;

  /** Closes the connection `probe()` keeps (at shutdown; a paused node leaves PostgreSQL running). */
  closeConnections(): Promise<void>;

  /** Runs `initdb` with `bootstrap.initdb` options into an empty data directory. */
  initdb(signal?: AbortSignal): Promise<void>;

  /**
   * After the first start of a new cluster: sets the superuser password and creates the
   * replication and rewind users and `bootstrap.users`. Idempotent.
   */
  createBootstrapUsers(): Promise<void>;

  /** Clones the data directory from `source` with pg_basebackup (data directory must be empty). */
  basebackup(source: Upstream, signal?: AbortSignal): Promise<void>;

  /** Writes the config files for `mode` and starts the postmaster, waiting until it accepts connections. */
  start(mode: StartMode, timeoutMs: number, signal?: AbortSignal): Promise<void>;

  /** `pg_ctl stop -m <mode>`; resolves when the postmaster is gone. A stopped server is not an error. */
  stop(mode: StopMode, timeoutMs: number): Promise<void>;

  /**
   * Stops (fast) and starts the server again with the same role and recovery settings, after
   * re-rendering the parameters (operator restart; applies parameters that need a restart).
   */
  restart(timeoutMs: number, signal?: AbortSignal): Promise<void>;

  /** "Latest checkpoint location" from pg_controldata of the stopped server (its shutdown checkpoint). */
  lastCheckpointLsn(): Promise<Lsn | null>;

  /**
   * How far another member's standby has received and flushed WAL (`pg_last_wal_receive_lsn()`),
   * asked over a direct connection with the superuser credentials; null when it is not a standby
   * that receives. Rejects `PG_UNAVAILABLE` when it cannot be reached.
   */
  receivedLsnOf(server: Upstream): Promise<Lsn | null>;

  /** Deletes the data directory of a stopped server (operator reinitialize of a replica). */
  removeDataDir(): Promise<void>;

  /** `pg_ctl promote` and waits until the server is out of recovery. */
  promote(timeoutMs: number): Promise<void>;

  /** Points a running replica at `upstream` (rewrite recovery file, reload). */
  follow(upstream: Upstream | null, slotName: string | null): Promise<FollowResult>;

  /**
   * Runs pg_rewind against `source`. Requires a cleanly shut down data directory; runs
   * single-user crash recovery first when the last shutdown was not clean.
   */
  rewind(source: Upstream, signal?: AbortSignal): Promise<void>;

  /**
   * Decides whether this (stopped) former primary diverged from `source`'s timeline history and
   * needs pg_rewind before it can follow. Resolves false when it can follow as is.
   */
  needsRewind(source: Upstream): Promise<boolean>;

  /** Moves the data directory aside (`<data_dir>.failed.<timestamp>`), never deletes it. Returns the new path. */
  moveDataDirAside(reason: string): Promise<string>;

  /** On a primary: creates missing physical slots in `wanted` and drops other physical slots pgwarden created. */
  syncReplicationSlots(wanted: readonly string[]): Promise<void>;

  /** Runs CHECKPOINT (after promotion, so pg_rewind on former primaries sees the new timeline). */
  checkpoint(): Promise<void>;

  /** Reads `pg_wal/*.history` of the current timeline as `history` rows (empty on timeline 1). */
  timelineHistory(timeline: number): Promise<HistoryRow[]>;

  /** Re-renders config files and signals the postmaster to reload (SIGHUP). */
  reload(): Promise<void>;

  /**
   * Sets `synchronous_standby_names` over the configured value (`null` hands it back to the
   * configuration), rewrites the parameters and reloads a running server.
   */
  setSyncStandbyNames(value: string | null): Promise<void>;
}

/** Slot name for a member: Patroni's rule (lower case, non `[a-z0-9_]` replaced by `_`). */
export function slotNameFor(member: string): string {
  return member.toLowerCase().replace(/[^a-z0-9_]/g, '_');
}
