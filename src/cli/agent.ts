#!/usr/bin/env node
import { Command } from 'commander';
import { clientTls, serverTls } from '../api/tls.js';
import { loadConfigFile } from '../config/load.js';
import { ConfigError, errorText } from '../errors.js';
import { VERSION } from '../version.js';
import { runDaemon } from './daemon.js';

const EXAMPLES = `
Examples:
  pgwarden postgres0.yml                     run the HA agent for the node described in postgres0.yml
  pgwarden --validate-config postgres0.yml   check a file and list every problem, then exit
  runuser -u postgres -- npx pgwarden postgres0.yml
                                             as root: run it as the OS user that owns the data directory

The YAML uses Patroni's keys (scope, name, restapi, etcd3, bootstrap, postgresql, tags), so the
same file also works with patronictl. Signals: SIGTERM/SIGINT stop the node gracefully (a leader
stops PostgreSQL, then hands over the leader key); SIGHUP re-reads the file.`;

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

const program = new Command()
  .name('pgwarden')
  .description('PostgreSQL high-availability agent: one per PostgreSQL server, coordinated through etcd')
  .version(VERSION, '-V, --version', 'print the pgwarden version')
  .argument('[config]', 'YAML configuration file of this node')
  .option('--validate-config', 'validate the configuration file and exit (0 = valid)')
  .addHelpText('after', EXAMPLES)
  .showHelpAfterError()
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

program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`pgwarden: ${errorText(e)}\n`);
  process.exitCode = 1;
});
