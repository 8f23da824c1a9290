import type { Lsn } from './lsn.js';

/** One WAL sender row as shown in `/patroni` `replication`. */
export interface ReplicationRow {
  usename: string;
  application_name: string;
  client_addr: string | null;
  state: string;
  sync_state: string;
  sync_priority: number;
  /** `flush_lsn` of the standby (internal: not part of the REST output); absent when unknown. */
  flushLsn?: number | null;
}

/**
 * What the local PostgreSQL looks like right now, as observed by one bounded probe.
 * `running: false` means no postmaster answers (crashed, stopped or never started).
 */
export type PgStatus =
  | {
      running: false;
      /**
       * A postmaster process exists (postmaster.pid names a live process) but does not accept
       * queries yet or any more: starting up, shutting down, or in crash recovery.
       */
      postmasterAlive: boolean;
      /** Data directory holds a cluster (has PG_VERSION). */
      dataDirInitialized: boolean;
      /** From pg_controldata when the directory is initialized. */
      systemIdentifier: string | null;
      /** pg_controldata "Database cluster state", e.g. `shut down`, `in production`, `shut down in recovery`. */
      controlState: string | null;
      /** Timeline of the latest checkpoint per pg_controldata. */
      timeline: number | null;
    }
  | {
      running: true;
      dataDirInitialized: true;
      systemIdentifier: string;
      inRecovery: boolean;
      timeline: number;
      /** Primary: current write LSN. Replica: max(received, replayed). */
      lsn: Lsn;
      receivedLsn: Lsn | null;
      replayedLsn: Lsn | null;
      replayedTimestamp: string | null;
      replayPaused: boolean;
      /** ISO-ish text as PostgreSQL prints it (`2026-11-22 11:51:02.473627+00`). */
      postmasterStartTime: string;
      serverVersion: number;
      replication: ReplicationRow[];
      /** `host:port` the WAL receiver currently streams from, or null. */
      upstream: string | null;
      pendingRestart: boolean;
      /** `current_setting('synchronous_standby_names')`. */
      syncStandbyNames: string;
      /** True while synchronous mode's value overrides the configured one (`setSyncStandbyNames`). */
      syncStandbyNamesOverridden: boolean;
    };
