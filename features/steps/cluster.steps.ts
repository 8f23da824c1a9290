import assert from 'node:assert/strict';
import { Given, Then, When } from '@cucumber/cucumber';
import { holdsFor, waitFor } from '../support/poll.js';
import { isInRecovery, query, timeline } from '../support/sql.js';
import type { PgWorld } from '../support/world.js';

Given('etcd is running', async function (this: PgWorld) {
  await this.cluster.startEtcd();
});

Given('the bootstrap DCS setting {word} is {int}', function (this: PgWorld, key: string, value: number) {
  assert.equal(this.cluster.nodes.size, 0, 'bootstrap DCS settings must be given before any node starts');
  this.cluster.dcsOverrides[key] = value;
});

Given('{node} is tagged {word}', function (this: PgWorld, name: string, tag: string) {
  this.cluster.configureNode(this.resolveName(name), { tags: { [tag]: true } });
});

Given('{node} is started', async function (this: PgWorld, name: string) {
  await this.cluster.node(this.resolveName(name)).start();
});

When('I start {node}', async function (this: PgWorld, name: string) {
  await this.cluster.node(this.resolveName(name)).start();
});

/** The usual starting point (see ScenarioCluster.startCluster). */
Given('a running cluster of {int} nodes', async function (this: PgWorld, count: number) {
  await this.cluster.startCluster(count);
  this.note(`cluster of ${count} nodes up: postgres0 leads`);
});

Given('haproxy is running', async function (this: PgWorld) {
  await this.cluster.startHaproxy();
});

Then('haproxy routes writes to {node} within {int} seconds', async function (this: PgWorld, name: string, seconds: number) {
  await this.cluster.waitHaproxyRoutesTo(this.resolveName(name), seconds);
});

Then('{node} is the leader within {int} seconds', async function (this: PgWorld, name: string, seconds: number) {
  const n = this.resolveName(name);
  await waitFor(seconds, `${n} is the leader`, async () => {
    await this.cluster.assertLeader(n);
    return true;
  });
  if (this.faultAt) this.note(`${n} is the leader ${this.sinceFault()}`);
});

Then('{node} is a streaming replica of {node} within {int} seconds', async function (this: PgWorld, name: string, leader: string, seconds: number) {
  const n = this.resolveName(name);
  const l = this.resolveName(leader);
  await waitFor(seconds, `${n} is a streaming replica of ${l}`, async () => {
    await this.cluster.assertStreamingReplica(n, l);
    return true;
  });
  if (this.faultAt) this.note(`${n} streams from ${l} ${this.sinceFault()}`);
});

Then('exactly one node is the leader within {int} seconds', async function (this: PgWorld, seconds: number) {
  const c = this.cluster;
  const leader = await waitFor(seconds, 'one node holds the leader key and runs the only primary', async () => {
    const holder = await c.view().leader();
    if (!holder) throw new Error('nobody holds the leader key');
    await c.assertLeader(holder);
    return holder;
  });
  this.newLeader = leader;
  this.note(`${leader} is the leader ${this.sinceFault()}`);
});

Then('a node other than {node} is the leader within {int} seconds', async function (this: PgWorld, old: string, seconds: number) {
  const c = this.cluster;
  const oldName = this.resolveName(old);
  const leader = await waitFor(seconds, `a node other than ${oldName} is the leader`, async () => {
    const holder = await c.view().leader();
    if (!holder || holder === oldName) throw new Error(`leader key held by ${holder ?? 'nobody'}`);
    await c.assertLeader(holder);
    return holder;
  }, 250);
  this.newLeader = leader;
  this.note(`${leader} is the leader ${this.sinceFault()}`);
});

Then('every other running node is a streaming replica of the new leader within {int} seconds', async function (this: PgWorld, seconds: number) {
  const c = this.cluster;
  const leader = this.resolveName('the new leader');
  for (const node of c.nodes.values()) {
    if (node.name === leader || !node.agentRunning) continue;
    await waitFor(seconds, `${node.name} is a streaming replica of ${leader}`, async () => {
      await c.assertStreamingReplica(node.name, leader);
      return true;
    });
  }
});

Then('{node} is on timeline {int}', async function (this: PgWorld, name: string, expected: number) {
  const n = this.cluster.node(this.resolveName(name));
  const tl = await waitFor(15, `${n.name} reports its timeline`, () => timeline(n.pg));
  assert.equal(tl, expected, `${n.name} is on timeline ${tl}`);
});

Then('{node} does not take the leader key during {int} seconds', async function (this: PgWorld, name: string, seconds: number) {
  const c = this.cluster;
  const n = this.resolveName(name);
  await holdsFor(seconds, `${n} not holding the leader key and staying in recovery`, async () => {
    const holder = await c.view().leader();
    if (holder === n) throw new Error(`${n} holds the leader key`);
    const recovering = await isInRecovery(c.node(n).pg).catch(() => null);
    if (recovering === false) throw new Error(`${n}'s PostgreSQL is a primary`);
  });
});

Then('nobody holds the leader key', async function (this: PgWorld) {
  const holder = await this.cluster.view().leader();
  assert.equal(holder, null, `the leader key is held by ${String(holder)}`);
});

Then('{node} is still a replica', async function (this: PgWorld, name: string) {
  const c = this.cluster;
  const n = this.resolveName(name);
  assert.equal(await isInRecovery(c.node(n).pg), true, `${n}'s PostgreSQL left recovery`);
  const member = await c.view().member(n);
  assert.ok(member, `no members/${n} key`);
  assert.equal(member.role, 'replica', `members/${n}: ${JSON.stringify(member)}`);
});
