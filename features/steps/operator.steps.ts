import assert from 'node:assert/strict';
import { Then, When } from '@cucumber/cucumber';
import { CREDENTIALS } from '../support/node.js';
import { holdsFor, waitFor } from '../support/poll.js';
import { patroniStatus, rest, type RestAnswer } from '../support/rest.js';
import { insertRow, query } from '../support/sql.js';
import type { PgWorld } from '../support/world.js';
import { Writer } from '../support/writer.js';

const AUTH = { ...CREDENTIALS.restapi };

/** Parses the JSON a step wrote inline (`{}` included). */
function jsonArg(text: string): Record<string, unknown> {
  const parsed = JSON.parse(text) as unknown;
  assert.ok(typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed), `not a JSON object: ${text}`);
  return parsed as Record<string, unknown>;
}

async function send(world: PgWorld, method: string, path: string, name: string, body: Record<string, unknown>): Promise<void> {
  const node = world.cluster.node(world.resolveName(name));
  const started = Date.now();
  world.answer = await rest(node.restApi, method, path, { auth: AUTH, body, timeoutMs: 90_000 });
  world.note(`${method} ${path} on ${node.name} ${JSON.stringify(body)} → ${world.answer.status} ${world.answer.body || world.answer.error || ''} (${Date.now() - started} ms)`);
}

When(/^I send (POST|PATCH|PUT|DELETE) (\/\S+) to (postgres\d) with (.+)$/, async function (this: PgWorld, method: string, path: string, name: string, body: string) {
  await send(this, method, path, name, jsonArg(body));
});

When(/^I send (POST) (\/\S+) to (postgres\d) scheduled (\d+) seconds from now with (.+)$/, async function (this: PgWorld, method: string, path: string, name: string, seconds: string, body: string) {
  const field = path === '/restart' ? 'schedule' : 'scheduled_at';
  const when = new Date(Date.now() + Number(seconds) * 1000).toISOString();
  await send(this, method, path, name, { ...jsonArg(body), [field]: when });
});

function lastAnswer(world: PgWorld): RestAnswer {
  assert.ok(world.answer, 'no request was sent yet');
  return world.answer;
}

Then('the answer is {int} {string}', function (this: PgWorld, status: number, text: string) {
  const a = lastAnswer(this);
  assert.equal(a.status, status, `answer: ${a.status} ${a.body} ${a.error ?? ''}`);
  assert.equal(a.body, text);
});

Then('the answer is {int}', function (this: PgWorld, status: number) {
  const a = lastAnswer(this);
  assert.equal(a.status, status, `answer: ${a.status} ${a.body} ${a.error ?? ''}`);
});

When('a writer inserts a row through haproxy every {int} ms', async function (this: PgWorld, everyMs: number) {
  const target = this.cluster.haproxyPrimary();
  await query(target, 'CREATE TABLE IF NOT EXISTS writer_check (id int PRIMARY KEY)');
  this.writer = new Writer(target, 'writer_check', everyMs);
  await waitFor(10, 'the writer gets its first acknowledgement', async () => this.writer!.acks.length > 0, 100);
});

Then("the writer's rows land on {node} within {int} seconds", async function (this: PgWorld, name: string, seconds: number) {
  const node = this.cluster.node(this.resolveName(name));
  const w = this.writer;
  assert.ok(w, 'no writer is running');
  await waitFor(seconds, `a write through haproxy is acknowledged by ${node.name}`, async () => w.acks.some((a) => a.port === node.spec.pgPort), 100);
});

When('the writer stops', async function (this: PgWorld) {
  assert.ok(this.writer, 'no writer is running');
  await this.writer.stop();
  this.note(`writer: ${this.writer.acks.length} acknowledged writes, longest gap between two of them ${this.writer.longestGapMs()} ms`);
});

Then('every row the writer got acknowledged is on {node}', async function (this: PgWorld, name: string) {
  const node = this.cluster.node(this.resolveName(name));
  const w = this.writer;
  assert.ok(w, 'no writer ran');
  const lostAcks = await w.missingOn(node.pg);
  const lost = lostAcks.map((a) => a.id);
  const which = lostAcks.map((a) => `id ${a.id} acknowledged by port ${a.port} at ${new Date(a.at).toISOString()}`).join('; ');
  assert.deepEqual(lost, [], `${lost.length} of ${w.acks.length} acknowledged writes are missing on ${node.name} (port ${node.spec.pgPort}): ${which}`);
  this.note(`all ${w.acks.length} acknowledged writes are on ${node.name}`);
});

Then('GET \\/cluster on {node} shows a scheduled switchover to {node}', async function (this: PgWorld, name: string, to: string) {
  const node = this.cluster.node(this.resolveName(name));
  await waitFor(5, `GET /cluster on ${node.name} shows scheduled_switchover to ${to}`, async () => {
    const r = await rest(node.restApi, 'GET', '/cluster');
    const body = JSON.parse(r.body) as { scheduled_switchover?: { to?: string } };
    if (body.scheduled_switchover?.to !== to) throw new Error(`scheduled_switchover: ${JSON.stringify(body.scheduled_switchover)}`);
    return true;
  }, 250);
});

Then('the failover key is empty within {int} seconds', async function (this: PgWorld, seconds: number) {
  await waitFor(seconds, 'the failover key is {} or absent', async () => {
    const v = await this.cluster.view().get('failover');
    if (v !== null && v !== '{}') throw new Error(`failover = ${v}`);
    return true;
  });
});

async function postmasterStart(world: PgWorld, name: string): Promise<string> {
  const node = world.cluster.node(world.resolveName(name));
  const rows = await query<{ t: string }>(node.pg, 'SELECT pg_postmaster_start_time()::text AS t');
  return rows[0]!.t;
}

When('I remember the postmaster start time of {node}', async function (this: PgWorld, name: string) {
  this.startTimes.set(this.resolveName(name), await postmasterStart(this, name));
});

Then('the postmaster of {node} has restarted within {int} seconds', async function (this: PgWorld, name: string, seconds: number) {
  const before = this.startTimes.get(this.resolveName(name));
  assert.ok(before, `no start time of ${name} remembered`);
  const after = await waitFor(seconds, `${name}'s postmaster start time changes from ${before}`, async () => {
    const t = await postmasterStart(this, name);
    return t !== before ? t : undefined;
  });
  this.note(`${name}'s postmaster restarted: ${before} → ${after}`);
});

async function patroniField(world: PgWorld, name: string, field: string): Promise<unknown> {
  const s = await patroniStatus(world.cluster.node(world.resolveName(name)).restApi);
  if (s === null) throw new Error(`GET /patroni on ${name} did not answer`);
  return s[field];
}

Then('GET \\/patroni on {node} shows {word} within {int} seconds', async function (this: PgWorld, name: string, field: string, seconds: number) {
  await waitFor(seconds, `GET /patroni on ${name} has ${field}`, async () => (await patroniField(this, name, field)) !== undefined, 250);
});

Then('GET \\/patroni on {node} shows no {word} within {int} seconds', async function (this: PgWorld, name: string, field: string, seconds: number) {
  await waitFor(seconds, `GET /patroni on ${name} has no ${field}`, async () => (await patroniField(this, name, field)) === undefined, 250);
});

Then('the leader lease of {node} has more than {int} seconds left within {int} seconds', async function (this: PgWorld, name: string, min: number, seconds: number) {
  const left = await waitFor(seconds, `${name}'s leader lease shows more than ${min} s left`, async () => {
    const pw = (await patroniField(this, name, 'pgwarden')) as { leader_lease_seconds_left: number | null } | undefined;
    const l = pw?.leader_lease_seconds_left ?? null;
    if (l === null || l <= min) throw new Error(`leader_lease_seconds_left = ${String(l)}`);
    return l;
  }, 250);
  this.note(`${name}'s lease has ${left} s left after the ttl change`);
});

Then('{node} runs with max_connections {int}', async function (this: PgWorld, name: string, expected: number) {
  const rows = await query<{ max_connections: string }>(this.cluster.node(this.resolveName(name)).pg, 'SHOW max_connections');
  assert.equal(Number(rows[0]!.max_connections), expected);
});

async function config(world: PgWorld): Promise<Record<string, unknown>> {
  const v = await world.cluster.view().get('config');
  assert.ok(v !== null, 'no config key');
  return JSON.parse(v) as Record<string, unknown>;
}

Then('the config key has {word} {int}', async function (this: PgWorld, key: string, value: number) {
  assert.equal((await config(this))[key], value);
});

When('I send {int} concurrent PATCH \\/config requests with different work_mem values', async function (this: PgWorld, count: number) {
  const nodes = [...this.cluster.nodes.values()];
  this.concurrent = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const value = `${i + 1}MB`;
      const node = nodes[i % nodes.length]!;
      const answer = await rest(node.restApi, 'PATCH', '/config', { auth: AUTH, body: { postgresql: { parameters: { work_mem: value } } }, timeoutMs: 10_000 });
      return { answer, value };
    }),
  );
  const codes = this.concurrent.map((c) => c.answer.status);
  this.note(`answers: ${codes.filter((c) => c === 200).length} × 200, ${codes.filter((c) => c === 409).length} × 409, others ${codes.filter((c) => c !== 200 && c !== 409).join(',') || 'none'}`);
});

Then('every concurrent answer is 200 or 409, at least one is 409, and the config key holds a value answered 200', async function (this: PgWorld) {
  const odd = this.concurrent.filter((c) => c.answer.status !== 200 && c.answer.status !== 409);
  assert.deepEqual(odd.map((c) => `${c.answer.status} ${c.answer.body}`), []);
  assert.ok(this.concurrent.some((c) => c.answer.status === 409), 'no request was refused with 409');
  const cfg = await config(this);
  const workMem = ((cfg['postgresql'] as Record<string, unknown>)['parameters'] as Record<string, unknown>)['work_mem'];
  const accepted = this.concurrent.filter((c) => c.answer.status === 200).map((c) => c.value);
  assert.ok(accepted.includes(String(workMem)), `config work_mem ${String(workMem)} was not set by an accepted request (${accepted.join(', ')})`);
});

async function membersPaused(world: PgWorld): Promise<boolean[]> {
  const names = [...world.cluster.nodes.keys()];
  return Promise.all(names.map(async (n) => (await world.cluster.view().member(n))?.['pause'] === true));
}

Then('every member key shows pause within {int} seconds', async function (this: PgWorld, seconds: number) {
  await waitFor(seconds, 'every member key has pause: true', async () => (await membersPaused(this)).every(Boolean));
});

Then('no member key shows pause within {int} seconds', async function (this: PgWorld, seconds: number) {
  await waitFor(seconds, 'no member key has pause', async () => !(await membersPaused(this)).some(Boolean));
});

Then('the PostgreSQL of {node} stays down for {int} seconds', async function (this: PgWorld, name: string, seconds: number) {
  const node = this.cluster.node(this.resolveName(name));
  await holdsFor(seconds, `${node.name}'s PostgreSQL stays stopped`, async () => {
    const pid = node.postmasterPid();
    if (pid !== null) throw new Error(`postmaster ${pid} is running`);
  });
});

Then('{node} still accepts writes', async function (this: PgWorld, name: string) {
  await insertRow(this.cluster.node(this.resolveName(name)).pg, 'pause_check', `still writable ${Date.now()}`);
});

/** Everything a write request could change: keys in etcd and each server's start time. */
async function clusterState(world: PgWorld): Promise<string> {
  const view = world.cluster.view();
  const state: Record<string, unknown> = {
    leader: await view.leader(),
    config: await view.get('config'),
    failover: await view.get('failover'),
  };
  for (const node of world.cluster.nodes.values()) state[`${node.name} started`] = await postmasterStart(world, node.name);
  return JSON.stringify(state, null, 1);
}

When('I remember the state of the cluster', async function (this: PgWorld) {
  this.rememberedState = await clusterState(this);
});

const WRITES: [string, string, unknown][] = [
  ['POST', '/switchover', { leader: 'postgres0', candidate: 'postgres1' }],
  ['POST', '/failover', { candidate: 'postgres1' }],
  ['DELETE', '/switchover', undefined],
  ['POST', '/restart', {}],
  ['DELETE', '/restart', undefined],
  ['POST', '/reinitialize', { force: true }],
  ['PATCH', '/config', { ttl: 20, pause: true }],
  ['PUT', '/config', { ttl: 20, loop_wait: 2, retry_timeout: 3 }],
  ['POST', '/reload', undefined],
];

Then('every write endpoint of {node} answers 401 without credentials and with wrong ones', async function (this: PgWorld, name: string) {
  const node = this.cluster.node(this.resolveName(name));
  const problems: string[] = [];
  for (const [method, path, body] of WRITES) {
    for (const auth of [undefined, { username: AUTH.username, password: 'wrong' }]) {
      const r = await rest(node.restApi, method, path, { ...(auth ? { auth } : {}), ...(body === undefined ? {} : { body }) });
      if (r.status !== 401) problems.push(`${method} ${path} ${auth ? 'wrong' : 'no'} credentials: ${r.status} ${r.body}`);
    }
  }
  assert.deepEqual(problems, []);
});

Then('the state of the cluster is unchanged', async function (this: PgWorld) {
  assert.ok(this.rememberedState, 'no state remembered');
  assert.equal(await clusterState(this), this.rememberedState);
});
