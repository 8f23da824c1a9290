/**
 * Measures write unavailability through haproxy while the leader is killed (SIGKILL of its agent
 * and postmaster) or stopped gracefully (SIGTERM of its agent), against a running demo cluster
 * (`npm run demo`). A writer inserts unique ids through 127.0.0.1:5000 every 20 ms; the figures
 * are the gap between the last acknowledged write before the fault and the first after it, and
 * how many acknowledged ids are missing on the new leader afterwards.
 *
 *   node --import tsx bench/failover.ts --mode kill|term [--runs 3]
 *
 * Must run as root (it signals the postgres user's processes) on the demo's machine.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pg from 'pg';

const { values } = parseArgs({ options: { mode: { type: 'string', default: 'kill' }, runs: { type: 'string', default: '3' }, demo: { type: 'string', default: '.demo' } } });
const PW = process.env.PGPASSWORD ?? 'postgres-demo';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function connect(port: number): Promise<pg.Client> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: PW, database: 'postgres', connectionTimeoutMillis: 1000, query_timeout: 1000 });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

async function leader(): Promise<{ name: string; port: number }> {
  for (let i = 0; i < 200; i++) {
    for (const api of [8008, 8009, 8010]) {
      try {
        const r = await fetch(`http://127.0.0.1:${api}/cluster`, { signal: AbortSignal.timeout(1000) });
        const body = (await r.json()) as { members: { name: string; role: string; port: number; state: string }[] };
        const l = body.members.find((m) => m.role === 'leader' && m.state === 'running');
        if (l && body.members.filter((m) => m.role === 'replica' && m.state === 'running').length === 2) return { name: l.name, port: l.port };
      } catch { /* next */ }
    }
    await sleep(250);
  }
  throw new Error('no healthy 3-node cluster');
}

async function run(mode: string, table: string): Promise<{ gapMs: number; lost: number; acked: number }> {
  const before = await leader();
  const setup = await connect(5000);
  await setup.query(`CREATE TABLE IF NOT EXISTS ${table} (id int primary key)`);
  await setup.end();
  const acked: { id: number; at: number }[] = [];
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
        await c.query(`INSERT INTO ${table} VALUES ($1)`, [n]);
        acked.push({ id: n, at: Date.now() });
      } catch {
        await c?.end().catch(() => undefined);
        c = null;
      }
      await sleep(Math.max(0, 20 - (Date.now() - t)));
    }
    await c?.end().catch(() => undefined);
  })();
  await sleep(2000);
  const agentPid = execFileSync('pgrep', ['-f', `pgwarden.js .*${before.name}.yml`]).toString().trim().split('\n')[0]!;
  faultAt = Date.now();
  if (mode === 'kill') {
    const pm = readFileSync(`${values.demo}/data/${before.name}/postmaster.pid`, 'utf8').split('\n')[0]!;
    process.kill(Number(agentPid), 'SIGKILL');
    process.kill(Number(pm), 'SIGKILL');
  } else {
    process.kill(Number(agentPid), 'SIGTERM');
  }
  const firstAfter = async () => { for (;;) { const a = acked.find((x) => x.at > faultAt + 1); if (a) return a; await sleep(50); } };
  await Promise.race([firstAfter(), sleep(60_000)]);
  await sleep(2000);
  stop = true;
  await writer;
  const lastBefore = [...acked].reverse().find((x) => x.at <= faultAt);
  const first = acked.find((x) => x.at > faultAt);
  const gapMs = first && lastBefore ? first.at - lastBefore.at : NaN;
  const after = await leader().catch(() => null);
  const c = await connect(5000);
  const rows = await c.query<{ id: number }>(`SELECT id FROM ${table}`);
  await c.end();
  const present = new Set(rows.rows.map((r) => r.id));
  const lost = acked.filter((a) => !present.has(a.id)).length;
  console.log(`${mode}: leader ${before.name} -> ${after?.name ?? '?'}; write gap ${gapMs} ms; acknowledged ${acked.length}; lost ${lost}`);
  return { gapMs, lost, acked: acked.length };
}

async function restartOld(): Promise<void> {
  // The demo script does not restart killed agents: bring the node back so the next run has 3 nodes.
  for (const name of ['postgres0', 'postgres1', 'postgres2']) {
    try { execFileSync('pgrep', ['-f', `pgwarden.js .*${name}.yml`]); } catch {
      execFileSync('bash', ['-c', `cd ${values.demo} && runuser -u postgres -- bash -c 'nohup node ../bin/pgwarden.js ../${name}.yml >> logs/${name}.log 2>&1 &'`]);
    }
  }
  await leader();
  await sleep(3000);
}

const results = [];
for (let i = 0; i < Number(values.runs); i++) {
  await restartOld();
  results.push(await run(values.mode!, `bench_${values.mode}_${Date.now()}`));
}
const gaps = results.map((r) => r.gapMs).sort((a, b) => a - b);
console.log(`${values.mode}: median write gap ${gaps[Math.floor(gaps.length / 2)]} ms (min ${gaps[0]}, max ${gaps[gaps.length - 1]}); lost ${results.map((r) => r.lost).join(', ')}`);
