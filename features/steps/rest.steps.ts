import assert from 'node:assert/strict';
import { Given, Then, type DataTable } from '@cucumber/cucumber';
import { CREDENTIALS } from '../support/node.js';
import { waitFor } from '../support/poll.js';
import { patroniStatus, rest } from '../support/rest.js';
import type { PgWorld } from '../support/world.js';

/**
 * Table columns: method, path, then one column per node with the expected status code. Every
 * mismatch is collected, so one run shows the whole picture.
 */
Then('the REST API answers:', async function (this: PgWorld, table: DataTable) {
  const rows = table.hashes();
  const problems: string[] = [];
  let checked = 0;
  for (const row of rows) {
    const method = row.method ?? 'GET';
    const path = row.path ?? '/';
    for (const [column, expected] of Object.entries(row)) {
      if (column === 'method' || column === 'path') continue;
      const node = this.cluster.node(this.resolveName(column));
      const r = await rest(node.restApi, method, path);
      checked++;
      if (r.status !== Number(expected)) {
        problems.push(`${method} ${path} on ${node.name}: expected ${expected}, got ${r.status || r.error}`);
      }
    }
  }
  assert.deepEqual(problems, [], `${problems.length} of ${checked} REST answers differ:\n${problems.join('\n')}`);
});

Then('GET \\/patroni on {node} reports role {word} and state {word}', async function (this: PgWorld, name: string, role: string, state: string) {
  const node = this.cluster.node(this.resolveName(name));
  const status = await waitFor(10, `GET /patroni on ${node.name} answers`, () => patroniStatus(node.restApi).then((s) => s ?? undefined));
  assert.equal(status.role, role, `GET /patroni: ${JSON.stringify(status)}`);
  assert.equal(status.state, state, `GET /patroni: ${JSON.stringify(status)}`);
  assert.ok('xlog' in status, `GET /patroni has no xlog field (peers need it): ${JSON.stringify(status)}`);
  assert.equal(typeof status.timeline, 'number', `GET /patroni timeline: ${JSON.stringify(status)}`);
});

Then('POST \\/reload on {node} without credentials answers {int} with a Basic challenge', async function (this: PgWorld, name: string, code: number) {
  const node = this.cluster.node(this.resolveName(name));
  const r = await rest(node.restApi, 'POST', '/reload');
  assert.equal(r.status, code, `POST /reload without credentials: ${r.status} ${r.body}`);
  const challenge = r.headers.get('www-authenticate') ?? '';
  assert.match(challenge, /^Basic\b/i, `WWW-Authenticate header is "${challenge}"`);
});

Then('POST \\/reload on {node} with wrong credentials answers {int}', async function (this: PgWorld, name: string, code: number) {
  const node = this.cluster.node(this.resolveName(name));
  const r = await rest(node.restApi, 'POST', '/reload', { auth: { username: CREDENTIALS.restapi.username, password: 'not-the-password' } });
  assert.equal(r.status, code, `POST /reload with a wrong password: ${r.status} ${r.body}`);
});

Then('POST \\/reload on {node} with the right credentials answers {int}', async function (this: PgWorld, name: string, code: number) {
  const node = this.cluster.node(this.resolveName(name));
  const r = await rest(node.restApi, 'POST', '/reload', { auth: { ...CREDENTIALS.restapi } });
  assert.equal(r.status, code, `POST /reload with the right credentials: ${r.status} ${r.body}`);
});

Given(
  /^the REST API of every node serves HTTPS with verify_client (none|optional|required), allowing (\S+) and the members$/,
  function (this: PgWorld, verifyClient: 'none' | 'optional' | 'required', allowed: string) {
    this.cluster.useRestTls({ verify_client: verifyClient, allowlist: allowed.split(','), allowlist_include_members: true });
  },
);

Then('every member key advertises an https api_url', async function (this: PgWorld) {
  for (const node of this.cluster.nodes.values()) {
    const member = await this.cluster.view().member(node.name);
    assert.match(String(member?.api_url), /^https:\/\/127\.0\.0\.1:\d+\/patroni$/, `members/${node.name}: ${JSON.stringify(member)}`);
  }
});

Then('GET {word} on {node} without a client certificate gets no answer', async function (this: PgWorld, path: string, name: string) {
  const node = this.cluster.node(this.resolveName(name));
  const r = await rest(node.restApi, 'GET', path, { withoutClientCert: true });
  assert.equal(r.status, 0, `GET ${path} without a client certificate answered ${r.status} ${r.body}`);
  this.note(`GET ${path} without a client certificate: ${r.error ?? ''}`);
});

Then(
  /^POST \/reload on (postgres\d) from (127\.\d+\.\d+\.\d+) with the right credentials answers (\d+)(?: "(.*)")?$/,
  async function (this: PgWorld, name: string, from: string, code: string, text: string | undefined) {
    const node = this.cluster.node(name);
    const r = await rest(node.restApi, 'POST', '/reload', { auth: { ...CREDENTIALS.restapi }, localAddress: from });
    assert.equal(r.status, Number(code), `POST /reload from ${from}: ${r.status || r.error} ${r.body}`);
    if (text !== undefined) assert.equal(r.body, text);
  },
);
