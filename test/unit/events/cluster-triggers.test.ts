import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClusterTriggers } from '../../../src/events/cluster-triggers.js';
import type { ClusterEventDocument } from '../../../src/events/document.js';
import { memoryLogger, snap, RecordingRunner } from './helpers.js';

const healthy = snap('n1', { n1: {}, n2: {}, n3: {} });

describe('ClusterTriggers', () => {
  it('submits nothing for the baseline, then one job per configured event with its document', () => {
    const runner = new RecordingRunner();
    const log = memoryLogger();
    const t = new ClusterTriggers(runner, log, { triggers: { replica_down: '/hooks/down', leader_down: '/hooks/leader' }, scope: 'main', timeoutSeconds: 7 });
    assert.deepEqual(t.observe(healthy, 0), []);
    assert.equal(runner.jobs.length, 0);

    const events = t.observe(snap('n1', { n1: {}, n2: { state: 'stopped' } }), 1000, new Map([['n2', 3]]));
    assert.deepEqual(events.map((e) => `${e.event} ${e.member}`), ['replica_down n2', 'replica_down n3']);
    assert.deepEqual(runner.jobs.map((j) => j.argv), [
      ['/hooks/down', 'replica_down', 'main', 'n2'],
      ['/hooks/down', 'replica_down', 'main', 'n3'],
    ]);
    const doc = JSON.parse(runner.jobs[1]!.stdin) as ClusterEventDocument;
    assert.deepEqual([doc.event, doc.member, doc.lost, doc.reason, doc.replicas[0]?.lag_seconds], [
      'replica_down', { name: 'n3', role: 'unknown', state: 'unknown' }, ['n3'], 'member key of n3 vanished', 3,
    ]);
    assert.equal(runner.jobs[0]!.timeoutMs, 7000);
    assert.deepEqual(log.lines.map((l) => [l.level, l.msg]), [
      ['INFO', 'cluster event replica_down for n2: replica n2 is stopped'],
      ['INFO', 'cluster event replica_down for n3: member key of n3 vanished'],
    ]);
  });

  it('logs events that have no command without submitting anything', () => {
    const runner = new RecordingRunner();
    const log = memoryLogger();
    const t = new ClusterTriggers(runner, log, { triggers: undefined, scope: 'main', timeoutSeconds: 7 });
    t.observe(healthy, 0);
    t.observe(snap(null, { n2: {}, n3: {} }), 1000);
    assert.equal(runner.jobs.length, 0);
    assert.match(log.lines[0]?.msg ?? '', /cluster event leader_down for n1/);
  });

  it('submits the heartbeat on every observation, baseline included', () => {
    const runner = new RecordingRunner();
    const t = new ClusterTriggers(runner, memoryLogger(), { triggers: { heartbeat: '/hb' }, scope: 'main', timeoutSeconds: 7 });
    t.observe(healthy, 0);
    t.observe(healthy, 1000);
    assert.deepEqual(runner.jobs.map((j) => [j.argv.join(' '), j.quiet]), [['/hb heartbeat main', true], ['/hb heartbeat main', true]]);
    assert.equal((JSON.parse(runner.jobs[0]!.stdin) as ClusterEventDocument).member, null);
  });

  it('warns instead of throwing when a trigger command cannot be split', () => {
    const runner = new RecordingRunner();
    const log = memoryLogger();
    const t = new ClusterTriggers(runner, log, { triggers: { heartbeat: "/hb 'open" }, scope: 'main', timeoutSeconds: 7 });
    assert.doesNotThrow(() => t.observe(healthy, 0));
    assert.match(log.lines[0]?.msg ?? '', /trigger heartbeat not run: .*unterminated single quote/);
  });

  it('with announceAs, submits only while this member holds the key, and announces the leaderless gap once it takes it', () => {
    const configFor = (name: string) => ({ triggers: { leader_down: '/d', leader_up: '/u', failover_happened: '/f', replica_down: '/r', heartbeat: '/hb' }, scope: 'main', timeoutSeconds: 7, announceAs: name });
    const r2 = new RecordingRunner();
    const r3 = new RecordingRunner();
    const n2 = new ClusterTriggers(r2, memoryLogger(), configFor('n2'));
    const n3 = new ClusterTriggers(r3, memoryLogger(), configFor('n3'));
    const sequence = [healthy, snap('n1', { n1: {}, n2: {}, n3: { state: 'stopped' } }), snap(null, { n2: {}, n3: {} }), snap('n2', { n2: {}, n3: {} })];
    for (const [i, s] of sequence.entries()) {
      n2.observe(s, i * 1000);
      n3.observe(s, i * 1000);
    }
    assert.deepEqual(r3.jobs, [], 'n3 never held the key');
    assert.deepEqual(r2.jobs.map((j) => j.argv.slice(1).join(' ')), [
      'leader_down main n1',
      'leader_up main n2',
      'failover_happened main n2',
      'heartbeat main',
    ]);
  });
});
