import type { HistoryRow } from '../domain/cluster.js';
import type { Clock } from '../domain/clock.js';
import type { FailsafeLeader, PeerApi, PeerStatus } from '../domain/peer.js';
import type { Dcs } from '../dcs/port.js';
import { errorText } from '../errors.js';
import type { Action, ActionType, Settings } from '../ha/types.js';
import type { Logger } from '../log.js';
import { slotNameFor, type Postgres, type StartMode, type StopMode, type Upstream } from '../postgres/port.js';
import { stopBudgetMs, type LeaseFence } from './fence.js';
import type { TaskRunner } from './tasks.js';

/** What executors work with. Mutable fields are the shell's own bookkeeping. */
export interface ShellContext {
  name: string;
  dcs: Dcs;
  pg: Postgres;
  peers: PeerApi;
  clock: Clock;
  log: Logger;
  tasks: TaskRunner;
  settings: Settings;
  /** Local lease deadline (monotonic ms): send time of the last confirmed renewal + ttl. */
  leaderUntil: number | null;
  /** Stops PostgreSQL if no renewal lands before the lease deadline (see LeaseFence). */
  fence: LeaseFence;
  /** `bootstrap.dcs` of the local YAML, written to `config` by the node that bootstraps. */
  bootstrapDcs: Record<string, unknown>;
  /** Last `config` value seen in etcd, rewritten by the leader if the key disappears. */
  lastConfig: Record<string, unknown> | null;
  /** Answers of this cycle's peer probe, for the second `decide` call. */
  peerAnswers: PeerStatus[] | null;
  /** True when this node streams from a `replicatefrom` member rather than the leader. */
  cascading: boolean;
  /** Slots last synced on the primary, to skip the query when nothing changed. */
  syncedSlots: string | null;
  /** Ends the daemon with a message for a human. */
  fatal(message: string): void;
  /** null when this node may take the leader key, else why not (`watchdog.mode: required`). */
  mayLead(): string | null;
  /** What `POST /failsafe` tells the other members about this node. */
  failsafeIdentity: FailsafeLeader;
  /** Answers of this cycle's failsafe round, for the second `decide` call. */
  failsafeAnswers: { accepted: string[]; refused: string[] } | null;
  /** True while this primary runs on its members' confirmations, etcd being unreachable. */
  failsafeActive: boolean;
}

/**
 * One executor per action kind. An executor resolves `true` to let the cycle go on with the
 * next action, `false` to stop the list (the precondition of the rest is gone, e.g. the
 * renewal failed); it may throw a PgwardenError, which also stops the list.
 */
type Executor<T extends ActionType> = (a: Extract<Action, { type: T }>, ctx: ShellContext) => Promise<boolean>;

/**
 * Budget for a stop. While this node may still hold the lease, the stop must end (fast mode
 * escalates to immediate inside the adapter) before the lease fence would fire (see `stopBudgetMs`).
 */
function stopTimeoutMs(ctx: ShellContext): number {
  return stopBudgetMs(ctx.settings.retryTimeoutMs, ctx.leaderUntil, ctx.clock.now());
}

/**
 * PostgreSQL stopped on the loop's own order: nothing is left for the fence to stop, and a fence
 * still armed would kill the read-only server the loop starts next.
 */
async function stopPg(ctx: ShellContext, mode: StopMode): Promise<void> {
  await ctx.pg.stop(mode, stopTimeoutMs(ctx));
  ctx.fence.disarm();
}
const startTimeoutMs = 60_000;

/** Replicas stream through a slot named after them, except when cascading (no slot upstream). */
function slotFor(ctx: ShellContext, upstream: Upstream | null): string | null {
  return upstream && ctx.settings.useSlots && !ctx.cascading ? slotNameFor(ctx.name) : null;
}

function replicaMode(ctx: ShellContext, upstream: Upstream | null): StartMode {
  return { role: 'replica', upstream, slotName: slotFor(ctx, upstream) };
}

/**
 * Keepalive + leader create (with `claimSync`, in the same transaction as the claim of the `sync`
 * key); on success the lease deadline counts from before the keepalive.
 */
async function acquire(ctx: ShellContext, claimSync?: string): Promise<boolean> {
  const refusal = ctx.mayLead();
  if (refusal !== null) {
    ctx.log.warn(`not taking the leader key: ${refusal}`);
    return false;
  }
  const sentAt = ctx.clock.now();
  if (!(await ctx.dcs.keepAlive())) {
    await ctx.dcs.ensureLease(ctx.settings.ttlMs / 1000);
  }
  const won = await ctx.dcs.attemptToAcquireLeader(ctx.name, claimSync);
  if (won) {
    ctx.leaderUntil = sentAt + ctx.settings.ttlMs;
    ctx.fence.arm(ctx.leaderUntil);
  }
  return won;
}

async function startReplica(ctx: ShellContext, upstream: Upstream | null, signal: AbortSignal): Promise<void> {
  await ctx.pg.start(replicaMode(ctx, upstream), startTimeoutMs, signal);
}

/** Clone from the leader after moving a diverged data directory aside (never deleting it). */
async function reclone(ctx: ShellContext, upstream: Upstream, why: string, signal: AbortSignal): Promise<void> {
  const moved = await ctx.pg.moveDataDirAside(why);
  ctx.log.warn(`kept the old data directory at ${moved}; the leader ${upstream.name} holds the cluster's data`);
  await ctx.pg.basebackup(upstream, signal);
}

/** Deadline of one `GET /patroni` to a peer during the leader race. */
const PEER_PROBE_TIMEOUT_MS = 750;

const executors: { [T in ActionType]: Executor<T> } = {
  async probePeers(a, ctx) {
    // A healthy agent answers /patroni from memory in milliseconds; a frozen one accepts the
    // connection and never answers, and every member waits this long for it before racing.
    const timeout = Math.min(PEER_PROBE_TIMEOUT_MS, ctx.settings.retryTimeoutMs);
    ctx.peerAnswers = await Promise.all(a.members.map((m) => ctx.peers.fetchStatus(m.name, m.apiUrl, timeout)));
    return true;
  },
  async renewLeader(_a, ctx) {
    const sentAt = ctx.clock.now();
    if (await ctx.dcs.updateLeader(ctx.name)) {
      ctx.leaderUntil = sentAt + ctx.settings.ttlMs;
      ctx.fence.arm(ctx.leaderUntil);
      return true;
    }
    // Gone while this node's own lease deadline still runs: etcd revoked the lease after an
    // outage that failsafe mode carried this primary through (or someone deleted the key). The
    // race's create-if-absent takes it back only if nobody else holds it, so one holder stays;
    // the primary then never stops. Anyone else's key, or a deadline passed: fence as before.
    if (ctx.leaderUntil !== null && ctx.clock.now() < ctx.leaderUntil && (await acquire(ctx))) {
      ctx.log.warn('the leader key had vanished before my lease deadline (etcd revoked the lease) and nobody else holds it: created it again, staying leader');
      return true;
    }
    ctx.leaderUntil = null;
    // A disarmed fence means the loop already stopped PostgreSQL or started it read-only.
    if (ctx.fence.armed) ctx.fence.trip('etcd refused the leader renewal: the key is gone or held by another node');
    return false;
  },
  async acquireLeader(a, ctx) {
    const won = await acquire(ctx, a.takeSync);
    if (!won) {
      ctx.log.info(a.takeSync === undefined ? 'lost the leader race: another node created the key first' : 'lost the leader race: another node created the key first, or the sync key changed since it was read');
      return false;
    }
    ctx.log.info(`acquired the leader key${a.promote ? ', promoting' : ''}`);
    if (a.promote) startPromote(ctx);
    return true;
  },
  async writeFailsafe(a, ctx) {
    await ctx.dcs.writeFailsafe(a.members);
    return true;
  },
  async failsafePing(a, ctx) {
    const sentAt = ctx.clock.now();
    const timeout = Math.min(PEER_PROBE_TIMEOUT_MS * 2, ctx.settings.retryTimeoutMs);
    const answers = await Promise.all(a.members.map(async (m) => [m.name, await ctx.peers.confirmFailsafe(m.apiUrl, ctx.failsafeIdentity, timeout)] as const));
    const accepted = answers.filter(([, ok]) => ok).map(([n]) => n);
    const refused = answers.filter(([, ok]) => !ok).map(([n]) => n);
    ctx.failsafeAnswers = { accepted, refused };
    if (refused.length === 0) {
      // Every member heard, before sentAt + ttl, that this node leads: none of them races until then.
      ctx.leaderUntil = sentAt + ctx.settings.ttlMs;
      ctx.fence.arm(ctx.leaderUntil);
      ctx.failsafeActive = true;
    } else {
      ctx.failsafeActive = false;
    }
    return true;
  },
  async writeSync(a, ctx) {
    const ok = await ctx.dcs.setSync(a.value, a.modRevision);
    const what = a.value === null ? 'deleted the sync key' : `sync key: leader ${a.value.leader ?? '-'}, synchronous standbys ${a.value.standbys.join(', ') || 'none'}`;
    if (ok) ctx.log.info(what);
    else ctx.log.warn(`sync key changed meanwhile; not written (${what})`);
    return ok;
  },
  async setSyncStandbyNames(a, ctx) {
    await ctx.pg.setSyncStandbyNames(a.value);
    return true;
  },
  async releaseLeader(_a, ctx) {
    const deleted = await ctx.dcs.deleteLeader(ctx.name);
    ctx.leaderUntil = null;
    ctx.fence.disarm();
    ctx.log.info(deleted ? 'released the leader key' : 'the leader key was not mine any more; nothing to release');
    return true;
  },
  async bootstrap(_a, ctx) {
    const refusal = ctx.mayLead();
    if (refusal !== null) {
      ctx.log.warn(`not bootstrapping the cluster: ${refusal}`);
      return false;
    }
    if (!(await ctx.dcs.initializeRace())) {
      ctx.log.info('another node won the bootstrap race');
      return false;
    }
    ctx.tasks.start('bootstrap', async (signal) => {
      try {
        await ctx.pg.initdb(signal);
        await ctx.pg.start({ role: 'primary' }, startTimeoutMs, signal);
        await ctx.pg.createBootstrapUsers();
        const status = await ctx.pg.probe();
        if (!status.running) throw new Error('PostgreSQL stopped right after initdb');
        await ctx.dcs.setInitialize(status.systemIdentifier);
        await ctx.dcs.setConfig(ctx.bootstrapDcs, '0');
        if (!(await acquire(ctx))) throw new Error('another node took the leader key during bootstrap');
        ctx.log.info(`bootstrapped cluster with system identifier ${status.systemIdentifier}`);
      } catch (e) {
        ctx.log.error(`bootstrap failed: ${errorText(e)}; removing the initialize key`);
        await ctx.dcs.cancelInitialize().catch(() => undefined);
        await ctx.pg.stop('immediate', stopTimeoutMs(ctx)).catch(() => undefined);
        await ctx.pg.moveDataDirAside('failed bootstrap').catch(() => undefined);
        ctx.fatal(`bootstrap failed: ${errorText(e)}`);
        throw e;
      }
    });
    return true;
  },
  async clone(a, ctx) {
    ctx.tasks.start('clone', async (signal) => {
      await ctx.pg.basebackup(a.source, signal);
      await startReplica(ctx, a.follow, signal);
    });
    return true;
  },
  async start(a, ctx) {
    const mode: StartMode = a.role === 'primary' ? { role: 'primary' } : replicaMode(ctx, a.upstream);
    if (a.role === 'primary' && a.syncStandbyNames !== undefined) await ctx.pg.setSyncStandbyNames(a.syncStandbyNames);
    // PostgreSQL is down (or this would be a stop); a server started read-only needs no fence.
    if (a.role === 'replica') ctx.fence.disarm();
    ctx.tasks.start('start', (signal) => ctx.pg.start(mode, startTimeoutMs, signal));
    return true;
  },
  async promote(_a, ctx) {
    startPromote(ctx);
    return true;
  },
  async stop(a, ctx) {
    await stopPg(ctx, a.mode);
    return true;
  },
  async follow(a, ctx) {
    const result = await ctx.pg.follow(a.upstream, slotFor(ctx, a.upstream));
    if (result === 'restart-needed') {
      ctx.tasks.start('start', async (signal) => {
        await stopPg(ctx, 'fast');
        await startReplica(ctx, a.upstream, signal);
      });
    } else if (result === 'reloaded') {
      ctx.log.info(`now following ${a.upstream?.name ?? 'nobody'} (configuration reloaded)`);
    }
    return true;
  },
  async rejoin(a, ctx) {
    ctx.tasks.start('rejoin', async (signal) => {
      await stopPg(ctx, 'fast');
      let diverged: boolean;
      try {
        diverged = await ctx.pg.needsRewind(a.upstream);
      } catch (e) {
        ctx.log.warn(`could not check divergence from ${a.upstream.name}: ${errorText(e)}`);
        throw e;
      }
      if (diverged) {
        if (ctx.settings.usePgRewind) {
          try {
            ctx.log.info(`running pg_rewind from ${a.upstream.name}: this node's history diverged from the leader's`);
            await ctx.pg.rewind(a.upstream, signal);
          } catch (e) {
            ctx.log.error(`pg_rewind failed: ${errorText(e)}; falling back to a fresh clone`);
            await reclone(ctx, a.upstream, `pg_rewind from ${a.upstream.name} failed`, signal);
          }
        } else {
          ctx.log.warn('this node diverged from the leader and use_pg_rewind is off: re-cloning');
          await reclone(ctx, a.upstream, 'diverged from the leader and use_pg_rewind is off', signal);
        }
      }
      await startReplica(ctx, a.upstream, signal);
    });
    return true;
  },
  async switchover(a, ctx) {
    const request = await ctx.dcs.getCluster().then((c) => c.failoverModRevision, () => null);
    ctx.tasks.start('demote', (signal) => demoteForSwitchover(ctx, a.candidates, request, signal));
    return true;
  },
  async clearFailover(a, ctx) {
    const cleared = await ctx.dcs.setFailover({}, a.modRevision ?? undefined);
    ctx.log.info(cleared ? `cleared the switchover request: ${a.why}` : 'the switchover request changed meanwhile; left it for the next cycle');
    return true;
  },
  async cancelTask(_a, ctx) {
    await ctx.tasks.cancel(stopTimeoutMs(ctx));
    return true;
  },
  async writeStatus(a, ctx) {
    await ctx.dcs.writeStatus(a.optime);
    return true;
  },
  async writeHistory(a, ctx) {
    const rows: HistoryRow[] = await ctx.pg.timelineHistory(a.timeline);
    const last = rows[rows.length - 1];
    if (last) rows[rows.length - 1] = [last[0], last[1], last[2], new Date(ctx.clock.wallNow()).toISOString(), ctx.name];
    await ctx.dcs.writeHistory(rows);
    return true;
  },
  async writeInitialize(a, ctx) {
    await ctx.dcs.setInitialize(a.sysid);
    return true;
  },
  async writeConfig(_a, ctx) {
    await ctx.dcs.setConfig(ctx.lastConfig ?? ctx.bootstrapDcs, '0');
    return true;
  },
  async syncSlots(a, ctx) {
    const key = a.slots.join(',');
    if (ctx.syncedSlots === key) return true;
    await ctx.pg.syncReplicationSlots(a.slots);
    ctx.syncedSlots = key;
    return true;
  },
  async fatal(a, ctx) {
    ctx.fatal(a.message);
    return false;
  },
};

/** Operator restart: same role, parameters re-rendered. A leader keeps renewing meanwhile. */
export async function restartPg(ctx: ShellContext, timeoutMs: number, signal: AbortSignal): Promise<void> {
  await ctx.pg.restart(timeoutMs, signal);
}

/** Operator reinitialize of a replica: stop, delete the data directory, clone from the leader, start. */
export async function reinitialize(ctx: ShellContext, leader: Upstream, signal: AbortSignal): Promise<void> {
  await stopPg(ctx, 'immediate');
  await ctx.pg.removeDataDir();
  await ctx.pg.basebackup(leader, signal);
  await startReplica(ctx, leader, signal);
}

/** How long a planned switchover waits for a candidate to confirm it received all WAL. */
export const SWITCHOVER_CATCHUP_MS = 10_000;

/**
 * The first half of a planned switchover, run while the loop keeps renewing the key: CHECKPOINT
 * (so the shutdown checkpoint is short), a fast stop (PostgreSQL's WAL senders ship everything,
 * the shutdown checkpoint included, to connected standbys before the postmaster exits), then ask
 * the candidates' PostgreSQL directly (their REST status is only as fresh as their last cycle)
 * until one has flushed WAL past the shutdown checkpoint. Only then does the task succeed, and
 * the next cycle releases the key (`afterDemote`). If no candidate catches up in time, the
 * request is cleared and the task fails with PostgreSQL stopped: an aborted switchover, not a
 * lost write. The next cycle starts it again as primary only after renewing the key (another node
 * may hold it by then), as after any stop of a leader's server.
 */
async function demoteForSwitchover(
  ctx: ShellContext,
  candidates: Upstream[],
  requestRevision: string | null,
  signal: AbortSignal,
): Promise<void> {
  await ctx.pg.checkpoint().catch((e: unknown) => ctx.log.warn(`checkpoint before switchover failed: ${errorText(e)}`));
  await stopPg(ctx, 'fast');
  const lsn = await ctx.pg.lastCheckpointLsn().catch(() => null);
  const deadline = ctx.clock.now() + SWITCHOVER_CATCHUP_MS;
  let last = '';
  while (lsn !== null && !signal.aborted) {
    const answers = await Promise.all(
      candidates.map(async (c) => ({ name: c.name, lsn: await ctx.pg.receivedLsnOf(c).catch((e: unknown) => errorText(e)) })),
    );
    const ready = answers.find((a) => typeof a.lsn === 'number' && a.lsn > lsn);
    if (ready) {
      ctx.log.info(`switchover: ${ready.name} has received all WAL (${String(ready.lsn)} > shutdown checkpoint ${lsn})`);
      return;
    }
    last = answers.map((a) => `${a.name}: ${a.lsn === null ? 'not receiving' : typeof a.lsn === 'number' ? `at ${a.lsn}` : a.lsn}`).join(', ');
    if (ctx.clock.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const why = lsn === null
    ? 'could not read the shutdown checkpoint position'
    : `no candidate received all WAL up to ${lsn} within ${SWITCHOVER_CATCHUP_MS / 1000} s (${last})`;
  ctx.log.error(`switchover aborted: ${why}; PostgreSQL starts again as primary once the leader key is renewed`);
  await ctx.dcs.setFailover({}, requestRevision ?? undefined).catch(() => false);
  throw new Error(`switchover aborted: ${why}`);
}

function startPromote(ctx: ShellContext): void {
  ctx.tasks.start('promote', async () => {
    await ctx.pg.promote(startTimeoutMs);
    ctx.syncedSlots = null;
    await ctx.pg.checkpoint().catch((e: unknown) => ctx.log.warn(`checkpoint after promote failed: ${errorText(e)}`));
  });
}

/** Every action kind `decide` can emit, with its executor (checked by a unit test). */
export const EXECUTED_ACTIONS: readonly ActionType[] = Object.keys(executors) as ActionType[];

export function execute(action: Action, ctx: ShellContext): Promise<boolean> {
  const run = executors[action.type] as Executor<ActionType>;
  return run(action as never, ctx);
}
