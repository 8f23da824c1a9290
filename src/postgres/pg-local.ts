import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, rm, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { parseLsn } from '../domain/lsn.js';
import type { HistoryRow } from '../domain/cluster.js';
import type { PgStatus } from '../domain/pg-status.js';
import { errorText, isPgwardenError, PgwardenError } from '../errors.js';
import type { Logger } from '../log.js';
import { isCleanShutdown, parseControlData, type ControlData } from './pg-controldata.js';
import { conninfo, parseHistoryFile, PRIMARY_RECOVERY, programOptions, type ProgramOptions, renderHba, renderParameters, renderPgpass, renderRecovery, type ParamValue } from './pg-conf.js';
import { runProgram } from './pg-process.js';
import { ensureRoleSql, ident, literal, parseStatusRow, rewindGrantsSql, STATUS_QUERY, type StatusRow } from './pg-queries.js';
import type { FollowResult, Postgres, StartMode, StopMode, Upstream } from './port.js';

export interface Credentials {
  username: string;
  password?: string;
}

export interface LocalPostgresOptions {
  name: string;
  scope: string;
  dataDir: string;
  binDir: string;
  listen: { hosts: string[]; port: number };
  connectHost: string;
  superuser: Credentials;
  replication: Credentials;
  rewind?: Credentials;
  parameters: () => Record<string, ParamValue>;
  pgHba: () => string[];
  initdbOptions: ProgramOptions;
  basebackupOptions: ProgramOptions;
  bootstrapUsers: Record<string, { password?: string; options?: string[] }>;
  pgpassPath: string;
  queryTimeoutMs: number;
  logger: Logger;
}

const CONF = 'pgwarden.conf';
const RECOVERY = 'pgwarden.recovery.conf';
const INCLUDE_LINE = `include_if_exists = '${CONF}'`;

/** Writes a file atomically: a temp file in the same directory, then rename. */
async function writeAtomic(path: string, content: string, mode = 0o600): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, content, { mode });
  await rename(tmp, path);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The local PostgreSQL 15 server, driven through its own programs (initdb, pg_ctl,
 * pg_basebackup, pg_rewind, pg_controldata) and short-lived `pg` clients. See the `Postgres`
 * port for the contract. The server log goes to `<data_dir>.log` (beside the data directory, so
 * pg_basebackup and pg_rewind never copy or overwrite it).
 */
export class LocalPostgres implements Postgres {
  constructor(private readonly o: LocalPostgresOptions) {}

  private bin(name: string): string {
    return join(this.o.binDir, name);
  }

  private file(name: string): string {
    return join(this.o.dataDir, name);
  }

  get logPath(): string {
    return `${this.o.dataDir}.log`;
  }

  private childEnv(): Record<string, string> {
    return { PGPASSFILE: this.o.pgpassPath, PGCONNECT_TIMEOUT: '5' };
  }

  private postmasterPid(): number | null {
    try {
      const first = readFileSync(this.file('postmaster.pid'), 'utf8').split('\n')[0];
      const pid = Number(first);
      return Number.isInteger(pid) && pid > 0 ? pid : null;
    } catch {
      return null;
    }
  }

  private postmasterAlive(): boolean {
    const pid = this.postmasterPid();
    return pid !== null && pidAlive(pid);
  }

  private async controlData(): Promise<ControlData> {
    const { stdout } = await runProgram(this.bin('pg_controldata'), ['-D', this.o.dataDir], { timeoutMs: 10_000 });
    return parseControlData(stdout);
  }

  /** One short-lived client: always an 'error' listener, always ended. */
  private async query<R extends pg.QueryResultRow>(sql: string): Promise<R[]> {
    const client = new pg.Client({
      host: this.o.connectHost,
      port: this.o.listen.port,
      user: this.o.superuser.username,
      password: this.o.superuser.password,
      database: 'postgres',
      application_name: 'pgwarden',
      connectionTimeoutMillis: this.o.queryTimeoutMs,
      query_timeout: this.o.queryTimeoutMs,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const r = await client.query<R>(sql);
      return r.rows;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async probe(): Promise<PgStatus> {
    const initialized = existsSync(this.file('PG_VERSION'));
    if (!initialized) {
      return { running: false, postmasterAlive: false, dataDirInitialized: false, systemIdentifier: null, controlState: null, timeline: null };
    }
    const alive = this.postmasterAlive();
    if (alive) {
      try {
        const [row] = await this.query<StatusRow>(STATUS_QUERY);
        if (row) return parseStatusRow(row);
      } catch {
        // Not accepting connections (starting, stopping, recovering): report it as not running.
      }
    }
    const cd = await this.controlData().catch(() => ({ systemIdentifier: null, state: null, timeline: null }));
    return { running: false, postmasterAlive: alive && this.postmasterAlive(), dataDirInitialized: true, systemIdentifier: cd.systemIdentifier, controlState: cd.state, timeline: cd.timeline };
  }

  private async writePgpass(): Promise<void> {
    const users = [this.o.replication, this.o.superuser, ...(this.o.rewind ? [this.o.rewind] : [])];
    await mkdir(dirname(this.o.pgpassPath), { recursive: true });
    await writeAtomic(this.o.pgpassPath, renderPgpass(users), 0o600);
  }

  async initdb(signal?: AbortSignal): Promise<void> {
    await mkdir(dirname(this.o.dataDir), { recursive: true });
    const args = ['-D', this.o.dataDir, `--username=${this.o.superuser.username}`, '--auth-local=trust', '--auth-host=scram-sha-256'];
    let pwfile: string | null = null;
    if (this.o.superuser.password) {
      pwfile = join(tmpdir(), `pgwarden-pw-${process.pid}-${Date.now()}`);
      await writeFile(pwfile, `${this.o.superuser.password}\n`, { mode: 0o600 });
      args.push(`--pwfile=${pwfile}`);
    }
    args.push(...programOptions(this.o.initdbOptions));
    this.o.logger.info(`running initdb in ${this.o.dataDir}`);
    try {
      await runProgram(this.bin('initdb'), args, { timeoutMs: 300_000, signal });
    } finally {
      if (pwfile) await rm(pwfile, { force: true });
    }
  }

  async createBootstrapUsers(): Promise<void> {
    const statements = [
      `ALTER ROLE ${ident(this.o.superuser.username)}${this.o.superuser.password ? ` PASSWORD ${literal(this.o.superuser.password)}` : ''}`,
      ensureRoleSql(this.o.replication.username, this.o.replication.password, ['REPLICATION']),
    ];
    if (this.o.rewind && this.o.rewind.username !== this.o.superuser.username) {
      statements.push(ensureRoleSql(this.o.rewind.username, this.o.rewind.password, []), rewindGrantsSql(this.o.rewind.username));
    }
    for (const [name, u] of Object.entries(this.o.bootstrapUsers)) statements.push(ensureRoleSql(name, u.password, u.options ?? []));
    for (const sql of statements) await this.query(sql);
  }

  async basebackup(source: Upstream, signal?: AbortSignal): Promise<void> {
    if (existsSync(this.o.dataDir) && (await readdir(this.o.dataDir)).length > 0) {
      throw new PgwardenError('PG_COMMAND_FAILED', `refusing pg_basebackup into ${this.o.dataDir}: the directory is not empty`);
    }
    await this.writePgpass();
    await mkdir(dirname(this.o.dataDir), { recursive: true });
    const args = ['-D', this.o.dataDir, '-X', 'stream', '-c', 'fast', '-h', source.host, '-p', String(source.port), '-U', this.o.replication.username, '-w', ...programOptions(this.o.basebackupOptions)];
    this.o.logger.info(`cloning from ${source.name} (${source.host}:${source.port}) with pg_basebackup`);
    try {
      await runProgram(this.bin('pg_basebackup'), args, { timeoutMs: 3_600_000, signal, env: this.childEnv() });
    } catch (e) {
      this.o.logger.warn(`removing the partial clone in ${this.o.dataDir} (it holds nothing but a copy of ${source.name})`);
      await rm(this.o.dataDir, { recursive: true, force: true });
      throw e;
    }
    await chmod(this.o.dataDir, 0o700);
  }

  /** Parameters the node always controls win over configured ones (reference §4.2). */
  private async writeParametersAndHba(): Promise<void> {
    const params: Record<string, ParamValue> = {
      unix_socket_directories: '/tmp',
      ...this.o.parameters(),
      listen_addresses: this.o.listen.hosts.join(','),
      port: this.o.listen.port,
      cluster_name: this.o.scope,
      hot_standby: 'on',
      wal_log_hints: 'on',
    };
    await writeAtomic(this.file(CONF), renderParameters(params, RECOVERY));
    await writeAtomic(this.file('pg_hba.conf'), renderHba(this.o.pgHba(), this.o.replication.username));
  }

  private async writeConfig(mode: StartMode): Promise<void> {
    const conf = this.file('postgresql.conf');
    const current = existsSync(conf) ? await readFile(conf, 'utf8') : '';
    if (!current.includes(INCLUDE_LINE)) await writeAtomic(conf, `${current.replace(/\n?$/, '\n')}${INCLUDE_LINE}\n`);
    await this.writeParametersAndHba();
    if (mode.role === 'primary') {
      await writeAtomic(this.file(RECOVERY), PRIMARY_RECOVERY);
      await rm(this.file('standby.signal'), { force: true });
    } else {
      await this.writePgpass();
      await writeAtomic(this.file(RECOVERY), this.recoveryText(mode.upstream, mode.slotName));
      await writeFile(this.file('standby.signal'), '', { mode: 0o600 });
    }
  }

  private recoveryText(upstream: Upstream | null, slotName: string | null): string {
    return renderRecovery({ upstream, slotName, replicationUser: this.o.replication.username, applicationName: this.o.name, passfile: this.o.pgpassPath });
  }

  async start(mode: StartMode, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    await this.writeConfig(mode);
    const secs = String(Math.max(1, Math.floor(timeoutMs / 1000)));
    this.o.logger.info(`starting PostgreSQL as ${mode.role}${mode.role === 'replica' ? ` of ${mode.upstream?.name ?? 'nobody (read-only)'}` : ''}`);
    await runProgram(this.bin('pg_ctl'), ['start', '-D', this.o.dataDir, '-w', '-t', secs, '-l', this.logPath], { timeoutMs: timeoutMs + 5_000, signal, env: this.childEnv() });
  }

  async stop(mode: StopMode, timeoutMs: number): Promise<void> {
    if (!this.postmasterAlive()) return;
    const attempt = async (m: StopMode, ms: number) =>
      runProgram(this.bin('pg_ctl'), ['stop', '-D', this.o.dataDir, '-m', m, '-w', '-t', String(Math.max(1, Math.floor(ms / 1000)))], { timeoutMs: ms + 2_000 });
    this.o.logger.info(`stopping PostgreSQL (${mode})`);
    try {
      await attempt(mode, timeoutMs);
      return;
    } catch (e) {
      if (!this.postmasterAlive()) return;
      this.o.logger.warn(`pg_ctl stop -m ${mode} did not finish: ${errorText(e)}`);
    }
    if (mode === 'fast') {
      try {
        await attempt('immediate', 5_000);
        return;
      } catch {
        // fall through to SIGKILL
      }
    }
    const pid = this.postmasterPid();
    if (pid && pidAlive(pid)) {
      this.o.logger.warn(`killing the postmaster (pid ${pid}) with SIGKILL`);
      process.kill(pid, 'SIGKILL');
    }
  }

  async promote(timeoutMs: number): Promise<void> {
    this.o.logger.info('promoting PostgreSQL');
    await runProgram(this.bin('pg_ctl'), ['promote', '-D', this.o.dataDir, '-w', '-t', String(Math.max(1, Math.floor(timeoutMs / 1000)))], { timeoutMs: timeoutMs + 2_000 });
  }

  async follow(upstream: Upstream | null, slotName: string | null): Promise<FollowResult> {
    if (!existsSync(this.file('standby.signal'))) return 'restart-needed';
    const wanted = this.recoveryText(upstream, slotName);
    const current = await readFile(this.file(RECOVERY), 'utf8').catch(() => '');
    if (current === wanted) return 'unchanged';
    await this.writePgpass();
    await writeAtomic(this.file(RECOVERY), wanted);
    await runProgram(this.bin('pg_ctl'), ['reload', '-D', this.o.dataDir], { timeoutMs: 10_000 });
    return 'reloaded';
  }

  /** pg_rewind needs a cleanly shut down target: replay WAL in single-user mode first if not. */
  private async ensureCleanShutdown(): Promise<void> {
    const cd = await this.controlData();
    if (isCleanShutdown(cd.state)) return;
    this.o.logger.info(`data directory state is "${cd.state ?? 'unknown'}": running single-user crash recovery before pg_rewind`);
    await rm(this.file('standby.signal'), { force: true });
    await runProgram(this.bin('postgres'), ['--single', '-D', this.o.dataDir, '-c', 'archive_mode=off', 'postgres'], { timeoutMs: 300_000, input: '' });
  }

  private rewindArgs(source: Upstream, dryRun: boolean): string[] {
    const user = this.o.rewind ?? this.o.superuser;
    const src = conninfo({ host: source.host, port: source.port, user: user.username, dbname: 'postgres' });
    return ['--target-pgdata', this.o.dataDir, '--source-server', src, ...(dryRun ? ['--dry-run'] : [])];
  }

  async needsRewind(source: Upstream): Promise<boolean> {
    await this.ensureCleanShutdown();
    await this.writePgpass();
    let text: string;
    try {
      const { stdout, stderr } = await runProgram(this.bin('pg_rewind'), this.rewindArgs(source, true), { timeoutMs: 60_000, env: this.childEnv() });
      text = `${stdout}\n${stderr}`;
    } catch (e) {
      // "servers diverged ... could not find previous WAL record": diverged, and the WAL a rewind
      // would need is gone. Report divergence; the rewind will fail and the caller re-clones.
      if (isPgwardenError(e, 'PG_COMMAND_FAILED') && /servers diverged/.test(e.message)) return true;
      throw e;
    }
    const needed = !/no rewind required/.test(text);
    this.o.logger.info(needed ? `history diverged from ${source.name}: pg_rewind is needed` : `history matches ${source.name}: no rewind needed`);
    return needed;
  }

  async rewind(source: Upstream, signal?: AbortSignal): Promise<void> {
    await this.ensureCleanShutdown();
    await this.writePgpass();
    await runProgram(this.bin('pg_rewind'), this.rewindArgs(source, false), { timeoutMs: 3_600_000, signal, env: this.childEnv() });
    this.o.logger.info(`pg_rewind from ${source.name} finished`);
  }

  async moveDataDirAside(reason: string): Promise<string> {
    const target = `${this.o.dataDir}.failed.${new Date().toISOString().replace(/[:.]/g, '-')}`;
    await rename(this.o.dataDir, target);
    this.o.logger.warn(`moved data directory ${this.o.dataDir} to ${target} (${reason}); it was not deleted`);
    return target;
  }

  async syncReplicationSlots(wanted: readonly string[]): Promise<void> {
    const rows = await this.query<{ slot_name: string; active: boolean }>(`SELECT slot_name, active FROM pg_replication_slots WHERE slot_type = 'physical'`);
    const have = new Set(rows.map((r) => r.slot_name));
    for (const name of wanted) {
      if (!have.has(name)) await this.query(`SELECT pg_create_physical_replication_slot(${literal(name)})`);
    }
    for (const r of rows) {
      if (!wanted.includes(r.slot_name) && !r.active) await this.query(`SELECT pg_drop_replication_slot(${literal(r.slot_name)})`);
    }
  }

  async checkpoint(): Promise<void> {
    await this.query('CHECKPOINT');
  }

  async timelineHistory(timeline: number): Promise<HistoryRow[]> {
    if (timeline <= 1) return [];
    const name = `${timeline.toString(16).toUpperCase().padStart(8, '0')}.history`;
    const text = await readFile(join(this.o.dataDir, 'pg_wal', name), 'utf8');
    return parseHistoryFile(text, parseLsn);
  }

  async reload(): Promise<void> {
    if (!existsSync(this.file('PG_VERSION'))) return;
    await this.writeParametersAndHba();
    if (this.postmasterAlive()) await runProgram(this.bin('pg_ctl'), ['reload', '-D', this.o.dataDir], { timeoutMs: 10_000 });
  }
}
