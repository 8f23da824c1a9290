import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError } from '../../../src/errors.js';
import { loadObserverFile, observerLogin, type ObserverLoadResult } from '../../../src/observe/config.js';
import { lagLimits } from '../../../src/observe/run.js';
import { watchedScopes } from '../../../src/watch/config.js';
import { tempDir } from '../outside/helpers.js';

const dir = tempDir('observe-config');
after(() => rmSync(dir, { recursive: true, force: true }));
let counter = 0;

function write(text: string): string {
  const path = join(dir, `observe${++counter}.yml`);
  writeFileSync(path, text);
  return path;
}

const load = (text: string): ObserverLoadResult => loadObserverFile(write(text));

function problemsOf(text: string): readonly string[] {
  const path = write(text);
  try {
    loadObserverFile(path);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    assert.ok(e.message.startsWith(`${path}: invalid configuration`), e.message);
    return e.problems;
  }
  assert.fail('expected the observer YAML to be rejected');
}

const MINIMAL = `etcd3: {hosts: [127.0.0.1:2379]}
scope: batman
restapi: {listen: 127.0.0.1:8090}
postgresql:
  authentication:
    monitoring: {username: observer, password: secret}
`;

describe('loading an observer YAML', () => {
  it('fills in the defaults of a minimal file', () => {
    const { config, warnings } = load(MINIMAL);
    assert.deepEqual(warnings, []);
    assert.equal(config.namespace, '/service/');
    assert.equal(config.poll_interval, 5);
    assert.equal(config.probe_timeout, 3);
    assert.equal(config.postgresql.database, 'postgres');
    assert.deepEqual(config.heartbeat_table, { enabled: false, name: 'pgwarden.heartbeat' });
    assert.equal(config.alert_file_dir, undefined);
    assert.deepEqual(watchedScopes(config), ['batman']);
    assert.deepEqual(observerLogin(config), { username: 'observer', password: 'secret' });
    assert.deepEqual(lagLimits(config), {});
    assert.ok(Object.isFrozen(config.restapi));
  });

  it('takes the sections a node\'s YAML has, as they are written there', () => {
    const alerts = join(dir, 'alerts');
    mkdirSync(alerts);
    const { config, warnings } = load(`etcd3: {hosts: "127.0.0.1:2379, 127.0.0.2:2379"}
scopes: [batman, robin]
restapi: {listen: 127.0.0.1:8090, authentication: {username: obs, password: x}}
postgresql:
  authentication:
    superuser: {username: postgres, password: s, sslmode: require}
  database: app
alert_file_dir: ${alerts}
warning_replication_bytes_lag: 1048576
warning_replication_time_lag: 30
heartbeat_table: {enabled: true}
log: {level: warn}
`);
    assert.deepEqual(config.etcd3.hosts, ['127.0.0.1:2379', '127.0.0.2:2379']);
    assert.deepEqual(watchedScopes(config), ['batman', 'robin']);
    assert.equal(config.log.level, 'WARNING');
    assert.deepEqual(observerLogin(config), { username: 'postgres', password: 's', sslmode: 'require' });
    assert.deepEqual(lagLimits(config), { bytes: 1_048_576, seconds: 30 });
    assert.deepEqual(warnings, ['postgresql.authentication.superuser.sslmode: not passed to libpq by pgwarden yet']);
  });

  const BAD: [string, string, string[]][] = [
    ['no login at all', MINIMAL.replace(/postgresql:[\s\S]*$/, 'postgresql: {authentication: {}}\n'), ['postgresql.authentication: monitoring (a role with pg_monitor) or superuser is required']],
    [
      'two logins',
      `${MINIMAL}    superuser: {username: postgres, password: x}\n`,
      ['postgresql.authentication: set either monitoring or superuser, not both'],
    ],
    ['neither scope nor scopes', MINIMAL.replace('scope: batman\n', ''), ['scope: required (or scopes: a list of clusters)']],
    ['a scope listed twice', MINIMAL.replace('scope: batman', 'scopes: [batman, batman]'), ["scopes: 'batman' is listed twice"]],
    ['a listen address without a port', MINIMAL.replace('127.0.0.1:8090', '127.0.0.1'), ['restapi.listen: must be host:port']],
    ['a node-only restapi key', MINIMAL.replace('listen: 127.0.0.1:8090', 'listen: 127.0.0.1:8090, connect_address: 127.0.0.1:8090'), ["restapi.connect_address: unknown key"]],
    ['an alert directory that does not exist', `${MINIMAL}alert_file_dir: /nonexistent/alerts\n`, ["alert_file_dir: /nonexistent/alerts must be an existing writable directory (ENOENT: no such file or directory, stat '/nonexistent/alerts')"]],
    ['a poll interval too short', `${MINIMAL}poll_interval: 0.1\n`, ['poll_interval: must be >= 0.5']],
    ['no etcd endpoint', MINIMAL.replace('{hosts: [127.0.0.1:2379]}', '{}'), ['etcd3: host or hosts is required']],
  ];
  for (const [name, text, expected] of BAD) {
    it(`refuses ${name}, naming the key`, () => {
      const problems = problemsOf(text);
      for (const p of expected) assert.ok(problems.some((x) => x.startsWith(p)), `expected "${p}" in:\n${problems.join('\n')}`);
    });
  }

  it('refuses an alert directory it cannot write to', { skip: process.getuid?.() === 0 ? 'root may write anywhere' : false }, () => {
    const ro = join(dir, 'read-only');
    mkdirSync(ro);
    chmodSync(ro, 0o500);
    assert.match(problemsOf(`${MINIMAL}alert_file_dir: ${ro}\n`).join('\n'), /alert_file_dir: .* must be an existing writable directory \(EACCES/);
  });

  it('names an unknown key', () => {
    assert.ok(problemsOf(`${MINIMAL}pol_interval: 3\n`).some((p) => p.startsWith('pol_interval:')));
  });
});
