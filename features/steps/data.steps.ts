import { Then, When } from '@cucumber/cucumber';
import { holdsFor, waitFor } from '../support/poll.js';
import { hasRow, insertRow, type PgTarget } from '../support/sql.js';
import type { PgWorld } from '../support/world.js';

When('I write {string} into table {word} on {node}', async function (this: PgWorld, value: string, table: string, name: string) {
  await insertRow(this.cluster.node(this.resolveName(name)).pg, table, value);
});

When('I write {string} into table {word} through haproxy', async function (this: PgWorld, value: string, table: string) {
  await insertRow(this.cluster.haproxyPrimary(), table, value);
});

Then('a write of {string} into table {word} through haproxy succeeds within {int} seconds', async function (this: PgWorld, value: string, table: string, seconds: number) {
  await waitFor(seconds, `a write through haproxy's primary port succeeds`, async () => {
    await insertRow(this.cluster.haproxyPrimary(), table, value);
    return true;
  }, 250);
  this.note(`write through haproxy succeeded ${this.sinceFault()}`);
});

Then('table {word} contains {string} on {node} within {int} seconds', async function (this: PgWorld, table: string, value: string, name: string, seconds: number) {
  const node = this.cluster.node(this.resolveName(name));
  await waitFor(seconds, `${table} on ${node.name} has a row "${value}"`, () => hasRow(node.pg, table, value));
});

Then('table {word} contains {string} on every node within {int} seconds', async function (this: PgWorld, table: string, value: string, seconds: number) {
  for (const node of this.cluster.nodes.values()) {
    await waitFor(seconds, `${table} on ${node.name} has a row "${value}"`, () => hasRow(node.pg, table, value));
  }
});

/** Resolves "refused" (with the reason) when a write does not succeed; rejects if it does. */
async function writeIsRefused(target: PgTarget, who: string): Promise<string> {
  try {
    await insertRow(target, 'fencing_probe', `probe-${Date.now()}`);
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  throw new Error(`${who} accepted a write`);
}

Then('{node} refuses writes within {int} seconds', async function (this: PgWorld, name: string, seconds: number) {
  const node = this.cluster.node(this.resolveName(name));
  const reason = await waitFor(seconds, `${node.name} refuses writes`, () => writeIsRefused(node.pg, node.name), 250);
  this.note(`${node.name} refuses writes ${this.sinceFault()}: ${reason}`);
});

Then('no node accepts writes until {int} seconds after the fault', async function (this: PgWorld, seconds: number) {
  const nodes = [...this.cluster.nodes.values()];
  const left = (this.faultAt + seconds * 1000 - Date.now()) / 1000;
  if (left <= 0) throw new Error(`already ${this.sinceFault()}`);
  await holdsFor(left, 'every node refusing writes', async () => {
    for (const node of nodes) await writeIsRefused(node.pg, node.name);
  }, 250);
  this.note(`no node accepted a write until ${this.sinceFault()}`);
});

Then('{node} accepts writes within {int} seconds', async function (this: PgWorld, name: string, seconds: number) {
  const node = this.cluster.node(this.resolveName(name));
  await waitFor(seconds, `${node.name} accepts a write`, async () => {
    await insertRow(node.pg, 'recovery_probe', `probe-${Date.now()}`);
    return true;
  }, 250);
  this.note(`${node.name} accepts writes ${this.sinceFault()}`);
});
