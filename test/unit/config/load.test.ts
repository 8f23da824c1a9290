import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../../src/errors.js';
import { loadConfigFile } from '../../../src/config/load.js';
import { etcdEndpoints } from '../../../src/config/etcd.js';
import { fixture, load, minimalWith, problemsOf, writeTemp } from './helpers.js';

describe('loading a valid file', () => {
  it('fills in every default for a minimal file and reports no warnings', () => {
    const { config, warnings } = loadConfigFile(fixture('minimal.yml'), { env: {} });
    assert.deepEqual(warnings, []);
    assert.equal(config.namespace, '/service/');
    assert.equal(config.etcd3.protocol, 'http');
    assert.equal(config.postgresql.database, 'postgres');
    assert.equal(config.postgresql.pg_ctl_timeout, 60);
    assert.equal(config.postgresql.remove_data_directory_on_rewind_failure, false);
    assert.equal(config.postgresql.remove_data_directory_on_diverged_timelines, false);
    assert.equal(config.log.level, 'INFO');
    assert.deepEqual(config.tags, {});
    assert.deepEqual(config.bootstrap, { dcs: {} });
    assert.equal(config.postgresql.data_dir, 'data/node1', 'a relative data_dir stays as written');
  });

  it('reads a full Patroni-style sample with every section', () => {
    const { config, warnings } = loadConfigFile(fixture('full.yml'), { env: {} });
    assert.deepEqual(warnings, []);
    assert.equal(config.scope, 'batman');
    assert.equal(config.name, 'postgresql1');
    assert.deepEqual(config.restapi.authentication, { username: 'username', password: 'password' });
    assert.deepEqual(etcdEndpoints(config), ['http://127.0.0.1:2379', 'http://127.0.0.2:2379']);
    assert.deepEqual(config.bootstrap.initdb, [{ encoding: 'UTF8' }, 'data-checksums']);
    assert.deepEqual(config.bootstrap.users, { admin: { password: 'admin%', options: ['createrole', 'createdb'] } });
    assert.deepEqual(config.postgresql.basebackup, ['verbose', { 'max-rate': '100M' }]);
    assert.equal(config.postgresql.authentication.rewind?.username, 'rewind_user');
    assert.deepEqual(config.postgresql.parameters, {
      unix_socket_directories: '..',
      shared_buffers: '128MB',
      work_mem: 4096,
      fsync: true,
    });
    assert.equal(config.postgresql.pg_ctl_timeout, 30);
    assert.equal(config.tags.replicatefrom, 'postgresql0');
    assert.equal(config.tags['datacenter'], 'west');
    assert.equal(config.tags['rack'], 3);
    assert.equal(config.log.level, 'DEBUG', 'the log level is case-insensitive');
  });

  it('keeps bootstrap.dcs exactly as written, without adding defaults', () => {
    const { config } = loadConfigFile(fixture('full.yml'), { env: {} });
    assert.deepEqual(config.bootstrap.dcs, {
      ttl: 30,
      loop_wait: 10,
      retry_timeout: 10,
      maximum_lag_on_failover: 1048576,
      postgresql: { use_pg_rewind: true, parameters: null },
    });
  });

  it('returns a deeply frozen configuration', () => {
    const { config } = loadConfigFile(fixture('full.yml'), { env: {} });
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.postgresql.authentication.superuser));
    assert.ok(Object.isFrozen(config.bootstrap.initdb));
    assert.ok(Object.isFrozen(config.bootstrap.dcs['postgresql']));
    assert.throws(() => {
      (config.postgresql as { data_dir: string }).data_dir = '/elsewhere';
    }, TypeError);
  });

  it('treats a section whose lines are all commented out as absent', () => {
    const { config } = load(minimalWith({ tags: 'tags:\n#  nofailover: true', log: 'log:' }));
    assert.deepEqual(config.tags, {});
    assert.equal(config.log.level, 'INFO');
  });

  it('keeps an unquoted date as the string written and supports YAML merge keys', () => {
    const { config } = load(
      minimalWith({
        tags: 'tags: {installed: 2024-01-31}',
        postgresql: [
          'postgresql:',
          '  listen: 127.0.0.1:5432',
          '  connect_address: 127.0.0.1:5432',
          '  data_dir: d',
          '  authentication:',
          '    superuser: &su {username: postgres, password: secret}',
          '    replication: {<<: *su, username: replicator}',
        ].join('\n'),
      }),
    );
    assert.equal(config.tags['installed'], '2024-01-31');
    assert.deepEqual(config.postgresql.authentication.replication, { username: 'replicator', password: 'secret' });
  });

  it('accepts the log level aliases warn and fatal', () => {
    assert.equal(load(minimalWith({ log: 'log: {level: warn}' })).config.log.level, 'WARNING');
    assert.equal(load(minimalWith({ log: 'log: {level: Fatal}' })).config.log.level, 'CRITICAL');
  });
});

describe('reporting problems', () => {
  it('names each missing required key by its dotted path', () => {
    const problems = problemsOf(
      minimalWith({
        name: null,
        postgresql: 'postgresql:\n  listen: 127.0.0.1:5432\n  connect_address: 127.0.0.1:5432\n  authentication: {superuser: {username: postgres}}',
      }),
    );
    assert.deepEqual(problems, [
      'name: required',
      'postgresql.authentication.replication: required',
      'postgresql.data_dir: required',
    ]);
  });

  it('names the expected type when a value has the wrong type', () => {
    const problems = problemsOf(
      minimalWith({
        scope: 'scope: [a, b]',
        tags: 'tags: {nofailover: yes, nosync: 1}',
        bootstrap: 'bootstrap:\n  users:\n    admin: {password: 1234}\n  pg_hba: host all all 0.0.0.0/0 md5',
      }),
    );
    assert.deepEqual(problems, [
      'bootstrap.pg_hba: must be a list',
      'bootstrap.users.admin.password: must be a string (quote the value in YAML)',
      'scope: must be a string',
      'tags.nofailover: must be true or false (got \'yes\'; write true or false)',
      'tags.nosync: must be true or false',
    ]);
  });

  it('rejects an unknown key and suggests the key that was probably meant', () => {
    const problems = problemsOf(
      minimalWith({
        restapi: 'restapi:\n  lisen: 127.0.0.1:8008\n  connect_address: 127.0.0.1:8008',
        postgresq: 'postgresq: {}',
        tags: 'tags: {replicatfrom: node2}',
      }),
    );
    assert.ok(problems.includes('restapi.lisen: unknown key (did you mean listen?)'));
    assert.ok(problems.includes('restapi.listen: required'));
    assert.ok(problems.includes('postgresq: unknown key (did you mean postgresql?)'));
    assert.ok(!problems.some((p) => p.startsWith('tags.')), 'custom tags are free-form');
  });

  it('rejects an unknown key without a suggestion when nothing is close', () => {
    const problems = problemsOf(minimalWith({ etcd3: 'etcd3:\n  host: 127.0.0.1:2379\n  frobnicate: 3' }));
    assert.deepEqual(problems, ['etcd3.frobnicate: unknown key']);
  });

  it('rejects addresses that are not host:port', () => {
    const problems = problemsOf(
      minimalWith({
        restapi: 'restapi:\n  listen: 127.0.0.1\n  connect_address: 127.0.0.1:70000',
        postgresql: [
          'postgresql:',
          '  listen: "127.0.0.1,:5432"',
          '  connect_address: localhost:port',
          '  data_dir: d',
          '  authentication: {superuser: {username: s}, replication: {username: r}}',
        ].join('\n'),
      }),
    );
    assert.deepEqual(problems, [
      'postgresql.connect_address: must be host:port',
      'postgresql.listen: must be host[,host...]:port',
      'restapi.connect_address: must be host:port',
      'restapi.listen: must be host:port',
    ]);
  });

  it('enforces the timing rule on bootstrap.dcs', () => {
    const problems = problemsOf(minimalWith({ bootstrap: 'bootstrap:\n  dcs: {ttl: 20}' }));
    assert.deepEqual(problems, ['bootstrap.dcs: loop_wait (10) + 2*retry_timeout (10) = 30 must be <= ttl (20)']);
  });

  it('enforces the minimum of each timing setting in bootstrap.dcs', () => {
    const problems = problemsOf(minimalWith({ bootstrap: 'bootstrap:\n  dcs: {ttl: 4, loop_wait: 0, retry_timeout: 1}' }));
    assert.deepEqual(problems, ['bootstrap.dcs.loop_wait: must be >= 1', 'bootstrap.dcs.ttl: must be >= 5']);
  });

  it('reports a YAML syntax error with file, line and column', () => {
    const path = writeTemp('scope: demo\nname: node1\nrestapi:\n  listen: [127.0.0.1:8008\n');
    assert.throws(
      () => loadConfigFile(path, { env: {} }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.equal(e.problems.length, 1);
        assert.match(e.problems[0] ?? '', new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:5:1: YAML syntax error: `));
        return true;
      },
    );
  });

  it('reports a duplicated key as a YAML error with its line', () => {
    const problems = problemsOf('scope: a\nname: b\nscope: c\n');
    assert.match(problems[0] ?? '', /:3:1: YAML syntax error: duplicated mapping key/);
  });

  it('explains an empty file and a file that is not a mapping', () => {
    assert.deepEqual(problemsOf('# nothing here\n'), [
      'the file is empty: expected a mapping with scope, name, restapi, etcd3 and postgresql',
    ]);
    assert.deepEqual(problemsOf('- scope: demo\n'), ['(top level): must be a mapping of settings (key: value), got a list']);
  });

  it('explains a file that cannot be read', () => {
    assert.throws(
      () => loadConfigFile('/nonexistent/pgwarden.yml', { env: {} }),
      (e: unknown) => e instanceof ConfigError && /^cannot read the file: .*ENOENT/.test(e.problems[0] ?? ''),
    );
  });

  it('asks for an etcd section to be renamed etcd3 instead of only saying etcd3 is missing', () => {
    const problems = problemsOf(minimalWith({ etcd3: null, etcd: 'etcd:\n  host: 127.0.0.1:2379' }));
    assert.deepEqual(problems, [
      'etcd: pgwarden speaks the etcd v3 API only: rename this section to etcd3 (same keys; etcd 3.4+ serves v3)',
    ]);
  });

  it('refuses other DCS sections, and a watchdog mode or margin Patroni does not know', () => {
    const problems = problemsOf(minimalWith({ consul: 'consul: {host: 127.0.0.1:8500}', watchdog: 'watchdog: {mode: sometimes, safety_margin: -2}' }));
    assert.deepEqual(problems, [
      'consul: pgwarden speaks only the etcd v3 API: configure an etcd3 section instead',
      'watchdog.mode: must be one of: off, automatic, required',
      'watchdog.safety_margin: must be >= -1',
    ]);
    assert.deepEqual(load(minimalWith({ watchdog: 'watchdog: {mode: required, device: /dev/watchdog1, safety_margin: -1}' })).config.watchdog, {
      mode: 'required', device: '/dev/watchdog1', safety_margin: -1,
    });
  });

  it('requires a member name made of letters, digits, underscore, dot and dash', () => {
    assert.deepEqual(problemsOf(minimalWith({ name: 'name: node 1' })), [
      "name: must contain only letters, digits, '_', '.' and '-' (it is part of etcd keys and URLs)",
    ]);
  });

  it('lists every problem of a file at once, sorted by path', () => {
    const text = [
      'scope: demo',
      'name: "bad/name"',
      'restapi: {listen: 8008, connect_address: "127.0.0.1:8008", certfile: 3}',
      'etcd3: {host: 127.0.0.1:2379, hosts: [127.0.0.1:2380], protocol: grpc}',
      'bootstrap: {dcs: {ttl: 15, pause: perhaps}}',
      'postgresql: {listen: 127.0.0.1:5432, connect_address: 127.0.0.1:5432, authentication: {superuser: {}, replication: {username: r}}}',
      'log: {level: verbose}',
    ].join('\n');
    assert.deepEqual(problemsOf(text), [
      'bootstrap.dcs: loop_wait (10) + 2*retry_timeout (10) = 30 must be <= ttl (15)',
      'bootstrap.dcs.pause: must be true or false (on/off, yes/no and 1/0 are accepted)',
      'etcd3: set either host or hosts, not both',
      'etcd3.protocol: must be one of: http, https',
      'log.level: must be one of: DEBUG, INFO, WARNING, ERROR, CRITICAL',
      "name: must contain only letters, digits, '_', '.' and '-' (it is part of etcd keys and URLs)",
      'postgresql.authentication.superuser.username: required',
      'postgresql.data_dir: required',
      'restapi.certfile: must be a string (quote the value in YAML)',
      'restapi.listen: must be a string (quote the value in YAML)',
    ]);
  });
});

describe('etcd3 endpoints', () => {
  it('accepts hosts as a YAML list and as a comma-separated string alike', () => {
    const asList = load(minimalWith({ etcd3: 'etcd3:\n  hosts:\n    - 10.0.0.1:2379\n    - 10.0.0.2:2379' })).config;
    const asString = load(minimalWith({ etcd3: "etcd3:\n  hosts: '10.0.0.1:2379, 10.0.0.2:2379'" })).config;
    assert.deepEqual(asList.etcd3.hosts, ['10.0.0.1:2379', '10.0.0.2:2379']);
    assert.deepEqual(asString.etcd3.hosts, asList.etcd3.hosts);
    assert.deepEqual(etcdEndpoints(asString), ['http://10.0.0.1:2379', 'http://10.0.0.2:2379']);
  });

  it('uses port 2379 when a host has none and https when asked', () => {
    const { config } = load(minimalWith({ etcd3: 'etcd3: {host: etcd.local, protocol: https}' }));
    assert.deepEqual(etcdEndpoints(config), ['https://etcd.local:2379']);
  });

  it('requires host or hosts and rejects a bad entry in a host list by its index', () => {
    assert.deepEqual(problemsOf(minimalWith({ etcd3: 'etcd3: {protocol: http}' })), ['etcd3: host or hosts is required']);
    assert.deepEqual(problemsOf(minimalWith({ etcd3: 'etcd3: {hosts: "10.0.0.1:2379,10.0.0.2:99999"}' })), [
      'etcd3.hosts.1: must be host:port (or host, meaning port 2379)',
    ]);
  });
});

describe('warnings for accepted Patroni keys pgwarden does not act on', () => {
  it('loads the file and returns one warning per such key', () => {
    const { warnings } = load(
      minimalWith({
        restapi: 'restapi:\n  listen: 127.0.0.1:8008\n  connect_address: 127.0.0.1:8008\n  server_tokens: Minimal',
        log: 'log: {level: INFO, dir: /var/log/pgwarden}',
        citus: 'citus: {group: 0, database: citus}',
        loop_wait: 'loop_wait: 5',
      }),
    );
    assert.deepEqual(warnings, [
      'citus: Citus clusters are not supported by pgwarden; the section is ignored',
      'log.dir: ignored: pgwarden writes its log to stderr in its own format',
      'loop_wait: ignored: dynamic settings are read only from etcd /config; set it under bootstrap.dcs or change it with edit-config',
      'restapi.server_tokens: accepted for Patroni compatibility but not acted on by pgwarden yet',
    ]);
  });

  it('warns about local parameters that only the dynamic configuration or pgwarden itself sets', () => {
    const { warnings, config } = load(
      minimalWith({
        postgresql: [
          'postgresql:',
          '  listen: 127.0.0.1:5432',
          '  connect_address: 127.0.0.1:5432',
          '  data_dir: d',
          '  authentication: {superuser: {username: s}, replication: {username: r}}',
          '  parameters: {max_connections: 500, port: 6000, work_mem: 64MB}',
        ].join('\n'),
      }),
    );
    assert.deepEqual(warnings, [
      'postgresql.parameters.max_connections: ignored: it is taken only from the dynamic configuration (bootstrap.dcs.postgresql.parameters or edit-config)',
      'postgresql.parameters.port: ignored: pgwarden sets it from postgresql.listen',
    ]);
    assert.equal(config.postgresql.parameters?.['work_mem'], '64MB');
  });

  it('accepts the sections of custom bootstrap and replica methods with a warning', () => {
    const { warnings } = load(
      minimalWith({
        bootstrap: 'bootstrap:\n  method: clone\n  clone: {command: /usr/local/bin/clone.sh}',
        postgresql: [
          'postgresql:',
          '  listen: 127.0.0.1:5432',
          '  connect_address: 127.0.0.1:5432',
          '  data_dir: d',
          '  authentication: {superuser: {username: s}, replication: {username: r}}',
          '  create_replica_methods: [wal_g, basebackup]',
          '  wal_g: {command: wal-g backup-fetch}',
        ].join('\n'),
      }),
    );
    assert.deepEqual(warnings, [
      "bootstrap.method: custom bootstrap method 'clone' is not supported yet; pgwarden bootstraps with initdb",
      "postgresql.create_replica_methods: replica method 'wal_g' is not supported yet; pgwarden uses basebackup",
    ]);
  });
});

describe('environment overrides', () => {
  it('apply PATRONI_ variables before validation, so they can fill required keys', () => {
    const text = minimalWith({ name: null, etcd3: 'etcd3: {host: 127.0.0.1:2379}' });
    const { config } = load(text, {
      PATRONI_NAME: 'from-env',
      PATRONI_POSTGRESQL_DATA_DIR: '/srv/pg',
      PATRONI_ETCD3_HOSTS: "'10.0.0.1:2379','10.0.0.2:2379'",
      PATRONI_RESTAPI_LISTEN: '0.0.0.0:8100',
    });
    assert.equal(config.name, 'from-env');
    assert.equal(config.postgresql.data_dir, '/srv/pg');
    assert.equal(config.restapi.listen, '0.0.0.0:8100');
    assert.deepEqual(config.etcd3.hosts, ['10.0.0.1:2379', '10.0.0.2:2379']);
    assert.equal(config.etcd3.host, undefined, 'an env hosts list replaces the file host');
  });

  it('prefer PGWARDEN_ over PATRONI_ when both are set', () => {
    const { config } = load(minimalWith(), { PATRONI_SCOPE: 'patroni-scope', PGWARDEN_SCOPE: 'pgwarden-scope' });
    assert.equal(config.scope, 'pgwarden-scope');
  });

  it('are validated like the file itself', () => {
    assert.deepEqual(problemsOf(minimalWith(), { PATRONI_POSTGRESQL_CONNECT_ADDRESS: 'nowhere' }), [
      'postgresql.connect_address: must be host:port',
    ]);
  });
});
