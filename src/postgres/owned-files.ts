import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PARAMS_FILE, PRIMARY_RECOVERY, RECOVERY_FILE, renderHba, renderParameters, renderPgpass, renderReplicaRecovery, syncOverrideOf, withIncludeLine, type ParamValue } from './conf.js';
import { writeAtomic } from './files.js';
import type { LocalPostgresOptions } from './local.js';
import { runningPostmaster } from './pgctl.js';
import type { StartMode, Upstream } from './port.js';

type Options = Pick<LocalPostgresOptions, 'name' | 'scope' | 'dataDir' | 'listen' | 'superuser' | 'replication' | 'rewind' | 'parameters' | 'pgHba' | 'pgpassPath' | 'logger'>;

/**
 * The files pgwarden writes for the local server, each atomically: `pgwarden.conf`,
 * `pgwarden.recovery.conf`, `standby.signal`, `pg_hba.conf` and the include line at the end of
 * `postgresql.conf` in the data directory, and the pgpass file. Rendering is in `conf.ts`.
 */
export class OwnedFiles {
  /** Set by synchronous mode on the leader; null leaves the configured value. */
  syncStandbyNames: string | null;

  constructor(private readonly o: Options) {
    this.syncStandbyNames = adoptedSyncOverride(o.dataDir);
    if (this.syncStandbyNames !== null) {
      o.logger.info(`keeping synchronous_standby_names = '${this.syncStandbyNames}' that synchronous mode set on the running server before this agent started`);
    }
  }

  private file(name: string): string {
    return join(this.o.dataDir, name);
  }

  async writePgpass(): Promise<void> {
    const users = [this.o.replication, this.o.superuser, ...(this.o.rewind ? [this.o.rewind] : [])];
    await mkdir(dirname(this.o.pgpassPath), { recursive: true });
    await writeAtomic(this.o.pgpassPath, renderPgpass(users), 0o600);
  }

  /** `pgwarden.conf` (all parameters; the ones the node must control win) and `pg_hba.conf`. */
  async writeParameters(): Promise<void> {
    const conf = this.file('postgresql.conf');
    const current = existsSync(conf) ? await readFile(conf, 'utf8') : '';
    const updated = withIncludeLine(current);
    if (updated !== null) await writeAtomic(conf, updated);
    const params: Record<string, ParamValue> = {
      unix_socket_directories: '/tmp',
      ...this.o.parameters(),
      listen_addresses: this.o.listen.hosts.join(','),
      port: this.o.listen.port,
      cluster_name: this.o.scope,
      hot_standby: true,
      wal_log_hints: true,
    };
    await writeAtomic(this.file(PARAMS_FILE), renderParameters(params, this.syncStandbyNames));
    await writeAtomic(this.file('pg_hba.conf'), renderHba(this.o.pgHba()));
  }

  /** What `pgwarden.recovery.conf` holds for a replica of `upstream` (none: read-only, no source). */
  recoveryText(upstream: Upstream | null, slotName: string | null): string {
    return renderReplicaRecovery({ upstream, slotName, replicationUser: this.o.replication.username, applicationName: this.o.name, passfile: this.o.pgpassPath });
  }

  /** Everything a start in `mode` needs: parameters, then the recovery settings of the role. */
  async writeConfig(mode: StartMode): Promise<void> {
    await this.writeParameters();
    if (mode.role === 'primary') {
      await writeAtomic(this.file(RECOVERY_FILE), PRIMARY_RECOVERY);
      await rm(this.file('standby.signal'), { force: true });
    } else {
      await this.writePgpass();
      await writeAtomic(this.file(RECOVERY_FILE), this.recoveryText(mode.upstream, mode.slotName));
      await writeAtomic(this.file('standby.signal'), '');
    }
  }
}

/**
 * An agent restarted beside a running server must not hand `synchronous_standby_names` back to
 * the configured value at its first parameter write: the primary would acknowledge commits
 * without the standbys the sync key still names, for a cycle or more. So the value synchronous
 * mode left in `pgwarden.conf` stays in force until the loop sets or hands it back itself.
 */
function adoptedSyncOverride(dataDir: string): string | null {
  if (runningPostmaster(dataDir) === null) return null;
  try {
    return syncOverrideOf(readFileSync(join(dataDir, PARAMS_FILE), 'utf8'));
  } catch {
    return null;
  }
}
