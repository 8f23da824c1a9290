#!/usr/bin/env node
// pgwarden watch plugin: points pgbouncer database entries at the current leader.
//
//   watch-pgbouncer.mjs --ini /etc/pgbouncer/pgbouncer.ini --database app [--database app2]
//                       [--scope batman] [--pidfile /run/postgresql/pgbouncer.pid]
//
// Reads the watch document (`pgwarden watch --help`) on stdin and sets `host` and `port` of each
// named entry in the ini's [databases] section to the leader's conn_url, keeping the entry's
// other settings (dbname, pool_size, ...); an entry that does not exist yet is added as
// `NAME = host=H port=P`. The file is replaced atomically (a temporary file in the same
// directory, fsync, rename), then pgbouncer is told to reload with SIGHUP (pid from --pidfile,
// default: the ini's own `pidfile` setting).
//
// Idempotent: when every entry already points at the leader, nothing is written and pgbouncer is
// not signalled. When the cluster has no leader (a failover is under way) the entries are left as
// they are: the next run, when a new leader holds the key, moves them. If the reload fails after
// the file was written, a marker file remembers it and the next run (pgwarden retries failed
// runs) reloads even though the file is already right.
//
// Exit status: 0 done or nothing to do, 1 failure (reason on stderr), 2 wrong arguments.
// Progress goes to stdout, which pgwarden discards; run it by hand to see it.
import { closeSync, existsSync, fchownSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

function fail(message, status = 1) {
  process.stderr.write(`watch-pgbouncer: ${message}\n`);
  process.exit(status);
}

let opts;
try {
  ({ values: opts } = parseArgs({
    options: {
      ini: { type: 'string' },
      database: { type: 'string', multiple: true },
      scope: { type: 'string' },
      pidfile: { type: 'string' },
    },
  }));
} catch (e) {
  fail(e.message, 2);
}
if (!opts.ini || !opts.database?.length) fail('usage: watch-pgbouncer.mjs --ini FILE --database NAME [--database NAME] [--scope SCOPE] [--pidfile FILE]', 2);
const iniPath = resolve(opts.ini);
const pendingMarker = join(dirname(iniPath), `.${basename(iniPath)}.pgwarden-reload-pending`);

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

/** `postgres://host:port/db` → {host, port}; IPv6 hosts without brackets. */
function hostPort(connUrl) {
  const url = new URL(connUrl);
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: url.port === '' ? '5432' : url.port };
}

/** libpq-style `key=value key='quoted value'` tokens with their positions in `text`. */
function connTokens(text) {
  const re = /([A-Za-z_][A-Za-z0-9_]*)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)/g;
  return [...text.matchAll(re)].map((m) => ({ key: m[1].toLowerCase(), start: m.index, end: m.index + m[0].length }));
}

/** `text` with `key=value` set, replacing an existing token or appending one. */
function setParam(text, key, value) {
  const token = connTokens(text).find((t) => t.key === key);
  const pair = `${key}=${/^[^\s'\\]+$/.test(value) ? value : `'${value.replace(/[\\']/g, '\\$&')}'`}`;
  if (!token) return `${text.trimEnd()}${text.trim() === '' ? '' : ' '}${pair}`;
  return `${text.slice(0, token.start)}${pair}${text.slice(token.end)}`;
}

const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The ini text with every entry in `names` pointed at host:port. */
function rewrite(text, names, host, port) {
  const lines = text.split('\n');
  let section = null;
  let databasesEnd = -1;
  const found = new Set();
  for (let i = 0; i < lines.length; i++) {
    const header = /^\s*\[([^\]]+)\]\s*$/.exec(lines[i]);
    if (header) {
      section = header[1].trim().toLowerCase();
      continue;
    }
    if (section !== 'databases') continue;
    if (/\S/.test(lines[i]) && !/^\s*[;#]/.test(lines[i])) databasesEnd = i;
    for (const name of names) {
      const entry = new RegExp(`^(\\s*"?${escapeRe(name)}"?\\s*=\\s*)(.*)$`).exec(lines[i]);
      if (!entry) continue;
      found.add(name);
      lines[i] = entry[1] + setParam(setParam(entry[2], 'host', host), 'port', port);
    }
  }
  const missing = names.filter((n) => !found.has(n));
  if (missing.length > 0) {
    const at = databasesEnd >= 0 ? databasesEnd : lines.findIndex((l) => /^\s*\[databases\]\s*$/i.test(l));
    if (at < 0) fail(`${iniPath} has no [databases] section`);
    lines.splice(at + 1, 0, ...missing.map((n) => `${n} = host=${host} port=${port}`));
  }
  return lines.join('\n');
}

/** `[pgbouncer] pidfile = ...` of the ini, or undefined. */
function iniPidfile(text) {
  let section = null;
  for (const line of text.split('\n')) {
    const header = /^\s*\[([^\]]+)\]\s*$/.exec(line);
    if (header) section = header[1].trim().toLowerCase();
    const m = section === 'pgbouncer' ? /^\s*pidfile\s*=\s*(\S.*?)\s*$/.exec(line) : null;
    if (m) return m[1];
  }
  return undefined;
}

/** Writes `text` to `path` so that readers see the old file or the new one, never a mix. */
function replaceAtomically(path, text) {
  const tmp = join(dirname(path), `.${basename(path)}.pgwarden-${process.pid}`);
  const st = statSync(path);
  const fd = openSync(tmp, 'w', st.mode & 0o7777);
  try {
    // Keep the owner when run as root (pgbouncer may run as another user and must read it).
    if (process.getuid?.() === 0) fchownSync(fd, st.uid, st.gid);
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

function reload(text) {
  const pidfile = opts.pidfile ?? iniPidfile(text);
  if (!pidfile) fail(`cannot reload pgbouncer: give --pidfile or set pidfile in ${iniPath}`);
  let pid;
  try {
    pid = Number.parseInt(readFileSync(pidfile, 'utf8'), 10);
  } catch (e) {
    fail(`cannot reload pgbouncer: cannot read its pid file ${pidfile}: ${e.message} (is pgbouncer running?)`);
  }
  if (!(pid > 0)) fail(`cannot reload pgbouncer: ${pidfile} holds no pid`);
  try {
    process.kill(pid, 'SIGHUP');
  } catch (e) {
    fail(`cannot reload pgbouncer (pid ${pid} from ${pidfile}): ${e.message}`);
  }
  rmSync(pendingMarker, { force: true });
  process.stdout.write(`reloaded pgbouncer (SIGHUP to pid ${pid})\n`);
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
  text = readFileSync(iniPath, 'utf8');
} catch (e) {
  fail(`cannot read ${iniPath}: ${e.message}`);
}

const leader = cluster.leader;
if (!leader?.conn_url) {
  process.stdout.write(`cluster ${cluster.scope} has no leader right now: leaving ${opts.database.join(', ')} as they are\n`);
} else {
  const { host, port } = hostPort(leader.conn_url);
  const next = rewrite(text, opts.database, host, port);
  if (next === text) {
    process.stdout.write(`${opts.database.join(', ')} already point at leader ${leader.name} (${host}:${port})\n`);
  } else {
    try {
      closeSync(openSync(pendingMarker, 'w'));
      replaceAtomically(iniPath, next);
    } catch (e) {
      fail(`cannot rewrite ${iniPath}: ${e.message}`);
    }
    process.stdout.write(`pointed ${opts.database.join(', ')} at leader ${leader.name} (${host}:${port}) in ${iniPath}\n`);
    text = next;
  }
}
if (existsSync(pendingMarker)) reload(text);
