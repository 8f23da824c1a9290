/**
 * Operator commands that act on the local PostgreSQL (`POST /restart`, `POST /reinitialize`,
 * scheduled restarts). They run as background tasks like the HA loop's own long actions, and
 * they start only at the beginning of a cycle, before the loop observes: so `decide` always sees
 * the command's task as running and never starts a second one beside it.
 */
import { findMember, type ClusterSnapshot } from '../domain/cluster.js';
import type { PgStatus } from '../domain/pg-status.js';
import { errorText } from '../errors.js';
import { memberUpstream } from '../ha/upstream.js';
import { reinitialize, restartPg, type ShellContext } from './executors.js';

/** Filters of `POST /restart` (reference §2.6); a restart runs only when all of them match. */
export interface RestartFilters {
  role?: 'primary' | 'replica';
  /** `server_version` number (e.g. 150004): restart only when the running server is older. */
  postgresVersion?: number;
  /** Restart only when PostgreSQL reports a pending restart. */
  restartPending?: boolean;
  /** Seconds the restart may take. */
  timeoutSeconds?: number;
}

/** A restart waiting for its time, as shown in member data and `/patroni` `scheduled_restart`. */
export interface ScheduledRestart {
  /** ISO 8601 text as given. */
  schedule: string;
  atEpochMs: number;
  filters: RestartFilters;
  /** Original request fields, echoed in member data like Patroni does. */
  request: Record<string, unknown>;
  postmasterStartTime: string | null;
}

/** Outcome of a command, with Patroni's status codes and texts. */
export interface CommandResult {
  status: number;
  message: string;
}

/** Why the local server does not match the restart filters, or null when it does. */
export function restartMismatch(f: RestartFilters, pg: PgStatus | null): string | null {
  if (f.role !== undefined) {
    const role = pg?.running ? (pg.inRecovery ? 'replica' : 'primary') : null;
    if (role !== f.role) return `host role mismatch (asked ${f.role}, running as ${role ?? 'stopped'})`;
  }
  if (f.postgresVersion !== undefined && pg?.running && f.postgresVersion <= pg.serverVersion) {
    return `postgres version mismatch (server ${pg.serverVersion} is not older than ${f.postgresVersion})`;
  }
  if (f.restartPending && !(pg?.running && pg.pendingRestart)) return 'pending restart flag is not set';
  return null;
}

type Pending =
  | { kind: 'restart'; filters: RestartFilters; done: (r: CommandResult) => void }
  | { kind: 'reinit'; force: boolean; done: (r: CommandResult) => void };

/** What the commands need from the loop besides the shell context. */
export interface CommandHost {
  ctx: ShellContext;
  lastPg(): PgStatus | null;
  lastCluster(): ClusterSnapshot | null;
  wake(): void;
}

export class OperatorCommands {
  private pending: Pending | null = null;
  private scheduled: ScheduledRestart | null = null;

  constructor(private readonly host: CommandHost) {}

  /** `POST /restart` without `schedule`: resolves when the restart finished or was refused. */
  restartNow(filters: RestartFilters): Promise<CommandResult> {
    const busy = this.busy();
    if (busy) return Promise.resolve(busy);
    const mismatch = restartMismatch(filters, this.host.lastPg());
    if (mismatch) {
      this.host.ctx.log.info(`restart refused: ${mismatch}`);
      return Promise.resolve({ status: 503, message: 'restart conditions are not satisfied' });
    }
    return new Promise((done) => {
      this.pending = { kind: 'restart', filters, done };
      this.host.wake();
    });
  }

  /** `POST /restart` with `schedule`: 202, or 409 when one is already scheduled. */
  scheduleRestart(r: ScheduledRestart): CommandResult {
    if (this.scheduled) return { status: 409, message: 'Another restart is already scheduled' };
    this.scheduled = r;
    this.host.ctx.log.info(`restart scheduled at ${r.schedule}`);
    this.host.wake();
    return { status: 202, message: 'Restart scheduled' };
  }

  /** `DELETE /restart`. */
  cancelScheduledRestart(): CommandResult {
    if (!this.scheduled) return { status: 404, message: 'no restarts are scheduled' };
    this.scheduled = null;
    this.host.ctx.log.info('scheduled restart deleted');
    return { status: 200, message: 'scheduled restart deleted' };
  }

  get scheduledRestart(): ScheduledRestart | null {
    return this.scheduled;
  }

  /** `POST /reinitialize`: resolves once the re-clone started (or was refused). */
  async reinitialize(force: boolean): Promise<CommandResult> {
    const cluster = this.host.lastCluster();
    const leader = cluster?.leader?.name ?? null;
    if (leader === null) return { status: 503, message: 'Cluster has no leader, can not reinitialize' };
    if (leader === this.host.ctx.name) return { status: 503, message: 'I am the leader, can not reinitialize' };
    const busy = force ? null : this.busy();
    if (busy) return busy;
    return new Promise((done) => {
      this.pending = { kind: 'reinit', force, done };
      this.host.wake();
    });
  }

  /** Milliseconds until the scheduled restart is due (for the loop's wait), or null. */
  msUntilScheduled(wallNow: number): number | null {
    return this.scheduled ? Math.max(0, this.scheduled.atEpochMs - wallNow) : null;
  }

  /**
   * Called by the loop at the start of a cycle: starts the pending command (or a scheduled
   * restart that is due) as a background task, or answers why it cannot run.
   */
  async startDue(wallNow: number): Promise<void> {
    const { ctx } = this.host;
    if (this.scheduled && wallNow >= this.scheduled.atEpochMs && !this.pending) {
      const s = this.scheduled;
      this.scheduled = null;
      const mismatch = restartMismatch(s.filters, this.host.lastPg());
      if (mismatch) ctx.log.warn(`scheduled restart at ${s.schedule} skipped: ${mismatch}`);
      else this.pending = { kind: 'restart', filters: s.filters, done: (r) => ctx.log.info(`scheduled restart: ${r.message}`) };
    }
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    if (p.kind === 'reinit') {
      await this.startReinit(p.force, p.done);
      return;
    }
    const busy = this.busy();
    if (busy) return p.done(busy);
    const timeoutMs = (p.filters.timeoutSeconds ?? 60) * 1000;
    ctx.tasks.start('restart', async (signal) => {
      try {
        await restartPg(ctx, timeoutMs, signal);
        p.done({ status: 200, message: 'restarted successfully' });
      } catch (e) {
        ctx.log.error(`restart failed: ${errorText(e)}`);
        p.done({ status: 503, message: 'restart failed' });
        throw e;
      }
    });
  }

  private async startReinit(force: boolean, done: (r: CommandResult) => void): Promise<void> {
    const { ctx } = this.host;
    const cluster = this.host.lastCluster();
    const leaderName = cluster?.leader?.name ?? null;
    const leader = cluster && leaderName ? findMember(cluster, leaderName) : undefined;
    if (!leader) return done({ status: 503, message: 'Cluster has no leader, can not reinitialize' });
    if (leader.name === ctx.name) return done({ status: 503, message: 'I am the leader, can not reinitialize' });
    const upstream = memberUpstream(leader);
    if (!upstream) return done({ status: 503, message: `cannot parse the conn_url of the leader ${leader.name}` });
    if (ctx.tasks.running) {
      if (!force) return done({ status: 503, message: `${ctx.tasks.running.kind} already in progress` });
      ctx.log.warn(`reinitialize with force: cancelling ${ctx.tasks.running.kind}`);
      await ctx.tasks.cancel(10_000);
    }
    ctx.log.warn(`reinitialize requested: deleting the data directory and cloning again from ${leader.name}`);
    ctx.tasks.start('reinit', (signal) => reinitialize(ctx, upstream, signal));
    done({ status: 200, message: 'reinitialize started' });
  }

  private busy(): CommandResult | null {
    const t = this.host.ctx.tasks.running;
    return t ? { status: 503, message: `${t.kind} already in progress` } : null;
  }
}
