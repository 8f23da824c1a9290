import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { etcdEndpoints } from '../../../src/config/etcd.js';
import { ConfigError } from '../../../src/errors.js';
import { loadWatchFile, pluginScopes, watchedScopes, type WatchLoadResult } from '../../../src/watch/config.js';
import { pluginSpecs } from '../../../src/watch/run.js';

const dir = mkdtempSync(join(tmpdir(), 'pgwarden-watch-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let counter = 0;
/** `true` and `sh` are found on this PATH. */
const env = { PATH: '/usr/bin:/bin' };

function write(text: string): string {
  const path = join(dir, `watch${++counter}.yml`);
  writeFileSync(path, text);
  return path;
}

function load(text: string): WatchLoadResult {
  return loadWatchFile(write(text), { env });
}

function problemsOf(text: string): readonly string[] {
  const path = write(text);
  try {
    loadWatchFile(path, { env });
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    assert.ok(e.message.startsWith(`${path}: invalid configuration`), e.message);
    return e.problems;
  }
  assert.fail('expected the watch YAML to be rejected');
}

const MINIMAL = `etcd3: {hosts: [127.0.0.1:2379]}
scope: batman
plugins:
  - {name: pgbouncer, command: "true --ini '/etc/pgbouncer/my ini'"}
`;

describe('loading a watch YAML', () => {
  it('fills in the defaults of a minimal file', () => {
    const { config, warnings } = load(MINIMAL);
    assert.deepEqual(warnings, []);
    assert.equal(config.namespace, '/service/');
    assert.equal(config.callback_timeout, 30);
    assert.equal(config.retry_interval, 10);
    assert.equal(config.poll_interval, 2);
    assert.equal(config.log.level, 'INFO');
    assert.deepEqual(watchedScopes(config), ['batman']);
    assert.deepEqual(etcdEndpoints(config), ['http://127.0.0.1:2379']);
    assert.ok(Object.isFrozen(config.plugins[0]));
  });

  it('splits plugin commands like sh, without expanding anything', () => {
    const [spec] = pluginSpecs(load(MINIMAL).config);
    assert.deepEqual(spec?.argv, ['true', '--ini', '/etc/pgbouncer/my ini']);
    assert.deepEqual(spec?.scopes, ['batman']);
  });

  it('gives each plugin every watched scope unless it names its own, in watch order', () => {
    const { config } = load(`etcd3: {host: 127.0.0.1}
scopes: [batman, robin, joker]
plugins:
  - {name: all, command: 'true'}
  - {name: some, command: 'true', scopes: [joker, batman], env: {PGHOST: /tmp}}
`);
    assert.deepEqual(watchedScopes(config), ['batman', 'robin', 'joker']);
    assert.deepEqual(config.plugins.map((p) => pluginScopes(config, p)), [['batman', 'robin', 'joker'], ['batman', 'joker']]);
    assert.deepEqual(pluginSpecs(config)[1]?.env, { PGHOST: '/tmp' });
    assert.deepEqual(etcdEndpoints(config), ['http://127.0.0.1:2379'], 'a host without a port means 2379');
  });

  it("accepts a node YAML's etcd3 section as is, hosts as a comma-separated string included", () => {
    const { config } = load(MINIMAL.replace('{hosts: [127.0.0.1:2379]}', "{hosts: '10.0.0.1:2379, 10.0.0.2:2379', username: w, password: p}"));
    assert.deepEqual(etcdEndpoints(config), ['http://10.0.0.1:2379', 'http://10.0.0.2:2379']);
  });

  it("warns about etcd3 keys pgwarden accepts but does not act on, as for a node's YAML", () => {
    const { warnings } = load(MINIMAL.replace('{hosts: [127.0.0.1:2379]}', '{hosts: [127.0.0.1:2379], srv: example.org}'));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /^etcd3\.srv: /);
  });
});

describe('problems in a watch YAML name the key at fault', () => {
  it('names every missing required key at once', () => {
    assert.deepEqual(problemsOf('namespace: /service/\n'), [
      'etcd3: required',
      'plugins: required',
      'scope: required (or scopes: a list of clusters)',
    ]);
  });

  it('refuses unknown keys with a suggestion, wrong types and out-of-range numbers', () => {
    const problems = problemsOf(`${MINIMAL}retry_intervall: 5\ncallback_timeout: 0\npoll_interval: fast\nlog: {level: chatty}\n`);
    assert.deepEqual(problems, [
      'callback_timeout: must be >= 1',
      'log.level: must be one of: DEBUG, INFO, WARNING, ERROR, CRITICAL',
      'poll_interval: must be a number',
      'retry_intervall: unknown key (did you mean retry_interval?)',
    ]);
  });

  it('checks etcd3 like a node YAML does: exactly one of host and hosts, valid addresses', () => {
    assert.deepEqual(problemsOf(MINIMAL.replace('{hosts: [127.0.0.1:2379]}', '{protocol: http}')), ['etcd3: host or hosts is required']);
    assert.deepEqual(problemsOf(MINIMAL.replace('{hosts: [127.0.0.1:2379]}', '{host: a, hosts: [b]}')), ['etcd3: set either host or hosts, not both']);
    assert.deepEqual(problemsOf(MINIMAL.replace('127.0.0.1:2379', '127.0.0.1:99999')), ['etcd3.hosts.0: must be host:port (or host, meaning port 2379)']);
  });

  it('refuses scope together with scopes, repeated scopes and scope names that cannot be etcd keys', () => {
    assert.deepEqual(problemsOf(MINIMAL.replace('scope: batman', 'scope: batman\nscopes: [robin]')), ['scopes: set either scope or scopes, not both']);
    assert.deepEqual(problemsOf(MINIMAL.replace('scope: batman', 'scopes: [batman, robin, batman]')), ["scopes: 'batman' is listed twice"]);
    assert.deepEqual(problemsOf(MINIMAL.replace('scope: batman', 'scopes: [bat/man]')), ["scopes.0: must contain only letters, digits, '_', '.' and '-'"]);
    assert.deepEqual(problemsOf(MINIMAL.replace('scope: batman', 'scopes: []')), ['scopes: must have at least 1 item(s)']);
  });

  it('names the plugin entry at fault: duplicate names, unknown scopes, programs that cannot run, bad quoting', () => {
    const problems = problemsOf(`etcd3: {host: 127.0.0.1:2379}
scope: batman
plugins:
  - {name: a, command: /nonexistent/plugin --x}
  - {name: a, command: 'true', scopes: [robin]}
  - {name: b, command: "true 'open"}
  - {name: c, command: no-such-program-on-path}
  - {name: d, command: '   '}
  - {name: e f, command: 'true', env: {1BAD: x}}
`);
    assert.deepEqual(problems, [
      "plugins.0.command: program '/nonexistent/plugin' does not exist or is not executable",
      "plugins.1.name: 'a' is used by an earlier plugin; names must be unique",
      "plugins.1.scopes: 'robin' is not a watched scope",
      'plugins.2.command: command "true \'open": unterminated single quote',
      "plugins.3.command: program 'no-such-program-on-path' does not exist or is not executable",
      'plugins.4.command: must name a program',
      "plugins.5.env.1BAD: must be a variable name (letters, digits and '_', not starting with a digit)",
      "plugins.5.name: must contain only letters, digits, '_', '.' and '-'",
    ]);
  });

  it('refuses an empty plugin list and a plugin without a command', () => {
    assert.deepEqual(problemsOf(MINIMAL.replace(/plugins:[\s\S]*/, 'plugins: []\n')), ['plugins: must have at least 1 item(s)']);
    assert.deepEqual(problemsOf(MINIMAL.replace(/plugins:[\s\S]*/, 'plugins: [{name: x}]\n')), ['plugins.0.command: required']);
  });

  it('reports YAML syntax errors with file, line and column, and empty or non-mapping files', () => {
    const path = write('etcd3: {hosts: [a\nscope: x\n');
    assert.throws(() => loadWatchFile(path, { env }), (e: unknown) => e instanceof ConfigError && new RegExp(`${path}:\\d+:\\d+: YAML syntax error`).test(e.message));
    assert.match(problemsOf('')[0] ?? '', /the file is empty/);
    assert.match(problemsOf('- a\n- b\n')[0] ?? '', /^\(top level\): must be a mapping .* got a list/);
    assert.throws(() => loadWatchFile(join(dir, 'missing.yml')), /missing\.yml: invalid configuration\n {2}cannot read the file/);
  });
});
