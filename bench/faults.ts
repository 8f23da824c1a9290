import { sleep } from '../features/support/poll.js';
import { rest } from '../features/support/rest.js';
import { query } from '../features/support/sql.js';
import { Writer, type Ack } from '../features/support/writer.js';
import { REST_AUTH, type BenchCluster } from './cluster.js';

/** The fault scenarios, in the order. */
export const FAULTS = ['kill', 'crash', 'switchover', 'term'] as const;
export type Fault = (typeof FAULTS)[number];

export const FAULT_TITLES: Record<Fault, string> = {
  kill: 'Unplanned failover (SIGKILL of leader agent + postmaster)',
  crash: 'PostgreSQL crash under a live leader (SIGKILL of the postmaster only)',
  switchover: 'Planned switchover (POST /switchover)',
  term: 'Graceful leader shutdown (SIGTERM of the agent)',
};

/** One fault run's raw measurement (a JSON line of the results). */
export interface FaultResult {
  fault: Fault;
  /** Longest gap between two consecutive acknowledged writes that ends after the fault, ms. */
  unavailableMs: number | null;
  /** Fault → another member's name in the leader key, ms (null: none within the run). */
  newLeaderKeyMs: number | null;
  acknowledged: number;
  /** Acknowledged ids missing on the final primary. */
  lost: number;
  /** Of `lost`, acknowledged after the fault (by a backend that outlived its postmaster). */
  lostAfterFault: number;
  oldLeader: string;
  /** Name of the node that took writes at the end (port → node name). */
  finalPrimary: string | null;
  /** crash: PostgreSQL came back on the same node (true) or the cluster failed over (false). */
  restartedInPlace: boolean;
  /** POST /switchover's answer, for the switchover fault. */
  restAnswer?: string;
}

/** Writes every `WRITE_EVERY_MS` through haproxy, as the issue asks. */
const WRITE_EVERY_MS = 20;
/** The run ends once this many consecutive acknowledgements came after the outage. */
const STEADY_ACKS = 50;
/** Hard bound on one run after the fault. */
const RUN_LIMIT_MS = 90_000;

/**
 * The longest interval between consecutive acknowledgements that ends after `faultAt`: the
 * writer's outage, whether the writes came back on the same node (crash) or another one.
 */
export function unavailability(acks: readonly Ack[], faultAt: number): number | null {
  let worst: number | null = null;
  for (let i = 1; i < acks.length; i++) {
    const gap = acks[i]!.at - acks[i - 1]!.at;
    if (acks[i]!.at > faultAt && (worst === null || gap > worst)) worst = gap;
  }
  return worst;
}

/**
 * Runs one fault on a healthy cluster while a writer inserts unique ids through haproxy every
 * 20 ms: waits 2 s of steady writes, injects the fault, waits until writes have been steady again
 * for 50 acknowledgements (or 90 s), then reads the final primary's ids to count lost writes.
 * The caller heals the cluster afterwards (restarts stopped agents).
 */
export async function runFault(cluster: BenchCluster, fault: Fault, table: string, log: (s: string) => void): Promise<FaultResult> {
  const leader = await cluster.heal(120);
  const target = cluster.primaryTarget;
  await query(target, `CREATE TABLE ${table} (id int PRIMARY KEY)`);
  const writer = new Writer(target, table, WRITE_EVERY_MS, RUN_LIMIT_MS + 30_000);
  await sleep(2000);
  const portToName = new Map(cluster.nodes.map((n) => [n.spec.pgPort, n.name]));
  const candidate = cluster.nodes.find((n) => n !== leader)!;
  let restAnswer: string | undefined;
  const faultAt = Date.now();
  const acksBefore = writer.acks.length;
  switch (fault) {
    case 'kill': {
      const pm = leader.postmasterPid();
      const agentGone = leader.killAgent();
      if (pm !== null) process.kill(pm, 'SIGKILL');
      await agentGone;
      break;
    }
    case 'crash':
      await leader.killPostmaster();
      break;
    case 'switchover':
      void rest(leader.restApi, 'POST', '/switchover', {
        auth: REST_AUTH,
        body: { leader: leader.name, candidate: candidate.name },
        timeoutMs: 60_000,
      }).then((r) => (restAnswer = `${r.status} ${r.body || r.error || ''}`.trim()));
      break;
    case 'term':
      leader.terminate();
      break;
  }
  let newLeaderKeyMs: number | null = null;
  while (Date.now() - faultAt < RUN_LIMIT_MS) {
    if (newLeaderKeyMs === null && fault !== 'crash') {
      const holder = await cluster.dcs.leader().catch(() => null);
      if (holder !== null && holder !== leader.name) newLeaderKeyMs = Date.now() - faultAt;
    }
    const after = writer.acks.slice(acksBefore).filter((a) => a.at > faultAt);
    const tail = after.slice(-STEADY_ACKS);
    const steady = tail.length === STEADY_ACKS && tail.every((a) => a.port === tail[0]!.port);
    // A leader change must have reached the key too, so that figure is not cut short.
    if (steady && (fault === 'crash' || newLeaderKeyMs !== null)) break;
    await sleep(20);
  }
  await writer.stop();
  const acks = writer.acks;
  const last = acks[acks.length - 1];
  const missing = await writer.missingOn(target);
  const result: FaultResult = {
    fault,
    unavailableMs: unavailability(acks, faultAt),
    newLeaderKeyMs,
    acknowledged: acks.length,
    lost: missing.length,
    lostAfterFault: missing.filter((a) => a.at > faultAt).length,
    oldLeader: leader.name,
    finalPrimary: last ? (portToName.get(last.port) ?? `port ${last.port}`) : null,
    restartedInPlace: last !== undefined && last.port === leader.spec.pgPort,
    ...(restAnswer === undefined ? {} : { restAnswer }),
  };
  log(
    `${cluster.system} ${fault}: ${leader.name} -> ${result.finalPrimary ?? '?'}; writes stopped ${String(result.unavailableMs)} ms; ` +
      `new leader key ${String(result.newLeaderKeyMs)} ms; ${result.acknowledged} acknowledged, ${result.lost} lost` +
      (restAnswer ? `; POST /switchover: ${restAnswer}` : ''),
  );
  return result;
}
