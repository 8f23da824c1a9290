import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { buildStateDocument, readStateFile, StateFileError, StateFileWriter, type StateDocument } from '../../../src/outside/state-file.js';
import { primaryFromStateFile } from '../../../src/ctl/current-primary.js';
import { cluster, leaderView, member, replicaView, WALL } from '../api/fixtures.js';
import { recordingLogger, tempDir, visible } from './helpers.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function dir(): string {
  const d = tempDir('state');
  dirs.push(d);
  return d;
}

const doc = (over: Partial<StateDocument> = {}): StateDocument => ({ ...buildStateDocument(leaderView(), { nowMs: WALL }), ...over });

describe('buildStateDocument', () => {
  it('describes this node, the leader and every member with its lag, members sorted by name', () => {
    const view = leaderView({ cluster: cluster({ members: [member('n2', 5441, { tags: { nofailover: true } }), member('n1', 5440, { role: 'primary' }), member('n3', 5442, { xlog_location: 60_000_000 })] }) });
    const lags = { n1: { bytes: 0, seconds: 0 }, n2: { bytes: 0, seconds: 0.5 }, n3: { bytes: 7_108_864, seconds: null } };
    assert.deepEqual(buildStateDocument(view, { nowMs: WALL, decidedAtMs: WALL - 250, lags, alerts: ['replication_delay_warning'] }), {
      format: 1,
      written_at: '2026-11-22T12:00:00.000Z',
      member: 'n1',
      scope: 'batman',
      role: 'primary',
      state: 'running',
      leader: 'n1',
      timeline: 1,
      dcs_last_seen: new Date(1_795_348_268_000).toISOString(),
      members: {
        n1: { role: 'primary', state: 'running', conn_url: 'postgres://127.0.0.1:5440/postgres', api_url: 'http://127.0.0.1:8008/patroni', xlog_location: 67_108_864, lag_bytes: 0, lag_seconds: 0, tags: {} },
        n2: { role: 'replica', state: 'running', conn_url: 'postgres://127.0.0.1:5441/postgres', api_url: 'http://127.0.0.1:8009/patroni', xlog_location: 67_108_864, lag_bytes: 0, lag_seconds: 0.5, tags: { nofailover: true } },
        n3: { role: 'replica', state: 'running', conn_url: 'postgres://127.0.0.1:5442/postgres', api_url: 'http://127.0.0.1:8010/patroni', xlog_location: 60_000_000, lag_bytes: 7_108_864, lag_seconds: null, tags: {} },
      },
      last_decision: { reason: 'no action: I am the leader with the lock', at: '2026-11-22T11:59:59.750Z' },
      alerts: ['replication_delay_warning'],
    });
  });

  it('computes byte lags itself when none are given', () => {
    const d = buildStateDocument(replicaView(), { nowMs: WALL });
    assert.deepEqual(Object.fromEntries(Object.entries(d.members).map(([n, m]) => [n, [m.lag_bytes, m.lag_seconds]])), { n1: [0, 0], n2: [0, null], n3: [7_108_864, null] });
    assert.equal(d.member, 'n2');
    assert.equal(d.leader, 'n1');
  });

  it('says what it does not know while etcd cannot be read: no leader, no members', () => {
    const d = buildStateDocument(replicaView({ cluster: null, dcsLastSeenEpoch: 0, pg: null }), { nowMs: WALL });
    assert.deepEqual([d.leader, d.members, d.timeline, d.dcs_last_seen, d.alerts], [null, {}, null, null, []]);
  });

  it('names the failsafe leader and its address during an etcd outage longer than ttl', () => {
    const n1 = { name: 'n1', conn_url: 'postgres://127.0.0.1:5440/postgres', api_url: 'http://127.0.0.1:8001/patroni' };
    const d = buildStateDocument(replicaView({ cluster: null, failsafeLeader: n1 }), { nowMs: WALL });
    assert.equal(d.leader, 'n1');
    assert.deepEqual(Object.keys(d.members), ['n1']);
    assert.deepEqual([d.members['n1']?.role, d.members['n1']?.conn_url, d.members['n1']?.api_url], ['primary', n1.conn_url, n1.api_url]);
    assert.equal(primaryFromStateFile(d, '/s.json').port, 5440);
    const withoutUrl = buildStateDocument(replicaView({ cluster: null, failsafeLeader: { ...n1, conn_url: '' } }), { nowMs: WALL });
    assert.deepEqual([withoutUrl.leader, withoutUrl.members], ['n1', {}]);
  });
});

describe('StateFileWriter and readStateFile', () => {
  it('writes a document that readStateFile returns unchanged, leaving no temporary file', async () => {
    const d = dir();
    const path = join(d, 'state.json');
    const log = recordingLogger();
    const writer = new StateFileWriter(path, log);
    assert.equal(await writer.write(doc()), 'written');
    assert.deepEqual(await readStateFile(path), doc());
    assert.deepEqual(readdirSync(d), ['state.json']);
    assert.deepEqual(visible(log.lines), []);
  });

  it('never exposes a partial file: a concurrent reader parses every version across 200 writes', async () => {
    const path = join(dir(), 'state.json');
    const writer = new StateFileWriter(path, recordingLogger());
    await writer.write(doc());
    // The reader runs on another thread so it really reads while the writes are in flight.
    const reader = new Worker(
      `const { readFileSync } = require('node:fs');
       const { parentPort, workerData } = require('node:worker_threads');
       let stop = false, reads = 0, torn = 0, bad = [];
       parentPort.on('message', () => { stop = true; });
       const loop = () => {
         for (let i = 0; i < 200; i++) {
           const text = readFileSync(workerData, 'utf8'); reads++;
           try { JSON.parse(text); } catch (e) { torn++; if (bad.length < 3) bad.push(text.length + ' bytes: ' + e.message); }
         }
         if (stop) parentPort.postMessage({ reads, torn, bad }); else setImmediate(loop);
       };
       loop();`,
      { eval: true, workerData: path },
    );
    const members = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`member-${i}`, doc().members.n2!]));
    for (let i = 0; i < 200; i++) {
      // Alternate a large and a small document so a torn read cannot look complete.
      const written = await writer.write(doc({ members: i % 2 === 0 ? members : {}, last_decision: { reason: `cycle ${i}`, at: doc().written_at } }));
      assert.equal(written, 'written');
    }
    const result = await new Promise<{ reads: number; torn: number; bad: string[] }>((resolve, reject) => {
      reader.once('message', resolve);
      reader.once('error', reject);
      reader.postMessage('stop');
    });
    await reader.terminate();
    assert.deepEqual(result.bad, [], `${result.torn} torn read(s) out of ${result.reads}`);
    assert.ok(result.reads >= 200, `only ${result.reads} reads`);
    assert.equal((await readStateFile(path)).last_decision.reason, 'cycle 199');
  });

  it('skips a write requested while the previous one is still running', async () => {
    const path = join(dir(), 'state.json');
    const writer = new StateFileWriter(path, recordingLogger());
    const first = writer.write(doc({ member: 'first' }));
    assert.equal(await writer.write(doc({ member: 'second' })), 'skipped');
    assert.equal(await first, 'written');
    assert.equal((await readStateFile(path)).member, 'first');
    assert.equal(await writer.write(doc({ member: 'third' })), 'written');
  });

  it('never rejects: logs a failure once per distinct error with the path, and the recovery', async () => {
    const d = dir();
    const path = join(d, 'missing', 'state.json');
    const log = recordingLogger();
    const writer = new StateFileWriter(path, log);
    for (let i = 0; i < 3; i++) assert.equal(await writer.write(doc()), 'failed');
    mkdirSync(join(d, 'missing'));
    assert.equal(await writer.write(doc()), 'written');
    assert.equal(visible(log.lines).length, 2, log.lines.join('\n'));
    assert.match(visible(log.lines)[0]!, new RegExp(`^ERROR could not write state file ${path}: ENOENT`));
    assert.equal(visible(log.lines)[1], `INFO state file ${path} written again`);
  });

  const broken: [string, (good: string) => string, RegExp][] = [
    ['a truncated file', (good) => good.slice(0, Math.floor(good.length / 2)), /is not valid JSON \(truncated or garbled\?\)/],
    ['an empty file', () => '', /is not valid JSON/],
    ['garbage', () => '\u0000\u0001binary junk', /is not valid JSON/],
    ['JSON of another shape', () => '[1, 2, 3]', /is not a pgwarden state file:\n {2}\(top level\): must be a mapping/],
    ['a document missing its leader', (good) => JSON.stringify({ ...JSON.parse(good), leader: undefined }), /is not a pgwarden state file:\n {2}leader: required/],
    ['a member without conn_url', (good) => good.replace('"conn_url"', '"kon_url"'), /members\.n1\.conn_url: required/],
    ['another format version', (good) => good.replace('"format": 1', '"format": 2'), /format: must be 1 \(a file written by another pgwarden version\?\)/],
  ];
  for (const [what, corrupt, message] of broken) {
    it(`rejects ${what} with a message naming the file`, async () => {
      const path = join(dir(), 'state.json');
      await new StateFileWriter(path, recordingLogger()).write(doc());
      writeFileSync(path, corrupt(readFileSync(path, 'utf8')));
      await assert.rejects(readStateFile(path), (e: unknown) => {
        assert.ok(e instanceof StateFileError);
        assert.equal(e.path, path);
        assert.ok(e.message.includes(path), e.message);
        assert.match(e.message, message);
        return true;
      });
    });
  }

  it('rejects a file that does not exist with a message naming it', async () => {
    const path = join(dir(), 'nope.json');
    await assert.rejects(readStateFile(path), new RegExp(`^StateFileError: cannot read state file ${path}: ENOENT`));
  });

  it('accepts keys it does not know, so an older reader can read a newer file', async () => {
    const path = join(dir(), 'state.json');
    writeFileSync(path, JSON.stringify({ ...doc(), added_later: true }));
    assert.equal((await readStateFile(path)).member, 'n1');
  });
});
