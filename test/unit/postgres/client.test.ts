import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { isPgwardenError, PgwardenError } from '../../../src/errors.js';
import { toPgError, withClient } from '../../../src/postgres/client.js';

describe('pg error mapping', () => {
  it('maps refused connections and "starting up" to PG_UNAVAILABLE', () => {
    assert.equal(toPgError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'probe').code, 'PG_UNAVAILABLE');
    assert.equal(toPgError(Object.assign(new Error('the database system is starting up'), { code: '57P03' }), 'probe').code, 'PG_UNAVAILABLE');
  });

  it('maps statement and client query timeouts to PG_TIMEOUT', () => {
    assert.equal(toPgError(Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' }), 'q').code, 'PG_TIMEOUT');
    assert.equal(toPgError(new Error('Query read timeout'), 'q').code, 'PG_TIMEOUT');
  });

  it('maps SQL errors to PG_COMMAND_FAILED with the SQLSTATE, and passes coded errors through', () => {
    const e = toPgError(Object.assign(new Error('permission denied'), { code: '42501' }), 'creating users');
    assert.equal(e.code, 'PG_COMMAND_FAILED');
    assert.equal(e.message, 'creating users: permission denied (SQLSTATE 42501)');
    const coded = new PgwardenError('BUG', 'x');
    assert.equal(toPgError(coded, 'q'), coded);
  });
});

describe('disposable clients', () => {
  let silent: Server;
  let silentPort = 0;
  const sockets: Socket[] = [];

  before(async () => {
    // Accepts TCP connections and never says a word, like a frozen (SIGSTOPped) server.
    silent = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const addr = silent.address();
    silentPort = typeof addr === 'object' && addr !== null ? addr.port : 0;
  });

  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => silent.close(r));
  });

  it('rejects PG_UNAVAILABLE at once when nothing listens', async () => {
    const free = createServer();
    await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
    const addr = free.address();
    const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
    await new Promise((r) => free.close(r));
    await assert.rejects(withClient({ host: '127.0.0.1', port, user: 'u', timeoutMs: 2_000 }, 'probe', async () => 1), (e) => isPgwardenError(e, 'PG_UNAVAILABLE'));
  });

  it('gives up on a server that never answers within its deadline', async () => {
    const t0 = Date.now();
    await assert.rejects(withClient({ host: '127.0.0.1', port: silentPort, user: 'u', timeoutMs: 300 }, 'probe', async () => 1), (e) => isPgwardenError(e) && ['PG_UNAVAILABLE', 'PG_TIMEOUT'].includes(e.code));
    assert.ok(Date.now() - t0 < 2_500, `took ${Date.now() - t0} ms`);
  });
});
