import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { basicAuthHeader } from '../../../src/api/auth.js';
import type { OperatorPort } from '../../../src/api/operator.js';
import { buildServer } from '../../../src/api/server.js';
import type { ClusterSnapshot, FailoverRequest } from '../../../src/domain/cluster.js';
import type { NodeView } from '../../../src/domain/node-view.js';
import type { FailsafeLeader, PeerStatus } from '../../../src/domain/peer.js';
import type { CommandResult, RestartFilters, ScheduledRestart } from '../../../src/loop/commands.js';
import { WALL, cluster, fixedClock, leaderView, replicaView } from './fixtures.js';

const CREDS = { username: 'admin', password: 's3cret' };
const AUTH = { authorization: basicAuthHeader(CREDS) };

/** An OperatorPort that records every call and serves a scripted sequence of cluster reads. */
class FakePort implements OperatorPort {
  reads: ClusterSnapshot[];
  failoverWrites: { value: FailoverRequest; rev: string | undefined }[] = [];
  configWrites: { value: Record<string, unknown>; rev: string | undefined }[] = [];
  restarts: RestartFilters[] = [];
  scheduled: ScheduledRestart[] = [];
  reinits: boolean[] = [];
  wakes = 0;
  casOk = true;
  peers: Record<string, Partial<PeerStatus>> = {};
  restartResult: CommandResult = { status: 200, message: 'restarted successfully' };

  constructor(...reads: ClusterSnapshot[]) {
    this.reads = reads.length > 0 ? reads : [cluster()];
  }
  async readCluster(): Promise<ClusterSnapshot> {
    return this.reads.length > 1 ? this.reads.shift()! : this.reads[0]!;
  }
  async setFailover(value: FailoverRequest, rev?: string): Promise<boolean> {
    this.failoverWrites.push({ value, rev });
    return rev === undefined || this.casOk;
  }
  async setConfig(value: Record<string, unknown>, rev?: string): Promise<boolean> {
    this.configWrites.push({ value, rev });
    return rev === undefined || this.casOk;
  }
  async probePeer(name: string): Promise<PeerStatus> {
    return { name, reachable: true, isPrimary: false, lsn: 1, timeline: 1, nofailover: false, watchdogFailed: false, ...this.peers[name] };
  }
  async restartNow(f: RestartFilters): Promise<CommandResult> {
    this.restarts.push(f);
    return this.restartResult;
  }
  scheduleRestart(r: ScheduledRestart): CommandResult {
    this.scheduled.push(r);
    return { status: 202, message: 'Restart scheduled' };
  }
  cancelScheduledRestart(): CommandResult {
    return { status: 404, message: 'no restarts are scheduled' };
  }
  async reinitialize(force: boolean): Promise<CommandResult> {
    this.reinits.push(force);
    return { status: 200, message: 'reinitialize started' };
  }
  wakeLoop(): void {
    this.wakes++;
  }
  failsafeFrom: FailsafeLeader[] = [];
  acceptFailsafe(leader: FailsafeLeader): void {
    this.failsafeFrom.push(leader);
  }
  /** Every call that could change state. */
  get writes(): number {
    return this.failoverWrites.length + this.configWrites.length + this.restarts.length + this.scheduled.length + this.reinits.length + this.failsafeFrom.length;
  }
}

function serve(port: FakePort, view: Partial<NodeView> = {}) {
  return buildServer({ view: () => leaderView(view), clock: fixedClock(), auth: CREDS, requestReload: () => undefined, operator: port });
}

async function call(port: FakePort, method: 'POST' | 'DELETE' | 'PATCH' | 'PUT', url: string, body?: unknown, view: Partial<NodeView> = {}) {
  const app = serve(port, view);
  const res = await app.inject({ method, url, headers: AUTH, ...(body === undefined ? {} : { payload: typeof body === 'string' ? body : JSON.stringify(body) }) });
  await app.close();
  return res;
}

const at = (offsetMs: number): string => new Date(WALL + offsetMs).toISOString();

describe('write endpoints refuse without credentials and change nothing', () => {
  const endpoints: [string, string, unknown][] = [
    ['POST', '/switchover', { leader: 'n1', candidate: 'n2' }], ['POST', '/failover', { candidate: 'n2' }], ['DELETE', '/switchover', undefined],
    ['POST', '/restart', {}], ['DELETE', '/restart', undefined], ['POST', '/reinitialize', { force: true }],
    ['PATCH', '/config', { ttl: 20 }], ['PUT', '/config', { ttl: 20 }], ['POST', '/reload', undefined],
    ['POST', '/failsafe', { name: 'n1', conn_url: 'postgres://127.0.0.1:5432/postgres', api_url: 'http://127.0.0.1:8008/patroni' }],
  ];
  for (const [method, url, body] of endpoints) {
    for (const [label, headers] of [['no', {}], ['wrong', { authorization: basicAuthHeader({ username: 'admin', password: 'nope' }) }]] as const) {
      it(`${method} ${url} with ${label} credentials → 401`, async () => {
        const port = new FakePort();
        const app = serve(port);
        const res = await app.inject({ method: method as 'POST', url, headers, ...(body === undefined ? {} : { payload: JSON.stringify(body) }) });
        await app.close();
        assert.equal(res.statusCode, 401);
        assert.equal(port.writes, 0);
      });
    }
  }
});

describe('POST /switchover and /failover', () => {
  const refusals: [string, string, unknown, number, RegExp, Partial<NodeView>?][] = [
    ['no body', '/switchover', undefined, 400, /JSON object body is required/],
    ['a body that is not JSON', '/switchover', '{leader:', 400, /not valid JSON/],
    ['an array body', '/switchover', [1], 400, /must be a JSON object/],
    ['an unknown field', '/switchover', { leader: 'n1', canditate: 'n2' }, 400, /unknown field "canditate"/],
    ['a non-string leader', '/switchover', { leader: 5 }, 400, /leader must be a string/],
    ['a failover without candidate', '/failover', { leader: 'n1' }, 400, /^Failover could be performed only to a specific candidate$/],
    ['a switchover without leader', '/switchover', { candidate: 'n2' }, 400, /^Switchover could be performed only from a specific leader$/],
    ['a scheduled failover without leader', '/failover', { candidate: 'n2', scheduled_at: at(60_000) }, 400, /^Scheduled failover is possible only from a specific leader$/],
    ['a time without zone', '/switchover', { leader: 'n1', scheduled_at: '2030-01-01T10:00:00' }, 400, /^Timezone information is mandatory for the scheduled switchover$/],
    ['a time in the past', '/switchover', { leader: 'n1', scheduled_at: at(-60_000) }, 422, /^Cannot schedule switchover in the past$/],
    ['an unparseable time', '/switchover', { leader: 'n1', scheduled_at: 'soon' }, 422, /^Unable to parse scheduled timestamp/],
    ['scheduling while paused', '/switchover', { leader: 'n1', scheduled_at: at(60_000) }, 400, /^Can't schedule switchover in the paused state$/, { paused: true }],
    ['no candidate while paused', '/switchover', { leader: 'n1' }, 400, /^Switchover is possible only to a specific candidate in a paused state$/, { paused: true }],
    ['another leader', '/switchover', { leader: 'n3', candidate: 'n2' }, 412, /^leader name does not match$/],
    ['a candidate that is no member', '/switchover', { leader: 'n1', candidate: 'n9' }, 412, /^candidate does not exists$/],
    ['the leader as candidate', '/switchover', { leader: 'n1', candidate: 'n1' }, 412, /n1 is already the leader/],
  ];
  for (const [name, url, body, status, text, view] of refusals) {
    it(`refuses ${name} with ${status} and writes nothing`, async () => {
      const port = new FakePort();
      const res = await call(port, 'POST', url, body, view);
      assert.equal(res.statusCode, status, res.body);
      assert.match(res.body, text);
      assert.equal(port.writes, 0);
    });
  }

  it('refuses when every candidate is unfit (412) without writing', async () => {
    const port = new FakePort();
    port.peers = { n2: { reachable: false }, n3: { nofailover: true } };
    const res = await call(port, 'POST', '/switchover', { leader: 'n1' });
    assert.equal(res.statusCode, 412);
    assert.equal(res.body, 'switchover is not possible: no good candidates have been found');
    assert.equal(port.writes, 0);
  });

  it('refuses a cluster with only the leader', async () => {
    const port = new FakePort(cluster({ members: [cluster().members[1]!] }));
    const res = await call(port, 'POST', '/switchover', { leader: 'n1' });
    assert.equal(res.statusCode, 412);
    assert.equal(res.body, 'switchover is not possible: cluster does not have members except leader');
  });

  it('writes the request and answers 200 once the candidate holds the key', async () => {
    const before = cluster({ failover: { leader: 'n1', member: 'n2' } });
    const after = cluster({ leader: { name: 'n2', modRevision: '9' } });
    const port = new FakePort(before, before, before, after);
    const res = await call(port, 'POST', '/switchover', { leader: 'n1', candidate: 'n2' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.body, 'Successfully switched over to "n2"');
    assert.deepEqual(port.failoverWrites, [{ value: { leader: 'n1', member: 'n2' }, rev: undefined }]);
    assert.equal(port.wakes, 1);
  });

  it('reports another new leader than the candidate', async () => {
    const port = new FakePort(cluster(), cluster({ leader: { name: 'n3', modRevision: '9' } }));
    const res = await call(port, 'POST', '/failover', { candidate: 'n2' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.body, 'Failed over to "n3" instead of "n2"');
  });

  it('answers 503 when the leader cleared the request without handing over', async () => {
    const port = new FakePort(cluster(), cluster({ failover: null }));
    const res = await call(port, 'POST', '/switchover', { leader: 'n1', candidate: 'n2' });
    assert.equal(res.statusCode, 503);
    assert.equal(res.body, 'Switchover failed');
  });

  it('a failover to a named candidate works without a leader', async () => {
    const port = new FakePort(cluster({ leader: null }), cluster({ leader: null, failover: { member: 'n2' } }), cluster({ leader: { name: 'n2', modRevision: '9' } }));
    const res = await call(port, 'POST', '/failover', { candidate: 'n2' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.body, 'Successfully failed over to "n2"');
    assert.deepEqual(port.failoverWrites[0]?.value, { member: 'n2' });
  });

  it('a scheduled switchover is stored with its time and answered 202', async () => {
    const port = new FakePort();
    const when = at(3_600_000);
    const res = await call(port, 'POST', '/switchover', { leader: 'n1', candidate: 'n2', scheduled_at: when });
    assert.equal(res.statusCode, 202);
    assert.equal(res.body, 'Switchover scheduled');
    assert.deepEqual(port.failoverWrites, [{ value: { leader: 'n1', member: 'n2', scheduled_at: when }, rev: undefined }]);
  });

  it('accepts `member` as the candidate field, as Patroni does', async () => {
    const port = new FakePort();
    const res = await call(port, 'POST', '/switchover', { leader: 'n1', member: 'n2', scheduled_at: at(60_000) });
    assert.equal(res.statusCode, 202);
    assert.equal(port.failoverWrites[0]?.value.member, 'n2');
  });
});

describe('DELETE /switchover', () => {
  it('404 when nothing is scheduled', async () => {
    const res = await call(new FakePort(), 'DELETE', '/switchover');
    assert.equal(res.statusCode, 404);
    assert.equal(res.body, 'no switchover is scheduled');
  });
  it('clears a scheduled request with compare-and-set', async () => {
    const port = new FakePort(cluster({ failover: { leader: 'n1', scheduled_at: at(60_000) }, failoverModRevision: '33' }));
    const res = await call(port, 'DELETE', '/switchover');
    assert.equal(res.statusCode, 200);
    assert.equal(res.body, 'scheduled switchover deleted');
    assert.deepEqual(port.failoverWrites, [{ value: {}, rev: '33' }]);
  });
  it('409 when the request changed meanwhile', async () => {
    const port = new FakePort(cluster({ failover: { leader: 'n1', scheduled_at: at(60_000) }, failoverModRevision: '33' }));
    port.casOk = false;
    const res = await call(port, 'DELETE', '/switchover');
    assert.equal(res.statusCode, 409);
  });
});

describe('POST /restart', () => {
  const refusals: [unknown, number, RegExp, Partial<NodeView>?][] = [
    [{ role: 'leader' }, 400, /^PostgreSQL role should be either primary or replica$/],
    [{ timeout: 0 }, 400, /^Timeout should be a positive number of seconds$/],
    [{ timeout: 'soon' }, 400, /^Timeout should be a positive number of seconds$/],
    [{ postgres_version: 'fifteen' }, 400, /postgres_version/],
    [{ colour: 'red' }, 400, /^Unknown filter for the scheduled restart: colour$/],
    [{ schedule: at(60_000) }, 500, /^Can't schedule restart in the paused state$/, { paused: true }],
    [{ schedule: '2030-01-01 10:00' }, 400, /^Timezone information is mandatory for the scheduled restart$/],
    [{ schedule: at(-1_000) }, 422, /^Cannot schedule restart in the past$/],
    ['"x"', 400, /must be a JSON object/],
  ];
  for (const [body, status, text, view] of refusals) {
    it(`refuses ${JSON.stringify(body)} with ${status}`, async () => {
      const port = new FakePort();
      const res = await call(port, 'POST', '/restart', body, view);
      assert.equal(res.statusCode, status, res.body);
      assert.match(res.body, text);
      assert.equal(port.writes, 0);
    });
  }

  it('an empty body restarts at once and passes the result through', async () => {
    const port = new FakePort();
    const res = await call(port, 'POST', '/restart');
    assert.equal(res.statusCode, 200);
    assert.equal(res.body, 'restarted successfully');
    assert.deepEqual(port.restarts, [{}]);
  });

  it('filters are parsed into the request (master = primary, versions, durations)', async () => {
    const port = new FakePort();
    port.restartResult = { status: 503, message: 'restart conditions are not satisfied' };
    const res = await call(port, 'POST', '/restart', { role: 'master', postgres_version: '15.6', timeout: '2min', restart_pending: true });
    assert.equal(res.statusCode, 503);
    assert.deepEqual(port.restarts, [{ role: 'primary', postgresVersion: 150006, timeoutSeconds: 120, restartPending: true }]);
  });

  it('a scheduled restart is handed over with its time and the request fields', async () => {
    const port = new FakePort();
    const when = at(600_000);
    const res = await call(port, 'POST', '/restart', { schedule: when, role: 'replica' });
    assert.equal(res.statusCode, 202);
    assert.equal(port.scheduled.length, 1);
    assert.equal(port.scheduled[0]!.atEpochMs, WALL + 600_000);
    assert.deepEqual(port.scheduled[0]!.request, { role: 'replica' });
    assert.deepEqual(port.scheduled[0]!.filters, { role: 'replica' });
  });

  it('DELETE /restart passes the answer through', async () => {
    const res = await call(new FakePort(), 'DELETE', '/restart');
    assert.equal(res.statusCode, 404);
    assert.equal(res.body, 'no restarts are scheduled');
  });
});

describe('POST /reinitialize', () => {
  it('takes force as a boolean', async () => {
    const port = new FakePort();
    const res = await call(port, 'POST', '/reinitialize', { force: true });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(port.reinits, [true]);
  });
  it('refuses a non-boolean force and unknown fields', async () => {
    for (const body of [{ force: 'yes' }, { from_leader: true }]) {
      const port = new FakePort();
      const res = await call(port, 'POST', '/reinitialize', body);
      assert.equal(res.statusCode, 400, JSON.stringify(body));
      assert.equal(port.writes, 0);
    }
  });
});

describe('PATCH and PUT /config', () => {
  const base = cluster({ config: { ttl: 30, loop_wait: 10, retry_timeout: 10, postgresql: { parameters: { max_connections: 100, work_mem: '4MB' } } }, configModRevision: '5' });

  it('merges recursively, deletes nulls, writes with compare-and-set and returns the result', async () => {
    const port = new FakePort(base);
    const res = await call(port, 'PATCH', '/config', { ttl: 40, postgresql: { parameters: { work_mem: null, max_connections: 200 } } });
    assert.equal(res.statusCode, 200);
    const want = { ttl: 40, loop_wait: 10, retry_timeout: 10, postgresql: { parameters: { max_connections: 200 } } };
    assert.deepEqual(JSON.parse(res.body), want);
    assert.deepEqual(port.configWrites, [{ value: want, rev: '5' }]);
    assert.equal(port.wakes, 1);
  });

  it('answers 409 when the key changed since it was read', async () => {
    const port = new FakePort(base);
    port.casOk = false;
    const res = await call(port, 'PATCH', '/config', { ttl: 40 });
    assert.equal(res.statusCode, 409);
  });

  it('refuses a timing that breaks loop_wait + 2*retry_timeout <= ttl, writing nothing', async () => {
    const port = new FakePort(base);
    const res = await call(port, 'PATCH', '/config', { ttl: 20 });
    assert.equal(res.statusCode, 400);
    assert.match(res.body, /must be <= ttl \(20\)/);
    assert.equal(port.configWrites.length, 0);
  });

  it('refuses unknown keys and wrong types', async () => {
    for (const body of [{ tll: 40 }, { ttl: 'forty' }, { pause: 'maybe' }]) {
      const port = new FakePort(base);
      const res = await call(port, 'PATCH', '/config', body);
      assert.equal(res.statusCode, 400, JSON.stringify(body));
      assert.equal(port.configWrites.length, 0);
    }
  });

  it('a patch that changes nothing writes nothing (a retyped scalar is no change)', async () => {
    const port = new FakePort(base);
    const res = await call(port, 'PATCH', '/config', { ttl: '30' });
    assert.equal(res.statusCode, 200);
    assert.equal(port.configWrites.length, 0);
  });

  it('refuses an empty patch', async () => {
    const res = await call(new FakePort(base), 'PATCH', '/config', {});
    assert.equal(res.statusCode, 400);
  });

  it('PUT replaces the configuration with a plain write and echoes it', async () => {
    const port = new FakePort(base);
    const res = await call(port, 'PUT', '/config', { ttl: 20, loop_wait: 2, retry_timeout: 3 });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(port.configWrites, [{ value: { ttl: 20, loop_wait: 2, retry_timeout: 3 }, rev: undefined }]);
  });

  it('PUT refuses an invalid configuration', async () => {
    const port = new FakePort(base);
    const res = await call(port, 'PUT', '/config', { ttl: 5, loop_wait: 10 });
    assert.equal(res.statusCode, 400);
    assert.equal(port.configWrites.length, 0);
  });
});

describe('POST /failsafe', () => {
  const body = { name: 'n1', conn_url: 'postgres://127.0.0.1:5432/postgres', api_url: 'http://127.0.0.1:8008/patroni', slots: { n2: 1 } };

  it('a replica in failsafe mode accepts the leader and remembers it', async () => {
    const port = new FakePort();
    const res = await call(port, 'POST', '/failsafe', body, { ...replicaView(), failsafeMode: true });
    assert.deepEqual([res.statusCode, res.body], [200, 'Accepted']);
    assert.deepEqual(port.failsafeFrom, [{ name: 'n1', conn_url: body.conn_url, api_url: body.api_url }]);
    await call(port, 'POST', '/failsafe', { name: 'n3', conn_url: 7 }, { ...replicaView(), failsafeMode: true });
    assert.deepEqual(port.failsafeFrom[1], { name: 'n3', conn_url: '', api_url: '' }, 'a URL that is not a string is left empty');
  });

  it('refuses when failsafe mode is off (502), on a running primary (500), and a body without a name (400)', async () => {
    const port = new FakePort();
    assert.equal((await call(port, 'POST', '/failsafe', body, { ...replicaView(), failsafeMode: false })).statusCode, 502);
    const primary = await call(port, 'POST', '/failsafe', body, { failsafeMode: true });
    assert.deepEqual([primary.statusCode, primary.body], [500, 'Running as a leader']);
    assert.equal((await call(port, 'POST', '/failsafe', { conn_url: 'x' }, { ...replicaView(), failsafeMode: true })).statusCode, 400);
    assert.deepEqual(port.failsafeFrom, []);
  });
});
