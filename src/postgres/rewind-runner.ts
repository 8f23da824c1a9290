/**
 * Runs pg_rewind (and its dry run) against a stopped data directory. Both need a cleanly shut
 * down target and a source whose pg_control already shows its current timeline; this module
 * makes sure of both first, in bounded steps, and logs each one.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { errorText, isPgwardenError, PgwardenError } from '../errors.js';
import { withClient, type ConnectParams } from './client.js';
import { cleanShutdownRoute, isCleanShutdown, readControlData } from './controldata.js';
import { clearStaleLock, runningPostmaster, startServer, stopServer, type ServerPaths } from './pgctl.js';
import type { Upstream } from './port.js';
import { runProgram, runProgramResult } from './process.js';
import { SOURCE_TIMELINE_QUERY, sourceNeedsCheckpoint, type SourceTimelineRow } from './queries.js';
import { dryRunVerdict, rewindArgs, rewindSource, singleUserArgs } from './rewind.js';

const DRY_RUN_TIMEOUT_MS = 120_000;
const REWIND_TIMEOUT_MS = 3_600_000;
const CRASH_RECOVERY_TIMEOUT_MS = 3_600_000;
const STANDBY_RECOVERY_START_MS = 120_000;
const SOURCE_CHECKPOINT_MS = 120_000;

export interface RewindDeps {
  binDir: string;
  dataDir: string;
  logger: { info(msg: string): void; warn(msg: string): void };
  /** User in pg_rewind's `--source-server` (the rewind user, else the superuser). */
  rewindUser: string;
  server(): ServerPaths;
  /** Superuser connection to the source (to make it CHECKPOINT after a promotion). */
  sourceConnection(source: Upstream): ConnectParams;
  /** Writes the pgpass file and the config files for a standby-without-source start or a single-user run. */
  prepare(mode: 'standby' | 'single-user'): Promise<void>;
  /** Writes the pgpass file pg_rewind reads the source's password from (PGPASSFILE). */
  writePgpass(): Promise<void>;
}

export class RewindRunner {
  constructor(private readonly d: RewindDeps) {}

  private pgpassEnv(): Readonly<Record<string, string>> {
    return this.d.server().env;
  }

  /** `pg_rewind --dry-run`: true when this directory's history diverged from `source`'s. */
  async needsRewind(source: Upstream): Promise<boolean> {
    await this.prepareTarget(source);
    const args = rewindArgs(this.d.dataDir, rewindSource(source, this.d.rewindUser), true);
    const r = await runProgramResult(join(this.d.binDir, 'pg_rewind'), args, { timeoutMs: DRY_RUN_TIMEOUT_MS, env: this.pgpassEnv(), cLocale: true });
    const needed = dryRunVerdict(`${r.stdout}\n${r.stderr}`, r.ok, r.detail) === 'needed';
    if (needed && !r.ok) this.d.logger.warn(`history diverged from ${source.name}, and this directory lacks the WAL pg_rewind would need: ${r.detail}`);
    this.d.logger.info(needed ? `history diverged from ${source.name}: pg_rewind is needed` : `history is a prefix of ${source.name}'s: no rewind needed`);
    return needed;
  }

  /** pg_rewind from `source`. Afterwards the directory must be started as a standby (the caller's start()). */
  async rewind(source: Upstream, signal?: AbortSignal): Promise<void> {
    await this.prepareTarget(source, signal);
    const began = Date.now();
    this.d.logger.info(`running pg_rewind from ${source.name} (${source.host}:${source.port}) as ${this.d.rewindUser}`);
    const args = rewindArgs(this.d.dataDir, rewindSource(source, this.d.rewindUser), false);
    const { stdout, stderr } = await runProgram(join(this.d.binDir, 'pg_rewind'), args, { timeoutMs: REWIND_TIMEOUT_MS, signal, env: this.pgpassEnv(), cLocale: true });
    const said = `${stdout}\n${stderr}`.trim().split('\n').filter((l) => l.trim() !== '').join(' | ');
    this.d.logger.info(`pg_rewind from ${source.name} finished in ${Date.now() - began} ms: ${said}`);
  }

  private async prepareTarget(source: Upstream, signal?: AbortSignal): Promise<void> {
    const pid = runningPostmaster(this.d.dataDir);
    if (pid !== null) throw new PgwardenError('PG_COMMAND_FAILED', `PostgreSQL still runs in ${this.d.dataDir} (PID ${pid}); stop it before pg_rewind`);
    // A node that bootstrapped the cluster and was stopped cleanly has never needed it before.
    await this.d.writePgpass();
    await this.ensureCleanShutdown(signal);
    await this.ensureSourceCheckpointed(source);
  }

  /** Brings an uncleanly stopped directory to `shut down` / `shut down in recovery` (see `cleanShutdownRoute`). */
  async ensureCleanShutdown(signal?: AbortSignal): Promise<void> {
    const before = await readControlData(this.d.binDir, this.d.dataDir);
    const route = cleanShutdownRoute(before.state, existsSync(join(this.d.dataDir, 'backup_label')));
    if (route === 'none') return;
    const began = Date.now();
    if (route === 'standby') {
      this.d.logger.info(`data directory state is "${before.state ?? 'unknown'}": starting it once as a standby without a source and stopping it, to finish recovery`);
      await this.d.prepare('standby');
      try {
        await startServer(this.d.server(), STANDBY_RECOVERY_START_MS, signal);
      } catch (e) {
        if (isPgwardenError(e, 'ABORTED')) {
          await stopServer(this.d.server(), 'fast', 60_000);
          throw e;
        }
        this.d.logger.warn(`recovery start did not reach a consistent state (${errorText(e)}); stopping it anyway`);
      }
      await stopServer(this.d.server(), 'fast', 60_000);
    } else {
      this.d.logger.info(`data directory state is "${before.state ?? 'unknown'}": running single-user crash recovery (postgres --single) before pg_rewind`);
      await rm(join(this.d.dataDir, 'standby.signal'), { force: true });
      await rm(join(this.d.dataDir, 'recovery.signal'), { force: true });
      await this.d.prepare('single-user');
      await clearStaleLock(this.d.server());
      await runProgram(join(this.d.binDir, 'postgres'), singleUserArgs(this.d.dataDir), { timeoutMs: CRASH_RECOVERY_TIMEOUT_MS, signal, cLocale: true });
    }
    const after = await readControlData(this.d.binDir, this.d.dataDir);
    if (!isCleanShutdown(after.state)) {
      throw new PgwardenError('PG_COMMAND_FAILED', `recovery of ${this.d.dataDir} did not end in a clean shutdown (state "${after.state ?? 'unknown'}")`);
    }
    this.d.logger.info(`data directory is now "${after.state}" (recovery took ${Date.now() - began} ms)`);
  }

  /**
   * Right after a promotion the source's pg_control still names the old timeline, and pg_rewind
   * then answers "no rewind required" for a diverged target. If so, make the source CHECKPOINT.
   */
  private async ensureSourceCheckpointed(source: Upstream): Promise<void> {
    const conn = { ...this.d.sourceConnection(source), statementTimeoutMs: SOURCE_CHECKPOINT_MS };
    await withClient(conn, `checking the timeline of ${source.name}`, async (c) => {
      const row = (await c.query<SourceTimelineRow>(SOURCE_TIMELINE_QUERY)).rows[0];
      if (row === undefined || !sourceNeedsCheckpoint(row)) return;
      this.d.logger.info(`${source.name} has not checkpointed since its promotion to timeline ${row.current_tli}: running CHECKPOINT there first`);
      await c.query('CHECKPOINT');
    }, conn.timeoutMs * 2 + SOURCE_CHECKPOINT_MS + 1_000);
  }
}
