import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Type } from '@sinclair/typebox';
import { validate } from '../../../src/config/ajv.js';
import {
  CallbackTimeoutSchema,
  CallbacksSchema,
  TriggersSchema,
  checkEventCommands,
  checkTriggerThresholds,
} from '../../../src/events/config.js';

describe('CallbacksSchema', () => {
  it('accepts the five Patroni actions', () => {
    const all = { on_start: '/a', on_stop: '/a', on_restart: '/a', on_reload: '/a', on_role_change: '/a b' };
    assert.deepEqual(validate(CallbacksSchema, all), []);
  });

  it('rejects a misspelt action and an empty command', () => {
    const problems = validate(CallbacksSchema, { on_role_chnage: '/a', on_start: '' }, 'postgresql.callbacks');
    assert.equal(problems.length, 2, problems.join('\n'));
    assert.match(problems.join('\n'), /on_role_chnage/);
    assert.match(problems.join('\n'), /postgresql\.callbacks\.on_start/);
  });
});

describe('TriggersSchema', () => {
  it('accepts every event command and lag limit', () => {
    const t = {
      leader_up: '/t', leader_down: '/t', replica_up: '/t', replica_down: '/t', failover_happened: '/t', heartbeat: '/t',
      replica_down_lag_bytes: 1_048_576, replica_up_lag_bytes: 0, replica_down_lag_seconds: 30, replica_up_lag_seconds: 2.5,
    };
    assert.deepEqual(validate(TriggersSchema, t), []);
  });

  it('rejects unknown keys, negative limits and empty commands', () => {
    const problems = validate(TriggersSchema, { leader_upp: '/t', replica_down_lag_bytes: -1, heartbeat: '' }, 'triggers');
    assert.equal(problems.length, 3, problems.join('\n'));
  });
});

describe('CallbackTimeoutSchema', () => {
  const Holder = Type.Object({ callback_timeout: CallbackTimeoutSchema });
  it('defaults to 30 seconds', () => {
    const data: Record<string, unknown> = {};
    assert.deepEqual(validate(Holder, data), []);
    assert.equal(data['callback_timeout'], 30);
  });
  it('refuses less than one second', () => {
    assert.match(validate(Holder, { callback_timeout: 0.5 }).join('\n'), /callback_timeout/);
  });
});

describe('checkTriggerThresholds', () => {
  const rows: Array<[string, Parameters<typeof checkTriggerThresholds>[0], string[]]> = [
    ['no limits', {}, []],
    ['down limits only', { replica_down_lag_bytes: 10, replica_down_lag_seconds: 5 }, []],
    ['up below down', { replica_down_lag_bytes: 10, replica_up_lag_bytes: 9, replica_down_lag_seconds: 5, replica_up_lag_seconds: 0 }, []],
    ['up equal to down', { replica_down_lag_bytes: 10, replica_up_lag_bytes: 10 }, ['triggers.replica_up_lag_bytes: must be below triggers.replica_down_lag_bytes (10 >= 10)']],
    ['up above down', { replica_down_lag_seconds: 5, replica_up_lag_seconds: 6 }, ['triggers.replica_up_lag_seconds: must be below triggers.replica_down_lag_seconds (6 >= 5)']],
    ['up without down', { replica_up_lag_bytes: 1 }, ['triggers.replica_up_lag_bytes: has no effect without triggers.replica_down_lag_bytes']],
  ];
  for (const [name, t, expected] of rows) {
    it(name, () => assert.deepEqual(checkTriggerThresholds(t), expected));
  }
});

describe('checkEventCommands', () => {
  it('reports command lines that cannot be split or name no program, with their path', () => {
    assert.deepEqual(checkEventCommands({ on_start: '/ok "fine"', on_stop: "/x 'open" }, { leader_up: '   ', heartbeat: '/hb' }), [
      'postgresql.callbacks.on_stop: command "/x \'open": unterminated single quote',
      'triggers.leader_up: must name a program',
    ]);
  });
  it('accepts absent sections', () => assert.deepEqual(checkEventCommands(undefined, undefined), []));
});
