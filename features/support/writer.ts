import pg from 'pg';
import type { PgTarget } from './sql.js';

/** One write the writer saw acknowledged, and which server (port) acknowledged it. */
export interface Ack {
  id: number;
  at: number;
  port: number;
}

/**
 * A client that inserts a unique id every `everyMs` through one target (haproxy's read-write
 * port) and records each acknowledgement with the server that gave it; a failed insert drops
 * the connection and the next one reconnects. Bounded: it stops by itself after `maxMs`.
 */
export class Writer {
  readonly acks: Ack[] = [];
  private stopped = false;
  private readonly done: Promise<void>;

  constructor(
    private readonly target: PgTarget,
    readonly table: string,
    everyMs: number,
    maxMs = 120_000,
  ) {
    const until = Date.now() + maxMs;
    this.done = (async () => {
      let client: pg.Client | null = null;
      let id = 0;
      while (!this.stopped && Date.now() < until) {
        const t = Date.now();
        try {
          client ??= await this.connect();
          const n = ++id;
          const r = await client.query<{ port: number }>(`INSERT INTO ${table} VALUES ($1) RETURNING inet_server_port() AS port`, [n]);
          this.acks.push({ id: n, at: Date.now(), port: r.rows[0]!.port });
        } catch {
          await client?.end().catch(() => undefined);
          client = null;
        }
        await new Promise((r) => setTimeout(r, Math.max(0, everyMs - (Date.now() - t))));
      }
      await client?.end().catch(() => undefined);
    })();
  }

  private async connect(): Promise<pg.Client> {
    const c = new pg.Client({ ...this.target, database: this.target.database ?? 'postgres', connectionTimeoutMillis: 1000, query_timeout: 1000, application_name: 'pgwarden-features-writer' });
    c.on('error', () => undefined);
    try {
      await c.connect();
    } catch (e) {
      await c.end().catch(() => undefined);
      throw e;
    }
    return c;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  /** Longest time between two consecutive acknowledgements, in ms. */
  longestGapMs(): number {
    let gap = 0;
    for (let i = 1; i < this.acks.length; i++) gap = Math.max(gap, this.acks[i]!.at - this.acks[i - 1]!.at);
    return gap;
  }
}
