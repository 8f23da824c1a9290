import assert from 'node:assert/strict';
import { Then, When } from '@cucumber/cucumber';
import { sleep, waitFor } from '../support/poll.js';
import { isInRecovery, queries } from '../support/sql.js';
import type { PgWorld } from '../support/world.js';

When('I kill -9 the agent and the postmaster of {node}', async function (this: PgWorld, name: string) {
  const node = this.cluster.node(this.resolveName(name));
  const postmaster = node.postmasterPid();
  assert.ok(node.agentRunning, `${node.name}'s agent is not running`);
  assert.ok(postmaster !== null, `${node.name} has no running postmaster`);
  this.faultAt = Date.now();
  await node.killAgent();
  await node.killPostmaster();
  this.note(`killed ${node.name}: agent and postmaster ${postmaster}`);
});

When('I kill -9 the agent of {node}', async function (this: PgWorld, name: string) {
  const node = this.cluster.node(this.resolveName(name));
  assert.ok(node.agentRunning, `${node.name}'s agent is not running`);
  this.faultAt = Date.now();
  await node.killAgent();
});

When('I crash the PostgreSQL of {node}', async function (this: PgWorld, name: string) {
  const node = this.cluster.node(this.resolveName(name));
  const before = node.postmasterPid();
  assert.ok(before !== null, `${node.name} has no running postmaster`);
  this.faultAt = Date.now();
  await node.crashPostgres();
  this.note(`crashed ${node.name}'s PostgreSQL (postmaster ${before}) with an immediate shutdown (SIGQUIT)`);
});

When('I stop the agent of {node} with SIGTERM', function (this: PgWorld, name: string) {
  const node = this.cluster.node(this.resolveName(name));
  assert.ok(node.agentRunning, `${node.name}'s agent is not running`);
  this.faultAt = Date.now();
  node.terminate();
});

Then('the agent of {node} exits with code {int} within {int} seconds', async function (this: PgWorld, name: string, code: number, seconds: number) {
  const node = this.cluster.node(this.resolveName(name));
  assert.ok(await node.waitAgentExit(seconds * 1000), `${node.name}'s agent still runs after ${seconds} s`);
  assert.equal(node.agentExitCode, code, `${node.name}'s agent ended with ${node.exitDescription}`);
  assert.equal(node.postmasterPid(), null, `${node.name}'s PostgreSQL still runs after its agent exited`);
});

When('I suspend etcd', function (this: PgWorld) {
  const etcd = this.cluster.etcd;
  assert.ok(etcd, 'etcd is not running');
  this.faultAt = Date.now();
  etcd.suspend();
  this.note(`etcd (pid ${etcd.pid}) suspended with SIGSTOP`);
});

When('I resume etcd', function (this: PgWorld) {
  const etcd = this.cluster.etcd;
  assert.ok(etcd, 'etcd is not running');
  etcd.resume();
  this.note(`etcd resumed with SIGCONT ${this.sinceFault()}`);
});

When('I wait {int} seconds', async function (this: PgWorld, seconds: number) {
  await sleep(seconds * 1000);
});

/**
 * After a failover: some node other than `old` holds the leader key, runs the only primary, and a
 * write through haproxy's primary port lands on it. Records it as "the new leader".
 */
Then('a new leader other than {node} accepts writes through haproxy within {int} seconds', async function (this: PgWorld, old: string, seconds: number) {
  const c = this.cluster;
  const oldName = this.resolveName(old);
  const leader = await waitFor(seconds, `another node than ${oldName} leads and takes writes through haproxy`, async () => {
    const holder = await c.view().leader();
    if (!holder || holder === oldName) throw new Error(`leader key held by ${holder ?? 'nobody'}`);
    await c.assertLeader(holder);
    const rows = await queries<{ port: number }>(c.haproxyPrimary(), [
      ['CREATE TABLE IF NOT EXISTS failover_probe (at timestamptz DEFAULT now())', []],
      ['INSERT INTO failover_probe DEFAULT VALUES', []],
      ['SELECT inet_server_port() AS port', []],
    ]);
    const port = rows[0]?.port;
    if (port !== c.node(holder).spec.pgPort) throw new Error(`haproxy sent the write to port ${String(port)}, the leader ${holder} is on ${c.node(holder).spec.pgPort}`);
    return holder;
  }, 250);
  this.newLeader = leader;
  this.note(`${leader} took over and accepts writes through haproxy ${this.sinceFault()}`);
});

Then('{node} is still the leader', async function (this: PgWorld, name: string) {
  await this.cluster.assertLeader(this.resolveName(name));
});

Then('{node} is not in recovery', async function (this: PgWorld, name: string) {
  const node = this.cluster.node(this.resolveName(name));
  assert.equal(await isInRecovery(node.pg), false);
});
