import assert from 'node:assert/strict';
import { Given, Then, When } from '@cucumber/cucumber';
import { waitFor } from '../support/poll.js';
import { rest } from '../support/rest.js';
import { queries } from '../support/sql.js';
import type { PgWorld } from '../support/world.js';

Given('the bootstrap DCS setting {word} is true', function (this: PgWorld, key: string) {
  assert.equal(this.cluster.nodes.size, 0, 'bootstrap DCS settings must be given before any node starts');
  this.cluster.dcsOverrides[key] = true;
});

/** Reads the `sync` key; records the one synchronous standby as "the new leader" for later steps. */
Then('the sync key names one synchronous standby of {node} within {int} seconds', async function (this: PgWorld, leader: string, seconds: number) {
  const sync = await waitFor(seconds, 'the sync key names a synchronous standby', async () => {
    const raw = await this.cluster.view().get('sync');
    if (raw === null) return undefined;
    const v = JSON.parse(raw) as { leader?: string; sync_standby?: string | null };
    return v.leader === this.resolveName(leader) && typeof v.sync_standby === 'string' && v.sync_standby !== '' && !v.sync_standby.includes(',') ? v.sync_standby : undefined;
  }, 250);
  this.newLeader = sync;
  this.note(`sync key: leader ${leader}, synchronous standby ${sync}`);
});

Then('\\/sync and \\/async tell the synchronous standby from the other replicas', async function (this: PgWorld) {
  const standby = this.resolveName('the new leader');
  const leader = await this.cluster.view().leader();
  // Each node answers from its own last cycle: give them a cycle or two to see the sync key.
  await waitFor(10, 'every replica answers /sync and /async by the sync key', async () => {
    for (const node of this.cluster.nodes.values()) {
      if (node.name === leader) continue;
      const sync = await rest(node.restApi, 'GET', '/sync');
      const async_ = await rest(node.restApi, 'GET', '/async');
      const expected = node.name === standby ? [200, 503] : [503, 200];
      if (sync.status !== expected[0] || async_.status !== expected[1]) throw new Error(`${node.name}: GET /sync ${sync.status}, GET /async ${async_.status}`);
    }
    return true;
  }, 250);
});

When('I start a write on {node} that needs a synchronous standby', function (this: PgWorld, name: string) {
  const node = this.cluster.node(this.resolveName(name));
  const started = Date.now();
  // -1: the write failed (the step that waits for it says so).
  const done = queries(node.pg, [['CREATE TABLE IF NOT EXISTS strict_check (at timestamptz DEFAULT now())', []], ['INSERT INTO strict_check DEFAULT VALUES', []]], 90_000)
    .then(() => Date.now() - started)
    .catch(() => -1);
  this.pendingWrite = { started, done, settled: null };
  void done.then((ms) => {
    if (this.pendingWrite) this.pendingWrite.settled = ms;
  });
});

Then('the write is still waiting after {int} seconds', async function (this: PgWorld, seconds: number) {
  const w = this.pendingWrite;
  assert.ok(w, 'no write was started');
  await new Promise((r) => setTimeout(r, seconds * 1000));
  assert.equal(w.settled, null, `the write completed after ${String(w.settled)} ms without a synchronous standby`);
  this.note(`the write still waits ${((Date.now() - w.started) / 1000).toFixed(1)} s after it was sent`);
});

Then('the write completes within {int} seconds', async function (this: PgWorld, seconds: number) {
  const w = this.pendingWrite;
  assert.ok(w, 'no write was started');
  const ms = await waitFor(seconds, 'the waiting write completes', async () => (w.settled === null ? undefined : w.settled), 200);
  assert.ok(ms >= 0, 'the waiting write failed instead of completing');
  this.note(`the write completed ${(ms / 1000).toFixed(1)} s after it was sent`);
});
