/**
 * Cluster-level triggers: the leader and replicas coming and going, as seen in successive
 * cluster snapshots. `trackTopology` is pure (no clock, no I/O) so every rule is a table row
 * in the tests; `cluster-triggers.ts` runs the commands.
 *
 * Each event fires once per transition, not once per cycle: the state remembers what was last
 * announced. Replica lag uses two limits (down above `replica_down_*`, up again only at or
 * below `replica_up_*`) so a replica hovering around one limit does not flap.
 *
 * The first observation (no previous state) only records the baseline and fires nothing: a
 * restarted daemon must not re-announce the whole cluster as "up". Scripts that need the full
 * picture read it from any event's document (or from watcher plugins, which run separately).
 */
import { isPrimaryRole, type ClusterSnapshot, type Member } from '../domain/cluster.js';
import type { TriggerEvent, TriggersConfig } from './config.js';
import { replicaLagBytes, type ClusterEventDocument } from './document.js';
import { splitCommand, type CommandJob } from './runner.js';

export type TopologyThresholds = Pick<
  TriggersConfig,
  'replica_down_lag_bytes' | 'replica_up_lag_bytes' | 'replica_down_lag_seconds' | 'replica_up_lag_seconds'
>;

export interface ClusterEvent {
  event: TriggerEvent;
  /** The member the event is about; null only for `heartbeat`. */
  member: string | null;
  /** For `failover_happened`: the leader before this one. */
  previous?: string;
  /** One sentence for the log and the document's `reason`. */
  reason: string;
}

export interface ReplicaStatus {
  up: boolean;
  /** Caller's clock (ms) when this status was first announced (or recorded at the baseline). */
  sinceMs: number;
}

/** What was last announced; treat as opaque and pass it back on the next call. */
export interface TopologyState {
  /** The leader considered up: holder of the leader key whose member key exists. */
  readonly leader: string | null;
  /** The last leader that was up, kept across a leaderless interval to recognise a failover. */
  readonly lastLeader: string | null;
  /** Members tracked as replicas: every member except the leader and self-declared primaries. */
  readonly replicas: ReadonlyMap<string, ReplicaStatus>;
  /** Names of all members present, to report the ones that vanish. */
  readonly members: readonly string[];
}

export interface TopologyResult {
  state: TopologyState;
  events: ClusterEvent[];
  /** Members present last time and gone now (for the document's `lost`). */
  lost: string[];
}

/**
 * Compares a fresh snapshot with the previous state. Call it only with snapshots actually read
 * from etcd: an unreadable etcd is not "every member vanished". `lagSeconds` (name → replay
 * delay) enables the `*_lag_seconds` limits; members missing from it are judged on bytes only.
 * Heartbeat events are not produced here: the caller adds one per cycle when configured.
 */
export function trackTopology(
  previous: TopologyState | null,
  snapshot: ClusterSnapshot,
  thresholds: TopologyThresholds,
  nowMs: number,
  lagSeconds?: ReadonlyMap<string, number>,
): TopologyResult {
  const present = new Map(snapshot.members.map((m) => [m.name, m]));
  const keyHolder = snapshot.leader?.name ?? null;
  const leader = keyHolder !== null && present.has(keyHolder) ? keyHolder : null;

  const replicas = new Map<string, ReplicaStatus>();
  const replicaEvents: ClusterEvent[] = [];
  for (const m of snapshot.members) {
    if (m.name === leader || isPrimaryRole(m.data.role)) continue;
    const lag = { bytes: replicaLagBytes(snapshot, m), seconds: lagSeconds?.get(m.name) ?? null };
    const before = previous ? previous.replicas.get(m.name) : { up: true, sinceMs: nowMs };
    if (before?.up) {
      const why = downReason(m, lag, thresholds);
      if (why === null) replicas.set(m.name, before);
      else {
        replicas.set(m.name, { up: false, sinceMs: nowMs });
        replicaEvents.push({ event: 'replica_down', member: m.name, reason: why });
      }
    } else {
      const blocker = upBlocker(m, lag, thresholds);
      if (blocker !== null) replicas.set(m.name, before ?? { up: false, sinceMs: nowMs });
      else {
        replicas.set(m.name, { up: true, sinceMs: nowMs });
        const after = before ? ` after ${Math.round((nowMs - before.sinceMs) / 1000)} s down` : '';
        replicaEvents.push({ event: 'replica_up', member: m.name, reason: `replica ${m.name} is running within the lag limits${after}` });
      }
    }
  }

  for (const [name, status] of previous?.replicas ?? []) {
    if (replicas.has(name) || !status.up || name === leader) continue;
    const why = present.has(name) ? `member ${name} reports role primary without the leader key` : `member key of ${name} vanished`;
    replicaEvents.push({ event: 'replica_down', member: name, reason: why });
  }
  replicaEvents.sort((a, b) => (a.member! < b.member! ? -1 : a.member! > b.member! ? 1 : 0));

  const events = previous ? [...leaderEvents(previous, leader, keyHolder), ...replicaEvents] : [];
  return {
    state: {
      leader,
      lastLeader: leader ?? previous?.lastLeader ?? null,
      replicas,
      members: [...present.keys()],
    },
    events,
    lost: previous ? previous.members.filter((name) => !present.has(name)) : [],
  };
}

function leaderEvents(previous: TopologyState, leader: string | null, keyHolder: string | null): ClusterEvent[] {
  const was = previous.leader;
  if (was === leader) return [];
  const events: ClusterEvent[] = [];
  if (was !== null) {
    const why =
      keyHolder === was
        ? `member key of leader ${was} vanished`
        : keyHolder === null
          ? `leader key of ${was} vanished`
          : `leader key is now held by ${keyHolder}`;
    events.push({ event: 'leader_down', member: was, reason: why });
  }
  if (leader !== null) {
    events.push({ event: 'leader_up', member: leader, reason: `${leader} holds the leader key` });
    const last = previous.lastLeader;
    if (last !== null && last !== leader) {
      events.push({ event: 'failover_happened', member: leader, previous: last, reason: `leadership moved from ${last} to ${leader}` });
    }
  }
  return events;
}

interface Lag {
  bytes: number | null;
  seconds: number | null;
}

/** Why a replica that is up must now count as down, or null. Unknown lag never counts as too much. */
function downReason(m: Member, lag: Lag, t: TopologyThresholds): string | null {
  if (m.data.state !== 'running') return `replica ${m.name} is ${m.data.state}`;
  return tooMuchLag(m.name, lag, t.replica_down_lag_bytes, t.replica_down_lag_seconds);
}

/** Why a replica that is down may not count as up yet: the up limits default to the down ones. */
function upBlocker(m: Member, lag: Lag, t: TopologyThresholds): string | null {
  if (m.data.state !== 'running') return `replica ${m.name} is ${m.data.state}`;
  return tooMuchLag(
    m.name,
    lag,
    t.replica_up_lag_bytes ?? t.replica_down_lag_bytes,
    t.replica_up_lag_seconds ?? t.replica_down_lag_seconds,
  );
}

function tooMuchLag(name: string, lag: Lag, maxBytes: number | undefined, maxSeconds: number | undefined): string | null {
  if (maxBytes !== undefined && lag.bytes !== null && lag.bytes > maxBytes) {
    return `replica ${name} lags ${lag.bytes} bytes behind the leader (limit ${maxBytes})`;
  }
  if (maxSeconds !== undefined && lag.seconds !== null && lag.seconds > maxSeconds) {
    return `replica ${name} lags ${lag.seconds} s behind the leader (limit ${maxSeconds})`;
  }
  return null;
}

/**
 * The job for one event, or null when its command is not configured. The command runs as
 * `<command> <event> <scope> [<member>]` with the document on stdin. Jobs are keyed by what they
 * describe — the leadership, one replica, failovers, the heartbeat — so a newer state of the
 * same subject supersedes a waiting older one (a `replica_up` waiting behind a `replica_down` of
 * the same replica is replaced by the next `replica_down`, never run out of order).
 */
export function triggerJob(
  triggers: TriggersConfig | undefined,
  event: ClusterEvent,
  scope: string,
  doc: ClusterEventDocument,
  timeoutSeconds: number,
): CommandJob | null {
  const command = triggers?.[event.event];
  if (command === undefined) return null;
  return {
    key: `trigger:${subject(event)}`,
    label: `trigger ${event.event}`,
    argv: [...splitCommand(command), event.event, scope, ...(event.member === null ? [] : [event.member])],
    stdin: JSON.stringify(doc),
    timeoutMs: timeoutSeconds * 1000,
    quiet: event.event === 'heartbeat',
  };
}

function subject(event: ClusterEvent): string {
  switch (event.event) {
    case 'leader_up':
    case 'leader_down':
      return 'leader';
    case 'replica_up':
    case 'replica_down':
      return `replica:${event.member ?? ''}`;
    default:
      return event.event;
  }
}
