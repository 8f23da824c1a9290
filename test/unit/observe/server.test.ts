import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { basicAuthHeader } from '../../../src/api/auth.js';
import { assess } from '../../../src/observe/detect.js';
import type { ScopeState } from '../../../src/observe/scope-observer.js';
import { buildObserverServer } from '../../../src/observe/server.js';
import { cluster, WALL } from '../api/fixtures.js';
import { primaryReading, probe, replicaReading } from './helpers.js';

/** batman after a round in which n2 answered as primary too (n3 is 7 MB behind). */
function batman(): ScopeState {
  const c = cluster({ config: { ttl: 30, pause: true } });
  const probes = [probe('n1', primaryReading(67_108_864)), probe('n2', primaryReading(67_109_000, { timeline: 2 })), probe('n3', replicaReading(60_000_000))];
  return {
    scope: 'batman',
    etcdReadAt: WALL - 500,
    round: { at: WALL - 2000, cluster: c, probes, assessment: assess(c, probes, { bytes: 1_048_576 }) },
    alerts: ['multiple_primary_warning', 'replication_delay_warning'],
    lagLimits: { bytes: 1_048_576 },
  };
}
const robin = (): ScopeState => ({ scope: 'robin', etcdReadAt: null, round: null, alerts: [], lagLimits: {} });

const app = (states: ScopeState[], auth: { username: string; password: string } | null = null) =>
  buildObserverServer({ states: () => states, auth, now: () => WALL });

describe('the observer REST API', () => {
  it('serves a node-style /cluster document plus what it measured and concluded', async () => {
    const r = await app([batman()]).inject({ method: 'GET', url: '/cluster' });
    assert.equal(r.statusCode, 200);
    const body = r.json();
    assert.equal(body.scope, 'batman');
    assert.equal(body.pause, true);
    assert.deepEqual(body.members.map((m: { name: string; role: string }) => [m.name, m.role]), [['n1', 'leader'], ['n2', 'replica'], ['n3', 'replica']]);
    const n2 = body.members[1];
    assert.deepEqual([n2.host, n2.port, n2.observed.postgres.reachable, n2.observed.postgres.in_recovery, n2.observed.postgres.timeline], ['127.0.0.1', 5441, true, false, 2]);
    assert.equal(body.members[2].observed.postgres.lag_bytes, 7_108_864);
    assert.deepEqual(body.observer, {
      etcd_last_read_at: new Date(WALL - 500).toISOString(),
      round_at: new Date(WALL - 2000).toISOString(),
      round_age_seconds: 2,
      leader: 'n1',
      primaries: ['n1', 'n2'],
      multiple_primaries: true,
      leader_in_recovery: false,
      standby_cluster: false,
      alerts: ['multiple_primary_warning', 'replication_delay_warning'],
      warning_replication_bytes_lag: 1_048_576,
      warning_replication_time_lag: null,
      over_lag_limit: [{ name: 'n3', bytes: 7_108_864, seconds: 0.5, over: ['bytes'] }],
    });
  });

  it('picks the scope by ?scope=, insists on it with several scopes, and says which it observes', async () => {
    const a = app([batman(), robin()]);
    assert.equal((await a.inject({ url: '/cluster?scope=batman' })).json().scope, 'batman');
    const none = await a.inject({ url: '/cluster' });
    assert.deepEqual([none.statusCode, none.body], [400, 'name the cluster: /cluster?scope=NAME (observed: batman, robin)\n']);
    const unknown = await a.inject({ url: '/cluster?scope=joker' });
    assert.deepEqual([unknown.statusCode, unknown.body], [404, 'scope "joker" is not observed (observed: batman, robin)\n']);
    const early = await a.inject({ url: '/cluster?scope=robin' });
    assert.equal(early.statusCode, 503, 'no round yet');
    assert.deepEqual(early.json().members, []);
    const all = await a.inject({ url: '/clusters' });
    assert.deepEqual(all.json().clusters.map((c: { scope: string }) => c.scope), ['batman', 'robin']);
  });

  it('serves pgwarden_observer_* metrics', async () => {
    const r = await app([batman()]).inject({ url: '/metrics' });
    assert.equal(r.statusCode, 200);
    assert.match(r.headers['content-type'] as string, /^text\/plain; version=0\.0\.4/);
    for (const line of [
      'pgwarden_observer_primaries{scope="batman"} 2',
      'pgwarden_observer_alert{scope="batman",alert="multiple_primary_warning"} 1',
      'pgwarden_observer_alert{scope="batman",alert="leader_in_recovery_warning"} 0',
      'pgwarden_observer_postgres_primary{scope="batman",name="n2"} 1',
      'pgwarden_observer_postgres_primary{scope="batman",name="n3"} 0',
      'pgwarden_observer_replication_lag_bytes{scope="batman",name="n3"} 7108864',
      'pgwarden_observer_members{scope="batman"} 3',
    ]) assert.ok(r.body.split('\n').includes(line), `missing: ${line}\n${r.body}`);
    assert.doesNotMatch(r.body, /^patroni_/m);
    assert.doesNotMatch(r.body, /replication_lag_bytes\{scope="batman",name="n2"\}/, 'a rogue primary has no lag');
  });

  it('is read-only: every other method answers 405', async () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE'] as const) {
      const r = await app([batman()]).inject({ method, url: '/cluster', payload: '{}' });
      assert.equal(r.statusCode, 405, method);
      assert.equal(r.headers['allow'], 'GET, HEAD');
    }
  });

  it('with restapi.authentication, asks every request for credentials', async () => {
    const creds = { username: 'obs', password: 'secret' };
    const a = app([batman()], creds);
    const missing = await a.inject({ url: '/metrics' });
    assert.deepEqual([missing.statusCode, missing.headers['www-authenticate']], [401, 'Basic realm="pgwarden"']);
    assert.equal((await a.inject({ url: '/metrics', headers: { authorization: basicAuthHeader({ ...creds, password: 'wrong' }) } })).statusCode, 401);
    assert.equal((await a.inject({ url: '/metrics', headers: { authorization: basicAuthHeader(creds) } })).statusCode, 200);
  });
});
