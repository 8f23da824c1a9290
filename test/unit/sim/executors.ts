import type { Action, TaskKind } from '../../../src/ha/types.js';
import type { StopMode } from '../../../src/postgres/port.js';
import type { AgentEnv } from './agent.js';
import type { DcsClient } from './fake-dcs.js';
import type { FakePg } from './fake-pg.js';
import type { SimFence } from './fence.js';
import type { Gen } from './scheduler.js';
import { bootstrapBody, cloneBody, demoteBody, promoteBody, rejoinBody, startBody, type TaskHost } from './task-bodies.js';

/** What the executors work with: the agent's side of `ShellContext` in `src/loop/executors.ts`. */
export interface ExecHost {
  readonly name: string;
  readonly pg: FakePg;
  readonly env: AgentEnv;
  readonly dcs: DcsClient;
  readonly fence: SimFence;
  /** What background task bodies get. */
  readonly host: TaskHost;
  /** Local lease deadline: send time of the last confirmed renewal + ttl. */
  leaderUntil: number | null;
  /** The deadline the last confirmed failsafe round set (null after an etcd renewal). */
  failsafeUntil: number | null;
  /** `stopPg()` of the executors: stop, then nothing is left for the fence to stop. */
  loopStop(mode: StopMode): Gen<void>;
  /** Keepalive + create of the leader key; arms the fence when won. */
  acquire(promote: boolean, claimSync?: string): Gen<boolean>;
  startTask(kind: TaskKind, body: Gen<void>): void;
  cancelTask(): void;
  /** The loop is about to start PostgreSQL read-only (for the `fenceReplica` invariant). */
  markDemoted(): void;
}

/**
 * One executor per action kind, as in `src/loop/executors.ts`: resolves true to go on with the
 * next action, false to stop the list; throwing also stops it. `probePeers` and `failsafePing`
 * are run by the cycle before the second `decide`, so here they do nothing.
 */
export function* execute(h: ExecHost, a: Action): Gen<boolean> {
  const rng = h.env.rng;
  switch (a.type) {
    case 'probePeers':
      return true;
    case 'renewLeader': {
      const sentAt = h.env.sched.now;
      if (yield* h.dcs.updateLeader()) {
        h.leaderUntil = sentAt + h.env.settings.ttlMs;
        h.failsafeUntil = null;
        h.fence.arm(h.leaderUntil);
        return true;
      }
      // As the real executor: a key gone before our own deadline is created again if nobody holds it.
      if (h.leaderUntil !== null && h.env.sched.now < h.leaderUntil && (yield* h.acquire(false))) {
        h.env.trace(h.name, 'leader key vanished before my deadline; created it again');
        return true;
      }
      h.leaderUntil = null;
      if (h.fence.armed) h.fence.trip('etcd refused the leader renewal: the key is gone or held by another node');
      return false;
    }
    case 'acquireLeader': {
      if (!(yield* h.acquire(a.promote, a.takeSync))) return false;
      if (a.promote) h.startTask('promote', promoteBody(h.host));
      return true;
    }
    case 'releaseLeader':
      yield* h.dcs.deleteLeader();
      h.leaderUntil = null;
      h.fence.disarm();
      return true;
    case 'bootstrap':
      if (!(yield* h.dcs.initializeRace())) return false;
      h.startTask('bootstrap', bootstrapBody(h.host));
      return true;
    case 'clone':
      h.startTask('clone', cloneBody(h.host, a.source.name, a.follow.name));
      return true;
    case 'start':
      if (a.role === 'replica') {
        h.markDemoted();
        h.fence.disarm();
      }
      if (a.role === 'primary' && a.syncStandbyNames !== undefined) h.pg.setSsn(a.syncStandbyNames);
      h.startTask('start', startBody(h.host, a.role, a.role === 'replica' ? (a.upstream?.name ?? null) : null));
      return true;
    case 'promote':
      h.startTask('promote', promoteBody(h.host));
      return true;
    case 'switchover': {
      // As the executor: the request's revision, so an aborted switchover clears only this request.
      let request: string | null = null;
      try {
        request = yield* h.dcs.failoverRevision();
      } catch {
        request = null;
      }
      h.startTask('demote', demoteBody(h.host, a.candidates.map((c) => c.name), request));
      return true;
    }
    case 'clearFailover':
      yield* h.dcs.setFailover({}, a.modRevision ?? undefined);
      return true;
    case 'writeSync': {
      const ok = yield* h.dcs.setSync(a.value, a.modRevision);
      if (!ok) h.env.trace(h.name, 'the sync key changed meanwhile; not written');
      return ok;
    }
    case 'setSyncStandbyNames':
      yield rng.int(2, 20);
      h.pg.setSsn(a.value);
      return true;
    case 'writeFailsafe':
      yield* h.dcs.writeFailsafe(a.members);
      return true;
    case 'failsafePing':
      return true;
    case 'stop':
      yield* h.loopStop(a.mode);
      return true;
    case 'follow':
      yield rng.int(2, 20);
      h.pg.follow(a.upstream?.name ?? null);
      return true;
    case 'rejoin':
      h.startTask('rejoin', rejoinBody(h.host, a.upstream.name));
      return true;
    case 'cancelTask':
      h.cancelTask();
      yield rng.int(1, 20);
      return true;
    case 'writeStatus':
      yield* h.dcs.writeStatus(a.optime);
      return true;
    case 'writeHistory': {
      const rows = h.pg.timelines.history(h.pg.tl);
      const last = rows[rows.length - 1];
      if (last) rows[rows.length - 1] = [last[0], last[1], last[2], `sim+${h.env.sched.now}ms`, h.name];
      yield* h.dcs.writeHistory(rows);
      return true;
    }
    case 'writeInitialize':
      yield* h.dcs.setInitialize(a.sysid);
      return true;
    case 'writeConfig':
      yield* h.dcs.setConfig({ ttl: h.env.settings.ttlMs / 1000 }, '0');
      return true;
    case 'syncSlots':
      yield rng.int(1, 10);
      return true;
    case 'fatal':
      h.env.onFatal(h.name, a.message);
      return false;
  }
}
