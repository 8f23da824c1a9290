/**
 * `npm run bench`: pgwarden and Patroni side by side on loopback — one etcd, two 3-node
 * PostgreSQL 15 clusters with the same timing and the same generated YAML, each behind its own
 * haproxy with the same checks. Runs alternate between the systems (A B, B A, ...) so machine
 * noise hits both alike. Raw figures go to `<results>/results.jsonl`, the table to
 * `<results>/summary.md` (and stdout). Run `node --import tsx bench/run.ts --help` for options.
 *
 * Must run as an unprivileged user (PostgreSQL refuses root): `scripts/bench.sh` installs what is
 * missing and re-runs this as `postgres`.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { positiveOption } from '../test/support/options.js';
import { killEverythingNow } from '../features/support/process.js';
import { sleep, waitFor } from '../features/support/poll.js';
import { startEtcd, type EtcdProcess } from '../test/support/etcd.js';
import { BenchCluster, PATRONI_BIN, type System, type Timing } from './cluster.js';
import { FAULTS, FAULT_TITLES, runFault, type Fault } from './faults.js';
import { measureIdle, measureRest, WRK_BIN } from './measure.js';
import { markdownSummary, type MetricInfo, type Sample } from './report.js';

const HELP = `Usage: npm run bench -- [options]

Benchmarks pgwarden against Patroni (Debian package patroni) on loopback: one etcd, two 3-node
PostgreSQL 15 clusters with the same ttl / loop_wait / retry_timeout, each behind its own haproxy.

Scenarios (all by default): bootstrap (empty dirs -> 3 nodes streaming, then idle footprint and
etcd load), kill, crash, switchover, term, rest.

Options:
  --runs N             runs per scenario per system (default 5)
  --quick              smoke run: 1 run, short idle and REST windows
  --scenarios LIST     comma-separated subset, e.g. kill,switchover
  --systems LIST       pgwarden,patroni (default: both; pgwarden alone when Patroni is missing)
  --ttl S --loop-wait S --retry-timeout S   timing of both clusters (default 10 / 2 / 3)
  --idle-seconds S     idle window per bootstrap run (default 30; quick 10)
  --rest-seconds S     wrk duration per measurement (default 5; quick 2)
  --results DIR        where results.jsonl and summary.md go (default bench-results/<timestamp>)
  --keep               keep the work directory (data dirs, logs) instead of deleting it
  -h, --help           this text
`;

const { values } = parseArgs({
  options: {
    runs: { type: 'string' },
    quick: { type: 'boolean', default: false },
    scenarios: { type: 'string', default: 'bootstrap,kill,crash,switchover,term,rest' },
    systems: { type: 'string', default: 'pgwarden,patroni' },
    ttl: { type: 'string', default: '10' },
    'loop-wait': { type: 'string', default: '2' },
    'retry-timeout': { type: 'string', default: '3' },
    'idle-seconds': { type: 'string' },
    'rest-seconds': { type: 'string' },
    results: { type: 'string' },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}

const positive = (name: string, v: string | undefined, fallback: number): number => positiveOption('bench', name, v, fallback);

const quick = values.quick === true;
const runs = Math.floor(positive('runs', values.runs, quick ? 1 : 5));
const idleSeconds = positive('idle-seconds', values['idle-seconds'], quick ? 10 : 30);
const restSeconds = positive('rest-seconds', values['rest-seconds'], quick ? 2 : 5);
const timing: Timing = {
  ttl: positive('ttl', values.ttl, 10),
  loop_wait: positive('loop-wait', values['loop-wait'], 2),
  retry_timeout: positive('retry-timeout', values['retry-timeout'], 3),
};
const KNOWN = ['bootstrap', ...FAULTS, 'rest'];
const scenarios = values.scenarios!.split(',').map((s) => s.trim()).filter(Boolean);
for (const s of scenarios) {
  if (!KNOWN.includes(s)) {
    process.stderr.write(`bench: unknown scenario ${s} (known: ${KNOWN.join(', ')})\n`);
    process.exit(2);
  }
}
let systems = values.systems!.split(',').map((s) => s.trim()) as System[];
for (const s of systems) {
  if (s !== 'pgwarden' && s !== 'patroni') {
    process.stderr.write(`bench: unknown system ${s} (pgwarden, patroni)\n`);
    process.exit(2);
  }
}
if (systems.includes('patroni') && !existsSync(PATRONI_BIN)) {
  console.log(`bench: Patroni is not installed (${PATRONI_BIN}; Debian package patroni): running pgwarden alone, no ratios`);
  systems = systems.filter((s) => s !== 'patroni');
}
if (scenarios.includes('rest') && !existsSync(WRK_BIN)) {
  console.log(`bench: wrk is not installed (${WRK_BIN}; Debian package wrk): skipping the REST scenario`);
  scenarios.splice(scenarios.indexOf('rest'), 1);
}
if (process.getuid?.() === 0) {
  process.stderr.write('bench: PostgreSQL refuses to run as root; use `npm run bench` (scripts/bench.sh runs this as postgres)\n');
  process.exit(2);
}

const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
const resultsDir = resolve(values.results ?? join('bench-results', stamp));
// Short on purpose: PostgreSQL's unix socket lives under the node directory (107-byte limit).
const workDir = join(tmpdir(), 'pgwarden-bench', `${stamp}-${process.pid}`);
mkdirSync(resultsDir, { recursive: true });
mkdirSync(workDir, { recursive: true });
const jsonl = join(resultsDir, 'results.jsonl');
const started = Date.now();
const log = (s: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(5)} s] ${s}`);

let etcd: EtcdProcess | null = null;
const live = new Set<BenchCluster>();

/** Last resort on Ctrl-C or a crash: SIGKILL what we started, delete the work directory. */
function emergencyCleanup(): void {
  killEverythingNow();
  if (etcd) {
    try {
      process.kill(etcd.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  if (!values.keep) rmSync(workDir, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    process.stderr.write(`\nbench: ${sig}: stopping every process this bench started and deleting ${workDir}\n`);
    emergencyCleanup();
    process.exit(130);
  });
}

const samples: Sample[] = [];
function record(system: System, scenario: string, run: number, figures: Record<string, number | null>, raw: object): void {
  for (const [metric, v] of Object.entries(figures)) if (v !== null) samples.push({ scenario, metric, system, run, value: v });
  appendFileSync(jsonl, `${JSON.stringify({ at: new Date().toISOString(), system, scenario, run, ...raw })}\n`);
}

/** A: B order for run i: pgwarden first on even runs, Patroni first on odd ones. */
const order = (i: number): System[] => (i % 2 === 0 ? systems : [...systems].reverse());

async function newCluster(system: System, scope: string): Promise<BenchCluster> {
  if (!etcd) throw new Error('etcd is not running');
  const c = new BenchCluster(system, scope, join(workDir, scope), etcd.endpoint, timing);
  live.add(c);
  return c;
}

async function dropCluster(c: BenchCluster): Promise<void> {
  await c.stop();
  live.delete(c);
  if (!values.keep) rmSync(c.dir, { recursive: true, force: true });
}

const METRICS: Record<string, Record<string, MetricInfo>> = {
  bootstrap: {
    bootstrapMs: { label: 'empty data dirs → 3 nodes streaming', unit: 'ms', lowerIsBetter: true },
    agentRssMiB: { label: 'agent RSS at idle, per node', unit: 'MiB', lowerIsBetter: true },
    totalRssMiB: { label: 'agent + helper processes RSS, per node', unit: 'MiB', lowerIsBetter: true },
    agentCpuSecondsPerMinute: { label: 'agent CPU at idle, per node', unit: 's/min', lowerIsBetter: true },
    totalCpuSecondsPerMinute: { label: 'agent + helpers CPU, per node', unit: 's/min', lowerIsBetter: true },
    etcdRequestsPerSecond: { label: 'etcd requests per second, per cluster at idle', unit: 'req/s', lowerIsBetter: true },
  },
  ...Object.fromEntries(
    FAULTS.map((f) => [
      f,
      {
        unavailableMs: { label: 'write unavailability', unit: 'ms', lowerIsBetter: true },
        ...(f === 'crash'
          ? { restartedInPlace: { label: 'restarted in place (1) or failed over (0)', unit: '', lowerIsBetter: false } }
          : { newLeaderKeyMs: { label: 'fault → new leader key', unit: 'ms', lowerIsBetter: true } }),
        lost: { label: 'acknowledged writes lost', unit: '', lowerIsBetter: true },
      },
    ]),
  ),
  rest: Object.fromEntries(
    ['/primary', '/patroni'].flatMap((p) =>
      [4, 64].flatMap((c) => [
        [`${p} ${c} rps`, { label: `GET ${p}, ${c} connections: requests/s`, unit: 'req/s', lowerIsBetter: false }],
        [`${p} ${c} p50`, { label: `GET ${p}, ${c} connections: p50`, unit: 'ms', lowerIsBetter: true }],
        [`${p} ${c} p99`, { label: `GET ${p}, ${c} connections: p99`, unit: 'ms', lowerIsBetter: true }],
      ]),
    ),
  ),
};
const TITLES: Record<string, string> = { bootstrap: 'Bootstrap, idle footprint and etcd load', ...FAULT_TITLES, rest: 'REST API on the leader (wrk -t 2 on the same machine, a new connection per request for Patroni)' };

async function bootstrapPhase(): Promise<void> {
  for (let i = 0; i < runs; i++) {
    for (const system of order(i)) {
      const c = await newCluster(system, `${system}-boot${i + 1}`);
      const t0 = Date.now();
      await c.startAll();
      await waitFor(180, `${system}: 3 nodes streaming after bootstrap`, () => c.healthyLeader(), 100);
      const bootstrapMs = Date.now() - t0;
      log(`${system} bootstrap run ${i + 1}/${runs}: 3 nodes streaming after ${bootstrapMs} ms; idle for ${idleSeconds} s`);
      await sleep(5000);
      const idle = await measureIdle(c, etcd!.endpoint, idleSeconds);
      for (const n of idle.nodes) {
        record(system, 'bootstrap', i, { agentRssMiB: n.agentRssMiB, totalRssMiB: n.totalRssMiB, agentCpuSecondsPerMinute: n.agentCpuSecondsPerMinute, totalCpuSecondsPerMinute: n.totalCpuSecondsPerMinute }, { kind: 'idle-node', ...n });
      }
      record(system, 'bootstrap', i, { bootstrapMs, etcdRequestsPerSecond: idle.etcdRequestsPerSecond }, { bootstrapMs, etcdRequestsPerSecond: idle.etcdRequestsPerSecond, etcdByMethod: idle.etcdByMethod });
      const rss = idle.nodes.map((n) => `${n.totalRssMiB.toFixed(0)}`).join('/');
      log(`${system} idle: RSS ${rss} MiB (agent + helpers), etcd ${idle.etcdRequestsPerSecond.toFixed(1)} req/s ${JSON.stringify(idle.etcdByMethod, (_k, v: unknown) => (typeof v === 'number' ? Number(v.toFixed(2)) : v))}`);
      await dropCluster(c);
    }
  }
}

async function faultAndRestPhase(): Promise<void> {
  const clusters = new Map<System, BenchCluster>();
  for (const system of systems) {
    const c = await newCluster(system, `${system}-bench`);
    await c.startAll();
    await c.startHaproxy();
    clusters.set(system, c);
  }
  for (const c of clusters.values()) {
    const leader = await c.heal(180, log);
    log(`${c.system} cluster up: leader ${leader.name}, haproxy primary port ${String(c.haproxy?.ports.primary)}`);
  }
  let table = 0;
  for (const fault of FAULTS.filter((f) => scenarios.includes(f))) {
    for (let i = 0; i < runs; i++) {
      for (const system of order(i)) {
        const c = clusters.get(system)!;
        log(`${system} ${fault} run ${i + 1}/${runs}`);
        const r = await runFault(c, fault as Fault, `bench_${fault}_${++table}`, log);
        record(system, fault, i, { unavailableMs: r.unavailableMs, newLeaderKeyMs: fault === 'crash' ? null : r.newLeaderKeyMs, lost: r.lost, restartedInPlace: fault === 'crash' ? Number(r.restartedInPlace) : null }, r);
        await c.heal(180, log);
      }
    }
  }
  if (scenarios.includes('rest')) {
    for (let i = 0; i < runs; i++) {
      for (const path of ['/primary', '/patroni']) {
        for (const connections of [4, 64]) {
          for (const system of order(i)) {
            const leader = await waitFor(60, `${system}: a healthy leader`, () => clusters.get(system)!.healthyLeader());
            const r = await measureRest(leader.restApi.url, path, connections, restSeconds);
            log(`${system} GET ${path} ${connections} connections: ${r.requestsPerSecond.toFixed(0)} req/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, non-2xx ${r.non2xx}, errors ${r.errors}`);
            record(system, 'rest', i, { [`${path} ${connections} rps`]: r.requestsPerSecond, [`${path} ${connections} p50`]: r.p50Ms, [`${path} ${connections} p99`]: r.p99Ms }, r);
          }
        }
      }
    }
  }
  for (const c of clusters.values()) await dropCluster(c);
}

async function main(): Promise<void> {
  log(`systems: ${systems.join(' vs ')}; ${runs} run(s) per scenario; timing ttl ${timing.ttl} / loop_wait ${timing.loop_wait} / retry_timeout ${timing.retry_timeout}`);
  log(`work directory ${workDir}; results ${resultsDir}`);
  etcd = await startEtcd({ clientPort: 24800, peerPort: 24801, dataDir: join(workDir, 'etcd-data') });
  try {
    if (scenarios.includes('bootstrap')) await bootstrapPhase();
    if (scenarios.some((s) => s !== 'bootstrap')) await faultAndRestPhase();
  } finally {
    for (const c of live) await c.stop().catch(() => undefined);
    await etcd.stop();
    if (!values.keep) rmSync(workDir, { recursive: true, force: true });
  }
  writeSummary('');
  log(`done: ${jsonl} and ${join(resultsDir, 'summary.md')}`);
}

/** summary.md from every sample recorded so far: also written when a run fails half-way. */
function writeSummary(note: string): void {
  const header = [
    `# pgwarden vs Patroni — ${new Date().toISOString()}`,
    '',
    `${systems.join(' vs ')}, ${runs} run(s) per scenario, alternating order; ttl ${timing.ttl} / loop_wait ${timing.loop_wait} / retry_timeout ${timing.retry_timeout}; ` +
      `writer through haproxy every 20 ms; idle window ${idleSeconds} s; REST ${restSeconds} s per measurement. Cells: median (min–max, n).${note}`,
  ].join('\n');
  const md = markdownSummary(samples, Object.keys(METRICS).filter((k) => scenarios.includes(k)).map((id) => ({ id, title: TITLES[id]!, metrics: METRICS[id]! })), systems, header);
  writeFileSync(join(resultsDir, 'summary.md'), `${md}\n`);
  console.log(`\n${md}`);
}

main().catch((e: unknown) => {
  console.error(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  emergencyCleanup();
  if (samples.length > 0) writeSummary(' **Incomplete: the bench failed before the end; these are the runs that finished.**');
  process.exit(1);
});
