import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { listRows, renderTable } from '../../../src/ctl/list.js';
import { cluster, member, withLeader } from '../ha/builders.js';

describe('pgwardenctl list', () => {
  const c = withLeader(
    cluster({
      optime: 5 * 1048576,
      members: [
        member('n2', 5433, { xlog_location: 3 * 1048576, timeline: 1 }),
        member('n1', 5432, { role: 'primary', xlog_location: 5 * 1048576, timeline: 1 }),
        member('n3', 5434, { state: 'stopped' }),
      ],
    }),
    'n1',
  );

  it('sorts members by name, marks the leader and computes lag in MB', () => {
    const rows = listRows(c);
    assert.deepEqual(rows.map((r) => [r.Member, r.Role, r['Lag in MB']]), [
      ['n1', 'Leader', ''],
      ['n2', 'Replica', '2'],
      ['n3', 'Replica', 'unknown'],
    ]);
    assert.equal(rows[0]!.Host, '127.0.0.1:5432');
    const sync = listRows({ ...c, sync: { leader: 'n1', standbys: ['n3'] }, syncModRevision: '4' });
    assert.deepEqual(sync.map((r) => r.Role), ['Leader', 'Replica', 'Sync Standby']);
  });

  it('renders a bordered table with the cluster name in the top border', () => {
    const text = renderTable('batman', listRows(c));
    const lines = text.split('\n');
    assert.match(lines[0]!, /^\+ Cluster: batman -+\+/);
    assert.equal(new Set(lines.map((l) => l.length)).size, 1, 'every line has the same width');
    assert.match(text, /\| n2 +\| 127\.0\.0\.1:5433 \| Replica \| running \|  1 \| +2 \|/);
  });
});
