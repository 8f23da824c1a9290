/**
 * Asks peers' REST APIs for their status during a leader race (reference §2.4, §2.7): one
 * `GET <api_url>` per peer, no retries, a hard deadline. Works against pgwarden and Patroni
 * (3.x `master`, 4.x `primary`, `xlog` or newer `wal`).
 */
import type { Lsn } from '../domain/lsn.js';
import type { FailsafeLeader, PeerApi, PeerStatus } from '../domain/peer.js';
import type { BasicCredentials } from './auth.js';
import { HttpClient, type ClientTls } from './http-client.js';

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

/**
 * `PeerApi` over the shared {@link HttpClient} (so peers are reached over HTTPS with the node's
 * CA and client certificate when the REST API uses TLS). Never rejects: every failure (refused,
 * deadline, non-200, more than 1 MiB, bad JSON, no `xlog`) is "unreachable".
 */
export class HttpPeerApi implements PeerApi {
  private readonly client: HttpClient;

  constructor(auth: BasicCredentials | null, tls?: ClientTls) {
    this.client = new HttpClient({ auth, maxBodyBytes: MAX_BODY_BYTES, ...(tls ? { tls } : {}) });
  }

  async fetchStatus(name: string, apiUrl: string, timeoutMs: number): Promise<PeerStatus> {
    try {
      const res = await this.client.requestJson({ method: 'GET', url: apiUrl, timeoutMs });
      return res.status === 200 ? parsePeerStatus(name, res.json) : unreachable(name);
    } catch {
      return unreachable(name);
    }
  }

  async confirmFailsafe(apiUrl: string, leader: FailsafeLeader, timeoutMs: number): Promise<boolean> {
    const url = `${apiUrl.replace(/\/patroni\/?$/, '').replace(/\/+$/, '')}/failsafe`;
    try {
      return (await this.client.request({ method: 'POST', url, json: leader, timeoutMs })).status === 200;
    } catch {
      return false;
    }
  }

  close(): void {
    this.client.close();
  }
}
