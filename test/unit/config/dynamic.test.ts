import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  DEFAULT_DYNAMIC,
  effectivePgParameters,
  resolveDynamic,
  validateDynamic,
  type DynamicConfig,
} from '../../../src/config/dynamic.js';
import { loadConfigFile } from '../../../src/config/load.js';
import { fixture, load, minimalWith } from './helpers.js';

function withDefaults(changes: Partial<DynamicConfig>): DynamicConfig {
  return { ...structuredClone(DEFAULT_DYNAMIC), ...changes };
}

describe('resolveDynamic', () => {
  it('returns the defaults without problems when /config is absent', () => {
    const { config, problems } = resolveDynamic(null);
    assert.deepEqual(problems, []);
    assert.deepEqual(config, {
      ttl: 30,
      loop_wait: 10,
      retry_timeout: 10,
      maximum_lag_on_failover: 1048576,
      primary_start_timeout: 300,
      primary_stop_timeout: 0,
      check_timeline: false,
      pause: false,
      synchronous_mode: false,
      synchronous_mode_strict: false,
      synchronous_node_count: 1,
      maximum_lag_on_syncnode: -1,
      known_gone_nodes: [],
      failsafe_mode: false,
      postgresql: { use_pg_rewind: false, use_slots: true, parameters: {} },
    });
  });

  it('applies maximum_lag_on_syncnode and known_gone_nodes, keeping the fallback for bad values', () => {
    const good = resolveDynamic({ maximum_lag_on_syncnode: 1024, known_gone_nodes: ['n3'] });
    assert.deepEqual([good.problems, good.config.maximum_lag_on_syncnode, good.config.known_gone_nodes], [[], 1024, ['n3']]);
    const bad = resolveDynamic({ maximum_lag_on_syncnode: -5, known_gone_nodes: 'n3' }, withDefaults({ known_gone_nodes: ['n4'] }));
    assert.equal(bad.config.maximum_lag_on_syncnode, -1);
    assert.deepEqual(bad.config.known_gone_nodes, ['n4']);
    assert.equal(bad.problems.length, 2, bad.problems.join('; '));
    assert.match(bad.problems.join('; '), /known_gone_nodes: .*keeping \["n4"\]/);
  });

  it('applies the value the bootstrapping node wrote, keeping null parameters as none', () => {
    const stored = { ttl: 30, loop_wait: 10, retry_timeout: 10, maximum_lag_on_failover: 1048576, postgresql: { use_pg_rewind: true, parameters: null } };
    const { config, problems } = resolveDynamic(stored);
    assert.deepEqual(problems, []);
    assert.equal(config.postgresql.use_pg_rewind, true);
    assert.deepEqual(config.postgresql.parameters, {});
  });

  it('parses pause and other switches the way Patroni parses bool-ish values', () => {
    for (const on of [true, 'on', 'ON', 'yes', 'true', '1', 1]) {
      assert.equal(resolveDynamic({ pause: on }).config.pause, true, String(on));
    }
    for (const off of [false, 'off', 'no', 'False', '0', 0, null]) {
      assert.equal(resolveDynamic({ pause: off }).config.pause, false, String(off));
    }
    assert.equal(resolveDynamic({ failsafe_mode: 'yes', check_timeline: 'on' }).config.failsafe_mode, true);
  });

  it('keeps the fallback value of a switch it cannot parse and says why', () => {
    const { config, problems } = resolveDynamic({ pause: 'maybe' }, withDefaults({ pause: true }));
    assert.equal(config.pause, true);
    assert.deepEqual(problems, ['pause: must be true or false (got "maybe"); keeping true']);
  });

  it('keeps the fallback value of a number with a wrong type or below its minimum', () => {
    const fallback = withDefaults({ ttl: 40, maximum_lag_on_failover: 5 });
    const { config, problems } = resolveDynamic({ ttl: 'thirty', maximum_lag_on_failover: -1, loop_wait: 5 }, fallback);
    assert.equal(config.ttl, 40);
    assert.equal(config.maximum_lag_on_failover, 5);
    assert.equal(config.loop_wait, 5, 'valid keys are still applied');
    assert.deepEqual(problems, ['maximum_lag_on_failover: must be >= 0; keeping 5', 'ttl: must be a number; keeping 40']);
  });

  it('keeps all three timing settings when the new ones break the timing rule', () => {
    const fallback = withDefaults({ ttl: 60, loop_wait: 20, retry_timeout: 20 });
    const { config, problems } = resolveDynamic({ ttl: 10, loop_wait: 5, retry_timeout: 5 }, fallback);
    assert.deepEqual([config.ttl, config.loop_wait, config.retry_timeout], [60, 20, 20]);
    assert.deepEqual(problems, [
      '(timing): loop_wait (5) + 2*retry_timeout (5) = 15 must be <= ttl (10); keeping ttl 60, loop_wait 20, retry_timeout 20',
    ]);
  });

  it('accepts a ttl below Patroni\'s minimum of 20 when the timing rule holds', () => {
    const { config, problems } = resolveDynamic({ ttl: 9, loop_wait: 3, retry_timeout: 3 });
    assert.deepEqual(problems, []);
    assert.equal(config.ttl, 9);
  });

  it('reads master_start_timeout as an alias, with primary_start_timeout taking precedence', () => {
    assert.equal(resolveDynamic({ master_start_timeout: 60 }).config.primary_start_timeout, 60);
    assert.equal(resolveDynamic({ master_start_timeout: 60, primary_start_timeout: 90 }).config.primary_start_timeout, 90);
  });

  it('drops bad PostgreSQL parameters and ones that fail the sanity checks, keeping the rest', () => {
    const fallback = withDefaults({ postgresql: { use_pg_rewind: false, use_slots: true, parameters: { max_connections: 200 } } });
    const { config, problems } = resolveDynamic(
      { postgresql: { parameters: { max_connections: 10, shared_buffers: { size: 1 }, work_mem: '8MB', wal_level: 'minimal', old: null } } },
      fallback,
    );
    assert.deepEqual(config.postgresql.parameters, { max_connections: 200, work_mem: '8MB' });
    assert.deepEqual(problems, [
      "postgresql.parameters.max_connections: value 10 fails pgwarden's sanity check; keeping 200",
      'postgresql.parameters.shared_buffers: must be a string, number or boolean; ignored',
      "postgresql.parameters.wal_level: value minimal fails pgwarden's sanity check; ignored",
    ]);
  });

  it('reports unknown keys and refused standby_cluster without applying them', () => {
    const { config, problems } = resolveDynamic({ loop_wiat: 3, standby_cluster: { host: 'x' } });
    assert.equal(config.loop_wait, 10);
    assert.deepEqual(problems, [
      'loop_wiat: unknown key, ignored (did you mean loop_wait?)',
      'standby_cluster: standby clusters are not supported by pgwarden yet (its leader would run as a writable primary); remove this section; ignored',
    ]);
  });

  it('never throws and always returns settings that satisfy the timing rule, whatever /config holds', () => {
    const value = fc.oneof(fc.integer({ min: -5, max: 100 }), fc.double({ noNaN: false }), fc.string(), fc.boolean(), fc.constant(null), fc.object());
    const key = fc.constantFrom('ttl', 'loop_wait', 'retry_timeout', 'pause', 'postgresql', 'maximum_lag_on_failover', 'master_stop_timeout', 'x');
    fc.assert(
      fc.property(fc.dictionary(key, value), (raw) => {
        const { config } = resolveDynamic(raw);
        assert.ok(config.loop_wait + 2 * config.retry_timeout <= config.ttl);
        assert.ok(config.ttl >= 5 && config.loop_wait >= 1 && config.retry_timeout >= 1);
        assert.equal(typeof config.pause, 'boolean');
      }),
    );
  });

  it('does not modify the value it was given', () => {
    const raw = { ttl: 30, postgresql: { parameters: { max_connections: 1 } } };
    const copy = structuredClone(raw);
    resolveDynamic(raw);
    assert.deepEqual(raw, copy);
  });
});

describe('validateDynamic', () => {
  it('accepts a Patroni-style /config value', () => {
    assert.deepEqual(validateDynamic({ ttl: 30, loop_wait: 10, retry_timeout: 10, pause: 'on', postgresql: { use_pg_rewind: true, parameters: { max_connections: 100 } } }), []);
  });

  it('lists every problem of a bad value', () => {
    assert.deepEqual(validateDynamic({ ttl: 12, retry_timeout: 'x', pause: 'sometimes', postgresql: { use_slot: true }, standby_cluster: {} }), [
      '(timing): loop_wait (10) + 2*retry_timeout (10) = 30 must be <= ttl (12)',
      'pause: must be true or false (on/off, yes/no and 1/0 are accepted)',
      'postgresql.use_slot: unknown key (did you mean use_slots?)',
      'retry_timeout: must be a number',
      'standby_cluster: standby clusters are not supported by pgwarden yet (its leader would run as a writable primary); remove this section',
    ]);
    assert.deepEqual(validateDynamic([1]), ['(top level): must be a mapping (key: value)']);
  });
});

describe('effectivePgParameters', () => {
  it('derives addresses, cluster name and fixed settings, and defaults the DCS-only ones', () => {
    const { config } = loadConfigFile(fixture('minimal.yml'), { env: {} });
    assert.deepEqual(effectivePgParameters(config, resolveDynamic(null).config), {
      cluster_name: 'demo',
      hot_standby: 'on',
      listen_addresses: '127.0.0.1',
      max_connections: 100,
      max_locks_per_transaction: 64,
      max_prepared_transactions: 0,
      max_replication_slots: 10,
      max_wal_senders: 10,
      max_worker_processes: 8,
      port: 5432,
      track_commit_timestamp: 'off',
      wal_keep_size: '128MB',
      wal_level: 'replica',
      wal_log_hints: 'on',
      wal_retrieve_retry_interval: '1s',
    });
  });

  it('lets /config and the local file override pgwarden\'s own defaults', () => {
    const { config } = loadConfigFile(fixture('minimal.yml'), { env: {} });
    const dyn = resolveDynamic({ postgresql: { parameters: { wal_retrieve_retry_interval: '5s' } } }).config;
    assert.equal(effectivePgParameters(config, dyn)['wal_retrieve_retry_interval'], '5s');
  });

  it('lets local parameters override dynamic ones except the ones pgwarden or the DCS controls', () => {
    const { config } = load(
      minimalWith({
        scope: 'scope: batman',
        postgresql: [
          'postgresql:',
          '  listen: 127.0.0.1,10.0.0.5:5433',
          '  connect_address: 10.0.0.5:5433',
          '  data_dir: d',
          '  authentication: {superuser: {username: s}, replication: {username: r}}',
          '  parameters: {work_mem: 16MB, max_connections: 999, cluster_name: other, hot_standby: "off"}',
        ].join('\n'),
      }),
    );
    const dyn = resolveDynamic({
      postgresql: { parameters: { work_mem: '4MB', shared_buffers: '1GB', max_connections: 300, port: 1, wal_keep_segments: 4 } },
    }).config;
    const params = effectivePgParameters(config, dyn);
    assert.equal(params['work_mem'], '16MB');
    assert.equal(params['shared_buffers'], '1GB');
    assert.equal(params['max_connections'], 300);
    assert.equal(params['cluster_name'], 'batman');
    assert.equal(params['hot_standby'], 'on');
    assert.equal(params['listen_addresses'], '127.0.0.1,10.0.0.5');
    assert.equal(params['port'], 5433);
    assert.equal(params['wal_keep_size'], '64MB', 'wal_keep_segments becomes wal_keep_size at 16MB a segment');
    assert.equal(params['wal_keep_segments'], undefined);
  });
});
