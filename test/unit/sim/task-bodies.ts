import { errorText } from '../../../src/errors.js';
import type { Settings } from '../../../src/ha/types.js';
import { SWITCHOVER_CATCHUP_MS } from '../../../src/loop/executors.js';
import type { StopMode } from '../../../src/postgres/port.js';
import type { AgentEnv } from './agent.js';
import type { DcsClient } from './fake-dcs.js';
import type { FakePg } from './fake-pg.js';
import type { Gen } from './scheduler.js';

/** What a background task body needs from its agent. */
export interface TaskHost {
  name: string;
  pg: FakePg;
  env: AgentEnv;
  dcs: DcsClient;
  settings: Settings;
  /** The agent's `pg_ctl stop` with the executors' stop budget. */
  stopPg(mode: StopMode): Gen<void>;
  /** Keepalive + create of the leader key; arms the fence when won. */
  acquire(promote: boolean): Gen<boolean>;
}

/**
 * The long actions of `src/loop/executors.ts` (start, promote, rejoin, clone, bootstrap) as
 * generator bodies the agent runs as background processes. A body that throws is a failed task.
 *
 * Simplifications: pg_rewind and pg_basebackup copy the source's current position and fail only
 * when the source is down or cut off; a failed rewind is not followed by a re-clone (it would
 * fail for the same reason); the divergence check is exact (the fake knows the timeline tree).
 */
export function* waitStarted(h: TaskHost): Gen<void> {
  while (h.pg.starting) yield 100;
  if (!h.pg.running) throw new Error('PostgreSQL exited during start-up');
}

export function* startBody(h: TaskHost, role: 'primary' | 'replica', upstream: string | null): Gen<void> {
  h.pg.launch(role, upstream, h.env.rng.int(500, 3_000));
  yield* waitStarted(h);
}

export function* promoteBody(h: TaskHost): Gen<void> {
  h.pg.requestPromote(h.env.rng.int(300, 2_000));
  while (h.pg.running && h.pg.inRecovery) yield 100;
  if (!h.pg.running) throw new Error('PostgreSQL stopped during promotion');
  h.pg.checkpoint();
}

/**
 * `demoteForSwitchover` of the executors: CHECKPOINT, fast stop, then poll the candidates'
 * `pg_last_wal_receive_lsn()` every 100 ms until one is past the last checkpoint location (the
 * shutdown checkpoint after a clean stop). None within `SWITCHOVER_CATCHUP_MS`: clear this
 * request and fail the task with PostgreSQL stopped.
 */
export function* demoteBody(h: TaskHost, candidates: string[], requestRevision: string | null): Gen<void> {
  const { rng, trace } = h.env;
  h.pg.checkpoint();
  yield rng.int(20, 300);
  yield* h.stopPg('fast');
  const lsn = h.pg.checkpointLsn;
  const deadline = h.env.sched.now + SWITCHOVER_CATCHUP_MS;
  let last = '';
  while (lsn !== null) {
    yield rng.int(1, 10);
    const answers = candidates.map((c) => ({ name: c, lsn: h.env.receivedLsnOf(h.name, c) }));
    const ready = answers.find((a) => typeof a.lsn === 'number' && a.lsn > lsn);
    if (ready) {
      trace(h.name, `switchover: ${ready.name} has received all WAL (${String(ready.lsn)} > shutdown checkpoint ${lsn})`);
      return;
    }
    last = answers.map((a) => `${a.name}: ${a.lsn === null ? 'not receiving' : typeof a.lsn === 'number' ? `at ${a.lsn}` : a.lsn}`).join(', ');
    if (h.env.sched.now >= deadline) break;
    yield 100;
  }
  const why = lsn === null ? 'could not read the shutdown checkpoint position' : `no candidate received all WAL up to ${lsn} in time (${last})`;
  trace(h.name, `switchover aborted: ${why}; PostgreSQL starts again as primary once the key is renewed`);
  try {
    yield* h.dcs.setFailover({}, requestRevision ?? undefined);
  } catch {
    // As the executor: a failed clear is left for the next leader cycle.
  }
  throw new Error(`switchover aborted: ${why}`);
}

export function* rejoinBody(h: TaskHost, upstream: string): Gen<void> {
  const { rng, pgOf, cutOff, trace } = h.env;
  yield* h.stopPg('fast');
  yield rng.int(10, 100);
  const src = pgOf(upstream);
  if (!src.running || cutOff(h.name, upstream)) throw new Error(`cannot check divergence: ${upstream} does not answer`);
  if (src.inRecovery) throw new Error(`cannot check divergence: ${upstream} is still in recovery`);
  if (h.pg.divergedFrom(src)) {
    trace(h.name, `pg_rewind from ${upstream}`);
    yield rng.int(500, 3_000);
    if (!src.running || cutOff(h.name, upstream)) throw new Error(`pg_rewind failed: ${upstream} does not answer`);
    h.pg.copyFrom(src);
  }
  h.pg.launch('replica', upstream, rng.int(500, 3_000));
  yield* waitStarted(h);
}

export function* cloneBody(h: TaskHost, source: string, follow: string): Gen<void> {
  yield h.env.rng.int(2_000, 6_000);
  const src = h.env.pgOf(source);
  if (!src.running || h.env.cutOff(h.name, source)) throw new Error(`pg_basebackup failed: ${source} does not answer`);
  h.pg.copyFrom(src);
  h.pg.launch('replica', follow, h.env.rng.int(500, 3_000));
  yield* waitStarted(h);
}

export function* bootstrapBody(h: TaskHost): Gen<void> {
  try {
    yield h.env.rng.int(1_000, 2_500);
    h.pg.initdb('7000000000000000042');
    h.pg.launch('primary', null, h.env.rng.int(500, 1_500));
    yield* waitStarted(h);
    yield* h.dcs.setInitialize(h.pg.sysid!);
    yield* h.dcs.setConfig({ ttl: h.settings.ttlMs / 1000 }, '0');
    if (!(yield* h.acquire(false))) throw new Error('another node took the leader key during bootstrap');
  } catch (e) {
    h.pg.halt('immediate');
    h.env.onFatal(h.name, `bootstrap failed: ${errorText(e)}`);
    throw e;
  }
}
