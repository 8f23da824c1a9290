/**
 * Asks peers' REST APIs for their status during a leader race (reference §2.4, §2.7): one
 * `GET <api_url>` per peer, no retries, a hard deadline. Works against pgwarden and Patroni
 * (3.x `master`, 4.x `primary`, `xlog` or newer `wal`).
 */
import type { Lsn } from '../domain/lsn.js';
import type { PeerApi, PeerStatus } from '../domain/peer.js';
import { basicAuthHeader, type BasicCredentials } from './auth.js';

/** Answers larger than this are not a status document; reading stops there. */
const MAX_BODY_BYTES = 1024 * 1024;

/** What a peer that did not answer usefully looks like. */
export function unreachable(name: string): PeerStatus {
  return { name, reachable: false, isPrimary: false, lsn: null, timeline: null, nofailover: false, watchdogFailed: false };
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Patroni tags may be booleans, or strings/numbers when hand-written. */
function truthyTag(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') return ['true', 'on', 'yes', 'y', '1'].includes(v.trim().toLowerCase());
  return false;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Reads a `/patroni` document. Reachable only with an `xlog` (or `wal`) object, which a node
 * leaves out when its PostgreSQL does not answer. Primary when `xlog.location` is present, or
 * when the role says primary and the state is running. The WAL position is the primary's
 * location, else the larger of the received and replayed positions.
 */
export function parsePeerStatus(name: string, body: unknown): PeerStatus {
  if (!isObject(body)) return unreachable(name);
  const xlog = isObject(body['xlog']) ? body['xlog'] : isObject(body['wal']) ? body['wal'] : null;
  if (xlog === null) return unreachable(name);
  const location = num(xlog['location']);
  const role = body['role'];
  const isPrimary = location !== null || ((role === 'primary' || role === 'master') && body['state'] === 'running');
  let lsn: Lsn | null = location;
  if (lsn === null) {
    const received = num(xlog['received_location']);
    const replayed = num(xlog['replayed_location']);
    lsn = received === null ? replayed : replayed === null ? received : Math.max(received, replayed);
  }
  const tags = isObject(body['tags']) ? body['tags'] : {};
  return {
    name,
    reachable: true,
    isPrimary,
    lsn,
    timeline: num(body['timeline']),
    nofailover: truthyTag(tags['nofailover']),
    watchdogFailed: body['watchdog_failed'] === true,
  };
}

async function readLimited(res: Response): Promise<string | null> {
  if (res.body === null) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * `PeerApi` over HTTP with Node's `fetch`. The deadline covers connecting, the headers and the
 * body; a backup timer settles the promise even if the request machinery misbehaves. Never
 * rejects: every failure (refused, timeout, non-200, bad JSON, no `xlog`) is "unreachable".
 */
export class HttpPeerApi implements PeerApi {
  private readonly authorization: string | null;

  constructor(auth: BasicCredentials | null) {
    this.authorization = auth === null ? null : basicAuthHeader(auth);
  }

  async fetchStatus(name: string, apiUrl: string, timeoutMs: number): Promise<PeerStatus> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<PeerStatus>((resolve) => {
      timer = setTimeout(() => {
        controller.abort();
        resolve(unreachable(name));
      }, Math.max(0, timeoutMs));
    });
    try {
      return await Promise.race([this.ask(name, apiUrl, controller.signal), deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async ask(name: string, apiUrl: string, signal: AbortSignal): Promise<PeerStatus> {
    try {
      const headers: Record<string, string> = { accept: 'application/json' };
      if (this.authorization !== null) headers['authorization'] = this.authorization;
      const res = await fetch(apiUrl, { method: 'GET', headers, signal, redirect: 'error' });
      if (res.status !== 200) {
        await res.body?.cancel().catch(() => undefined);
        return unreachable(name);
      }
      const text = await readLimited(res);
      if (text === null) return unreachable(name);
      return parsePeerStatus(name, JSON.parse(text) as unknown);
    } catch {
      return unreachable(name);
    }
  }
}
