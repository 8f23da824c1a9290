import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eligibleCandidates, restartBody, restartLine, scheduledTime, selectMembers, splitNames } from '../../../src/ctl/actions.js';
import { addSetting, lineDiff, pgParameterSetting } from '../../../src/ctl/edit.js';
import { renderRows } from '../../../src/ctl/format.js';
import { listColumns, listFooter, listRows, topologyRows } from '../../../src/ctl/list.js';
import { mergePatch } from '../../../src/config/patch.js';
import { cluster, member, withLeader } from '../ha/builders.js';

const c = withLeader(
  cluster({
    members: [
      member('n1', 5432, { role: 'primary' }),
      member('n2', 5433, { pending_restart: true, scheduled_restart: { schedule: '2030-01-01T03:00:00+00:00' } }),
      member('n3', 5434, { tags: { nofailover: true, replicatefrom: 'n2' } }),
    ],
  }),
  'n1',
);

describe('pgwardenctl output', () => {
  it('adds the optional columns only when a member fills them', () => {
    const rows = listRows(c);
    assert.deepEqual(listColumns(rows), ['Member', 'Host', 'Role', 'State', 'TL', 'Lag in MB', 'Pending restart', 'Scheduled restart', 'Tags']);
    const plain = listRows(withLeader(cluster({ members: [member('n1', 5432)] }), 'n1'));
    assert.deepEqual(listColumns(plain), ['Member', 'Host', 'Role', 'State', 'TL', 'Lag in MB']);
    assert.equal(rows[2]!['Tags'], 'nofailover: true, replicatefrom: n2');
  });

  it('renders tsv, json (empty cells dropped) and yaml', () => {
    const rows = [{ A: '1', B: '' }, { A: '2', B: 'x' }];
    assert.equal(renderRows('tsv', null, ['A', 'B'], rows), 'A\tB\n1\t\n2\tx');
    assert.equal(renderRows('json', null, ['A', 'B'], rows), '[{"A":"1"},{"A":"2","B":"x"}]');
    assert.equal(renderRows('yaml', null, ['A', 'B'], rows), "- A: '1'\n- A: '2'\n  B: x");
  });

  it('shows maintenance mode and a scheduled switchover under the table', () => {
    const lines = listFooter({ ...c, config: { pause: true }, failover: { leader: 'n1', member: 'n2', scheduled_at: '2030-01-01T03:00:00+00:00' } });
    assert.deepEqual(lines.map((l) => l.trim()), ['Maintenance mode: on', 'Switchover scheduled at: 2030-01-01T03:00:00+00:00', 'from: n1', 'to: n2']);
    assert.deepEqual(listFooter(c), []);
  });

  it('topology puts cascading replicas under their upstream', () => {
    assert.deepEqual(topologyRows(c).map((r) => r['Member']), ['n1', '+ n2', '  + n3']);
  });
});

describe('pgwardenctl edit-config', () => {
  it('builds nested patches from -s and -p, parsing values as YAML', () => {
    const patch = {};
    addSetting(patch, 'ttl=20');
    addSetting(patch, pgParameterSetting('work_mem=8MB'));
    addSetting(patch, 'postgresql.parameters.max_connections=200');
    addSetting(patch, 'pause=null');
    assert.deepEqual(patch, { ttl: 20, postgresql: { parameters: { work_mem: '8MB', max_connections: 200 } }, pause: null });
    const merged = mergePatch({ ttl: 10, pause: true, postgresql: { parameters: { work_mem: '4MB', shared_buffers: '128MB' } } }, patch);
    assert.deepEqual(merged.value, { ttl: 20, postgresql: { parameters: { work_mem: '8MB', shared_buffers: '128MB', max_connections: 200 } } });
  });

  it('refuses assignments without a key', () => {
    assert.throws(() => addSetting({}, '=5'), /not key=value/);
    assert.throws(() => addSetting({}, 'a..b=5'), /dotted key path/);
  });

  it('diffs YAML lines with the old line before the new one', () => {
    assert.equal(lineDiff('a: 1\nb: 2\nc: 3\n', 'a: 1\nb: 3\nc: 3\n'), ' a: 1\n-b: 2\n+b: 3\n c: 3\n ');
  });
});

describe('pgwardenctl actions', () => {
  it('selects members by name, role and pending restart', () => {
    assert.deepEqual(selectMembers(c, [], 'replica').map((m) => m.name), ['n2', 'n3']);
    assert.deepEqual(selectMembers(c, [], 'primary').map((m) => m.name), ['n1']);
    assert.deepEqual(selectMembers(c, [], 'any', true).map((m) => m.name), ['n2']);
    assert.deepEqual(selectMembers(c, ['n3', 'n1']).map((m) => m.name), ['n1', 'n3']);
    assert.throws(() => selectMembers(c, ['n9']), /n9 is not a member/);
  });

  it('treats a first name equal to the scope as the cluster name', () => {
    assert.deepEqual(splitNames('batman', ['batman', 'n2']), { cluster: 'batman', members: ['n2'] });
    assert.deepEqual(splitNames('batman', ['n2']), { cluster: undefined, members: ['n2'] });
  });

  it('builds the restart body and the result lines', () => {
    assert.deepEqual(restartBody({ pending: true, pgVersion: '15.6', timeout: '30' }, '2030-01-01T03:00:00+00:00'), {
      restart_pending: true, postgres_version: '15.6', schedule: '2030-01-01T03:00:00+00:00', timeout: '30',
    });
    assert.deepEqual(restartBody({}, null), {});
    assert.deepEqual(restartLine('n2', 200, 'restarted successfully'), { ok: true, line: 'Success: restart on member n2' });
    assert.deepEqual(restartLine('n2', 503, 'restart conditions are not satisfied\n'), { ok: false, line: 'Failed: restart for member n2, status code=503, (restart conditions are not satisfied)' });
  });

  it('candidates exclude the leader, primaries and nofailover members', () => {
    assert.deepEqual(eligibleCandidates(c, 'n1'), ['n2']);
  });

  it('parses scheduled times: now is immediate, a zone is kept, the past is refused', () => {
    const now = new Date('2026-11-22T12:00:00Z');
    assert.equal(scheduledTime('now', now), null);
    assert.equal(scheduledTime(undefined, now), null);
    const t = scheduledTime('2030-01-01T03:00:00+00:00', now)!;
    assert.equal(Date.parse(t), Date.parse('2030-01-01T03:00:00Z'));
    assert.match(t, /[+-]\d{2}:\d{2}$/);
    assert.throws(() => scheduledTime('2020-01-01T00:00:00Z', now), /in the past/);
    assert.throws(() => scheduledTime('someday', now), /cannot parse/);
  });
});
