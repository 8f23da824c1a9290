import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Member } from '../../../src/domain/cluster.js';
import { MemoryDcs, MemoryStore } from '../../../src/dcs/memory.js';
import type { MemberProbe } from '../../../src/observe/detect.js';
import { readOnly } from '../../../src/observe/etcd-reader.js';
import { ScopeObserver } from '../../../src/observe/scope-observer.js';
import { AlertFiles } from '../../../src/outside/alert-files.js';
import { member } from '../api/fixtures.js';
import { recordingLogger, tempDir, visible } from '../outside/helpers.js';
import { primaryReading, probe, replicaReading } from './helpers.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A store holding cluster batman: n1 leads, n2 and n3 are members. Returns it and its revision. */
async function batman(): Promise<MemoryStore> {
  const store = new MemoryStore();
  const node = new MemoryDcs(store, { namespace: '/service/', scope: 'batman', callTimeoutMs: 1000, nodeName: 'n1' });
  await node.ensureLease(30);
  for (const m of [member('n1', 5440, { role: 'primary' }), member('n2', 5441), member('n3', 5442)]) await node.touchMember(m.name, m.data);
  assert.equal(await node.attemptToAcquireLeader('n1'), true);
  return store;
}

/** A prober whose answers the test changes between rounds. */
function scriptedProber(): { probe(m: Member): Promise<MemberProbe>; answers: Map<string, MemberProbe> } {
  const answers = new Map<string, MemberProbe>([
    ['n1', probe('n1', primaryReading())],
    ['n2', probe('n2', replicaReading())],
    ['n3', probe('n3', replicaReading())],
  ]);
  return { answers, probe: async (m) => answers.get(m.name)! };
}

function observer(store: MemoryStore, prober: ReturnType<typeof scriptedProber>, dir: string | undefined, pollIntervalMs = 10_000) {
  const log = recordingLogger();
  const reader = readOnly(new MemoryDcs(store, { namespace: '/service/', scope: 'batman', callTimeoutMs: 1000, nodeName: 'observer' }));
  const o = new ScopeObserver({ scope: 'batman', reader, probe: prober.probe, limits: {}, pollIntervalMs, alerts: new AlertFiles(dir, log), log });
  return { o, log, reader };
}

describe('ScopeObserver', () => {
  it('raises multiple_primary_warning after two rounds with two primaries, and clears it at the first round without', async () => {
    const dir = tempDir('observe');
    dirs.push(dir);
    const store = await batman();
    const prober = scriptedProber();
    const { o, log, reader } = observer(store, prober, dir);
    o.onSnapshot(await reader.getCluster());
    await o.runRound();
    assert.deepEqual(o.state().alerts, []);

    prober.answers.set('n2', probe('n2', primaryReading(67_108_900, { timeline: 2 })));
    await o.runRound();
    assert.deepEqual(o.state().alerts, [], 'one round is not enough');
    assert.equal(existsSync(join(dir, 'multiple_primary_warning')), false);
    await o.runRound();
    assert.deepEqual(o.state().alerts, ['multiple_primary_warning']);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'multiple_primary_warning'), 'utf8')).details, { primaries: ['n1', 'n2'], leader: 'n1' });
    await o.runRound();
    assert.equal(visible(log.lines).filter((l) => l.startsWith('ERROR') && /more than one primary: n1, n2/.test(l)).length, 1, log.lines.join('\n'));

    prober.answers.set('n2', probe('n2', { ok: false, error: 'ECONNREFUSED', authFailed: false }));
    await o.runRound();
    assert.deepEqual(o.state().alerts, []);
    assert.equal(existsSync(join(dir, 'multiple_primary_warning')), false);
    assert.ok(log.lines.some((l) => /INFO alert multiple_primary_warning cleared/.test(l)), log.lines.join('\n'));
    await reader.close();
  });

  it('raises leader_in_recovery_warning in its own file', async () => {
    const dir = tempDir('observe');
    dirs.push(dir);
    const store = await batman();
    const prober = scriptedProber();
    const { o, reader } = observer(store, prober, dir);
    o.onSnapshot(await reader.getCluster());
    prober.answers.set('n1', probe('n1', replicaReading()));
    await o.runRound();
    await o.runRound();
    assert.deepEqual(o.state().alerts, ['leader_in_recovery_warning']);
    assert.ok(existsSync(join(dir, 'leader_in_recovery_warning')));
    await reader.close();
  });

  it('never writes to etcd: running rounds and its feed leave the store revision unchanged', async () => {
    const store = await batman();
    const before = store.revision;
    const { o, reader } = observer(store, scriptedProber(), undefined, 20);
    o.start();
    await new Promise((r) => setTimeout(r, 300));
    await o.stop();
    assert.ok(o.state().round !== null, 'no round ran');
    assert.equal(store.revision, before);
    await reader.close();
  });

  it('reaches etcd through a reader that has only the read methods', () => {
    const dcs = new MemoryDcs(new MemoryStore(), { namespace: '/service/', scope: 'batman', callTimeoutMs: 1000 });
    assert.deepEqual(Object.keys(readOnly(dcs)).sort(), ['close', 'getCluster', 'waitForChange']);
  });
});
