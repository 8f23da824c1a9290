/**
 * Disposable `pg` clients. pgwarden restarts PostgreSQL on purpose, so a client must never
 * outlive its question: each call connects, runs its queries under a deadline and closes, with an
 * `'error'` listener attached from the start so a dropped connection can never crash the daemon.
 */
import pg from 'pg';
import { PgwardenError } from '../errors.js';

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

/**
 * Connects, runs `fn`, closes. The whole call is bounded: connect within `timeoutMs`, each
 * query within its timeout, and a backstop timer that tears the socket down if the library
 * itself stalls. Rejects only with `PgwardenError` (`PG_UNAVAILABLE`, `PG_TIMEOUT`,
 * `PG_COMMAND_FAILED`).
 */
export async function withClient<T>(p: ConnectParams, what: string, fn: (c: pg.Client) => Promise<T>, budgetMs?: number): Promise<T> {
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
  let timer: NodeJS.Timeout | undefined;
  const backstop = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      destroy(client);
      reject(new PgwardenError('PG_TIMEOUT', `${what}: no answer from ${p.host}:${p.port} within ${budgetMs ?? p.timeoutMs + statementMs + 1_000} ms`));
    }, budgetMs ?? p.timeoutMs + statementMs + 1_000);
  });
  try {
    const work = (async () => {
      await client.connect();
      return fn(client);
    })();
    work.catch(() => undefined); // the backstop may win; never leave a rejection unhandled
    return await Promise.race([work, backstop]);
  } catch (e) {
    throw toPgError(e, what);
  } finally {
    clearTimeout(timer);
    await close(client);
  }
}
