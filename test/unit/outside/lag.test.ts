import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { leaderPosition, memberLags, membersOverLagLimit, primaryMembers, type LagLimits, type LagWarning, type MemberLag } from '../../../src/outside/lag.js';
import { cluster, member } from '../api/fixtures.js';

const MB = 1_048_576;

describe('leaderPosition', () => {
  const rows: [string, Parameters<typeof cluster>[0], number | null][] = [
    ['the leader member key when it is ahead of status.optime', { optime: 10 * MB, members: [member('n1', 5440, { role: 'primary', xlog_location: 12 * MB })] }, 12 * MB],
    ['status.optime when it is ahead of the leader member key', { optime: 14 * MB, members: [member('n1', 5440, { role: 'primary', xlog_location: 12 * MB })] }, 14 * MB],
    ['status.optime when the leader publishes no position', { optime: 14 * MB, members: [member('n1', 5440, { role: 'primary', xlog_location: undefined })] }, 14 * MB],
    ['the leader member key when there is no status.optime', { optime: null, members: [member('n1', 5440, { role: 'primary', xlog_location: 12 * MB })] }, 12 * MB],
    ['null when neither is known', { optime: null, members: [member('n1', 5440, { role: 'primary', xlog_location: undefined })] }, null],
    ['null without a leader key, whatever the members say', { leader: null, optime: 14 * MB }, null],
  ];
  for (const [title, over, expected] of rows) {
    it(`is ${title}`, () => assert.equal(leaderPosition(cluster(over)), expected));
  }
});

describe('memberLags', () => {
  it('measures each member against the leader, 0 for the leader, null where unknown, never negative', () => {
    const c = cluster({
      optime: 64 * MB,
      members: [
        member('n1', 5440, { role: 'primary', xlog_location: 64 * MB }),
        member('n2', 5441, { xlog_location: 64 * MB - 4096 }),
        member('n3', 5442, { xlog_location: 60 * MB }),
        member('n4', 5443, { state: 'stopped', xlog_location: undefined }),
        member('n5', 5444, { xlog_location: 64 * MB + 8192 }),
      ],
    });
    assert.deepEqual(memberLags(c, { n2: 0.4, n3: 7.5, n5: -0.2, ghost: 99 }), {
      n1: { bytes: 0, seconds: 0 },
      n2: { bytes: 4096, seconds: 0.4 },
      n3: { bytes: 4 * MB, seconds: 7.5 },
      n4: { bytes: null, seconds: null },
      n5: { bytes: 0, seconds: 0 },
    });
  });

  it('knows no byte lag at all while the cluster has no leader', () => {
    const lags = memberLags(cluster({ leader: null }));
    assert.deepEqual(Object.values(lags).map((l) => l.bytes), [null, null, null]);
  });
});

describe('membersOverLagLimit', () => {
  const lags: Record<string, MemberLag> = {
    n1: { bytes: 0, seconds: 0 },
    n2: { bytes: 1000, seconds: 5 },
    n3: { bytes: 1001, seconds: 5.001 },
    n4: { bytes: null, seconds: null },
    n5: { bytes: 50_000_000, seconds: null },
  };
  const rows: [string, LagLimits, string | null, LagWarning[]][] = [
    ['no limit configured: nobody', {}, 'n1', []],
    ['bytes: only members strictly over the limit', { bytes: 1000 }, 'n1', [
      { name: 'n3', bytes: 1001, seconds: 5.001, over: ['bytes'] },
      { name: 'n5', bytes: 50_000_000, seconds: null, over: ['bytes'] },
    ]],
    ['time: only members strictly over the limit, unknown delays not counted', { seconds: 5 }, 'n1', [
      { name: 'n3', bytes: 1001, seconds: 5.001, over: ['time'] },
    ]],
    ['both limits: each member once, listing every limit it is over', { bytes: 1000, seconds: 5 }, 'n1', [
      { name: 'n3', bytes: 1001, seconds: 5.001, over: ['bytes', 'time'] },
      { name: 'n5', bytes: 50_000_000, seconds: null, over: ['bytes'] },
    ]],
    ['limit 0: any lag at all, but never the leader', { bytes: 0 }, 'n2', [
      { name: 'n3', bytes: 1001, seconds: 5.001, over: ['bytes'] },
      { name: 'n5', bytes: 50_000_000, seconds: null, over: ['bytes'] },
    ]],
    ['no leader: a member reporting lag 0 is under the limit', { bytes: 0, seconds: 0 }, null, [
      { name: 'n2', bytes: 1000, seconds: 5, over: ['bytes', 'time'] },
      { name: 'n3', bytes: 1001, seconds: 5.001, over: ['bytes', 'time'] },
      { name: 'n5', bytes: 50_000_000, seconds: null, over: ['bytes'] },
    ]],
  ];
  for (const [title, limits, leader, expected] of rows) {
    it(`reports ${title}`, () => assert.deepEqual(membersOverLagLimit(lags, limits, leader), expected));
  }
});

describe('primaryMembers', () => {
  it('lists the running members whose key says primary (or master), sorted', () => {
    const c = cluster({
      members: [
        member('n3', 5442, { role: 'master' }),
        member('n1', 5440, { role: 'primary' }),
        member('n2', 5441),
        member('n4', 5443, { role: 'primary', state: 'stopped' }),
      ],
    });
    assert.deepEqual(primaryMembers(c), ['n1', 'n3']);
  });
});
