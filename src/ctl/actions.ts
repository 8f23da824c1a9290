/**
 * The `pgwardenctl` commands that act on members through their REST APIs (reference §3.2):
 * which members a command targets, the request bodies, and the lines it prints. Pure helpers are
 * exported for unit tests; the commands themselves take a `CtlContext`.
 */
import { isPrimaryRole, type ClusterSnapshot, type Member } from '../domain/cluster.js';
import { CtlError } from './context.js';

export type RoleFilter = 'leader' | 'primary' | 'replica' | 'any';

export function parseRole(text: string): RoleFilter {
  const t = text === 'master' ? 'primary' : text;
  if (t === 'leader' || t === 'primary' || t === 'replica' || t === 'any') return t;
  throw new CtlError(`unknown role "${text}" (use leader, primary, replica or any)`);
}

/**
 * The members a command acts on: the named ones (every name must exist) or all, narrowed by role
 * (`leader`/`primary` = the leader-key holder) and, with `pendingOnly`, to those with a pending
 * restart.
 */
export function selectMembers(cluster: ClusterSnapshot, names: readonly string[], role: RoleFilter = 'any', pendingOnly = false): Member[] {
  for (const n of names) {
    if (!cluster.members.some((m) => m.name === n)) throw new CtlError(`${n} is not a member of cluster ${cluster.members.length === 0 ? '(no members)' : `(members: ${cluster.members.map((m) => m.name).join(', ')})`}`);
  }
  const leader = cluster.leader?.name ?? null;
  return [...cluster.members]
    .sort((a, b) => a.name.localeCompare(b.name))
    .filter((m) => names.length === 0 || names.includes(m.name))
    .filter((m) => role === 'any' || ((role === 'leader' || role === 'primary') === (m.name === leader)))
    .filter((m) => !pendingOnly || m.data.pending_restart === true);
}

/** Splits `[cluster] [members...]`: a first name equal to the scope is the cluster name. */
export function splitNames(scope: string, names: readonly string[]): { cluster: string | undefined; members: string[] } {
  if (names[0] === scope) return { cluster: scope, members: names.slice(1) };
  return { cluster: undefined, members: [...names] };
}

export interface RestartOptions {
  pending?: boolean;
  pgVersion?: string;
  scheduled?: string;
  timeout?: string;
}

/** `POST /restart` body from the command's options (patronictl's fields). */
export function restartBody(o: RestartOptions, scheduledIso: string | null): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (o.pending) body['restart_pending'] = true;
  if (o.pgVersion) body['postgres_version'] = o.pgVersion;
  if (scheduledIso) body['schedule'] = scheduledIso;
  if (o.timeout) body['timeout'] = o.timeout;
  return body;
}

/** The line patronictl prints for one member's restart answer; `ok` false counts as a failure. */
export function restartLine(member: string, status: number, text: string): { ok: boolean; line: string } {
  if (status === 200) return { ok: true, line: `Success: restart on member ${member}` };
  if (status === 202) return { ok: true, line: `Success: restart scheduled on member ${member}` };
  if (status === 409) return { ok: false, line: `Failed: another restart is already scheduled on member ${member}` };
  return { ok: false, line: `Failed: restart for member ${member}, status code=${status}, (${text.trim()})` };
}

/**
 * A time for `--scheduled`: `now` (or nothing) is immediate; ISO 8601 without a zone gets the
 * local zone, as patronictl does. Returns an ISO string with an offset, or null for immediate.
 */
export function scheduledTime(text: string | undefined, now: Date = new Date()): string | null {
  if (text === undefined || text.trim() === '' || text.trim().toLowerCase() === 'now') return null;
  const t = text.trim();
  const hasZone = /(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$/.test(t) && /T|\s/.test(t);
  const ms = Date.parse(hasZone ? t : t.replace(' ', 'T'));
  if (Number.isNaN(ms)) throw new CtlError(`cannot parse the time "${text}" (use ISO 8601, e.g. 2030-01-01T03:00:00+00:00)`);
  if (ms < now.getTime()) throw new CtlError(`the time ${text} is in the past`);
  const d = new Date(ms);
  const offset = -d.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  const pad = (n: number) => String(Math.floor(Math.abs(n))).padStart(2, '0');
  const local = new Date(ms + offset * 60_000).toISOString().slice(0, 19);
  return `${local}${sign}${pad(offset / 60)}:${pad(offset % 60)}`;
}

/** Leader-first order for commands that need any one member to answer (pause, flush). */
export function leaderFirst(cluster: ClusterSnapshot): Member[] {
  const leader = cluster.leader?.name;
  return [...cluster.members].sort((a, b) => (a.name === leader ? -1 : b.name === leader ? 1 : a.name.localeCompare(b.name)));
}

/** Members that may take over (not tagged `nofailover`), except `exclude`. */
export function eligibleCandidates(cluster: ClusterSnapshot, exclude: string | null): string[] {
  return cluster.members
    .filter((m) => m.name !== exclude && m.data.tags?.['nofailover'] !== true && !isPrimaryRole(m.data.role))
    .map((m) => m.name)
    .sort();
}

/** Sends one request per member and prints one line each; resolves false when any failed. */
export async function forEachMember(
  members: readonly Member[],
  run: (m: Member) => Promise<{ ok: boolean; line: string }>,
): Promise<boolean> {
  let allOk = true;
  for (const m of members) {
    let r: { ok: boolean; line: string };
    try {
      r = await run(m);
    } catch (e) {
      r = { ok: false, line: `Failed: ${m.name}: ${e instanceof Error ? e.message : String(e)}` };
    }
    allOk &&= r.ok;
    (r.ok ? process.stdout : process.stderr).write(`${r.line}\n`);
  }
  return allOk;
}
