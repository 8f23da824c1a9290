/**
 * Metrics pushed to statsd or Telegraf over UDP (pglookout's output), for sites that collect
 * metrics by push rather than by scraping `GET /metrics`. Lines use Telegraf's tagged form:
 *
 *     pgwarden.replication_lag_bytes,member=n2,scope=batman:16384|g
 *
 * Sending is fire-and-forget: no call waits, throws, or keeps the process alive. A send or DNS
 * failure is logged at WARNING once per distinct error, because a metrics outage must never
 * disturb the HA loop nor drown its log.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { NodeView } from '../domain/node-view.js';
import { errorText } from '../errors.js';
import type { Logger } from '../log.js';
import type { MemberLag } from './lag.js';

export type StatsdTags = Readonly<Record<string, string>>;

export interface StatsdOptions {
  host: string;
  port: number;
  /** Tags added to every metric (per-call tags with the same key win). */
  tags?: StatsdTags;
  /** Prepended to every metric name; a `.` is added between them when missing. */
  prefix?: string;
}

/**
 * Telegraf splits a line on `,`, `=`, `:` and `|`, and whitespace ends it: such characters in a
 * name, tag key or tag value would corrupt the line, so each becomes `_`.
 */
export function sanitize(text: string): string {
  return text.replace(/[,=:|\s]/g, '_');
}

/**
 * One statsd line. Tags are sorted by key so a metric always renders the same way; a tag whose
 * value is empty is dropped (Telegraf rejects `key=`).
 */
export function formatLine(name: string, value: string, type: 'g' | 'c' | 'ms', tags: StatsdTags = {}): string {
  const pairs = Object.keys(tags)
    .sort()
    .filter((k) => tags[k] !== '')
    .map((k) => `,${sanitize(k)}=${sanitize(tags[k]!)}`)
    .join('');
  return `${sanitize(name)}${pairs}:${value}|${type}`;
}

function numberText(value: number): string {
  return String(Math.round(value * 1000) / 1000);
}

export class StatsdClient {
  private socket: Socket | null = null;
  private closed = false;
  private readonly loggedErrors = new Set<string>();
  private readonly prefix: string;

  constructor(
    private readonly options: StatsdOptions,
    private readonly log: Logger,
  ) {
    const p = options.prefix ?? '';
    this.prefix = p === '' || p.endsWith('.') ? p : `${p}.`;
  }

  /**
   * Sets a gauge. In statsd a gauge value starting with `-` means "subtract", so a negative value
   * is sent as `0` followed by the negative delta, in one packet.
   */
  gauge(name: string, value: number, tags?: StatsdTags): void {
    if (!this.finite(name, value)) return;
    const line = (v: string) => this.line(name, v, 'g', tags);
    this.send(value < 0 ? `${line('0')}\n${line(numberText(value))}` : line(numberText(value)));
  }

  /** Adds 1 to a counter. */
  increment(name: string, tags?: StatsdTags): void {
    this.send(this.line(name, '1', 'c', tags));
  }

  /** Records a duration in milliseconds. */
  timing(name: string, ms: number, tags?: StatsdTags): void {
    if (!this.finite(name, ms)) return;
    this.send(this.line(name, numberText(Math.max(0, ms)), 'ms', tags));
  }

  /** Closes the socket; later calls send nothing. */
  close(): void {
    this.closed = true;
    const s = this.socket;
    this.socket = null;
    try {
      s?.close();
    } catch {
      // Already closed: nothing to release.
    }
  }

  private line(name: string, value: string, type: 'g' | 'c' | 'ms', tags?: StatsdTags): string {
    return formatLine(`${this.prefix}${name}`, value, type, { ...this.options.tags, ...tags });
  }

  private finite(name: string, value: number): boolean {
    if (Number.isFinite(value)) return true;
    this.logOnce(`statsd: not sending ${name}: value ${value} is not a finite number`);
    return false;
  }

  private send(packet: string): void {
    if (this.closed) return;
    try {
      const socket = this.ensureSocket();
      // With a host name, dgram resolves it on every send, so a DNS change is followed.
      socket.send(packet, this.options.port, this.options.host, (err) => {
        if (err) this.logOnce(`statsd: cannot send to ${this.options.host}:${this.options.port}: ${errorText(err)}`);
      });
    } catch (e) {
      this.logOnce(`statsd: cannot send to ${this.options.host}:${this.options.port}: ${errorText(e)}`);
    }
  }

  private ensureSocket(): Socket {
    if (this.socket !== null) return this.socket;
    const socket = createSocket(isIPv6(this.options.host) ? 'udp6' : 'udp4');
    // Without a listener an asynchronous socket error would be thrown and end the daemon.
    socket.on('error', (e) => this.logOnce(`statsd: socket error: ${errorText(e)}`));
    socket.unref();
    this.socket = socket;
    return socket;
  }

  private logOnce(message: string): void {
    if (this.loggedErrors.has(message)) return;
    // Bounded: a flapping error with changing text must not grow memory without end.
    if (this.loggedErrors.size >= 100) this.loggedErrors.clear();
    this.loggedErrors.add(message);
    this.log.warn(message);
  }
}

/** What one HA cycle measured, for `reportCycle`. */
export interface CycleMetrics {
  /** Wall time the cycle took (observe + decide + execute), in ms. */
  loopDurationMs: number;
  /** Lag by member (`lag.ts` `memberLags`); unknown values are not sent. */
  lags?: Readonly<Record<string, MemberLag>>;
  /**
   * The value `reportCycle` returned for the previous cycle; undefined on the first cycle, which
   * therefore never counts a leader change.
   */
  previousLeader?: string | null;
}

/**
 * Sends one cycle's metrics and returns the leader to pass as `previousLeader` next time. Every
 * metric carries `scope` and `node` (the reporting member) besides the configured tags:
 *
 * - `pgwarden.role` gauge, tag `role`: 1 when this node runs as primary, else 0;
 * - `pgwarden.replication_lag_bytes` gauge, tag `member`: WAL bytes behind the leader, one per
 *   member whose lag is known (every node reports every member; filter on `node`);
 * - `pgwarden.replication_lag_seconds` gauge, tag `member`: heartbeat delay, when measured;
 * - `pgwarden.leader_change` counter, tag `leader` (the new one): sent when the leader key names
 *   a different member than the last one seen. A cycle without a leader does not count, so a
 *   lapsed lock that the same member takes again is no change;
 * - `pgwarden.loop_duration` timing in ms.
 */
export function reportCycle(client: StatsdClient, view: NodeView, metrics: CycleMetrics): string | null {
  const base = { scope: view.scope, node: view.name };
  client.gauge('pgwarden.role', view.role === 'primary' ? 1 : 0, { ...base, role: view.role });
  const lags = metrics.lags ?? {};
  for (const member of Object.keys(lags).sort()) {
    const lag = lags[member]!;
    if (lag.bytes !== null) client.gauge('pgwarden.replication_lag_bytes', lag.bytes, { ...base, member });
    if (lag.seconds !== null) client.gauge('pgwarden.replication_lag_seconds', lag.seconds, { ...base, member });
  }
  const seen = view.cluster?.leader?.name ?? null;
  const previous = metrics.previousLeader;
  if (seen !== null && previous !== undefined && previous !== null && seen !== previous) {
    client.increment('pgwarden.leader_change', { ...base, leader: seen });
  }
  client.timing('pgwarden.loop_duration', metrics.loopDurationMs, base);
  return seen ?? previous ?? null;
}
