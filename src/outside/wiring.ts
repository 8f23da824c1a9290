/**
 * Builds the events and outside views of one node from its configuration, so the daemon wires
 * them with a few calls: the command runner shared by callbacks, triggers and the alert
 * commands; the callbacks; the per-cycle observer; the maintenance switch; and one `stop` for
 * shutdown.
 *
 * What a reload (SIGHUP) changes: callback and trigger commands, their timeout, the lag limits,
 * the alert commands and `maintenance_mode_file` are read again at each use. `alert_file_dir`,
 * `json_state_file_path`, `statsd` and `heartbeat_table` (and `log.syslog`) are read at start
 * only (they own a directory, a file, a socket and a table); changing them needs a restart, which
 * a reload says (`changedReadAtStart`).
 */
import type { Config } from '../config/schema.js';
import type { Clock } from '../domain/clock.js';
import { Callbacks } from '../events/callbacks.js';
import { ClusterTriggers } from '../events/cluster-triggers.js';
import { CommandRunner } from '../events/runner.js';
import type { Logger } from '../log.js';
import { AlertFiles } from './alert-files.js';
import { OutsideViews } from './cycle-observer.js';
import { parseTableName } from './heartbeat.js';
import { HeartbeatMonitor, type ConnectionRunner } from './heartbeat-monitor.js';
import { MaintenanceMode } from './maintenance.js';
import { StateFileWriter } from './state-file.js';
import { StatsdClient } from './statsd.js';

export interface EventsDeps {
  /** The configuration in force (changes on reload). */
  config: () => Config;
  clock: Clock;
  log: Logger;
  /** Connections to the local server or another member (heartbeat table). */
  connect: ConnectionRunner;
  /** Why the last probe of the local PostgreSQL failed (authentication_error). */
  pgProbeError: () => string | null;
}

export interface NodeEvents {
  runner: CommandRunner;
  callbacks: Callbacks;
  views: OutsideViews;
  maintenance: MaintenanceMode;
  /**
   * At shutdown, after PostgreSQL stopped (so `on_stop` is already queued): refuses new
   * commands, gives running ones up to `graceMs`, kills the rest, closes the statsd socket.
   */
  stop(graceMs: number): Promise<void>;
}

/** The keys `buildNodeEvents` (and the daemon's logger) read at start only, with how to read them. */
const READ_AT_START: readonly [string, (c: Config) => unknown][] = [
  ['alert_file_dir', (c) => c.alert_file_dir],
  ['json_state_file_path', (c) => c.json_state_file_path],
  ['statsd', (c) => c.statsd],
  ['heartbeat_table', (c) => c.heartbeat_table],
  ['log.syslog', (c) => c.log.syslog],
];

/** The read-at-start keys whose value differs between the configuration the node started with and `now`. */
export function changedReadAtStart(started: Config, now: Config): string[] {
  return READ_AT_START.filter(([, get]) => JSON.stringify(get(started)) !== JSON.stringify(get(now))).map(([key]) => key);
}

export function buildNodeEvents(deps: EventsDeps): NodeEvents {
  const { config, log } = deps;
  const start = config();
  const runner = new CommandRunner(log);
  const timeoutSeconds = () => config().postgresql.callback_timeout;
  const callbacks = new Callbacks(runner, log, {
    get callbacks() {
      return config().postgresql.callbacks;
    },
    scope: start.scope,
    get timeoutSeconds() {
      return timeoutSeconds();
    },
  });
  const triggers = new ClusterTriggers(runner, log, {
    get triggers() {
      return config().triggers;
    },
    scope: start.scope,
    get timeoutSeconds() {
      return timeoutSeconds();
    },
    announceAs: start.name,
  });
  const statsd = start.statsd ? new StatsdClient(start.statsd, log) : null;
  const heartbeat = start.heartbeat_table.enabled
    ? new HeartbeatMonitor({ table: parseTableName(start.heartbeat_table.name), name: start.name, connect: deps.connect, log })
    : null;
  const views = new OutsideViews({
    name: start.name,
    scope: start.scope,
    clock: deps.clock,
    log,
    runner,
    alerts: new AlertFiles(start.alert_file_dir, log),
    triggers,
    stateFile: start.json_state_file_path === undefined ? null : new StateFileWriter(start.json_state_file_path, log),
    statsd,
    heartbeat,
    get limits() {
      const c = config();
      return {
        ...(c.warning_replication_bytes_lag !== undefined ? { bytes: c.warning_replication_bytes_lag } : {}),
        ...(c.warning_replication_time_lag !== undefined ? { seconds: c.warning_replication_time_lag } : {}),
      };
    },
    get overWarningLimitCommand() {
      return config().over_warning_limit_command;
    },
    get failoverCommand() {
      return config().failover_command;
    },
    get timeoutSeconds() {
      return timeoutSeconds();
    },
    pgProbeError: deps.pgProbeError,
  });
  const maintenance = new MaintenanceMode(() => config().maintenance_mode_file, log);
  return {
    runner,
    callbacks,
    views,
    maintenance,
    async stop(graceMs) {
      await runner.stop(graceMs);
      statsd?.close();
    },
  };
}
