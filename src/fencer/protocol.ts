/**
 * What the agent tells its companion fencer, one JSON object per line on the fencer's stdin.
 *
 * Deadlines travel as absolute `process.hrtime.bigint()` values (CLOCK_MONOTONIC, shared by every
 * process on the machine, running while a process is frozen), never as "ms from now": a message
 * written late — the agent stopped between computing and writing it — must not move the deadline
 * later. The agent takes the hrtime reading *before* its own clock reading, so any pause between
 * the two makes the deadline earlier, which is the safe side.
 */

/** Fence PostgreSQL at `fenceAtNs` unless a newer `arm` or a `disarm` arrives first. */
export interface ArmMessage {
  op: 'arm';
  /** hrtime (ns, decimal string) at which to fence: lease deadline − safety margin. */
  fenceAtNs: string;
  /** hrtime (ns) of the lease deadline itself, for the log line and the last-resort escalation. */
  leaseEndsNs: string;
  /** Data directory whose `postmaster.pid` names the server to fence. */
  dataDir: string;
}

/** This node no longer runs a primary under a lease (replica, demoted, stopped by the agent). */
export interface DisarmMessage {
  op: 'disarm';
}

export type FencerMessage = ArmMessage | DisarmMessage;

export function encodeMessage(m: FencerMessage): string {
  return `${JSON.stringify(m)}\n`;
}

const DECIMAL = /^\d{1,30}$/;

/** Parses one line; null for anything that is not a well-formed message. */
export function parseMessage(line: string): FencerMessage | null {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const m = v as Record<string, unknown>;
  if (m['op'] === 'disarm') return { op: 'disarm' };
  if (m['op'] !== 'arm') return null;
  const { fenceAtNs, leaseEndsNs, dataDir } = m;
  if (typeof fenceAtNs !== 'string' || !DECIMAL.test(fenceAtNs)) return null;
  if (typeof leaseEndsNs !== 'string' || !DECIMAL.test(leaseEndsNs)) return null;
  if (typeof dataDir !== 'string' || dataDir === '') return null;
  return { op: 'arm', fenceAtNs, leaseEndsNs, dataDir };
}
