/**
 * Measures write unavailability through haproxy while the leader is killed (SIGKILL of its agent
 * and postmaster), stopped gracefully (SIGTERM of its agent) or switched over through the REST
 * API (`POST /switchover` to the next member), against a running demo cluster
 * (`npm run demo`). A writer inserts unique ids through 127.0.0.1:5000 every 20 ms and records
 * which PostgreSQL acknowledged each; the figures per run are the gap between the old primary's
 * last acknowledged write and the new primary's first, the time until another node answers 200
 * on /primary, and how many acknowledged ids the new primary lacks. Before each run it restarts
 * any agent an earlier run stopped, and waits for one leader and two running replicas.
 *
 *   node --import tsx bench/failover.ts --mode kill|term|switchover [--runs 5] [--demo .demo]
 *
 * Must run as root (it signals the postgres user's processes) on the demo's machine.
 */
import { execFileSync, spawn } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';

const { values } = parseArgs({ options: { mode: { type: 'string', default: 'kill' }, runs: { type: 'string', default: '5' }, demo: { type: 'string', default: '.demo' } } });
const PW = process.env.PGPASSWORD ?? 'postgres-demo';
/** `restapi.authentication` of the demo's postgres*.yml. */
const REST_AUTH = process.env.PGWARDEN_REST_AUTH ?? 'admin:admin';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function connect(port: number): Promise<pg.Client> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: PW, database: 'postgres', connectionTimeoutMillis: 1000, query_timeout: 1000 });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

/** One statement through haproxy's read-write port, retried for up to 30 s while the primary moves. */
async function queryLeader<R extends pg.QueryResultRow>(sql: string): Promise<R[]> {
  for (let attempt = 1; ; attempt++) {
    let c: pg.Client | null = null;
    try {
      c = await connect(5000);
      return (await c.query<R>(sql)).rows;
    } catch (e) {
      if (attempt >= 60) throw e;
      await sleep(500);
    } finally {
      await c?.end().catch(() => undefined);
    }
  }
}

async function leader(): Promise<{ name: string; port: number; api: number }> {
  for (let i = 0; i < 200; i++) {
    for (const api of [8008, 8009, 8010]) {
      try {
        const r = await fetch(`http://127.0.0.1:${api}/cluster`, { signal: AbortSignal.timeout(1000) });
        const body = (await r.json()) as { members: { name: string; role: string; port: number; state: string; api_url: string }[] };
        const l = body.members.find((m) => m.role === 'leader' && m.state === 'running');
        if (l && body.members.filter((m) => m.role === 'replica' && m.state === 'running').length === 2) {
          // The agent must really answer as primary: a killed leader's keys outlive it by up to ttl.
          const apiPort = Number(new URL(l.api_url).port);
          const ok = await fetch(`http://127.0.0.1:${apiPort}/primary`, { signal: AbortSignal.timeout(1000) }).then((x) => x.status === 200, () => false);
          if (ok) return { name: l.name, port: l.port, api: apiPort };
        }
      } catch { /* next */ }
    }
    await sleep(250);
  }
  throw new Error('no healthy 3-node cluster');
}

interface Ack {
  id: number;
  at: number;
  /** Port of the PostgreSQL that acknowledged it (haproxy hides which node that was). */
  port: number;
}

/**
 * One fault. Write unavailability is the time from the last write the old primary acknowledged
 * to the first one the new primary acknowledged (an orphaned backend of a SIGKILLed postmaster can
 * still commit for a moment: such writes count as acknowledged, and as lost when the new primary
 * lacks them). Time to new leader is from the fault until another node answers 200 on /primary.
 */
async function run(mode: string, table: string): Promise<{ gapMs: number; leaderMs: number; lost: number; acked: number }> {
  const before = await leader();
  await queryLeader(`CREATE TABLE IF NOT EXISTS ${table} (id int primary key)`);
  const acked: Ack[] = [];
  let stop = false;
  let id = 0;
  let faultAt = 0;
  const writer = (async () => {
    let c: pg.Client | null = null;
    while (!stop) {
      const t = Date.now();
      try {
        c ??= await connect(5000);
        const n = ++id;
        const r = await c.query<{ port: number }>(`INSERT INTO ${table} VALUES ($1) RETURNING inet_server_port() AS port`, [n]);
        acked.push({ id: n, at: Date.now(), port: r.rows[0]!.port });
      } catch {
        await c?.end().catch(() => undefined);
        c = null;
      }
      await sleep(Math.max(0, 20 - (Date.now() - t)));
    }
    await c?.end().catch(() => undefined);
  })();
  await sleep(2000);
  const agentPid = agentPidOf(before.name);
  if (agentPid === null) throw new Error(`no agent process for ${before.name}`);
  faultAt = Date.now();
  if (mode === 'kill') {
    const pm = readFileSync(`${values.demo}/data/${before.name}/postmaster.pid`, 'utf8').split('\n')[0]!;
    process.kill(agentPid, 'SIGKILL');
    process.kill(Number(pm), 'SIGKILL');
  } else if (mode === 'switchover') {
    const candidate = ['postgres0', 'postgres1', 'postgres2'].find((n) => n !== before.name)!;
    void fetch(`http://127.0.0.1:${before.api}/switchover`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(REST_AUTH).toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ leader: before.name, candidate }),
    }).then(async (r) => console.log(`POST /switchover: ${r.status} ${await r.text()}`), (e: unknown) => console.log(`POST /switchover failed: ${String(e)}`));
  } else {
    process.kill(agentPid, 'SIGTERM');
  }
  const others = [8008, 8009, 8010].filter((p) => p !== before.api);
  let leaderMs = NaN;
  const deadline = faultAt + 60_000;
  while (Date.now() < deadline) {
    if (Number.isNaN(leaderMs)) {
      const codes = await Promise.all(others.map((p) => fetch(`http://127.0.0.1:${p}/primary`, { signal: AbortSignal.timeout(500) }).then((r) => r.status, () => 0)));
      if (codes.includes(200)) leaderMs = Date.now() - faultAt;
    }
    if (acked.some((a) => a.at > faultAt && a.port !== before.port)) break;
    await sleep(20);
  }
  await sleep(2000);
  stop = true;
  await writer;
  const first = acked.find((a) => a.at > faultAt && a.port !== before.port);
  const lastOld = [...acked].reverse().find((a) => a.port === before.port && (!first || a.at < first.at));
  const gapMs = first && lastOld ? first.at - lastOld.at : NaN;
  const rows = await queryLeader<{ id: number }>(`SELECT id FROM ${table}`);
  const present = new Set(rows.map((r) => r.id));
  const lostAcks = acked.filter((a) => !present.has(a.id));
  const lost = lostAcks.length;
  const lostAfterFault = lostAcks.filter((a) => a.at > faultAt).length;
  const newName = first ? `port ${first.port}` : '?';
  console.log(`${mode}: leader ${before.name} -> ${newName}; write gap ${gapMs} ms; new primary after ${leaderMs} ms; acknowledged ${acked.length}; lost ${lost} (${lostAfterFault} of them acknowledged after the fault)`);
  return { gapMs, leaderMs, lost, acked: acked.length };
}

/**
 * PID of the node's agent itself (`node …/pgwarden.js …/NAME.yml`), not of the `runuser` wrapper
 * the demo starts it through: killing the wrapper would leave the agent running.
 */
function agentPidOf(name: string): number | null {
  try {
    const out = execFileSync('pgrep', ['-f', `^node .*pgwarden\\.js .*${name}\\.yml`]).toString().trim();
    return Number(out.split('\n')[0]);
  } catch {
    return null;
  }
}

async function restartOld(): Promise<void> {
  // The demo script does not restart killed agents: bring the node back so the next run has 3 nodes,
  // started as the demo does (as postgres, from the demo directory, appending to its log).
  const demo = resolve(values.demo!);
  for (const name of ['postgres0', 'postgres1', 'postgres2']) {
    if (agentPidOf(name) !== null) continue;
    const log = openSync(join(demo, 'logs', `${name}.log`), 'a');
    const child = spawn('runuser', ['-u', 'postgres', '--', 'node', resolve('bin/pgwarden.js'), resolve(`${name}.yml`)], { cwd: demo, detached: true, stdio: ['ignore', log, log] });
    child.unref();
    console.log(`restarted the agent of ${name} (pid ${child.pid})`);
  }
  await leader();
  await sleep(3000);
}

const results = [];
for (let i = 0; i < Number(values.runs); i++) {
  await restartOld();
  results.push(await run(values.mode!, `bench_${values.mode}_${Date.now()}`));
}
const stats = (xs: number[]) => {
  const v = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return `median ${v[Math.floor(v.length / 2)]} ms (min ${v[0]}, max ${v[v.length - 1]})`;
};
console.log(`${values.mode}: ${results.length} runs; write gap ${stats(results.map((r) => r.gapMs))}; new primary ${stats(results.map((r) => r.leaderMs))}; acknowledged writes lost ${results.map((r) => r.lost).join(', ')}`);
