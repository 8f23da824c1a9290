#!/usr/bin/env node
import { Command } from 'commander';
import { clientTls, serverTls } from '../api/tls.js';
import { loadConfigFile } from '../config/load.js';
import { ConfigError, errorText } from '../errors.js';
import { VERSION } from '../version.js';
import { runObserve, validateObserverFile } from '../observe/run.js';
import { runWatch, validateWatchFile } from '../watch/run.js';
import { runDaemon } from './daemon.js';

const EXAMPLES = `
Three forms:
  pgwarden [--validate-config] NODE.yml      the HA agent, one beside each PostgreSQL server
  pgwarden watch [--validate-config] WATCH.yml
                                             the topology watcher, on application and proxy hosts
  pgwarden observe [--validate-config] OBSERVE.yml
                                             the observer: a read-only third viewpoint on clusters

Examples:
  pgwarden postgres0.yml                     run the HA agent for the node described in postgres0.yml
  pgwarden --validate-config postgres0.yml   check a file and list every problem, then exit
  runuser -u postgres -- npx pgwarden postgres0.yml
                                             as root: run it as the OS user that owns the data directory
  pgwarden watch watch.yml                   run plugins (pgbouncer, haproxy, ...) whenever the
                                             leader or the healthy members of a cluster change
  pgwarden watch --help                      the watch YAML and what plugins receive
  pgwarden observe observe.yml               probe every member, alert on two primaries, a leader
                                             in recovery or lag; serve /cluster and /metrics
  pgwarden observe --help                    the observer YAML, its alerts and endpoints

The node YAML uses Patroni's keys (scope, name, restapi, etcd3, bootstrap, postgresql, tags), so
the same file also works with patronictl. Signals: SIGTERM/SIGINT stop the node gracefully (a
leader stops PostgreSQL, then hands over the leader key); SIGHUP re-reads the file.`;

const WATCH_HELP = `
The watch YAML:
  etcd3: {hosts: [10.0.0.1:2379, 10.0.0.2:2379]}   # as in a node's YAML
  namespace: /service/                           # default
  scope: batman                                  # or scopes: [batman, robin]
  callback_timeout: 30                           # seconds a plugin run may take (then killed)
  retry_interval: 10                             # seconds before a failed run is tried again
  poll_interval: 2                               # seconds between reads of each cluster
  plugins:
    - name: pgbouncer
      command: /usr/share/pgwarden/examples/watch-pgbouncer.mjs --ini /etc/pgbouncer/pgbouncer.ini --database app
    - name: haproxy
      command: /usr/share/pgwarden/examples/watch-haproxy.mjs --config /etc/haproxy/haproxy.cfg --section primary
      scopes: [batman]                           # default: every watched scope

Each plugin runs (without a shell) once at start, then whenever the leader or the set of healthy
members of its clusters changes; never two runs of one plugin at once. It reads one JSON document
on stdin: {"event": "watch_started" | "topology_changed" | "retry", "plugin", "reason",
"timestamp", "clusters": [{"scope", "leader": {"name", "conn_url", "api_url", ...} | null,
"replicas": [...], ...}]}. A run that fails (exit status not 0) or times out is logged with its
stderr and tried again at the next change or after retry_interval. Plugins must be idempotent.

Examples:
  pgwarden watch watch.yml
  pgwarden watch --validate-config watch.yml

Signals: SIGTERM/SIGINT stop the watcher; a plugin run in progress gets callback_timeout seconds.`;

const OBSERVE_HELP = `
The observer YAML (examples/observe.yml is a commented one):
  etcd3: {hosts: [10.0.0.1:2379]}                # as in a node's YAML
  namespace: /service/                           # default
  scope: batman                                  # or scopes: [batman, robin]
  restapi:
    listen: 127.0.0.1:8090                       # /cluster?scope=NAME, /clusters, /metrics
    authentication: {username: obs, password: x} # optional; then every request needs it
  postgresql:
    authentication:
      monitoring: {username: observer, password: x}  # a role with pg_monitor (or: superuser)
    database: postgres                           # default
  poll_interval: 5                               # seconds between rounds
  probe_timeout: 3                               # seconds per PostgreSQL / REST probe
  alert_file_dir: /var/lib/pgwarden-observer     # files in <dir>/<scope>/; optional
  warning_replication_bytes_lag: 16777216        # optional
  warning_replication_time_lag: 30               # seconds; optional
  heartbeat_table: {enabled: true}               # read the leader's heartbeat for time lag

Each round reads the cluster from etcd, then asks every member's PostgreSQL (read-only
transaction) whether it is in recovery and where its WAL is, and its REST API for GET /patroni.
Alerts (logged, served, and files in alert_file_dir/<scope>/ while in force; raised when seen in
two rounds in a row): multiple_primary_warning, leader_in_recovery_warning,
replication_delay_warning, authentication_error. The observer never writes to etcd or PostgreSQL.

Examples:
  pgwarden observe observe.yml
  pgwarden observe --validate-config observe.yml
  curl -s 'http://127.0.0.1:8090/cluster?scope=batman' | jq .observer

Signals: SIGTERM/SIGINT stop the observer; SIGHUP re-reads the file (restapi and log apply at
the next start; a file with errors is refused and the running configuration kept).`;

function validate(file: string): number {
  try {
    const { config, warnings } = loadConfigFile(file);
    // The REST API's certificate files are part of a valid configuration: read and try them.
    serverTls(config.restapi);
    clientTls(config);
    for (const w of warnings) process.stdout.write(`warning: ${w}\n`);
    process.stdout.write(`${file}: configuration is valid\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`${e instanceof ConfigError ? e.message : `${file}: ${errorText(e)}`}\n`);
    return 1;
  }
}

/** `--validate-config` of the watch and observe forms: every problem, or the warnings. */
function validateOther(file: string, load: (path: string) => string[]): number {
  try {
    for (const w of load(file)) process.stdout.write(`warning: ${w}\n`);
    process.stdout.write(`${file}: configuration is valid\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`${e instanceof ConfigError ? e.message : `${file}: ${errorText(e)}`}\n`);
    return 1;
  }
}

/** Runs the watch or observe form (`name`), or validates its file. */
async function runForm(name: string, file: string, opts: { validateConfig?: boolean }, run: (path: string) => Promise<number>, load: (path: string) => string[]): Promise<number> {
  if (opts.validateConfig) return validateOther(file, load);
  try {
    return await run(file);
  } catch (e) {
    process.stderr.write(`${e instanceof ConfigError ? e.message : `pgwarden ${name}: ${errorText(e)}`}\n`);
    return 1;
  }
}

const program = new Command()
  .name('pgwarden')
  .description('PostgreSQL high-availability agent: one per PostgreSQL server, coordinated through etcd')
  .version(VERSION, '-V, --version', 'print the pgwarden version')
  .argument('[config]', 'YAML configuration file of this node')
  .option('--validate-config', 'validate the configuration file and exit (0 = valid)')
  .addHelpText('after', EXAMPLES)
  .showHelpAfterError()
  // Options belong to the form they follow: `pgwarden watch --validate-config w.yml` is watch's.
  .enablePositionalOptions()
  .action(async (file: string | undefined, opts: { validateConfig?: boolean }) => {
    if (!file) {
      program.outputHelp({ error: true });
      process.stderr.write('\nerror: missing the configuration file argument\n');
      process.exitCode = 2;
      return;
    }
    if (opts.validateConfig) {
      process.exitCode = validate(file);
      return;
    }
    if (process.getuid?.() === 0) {
      process.stderr.write(
        'pgwarden must not run as root: PostgreSQL refuses to run as root, and the agent runs it.\n' +
          `Run it as the OS user that owns the data directory, e.g.: runuser -u postgres -- npx pgwarden ${file}\n`,
      );
      process.exitCode = 1;
      return;
    }
    process.exitCode = await runDaemon(file);
  });

program
  .command('watch')
  .description('watch clusters in etcd and run plugin commands when the leader or the healthy members change')
  .argument('<config>', 'YAML file of the watcher (etcd3, scope or scopes, plugins)')
  .option('--validate-config', 'validate the watch YAML and exit (0 = valid)')
  .addHelpText('after', WATCH_HELP)
  .showHelpAfterError()
  .action(async (file: string, opts: { validateConfig?: boolean }) => {
    process.exitCode = await runForm('watch', file, opts, runWatch, validateWatchFile);
  });

program
  .command('observe')
  .description('watch clusters from outside: probe every member, alert on two primaries, a leader in recovery or lag (read-only)')
  .argument('<config>', 'YAML file of the observer (etcd3, scope or scopes, restapi, postgresql)')
  .option('--validate-config', 'validate the observer YAML and exit (0 = valid)')
  .addHelpText('after', OBSERVE_HELP)
  .showHelpAfterError()
  .action(async (file: string, opts: { validateConfig?: boolean }) => {
    process.exitCode = await runForm('observe', file, opts, runObserve, validateObserverFile);
  });

program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`pgwarden: ${errorText(e)}\n`);
  process.exitCode = 1;
});
