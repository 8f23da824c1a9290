import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { basicAuthHeader } from '../../../src/api/auth.js';
import { HttpPeerApi, parsePeerStatus } from '../../../src/api/peer-client.js';
import { buildServer } from '../../../src/api/server.js';
import { fixedClock, leaderView, replicaPg, replicaView } from './fixtures.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const PATRONI_PRIMARY = {
  state: 'running', role: 'master', server_version: 150018, xlog: { location: 67_108_864 }, timeline: 1,
  dcs_last_seen: 1_795_348_268, database_system_identifier: '7710962064113097207', patroni: { version: '3.0.2', scope: 'batman' },
};
const PATRONI_REPLICA = {
  state: 'running', role: 'replica', server_version: 150018,
  xlog: { received_location: 67_108_900, replayed_location: 67_108_864, replayed_timestamp: null, paused: false },
  timeline: 2, tags: { nofailover: true }, watchdog_failed: true, patroni: { version: '3.0.2', scope: 'batman' },
};

const routes = new Map<string, Handler>();
const sockets = new Set<import('node:net').Socket>();
let server: Server;
let base = '';
let lastAuth: string | undefined;

const json = (body: unknown, code = 200): Handler => (_req, res) => {
  res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
};

before(async () => {
  routes.set('/primary/patroni', json(PATRONI_PRIMARY));
  routes.set('/replica/patroni', json(PATRONI_REPLICA));
  routes.set('/down/patroni', json({ state: 'stopped', role: 'replica', dcs_last_seen: 1, patroni: { version: '3.0.2', scope: 'b' } }));
  routes.set('/error/patroni', json(PATRONI_PRIMARY, 503));
  routes.set('/garbage/patroni', (_req, res) => res.end('{not json'));
  routes.set('/hang/patroni', () => { /* never answers */ });
  routes.set('/slow-body/patroni', (_req, res) => { res.writeHead(200); res.write('{"xlog":'); });
  routes.set('/auth/patroni', (req, res) => { lastAuth = req.headers.authorization; json(PATRONI_PRIMARY)(req, res); });
  server = createServer((req, res) => (routes.get(req.url ?? '') ?? json({}, 404))(req, res));
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('HttpPeerApi', () => {
  const api = new HttpPeerApi(null);

  it('reads a Patroni 3 primary as a reachable primary at its location', async () => {
    assert.deepEqual(await api.fetchStatus('p', `${base}/primary/patroni`, 2000), {
      name: 'p', reachable: true, isPrimary: true, lsn: 67_108_864, timeline: 1, nofailover: false, watchdogFailed: false,
    });
  });

  it('reads a replica\'s position as the larger of received and replayed, with its tags', async () => {
    assert.deepEqual(await api.fetchStatus('r', `${base}/replica/patroni`, 2000), {
      name: 'r', reachable: true, isPrimary: false, lsn: 67_108_900, timeline: 2, nofailover: true, watchdogFailed: true,
    });
  });

  it('treats a peer without xlog (PostgreSQL down) as unreachable', async () => {
    const s = await api.fetchStatus('d', `${base}/down/patroni`, 2000);
    assert.equal(s.reachable, false);
    assert.equal(s.lsn, null);
  });

  it('treats a non-200 answer as unreachable', async () => {
    assert.equal((await api.fetchStatus('e', `${base}/error/patroni`, 2000)).reachable, false);
  });

  it('treats a body that is not JSON as unreachable', async () => {
    assert.equal((await api.fetchStatus('g', `${base}/garbage/patroni`, 2000)).reachable, false);
  });

  it('treats a refused connection as unreachable', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    assert.equal((await api.fetchStatus('x', `http://127.0.0.1:${port}/patroni`, 2000)).reachable, false);
  });

  it('gives up on a peer that never answers within the timeout', async () => {
    const started = performance.now();
    const s = await api.fetchStatus('h', `${base}/hang/patroni`, 300);
    const took = performance.now() - started;
    assert.equal(s.reachable, false);
    assert.ok(took >= 250 && took < 1500, `took ${took} ms`);
  });

  it('gives up on a peer that stops in the middle of its body', async () => {
    const started = performance.now();
    assert.equal((await api.fetchStatus('b', `${base}/slow-body/patroni`, 300)).reachable, false);
    assert.ok(performance.now() - started < 1500);
  });

  it('resolves unreachable for a malformed URL instead of rejecting', async () => {
    assert.equal((await api.fetchStatus('u', 'not a url', 500)).reachable, false);
  });

  it('sends the configured credentials as Basic auth', async () => {
    const creds = { username: 'admin', password: 'pw' };
    await new HttpPeerApi(creds).fetchStatus('a', `${base}/auth/patroni`, 2000);
    assert.equal(lastAuth, basicAuthHeader(creds));
  });

  it('understands pgwarden\'s own /patroni answers', async () => {
    const clock = fixedClock();
    for (const [view, primary, lsn] of [[leaderView(), true, 67_108_864], [replicaView({ pg: replicaPg(500, 900) }), false, 900]] as const) {
      const app = buildServer({ view: () => view, clock, auth: null, requestReload: () => undefined });
      const url = await app.listen({ host: '127.0.0.1', port: 0 });
      const s = await api.fetchStatus(view.name, `${url}/patroni`, 2000);
      await app.close();
      assert.equal(s.reachable, true);
      assert.equal(s.isPrimary, primary);
      assert.equal(s.lsn, lsn);
    }
  });
});

describe('parsePeerStatus', () => {
  it('counts a running primary role as primary even without a location', () => {
    const s = parsePeerStatus('x', { state: 'running', role: 'primary', xlog: {} });
    assert.equal(s.reachable, true);
    assert.equal(s.isPrimary, true);
    assert.equal(s.lsn, null);
  });

  it('accepts Patroni 4\'s wal key in place of xlog', () => {
    assert.equal(parsePeerStatus('x', { role: 'replica', wal: { replayed_location: 7 } }).lsn, 7);
  });

  it('reads string tags such as nofailover: "true"', () => {
    assert.equal(parsePeerStatus('x', { xlog: { location: 1 }, tags: { nofailover: 'true' } }).nofailover, true);
    assert.equal(parsePeerStatus('x', { xlog: { location: 1 }, tags: { nofailover: false } }).nofailover, false);
  });

  it('treats non-objects as unreachable', () => {
    for (const body of [null, [], 'x', 3, { xlog: 'x' }]) assert.equal(parsePeerStatus('x', body).reachable, false);
  });
});
