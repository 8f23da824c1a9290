/**
 * Patroni's `postgresql.callbacks`, fired from the one place that knows for sure that a
 * PostgreSQL action succeeded: a decorator around the `Postgres` port. The HA loop, its
 * executors and the decision core do not change; they call the port as before, and every
 * successful start, stop, restart, reload or promotion of the local server submits its callback
 * to the background runner (never awaited, so a slow or failing script cannot delay or alter an
 * HA decision). A failed action fires nothing.
 *
 * Which action a start is: the decorator remembers the role the server last ran with (from
 * every probe, start and promotion). A server that ran as primary and is started as a replica
 * (a demoted or rejoining former leader) fires `on_role_change replica` instead of `on_start`,
 * and a promotion fires `on_role_change primary`, as Patroni does; any other start fires
 * `on_start` with the role it started in. Stops and reloads of a server that was not running
 * fire nothing (the port treats them as no-ops too).
 */
import type { ClusterSnapshot, HistoryRow } from '../domain/cluster.js';
import type { Lsn } from '../domain/lsn.js';
import type { PgStatus } from '../domain/pg-status.js';
import type { Callbacks } from '../events/callbacks.js';
import type { CallbackAction } from '../events/config.js';
import { buildEventDocument } from '../events/document.js';
import type { FollowResult, Postgres, StartMode, StopMode, Upstream } from './port.js';

type RunningRole = 'primary' | 'replica';

export interface CallbackContext {
  /** This member's name, for the document's `member`. */
  name: string;
  scope: string;
  /**
   * The cluster for the document, read when the action has finished (a promotion follows the
   * leader key's acquisition, which the loop's last snapshot predates); resolves null when
   * unknown and never rejects. Awaited in the background only.
   */
  cluster: () => Promise<ClusterSnapshot | null>;
}

export class PostgresWithCallbacks implements Postgres {
  /** Role the server last ran with; null until known (first probe or start). Kept across stops. */
  private role: RunningRole | null = null;

  constructor(
    private readonly inner: Postgres,
    private readonly callbacks: Callbacks,
    private readonly context: CallbackContext,
  ) {}

  /** Role the server last ran with, as the callbacks see it (for tests and logs). */
  lastRole(): RunningRole | null {
    return this.role;
  }

  async probe(): Promise<PgStatus> {
    const status = await this.inner.probe();
    if (status.running) this.role = status.inRecovery ? 'replica' : 'primary';
    return status;
  }

  async start(mode: StartMode, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    await this.inner.start(mode, timeoutMs, signal);
    const before = this.role;
    this.role = mode.role;
    this.fire(before === 'primary' && mode.role === 'replica' ? 'on_role_change' : 'on_start', mode.role, 'running');
  }

  async stop(mode: StopMode, timeoutMs: number): Promise<void> {
    const wasRunning = this.inner.postmasterAlive();
    await this.inner.stop(mode, timeoutMs);
    if (wasRunning) this.fire('on_stop', this.role ?? 'unknown', 'stopped');
  }

  async restart(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    await this.inner.restart(timeoutMs, signal);
    this.fire('on_restart', this.role ?? 'unknown', 'running');
  }

  async reload(): Promise<void> {
    const wasRunning = this.inner.postmasterAlive();
    await this.inner.reload();
    if (wasRunning) this.fire('on_reload', this.role ?? 'unknown', 'running');
  }

  async promote(timeoutMs: number): Promise<void> {
    const before = this.role;
    await this.inner.promote(timeoutMs);
    this.role = 'primary';
    if (before !== 'primary') this.fire('on_role_change', 'primary', 'running');
  }

  /** Builds the document and submits the callback in the background; the caller never waits. */
  private fire(action: CallbackAction, role: string, state: string): void {
    const now = new Date();
    void this.context
      .cluster()
      .catch(() => null)
      .then((cluster) => {
        const doc = buildEventDocument({ event: action, scope: this.context.scope, cluster, member: { name: this.context.name, role, state }, now });
        this.callbacks.fire(action, role, doc);
      });
  }

  // Everything else passes through unchanged.
  postmasterAlive(): boolean {
    return this.inner.postmasterAlive();
  }
  onConnectionLost(listener: () => void): void {
    this.inner.onConnectionLost(listener);
  }
  closeConnections(): Promise<void> {
    return this.inner.closeConnections();
  }
  initdb(signal?: AbortSignal): Promise<void> {
    return this.inner.initdb(signal);
  }
  createBootstrapUsers(): Promise<void> {
    return this.inner.createBootstrapUsers();
  }
  basebackup(source: Upstream, signal?: AbortSignal): Promise<void> {
    return this.inner.basebackup(source, signal);
  }
  lastCheckpointLsn(): Promise<Lsn | null> {
    return this.inner.lastCheckpointLsn();
  }
  receivedLsnOf(server: Upstream): Promise<Lsn | null> {
    return this.inner.receivedLsnOf(server);
  }
  removeDataDir(): Promise<void> {
    return this.inner.removeDataDir();
  }
  follow(upstream: Upstream | null, slotName: string | null): Promise<FollowResult> {
    return this.inner.follow(upstream, slotName);
  }
  rewind(source: Upstream, signal?: AbortSignal): Promise<void> {
    return this.inner.rewind(source, signal);
  }
  needsRewind(source: Upstream): Promise<boolean> {
    return this.inner.needsRewind(source);
  }
  moveDataDirAside(reason: string): Promise<string> {
    return this.inner.moveDataDirAside(reason);
  }
  syncReplicationSlots(wanted: readonly string[]): Promise<void> {
    return this.inner.syncReplicationSlots(wanted);
  }
  checkpoint(): Promise<void> {
    return this.inner.checkpoint();
  }
  timelineHistory(timeline: number): Promise<HistoryRow[]> {
    return this.inner.timelineHistory(timeline);
  }
  setSyncStandbyNames(value: string | null): Promise<void> {
    return this.inner.setSyncStandbyNames(value);
  }
}
