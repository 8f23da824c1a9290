/**
 * The local PostgreSQL server, driven through its own programs and disposable `pg` clients.
 * This class is thin: SQL and row parsing live in `queries.ts`, file rendering in `conf.ts`,
 * pg_ctl in `pgctl.ts`, child processes in `process.ts`, pg_rewind rules in `rewind.ts`.
 */
import { existsSync } from 'node:fs';
import type pg from 'pg';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { HistoryRow } from '../domain/cluster.js';
import { parseLsn, type Lsn } from '../domain/lsn.js';
import type { PgStatus } from '../domain/pg-status.js';
import { errorText, isPgwardenError, PgwardenError } from '../errors.js';
import { KeptClient, withClient, type ConnectParams } from './client.js';
import { RECOVERY_FILE, programOptions, type ParamValue, type ProgramOptions } from './conf.js';
import { readControlData } from './controldata.js';
import { asideName, historyFileName, listDir, parseHistoryFile, writeAtomic } from './files.js';
import { promoteServer, reloadServer, runningPostmaster, startServer, stopServer, type ServerPaths } from './pgctl.js';
import { isLivePostgres, runProgram } from './process.js';
import { CREATE_SLOT_QUERY, DROP_SLOT_QUERY, LIST_SLOTS_QUERY, parseStatusRow, planSlots, rewindGrantsSql, ROLE_EXISTS_QUERY, roleSql, STATUS_QUERY, type SlotRow, type StatusRow } from './queries.js';
import { OwnedFiles } from './owned-files.js';
import { RewindRunner } from './rewind-runner.js';
import type { FollowResult, Postgres, StartMode, StopMode, Upstream } from './port.js';

export interface Credentials {
  username: string;
  password?: string | undefined;
}

export interface PgLogger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export interface LocalPostgresOptions {
  /** Member name: `application_name` in primary_conninfo, slot names derive from it. */
  name: string;
  /** Cluster name (`scope`): written as `cluster_name`. */
  scope: string;
  /** Absolute path of the data directory. */
  dataDir: string;
  /** Directory of initdb, pg_ctl, ... e.g. `/usr/lib/postgresql/15/bin`. */
  binDir: string;
  /** `listen_addresses` and `port`. */
  listen: { hosts: string[]; port: number };
  /** Host used to reach the local server over TCP (e.g. 127.0.0.1). */
  connectHost: string;
  superuser: Credentials;
  replication: Credentials;
  /** pg_rewind's source connection user; the superuser when absent. */
  rewind?: Credentials | undefined;
  /** Effective parameters, read at every render (so reloads pick up dynamic config changes). */
  parameters: () => Record<string, ParamValue>;
  /** pg_hba lines; empty → a loopback-only default. */
  pgHba: () => string[];
  initdbOptions: ProgramOptions;
  basebackupOptions: ProgramOptions;
  bootstrapUsers: Record<string, { password?: string; options?: string[] }>;
  /** Written 0600 before pg_basebackup, pg_rewind and replica starts; PGPASSFILE for children. */
  pgpassPath: string;
  /** Deadline for every query: connecting, and each statement. */
  queryTimeoutMs: number;
  logger: PgLogger;
}

const INITDB_TIMEOUT_MS = 300_000;
const BASEBACKUP_TIMEOUT_MS = 12 * 3_600_000;
const CHECKPOINT_TIMEOUT_MS = 120_000;

/**
 * `Postgres` on this machine. Files it owns in the data directory (written by `OwnedFiles`):
 * `pgwarden.conf`, `pgwarden.recovery.conf`, `standby.signal`, `pg_hba.conf`, and one include
 * line at the end of `postgresql.conf`. The server log is `<data_dir>.log`, BESIDE the data directory:
 * pg_basebackup and pg_rewind copy everything inside it (a `log/` subdirectory included), so a
 * log kept inside would be cloned into every replica and overwritten by a rewind — exactly the
 * evidence an operator needs after a failover. (With `logging_collector = on` in the
 * parameters, the server writes its own log files and `<data_dir>.log` keeps the start-up lines.)
 */
export class LocalPostgres implements Postgres {
  private lastProbeError: string | null = null;
  /** Postmaster PID last verified by `postmasterAlive()`; see there. */
  private watchedPostmaster: number | null = null;
  private connectionLost: () => void = () => undefined;
  private readonly probeClient = new KeptClient(
    () => this.local(),
    () => this.connectionLost(),
  );
  private readonly rewinder: RewindRunner;
  private readonly files: OwnedFiles;

  constructor(private readonly o: LocalPostgresOptions) {
    this.files = new OwnedFiles(o);
    this.rewinder = new RewindRunner({
      binDir: o.binDir,
      dataDir: o.dataDir,
      logger: o.logger,
      rewindUser: (o.rewind ?? o.superuser).username,
      server: () => this.server(),
      sourceConnection: (source) => this.connection(source.host, source.port),
      prepare: async (mode) => {
        await this.files.writePgpass();
        if (mode === 'standby') await this.files.writeConfig({ role: 'replica', upstream: null, slotName: null });
        else await this.files.writeParameters();
      },
      writePgpass: () => this.files.writePgpass(),
    });
  }

  /** Where pg_ctl sends the server's output (see the class comment for why it is outside). */
  get logPath(): string {
    return `${this.o.dataDir.replace(/\/+$/, '')}.log`;
  }

  private file(name: string): string {
    return join(this.o.dataDir, name);
  }

  private server(): ServerPaths {
    return { binDir: this.o.binDir, dataDir: this.o.dataDir, logPath: this.logPath, logger: this.o.logger, env: { PGPASSFILE: this.o.pgpassPath } };
  }

  private connection(host: string, port: number): ConnectParams {
    return { host, port, user: this.o.superuser.username, password: this.o.superuser.password, timeoutMs: this.o.queryTimeoutMs };
  }

  private local(): ConnectParams {
    return this.connection(this.o.connectHost, this.o.listen.port);
  }

  /**
   * Runs `fn` on a fresh superuser connection to the local server, or to `server` (another
   * member), within `timeoutMs` per connect and statement. Not part of the HA port: the outside
   * views (heartbeat table) use it, and a failure there never reaches an HA decision.
   */
  withConnection<T>(server: { host: string; port: number } | null, what: string, fn: (c: pg.Client) => Promise<T>, timeoutMs = this.o.queryTimeoutMs): Promise<T> {
    const target = server ?? { host: this.o.connectHost, port: this.o.listen.port };
    return withClient({ ...this.connection(target.host, target.port), timeoutMs }, what, fn);
  }

  /**
   * Why the last probe of a running server could not query it (e.g. a refused login, with its
   * SQLSTATE), or null when it answered: feeds the `authentication_error` alert.
   */
  probeError(): string | null {
    return this.lastProbeError;
  }

  async probe(): Promise<PgStatus> {
    if (!existsSync(this.file('PG_VERSION'))) {
      return { running: false, postmasterAlive: runningPostmaster(this.o.dataDir) !== null, dataDirInitialized: false, systemIdentifier: null, controlState: null, timeline: null };
    }
    const alive = runningPostmaster(this.o.dataDir) !== null;
    if (alive) {
      try {
        const row = (await this.probeClient.query<StatusRow>(STATUS_QUERY, 'probe'))[0];
        if (row === undefined) throw new PgwardenError('BUG', 'the status query returned no row');
        const status = parseStatusRow(row, this.files.syncStandbyNames !== null);
        this.lastProbeError = null;
        return status;
      } catch (e) {
        if (isPgwardenError(e, 'BUG')) throw e;
        // Logged once per distinct reason: "starting up" is routine, a failed login is not.
        const text = errorText(e);
        if (text !== this.lastProbeError) {
          const line = `PostgreSQL runs but does not answer queries: ${text}`;
          if (isPgwardenError(e, 'PG_UNAVAILABLE')) this.o.logger.info(line);
          else this.o.logger.warn(line);
        }
        this.lastProbeError = text;
      }
    }
    const cd = await readControlData(this.o.binDir, this.o.dataDir).catch(() => null);
    return {
      running: false,
      postmasterAlive: alive && runningPostmaster(this.o.dataDir) !== null,
      dataDirInitialized: true,
      systemIdentifier: cd?.systemIdentifier ?? null,
      controlState: cd?.state ?? null,
      timeline: cd?.timeline ?? null,
    };
  }

  /** Refuses to put a cluster into a directory that holds anything. */
  private async requireEmptyDataDir(what: string): Promise<boolean> {
    const entries = await listDir(this.o.dataDir);
    if (entries !== null && entries.length > 0) {
      throw new PgwardenError('PG_COMMAND_FAILED', `refusing to run ${what} into ${this.o.dataDir}: the directory is not empty`);
    }
    return entries !== null;
  }

  /** Removes what a failed initdb/pg_basebackup left; the directory itself stays if it existed before. */
  private async removePartial(existedBefore: boolean, why: string): Promise<void> {
    this.o.logger.warn(`removing the partial data directory ${this.o.dataDir} (${why}); it is not the only copy of anything`);
    if (!existedBefore) {
      await rm(this.o.dataDir, { recursive: true, force: true });
      return;
    }
    for (const entry of (await listDir(this.o.dataDir)) ?? []) await rm(join(this.o.dataDir, entry), { recursive: true, force: true });
  }

  async initdb(signal?: AbortSignal): Promise<void> {
    const existed = await this.requireEmptyDataDir('initdb');
    await mkdir(dirname(this.o.dataDir), { recursive: true });
    const args = ['-D', this.o.dataDir, `--username=${this.o.superuser.username}`, '--auth-local=trust', '--auth-host=scram-sha-256'];
    const pwDir = this.o.superuser.password ? await mkdtemp(join(tmpdir(), 'pgwarden-initdb-')) : null;
    if (pwDir !== null) {
      await writeFile(join(pwDir, 'pw'), `${this.o.superuser.password ?? ''}\n`, { mode: 0o600 });
      args.push(`--pwfile=${join(pwDir, 'pw')}`);
    } else {
      this.o.logger.warn('no superuser password is configured: pgwarden can only connect if pg_hba.conf trusts it');
    }
    args.push(...programOptions(this.o.initdbOptions));
    this.o.logger.info(`initializing a new cluster in ${this.o.dataDir} (initdb)`);
    try {
      // The user's locale is kept: initdb derives the cluster's default collation from it.
      await runProgram(join(this.o.binDir, 'initdb'), args, { timeoutMs: INITDB_TIMEOUT_MS, signal });
    } catch (e) {
      await this.removePartial(existed, `initdb failed: ${errorText(e)}`);
      throw e;
    } finally {
      if (pwDir !== null) await rm(pwDir, { recursive: true, force: true });
    }
  }

  async createBootstrapUsers(): Promise<void> {
    const su = this.o.superuser;
    const roles: { name: string; password: string | undefined; options: string[]; grants: string[] }[] = [];
    if (su.password) roles.push({ name: su.username, password: su.password, options: [], grants: [] });
    if (this.o.replication.username !== su.username) roles.push({ name: this.o.replication.username, password: this.o.replication.password, options: ['REPLICATION'], grants: [] });
    const rw = this.o.rewind;
    if (rw && rw.username !== su.username) roles.push({ name: rw.username, password: rw.password, options: [], grants: rewindGrantsSql(rw.username) });
    for (const [name, u] of Object.entries(this.o.bootstrapUsers)) roles.push({ name, password: u.password, options: u.options ?? [], grants: [] });
    const statements = roles.length * 3 + 3;
    await withClient(this.local(), 'creating bootstrap users', async (c) => {
      // Keep passwords out of the server log, whatever log_statement says.
      await c.query("SET log_statement = 'none'; SET log_min_duration_statement = -1; SET log_min_error_statement = 'panic'");
      for (const r of roles) {
        const exists = (await c.query(ROLE_EXISTS_QUERY, [r.name])).rowCount === 1;
        await c.query(roleSql(r.name, exists, r.password, r.options));
        for (const g of r.grants) await c.query(g);
        this.o.logger.info(`${exists ? 'updated' : 'created'} role ${r.name}`);
      }
    }, statements * this.o.queryTimeoutMs);
  }

  async basebackup(source: Upstream, signal?: AbortSignal): Promise<void> {
    const existed = await this.requireEmptyDataDir('pg_basebackup');
    await this.files.writePgpass();
    await mkdir(dirname(this.o.dataDir), { recursive: true });
    const args = ['-D', this.o.dataDir, '-X', 'stream', '-c', 'fast', '-h', source.host, '-p', String(source.port), '-U', this.o.replication.username, '--no-password', ...programOptions(this.o.basebackupOptions)];
    this.o.logger.info(`cloning ${source.name} (${source.host}:${source.port}) into ${this.o.dataDir} with pg_basebackup`);
    try {
      await runProgram(join(this.o.binDir, 'pg_basebackup'), args, { timeoutMs: BASEBACKUP_TIMEOUT_MS, signal, env: { PGPASSFILE: this.o.pgpassPath } });
    } catch (e) {
      await this.removePartial(existed, `pg_basebackup failed: ${errorText(e)}`);
      throw e;
    }
    await chmod(this.o.dataDir, 0o700);
    this.o.logger.info(`clone of ${source.name} complete`);
  }

  async start(mode: StartMode, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const pid = runningPostmaster(this.o.dataDir);
    if (pid !== null) throw new PgwardenError('PG_COMMAND_FAILED', `PostgreSQL is already running in ${this.o.dataDir} (postmaster PID ${pid})`);
    if (!existsSync(this.file('PG_VERSION'))) throw new PgwardenError('PG_COMMAND_FAILED', `cannot start PostgreSQL: ${this.o.dataDir} holds no cluster`);
    await this.files.writeConfig(mode);
    const role = mode.role === 'primary' ? 'primary' : `replica of ${mode.upstream ? `${mode.upstream.name} (${mode.upstream.host}:${mode.upstream.port})` : 'nobody (read-only, no source)'}`;
    this.o.logger.info(`starting PostgreSQL as ${role}; server log ${this.logPath}`);
    await startServer(this.server(), timeoutMs, signal);
  }

  async stop(mode: StopMode, timeoutMs: number): Promise<void> {
    await stopServer(this.server(), mode, timeoutMs);
  }

  async restart(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (!existsSync(this.file('PG_VERSION'))) throw new PgwardenError('PG_COMMAND_FAILED', `cannot restart PostgreSQL: ${this.o.dataDir} holds no cluster`);
    this.o.logger.info('restarting PostgreSQL (fast stop, then start with the same role)');
    await stopServer(this.server(), 'fast', timeoutMs);
    await this.files.writeParameters();
    await startServer(this.server(), timeoutMs, signal);
  }

  async lastCheckpointLsn(): Promise<Lsn | null> {
    return (await readControlData(this.o.binDir, this.o.dataDir)).checkpointLsn;
  }

  async receivedLsnOf(server: Upstream): Promise<Lsn | null> {
    const row = await withClient(this.connection(server.host, server.port), `asking ${server.name} how much WAL it received`, async (c) =>
      (await c.query<{ l: string | null }>('SELECT pg_last_wal_receive_lsn()::text AS l')).rows[0]);
    return row?.l ? parseLsn(row.l) : null;
  }

  async removeDataDir(): Promise<void> {
    const pid = runningPostmaster(this.o.dataDir);
    if (pid !== null) throw new PgwardenError('PG_COMMAND_FAILED', `will not delete ${this.o.dataDir}: PostgreSQL runs in it (PID ${pid})`);
    await rm(this.o.dataDir, { recursive: true, force: true });
    this.o.logger.warn(`deleted data directory ${this.o.dataDir} (reinitialize requested by an operator)`);
  }

  /**
   * Cheap enough to ask often: the postmaster PID found by the full check (postmaster.pid,
   * command name, working directory) is re-checked with one /proc read, and the full check
   * runs again only once that PID is gone.
   */
  postmasterAlive(): boolean {
    if (this.watchedPostmaster !== null && isLivePostgres(this.watchedPostmaster)) return true;
    this.watchedPostmaster = runningPostmaster(this.o.dataDir);
    return this.watchedPostmaster !== null;
  }

  onConnectionLost(listener: () => void): void {
    this.connectionLost = listener;
  }

  async closeConnections(): Promise<void> {
    await this.probeClient.close();
  }

  async promote(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    // One connection for the whole wait; asked every 10 ms, so writes resume as soon as PostgreSQL
    // has left recovery (typically 50-150 ms after the request).
    await withClient(this.local(), 'promote', async (c) => {
      const inRecovery = async () => (await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]?.r === true;
      if (!(await inRecovery())) {
        this.o.logger.info('PostgreSQL already runs as a primary; nothing to promote');
        return;
      }
      this.o.logger.info('promoting PostgreSQL (pg_ctl promote)');
      await promoteServer(this.server());
      while (await inRecovery()) {
        if (Date.now() >= deadline) throw new PgwardenError('PG_TIMEOUT', `PostgreSQL was still in recovery ${timeoutMs} ms after pg_ctl promote`);
        await new Promise((r) => setTimeout(r, 10));
      }
    }, timeoutMs + 15_000);
  }

  async follow(upstream: Upstream | null, slotName: string | null): Promise<FollowResult> {
    if (runningPostmaster(this.o.dataDir) === null || !existsSync(this.file('standby.signal'))) return 'restart-needed';
    const wanted = this.files.recoveryText(upstream, slotName);
    const current = await readFile(this.file(RECOVERY_FILE), 'utf8').catch(() => '');
    if (current === wanted) return 'unchanged';
    await this.files.writePgpass();
    await writeAtomic(this.file(RECOVERY_FILE), wanted);
    try {
      await reloadServer(this.server());
    } catch (e) {
      // Put the old file back so the next call sees the difference again and retries.
      await writeAtomic(this.file(RECOVERY_FILE), current).catch(() => undefined);
      throw e;
    }
    this.o.logger.info(`reloaded PostgreSQL to stream from ${upstream ? `${upstream.name} (${upstream.host}:${upstream.port})` : 'nobody'}`);
    return 'reloaded';
  }

  async needsRewind(source: Upstream): Promise<boolean> {
    return this.rewinder.needsRewind(source);
  }

  async rewind(source: Upstream, signal?: AbortSignal): Promise<void> {
    await this.rewinder.rewind(source, signal);
  }

  async moveDataDirAside(reason: string): Promise<string> {
    const pid = runningPostmaster(this.o.dataDir);
    if (pid !== null) throw new PgwardenError('PG_COMMAND_FAILED', `will not move ${this.o.dataDir} aside: PostgreSQL runs in it (PID ${pid})`);
    if (!existsSync(this.o.dataDir)) throw new PgwardenError('PG_COMMAND_FAILED', `cannot move ${this.o.dataDir} aside: it does not exist`);
    let target = asideName(this.o.dataDir, new Date());
    for (let n = 1; existsSync(target); n++) target = `${asideName(this.o.dataDir, new Date())}-${n}`;
    await rename(this.o.dataDir, target);
    this.o.logger.warn(`moved data directory ${this.o.dataDir} to ${target} because ${reason}; nothing was deleted`);
    return target;
  }

  async syncReplicationSlots(wanted: readonly string[]): Promise<void> {
    await withClient(this.local(), 'syncing replication slots', async (c) => {
      const plan = planSlots((await c.query<SlotRow>(LIST_SLOTS_QUERY)).rows, wanted);
      for (const name of plan.create) {
        await c.query(CREATE_SLOT_QUERY, [name]);
        this.o.logger.info(`created physical replication slot ${name}`);
      }
      for (const name of plan.drop) {
        await c.query(DROP_SLOT_QUERY, [name]).then(
          () => this.o.logger.info(`dropped physical replication slot ${name}: no member uses it`),
          (e: unknown) => this.o.logger.warn(`could not drop replication slot ${name}: ${errorText(e)}`),
        );
      }
    }, (wanted.length + 4) * this.o.queryTimeoutMs);
  }

  async checkpoint(): Promise<void> {
    const params = { ...this.local(), statementTimeoutMs: Math.max(CHECKPOINT_TIMEOUT_MS, this.o.queryTimeoutMs) };
    await withClient(params, 'CHECKPOINT', (c) => c.query('CHECKPOINT'));
  }

  async timelineHistory(timeline: number): Promise<HistoryRow[]> {
    if (timeline <= 1) return [];
    const path = join(this.o.dataDir, 'pg_wal', historyFileName(timeline));
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      throw new PgwardenError('PG_COMMAND_FAILED', `cannot read timeline history ${path}: ${errorText(e)}`, { cause: e });
    }
    return parseHistoryFile(text);
  }

  async setSyncStandbyNames(value: string | null): Promise<void> {
    if (value !== this.files.syncStandbyNames) {
      this.o.logger.info(value === null ? 'synchronous_standby_names: back to the configured value' : `synchronous_standby_names = '${value}'`);
    }
    this.files.syncStandbyNames = value;
    await this.reload();
  }

  async reload(): Promise<void> {
    if (!existsSync(this.file('PG_VERSION'))) return;
    await this.files.writeParameters();
    if (runningPostmaster(this.o.dataDir) !== null) await reloadServer(this.server());
  }
}
