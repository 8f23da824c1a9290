import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Type } from '@sinclair/typebox';
import { validate } from '../../../src/config/ajv.js';
import { loadConfigText } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/schema.js';
import { OutsideViewProperties, OutsideViewSchema } from '../../../src/outside/config.js';
import { changedReadAtStart } from '../../../src/outside/wiring.js';

describe('OutsideViewProperties', () => {
  it('turns every feature off by default and fills in the heartbeat table', () => {
    const config: Record<string, unknown> = {};
    assert.deepEqual(validate(OutsideViewSchema, config), []);
    assert.deepEqual(config, { heartbeat_table: { enabled: false, name: 'pgwarden.heartbeat' } });
  });

  it('accepts a full section and completes statsd with its defaults', () => {
    const config: Record<string, unknown> = {
      alert_file_dir: '/var/lib/pgwarden/alerts',
      json_state_file_path: '/var/lib/pgwarden/state.json',
      warning_replication_time_lag: 2.5,
      warning_replication_bytes_lag: 16_777_216,
      over_warning_limit_command: 'notify lag',
      failover_command: 'notify failover',
      maintenance_mode_file: '/etc/pgwarden/maintenance',
      heartbeat_table: { enabled: true, name: 'beat' },
      statsd: { tags: { dc: 'eu1' } },
    };
    assert.deepEqual(validate(OutsideViewSchema, config), []);
    assert.deepEqual(config['statsd'], { host: '127.0.0.1', port: 8125, tags: { dc: 'eu1' } });
  });

  const bad: [string, Record<string, unknown>, string[]][] = [
    ['a negative time lag', { warning_replication_time_lag: -1 }, ['warning_replication_time_lag: must be a number of seconds, 0 or more']],
    ['a fractional byte lag', { warning_replication_bytes_lag: 1.5 }, ['warning_replication_bytes_lag: must be a whole number']],
    ['a table name with two dots', { heartbeat_table: { name: 'a.b.c' } }, ["heartbeat_table.name: must be 'table' or 'schema.table' (one dot at most, no empty part)"]],
    ['a table name with an empty part', { heartbeat_table: { name: 'pgwarden.' } }, ["heartbeat_table.name: must be 'table' or 'schema.table' (one dot at most, no empty part)"]],
    ['a misspelt heartbeat key', { heartbeat_table: { enable: true } }, ['heartbeat_table.enable: unknown key (did you mean enabled?)']],
    ['a statsd port out of range', { statsd: { port: 70000 } }, ['statsd.port: must be a port number (1-65535)']],
    ['a statsd tag that is not a string', { statsd: { tags: { dc: 1 } } }, ['statsd.tags.dc: must be a string (quote the value in YAML)']],
    ['an empty alert directory', { alert_file_dir: '' }, ['alert_file_dir: must not be empty']],
  ];
  for (const [what, config, problems] of bad) {
    it(`rejects ${what}`, () => assert.deepEqual(validate(OutsideViewSchema, config), problems));
  }

  it('spreads into a larger closed schema, as ConfigSchema will use it', () => {
    const Whole = Type.Object({ scope: Type.String(), ...OutsideViewProperties }, { additionalProperties: false });
    const config: Record<string, unknown> = { scope: 'batman', json_state_file_path: '/tmp/s.json' };
    assert.deepEqual(validate(Whole, config), []);
    assert.deepEqual(validate(Whole, { scope: 'batman', json_state_fle_path: '/tmp/s.json' }), ['json_state_fle_path: unknown key (did you mean json_state_file_path?)']);
  });
});

describe('changedReadAtStart', () => {
  const base = (): Config => {
    const c = loadConfigText(`scope: s\nname: n\nrestapi: {listen: 127.0.0.1:8008, connect_address: 127.0.0.1:8008}\netcd3: {hosts: [127.0.0.1:2379]}\npostgresql: {listen: 127.0.0.1:5432, connect_address: 127.0.0.1:5432, data_dir: /tmp/d, authentication: {superuser: {username: p}, replication: {username: r}}}\n`, 'test.yml');
    return c.config;
  };

  it('names each key read at start only whose value changed, and nothing for other changes', () => {
    const started = base();
    assert.deepEqual(changedReadAtStart(started, base()), []);
    const next = { ...base(), alert_file_dir: '/var/alerts', statsd: { host: '127.0.0.1', port: 8125, tags: {} }, warning_replication_bytes_lag: 1000 };
    assert.deepEqual(changedReadAtStart(started, next), ['alert_file_dir', 'statsd']);
    const withSyslog = { ...base(), heartbeat_table: { enabled: true, name: 'beat' } };
    withSyslog.log = { ...withSyslog.log, syslog: { host: '127.0.0.1', port: 514, facility: 'local0' } } as Config['log'];
    assert.deepEqual(changedReadAtStart(started, withSyslog), ['heartbeat_table', 'log.syslog']);
  });
});
