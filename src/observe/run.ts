/**
 * `pgwarden observe FILE.yml`: loads the observer YAML, opens one read-only etcd reader per
 * scope, observes every scope (`scope-observer.ts`) and serves the results on `restapi.listen`
 * until SIGTERM/SIGINT; SIGHUP re-reads the file (`runObserve`).
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

/** What one configuration of the observer runs: a reader and an observer per scope. */
interface Watching {
  config: ObserverConfig;
  readers: ClusterReader[];
  observers: ScopeObserver[];
}

/**
 * Opens a reader and builds an observer for every scope of `config` (not started yet).
 * @throws when a reader or an alert directory cannot be set up; what was opened is closed.
 */
async function watchScopes(config: ObserverConfig, http: HttpClient, log: Logger): Promise<Watching> {
  const readers: ClusterReader[] = [];
  const observers: ScopeObserver[] = [];
  const settings = probeSettings(config);
  try {
    for (const scope of watchedScopes(config)) {
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
    await closeReaders(readers);
    throw e;
  }
  return { config, readers, observers };
}

async function stopWatching(w: Watching): Promise<void> {
  await Promise.all(w.observers.map((o) => o.stop()));
  await closeReaders(w.readers);
}

function describeWatching(c: ObserverConfig): string {
  return (
    `watching ${watchedScopes(c).join(', ')} in etcd ${etcdEndpoints(c).join(', ')} (namespace ${c.namespace}), every ${c.poll_interval} s; ` +
    `alert files ${c.alert_file_dir === undefined ? 'off' : `in ${c.alert_file_dir}/<scope>/`}`
  );
}

/**
 * Runs the observer until a stop signal; resolves the process exit code. SIGHUP re-reads the file
 * and, when it is valid, swaps in new readers and observers (scopes, etcd, probing, limits, alert
 * files); `restapi` and `log` take effect only at the next start, which the log says.
 */
export async function runObserve(path: string): Promise<number> {
  const { config, warnings } = loadObserverFile(path);
  const log = createLogger(parseLogLevel(config.log.level));
  for (const w of warnings) log.warn(`${path}: ${w}`);

  const http = new HttpClient({ auth: null });
  let current: Watching;
  try {
    current = await watchScopes(config, http, log);
  } catch (e) {
    log.critical(`${path}: ${errorText(e)}`);
    http.close();
    return 1;
  }

  const app = buildObserverServer({ states: () => current.observers.map((o) => o.state()), auth: config.restapi.authentication ?? null, now: Date.now });
  const { host, port } = parseHostPort(config.restapi.listen);
  try {
    await app.listen({ host, port });
  } catch (e) {
    log.critical(`${path}: restapi.listen ${config.restapi.listen}: cannot listen: ${errorText(e)}`);
    await stopWatching(current);
    http.close();
    return 1;
  }

  /** One reload at a time; a SIGHUP during one runs another after it. */
  let reloading: Promise<void> = Promise.resolve();
  const reload = async (): Promise<void> => {
    let next: Watching;
    try {
      const loaded = loadObserverFile(path);
      for (const w of loaded.warnings) log.warn(`${path}: ${w}`);
      next = await watchScopes(loaded.config, http, log);
    } catch (e) {
      log.error(`reload of ${path} refused, keeping the running configuration: ${errorText(e)}`);
      return;
    }
    const unapplied = (['restapi', 'log'] as const).filter((k) => JSON.stringify(next.config[k]) !== JSON.stringify(config[k]));
    if (unapplied.length > 0) log.warn(`${unapplied.join(' and ')} changed in ${path}: read at start only, restart pgwarden observe to apply`);
    const old = current;
    current = next;
    await stopWatching(old);
    for (const o of current.observers) o.start();
    log.info(`reloaded ${path}: ${describeWatching(current.config)}`);
  };

  let wake: (signal: string) => void = () => undefined;
  const stopRequested = new Promise<string>((resolve) => (wake = resolve));
  process.on('SIGTERM', () => wake('SIGTERM'));
  process.on('SIGINT', () => wake('SIGINT'));
  process.on('SIGHUP', () => {
    log.info(`received SIGHUP: re-reading ${path}`);
    reloading = reloading.then(reload);
  });

  log.info(`pgwarden ${VERSION} observe: ${describeWatching(config)}; REST API on ${config.restapi.listen}. Read-only: it changes nothing in etcd or PostgreSQL`);
  for (const o of current.observers) o.start();
  const signal = await stopRequested;
  log.info(`received ${signal}: stopping`);
  await reloading;
  await stopWatching(current);
  await app.close();
  http.close();
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

async function closeReaders(readers: readonly ClusterReader[]): Promise<void> {
  await Promise.all(readers.map((r) => r.close().catch(() => undefined)));
}
