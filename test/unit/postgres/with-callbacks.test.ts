import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PgStatus } from '../../../src/domain/pg-status.js';
import { Callbacks } from '../../../src/events/callbacks.js';
import type { ClusterEventDocument } from '../../../src/events/document.js';
import type { Postgres, StartMode } from '../../../src/postgres/port.js';
import { PostgresWithCallbacks } from '../../../src/postgres/with-callbacks.js';
import { memoryLogger, snap } from '../events/helpers.js';
import { RecordingRunner } from '../events/helpers.js';

/** The few port methods the decorator adds behaviour to; `fail` makes the next action reject. */
class StubPg {
  alive = false;
  inRecovery = true;
  fail = false;
  private act(): Promise<void> {
    if (this.fail) return Promise.reject(new Error('pg_ctl failed'));
    return Promise.resolve();
  }
  postmasterAlive(): boolean {
    return this.alive;
  }
  probe(): Promise<PgStatus> {
    if (!this.alive) return Promise.resolve({ running: false, postmasterAlive: false, dataDirInitialized: true, systemIdentifier: null, controlState: null, timeline: null });
    return Promise.resolve({ running: true, dataDirInitialized: true, systemIdentifier: '1', inRecovery: this.inRecovery, timeline: 1 } as PgStatus);
  }
  async start(mode: StartMode): Promise<void> {
    await this.act();
    this.alive = true;
    this.inRecovery = mode.role === 'replica';
  }
  async stop(): Promise<void> {
    await this.act();
    this.alive = false;
  }
  restart(): Promise<void> {
    return this.act();
  }
  reload(): Promise<void> {
    return this.act();
  }
  async promote(): Promise<void> {
    await this.act();
    this.inRecovery = false;
  }
}

const CALLBACKS = { on_start: '/cb', on_stop: '/cb', on_restart: '/cb', on_reload: '/cb', on_role_change: '/cb' };
const REPLICA: StartMode = { role: 'replica', upstream: null, slotName: null };

function setup() {
  const runner = new RecordingRunner();
  const stub = new StubPg();
  const callbacks = new Callbacks(runner, memoryLogger(), { callbacks: CALLBACKS, scope: 'batman', timeoutSeconds: 5 });
  // The stub implements only what the decorator calls; the rest of the port is never reached here.
  const pg = new PostgresWithCallbacks(stub as unknown as Postgres, callbacks, { name: 'n2', scope: 'batman', cluster: () => Promise.resolve(snap('n1', { n1: {}, n2: {} })) });
  /** The callbacks submitted so far (documents are built in the background: let them settle). */
  const fired = async () => {
    await new Promise((r) => setImmediate(r));
    return runner.jobs.map((j) => j.argv.slice(1).join(' '));
  };
  return { runner, stub, pg, fired };
}

describe('PostgresWithCallbacks', () => {
  it('fires Patroni-style arguments and a document naming this member after each successful action', async () => {
    const { runner, pg, fired } = setup();
    await pg.start(REPLICA, 1000);
    await pg.reload();
    await pg.restart(1000);
    await pg.promote(1000);
    await pg.stop('fast', 1000);
    assert.deepEqual(await fired(), [
      'on_start replica batman',
      'on_reload replica batman',
      'on_restart replica batman',
      'on_role_change primary batman',
      'on_stop primary batman',
    ]);
    const doc = JSON.parse(runner.jobs[4]!.stdin) as ClusterEventDocument;
    assert.deepEqual([doc.event, doc.member, doc.leader?.name], ['on_stop', { name: 'n2', role: 'primary', state: 'stopped' }, 'n1']);
    assert.equal(runner.jobs[0]!.timeoutMs, 5000);
  });

  it('reports a former primary started as a replica as a role change, not a start', async () => {
    const { stub, pg, fired } = setup();
    stub.alive = true;
    stub.inRecovery = false;
    await pg.probe();
    await pg.stop('fast', 1000);
    await pg.start(REPLICA, 1000);
    await pg.start({ role: 'primary' }, 1000).catch(() => undefined);
    assert.deepEqual(await fired(), ['on_stop primary batman', 'on_role_change replica batman', 'on_start primary batman']);
  });

  it('fires nothing for a failed action, a stop or reload of a stopped server, or a promotion of a primary', async () => {
    const { stub, pg, fired } = setup();
    await pg.stop('fast', 1000);
    await pg.reload();
    stub.fail = true;
    await assert.rejects(pg.start(REPLICA, 1000));
    stub.fail = false;
    await pg.start({ role: 'primary' }, 1000);
    await pg.promote(1000);
    assert.deepEqual(await fired(), ['on_start primary batman']);
  });
});
