import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { connect } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { basicAuthHeader, checkBasicAuth } from '../../../src/api/auth.js';
import { buildServer, splitUrl, type ApiDeps } from '../../../src/api/server.js';
import type { NodeView } from '../../../src/domain/node-view.js';
import { NOW, cluster, fixedClock, leaderView, replicaView, stoppedPg } from './fixtures.js';

const CREDS = { username: 'admin', password: 's3cret' };

function app(view: NodeView, auth: ApiDeps['auth'] = null): { server: FastifyInstance; reloads: () => number; clock: ReturnType<typeof fixedClock> } {
  let reloads = 0;
  const clock = fixedClock();
  const server = buildServer({ view: () => view, clock, auth, requestReload: () => { reloads++; } });
  return { server, reloads: () => reloads, clock };
}

const leader = app(leaderView());
const replica = app(replicaView());
const secured = app(leaderView(), CREDS);
after(async () => {
  await Promise.all([leader.server.close(), replica.server.close(), secured.server.close()]);
});

type Method = 'GET' | 'HEAD' | 'OPTIONS';
const HEALTH: [path: string, primary: number, replica: number][] = [
  ['/', 200, 503], ['/primary', 200, 503], ['/master', 200, 503], ['/leader', 200, 503], ['/read-write', 200, 503],
  ['/replica', 503, 200], ['/replica?lag=1MB', 503, 200], ['/read-only', 200, 200], ['/standby-leader', 503, 503],
  ['/standby_leader', 503, 503], ['/health', 200, 200], ['/liveness', 200, 200], ['/readiness', 200, 200],
  ['/async', 503, 200], ['/asynchronous', 503, 200], ['/sync', 503, 503], ['/synchronous', 503, 503],
  ['/patroni', 200, 200], ['/cluster', 200, 200], ['/history', 200, 200], ['/config', 200, 200], ['/metrics', 200, 200],
  ['/nonsense', 503, 503],
];

describe('health routes', () => {
  for (const method of ['GET', 'HEAD', 'OPTIONS'] as Method[]) {
    for (const [path, onPrimary, onReplica] of HEALTH) {
      it(`${method} ${path} answers ${onPrimary} on the leader and ${onReplica} on a replica`, async () => {
        const a = await leader.server.inject({ method, url: path });
        const b = await replica.server.inject({ method, url: path });
        assert.equal(a.statusCode, onPrimary);
        assert.equal(b.statusCode, onReplica);
        if (method !== 'GET') {
          assert.equal(a.body, '');
          assert.equal(b.body, '');
        }
      });
    }
  }

  it('GET on a health path returns the status JSON with the computed code', async () => {
    const res = await replica.server.inject({ method: 'GET', url: '/primary' });
    assert.equal(res.statusCode, 503);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    const body = res.json<{ role: string; patroni: { name: string } }>();
    assert.equal(body.role, 'replica');
    assert.equal(body.patroni.name, 'n2');
  });

  it('GET /liveness and /readiness answer with an empty body', async () => {
    assert.equal((await leader.server.inject({ method: 'GET', url: '/liveness' })).body, '');
    assert.equal((await leader.server.inject({ method: 'GET', url: '/readiness' })).body, '');
  });

  it('tag filters in the query string apply to replica checks', async () => {
    assert.equal((await replica.server.inject({ method: 'GET', url: '/replica?tag_zone=a' })).statusCode, 503);
    const tagged = app(replicaView({ tags: { zone: 'a' } }));
    assert.equal((await tagged.server.inject({ method: 'OPTIONS', url: '/replica?tag_zone=a&tag_zone=b' })).statusCode, 200);
    await tagged.server.close();
  });

  it('stops answering 200 on /primary as soon as the lease deadline passes', async () => {
    const a = app(leaderView());
    assert.equal((await a.server.inject({ method: 'HEAD', url: '/primary' })).statusCode, 200);
    a.clock.mono = NOW + 20_000;
    assert.equal((await a.server.inject({ method: 'HEAD', url: '/primary' })).statusCode, 503);
    await a.server.close();
  });

  it('answers 503 on /primary for a leader whose PostgreSQL is down', async () => {
    const a = app(leaderView({ pg: stoppedPg(), state: 'stopped' }));
    assert.equal((await a.server.inject({ method: 'GET', url: '/primary' })).statusCode, 503);
    await a.server.close();
  });
});

/** Sends one raw request over TCP and returns the whole answer (the server closes: HTTP/1.0). */
async function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1', () => sock.end(text));
    let out = '';
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => { out += d; });
    sock.on('end', () => resolve(out));
    sock.on('error', reject);
  });
}

describe('over a real socket', () => {
  it('answers haproxy\'s HTTP/1.0 checks that carry no Host header', async () => {
    const a = app(leaderView());
    await a.server.listen({ host: '127.0.0.1', port: 0 });
    const port = (a.server.server.address() as import('node:net').AddressInfo).port;
    const primary = await rawRequest(port, 'OPTIONS /primary HTTP/1.0\r\n\r\n');
    const replicaCheck = await rawRequest(port, 'HEAD /replica HTTP/1.0\r\n\r\n');
    await a.server.close();
    assert.match(primary, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(replicaCheck, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
  });
});

describe('read endpoints', () => {
  it('GET /patroni always answers 200 with the status JSON', async () => {
    const res = await replica.server.inject({ method: 'GET', url: '/patroni' });
    assert.equal(res.statusCode, 200);
    const body = res.json<Record<string, unknown>>();
    assert.equal(Object.keys(body)[0], 'state');
    assert.ok('pgwarden' in body);
  });

  it('GET /cluster lists the members and answers 503 without a cluster view', async () => {
    const res = await leader.server.inject({ method: 'GET', url: '/cluster' });
    assert.deepEqual(res.json<{ members: { name: string }[] }>().members.map((m) => m.name), ['n1', 'n2', 'n3']);
    const blind = app(replicaView({ cluster: null }));
    const r2 = await blind.server.inject({ method: 'GET', url: '/cluster' });
    assert.equal(r2.statusCode, 503);
    assert.deepEqual(r2.json(), { members: [] });
    await blind.server.close();
  });

  it('GET /history returns the history rows, or [] when there are none', async () => {
    const withHistory = app(leaderView({ cluster: cluster({ history: [[1, 50_331_808, 'no recovery target specified', '2026-11-22T12:00:00+00:00', 'n1']] }) }));
    assert.deepEqual((await withHistory.server.inject({ method: 'GET', url: '/history' })).json(), [[1, 50_331_808, 'no recovery target specified', '2026-11-22T12:00:00+00:00', 'n1']]);
    await withHistory.server.close();
    const blind = app(replicaView({ cluster: null }));
    assert.deepEqual((await blind.server.inject({ method: 'GET', url: '/history' })).json(), []);
    await blind.server.close();
  });

  it('GET /config returns the dynamic config, or 502 when there is none', async () => {
    assert.deepEqual((await leader.server.inject({ method: 'GET', url: '/config' })).json(), { ttl: 30, loop_wait: 10 });
    const blind = app(replicaView({ cluster: cluster({ config: null }) }));
    const res = await blind.server.inject({ method: 'GET', url: '/config' });
    assert.equal(res.statusCode, 502);
    assert.match(res.body, /no configuration/);
    await blind.server.close();
  });

  it('GET /metrics is Prometheus text with version 0.0.4', async () => {
    const res = await leader.server.inject({ method: 'GET', url: '/metrics' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    assert.match(res.body, /^patroni_primary\{scope="batman",name="n1"\} 1$/m);
  });

  it('routes by the first path segment like Patroni', async () => {
    assert.equal((await replica.server.inject({ method: 'GET', url: '/patroni/extra' })).statusCode, 200);
    assert.deepEqual(splitUrl('/replica?lag=1MB'), { path: '/replica', segment: 'replica' });
    assert.deepEqual(splitUrl('/'), { path: '/', segment: '' });
    assert.deepEqual(splitUrl('//cluster/x'), { path: '//cluster/x', segment: 'cluster' });
  });
});

describe('unsafe methods', () => {
  it('POST /reload without credentials configured answers 202 and schedules a reload', async () => {
    const a = app(leaderView());
    const res = await a.server.inject({ method: 'POST', url: '/reload' });
    assert.equal(res.statusCode, 202);
    assert.equal(res.body, 'reload scheduled');
    assert.equal(a.reloads(), 1);
    await a.server.close();
  });

  it('POST /reload without an Authorization header answers 401 with a challenge', async () => {
    const before = secured.reloads();
    const res = await secured.server.inject({ method: 'POST', url: '/reload' });
    assert.equal(res.statusCode, 401);
    assert.equal(res.body, 'no auth header received');
    assert.equal(res.headers['www-authenticate'], 'Basic realm="pgwarden"');
    assert.equal(secured.reloads(), before);
  });

  it('POST /reload with wrong credentials answers 401 not authenticated', async () => {
    for (const authorization of [basicAuthHeader({ username: 'admin', password: 'nope' }), 'Bearer abc', 'Basic !!!']) {
      const res = await secured.server.inject({ method: 'POST', url: '/reload', headers: { authorization } });
      assert.equal(res.statusCode, 401);
      assert.equal(res.body, 'not authenticated');
      assert.equal(res.headers['www-authenticate'], 'Basic realm="pgwarden"');
    }
  });

  it('POST /reload with the right credentials answers 202', async () => {
    const before = secured.reloads();
    const res = await secured.server.inject({ method: 'POST', url: '/reload', headers: { authorization: basicAuthHeader(CREDS) } });
    assert.equal(res.statusCode, 202);
    assert.equal(res.body, 'reload scheduled');
    assert.equal(secured.reloads(), before + 1);
  });

  it('commands that are not built yet answer 501 with Patroni\'s phrase after authentication', async () => {
    const authorization = basicAuthHeader(CREDS);
    for (const [method, url] of [['POST', '/switchover'], ['PUT', '/patroni'], ['PATCH', '/config'], ['DELETE', '/restart'], ['POST', '/']] as const) {
      const res = await secured.server.inject({ method, url, headers: { authorization } });
      assert.equal(res.statusCode, 501, `${method} ${url}`);
      assert.match(res.body, /Server does not support this operation/);
    }
  });

  it('checks credentials before answering 501', async () => {
    const res = await secured.server.inject({ method: 'POST', url: '/switchover', payload: { leader: 'n1' } });
    assert.equal(res.statusCode, 401);
    assert.equal(res.headers['www-authenticate'], 'Basic realm="pgwarden"');
  });

  it('checks credentials before reading a malformed body', async () => {
    const res = await secured.server.inject({ method: 'POST', url: '/switchover', headers: { 'content-type': 'application/json' }, payload: '{oops' });
    assert.equal(res.statusCode, 401);
  });

  it('answers 400 with a clear message for a malformed JSON body', async () => {
    const res = await secured.server.inject({
      method: 'POST', url: '/reload', headers: { authorization: basicAuthHeader(CREDS), 'content-type': 'application/json' }, payload: '{oops',
    });
    assert.equal(res.statusCode, 400);
    assert.match(res.body, /^request body is not valid JSON/);
  });

  it('parses a JSON body whatever its Content-Type, as curl -d sends form encoding', async () => {
    const res = await leader.server.inject({
      method: 'POST', url: '/switchover', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: '{"leader":"n1"}',
    });
    assert.equal(res.statusCode, 501);
  });

  it('leaves GET, HEAD and OPTIONS open when credentials are configured', async () => {
    for (const method of ['GET', 'HEAD', 'OPTIONS'] as Method[]) {
      assert.equal((await secured.server.inject({ method, url: '/primary' })).statusCode, 200);
    }
  });
});

describe('checkBasicAuth', () => {
  it('accepts the right credentials and tells missing from wrong ones', () => {
    assert.equal(checkBasicAuth(basicAuthHeader(CREDS), CREDS), 'ok');
    assert.equal(checkBasicAuth(`basic ${Buffer.from('admin:s3cret').toString('base64')}`, CREDS), 'ok');
    assert.equal(checkBasicAuth(undefined, CREDS), 'missing');
    assert.equal(checkBasicAuth('', CREDS), 'missing');
    assert.equal(checkBasicAuth(basicAuthHeader({ username: 'admin', password: 's3cre' }), CREDS), 'wrong');
    assert.equal(checkBasicAuth('Digest abc', CREDS), 'wrong');
  });
});
