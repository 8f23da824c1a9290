import type { Lsn } from './lsn.js';

/** What a peer's `GET /patroni` told us during a leader race (reference §2.4, §2.7). */
export interface PeerStatus {
  name: string;
  /** False when the peer did not answer in time or answered without `xlog`. */
  reachable: boolean;
  /** True when the peer reports a running primary (`xlog.location` present / role primary). */
  isPrimary: boolean;
  /** Peer's WAL position: primary location, else max(received, replayed). */
  lsn: Lsn | null;
  timeline: number | null;
  nofailover: boolean;
  watchdogFailed: boolean;
}

/**
 * Peers' REST APIs. `fetchStatus` never rejects: an unreachable or malformed peer resolves
 * `{ reachable: false }` within `timeoutMs`.
 */
export interface PeerApi {
  fetchStatus(name: string, apiUrl: string, timeoutMs: number): Promise<PeerStatus>;
  /**
   * Failsafe mode (etcd unreachable): tells the member at `apiUrl` that `leader` is alive and
   * leading (`POST /failsafe`). True only for a 200 answer; never rejects.
   */
  confirmFailsafe(apiUrl: string, leader: FailsafeLeader, timeoutMs: number): Promise<boolean>;
}

/** The body of `POST /failsafe` (Patroni's fields). */
export interface FailsafeLeader {
  name: string;
  conn_url: string;
  api_url: string;
}
