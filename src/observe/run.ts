/**
 * `pgwarden observe FILE.yml`: loads the observer YAML, opens one read-only etcd reader per
 * scope, observes every scope (`scope-observer.ts`) and serves the results on `restapi.listen`
 * until SIGTERM/SIGINT.
 *
 * The observer never changes anything: etcd is reached only through `etcd-reader.ts` (no write
 * method exists there), PostgreSQL only in read-only transactions and members' REST APIs only
 * with GET (`probe.ts`). Its only writes are its own alert files.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { HttpClient } from '../api/http-client.js';
import { etcdEndpoints } from '../config/etcd.js';
import { parseHostPort } from '../config/hostport.js';
import { errorText } from '../errors.js';
import { createLogger, parseLogLevel, type Logger } from '../log.js';
import { AlertFiles } from '../outside/alert-files.js';
import { parseTableName } from '../outside/heartbeat.js';
import type { LagLimits } from '../outside/lag.js';
import { VERSION } from '../version.js';
import { watchedScopes } from '../watch/config.js';
import { loadObserverFile, observerLogin, type ObserverConfig } from './config.js';
import { connectReader, type ClusterReader } from './etcd-reader.js';
import { probeMember, type ProbeSettings } from './probe.js';
import { ScopeObserver } from './scope-observer.js';
import { buildObserverServer } from './server.js';

/**
 * Validates an observer YAML for `pgwarden observe --validate-config`: returns the warnings.
 * @throws ConfigError listing every problem.
 */
export function validateObserverFile(path: string): string[] {
  return loadObserverFile(path).warnings;
}

/** The lag limits of a loaded observer YAML (absent keys are not checked). */
export function lagLimits(config: ObserverConfig): LagLimits {
  const limits: LagLimits = {};
  if (config.warning_replication_bytes_lag !== undefined) limits.bytes = config.warning_replication_bytes_lag;
  if (config.warning_replication_time_lag !== undefined) limits.seconds = config.warning_replication_time_lag;
  return limits;
}

function probeSettings(config: ObserverConfig): ProbeSettings {
  const login = observerLogin(config);
  return {
    user: login.username,
    password: login.password,
    database: config.postgresql.database,
    timeoutMs: config.probe_timeout * 1000,
    heartbeat: config.heartbeat_table.enabled ? parseTableName(config.heartbeat_table.name) : null,
  };
}

/** `<alert_file_dir>/<scope>`, created when missing; undefined without `alert_file_dir`. */
function alertDir(config: ObserverConfig, scope: string): string | undefined {
  if (config.alert_file_dir === undefined) return undefined;
  const dir = join(config.alert_file_dir, scope);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new Error(`alert_file_dir: cannot create ${dir}: ${errorText(e)}`);
  }
  return dir;
}

/** Runs the observer until a stop signal; resolves the process exit code. */
export async function runObserve(path: string): Promise<number> {
  const { config, warnings } = loadObserverFile(path);
  const log = createLogger(parseLogLevel(config.log.level));
  for (const w of warnings) log.warn(`${path}: ${w}`);

  const scopes = watchedScopes(config);
  const readers: ClusterReader[] = [];
  const http = new HttpClient({ auth: null });
  const settings = probeSettings(config);
  const observers: ScopeObserver[] = [];
  try {
    for (const scope of scopes) {
      const reader = connectReader(config, scope, log);
      readers.push(reader);
      observers.push(
        new ScopeObserver({
          scope,
          reader,
          probe: (m) => probeMember(http, m, settings),
          limits: lagLimits(config),
          pollIntervalMs: config.poll_interval * 1000,
          alerts: new AlertFiles(alertDir(config, scope), scopedLogger(log, scope)),
          log,
        }),
      );
    }
  } catch (e) {
    log.critical(`${path}: ${errorText(e)}`);
    await closeAll(readers, http);
    return 1;
  }

  const app = buildObserverServer({ states: () => observers.map((o) => o.state()), auth: config.restapi.authentication ?? null, now: Date.now });
  const { host, port } = parseHostPort(config.restapi.listen);
  try {
    await app.listen({ host, port });
  } catch (e) {
    log.critical(`${path}: restapi.listen ${config.restapi.listen}: cannot listen: ${errorText(e)}`);
    await closeAll(readers, http);
    return 1;
  }

  let wake: (signal: string) => void = () => undefined;
  const stopRequested = new Promise<string>((resolve) => (wake = resolve));
  process.on('SIGTERM', () => wake('SIGTERM'));
  process.on('SIGINT', () => wake('SIGINT'));
  process.on('SIGHUP', () => log.warn(`received SIGHUP: pgwarden observe does not re-read ${path}; restart it to apply changes`));

  log.info(
    `pgwarden ${VERSION} observe: watching ${scopes.join(', ')} in etcd ${etcdEndpoints(config).join(', ')} (namespace ${config.namespace}), ` +
      `every ${config.poll_interval} s; REST API on ${config.restapi.listen}; ` +
      `alert files ${config.alert_file_dir === undefined ? 'off' : `in ${config.alert_file_dir}/<scope>/`}. Read-only: it changes nothing in etcd or PostgreSQL`,
  );
  for (const o of observers) o.start();
  const signal = await stopRequested;
  log.info(`received ${signal}: stopping`);
  await Promise.all(observers.map((o) => o.stop()));
  await app.close();
  await closeAll(readers, http);
  log.info('pgwarden observe stopped');
  return 0;
}

/** Alert lines name the scope they are about. */
function scopedLogger(log: Logger, scope: string): Logger {
  return {
    debug: (m) => log.debug(`scope ${scope}: ${m}`),
    info: (m) => log.info(`scope ${scope}: ${m}`),
    warn: (m) => log.warn(`scope ${scope}: ${m}`),
    error: (m) => log.error(`scope ${scope}: ${m}`),
    critical: (m) => log.critical(`scope ${scope}: ${m}`),
  };
}

async function closeAll(readers: readonly ClusterReader[], http: HttpClient): Promise<void> {
  http.close();
  await Promise.all(readers.map((r) => r.close().catch(() => undefined)));
}
