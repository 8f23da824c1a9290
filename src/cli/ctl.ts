#!/usr/bin/env node
import { Command } from 'commander';
import { etcdEndpoints, loadConfigFile } from '../config/load.js';
import { Etcd3Dcs } from '../dcs/etcd3.js';
import { listRows, renderTable } from '../ctl/list.js';
import { errorText } from '../errors.js';
import { VERSION } from '../version.js';

const program = new Command()
  .name('pgwardenctl')
  .description('Operator CLI for pgwarden clusters (reads the same YAML files as the agents)')
  .version(VERSION, '-V, --version', 'print the pgwarden version')
  .requiredOption('-c, --config-file <file>', 'YAML file of any node of the cluster (PGWARDENCTL_CONFIG_FILE)', process.env.PGWARDENCTL_CONFIG_FILE)
  .addHelpText('after', '\nExample:\n  pgwardenctl -c postgres0.yml list');

program
  .command('list')
  .description('show the members of the cluster, their role, state, timeline and lag, from etcd')
  .option('-f, --format <format>', 'pretty or json', 'pretty')
  .action(async (opts: { format: string }) => {
    const file = program.opts<{ configFile: string }>().configFile;
    const { config } = loadConfigFile(file);
    const dcs = new Etcd3Dcs({ namespace: config.namespace, scope: config.scope, callTimeoutMs: 5_000, hosts: etcdEndpoints(config), username: config.etcd3.username, password: config.etcd3.password });
    try {
      const cluster = await dcs.getCluster();
      const rows = listRows(cluster);
      process.stdout.write(opts.format === 'json' ? `${JSON.stringify(rows.map((r) => ({ Cluster: config.scope, ...r })))}\n` : `${renderTable(config.scope, rows)}\n`);
    } finally {
      await dcs.close();
    }
  });

program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`pgwardenctl: ${errorText(e)}\n`);
  process.exitCode = 1;
});
