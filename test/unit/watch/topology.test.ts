import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MemberData } from '../../../src/domain/cluster.js';
import { describeChange, fingerprint, topologyOf } from '../../../src/watch/topology.js';
import { memberData, snapshot } from './helpers.js';

const base = (): Record<string, MemberData> => ({
  postgres0: memberData(0, { role: 'primary', xlog_location: 5000 }),
  postgres1: memberData(1, { xlog_location: 4000 }),
  postgres2: memberData(2, { xlog_location: 3000 }),
});

const fp = (leader: string | null, members: Record<string, MemberData>): string => fingerprint(topologyOf(snapshot(leader, members)));

describe('topology fingerprint', () => {
  const before = fp('postgres0', base());

  it('ignores what members rewrite every cycle: WAL positions, timelines, versions, pending restarts', () => {
    const churned = base();
    churned['postgres0'] = { ...churned['postgres0']!, xlog_location: 9_999_999, timeline: 2, pending_restart: true };
    churned['postgres1'] = { ...churned['postgres1']!, xlog_location: 9_000_000, version: '0.2.0' };
    assert.equal(fp('postgres0', churned), before);
  });

  it('ignores the order of members and of tags, and keys other than the leader and the members', () => {
    const m = base();
    m['postgres1'] = { ...m['postgres1']!, tags: { b: 1, a: 2 } };
    const reordered: Record<string, MemberData> = { postgres2: m['postgres2']!, postgres1: { ...m['postgres1']!, tags: { a: 2, b: 1 } }, postgres0: m['postgres0']! };
    assert.equal(fp('postgres0', reordered), fp('postgres0', m));
    const s = snapshot('postgres0', base());
    const busy = { ...s, optime: 123456, history: [[1, 100, 'no recovery target specified']] as typeof s.history, failover: { leader: 'postgres0' }, revision: '99' };
    assert.equal(fingerprint(topologyOf(busy)), before);
  });

  it('changes when the leader key moves or disappears', () => {
    assert.notEqual(fp('postgres1', base()), before);
    assert.notEqual(fp(null, base()), before);
  });

  it('changes when a member stops running, comes back, joins or vanishes', () => {
    const stopped = base();
    stopped['postgres2'] = { ...stopped['postgres2']!, state: 'stopped' };
    assert.notEqual(fp('postgres0', stopped), before);
    const gone = base();
    delete gone['postgres2'];
    assert.notEqual(fp('postgres0', gone), before);
    assert.equal(fp('postgres0', stopped), fp('postgres0', gone), 'a stopped member and a missing one are both not healthy');
    assert.notEqual(fp('postgres0', { ...base(), postgres3: memberData(3) }), before);
  });

  it('changes when a member moves to another address or changes its tags', () => {
    const moved = base();
    moved['postgres1'] = { ...moved['postgres1']!, conn_url: 'postgres://10.0.0.9:5432/postgres' };
    assert.notEqual(fp('postgres0', moved), before);
    const tagged = base();
    tagged['postgres1'] = { ...tagged['postgres1']!, tags: { noloadbalance: true } };
    assert.notEqual(fp('postgres0', tagged), before);
  });

  it('keeps a leader whose PostgreSQL is restarting as the leader (writes still go there)', () => {
    const restarting = base();
    restarting['postgres0'] = { ...restarting['postgres0']!, state: 'starting' };
    const t = topologyOf(snapshot('postgres0', restarting));
    assert.deepEqual(t.leader, { name: 'postgres0', conn_url: 'postgres://127.0.0.1:5432/postgres' });
    assert.deepEqual(t.members.map((m) => m.name), ['postgres1', 'postgres2']);
  });

  it("gives a leader whose member key is gone no address", () => {
    const m = base();
    delete m['postgres0'];
    assert.deepEqual(topologyOf(snapshot('postgres0', m)).leader, { name: 'postgres0', conn_url: null });
  });
});

describe('describing a topology change', () => {
  const t = (leader: string | null, members: Record<string, MemberData>) => topologyOf(snapshot(leader, members));

  it('says what the first read found', () => {
    assert.equal(describeChange(null, t('postgres0', base())), 'first read: leader postgres0, healthy postgres0, postgres1, postgres2');
  });

  it('names a failover and the members that left or joined', () => {
    const after = base();
    delete after['postgres0'];
    after['postgres3'] = memberData(3);
    assert.equal(describeChange(t('postgres0', base()), t('postgres1', after)), 'leader postgres0 -> postgres1; postgres3 is healthy; postgres0 is no longer healthy');
    assert.equal(describeChange(t('postgres0', base()), t(null, base())), 'leader postgres0 -> (none)');
  });

  it('names members that moved and says "no change" when nothing did', () => {
    const moved = base();
    moved['postgres2'] = { ...moved['postgres2']!, api_url: 'http://10.0.0.2:8008/patroni' };
    assert.equal(describeChange(t('postgres0', base()), t('postgres0', moved)), 'postgres2 changed address or tags');
    assert.equal(describeChange(t('postgres0', base()), t('postgres0', base())), 'no change');
  });
});
