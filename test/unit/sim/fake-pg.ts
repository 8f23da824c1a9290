import type { HistoryRow } from '../../../src/domain/cluster.js';
import type { PgStatus } from '../../../src/domain/pg-status.js';
import type { Scheduler } from './scheduler.js';
import { replicationRows, type Sender } from './sync-rep.js';

/**
 * WAL history as a tree: every promotion creates a timeline that forks from its parent at the
 * promoted node's position. Ids are unique even when two forks get the same timeline number, so
 * "can this replica stream from that server" is an exact question.
 */
export class Timelines {
  private rows = new Map<number, { num: number; parent: number | null; forkLsn: number }>();
  private next = 1;

  root(): number {
    return this.add(1, null, 0);
  }

  fork(parent: number, at: number): number {
    return this.add(this.num(parent) + 1, parent, at);
  }

  num(id: number): number {
    return this.rows.get(id)!.num;
  }

  /**
   * A server on timeline `tl` at `lsn` can replay WAL of a server on `upTl` iff `tl` is on
   * `upTl`'s ancestry and `lsn` is not past the point where `upTl`'s line left `tl`.
   */
  canFollow(tl: number, lsn: number, upTl: number): boolean {
    if (tl === upTl) return true;
    let child = upTl;
    for (;;) {
      const parent = this.rows.get(child)!.parent;
      if (parent === null) return false;
      if (parent === tl) return lsn <= this.rows.get(child)!.forkLsn;
      child = parent;
    }
  }

  /** History rows of timeline `tl` as `pg.timelineHistory` would read them (oldest first). */
  history(tl: number): HistoryRow[] {
    const rows: HistoryRow[] = [];
    let id = tl;
    for (;;) {
      const r = this.rows.get(id)!;
      if (r.parent === null) break;
      rows.unshift([this.num(r.parent), r.forkLsn, 'no recovery target specified']);
      id = r.parent;
    }
    return rows;
  }

  /** For reports: `5 (fork of 4@123456, #9)`; the `#id` tells apart forks with the same number. */
  describe(id: number): string {
    const r = this.rows.get(id)!;
    return r.parent === null ? `${r.num} (#${id})` : `${r.num} (fork of ${this.num(r.parent)}@${r.forkLsn}, #${id})`;
  }

  private add(num: number, parent: number | null, forkLsn: number): number {
    const id = this.next++;
    this.rows.set(id, { num, parent, forkLsn });
    return id;
  }
}

/**
 * One node's PostgreSQL, reduced to what the HA logic can observe: running or not, primary or
 * standby, WAL position and timeline, the source a standby streams from, and the control-file
 * state a stopped data directory reports.
 *
 * The server lives apart from the agent: a start or promote, once launched, completes on its own
 * schedule even if the agent is frozen; a crash or stop cancels what is pending. WAL moves in
 * `World.tick`: a primary's position grows with writes, a standby copies from its source.
 *
 * Synchronous replication (see `sync-rep.ts`): the running server's `synchronous_standby_names`
 * comes from the agent's adapter, which keeps pgwarden's override in memory and writes it into
 * the configuration at every start and reload (`LocalPostgres.writeParameters`); a new agent
 * process starts without an override, so its next start uses the configured value (`''`).
 *
 * Simplifications: checkpoints only at initdb, clean shutdown, after a promotion and on request
 * (the shutdown checkpoint record is the last WAL record, so it starts one byte before the end of
 * WAL); no slots; replication connections only as the world's list of WAL senders; streaming needs only the
 * source server to run and not be isolated from this one (etcd partitions do not cut
 * replication); a standby that cannot follow its source (diverged history) just stops advancing
 * and reports no upstream, as PostgreSQL's WAL receiver does when the source refuses its timeline
 * or start point.
 */
export class FakePg {
  /** Position at the start of the current tick: what a standby can have received by now. */
  lsnAtTickStart = 0;
  initialized = false;
  sysid: string | null = null;
  tl = 0;
  lsn = 0;
  running = false;
  inRecovery = true;
  /** Member a standby is configured to stream from (its recovery configuration), or null. */
  upstream: string | null = null;
  /**
   * Set by the world's tick: the WAL receiver really streams from `upstream` (source running,
   * reachable, history compatible). Only then does the probe report an upstream, as
   * `pg_stat_wal_receiver` shows `streaming` only for a working connection.
   */
  streaming = false;
  controlState: string | null = null;
  /** A postmaster is starting (pg_ctl start launched, not accepting connections yet). */
  starting = false;
  private epoch = 0;
  private startedAt = 0;
  /** Set by the world: flushes this primary's WAL to its connected standbys. */
  onCleanStop: (pg: FakePg) => void = () => undefined;
  /** Set by the world: the WAL senders of this server right now (standbys streaming from it). */
  senders: (pg: FakePg) => Sender[] = () => [];
  /** `synchronous_standby_names` of the running server. */
  ssn = '';
  /** The adapter's override (`setSyncStandbyNames`), applied at start and reload; null = configured `''`. */
  adapterSsn: string | null = null;
  /** The override as last written into `pgwarden.conf` (at start and reload), which a new adapter may adopt. */
  fileSsn: string | null = null;
  /**
   * Set by the world's tick: this standby's WAL sender reached `streaming` (it caught up with its
   * source once since it connected); cleared when it disconnects.
   */
  caughtUp = false;
  /** "Latest checkpoint location" of pg_controldata. */
  checkpointLsn: number | null = null;

  constructor(
    readonly name: string,
    private readonly sched: Scheduler,
    readonly timelines: Timelines,
    private readonly port: number,
  ) {}

  get isPrimary(): boolean {
    return this.running && !this.inRecovery;
  }

  /** Changes whenever the server starts, stops or moves to another timeline: one run as a primary. */
  get run(): string {
    return `${this.epoch}:${this.tl}`;
  }

  status(): PgStatus {
    if (!this.running) {
      return {
        running: false,
        postmasterAlive: this.starting,
        dataDirInitialized: this.initialized,
        systemIdentifier: this.sysid,
        controlState: this.controlState,
        timeline: this.initialized ? this.timelines.num(this.tl) : null,
      };
    }
    return {
      running: true,
      dataDirInitialized: true,
      systemIdentifier: this.sysid!,
      inRecovery: this.inRecovery,
      timeline: this.timelines.num(this.tl),
      lsn: this.lsn,
      receivedLsn: this.inRecovery ? this.lsn : null,
      replayedLsn: this.inRecovery ? this.lsn : null,
      replayedTimestamp: null,
      replayPaused: false,
      postmasterStartTime: `sim+${this.startedAt}ms`,
      serverVersion: 150000,
      replication: this.inRecovery ? [] : replicationRows(this.ssn, this.senders(this)),
      upstream: this.inRecovery && this.streaming && this.upstream ? `127.0.0.1:${this.port}` : null,
      pendingRestart: false,
      syncStandbyNames: this.ssn,
      syncStandbyNamesOverridden: this.adapterSsn !== null,
    };
  }

  /** `pg_ctl start`: the server accepts connections `delayMs` later unless it dies first. */
  launch(role: 'primary' | 'replica', upstream: string | null, delayMs: number): void {
    if (this.running || this.starting) return;
    this.starting = true;
    this.fileSsn = this.adapterSsn;
    const epoch = ++this.epoch;
    this.sched.after(delayMs, () => {
      if (epoch !== this.epoch) return;
      this.starting = false;
      this.running = true;
      this.startedAt = this.sched.now;
      this.inRecovery = role === 'replica';
      this.upstream = role === 'replica' ? upstream : null;
      this.controlState = role === 'replica' ? 'in archive recovery' : 'in production';
      this.ssn = this.adapterSsn ?? '';
    });
  }

  /** `setSyncStandbyNames` of the adapter: remembered, and applied at once by a reload if running. */
  setSsn(value: string | null): void {
    this.adapterSsn = value;
    this.fileSsn = value;
    if (this.running) this.ssn = value ?? '';
  }

  /**
   * A new agent's adapter (`LocalPostgres`): it keeps the override a running server was left
   * with (`adoptedSyncOverride`), and the daemon's first parameter write, once it has read etcd,
   * reloads the server with whatever the adapter then holds.
   */
  newAdapter(): void {
    this.adapterSsn = this.running || this.starting ? this.fileSsn : null;
    if (this.running) this.ssn = this.adapterSsn ?? '';
  }

  /** `CHECKPOINT` on a primary (a restartpoint on a standby, which pg_controldata does not show here). */
  checkpoint(): void {
    if (this.isPrimary) this.checkpointLsn = this.lsn;
  }

  /** `pg_ctl promote`: leaves recovery on a new timeline `delayMs` later, unless stopped first. */
  requestPromote(delayMs: number): void {
    const epoch = this.epoch;
    this.sched.after(delayMs, () => {
      if (epoch !== this.epoch || !this.running || !this.inRecovery) return;
      this.tl = this.timelines.fork(this.tl, this.lsn);
      this.inRecovery = false;
      this.upstream = null;
      this.controlState = 'in production';
    });
  }

  /**
   * `pg_ctl stop` sends its signal at once: the server goes down `delayMs` later whatever the
   * agent does meanwhile (even if it is frozen).
   */
  requestStop(mode: 'fast' | 'immediate', delayMs: number): void {
    const epoch = this.epoch;
    this.sched.after(delayMs, () => {
      if (epoch === this.epoch) this.halt(mode);
    });
  }

  /** Clean (`fast`) or `immediate` stop, or a crash; pending start/promote die with the server. */
  halt(how: 'fast' | 'immediate' | 'crash'): void {
    this.epoch++;
    if (this.running && how === 'fast') {
      this.controlState = this.inRecovery ? 'shut down in recovery' : 'shut down';
      // A clean shutdown sends all WAL to the connected standbys before the server exits.
      if (!this.inRecovery) {
        this.checkpointLsn = this.lsn - 1;
        this.onCleanStop(this);
      }
    }
    this.running = false;
    this.starting = false;
    this.streaming = false;
    this.caughtUp = false;
  }

  /** Points a running standby at another source (reload of primary_conninfo). */
  follow(upstream: string | null): void {
    if (this.running && this.inRecovery && upstream !== this.upstream) {
      this.upstream = upstream;
      this.streaming = false;
      this.caughtUp = false;
    }
  }

  initdb(sysid: string): void {
    this.initialized = true;
    this.sysid = sysid;
    this.tl = this.timelines.root();
    this.lsn = 0x2000000;
    this.checkpointLsn = this.lsn;
    this.controlState = 'shut down';
  }

  /** pg_basebackup from `src`, or pg_rewind to it: this data directory becomes `src`'s at its current position. */
  copyFrom(src: FakePg): void {
    this.initialized = true;
    this.sysid = src.sysid;
    this.tl = src.tl;
    this.lsn = src.lsn;
    this.checkpointLsn = src.lsn;
    this.controlState = 'in archive recovery';
  }

  /** True when this (stopped) data directory holds WAL its would-be source never had. */
  divergedFrom(src: FakePg): boolean {
    if (this.sysid !== src.sysid) return true;
    if (this.tl === src.tl) return src.inRecovery ? false : this.lsn > src.lsn;
    return !this.timelines.canFollow(this.tl, this.lsn, src.tl);
  }
}
