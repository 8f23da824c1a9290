/**
 * `pg` clients under deadlines. pgwarden restarts PostgreSQL on purpose, so most calls connect,
 * run their queries and close (`withClient`); only the status probe keeps one connection
 * (`KeptClient`), which also tells the loop at once when the server under it dies. Every client
 * has an `'error'` listener from the start, so a dropped connection can never crash the daemon.
 */
import pg from 'pg';
import { isPgwardenError, PgwardenError } from '../errors.js';

export interface ConnectParams {
  host: string;
  port: number;
  user: string;
  password?: string | undefined;
  database?: string;
  /** Deadline for connecting and, separately, for each query (client side and statement_timeout). */
  timeoutMs: number;
  /** Statement timeout override for a known-slow statement such as CHECKPOINT. */
  statementTimeoutMs?: number;
}

/** The socket under a pg client. Not in the public typings; used only to tear down a stuck connection. */
interface WithStream {
  connection?: { stream?: { destroy(): void } };
}

function destroy(client: pg.Client): void {
  (client as unknown as WithStream).connection?.stream?.destroy();
}

/** Closes politely, but never waits more than one second for a frozen server to answer. */
async function close(client: pg.Client): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([client.end().catch(() => undefined), new Promise((r) => (timer = setTimeout(r, 1_000)))]);
  clearTimeout(timer);
  destroy(client);
}

/** SQLSTATEs and messages that mean "the server is not there or not ready". */
function isUnavailable(e: { code?: string; message?: string }): boolean {
  const code = e.code ?? '';
  return (
    ['ECONNREFUSED', 'ECONNRESET', 'ENOENT', 'EHOSTUNREACH', 'ETIMEDOUT', 'EPIPE', '57P01', '57P02', '57P03', '08006', '08001'].includes(code) ||
    /timeout expired|terminated|Connection terminated/i.test(e.message ?? '')
  );
}

/** Maps whatever node-postgres threw to pgwarden's coded errors. */
export function toPgError(e: unknown, what: string): PgwardenError {
  if (e instanceof PgwardenError) return e;
  const err = (e ?? {}) as { code?: string; message?: string };
  const msg = err.message ?? String(e);
  if (err.code === '57014' || /Query read timeout/i.test(msg)) return new PgwardenError('PG_TIMEOUT', `${what}: ${msg}`, { cause: e });
  if (isUnavailable(err)) return new PgwardenError('PG_UNAVAILABLE', `${what}: ${msg}`, { cause: e });
  return new PgwardenError('PG_COMMAND_FAILED', `${what}: ${msg}${err.code ? ` (SQLSTATE ${err.code})` : ''}`, { cause: e });
}

function newClient(p: ConnectParams): pg.Client {
  const statementMs = p.statementTimeoutMs ?? p.timeoutMs;
  const client = new pg.Client({
    host: p.host,
    port: p.port,
    user: p.user,
    password: p.password,
    database: p.database ?? 'postgres',
    application_name: 'pgwarden',
    connectionTimeoutMillis: p.timeoutMs,
    query_timeout: statementMs,
    statement_timeout: statementMs,
    options: '-c DateStyle=ISO',
  });
  client.on('error', () => undefined);
  return client;
}

/**
 * Backstop for a library that stalls: rejects `PG_TIMEOUT` and tears the socket down when
 * `work` has not settled within `budgetMs`.
 */
async function bounded<T>(client: pg.Client, work: Promise<T>, budgetMs: number, what: string, p: ConnectParams): Promise<T> {
  work.catch(() => undefined); // the backstop may win; never leave a rejection unhandled
  let timer: NodeJS.Timeout | undefined;
  const backstop = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      destroy(client);
      reject(new PgwardenError('PG_TIMEOUT', `${what}: no answer from ${p.host}:${p.port} within ${budgetMs} ms`));
    }, budgetMs);
  });
  try {
    return await Promise.race([work, backstop]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Connects, runs `fn`, closes. The whole call is bounded: connect within `timeoutMs`, each
 * query within its timeout, and a backstop timer that tears the socket down if the library
 * itself stalls. Rejects only with `PgwardenError` (`PG_UNAVAILABLE`, `PG_TIMEOUT`,
 * `PG_COMMAND_FAILED`).
 */
export async function withClient<T>(p: ConnectParams, what: string, fn: (c: pg.Client) => Promise<T>, budgetMs?: number): Promise<T> {
  const client = newClient(p);
  try {
    const work = (async () => {
      await client.connect();
      return fn(client);
    })();
    return await bounded(client, work, budgetMs ?? p.timeoutMs + (p.statementTimeoutMs ?? p.timeoutMs) + 1_000, what, p);
  } catch (e) {
    throw toPgError(e, what);
  } finally {
    await close(client);
  }
}

/**
 * One connection kept open from query to query, for the status probe that runs every cycle:
 * it saves a TCP connect, a SCRAM exchange and a backend fork each time, and it doubles as a
 * postmaster-death alarm without polling: a backend exits as soon as its postmaster dies, so
 * the socket closes and `onLost` fires at once. `onLost` also fires on planned stops and
 * restarts; it means "look again now", nothing more.
 */
export class KeptClient {
  private client: pg.Client | null = null;
  private last: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly params: () => ConnectParams,
    private readonly onLost: () => void,
  ) {}

  /**
   * Runs `sql` on the kept connection, connecting first when there is none. A kept connection
   * found closed (the server restarted since the last call) is replaced once, at once; any
   * other failure drops the connection and rejects with a `PgwardenError`.
   */
  query<R extends object>(sql: string, what: string): Promise<R[]> {
    // One at a time (the loop and a background task may both probe): two callers must never
    // both find no connection and open two, one of which would then stay open unowned.
    const next = this.last.then(() => this.attempt<R>(sql, what));
    this.last = next.catch(() => undefined);
    return next;
  }

  private async attempt<R extends object>(sql: string, what: string): Promise<R[]> {
    const reused = this.client !== null;
    try {
      return await this.once<R>(sql, what);
    } catch (e) {
      if (!reused || !isPgwardenError(e, 'PG_UNAVAILABLE')) throw e;
      return this.once<R>(sql, what);
    }
  }

  /** Closes the connection (at shutdown: a paused node leaves PostgreSQL running). */
  async close(): Promise<void> {
    const c = this.client;
    this.client = null;
    if (c) await close(c);
  }

  private async once<R extends object>(sql: string, what: string): Promise<R[]> {
    const p = this.params();
    let c = this.client;
    try {
      if (c === null) {
        const fresh = newClient(p);
        c = fresh;
        await bounded(fresh, fresh.connect(), p.timeoutMs + 1_000, what, p);
        fresh.on('end', () => {
          if (this.client !== fresh) return; // dropped on purpose
          this.client = null;
          this.onLost();
        });
        this.client = fresh;
      }
      const res = await bounded(c, c.query<R>(sql), (p.statementTimeoutMs ?? p.timeoutMs) + 1_000, what, p);
      return res.rows;
    } catch (e) {
      if (c !== null) {
        if (this.client === c) this.client = null;
        destroy(c);
      }
      throw toPgError(e, what);
    }
  }
}
