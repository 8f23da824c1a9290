/**
 * The REST API's write endpoints (reference §2.6): switchover and failover requests, restarts,
 * reinitialize, and changes of the dynamic configuration. Each handler validates the whole body
 * first (a malformed request never reaches etcd or the HA loop), then acts through the
 * `OperatorPort`, and answers with Patroni's status codes and texts, which `patronictl` and
 * operators' scripts key on.
 */
import type { ClusterSnapshot, FailoverRequest } from '../domain/cluster.js';
import type { NodeView } from '../domain/node-view.js';
import type { FailsafeLeader, PeerStatus } from '../domain/peer.js';
import { validateDynamic } from '../config/dynamic.js';
import { mergePatch } from '../config/patch.js';
import { errorText } from '../errors.js';
import type { CommandResult, RestartFilters, ScheduledRestart } from '../loop/commands.js';
import {
  bodyObject,
  isRefusal,
  optionalString,
  parsePgVersion,
  parseSchedule,
  parseTimeoutSeconds,
  refuse,
  truthy,
  unknownField,
  type Refusal,
} from './request-values.js';

/** What the write endpoints act through; the daemon wires etcd, peers and the HA loop behind it. */
export interface OperatorPort {
  /** A fresh read of the cluster from etcd (not the loop's cached view). */
  readCluster(): Promise<ClusterSnapshot>;
  setFailover(value: FailoverRequest, expectedModRevision?: string): Promise<boolean>;
  setConfig(value: Record<string, unknown>, expectedModRevision?: string): Promise<boolean>;
  probePeer(name: string, apiUrl: string, timeoutMs: number): Promise<PeerStatus>;
  restartNow(filters: RestartFilters): Promise<CommandResult>;
  scheduleRestart(r: ScheduledRestart): CommandResult;
  cancelScheduledRestart(): CommandResult;
  reinitialize(force: boolean): Promise<CommandResult>;
  /** Cut the HA loop's wait short (a change it should act on now). */
  wakeLoop(): void;
  /** `POST /failsafe` accepted from this leader (URLs it did not send are empty). */
  acceptFailsafe(leader: FailsafeLeader): void;
}

/** An answer: plain text, or a JSON document. */
export type Answer = { status: number; text: string } | { status: number; json: unknown };

const text = (status: number, t: string): Answer => ({ status, text: t });
const fromRefusal = (r: Refusal): Answer => text(r.status, r.message);
const title = (action: string): string => action.charAt(0).toUpperCase() + action.slice(1);

export interface OperatorContext {
  port: OperatorPort;
  view: NodeView;
  wallNow: number;
  /** Milliseconds between two looks at etcd while waiting for a switchover to finish. */
  pollMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function readCluster(port: OperatorPort): Promise<ClusterSnapshot | Refusal> {
  try {
    return await port.readCluster();
  } catch (e) {
    return refuse(503, `cannot read the cluster from etcd: ${errorText(e)}`);
  }
}

/** `POST /switchover` and `POST /failover`. */
export async function requestLeaderChange(action: 'switchover' | 'failover', rawBody: unknown, c: OperatorContext): Promise<Answer> {
  const body = bodyObject(rawBody, false);
  if (isRefusal(body)) return fromRefusal(body);
  const unknown = unknownField(body, ['leader', 'candidate', 'member', 'scheduled_at']);
  if (unknown) return fromRefusal(unknown);
  const leader = optionalString(body, 'leader');
  const candidate = optionalString(body, 'candidate') ?? optionalString(body, 'member');
  const scheduledAt = optionalString(body, 'scheduled_at');
  for (const v of [leader, candidate, scheduledAt]) if (isRefusal(v)) return fromRefusal(v);
  const L = leader as string | undefined;
  const C = candidate as string | undefined;
  const S = scheduledAt as string | undefined;
  const paused = c.view.paused;
  if (action === 'failover' && C === undefined) return text(400, 'Failover could be performed only to a specific candidate');
  if (action === 'switchover' && L === undefined) return text(400, 'Switchover could be performed only from a specific leader');
  if (S !== undefined) {
    if (L === undefined) return text(400, `Scheduled ${action} is possible only from a specific leader`);
    if (paused) return text(400, `Can't schedule ${action} in the paused state`);
    const at = parseSchedule(S, action, c.wallNow);
    if (isRefusal(at)) return fromRefusal(at);
  }
  if (paused && C === undefined) return text(400, `${title(action)} is possible only to a specific candidate in a paused state`);

  const cluster = await readCluster(c.port);
  if (isRefusal(cluster)) return fromRefusal(cluster);
  const current = cluster.leader?.name ?? null;
  if (S === undefined) {
    const problem = await feasibility(action, cluster, L, C, c.port);
    if (problem) return text(412, problem);
  }
  const request: FailoverRequest = {};
  if (L !== undefined) request.leader = L;
  if (C !== undefined) request.member = C;
  if (S !== undefined) request.scheduled_at = S;
  const written = await c.port.setFailover(request).catch(() => false);
  if (!written) return text(503, `failed to write ${action} key into DCS`);
  c.port.wakeLoop();
  if (S !== undefined) return text(202, `${title(action)} scheduled`);
  return waitForNewLeader(action, current, C, c);
}

/** Why a leader change cannot happen now (412 text), or null. */
async function feasibility(action: string, cluster: ClusterSnapshot, leader: string | undefined, candidate: string | undefined, port: OperatorPort): Promise<string | null> {
  const current = cluster.leader?.name ?? null;
  if (leader !== undefined && leader !== current) return 'leader name does not match';
  if (candidate !== undefined) {
    if (!cluster.members.some((m) => m.name === candidate)) return 'candidate does not exists';
    if (candidate === current) return `${action} is not possible: ${candidate} is already the leader`;
  }
  const others = cluster.members.filter((m) => m.name !== current && (candidate === undefined || m.name === candidate));
  if (others.length === 0) return `${action} is not possible: cluster does not have members except leader`;
  const answers = await Promise.all(others.map((m) => port.probePeer(m.name, m.data.api_url, 2_000)));
  const good = answers.some((p) => p.reachable && !p.nofailover && !p.watchdogFailed);
  return good ? null : `${action} is not possible: no good candidates have been found`;
}

/**
 * Answers an immediate request once etcd shows its outcome: a new leader (200), the request
 * cleared without a new leader (503, the leader found it impossible), or no outcome within
 * `2 × max(10 s, loop_wait)` (503).
 */
async function waitForNewLeader(action: 'switchover' | 'failover', before: string | null, candidate: string | undefined, c: OperatorContext): Promise<Answer> {
  const sleep = c.sleep ?? defaultSleep;
  const pollMs = c.pollMs ?? 250;
  const limitMs = 2 * Math.max(10, c.view.loopWaitSeconds) * 1000;
  const done = action === 'switchover' ? 'switched over' : 'failed over';
  for (let waited = 0; waited <= limitMs; waited += pollMs) {
    await sleep(pollMs);
    let cluster: ClusterSnapshot;
    try {
      cluster = await c.port.readCluster();
    } catch {
      continue;
    }
    const now = cluster.leader?.name ?? null;
    if (now !== null && now !== before) {
      if (candidate !== undefined && now !== candidate) return text(200, `${title(done)} to "${now}" instead of "${candidate}"`);
      return text(200, `Successfully ${done} to "${now}"`);
    }
    if (cluster.failover === null && now === before) return text(503, `${title(action)} failed`);
  }
  return text(503, `${title(action)} status unknown`);
}

/** `DELETE /switchover`: cancels a scheduled request. */
export async function cancelScheduledSwitchover(c: OperatorContext): Promise<Answer> {
  const cluster = await readCluster(c.port);
  if (isRefusal(cluster)) return fromRefusal(cluster);
  if (cluster.failover?.scheduled_at === undefined) return text(404, 'no switchover is scheduled');
  const ok = await c.port.setFailover({}, cluster.failoverModRevision ?? undefined).catch(() => false);
  return ok ? text(200, 'scheduled switchover deleted') : text(409, 'the switchover request changed concurrently; read it again');
}

const RESTART_FIELDS = ['schedule', 'role', 'postgres_version', 'timeout', 'restart_pending'] as const;

/** `POST /restart`: immediate (answers when done) or scheduled (202). */
export async function requestRestart(rawBody: unknown, c: OperatorContext): Promise<Answer> {
  const body = bodyObject(rawBody, true);
  if (isRefusal(body)) return fromRefusal(body);
  const unknown = unknownField(body, RESTART_FIELDS, (k) => `Unknown filter for the scheduled restart: ${k}`);
  if (unknown) return fromRefusal(unknown);
  const filters: RestartFilters = {};
  if (body['role'] !== undefined && body['role'] !== null) {
    const role = body['role'];
    if (role !== 'master' && role !== 'primary' && role !== 'replica') return text(400, 'PostgreSQL role should be either primary or replica');
    filters.role = role === 'replica' ? 'replica' : 'primary';
  }
  if (body['postgres_version'] !== undefined && body['postgres_version'] !== null) {
    const v = parsePgVersion(body['postgres_version']);
    if (isRefusal(v)) return fromRefusal(v);
    filters.postgresVersion = v;
  }
  if (body['timeout'] !== undefined && body['timeout'] !== null) {
    const t = parseTimeoutSeconds(body['timeout']);
    if (isRefusal(t)) return fromRefusal(t);
    filters.timeoutSeconds = t;
  }
  if (body['restart_pending'] !== undefined && truthy(body['restart_pending'])) filters.restartPending = true;
  const schedule = optionalString(body, 'schedule');
  if (isRefusal(schedule)) return fromRefusal(schedule);
  if (schedule === undefined) {
    const r = await c.port.restartNow(filters);
    return text(r.status, r.message);
  }
  if (c.view.paused) return text(500, "Can't schedule restart in the paused state");
  const at = parseSchedule(schedule, 'restart', c.wallNow);
  if (isRefusal(at)) return fromRefusal(at);
  const request: Record<string, unknown> = {};
  for (const k of RESTART_FIELDS) if (k !== 'schedule' && body[k] !== undefined && body[k] !== null) request[k] = body[k];
  const pg = c.view.pg;
  const r = c.port.scheduleRestart({ schedule, atEpochMs: at, filters, request, postmasterStartTime: pg?.running ? pg.postmasterStartTime : null });
  return text(r.status, r.message);
}

/** `POST /reinitialize` (`{"force": bool}` optional). */
export async function requestReinitialize(rawBody: unknown, c: OperatorContext): Promise<Answer> {
  const body = bodyObject(rawBody, true);
  if (isRefusal(body)) return fromRefusal(body);
  const unknown = unknownField(body, ['force']);
  if (unknown) return fromRefusal(unknown);
  const force = body['force'];
  if (force !== undefined && force !== null && typeof force !== 'boolean') return text(400, 'force must be true or false');
  const r = await c.port.reinitialize(force === true);
  return text(r.status, r.message);
}

function invalidConfig(problems: string[]): Answer {
  return text(400, `invalid configuration, nothing written:\n${problems.map((p) => `  ${p}`).join('\n')}`);
}

/** `PATCH /config`: recursive merge, `null` deletes, compare-and-set on the key's revision. */
export async function patchConfig(rawBody: unknown, c: OperatorContext): Promise<Answer> {
  const body = bodyObject(rawBody, false);
  if (isRefusal(body)) return fromRefusal(body);
  if (Object.keys(body).length === 0) return text(400, 'the patch is an empty object');
  const cluster = await readCluster(c.port);
  if (isRefusal(cluster)) return fromRefusal(cluster);
  if (cluster.config === null || cluster.configModRevision === null) return text(503, 'there is no configuration in etcd to patch yet');
  const { value, changed } = mergePatch(cluster.config, body);
  if (!changed) return { status: 200, json: value };
  const problems = validateDynamic(value);
  if (problems.length > 0) return invalidConfig(problems);
  const ok = await c.port.setConfig(value, cluster.configModRevision).catch((e: unknown) => refuse(503, `cannot write the config key: ${errorText(e)}`));
  if (isRefusal(ok)) return fromRefusal(ok);
  if (!ok) return text(409, 'the configuration was changed concurrently; read it again and retry');
  c.port.wakeLoop();
  return { status: 200, json: value };
}

/** `PUT /config`: replaces the whole configuration (plain write), answering with what was written. */
export async function putConfig(rawBody: unknown, c: OperatorContext): Promise<Answer> {
  const body = bodyObject(rawBody, false);
  if (isRefusal(body)) return fromRefusal(body);
  if (Object.keys(body).length === 0) return text(400, 'the configuration is an empty object');
  const problems = validateDynamic(body);
  if (problems.length > 0) return invalidConfig(problems);
  const cluster = await readCluster(c.port);
  if (isRefusal(cluster)) return fromRefusal(cluster);
  if (JSON.stringify(cluster.config) !== JSON.stringify(body)) {
    const ok = await c.port.setConfig(body).catch(() => false);
    if (!ok) return text(502, 'cannot write the config key');
    c.port.wakeLoop();
  }
  return { status: 200, json: body };
}

/**
 * `POST /failsafe` (reference §2.6): the leader, cut off from etcd, asks this member to confirm
 * it leads. Accepted (and remembered for ttl, so this node does not race) unless failsafe mode
 * is off (502) or this node itself runs a primary (500). Extra fields (Patroni sends `slots`)
 * are ignored.
 */
export function acceptFailsafe(rawBody: unknown, c: OperatorContext): Answer {
  if (!c.view.failsafeMode) return text(502, 'failsafe_mode is not enabled');
  const body = bodyObject(rawBody, false);
  if (isRefusal(body)) return fromRefusal(body);
  const name = body['name'];
  if (typeof name !== 'string' || name === '') return text(400, 'the body needs the leader\'s name');
  const pg = c.view.pg;
  if (pg !== null && pg.running && !pg.inRecovery) return text(500, 'Running as a leader');
  const url = (key: string): string => (typeof body[key] === 'string' ? (body[key] as string) : '');
  c.port.acceptFailsafe({ name, conn_url: url('conn_url'), api_url: url('api_url') });
  return text(200, 'Accepted');
}
