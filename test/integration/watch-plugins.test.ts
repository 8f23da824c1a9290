/**
 * The example watcher plugins (examples/watch-pgbouncer.mjs, examples/watch-haproxy.mjs) against
 * the real programs: a pgbouncer and a master-worker haproxy started here on 127.0.0.1. What
 * pgbouncer routes to is read from its admin console (SHOW DATABASES), what haproxy routes to
 * from its stats CSV, so no PostgreSQL is needed.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { freePort } from '../support/etcd.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));
const PGBOUNCER = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'].find((p) => existsSync(p));
const HAPROXY = ['/usr/sbin/haproxy', '/usr/bin/haproxy'].find((p) => existsSync(p));

function skipReason(): string | false {
  if (process.getuid?.() === 0) return 'pgbouncer refuses to run as root: run as the postgres user (npm test does this)';
  if (!PGBOUNCER) return 'pgbouncer is not installed (apt-get install -y pgbouncer)';
  if (!HAPROXY) return 'haproxy is not installed (apt-get install -y haproxy)';
  return false;
}

/** The watch document with one cluster: `leader` (index) leads, `replicas` run, `stopped` do not. */
function doc(leader: number | null, replicas: number[], stopped: number[] = []): string {
  const member = (i: number, state: string) => ({
    name: `postgres${i}`,
    role: 'replica',
    state,
    conn_url: `postgres://127.0.0.1:${25500 + i}/postgres`,
    api_url: `http://127.0.0.1:${28000 + i}/patroni`,
    lag_bytes: 0,
    lag_seconds: null,
    tags: {},
  });
  const cluster = {
    event: 'topology_changed',
    scope: 'batman',
    member: null,
    leader: leader === null ? null : { name: `postgres${leader}`, conn_url: `postgres://127.0.0.1:${25500 + leader}/postgres`, api_url: `http://127.0.0.1:${28000 + leader}/patroni`, xlog_location: 1, timeline: 1 },
    replicas: [...replicas.map((i) => member(i, 'running')), ...stopped.map((i) => member(i, 'stopped'))],
    lost: [],
    timestamp: new Date().toISOString(),
  };
  return JSON.stringify({ event: 'topology_changed', plugin: 't', reason: 'test', timestamp: cluster.timestamp, clusters: [cluster] });
}

function runPlugin(script: string, args: string[], stdin: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(join(EXAMPLES, script), args, { input: stdin, encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  let last = '';
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}; last error: ${last}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function startDaemon(command: string, args: string[], logPath: string, cwd: string): ChildProcess {
  const fd = openSync(logPath, 'a');
  try {
    const child = spawn(command, args, { cwd, stdio: ['ignore', fd, fd] });
    child.on('error', () => undefined);
    return child;
  } finally {
    closeSync(fd);
  }
}

async function stopDaemon(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

const count = (text: string, re: RegExp): number => (text.match(new RegExp(re.source, 'g')) ?? []).length;

describe('examples/watch-pgbouncer.mjs against a real pgbouncer', { skip: skipReason() }, () => {
  let dir = '';
  let port = 0;
  let child: ChildProcess | undefined;
  const ini = () => join(dir, 'pgbouncer.ini');
  const logText = () => readFileSync(join(dir, 'pgbouncer.log'), 'utf8');

  /** host:port pgbouncer routes `db` to, from its admin console. */
  async function routes(db: string): Promise<string> {
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'admin', password: 'admin-pw', database: 'pgbouncer', connectionTimeoutMillis: 2000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const rows = (await client.query('SHOW DATABASES')).rows as Array<{ name: string; host: string | null; port: number }>;
      const row = rows.find((r) => r.name === db);
      return row ? `${row.host}:${row.port}` : '(none)';
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pgwarden-watch-pgbouncer-'));
    port = await freePort();
    writeFileSync(join(dir, 'userlist.txt'), '"admin" "admin-pw"\n');
    writeFileSync(
      ini(),
      [
        '; pgbouncer for the watch plugin test',
        '[databases]',
        'app = host=10.9.9.9 port=1 dbname=appdb pool_size=7',
        'other = host=127.0.0.1 port=6000',
        '',
        '[pgbouncer]',
        'listen_addr = 127.0.0.1',
        `listen_port = ${port}`,
        'unix_socket_dir =',
        'auth_type = scram-sha-256',
        `auth_file = ${join(dir, 'userlist.txt')}`,
        'admin_users = admin',
        `pidfile = ${join(dir, 'pgbouncer.pid')}`,
        'ignore_startup_parameters = extra_float_digits,statement_timeout',
        '',
      ].join('\n'),
    );
    child = startDaemon(PGBOUNCER!, [ini()], join(dir, 'pgbouncer.log'), dir);
    await until('pgbouncer answers', async () => ((await routes('app')) === '10.9.9.9:1' ? true : undefined));
  });

  after(async () => {
    await stopDaemon(child);
    if (process.env.PGWARDEN_KEEP_TEST_DIRS) console.log(`# kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  });

  it('points the entry at the leader, keeps its other settings, replaces the file atomically and reloads pgbouncer', async () => {
    const inodeBefore = statSync(ini()).ino;
    const r = runPlugin('watch-pgbouncer.mjs', ['--ini', ini(), '--database', 'app'], doc(1, [0]));
    assert.equal(r.status, 0, r.stderr);
    assert.match(readFileSync(ini(), 'utf8'), /^app = host=127\.0\.0\.1 port=25501 dbname=appdb pool_size=7$/m);
    assert.match(readFileSync(ini(), 'utf8'), /^other = host=127\.0\.0\.1 port=6000$/m, 'other entries stay as they are');
    assert.notEqual(statSync(ini()).ino, inodeBefore, 'the file was replaced by a rename, not rewritten in place');
    await until('pgbouncer routes app to the leader', async () => ((await routes('app')) === '127.0.0.1:25501' ? true : undefined));
  });

  it('is idempotent: no rewrite and no reload when the entry already points at the leader', async () => {
    const reloads = count(logText(), /got SIGHUP/);
    const inode = statSync(ini()).ino;
    const r = runPlugin('watch-pgbouncer.mjs', ['--ini', ini(), '--database', 'app'], doc(1, [0]));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /already point at leader postgres1/);
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(statSync(ini()).ino, inode);
    assert.equal(count(logText(), /got SIGHUP/), reloads);
  });

  it('leaves the entry alone while the cluster has no leader', async () => {
    const before = readFileSync(ini(), 'utf8');
    const r = runPlugin('watch-pgbouncer.mjs', ['--ini', ini(), '--database', 'app'], doc(null, [0, 1]));
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(ini(), 'utf8'), before);
    assert.equal(await routes('app'), '127.0.0.1:25501');
  });

  it('adds a missing entry, and reloads on the next run when the reload failed after the write', async () => {
    const failed = runPlugin('watch-pgbouncer.mjs', ['--ini', ini(), '--database', 'app', '--database', 'newdb', '--pidfile', join(dir, 'wrong.pid')], doc(2, [0, 1]));
    assert.equal(failed.status, 1);
    assert.match(failed.stderr, /cannot reload pgbouncer: cannot read its pid file .*wrong\.pid/);
    assert.match(readFileSync(ini(), 'utf8'), /^newdb = host=127\.0\.0\.1 port=25502$/m);
    assert.equal(await routes('app'), '127.0.0.1:25501', 'not reloaded yet');

    const retried = runPlugin('watch-pgbouncer.mjs', ['--ini', ini(), '--database', 'app', '--database', 'newdb'], doc(2, [0, 1]));
    assert.equal(retried.status, 0, retried.stderr);
    assert.match(retried.stdout, /already point at leader postgres2[\s\S]*reloaded pgbouncer/);
    await until('pgbouncer routes both entries to postgres2', async () =>
      (await routes('app')) === '127.0.0.1:25502' && (await routes('newdb')) === '127.0.0.1:25502' ? true : undefined,
    );
  });

  it('refuses a document with several clusters unless --scope picks one, and bad arguments', () => {
    const two = JSON.parse(doc(1, [])) as { clusters: unknown[] };
    two.clusters.push({ ...(two.clusters[0] as object), scope: 'robin' });
    const r = runPlugin('watch-pgbouncer.mjs', ['--ini', ini(), '--database', 'app'], JSON.stringify(two));
    assert.equal(r.status, 2);
    assert.match(r.stderr, /the document has 2 clusters: choose one with --scope/);
    assert.equal(runPlugin('watch-pgbouncer.mjs', ['--ini', ini()], doc(1, [])).status, 2);
    assert.equal(runPlugin('watch-pgbouncer.mjs', ['--ini', ini(), '--database', 'app'], 'not json').status, 1);
  });
});

describe('examples/watch-haproxy.mjs against a real haproxy', { skip: skipReason() }, () => {
  let dir = '';
  let stats = 0;
  let child: ChildProcess | undefined;
  const cfg = () => join(dir, 'haproxy.cfg');
  const pidfile = () => join(dir, 'haproxy.pid');
  const logText = () => readFileSync(join(dir, 'haproxy.log'), 'utf8');
  const args = (...more: string[]) => ['--config', cfg(), '--section', 'primary', '--pidfile', pidfile(), ...more];

  /** Servers haproxy has in section `primary` right now, from its stats CSV. */
  async function servers(): Promise<string[]> {
    const csv = await (await fetch(`http://127.0.0.1:${stats}/;csv`, { signal: AbortSignal.timeout(2000) })).text();
    return csv.split('\n').map((l) => l.split(',')).filter((c) => c[0] === 'primary' && c[1] && c[1] !== 'FRONTEND' && c[1] !== 'BACKEND').map((c) => c[1]!).sort();
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pgwarden-watch-haproxy-'));
    stats = await freePort();
    const front = await freePort();
    writeFileSync(
      cfg(),
      `global
    maxconn 100

defaults
    mode tcp
    timeout connect 4s
    timeout client 30m
    timeout server 30m
    timeout check 5s

listen stats
    mode http
    bind 127.0.0.1:${stats}
    stats enable
    stats uri /

listen primary
    bind 127.0.0.1:${front}
    option httpchk OPTIONS /primary
    http-check expect status 200
    default-server inter 3s fall 2 rise 1
    # BEGIN pgwarden primary
    # END pgwarden primary
`,
    );
    child = startDaemon(HAPROXY!, ['-W', '-db', '-f', cfg(), '-p', pidfile()], join(dir, 'haproxy.log'), dir);
    await until('haproxy answers with an empty primary section', async () => ((await servers()).length === 0 && existsSync(pidfile()) ? true : undefined));
  });

  after(async () => {
    await stopDaemon(child);
    if (process.env.PGWARDEN_KEEP_TEST_DIRS) console.log(`# kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  });

  it('lists the leader and the running replicas, sorted, checks the file, and reloads haproxy gracefully', async () => {
    const r = runPlugin('watch-haproxy.mjs', args(), doc(1, [2, 0], [3]));
    assert.equal(r.status, 0, r.stderr);
    const text = readFileSync(cfg(), 'utf8');
    assert.match(
      text,
      /    # BEGIN pgwarden primary\n    server postgres0 127\.0\.0\.1:25500 maxconn 100 check port 28000\n    server postgres1 127\.0\.0\.1:25501 maxconn 100 check port 28001\n    server postgres2 127\.0\.0\.1:25502 maxconn 100 check port 28002\n    # END pgwarden primary\n/,
    );
    await until('haproxy serves the new servers', async () => ((await servers()).join() === 'postgres0,postgres1,postgres2' ? true : undefined));
    assert.equal(child?.exitCode, null, 'the master process lives on (graceful reload)');
  });

  it('is idempotent: no rewrite and no reload when the section already lists the members', async () => {
    const reloads = count(logText(), /Reloading HAProxy/);
    const inode = statSync(cfg()).ino;
    const r = runPlugin('watch-haproxy.mjs', args(), doc(1, [0, 2], [3]));
    assert.equal(r.status, 0, r.stderr);
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(statSync(cfg()).ino, inode);
    assert.equal(count(logText(), /Reloading HAProxy/), reloads);
  });

  it('lists only the leader with --servers leader, and leaves the section alone when there is none', async () => {
    const r = runPlugin('watch-haproxy.mjs', args('--servers', 'leader', '--server-options', 'check port {api_port} inter 1s'), doc(2, [0, 1]));
    assert.equal(r.status, 0, r.stderr);
    assert.match(readFileSync(cfg(), 'utf8'), /# BEGIN pgwarden primary\n    server postgres2 127\.0\.0\.1:25502 check port 28002 inter 1s\n    # END/);
    await until('haproxy serves only postgres2', async () => ((await servers()).join() === 'postgres2' ? true : undefined));
    const before = readFileSync(cfg(), 'utf8');
    const none = runPlugin('watch-haproxy.mjs', args('--servers', 'leader'), doc(null, [0, 1]));
    assert.equal(none.status, 0, none.stderr);
    assert.equal(readFileSync(cfg(), 'utf8'), before);
  });

  it('never installs a configuration haproxy -c rejects', async () => {
    const before = readFileSync(cfg(), 'utf8');
    const r = runPlugin('watch-haproxy.mjs', args('--server-options', 'no-such-keyword 1'), doc(0, [1]));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /haproxy -c rejects the regenerated configuration; .* is unchanged/);
    assert.equal(readFileSync(cfg(), 'utf8'), before);
    assert.deepEqual((await servers()).join(), 'postgres2');
  });

  it('names the missing marker lines', () => {
    const r = runPlugin('watch-haproxy.mjs', ['--config', cfg(), '--section', 'replicas', '--pidfile', pidfile()], doc(0, [1]));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /lacks the marker lines '# BEGIN pgwarden replicas' and '# END pgwarden replicas'/);
  });
});
