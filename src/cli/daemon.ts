import { resolve } from 'node:path';
import { Server as TlsServer } from 'node:tls';
import type { OperatorPort } from '../api/operator.js';
import { buildServer } from '../api/server.js';
import { ClientAllowlist } from '../api/allowlist.js';
import { CompanionFencer } from '../fencer/companion.js';
import { Safeguards } from '../watchdog/guard.js';
import { DEFAULT_SAFETY_MARGIN_S, fencerMarginS } from '../watchdog/margin.js';
import { HttpPeerApi } from '../api/peer-client.js';
import { clientTls, serverTls, type ServerTls } from '../api/tls.js';
import { effectivePgParameters, resolveDynamic, type DynamicConfig } from '../config/dynamic.js';
import { etcdEndpoints, loadConfigFile, parseHostPort, parseListen } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { Tags } from '../domain/cluster.js';
import { systemClock } from '../domain/clock.js';
import { Etcd3Dcs } from '../dcs/etcd3.js';
import type { Dcs } from '../dcs/port.js';
import { errorText } from '../errors.js';
import type { Settings } from '../ha/types.js';
import { createLogger, parseLogLevel, type Logger } from '../log.js';
import { HaLoop } from '../loop/loop.js';
import { LocalPostgres } from '../postgres/local.js';
import { PostgresWithCallbacks } from '../postgres/with-callbacks.js';
import { buildNodeEvents, changedReadAtStart } from '../outside/wiring.js';
import { SyslogLogger, teeLogger } from '../log-syslog.js';
import { VERSION } from '../version.js';

/** `watchdog.safety_margin` default (Patroni's): fence 5 s before the leader lease ends. */

const BUILTIN_TAGS = ['nofailover', 'noloadbalance', 'clonefrom', 'nosync'];

/** Tags as published: built-in flags only when true, everything else as written. */
export function effectiveTags(config: Config): Tags {
  const tags: Tags = {};
  for (const [k, v] of Object.entries((config.tags ?? {}) as Record<string, unknown>)) {
    if (v === undefined || v === null) continue;
    if (BUILTIN_TAGS.includes(k) && !v) continue;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') tags[k] = v;
  }
  return tags;
}

export function settingsOf(d: DynamicConfig): Settings {
  return {
    ttlMs: d.ttl * 1000,
    loopWaitMs: d.loop_wait * 1000,
    retryTimeoutMs: d.retry_timeout * 1000,
    maximumLagOnFailover: d.maximum_lag_on_failover,
    primaryStartTimeoutMs: d.primary_start_timeout * 1000,
    paused: d.pause,
    useSlots: d.postgresql.use_slots,
    usePgRewind: d.postgresql.use_pg_rewind,
    synchronousMode: d.synchronous_mode,
    synchronousModeStrict: d.synchronous_mode_strict,
    synchronousNodeCount: d.synchronous_node_count,
    maximumLagOnSyncnode: d.maximum_lag_on_syncnode,
    knownGoneNodes: d.known_gone_nodes,
    failsafeMode: d.failsafe_mode,
  };
}

/** Waits for etcd, then refuses to start when a live member already uses this node's name. */
async function checkNameIsFree(dcs: Dcs, config: Config, peers: HttpPeerApi, log: Logger, stopped: () => boolean): Promise<string | null> {
  for (let attempt = 0; !stopped(); attempt++) {
    try {
      const cluster = await dcs.getCluster();
      const same = cluster.members.find((m) => m.name === config.name);
      if (!same) return null;
      const status = await peers.fetchStatus(same.name, same.data.api_url, 2_000);
      if (status.reachable) {
        return `another node named "${config.name}" is already running (its REST API ${same.data.api_url} answers); every member needs a unique name`;
      }
      return null;
    } catch (e) {
      if (attempt % 5 === 0) log.warn(`waiting for etcd (${etcdEndpoints(config).join(', ')}): ${errorText(e)}`);
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
  return null;
}

/**
 * Runs one pgwarden node until SIGTERM/SIGINT. Resolves the process exit code. Lifecycle:
 * load config → wait for etcd and check the name → REST API listens → HA loop runs →
 * on a stop signal: loop stops, PostgreSQL stops (fast), REST API closes, a leader deletes its
 * key (compare on value), the lease is revoked so the member key goes at once.
 */
export async function runDaemon(configPath: string): Promise<number> {
  let { config, warnings } = loadConfigFile(configPath);
  const startedConfig = config;
  const level = parseLogLevel(config.log?.level);
  const syslog = config.log.syslog ? new SyslogLogger({ ...config.log.syslog, level }) : null;
  const log = syslog ? teeLogger(createLogger(level), syslog) : createLogger(level);
  for (const w of warnings) log.warn(`${configPath}: ${w}`);

  const fallbackDynamic = resolveDynamic((config.bootstrap?.dcs ?? null) as Record<string, unknown> | null).config;
  let dynamic = fallbackDynamic;
  let lastProblems = '';
  let appliedParameters: string | null = null;
  const settingsFor = (fromDcs: Record<string, unknown> | null): Settings => {
    if (fromDcs) {
      const r = resolveDynamic(fromDcs, dynamic);
      const text = r.problems.join('; ');
      if (text && text !== lastProblems) log.warn(`ignoring invalid values in the etcd config key: ${text}`);
      lastProblems = text;
      dynamic = r.config;
      applyParameterChanges();
    }
    return settingsOf(dynamic);
  };
  /**
   * PostgreSQL parameters changed in etcd (edit-config, PATCH /config), or were read for the first
   * time (a server left running by a previous agent may have stale files): rewrite pgwarden.conf
   * and reload. Parameters that need a restart then show as `pending_restart` in member data and
   * `/patroni` until an operator restarts the node.
   */
  const applyParameterChanges = (): void => {
    const now = JSON.stringify(effectivePgParameters(config, dynamic));
    if (now === appliedParameters) return;
    // The first read only brings the files in line with etcd: not an operator's reload, so it
    // goes past the callbacks (no on_reload at every agent start).
    const target = appliedParameters === null ? localPg : pg;
    if (appliedParameters !== null) log.info('PostgreSQL parameters changed in the dynamic configuration: reloading PostgreSQL');
    appliedParameters = now;
    target.reload().catch((e: unknown) => log.warn(`PostgreSQL reload failed: ${errorText(e)}`));
  };

  const auth = config.restapi.authentication?.username
    ? { username: config.restapi.authentication.username, password: config.restapi.authentication.password ?? '' }
    : null;
  const dcs = new Etcd3Dcs({
    namespace: config.namespace,
    scope: config.scope,
    callTimeoutMs: fallbackDynamic.retry_timeout * 1000,
    hosts: etcdEndpoints(config),
    username: config.etcd3.username,
    password: config.etcd3.password,
    logger: (m) => log.warn(m),
  });
  let tls: ServerTls | null;
  let peers: HttpPeerApi;
  try {
    tls = serverTls(config.restapi);
    peers = new HttpPeerApi(auth, clientTls(config));
  } catch (e) {
    log.critical(`${configPath}: ${errorText(e)}`);
    await dcs.close();
    return 1;
  }
  const allowlistOf = (c: Config) => ClientAllowlist.build(c.restapi.allowlist, c.restapi.allowlist_include_members, (m) => log.warn(m));
  let allowlist = await allowlistOf(config);
  const pgListen = parseListen(config.postgresql.listen);
  const pgConnect = parseHostPort(config.postgresql.connect_address);
  const localPg = new LocalPostgres({
    name: config.name,
    scope: config.scope,
    dataDir: resolve(config.postgresql.data_dir),
    binDir: config.postgresql.bin_dir ?? '/usr/lib/postgresql/15/bin',
    listen: pgListen,
    connectHost: pgConnect.host,
    superuser: config.postgresql.authentication.superuser,
    replication: config.postgresql.authentication.replication,
    rewind: config.postgresql.authentication.rewind,
    parameters: () => effectivePgParameters(config, dynamic),
    pgHba: () => config.postgresql.pg_hba ?? config.bootstrap?.pg_hba ?? [],
    initdbOptions: config.bootstrap?.initdb ?? [],
    basebackupOptions: config.postgresql.basebackup ?? [],
    bootstrapUsers: config.bootstrap?.users ?? {},
    pgpassPath: resolve(config.postgresql.pgpass ?? `/tmp/pgpass_${config.name}`),
    queryTimeoutMs: Math.min(5_000, fallbackDynamic.retry_timeout * 1000),
    logger: log,
  });
  /** Heartbeat queries get a short deadline: a slow server costs a skipped beat, nothing more. */
  const HEARTBEAT_TIMEOUT_MS = 2_000;
  const events = buildNodeEvents({
    config: () => config,
    clock: systemClock,
    log,
    connect: (server, what, fn) => localPg.withConnection(server, what, fn, HEARTBEAT_TIMEOUT_MS),
    pgProbeError: () => localPg.probeError(),
  });
  let loopRef: HaLoop | null = null;
  const pg = new PostgresWithCallbacks(localPg, events.callbacks, {
    name: config.name,
    scope: config.scope,
    cluster: () => dcs.getCluster().catch(() => loopRef?.view().cluster ?? null),
  });
  /** Tags as published: the configured ones, plus `nofailover` while the maintenance file exists. */
  const tagsNow = (): Tags => {
    const tags = effectiveTags(config);
    if (events.maintenance.check()) tags.nofailover = true;
    return tags;
  };

  let stopping = false;
  let fatalMessage: string | null = null;
  let wakeStop: () => void = () => undefined;
  const stopRequested = new Promise<string>((r) => (wakeStop = () => r('fatal')));
  const onSignal = (sig: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`received ${sig}: shutting down`);
    wakeStop();
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));

  const clash = await checkNameIsFree(dcs, config, peers, log, () => stopping);
  if (clash) {
    log.critical(clash);
    await dcs.close();
    return 1;
  }
  if (stopping) {
    await dcs.close();
    return 0;
  }

  /** The REST API's address and scheme as started; a reload does not change them (see below). */
  const apiUrlOf = (c: Config, https: boolean) => `${https ? 'https' : 'http'}://${c.restapi.connect_address}/patroni`;
  const restApiShape = (c: Config, t: ServerTls | null) => `${c.restapi.listen} ${apiUrlOf(c, t !== null)} ${t?.verifyClient ?? ''}`;
  const startedRestApi = restApiShape(config, tls);

  const safetyMarginS = (): number => fencerMarginS(config.watchdog?.safety_margin ?? DEFAULT_SAFETY_MARGIN_S, dynamic);
  let lastMarginNote = '';
  const noteMargin = (): void => {
    const configured = config.watchdog?.safety_margin ?? DEFAULT_SAFETY_MARGIN_S;
    const used = safetyMarginS();
    const note = configured >= 0 && used < configured
      ? `watchdog.safety_margin ${configured} s leaves no room for a slow cycle with ttl ${dynamic.ttl} / loop_wait ${dynamic.loop_wait} / retry_timeout ${dynamic.retry_timeout}: the fencer acts ${used} s before the lease ends`
      : '';
    if (note !== '' && note !== lastMarginNote) log.info(note);
    lastMarginNote = note;
  };
  const companion = new CompanionFencer({
    dataDir: resolve(config.postgresql.data_dir),
    safetyMarginMs: () => {
      noteMargin();
      return safetyMarginS() * 1000;
    },
    clock: systemClock,
    log,
  });
  const guard = new Safeguards({
    mode: () => config.watchdog?.mode ?? 'automatic',
    device: () => config.watchdog?.device ?? '/dev/watchdog',
    maxTimeoutSeconds: () => dynamic.ttl - safetyMarginS(),
    companion,
    log,
  });

  const loop = new HaLoop({
    guard,
    scope: config.scope,
    identity: {
      connUrl: `postgres://${config.postgresql.connect_address}/${config.postgresql.database ?? 'postgres'}`,
      apiUrl: apiUrlOf(config, tls !== null),
      version: VERSION,
    },
    dcs,
    pg,
    peers,
    clock: systemClock,
    log,
    self: () => {
      const tags = tagsNow();
      return {
        name: config.name,
        nofailover: tags.nofailover === true,
        replicatefrom: typeof tags.replicatefrom === 'string' ? tags.replicatefrom : null,
        canBootstrap: config.bootstrap !== undefined,
      };
    },
    tags: tagsNow,
    settingsFor,
    bootstrapDcs: (config.bootstrap?.dcs ?? {}) as Record<string, unknown>,
    onFatal: (m) => {
      fatalMessage = m;
      log.critical(m);
      onSignal('a fatal error');
    },
    onCycle: (report) => events.views.observe(report),
  });
  loopRef = loop;

  const reload = () => {
    try {
      const next = loadConfigFile(configPath);
      const nextTls = serverTls(next.config.restapi);
      config = next.config;
      for (const w of next.warnings) log.warn(`${configPath}: ${w}`);
      const atStart = changedReadAtStart(startedConfig, config);
      if (atStart.length > 0) log.warn(`${atStart.join(', ')} changed in ${configPath}: read at start only, restart pgwarden to apply`);
      applyRestApiReload(nextTls);
      log.info(`reloaded ${configPath}`);
      pg.reload().catch((e: unknown) => log.warn(`PostgreSQL reload failed: ${errorText(e)}`));
      loop.wake();
    } catch (e) {
      log.error(`reload of ${configPath} refused, keeping the running configuration: ${errorText(e)}`);
    }
  };
  /**
   * What a reload changes in the running REST API: the allowlist is rebuilt and certificate files
   * are read again (rotation without a restart). Switching HTTPS on or off, `verify_client`,
   * `listen` and `connect_address` change what peers and proxies connect to and are applied at
   * the next start, which the log says.
   */
  const applyRestApiReload = (nextTls: ServerTls | null): void => {
    void allowlistOf(config).then((a) => (allowlist = a));
    if (restApiShape(config, nextTls) !== startedRestApi) {
      log.warn('restapi listen, connect_address, certfile (on/off) or verify_client changed: restart pgwarden to apply');
    }
    if (tls && nextTls && api.server instanceof TlsServer) {
      api.server.setSecureContext(nextTls);
      log.info('REST API certificate files read again');
    }
  };

  const operator: OperatorPort = {
    readCluster: () => dcs.getCluster(),
    setFailover: (v, rev) => dcs.setFailover(v, rev),
    setConfig: (v, rev) => dcs.setConfig(v, rev),
    probePeer: (name, url, timeoutMs) => peers.fetchStatus(name, url, timeoutMs),
    restartNow: (f) => loop.commands.restartNow(f),
    scheduleRestart: (r) => loop.commands.scheduleRestart(r),
    cancelScheduledRestart: () => loop.commands.cancelScheduledRestart(),
    reinitialize: (force) => loop.commands.reinitialize(force),
    wakeLoop: () => loop.wake(),
    acceptFailsafe: (leader) => loop.heardFromFailsafeLeader(leader),
  };
  const api = buildServer({ view: () => loop.view(), clock: systemClock, auth, allowlist: () => allowlist, tls, requestReload: reload, operator, log });
  process.on('SIGHUP', () => {
    log.info('received SIGHUP: reloading the configuration');
    reload();
  });
  const listen = parseHostPort(config.restapi.listen);
  try {
    await api.listen({ host: listen.host === '*' || listen.host === '' ? '0.0.0.0' : listen.host, port: listen.port });
  } catch (e) {
    log.critical(`cannot listen on restapi.listen ${config.restapi.listen}: ${errorText(e)}`);
    await dcs.close();
    return 1;
  }
  log.info(`pgwarden ${VERSION} node ${config.name} of cluster ${config.scope}: REST API on ${config.restapi.listen}${tls ? ' (HTTPS)' : ''}`);
  companion.start();
  loop.start();

  await stopRequested;
  await loop.stop();
  const paused = loop.paused();
  const wasLeader = loop.holdsLeaderKey();
  if (!paused) {
    await pg.stop('fast', (config.postgresql.pg_ctl_timeout ?? 60) * 1000).catch((e: unknown) => log.error(`stopping PostgreSQL failed: ${errorText(e)}`));
    log.info('PostgreSQL stopped');
  }
  loop.disarmFence();
  await companion.stop();
  loop.publishStopped('shutting down');
  await api.close().catch(() => undefined);
  // on_stop was queued by the stop above: give commands a moment, then end them.
  await events.stop(Math.min(config.postgresql.callback_timeout, 5) * 1000);
  if (!paused) {
    if (wasLeader) {
      const released = await dcs.deleteLeader(config.name).catch(() => false);
      log.info(released ? 'released the leader key: the replicas can take over now' : 'the leader key was no longer mine');
    }
    await dcs.revokeLease().catch(() => undefined);
  }
  peers.close();
  await dcs.close().catch(() => undefined);
  // The syslog socket is not closed: it keeps no process alive, and closing it could drop the last lines.
  log.info('pgwarden stopped');
  return fatalMessage ? 1 : 0;
}
