import pg from 'pg';
import { query, type PgTarget } from './sql.js';

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

  /**
   * The acknowledged writes whose rows `on` does not have. The acknowledgements are copied BEFORE
   * the query: a write acknowledged while the query runs may be newer than its snapshot, and
   * would otherwise count as lost although nothing was.
   */
  async missingOn(on: PgTarget): Promise<Ack[]> {
    const acked = [...this.acks];
    const present = new Set((await query<{ id: number }>(on, `SELECT id FROM ${this.table}`, [], 10_000)).map((r) => r.id));
    return acked.filter((a) => !present.has(a.id));
  }

  /** Longest time between two consecutive acknowledgements, in ms. */
  longestGapMs(): number {
    let gap = 0;
    for (let i = 1; i < this.acks.length; i++) gap = Math.max(gap, this.acks[i]!.at - this.acks[i - 1]!.at);
    return gap;
  }
}

/** A stretch of consecutive acknowledgements (in time order) by one server. */
export interface AckRun {
  port: number;
  first: number;
  last: number;
  count: number;
}

/** Acknowledgements of all clients, oldest first, cut into runs by the server that gave them. */
export function ackRuns(acks: readonly Ack[]): AckRun[] {
  const runs: AckRun[] = [];
  for (const a of [...acks].sort((x, y) => x.at - y.at)) {
    const run = runs.at(-1);
    if (run && run.port === a.port) {
      run.last = a.at;
      run.count++;
    } else {
      runs.push({ port: a.port, first: a.at, last: a.at, count: 1 });
    }
  }
  return runs;
}

/**
 * Where two servers took writes at overlapping times: a server that acknowledges again after
 * another one has acknowledged since its own earlier run. (With one primary at a time, each
 * server's acknowledgements form one run, as long as the leadership never goes back to a former
 * primary, which no fault scenario does.) One line per overlap, with the times relative to `t0`.
 */
export function overlappingWriters(acks: readonly Ack[], t0: number): string[] {
  const s = (t: number): string => `${((t - t0) / 1000).toFixed(2)} s`;
  const seen = new Map<number, AckRun>();
  const out: string[] = [];
  const runs = ackRuns(acks);
  for (const [i, run] of runs.entries()) {
    const earlier = seen.get(run.port);
    if (earlier) {
      const between = runs.slice(runs.indexOf(earlier) + 1, i).map((r) => `port ${r.port} (${r.count} writes ${s(r.first)}–${s(r.last)})`);
      out.push(`port ${run.port} acknowledged writes ${s(earlier.first)}–${s(earlier.last)} and again ${s(run.first)}–${s(run.last)}, with ${between.join(', ')} in between`);
    }
    seen.set(run.port, run);
  }
  return out;
}
