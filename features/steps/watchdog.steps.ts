import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Given, Then, When } from '@cucumber/cucumber';
import { TIMING } from '../support/node.js';
import { sleep, waitFor } from '../support/poll.js';
import { query } from '../support/sql.js';
import type { PgWorld } from '../support/world.js';
import { Writer } from '../support/writer.js';

function portOf(world: PgWorld, name: string): number {
  return world.cluster.node(world.resolveName(name)).spec.pgPort;
}

When("a prober writes directly to every node's PostgreSQL every {int} ms", async function (this: PgWorld, everyMs: number) {
  const c = this.cluster;
  for (const node of c.nodes.values()) {
    const table = `probe_${node.name}`;
    await query(c.haproxyPrimary(), `CREATE TABLE IF NOT EXISTS ${table} (id int PRIMARY KEY)`);
    this.probers.push(new Writer(node.pg, table, everyMs));
  }
});

When('I freeze the agent of {node} for {int} seconds', function (this: PgWorld, name: string, seconds: number) {
  const node = this.cluster.node(this.resolveName(name));
  node.freezeAgent();
  this.faultAt = Date.now();
  this.note(`agent of ${node.name} (pid ${String(node.agentPid)}) frozen with SIGSTOP for ${seconds} s`);
  this.thawed = sleep(seconds * 1000).then(() => {
    node.thawAgent();
    this.note(`agent of ${node.name} resumed with SIGCONT ${this.sinceFault()}`);
  });
});

Then('another node than {node} holds the leader key within {int} seconds of the freeze', async function (this: PgWorld, name: string, seconds: number) {
  const old = this.resolveName(name);
  const left = Math.max(0.1, seconds - (Date.now() - this.faultAt) / 1000);
  const holder = await waitFor(left, `another node than ${old} holds the leader key`, async () => {
    const h = await this.cluster.view().leader();
    return h !== null && h !== old ? h : undefined;
  }, 100);
  this.note(`${holder} holds the leader key ${this.sinceFault()}`);
});

When('the agent of {node} has been resumed', async function (this: PgWorld, _name: string) {
  assert.ok(this.thawed, 'no agent was frozen');
  await this.thawed;
});

When('the writer and the probers stop', async function (this: PgWorld) {
  await Promise.all([this.writer?.stop(), ...this.probers.map((p) => p.stop())]);
  const w = this.writer;
  if (w) this.note(`writer: ${w.acks.length} acknowledged writes, longest gap ${w.longestGapMs()} ms`);
  this.note(`probers: ${this.probers.map((p) => `${p.table} ${p.acks.length} acks`).join(', ')}`);
});

/**
 * The fence fired before the lease could end. The last renewal came at most `loop_wait` (plus a
 * cycle) before the freeze, so the lease ended no earlier than freeze + ttl − loop_wait − 0.5 s;
 * the old primary's last acknowledged write must come before that, with `margin` to spare.
 */
Then('{node} acknowledged its last write at least {int} second(s) before its lease could end', function (this: PgWorld, name: string, margin: number) {
  const port = portOf(this, name);
  const mine = this.allAcks().filter((a) => a.port === port);
  assert.ok(mine.length > 0, `${name} acknowledged no write at all`);
  const last = mine[mine.length - 1]!.at - this.faultAt;
  const earliestLeaseEnd = (TIMING.ttl - TIMING.loop_wait - 0.5) * 1000;
  this.note(`${name}: last acknowledged write ${(last / 1000).toFixed(2)} s after the fault; its lease ended ${(earliestLeaseEnd / 1000).toFixed(1)}–${TIMING.ttl} s after it (margin at least ${((earliestLeaseEnd - last) / 1000).toFixed(2)} s)`);
  assert.ok(last <= earliestLeaseEnd - margin * 1000, `${name} acknowledged a write ${last} ms after the fault; its lease may have ended at ${earliestLeaseEnd} ms`);
});

/** Every acknowledgement by `old` comes before the first one by `fresh`: never two writable primaries. */
Then('no acknowledged writes of {node} and {node} interleave', function (this: PgWorld, old: string, fresh: string) {
  const acks = this.allAcks();
  const oldPort = portOf(this, old);
  const newPort = portOf(this, fresh);
  const lastOld = acks.filter((a) => a.port === oldPort).at(-1);
  const firstNew = acks.find((a) => a.port === newPort);
  assert.ok(lastOld && firstNew, `need acknowledgements from both (${old}: ${String(lastOld?.at)}, ${fresh}: ${String(firstNew?.at)})`);
  const gap = firstNew.at - lastOld.at;
  this.note(`write gap between ${this.resolveName(old)}'s last and ${this.resolveName(fresh)}'s first acknowledged write: ${(gap / 1000).toFixed(2)} s (${(lastOld.at - this.faultAt) / 1000} s → ${(firstNew.at - this.faultAt) / 1000} s after the fault)`);
  assert.ok(gap > 0, `${this.resolveName(old)} acknowledged a write ${-gap} ms after ${this.resolveName(fresh)}'s first`);
});

Then('every row the probers got acknowledged is on {node}', async function (this: PgWorld, name: string) {
  const node = this.cluster.node(this.resolveName(name));
  let total = 0;
  for (const p of this.probers) {
    const lost = (await p.missingOn(node.pg)).map((a) => a.id);
    assert.deepEqual(lost, [], `${lost.length} of ${p.acks.length} acknowledged writes to ${p.table} are missing on ${node.name}`);
    total += p.acks.length;
  }
  this.note(`all ${total} acknowledged prober writes are on ${node.name}`);
});

Then("the writer's longest gap stays under {int} ms", function (this: PgWorld, ms: number) {
  assert.ok(this.writer, 'no writer ran');
  assert.ok(this.writer.longestGapMs() < ms, `longest gap ${this.writer.longestGapMs()} ms`);
});

Then('the agent of {node} logged {string}', async function (this: PgWorld, name: string, text: string) {
  const node = this.cluster.node(this.resolveName(name));
  await waitFor(5, `${node.name}.log contains "${text}"`, async () => readFileSync(node.logPath, 'utf8').includes(text), 200);
});

/** A regular file stands in for /dev/watchdog: it collects `1` per keepalive and `V` on close. */
function watchdogFile(world: PgWorld, name: string): string {
  return join(world.cluster.dir, `watchdog-${world.resolveName(name)}`);
}

Given('{node} requires the watchdog device file', function (this: PgWorld, name: string) {
  const file = watchdogFile(this, name);
  writeFileSync(file, '');
  this.cluster.configureNode(this.resolveName(name), { watchdog: { mode: 'required', device: file } });
});

Given('{node} requires a watchdog device that does not exist', function (this: PgWorld, name: string) {
  this.cluster.configureNode(this.resolveName(name), { watchdog: { mode: 'required', device: join(this.cluster.dir, 'no-such-watchdog') } });
});

Then('the watchdog file of {node} receives keepalives', async function (this: PgWorld, name: string) {
  const file = watchdogFile(this, name);
  const before = readFileSync(file, 'utf8').length;
  await waitFor(10, `${file} grows by at least two keepalives and stays open`, async () => {
    const now = readFileSync(file, 'utf8');
    return now.length >= before + 2 && /11$/.test(now);
  }, 200);
  this.note(`${file}: ${readFileSync(file, 'utf8').length} keepalives so far`);
});

Then('the watchdog file of {node} ends with a magic close within {int} seconds', async function (this: PgWorld, name: string, seconds: number) {
  const file = watchdogFile(this, name);
  await waitFor(seconds, `${file} ends with V`, async () => readFileSync(file, 'utf8').endsWith('V'), 200);
});
