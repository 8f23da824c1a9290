import assert from 'node:assert/strict';
import { Given, Then, When } from '@cucumber/cucumber';
import { waitFor } from '../support/poll.js';
import { query } from '../support/sql.js';
import { ackRuns, overlappingWriters } from '../support/writer.js';
import type { PgWorld } from '../support/world.js';

Given('the cluster runs on a test network', async function (this: PgWorld) {
  await this.cluster.useTestNetwork();
});

When('I cut {node} off from etcd', function (this: PgWorld, name: string) {
  const node = this.resolveName(name);
  this.faultAt = Date.now();
  this.cluster.net().partition(node, 'etcd');
  this.note(`${node} cut off from etcd (blackhole routes both ways)`);
});

When('I cut {node} off from the other nodes', function (this: PgWorld, name: string) {
  const node = this.resolveName(name);
  const others = [...this.cluster.nodes.keys()].filter((n) => n !== node);
  this.faultAt = Date.now();
  for (const other of others) this.cluster.net().partition(node, other);
  this.note(`${node} cut off from ${others.join(', ')}`);
});

When('I isolate {node} from etcd and the other nodes', function (this: PgWorld, name: string) {
  const node = this.resolveName(name);
  const others = [...this.cluster.nodes.keys()].filter((n) => n !== node);
  this.faultAt = Date.now();
  for (const other of ['etcd', ...others]) this.cluster.net().partition(node, other);
  this.note(`${node} cut off from etcd and ${others.join(', ')} (haproxy and the test's clients still reach it)`);
});

When('I heal the network', function (this: PgWorld) {
  const cuts = this.cluster.net().partitions;
  this.cluster.net().healAll();
  this.note(`network healed (${cuts.join(', ') || 'no cuts'}) ${this.sinceFault()}`);
});

When('I restart etcd', async function (this: PgWorld) {
  this.faultAt = Date.now();
  await this.cluster.restartEtcd();
  this.note(`etcd restarted on its data directory in ${((Date.now() - this.faultAt) / 1000).toFixed(1)} s`);
});

/** Over the writer's and the probers' acknowledgements: one server at a time took writes. */
Then('no two nodes took writes at overlapping times', function (this: PgWorld) {
  const acks = this.allAcks();
  assert.ok(acks.length > 0, 'no write was acknowledged at all');
  const names = new Map([...this.cluster.nodes.values()].map((n) => [n.spec.pgPort, n.name]));
  const t0 = this.faultAt || acks[0]!.at;
  const runs = ackRuns(acks).map((r) => `${names.get(r.port) ?? r.port} ${r.count} writes ${((r.first - t0) / 1000).toFixed(2)}–${((r.last - t0) / 1000).toFixed(2)} s`);
  this.note(`writes by server, relative to the fault: ${runs.join('; ')}`);
  assert.deepEqual(overlappingWriters(acks, t0), []);
});

Then('table writer_check has every acknowledged row on {node} within {int} seconds', async function (this: PgWorld, name: string, seconds: number) {
  const node = this.cluster.node(this.resolveName(name));
  const w = this.writer;
  assert.ok(w, 'no writer ran');
  await waitFor(seconds, `every acknowledged row of ${w.table} is on ${node.name}`, async () => {
    const lost = await w.missingOn(node.pg);
    if (lost.length > 0) throw new Error(`${lost.length} of ${w.acks.length} missing, e.g. id ${lost[0]!.id}`);
    return true;
  }, 500);
  this.note(`all ${w.acks.length} acknowledged rows are on ${node.name}`);
});
