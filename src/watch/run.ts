/**
 * `pgwarden watch FILE.yml`: loads the watch YAML, connects one etcd client per scope, runs the
 * watcher until SIGTERM/SIGINT, then lets running plugins finish (up to `callback_timeout`).
 */
import { etcdEndpoints } from '../config/etcd.js';
import { Etcd3Dcs } from '../dcs/etcd3.js';
import type { Dcs } from '../dcs/port.js';
import { errorText } from '../errors.js';
import { CommandRunner, splitCommand } from '../events/runner.js';
import { createLogger, parseLogLevel, type Logger } from '../log.js';
import { VERSION } from '../version.js';
import { loadWatchFile, pluginScopes, watchedScopes, type WatchConfig } from './config.js';
import { Watcher, type PluginSpec } from './watcher.js';

/**
 * Deadline of one etcd read. The watcher only reads; a short deadline means an unreachable
 * etcd is noticed (and logged) quickly, and the last known topology stays in effect meanwhile.
 */
const ETCD_CALL_TIMEOUT_MS = 3_000;

/** The plugins of a loaded watch YAML as the watcher runs them. */
export function pluginSpecs(config: WatchConfig): PluginSpec[] {
  return config.plugins.map((p) => {
    const spec: PluginSpec = { name: p.name, argv: splitCommand(p.command), scopes: pluginScopes(config, p) };
    if (p.env) spec.env = p.env;
    return spec;
  });
}

/**
 * Validates a watch YAML for `pgwarden watch --validate-config`: returns the warnings.
 * @throws ConfigError listing every problem.
 */
export function validateWatchFile(path: string): string[] {
  return loadWatchFile(path).warnings;
}

/** Runs the watcher until a stop signal; resolves the process exit code. */
export async function runWatch(path: string): Promise<number> {
  const { config, warnings } = loadWatchFile(path);
  const log = createLogger(parseLogLevel(config.log.level));
  for (const w of warnings) log.warn(`${path}: ${w}`);

  const scopes = watchedScopes(config);
  const dcs = new Map<string, Dcs>();
  try {
    for (const scope of scopes) dcs.set(scope, connectScope(config, scope, log));
  } catch (e) {
    log.critical(`${path}: ${errorText(e)}`);
    await closeAll(dcs);
    return 1;
  }
  const watcher = new Watcher({
    dcs,
    plugins: pluginSpecs(config),
    pollIntervalMs: config.poll_interval * 1000,
    retryIntervalMs: config.retry_interval * 1000,
    timeoutMs: config.callback_timeout * 1000,
    log,
    makeRunner: (onOutcome) => new CommandRunner(log, onOutcome),
  });

  let wake: (signal: string) => void = () => undefined;
  const stopRequested = new Promise<string>((resolve) => (wake = resolve));
  const onSignal = (signal: string): void => wake(signal);
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  // Without a handler SIGHUP would end the process; a node agent re-reads its file on it, the
  // watcher does not (yet): say so instead of dying.
  process.on('SIGHUP', () => log.warn(`received SIGHUP: pgwarden watch does not re-read ${path}; restart it to apply changes (plugins run again at start)`));

  log.info(
    `pgwarden ${VERSION} watch: following ${scopes.join(', ')} in etcd ${etcdEndpoints(config).join(', ')} ` +
      `(namespace ${config.namespace}); plugins: ${config.plugins.map((p) => p.name).join(', ')}`,
  );
  watcher.start();
  const signal = await stopRequested;
  log.info(`received ${signal}: stopping (running plugins get up to ${config.callback_timeout} s)`);
  await watcher.stop(config.callback_timeout * 1000);
  await closeAll(dcs);
  log.info('pgwarden watch stopped');
  return 0;
}

/**
 * One etcd client for `scope`, with the short read deadline above; etcd problems are logged as
 * warnings naming the scope. Shared by the watcher and the observer (`observe/etcd-reader.ts`).
 */
export function connectScope(config: Pick<WatchConfig, 'etcd3' | 'namespace'>, scope: string, log: Logger): Dcs {
  return new Etcd3Dcs({
    namespace: config.namespace,
    scope,
    callTimeoutMs: ETCD_CALL_TIMEOUT_MS,
    hosts: etcdEndpoints(config),
    username: config.etcd3.username,
    password: config.etcd3.password,
    logger: (m) => log.warn(`scope ${scope}: ${m}`),
  });
}

async function closeAll(dcs: ReadonlyMap<string, Dcs>): Promise<void> {
  await Promise.all([...dcs.values()].map((d) => d.close().catch(() => undefined)));
}
