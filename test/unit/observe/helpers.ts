import type { ApiReading, MemberProbe, PgFailure, PgReading } from '../../../src/observe/detect.js';

/** What a primary's PostgreSQL answers: not in recovery, at `lsn`. */
export function primaryReading(lsn = 67_108_864, over: Partial<PgReading> = {}): PgReading {
  return { ok: true, inRecovery: false, lsn, receivedLsn: null, replayedLsn: null, timeline: 1, serverVersion: 150018, replayAgeSeconds: null, heartbeatAgeSeconds: null, heartbeatError: null, ...over };
}

/** What a replica's PostgreSQL answers: in recovery, received and replayed up to `lsn`. */
export function replicaReading(lsn = 67_108_864, over: Partial<PgReading> = {}): PgReading {
  return { ok: true, inRecovery: true, lsn, receivedLsn: lsn, replayedLsn: lsn, timeline: 1, serverVersion: 150018, replayAgeSeconds: 0.5, heartbeatAgeSeconds: null, heartbeatError: null, ...over };
}

export const unreachablePg: PgFailure = { ok: false, error: 'connect ECONNREFUSED 127.0.0.1:5442', authFailed: false };
export const refusedLogin: PgFailure = { ok: false, error: 'password authentication failed for user "observer" (SQLSTATE 28P01)', authFailed: true };

const api = (role: string): ApiReading => ({ ok: true, role, state: 'running', reason: null });

/** One member's probe; the REST reading follows the PostgreSQL one unless given. */
export function probe(name: string, pg: PgReading | PgFailure, apiReading?: MemberProbe['api']): MemberProbe {
  return { name, pg, api: apiReading ?? (pg.ok ? api(pg.inRecovery ? 'replica' : 'primary') : { ok: false, error: 'GET: ECONNREFUSED' }) };
}
