#!/usr/bin/env node
/**
 * `pgwardenctl`: the operator CLI. It reads a node's YAML (`-c FILE` or PGWARDENCTL_CONFIG_FILE),
 * reads the cluster from etcd and acts through the members' REST APIs, like patronictl.
 * Every failure prints `pgwardenctl: <reason>` and exits 1.
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import pg from 'pg';
import { validateDynamic } from '../config/dynamic.js';
import { mergePatch, type JsonObject } from '../config/patch.js';
import type { ClusterSnapshot } from '../domain/cluster.js';
import { errorText } from '../errors.js';
import { memberUpstream } from '../ha/upstream.js';
import { VERSION } from '../version.js';
import {
  forEachMember,
  leaderFirst,
  parseRole,
  restartBody,
  restartLine,
  scheduledTime,
  selectMembers,
  splitNames,
  type RestartOptions,
} from '../ctl/actions.js';
import { CtlError, openContext, type CtlContext } from '../ctl/context.js';
import { answerLine, currentPrimary } from '../ctl/current-primary.js';
import { addSetting, editInEditor, lineDiff, pgParameterSetting, readYamlFile, toYaml } from '../ctl/edit.js';
import { leaderChange } from '../ctl/leader-change.js';
import { setPause } from '../ctl/pause.js';
import { progress, say, sleep } from '../ctl/output.js';
import { parseFormat, renderRows, type Format, type Row } from '../ctl/format.js';
import { listColumns, listFooter, listRows, topologyRows } from '../ctl/list.js';
import { ask, confirm } from '../ctl/prompt.js';

const program = new Command()
  .name('pgwardenctl')
  .description('Operator CLI for pgwarden clusters: reads etcd, acts through the members\' REST APIs (patronictl-compatible)')
  .version(VERSION, '-V, --version', 'print the pgwarden version')
  .enablePositionalOptions()
  .option('-c, --config-file <file>', 'YAML file of any node of the cluster', process.env.PGWARDENCTL_CONFIG_FILE)
  .addHelpText('after', '\nExamples:\n  pgwardenctl -c postgres0.yml list\n  pgwardenctl -c postgres0.yml switchover --leader postgres0 --candidate postgres1 --force');

/** Runs `body` with a context for the config file (and the cluster name, when given). */
async function withContext<T>(clusterName: string | undefined, body: (ctx: CtlContext) => Promise<T>): Promise<T> {
  const ctx = openContext(program.opts<{ configFile?: string }>().configFile, clusterName);
  try {
    return await body(ctx);
  } finally {
    await ctx.close();
  }
}

function formatOption(): Option {
  return new Option('-f, --format <format>', 'pretty, tsv, json or yaml').default('pretty').argParser(parseFormat);
}

function printList(ctx: CtlContext, cluster: ClusterSnapshot, format: Format, rows: Row[], extended: boolean): void {
  const columns = listColumns(rows, extended);
  if (format === 'pretty') {
    say(renderRows('pretty', `Cluster: ${ctx.scope}`, columns, rows));
    for (const line of listFooter(cluster)) say(line);
  } else {
    say(renderRows(format, null, ['Cluster', ...columns], rows.map((r) => ({ Cluster: ctx.scope, ...r }))));
  }
}

async function listCommand(clusterName: string | undefined, o: { format: Format; extended?: boolean; watch?: boolean; interval?: string }, topology: boolean): Promise<void> {
  await withContext(clusterName, async (ctx) => {
    const interval = Number(o.interval ?? 2) * 1000;
    for (;;) {
      const cluster = await ctx.cluster();
      if (o.watch && process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
      printList(ctx, cluster, o.format, topology ? topologyRows(cluster) : listRows(cluster), o.extended === true);
      if (!o.watch) return;
      await sleep(interval);
    }
  });
}

program
  .command('list [cluster]')
  .description('show the members: role, state, timeline, lag (from etcd)')
  .addOption(formatOption())
  .option('-e, --extended', 'always show the Pending restart, Scheduled restart and Tags columns')
  .option('-W, --watch', 'repeat every 2 s until interrupted')
  .option('-w, --interval <seconds>', 'repeat every N seconds (implies -W)')
  .action((clusterName: string | undefined, o: { format: Format; extended?: boolean; watch?: boolean; interval?: string }) =>
    listCommand(clusterName, { ...o, watch: o.watch === true || o.interval !== undefined }, false));

program
  .command('topology [cluster]')
  .description('like list, with replicas under the member they stream from')
  .addOption(formatOption())
  .option('-W, --watch', 'repeat every 2 s until interrupted')
  .action((clusterName: string | undefined, o: { format: Format; watch?: boolean }) => listCommand(clusterName, o, true));

program
  .command('history [cluster]')
  .description('timeline history: TL, LSN, Reason, Timestamp, New Leader')
  .addOption(formatOption())
  .action(async (clusterName: string | undefined, o: { format: Format }) => {
    await withContext(clusterName, async (ctx) => {
      const rows = ((await ctx.cluster()).history ?? []).map((h) => ({
        TL: String(h[0]),
        LSN: String(h[1]),
        Reason: h[2],
        Timestamp: h[3] ?? '',
        'New Leader': h[4] ?? '',
      }));
      say(renderRows(o.format, null, ['TL', 'LSN', 'Reason', 'Timestamp', 'New Leader'], rows));
    });
  });

program
  .command('show-config [cluster]')
  .description('print the dynamic configuration (etcd config key) as YAML')
  .action(async (clusterName: string | undefined) => {
    await withContext(clusterName, async (ctx) => {
      const config = (await ctx.cluster()).config;
      if (config === null) throw new CtlError(`cluster ${ctx.scope} has no config key in etcd`);
      process.stdout.write(toYaml(config));
    });
  });

const collect = (v: string, prev: string[]): string[] => [...prev, v];

program
  .command('edit-config [cluster]')
  .description('change the dynamic configuration (compare-and-set on the etcd config key)')
  .option('-s, --set <key=value>', 'set a key path to a YAML value (null deletes); repeatable', collect, [])
  .option('-p, --pg <name=value>', 'set postgresql.parameters.<name>; repeatable', collect, [])
  .option('--apply <file>', 'merge a YAML file into the configuration (- = stdin)')
  .option('--replace <file>', 'replace the configuration with a YAML file (- = stdin)')
  .option('--force', 'do not ask for confirmation')
  .option('-q, --quiet', 'do not show the diff')
  .addHelpText('after', '\nExamples:\n  pgwardenctl -c postgres0.yml edit-config -s ttl=20 -p max_connections=200 --force\n  pgwardenctl -c postgres0.yml edit-config    # opens $EDITOR')
  .action(async (clusterName: string | undefined, o: { set: string[]; pg: string[]; apply?: string; replace?: string; force?: boolean; quiet?: boolean }) => {
    await withContext(clusterName, async (ctx) => {
      const cluster = await ctx.cluster();
      const current = cluster.config;
      if (current === null || cluster.configModRevision === null) throw new CtlError(`cluster ${ctx.scope} has no config key in etcd yet`);
      let next: JsonObject;
      if (o.replace !== undefined) {
        next = readYamlFile(o.replace, '--replace');
      } else if (o.set.length > 0 || o.pg.length > 0 || o.apply !== undefined) {
        const patch: JsonObject = o.apply !== undefined ? readYamlFile(o.apply, '--apply') : {};
        try {
          for (const s of o.set) addSetting(patch, s);
          for (const p of o.pg) addSetting(patch, pgParameterSetting(p));
        } catch (e) {
          throw new CtlError(errorText(e));
        }
        next = mergePatch(current, patch).value;
      } else {
        next = editInEditor(current);
      }
      const before = toYaml(current);
      const after = toYaml(next);
      if (before === after) {
        say('Not changed');
        return;
      }
      if (!o.quiet) say(lineDiff(before, after));
      const problems = validateDynamic(next);
      if (problems.length > 0) throw new CtlError(`the new configuration is invalid, nothing written:\n  ${problems.join('\n  ')}`);
      await confirm('Apply these changes?', o.force === true);
      const ok = await ctx.dcs.setConfig(next, cluster.configModRevision);
      if (!ok) throw new CtlError('Config modification aborted due to concurrent changes');
      say('Configuration changed');
    });
  });

program
  .command('switchover [cluster]')
  .description('planned switchover from the leader to a replica (immediate or scheduled)')
  .option('--leader <name>', 'the current leader')
  .addOption(new Option('--primary <name>', 'alias of --leader').hideHelp())
  .addOption(new Option('--master <name>', 'alias of --leader').hideHelp())
  .option('--candidate <name>', 'the member to take over (default: the best replica)')
  .option('--scheduled <time>', 'ISO 8601 time, or now')
  .option('--force', 'do not ask for confirmation')
  .addHelpText('after', '\nExample:\n  pgwardenctl -c postgres0.yml switchover --leader postgres0 --candidate postgres1 --force')
  .action((clusterName: string | undefined, o: { leader?: string; primary?: string; master?: string; candidate?: string; scheduled?: string; force?: boolean }) =>
    withContext(clusterName, (ctx) => leaderChange(ctx, 'switchover', { ...o, leader: o.leader ?? o.primary ?? o.master })));

program
  .command('failover [cluster]')
  .description('make the named candidate the leader (works without a leader)')
  .option('--leader <name>', 'the current leader (optional)')
  .option('--candidate <name>', 'the member to take over')
  .option('--force', 'do not ask for confirmation')
  .addHelpText('after', '\nExample:\n  pgwardenctl -c postgres0.yml failover --candidate postgres2 --force')
  .action((clusterName: string | undefined, o: { leader?: string; candidate?: string; force?: boolean }) => withContext(clusterName, (ctx) => leaderChange(ctx, 'failover', o)));

program
  .command('restart [names...]')
  .description('restart PostgreSQL on members ([cluster] [members...]; all by default)')
  .option('-r, --role <role>', 'leader, primary, replica or any', 'any')
  .option('--pending', 'only members with a pending restart')
  .option('--scheduled <time>', 'ISO 8601 time to restart at')
  .option('--pg-version <version>', 'only members running an older PostgreSQL than this')
  .option('--timeout <seconds>', 'give up waiting for the restart after this long')
  .option('--force', 'do not ask for confirmation')
  .addHelpText('after', '\nExamples:\n  pgwardenctl -c postgres0.yml restart batman postgres1 --force\n  pgwardenctl -c postgres0.yml restart --role replica --pending --force')
  .action(async (names: string[], o: RestartOptions & { role: string; force?: boolean }) => {
    await withContext(undefined, async (ctx) => {
      const { members: wanted } = splitNames(ctx.scope, names);
      const cluster = await ctx.cluster();
      const members = selectMembers(cluster, wanted, parseRole(o.role), o.pending === true);
      if (members.length === 0) throw new CtlError('no member matches');
      const when = scheduledTime(o.scheduled);
      await confirm(`Restart ${members.map((m) => m.name).join(', ')}${when ? ` at ${when}` : ' now'}?`, o.force === true);
      const ok = await forEachMember(members, async (m) => {
        if (o.force && m.data.scheduled_restart) await ctx.call(m, 'DELETE', '/restart');
        const r = await ctx.call(m, 'POST', '/restart', restartBody(o, when), 120_000);
        return restartLine(m.name, r.status, r.text);
      });
      if (!ok) process.exitCode = 1;
    });
  });

program
  .command('reinit [names...]')
  .description('wipe replicas and clone them again from the leader ([cluster] members...)')
  .option('--force', 'do not ask; cancel a running action on the member')
  .option('--wait', 'wait until the members run again')
  .addHelpText('after', '\nExample:\n  pgwardenctl -c postgres0.yml reinit batman postgres2 --force --wait')
  .action(async (names: string[], o: { force?: boolean; wait?: boolean }) => {
    await withContext(undefined, async (ctx) => {
      const { members: wanted } = splitNames(ctx.scope, names);
      if (wanted.length === 0) throw new CtlError('name the members to reinitialize');
      const cluster = await ctx.cluster();
      const members = selectMembers(cluster, wanted);
      const leader = members.find((m) => m.name === cluster.leader?.name);
      if (leader) throw new CtlError(`${leader.name} is the leader; only replicas can be reinitialized`);
      await confirm(`Are you sure you want to reinitialize members ${members.map((m) => m.name).join(', ')}?`, o.force === true);
      const ok = await forEachMember(members, async (m) => {
        const r = await ctx.call(m, 'POST', '/reinitialize', { force: o.force === true });
        return r.status === 200 ? { ok: true, line: `Success: reinitialize for member ${m.name}` } : { ok: false, line: `Failed: reinitialize for member ${m.name}, status code=${r.status}, (${r.text.trim()})` };
      });
      if (ok && o.wait) {
        for (const m of members) {
          const deadline = Date.now() + 600_000;
          progress(`waiting for ${m.name}`);
          for (;;) {
            const s = await ctx.call(m, 'GET', '/patroni', undefined, 3_000).then((r) => (JSON.parse(r.text) as { state?: string }).state, () => undefined);
            if (s === 'running') break;
            if (Date.now() > deadline) throw new CtlError(`${m.name} is not running 10 minutes after the reinitialize (state ${s ?? 'unknown'})`);
            progress('.');
            await sleep(1000);
          }
          progress('\n');
          say(`${m.name} is running again`);
        }
      }
      if (!ok) process.exitCode = 1;
    });
  });

program
  .command('reload [names...]')
  .description('reload the configuration of members ([cluster] [members...]; all by default)')
  .option('-r, --role <role>', 'leader, primary, replica or any', 'any')
  .option('--force', 'do not ask for confirmation')
  .action(async (names: string[], o: { role: string; force?: boolean }) => {
    await withContext(undefined, async (ctx) => {
      const members = selectMembers(await ctx.cluster(), splitNames(ctx.scope, names).members, parseRole(o.role));
      await confirm(`Are you sure you want to reload members ${members.map((m) => m.name).join(', ')}?`, o.force === true);
      const ok = await forEachMember(members, async (m) => {
        const r = await ctx.call(m, 'POST', '/reload', undefined);
        if (r.status === 200) return { ok: true, line: `No changes to apply on member ${m.name}` };
        if (r.status === 202) return { ok: true, line: `Reload request received for member ${m.name} and will be processed within ${String(ctx.config.bootstrap?.dcs?.['loop_wait'] ?? 10)} seconds` };
        return { ok: false, line: `Failed: reload for member ${m.name}, status code=${r.status}, (${r.text.trim()})` };
      });
      if (!ok) process.exitCode = 1;
    });
  });

program
  .command('pause [cluster]')
  .description('stop automatic failover and recovery (maintenance mode)')
  .option('--wait', 'wait until every member shows it')
  .action((clusterName: string | undefined, o: { wait?: boolean }) => withContext(clusterName, (ctx) => setPause(ctx, true, o.wait === true)));

program
  .command('resume [cluster]')
  .description('resume automatic failover and recovery')
  .option('--wait', 'wait until every member shows it')
  .action((clusterName: string | undefined, o: { wait?: boolean }) => withContext(clusterName, (ctx) => setPause(ctx, false, o.wait === true)));

program
  .command('flush <args...>')
  .description('cancel scheduled actions: flush [cluster] restart [members...] | flush [cluster] switchover')
  .option('--force', 'do not ask for confirmation')
  .action(async (args: string[], o: { force?: boolean }) => {
    await withContext(undefined, async (ctx) => {
      const rest = args[0] === ctx.scope ? args.slice(1) : args;
      const [target, ...names] = rest;
      const cluster = await ctx.cluster();
      if (target === 'restart') {
        const members = selectMembers(cluster, names).filter((m) => m.data.scheduled_restart);
        if (members.length === 0) {
          say('No scheduled restarts');
          return;
        }
        await confirm(`Cancel the scheduled restarts of ${members.map((m) => m.name).join(', ')}?`, o.force === true);
        const ok = await forEachMember(members, async (m) => {
          const r = await ctx.call(m, 'DELETE', '/restart', undefined);
          return r.status === 200 ? { ok: true, line: `Success: flush scheduled restart for member ${m.name}` } : { ok: false, line: `Failed: flush scheduled restart for member ${m.name}, status code=${r.status}, (${r.text.trim()})` };
        });
        if (!ok) process.exitCode = 1;
      } else if (target === 'switchover') {
        for (const m of leaderFirst(cluster)) {
          const r = await ctx.call(m, 'DELETE', '/switchover', undefined).catch(() => null);
          if (r && (r.status === 200 || r.status === 404)) {
            say(r.text.trim());
            return;
          }
        }
        if (!(await ctx.dcs.setFailover({}, cluster.failoverModRevision ?? undefined))) throw new CtlError('the switchover request changed concurrently; try again');
        say('Success: scheduled switchover deleted (written into etcd directly: no member answered)');
      } else {
        throw new CtlError('flush what? use: flush [cluster] restart [members...] or flush [cluster] switchover');
      }
    });
  });

program
  .command('dsn [cluster]')
  .description('print host= port= of the leader, or of a role or member')
  .option('-r, --role <role>', 'leader, primary, replica or any', 'leader')
  .option('-m, --member <name>', 'a member by name')
  .action(async (clusterName: string | undefined, o: { role: string; member?: string }) => {
    await withContext(clusterName, async (ctx) => {
      const cluster = await ctx.cluster();
      const m = selectMembers(cluster, o.member ? [o.member] : [], o.member ? 'any' : parseRole(o.role))[0];
      const up = m ? memberUpstream(m) : null;
      if (!up) throw new CtlError('no member matches');
      say(`host=${up.host} port=${up.port}`);
    });
  });

program
  .command('current-primary [cluster]')
  .description('print the primary: name, host:port and conn_url (from etcd, else from json_state_file_path)')
  .option('--json', 'print a JSON object (with the source, and for the state file its age)')
  .addHelpText('after', '\nExamples:\n  pgwardenctl -c postgres0.yml current-primary     # postgres0 127.0.0.1:5432 postgres://127.0.0.1:5432/postgres\n  psql "$(pgwardenctl -c postgres0.yml current-primary --json | jq -r .conn_url)"')
  .action(async (clusterName: string | undefined, o: { json?: boolean }) => {
    await withContext(clusterName, async (ctx) => {
      const { answer, notice } = await currentPrimary(ctx);
      if (notice !== null) process.stderr.write(`pgwardenctl: ${notice}\n`);
      say(o.json ? JSON.stringify(answer) : answerLine(answer));
    });
  });

program
  .command('query [cluster]')
  .description('run SQL on a member (the leader by default) and print the rows')
  .option('-r, --role <role>', 'leader, primary, replica or any', 'leader')
  .option('-m, --member <name>', 'a member by name')
  .option('-c, --command <sql>', 'the SQL to run')
  .option('--file <file>', 'read the SQL from a file')
  .option('-U, --username <user>', 'user (default: postgresql.authentication.superuser)')
  .option('--password', 'ask for the password')
  .option('-d, --dbname <name>', 'database', 'postgres')
  .addOption(formatOption().default('tsv'))
  .action(async (clusterName: string | undefined, o: { role: string; member?: string; command?: string; file?: string; username?: string; password?: boolean; dbname: string; format: Format }) => {
    await withContext(clusterName, async (ctx) => {
      const sql = o.command ?? (o.file ? readFileSync(o.file, 'utf8') : undefined);
      if (!sql) throw new CtlError('no SQL: pass -c SQL or -f FILE');
      const m = selectMembers(await ctx.cluster(), o.member ? [o.member] : [], o.member ? 'any' : parseRole(o.role))[0];
      const up = m ? memberUpstream(m) : null;
      if (!up) throw new CtlError('no member matches');
      const su = ctx.config.postgresql.authentication.superuser;
      const password = o.password ? await ask('Password:', '-U with a .pgpass entry') : o.username ? undefined : su.password;
      const client = new pg.Client({ host: up.host, port: up.port, user: o.username ?? su.username, password, database: o.dbname, connectionTimeoutMillis: 5000 });
      client.on('error', () => undefined);
      try {
        await client.connect();
        const res = await client.query(sql);
        const columns = res.fields.map((f) => f.name);
        const rows = (res.rows as Record<string, unknown>[]).map((r) => Object.fromEntries(columns.map((c) => [c, r[c] === null ? '' : String(r[c])])));
        say(renderRows(o.format, null, columns, rows));
      } catch (e) {
        throw new CtlError(`${m!.name} (${up.host}:${up.port}): ${errorText(e)}`);
      } finally {
        await client.end().catch(() => undefined);
      }
    });
  });

program
  .command('remove <cluster>')
  .description('delete every etcd key of the cluster (asks three questions; needs a terminal)')
  .action(async (clusterName: string) => {
    await withContext(clusterName, async (ctx) => {
      const cluster = await ctx.cluster();
      if ((await ask('Please confirm the cluster name to remove:', 'nothing: remove needs a terminal')) !== ctx.scope) throw new CtlError('cluster name does not match; nothing removed');
      if ((await ask('You are about to remove all information in etcd for this cluster. Type "Yes I am aware":', 'nothing')) !== 'Yes I am aware') throw new CtlError('aborted; nothing removed');
      const leader = cluster.leader?.name;
      if (leader && (await ask('This cluster has a leader. Type its name to confirm:', 'nothing')) !== leader) throw new CtlError('leader name does not match; nothing removed');
      await ctx.dcs.removeCluster();
      say(`Cluster ${ctx.scope} removed from etcd`);
    });
  });

program
  .command('version [names...]')
  .description('print the pgwardenctl version and, for members, their agent and PostgreSQL versions')
  .action(async (names: string[]) => {
    say(`pgwardenctl version ${VERSION}`);
    if (names.length === 0) return;
    await withContext(undefined, async (ctx) => {
      const { members } = splitNames(ctx.scope, names);
      for (const m of selectMembers(await ctx.cluster(), members)) {
        const s = await ctx.call(m, 'GET', '/patroni', undefined, 3_000).then((r) => JSON.parse(r.text) as { patroni?: { version?: string }; server_version?: number }, () => null);
        const v = s?.server_version;
        say(`${m.name}: pgwarden ${s?.patroni?.version ?? '?'} PostgreSQL ${v ? `${Math.floor(v / 10000)}.${v % 10000}` : '?'}`);
      }
    });
  });


program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`pgwardenctl: ${e instanceof CtlError ? e.message : errorText(e)}\n`);
  process.exitCode = 1;
});
