#!/usr/bin/env node
// pgwarden watch plugin: regenerates the `server` lines of one haproxy section from the cluster.
//
//   watch-haproxy.mjs --config /etc/haproxy/haproxy.cfg --section primary
//                     [--servers leader|replicas|all] [--scope batman]
//                     [--server-options 'maxconn 100 check port {api_port}']
//                     (--pidfile /run/haproxy.pid | --reload-command 'systemctl reload haproxy')
//                     [--haproxy /usr/sbin/haproxy]
//
// The section must contain two marker lines; everything between them belongs to this plugin:
//
//   listen primary
//       bind *:5000
//       option httpchk OPTIONS /primary
//       http-check expect status 200
//       # BEGIN pgwarden primary
//       # END pgwarden primary
//
// Which members get a line (--servers): `leader` = the holder of the leader key; `replicas` =
// running members other than the leader, without the noloadbalance tag; `all` (default) = both,
// which suits sections that pick the right server by health check. Lines are sorted by member
// name and look like `server postgres1 10.0.0.12:5432 maxconn 100 check port 8008`;
// {api_host} and {api_port} in --server-options are the member's REST API address.
//
// The new file is checked with `haproxy -c` before it replaces the old one (atomically: a
// temporary file in the same directory, fsync, rename), so a bad result never reaches haproxy.
// Then haproxy reloads gracefully: SIGUSR2 to the master process of a master-worker haproxy
// (-W, as Debian's systemd unit runs it) whose pid is in --pidfile, or --reload-command.
//
// Idempotent: when the lines are already right nothing is written and haproxy is not reloaded.
// With no member to list (no leader during a failover, every replica down) the section is left
// as it is rather than emptied. If the reload fails after the file was written, a marker file
// remembers it and the next run (pgwarden retries failed runs) reloads.
//
// Exit status: 0 done or nothing to do, 1 failure (reason on stderr), 2 wrong arguments.
// Progress goes to stdout, which pgwarden discards; run it by hand to see it.
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, fchownSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

function fail(message, status = 1) {
  process.stderr.write(`watch-haproxy: ${message}\n`);
  process.exit(status);
}

let opts;
try {
  ({ values: opts } = parseArgs({
    options: {
      config: { type: 'string' },
      section: { type: 'string' },
      servers: { type: 'string', default: 'all' },
      scope: { type: 'string' },
      'server-options': { type: 'string', default: 'maxconn 100 check port {api_port}' },
      pidfile: { type: 'string' },
      'reload-command': { type: 'string' },
      haproxy: { type: 'string', default: existsSync('/usr/sbin/haproxy') ? '/usr/sbin/haproxy' : 'haproxy' },
    },
  }));
} catch (e) {
  fail(e.message, 2);
}
if (!opts.config || !opts.section || !['leader', 'replicas', 'all'].includes(opts.servers) || (!opts.pidfile && !opts['reload-command'])) {
  fail('usage: watch-haproxy.mjs --config FILE --section NAME [--servers leader|replicas|all] [--scope SCOPE] [--server-options TEXT] (--pidfile FILE | --reload-command CMD) [--haproxy BIN]', 2);
}
const configPath = resolve(opts.config);
const pendingMarker = join(dirname(configPath), `.${basename(configPath)}.pgwarden-reload-pending`);
const BEGIN = `# BEGIN pgwarden ${opts.section}`;
const END = `# END pgwarden ${opts.section}`;

/** The cluster this run is about: the watch document's only cluster, or the one --scope names. */
function pickCluster(doc) {
  const clusters = Array.isArray(doc.clusters) ? doc.clusters : [doc]; // a callback document works too
  if (opts.scope) {
    const found = clusters.find((c) => c.scope === opts.scope);
    if (!found) fail(`the document has no cluster ${opts.scope} (it has: ${clusters.map((c) => c.scope).join(', ')})`);
    return found;
  }
  if (clusters.length !== 1) fail(`the document has ${clusters.length} clusters: choose one with --scope`, 2);
  return clusters[0];
}

/** `scheme://host:port/...` → {host, port}; IPv6 hosts keep their brackets (haproxy wants them). */
function address(url, defaultPort) {
  const u = new URL(url);
  return { host: u.hostname, port: u.port === '' ? defaultPort : u.port };
}

/** The members to list, sorted by name: {name, conn_url, api_url}. */
function chosenMembers(cluster) {
  const out = [];
  const leader = cluster.leader;
  if (opts.servers !== 'replicas' && leader?.conn_url) out.push({ name: leader.name, conn_url: leader.conn_url, api_url: leader.api_url });
  if (opts.servers !== 'leader') {
    for (const r of cluster.replicas ?? []) {
      if (r.state !== 'running' || r.role === 'primary' || r.tags?.noloadbalance === true) continue;
      out.push({ name: r.name, conn_url: r.conn_url, api_url: r.api_url });
    }
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function serverLine(indent, m) {
  const pg = address(m.conn_url, '5432');
  const api = m.api_url ? address(m.api_url, '8008') : { host: pg.host, port: '8008' };
  const options = opts['server-options'].replaceAll('{api_host}', api.host).replaceAll('{api_port}', api.port);
  return `${indent}server ${m.name} ${pg.host}:${pg.port}${options.trim() === '' ? '' : ` ${options.trim()}`}`;
}

/** The config text with the lines between the markers replaced by `members`' server lines. */
function rewrite(text, members) {
  const lines = text.split('\n');
  const begin = lines.findIndex((l) => l.trim() === BEGIN);
  const end = lines.findIndex((l, i) => i > begin && l.trim() === END);
  if (begin < 0 || end < 0) fail(`${configPath} lacks the marker lines '${BEGIN}' and '${END}' (in this order) in section ${opts.section}`);
  const indent = /^\s*/.exec(lines[begin])[0];
  lines.splice(begin + 1, end - begin - 1, ...members.map((m) => serverLine(indent, m)));
  return lines.join('\n');
}

/** Writes `text` to a temporary file next to `path`; returns its name. */
function writeTemporary(path, text) {
  const tmp = join(dirname(path), `.${basename(path)}.pgwarden-${process.pid}`);
  const st = statSync(path);
  const fd = openSync(tmp, 'w', st.mode & 0o7777);
  try {
    // Keep the owner when run as root (haproxy may read it as another user).
    if (process.getuid?.() === 0) fchownSync(fd, st.uid, st.gid);
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return tmp;
}

function check(file) {
  try {
    execFileSync(opts.haproxy, ['-c', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 });
  } catch (e) {
    rmSync(file, { force: true });
    const output = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim() || e.message;
    fail(`haproxy -c rejects the regenerated configuration; ${configPath} is unchanged:\n${output}`);
  }
}

function reload() {
  if (opts['reload-command']) {
    try {
      execFileSync('/bin/sh', ['-c', opts['reload-command']], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 });
    } catch (e) {
      fail(`reload command failed (${opts['reload-command']}): ${`${e.stderr ?? ''}`.trim() || e.message}`);
    }
  } else {
    let pid;
    try {
      pid = Number.parseInt(readFileSync(opts.pidfile, 'utf8'), 10);
    } catch (e) {
      fail(`cannot reload haproxy: cannot read its pid file ${opts.pidfile}: ${e.message} (is haproxy running?)`);
    }
    if (!(pid > 0)) fail(`cannot reload haproxy: ${opts.pidfile} holds no pid`);
    try {
      process.kill(pid, 'SIGUSR2');
    } catch (e) {
      fail(`cannot reload haproxy (pid ${pid} from ${opts.pidfile}): ${e.message}`);
    }
  }
  rmSync(pendingMarker, { force: true });
  process.stdout.write('reloaded haproxy\n');
}

let doc;
try {
  doc = JSON.parse(readFileSync(0, 'utf8'));
} catch (e) {
  fail(`stdin is not the JSON document of pgwarden watch: ${e.message}`);
}
const cluster = pickCluster(doc);
let text;
try {
  text = readFileSync(configPath, 'utf8');
} catch (e) {
  fail(`cannot read ${configPath}: ${e.message}`);
}

const members = chosenMembers(cluster);
if (members.length === 0) {
  process.stdout.write(`cluster ${cluster.scope} has no member to list with --servers ${opts.servers}: leaving section ${opts.section} as it is\n`);
} else {
  const next = rewrite(text, members);
  if (next === text) {
    process.stdout.write(`section ${opts.section} already lists ${members.map((m) => m.name).join(', ')}\n`);
  } else {
    const tmp = writeTemporary(configPath, next);
    check(tmp);
    try {
      closeSync(openSync(pendingMarker, 'w'));
      renameSync(tmp, configPath);
    } catch (e) {
      rmSync(tmp, { force: true });
      fail(`cannot replace ${configPath}: ${e.message}`);
    }
    process.stdout.write(`section ${opts.section} now lists ${members.map((m) => m.name).join(', ')}\n`);
  }
}
if (existsSync(pendingMarker)) reload();
