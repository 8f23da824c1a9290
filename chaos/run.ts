/**
 * `npm run chaos`: a randomized campaign of faults against one 3-node pgwarden cluster on a test
 * network (etcd and each node in a network namespace of their own; see features/support/netns.ts),
 * under a steady write load. Each round picks a fault at random (seeded), holds it, heals it and
 * waits until the cluster is whole again: one leader, every other node streaming from it, haproxy
 * routing writes to it. A writer inserts through haproxy every 20 ms and a prober writes straight
 * to every node every 100 ms, all recording what was acknowledged and by which server.
 *
 * Per round it records: writes acknowledged, acknowledged writes missing on the leader afterwards
 * (lost), dual-primary intervals (a server acknowledging again after another one took over), the
 * longest gap between two acknowledged writes, and the time from healing to a whole cluster.
 * Raw rounds go to `<results>/rounds.jsonl`, the table to `<results>/summary.md` and stdout.
 *
 * Runs inside the private namespace of `scripts/in-test-netns.sh` as an unprivileged user;
 * `scripts/chaos.sh` sets that up. `--help` lists the options.
 */
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { positiveOption } from '../test/support/options.js';
import { ScenarioCluster } from '../features/support/cluster.js';
import { netnsUnavailable } from '../features/support/netns.js';
import { describeError, sleep, waitFor } from '../features/support/poll.js';
import { nextPortSlot } from '../features/support/ports.js';
import { killEverythingNow } from '../features/support/process.js';
import { query } from '../features/support/sql.js';
import { Writer, overlappingWriters, type Ack } from '../features/support/writer.js';
import { FAULT_KINDS, inject, type FaultKind } from './faults.js';
import { summaryTable, type Round } from './report.js';

const HELP = `Usage: npm run chaos -- [options]

A randomized fault campaign against one 3-node pgwarden cluster (etcd, PostgreSQL 15, haproxy)
on a private test network, under a steady write load; prints a table per fault kind: faults
injected, writes acknowledged, acknowledged writes lost, dual-primary intervals, longest write
gap and time from healing to a whole cluster.

Fault kinds: ${FAULT_KINDS.join(', ')}

Options:
  --faults N         rounds to run (default ${FAULT_KINDS.length * 2}: each kind about twice)
  --hold S           seconds each fault lasts before it is healed (default 15, more than ttl 10)
  --max-minutes M    stop starting new rounds after M minutes (default 30)
  --seed N           seed of the fault order (default: from the clock; printed, so a run repeats)
  --kinds LIST       comma-separated subset of the fault kinds
  --async            asynchronous replication (default: synchronous_mode on, where the target
                     for lost acknowledged writes is zero)
  --quick            smoke run: 4 rounds, hold 12 s
  --results DIR      where rounds.jsonl and summary.md go (default chaos-results/<timestamp>)
  --keep             keep the work directory (data dirs and logs)
  -h, --help         this text

Exit status: 0 when no dual-primary interval was seen, every round recovered, and (in
synchronous mode) no acknowledged write was lost; 1 otherwise.
`;

const { values } = parseArgs({
  options: {
    faults: { type: 'string' },
    hold: { type: 'string' },
    'max-minutes': { type: 'string', default: '30' },
    seed: { type: 'string' },
    kinds: { type: 'string' },
    async: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    results: { type: 'string' },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}

function fail(message: string): never {
  process.stderr.write(`chaos: ${message}\n`);
  process.exit(2);
}

const positive = (name: string, v: string | undefined, fallback: number): number => positiveOption('chaos', name, v, fallback);

const quick = values.quick === true;
const rounds = Math.floor(positive('faults', values.faults, quick ? 4 : FAULT_KINDS.length * 2));
const holdMs = positive('hold', values.hold, quick ? 12 : 15) * 1000;
const deadline = Date.now() + positive('max-minutes', values['max-minutes'], 30) * 60_000;
const seed = values.seed === undefined ? Date.now() % 1_000_000 : Math.floor(positive('seed', values.seed, 1));
const kinds: FaultKind[] = values.kinds === undefined
  ? [...FAULT_KINDS]
  : values.kinds.split(',').map((k) => {
      if (!(FAULT_KINDS as readonly string[]).includes(k)) fail(`unknown fault kind ${k}; known: ${FAULT_KINDS.join(', ')}`);
      return k as FaultKind;
    });
const synchronous = values.async !== true;
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const resultsDir = resolve(values.results ?? join('chaos-results', stamp));

/** mulberry32: a small seeded PRNG, so a seed names one fault order. */
function prng(s: number): () => number {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const started = Date.now();
const say = (text: string): void => {
  process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${text}\n`);
};

/** Waits until the cluster is whole: one leader, every other node streaming, haproxy writing to the leader. */
async function whole(c: ScenarioCluster, seconds: number): Promise<string> {
  return waitFor(seconds, 'one leader, every other node streaming from it, haproxy routing writes to it', async () => {
    const leader = await c.view().leader();
    if (!leader) throw new Error('nobody holds the leader key');
    await c.assertLeader(leader);
    for (const n of c.nodes.keys()) if (n !== leader) await c.assertStreamingReplica(n, leader);
    const rows = await query<{ port: number }>(c.haproxyPrimary(), 'SELECT inet_server_port() AS port');
    if (rows[0]?.port !== c.node(leader).spec.pgPort) throw new Error(`haproxy sent a query to port ${String(rows[0]?.port)}, the leader ${leader} is on ${c.node(leader).spec.pgPort}`);
    return leader;
  }, 250);
}

/** Ids of acknowledged writes (as "table:id") that are missing on `leader`. */
async function missingOn(c: ScenarioCluster, leader: string, clients: Writer[]): Promise<Set<string>> {
  const missing = new Set<string>();
  for (const w of clients) for (const a of await w.missingOn(c.node(leader).pg)) missing.add(`${w.table}:${a.id}`);
  return missing;
}

/** Longest time between consecutive acknowledgements that ends after `from` and starts before `to`. */
function longestGap(acks: readonly Ack[], from: number, to: number): number {
  let gap = 0;
  for (let i = 1; i < acks.length; i++) {
    const a = acks[i - 1]!;
    const b = acks[i]!;
    if (b.at >= from && a.at <= to) gap = Math.max(gap, b.at - a.at);
  }
  return gap;
}

/** The campaign's cluster, for the last-resort cleanup. */
let current: ScenarioCluster | null = null;

async function main(): Promise<number> {
  const why = netnsUnavailable();
  if (why) fail(`${why}. Run \`npm run chaos\` (scripts/chaos.sh), which sets that up.`);
  mkdirSync(resultsDir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'pgwarden-chaos-'));
  say(`seed ${seed}, ${rounds} rounds, hold ${holdMs / 1000} s, ${synchronous ? 'synchronous_mode on' : 'asynchronous replication'}; kinds ${kinds.join(', ')}`);
  say(`work directory ${work}, results ${resultsDir}`);
  const c = new ScenarioCluster(work, await nextPortSlot());
  current = c;
  const clients: Writer[] = [];
  let code = 0;
  try {
    await c.useTestNetwork();
    if (synchronous) c.dcsOverrides['synchronous_mode'] = true;
    await c.startCluster(3);
    await c.startHaproxy();
    await c.waitHaproxyRoutesTo('postgres0', 30);
    if (synchronous) {
      await waitFor(30, 'the sync key names a synchronous standby', async () => {
        const raw = await c.view().get('sync');
        return raw !== null && /"sync_standby":"postgres/.test(raw);
      }, 250);
    }
    say('cluster up: postgres0 leads, 2 streaming replicas, haproxy routes writes to postgres0');
    const budgetMs = deadline - Date.now() + 300_000;
    await query(c.haproxyPrimary(), 'CREATE TABLE writer_check (id int PRIMARY KEY)');
    for (const n of c.nodes.values()) await query(c.haproxyPrimary(), `CREATE TABLE probe_${n.name} (id int PRIMARY KEY)`);
    await sleep(1000); // the tables reach the replicas before the probers write there
    const writer = new Writer(c.haproxyPrimary(), 'writer_check', 20, budgetMs);
    clients.push(writer, ...[...c.nodes.values()].map((n) => new Writer(n.pg, `probe_${n.name}`, 100, budgetMs)));
    await sleep(3000);

    const random = prng(seed);
    let lostSoFar = new Set<string>();
    const results: Round[] = [];
    for (let i = 0; i < rounds && Date.now() < deadline; i++) {
      const leader = await whole(c, 60);
      const replicas = [...c.nodes.keys()].filter((n) => n !== leader);
      const kind = kinds[Math.floor(random() * kinds.length)]!;
      const replica = replicas[Math.floor(random() * replicas.length)]!;
      const t0 = Date.now();
      const fault = await inject(c, kind, leader, replica);
      say(`round ${i + 1}/${rounds}: ${kind} on ${fault.target} (leader ${leader})`);
      await sleep(holdMs);
      const healedAt = Date.now();
      await fault.heal();
      let recovered = true;
      let newLeader = leader;
      try {
        newLeader = await whole(c, 120);
      } catch (e) {
        recovered = false;
        say(`  did not recover within 120 s of healing: ${describeError(e)}`);
        say(`  evidence:\n${await c.evidence().catch((err: unknown) => describeError(err))}`);
      }
      const wholeAt = Date.now();
      await sleep(2000);
      const end = Date.now();
      const acks = clients.flatMap((w) => w.acks).filter((a) => a.at >= t0 - 1000 && a.at <= end);
      const dual = overlappingWriters(acks, t0);
      const missing = recovered ? await missingOn(c, newLeader, clients) : lostSoFar;
      const lost = [...missing].filter((id) => !lostSoFar.has(id));
      lostSoFar = missing;
      const round: Round = {
        round: i + 1, seed, kind, target: fault.target, leaderBefore: leader, leaderAfter: newLeader, recovered,
        writesAcked: acks.length, lost: lost.length, lostIds: lost.slice(0, 20), dualPrimary: dual.length, dualDetails: dual,
        writeGapMs: longestGap(writer.acks, t0, end), healedToWholeMs: wholeAt - healedAt, faultToWholeMs: wholeAt - t0,
      };
      results.push(round);
      appendFileSync(join(resultsDir, 'rounds.jsonl'), `${JSON.stringify(round)}\n`);
      say(`  ${recovered ? `whole again ${(round.healedToWholeMs / 1000).toFixed(1)} s after healing, leader ${newLeader}` : 'NOT RECOVERED'}; ` +
        `${round.writesAcked} writes acknowledged, longest write gap ${(round.writeGapMs / 1000).toFixed(2)} s, ${round.lost} lost, ${round.dualPrimary} dual-primary`);
      for (const d of dual) say(`  DUAL PRIMARY: ${d}`);
      if (!recovered) break;
    }
    await Promise.all(clients.map((w) => w.stop()));
    const table = summaryTable(results, { seed, synchronous, holdMs });
    writeFileSync(join(resultsDir, 'summary.md'), table);
    process.stdout.write(`\n${table}\n`);
    const bad = results.filter((r) => !r.recovered || r.dualPrimary > 0 || (synchronous && r.lost > 0));
    if (bad.length > 0) {
      say(`${bad.length} round(s) missed a target: ${bad.map((r) => `round ${r.round} (${r.kind})`).join(', ')}`);
      code = 1;
    }
  } finally {
    await Promise.all(clients.map((w) => w.stop()));
    say('stopping the cluster');
    await c.teardown().catch((e: unknown) => say(`teardown: ${describeError(e)}`));
    if (values.keep === true || code !== 0) say(`work directory kept: ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
  return code;
}

/** Last resort on Ctrl-C or a crash: SIGKILL the agents, haproxy and etcd, end the test network. */
function killNow(): void {
  killEverythingNow();
  if (current?.etcd) {
    try {
      process.kill(current.etcd.pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  current?.network?.teardown();
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    process.stderr.write(`chaos: ${sig}, killing what the campaign started\n`);
    killNow();
    process.exit(130);
  });
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`chaos: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    killNow();
    process.exit(1);
  },
);
