import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../../src/errors.js';
import { confValue, conninfo, INCLUDE_LINE, PRIMARY_RECOVERY, programOptions, renderHba, renderParameters, renderPgpass, renderReplicaRecovery, syncOverrideOf, withIncludeLine } from '../../../src/postgres/conf.js';

const settings = { replicationUser: 'replicator', applicationName: 'pg 1', passfile: '/tmp/pgpass pg1' };

describe('postgresql.conf values', () => {
  it('writes numbers bare, booleans as on/off and strings single-quoted with quotes doubled', () => {
    assert.equal(confValue(100), '100');
    assert.equal(confValue(0.9), '0.9');
    assert.equal(confValue(true), 'on');
    assert.equal(confValue(false), 'off');
    assert.equal(confValue("it's"), "'it''s'");
  });

  it('escapes backslashes and control characters the way the GUC scanner reads them back', () => {
    assert.equal(confValue('C:\\dir'), "'C:\\\\dir'");
    assert.equal(confValue('a\nb\tc\r'), "'a\\nb\\tc\\r'");
  });

  it('rejects a number that is not finite', () => {
    assert.throws(() => confValue(Number.NaN), ConfigError);
  });
});

describe('pgwarden.conf', () => {
  it('lists parameters sorted by name and includes the recovery file last', () => {
    const lines = renderParameters({ port: 5432, archive_mode: false, cluster_name: 'batman' }).trim().split('\n');
    assert.match(lines[0]!, /^# Written by pgwarden/);
    assert.deepEqual(lines.slice(1), ['archive_mode = off', "cluster_name = 'batman'", 'port = 5432', "include_if_exists = 'pgwarden.recovery.conf'"]);
  });

  it('skips null values and accepts extension parameters with a dot', () => {
    const text = renderParameters({ 'pg_stat_statements.max': 1000, work_mem: null, shared_buffers: undefined });
    assert.match(text, /^pg_stat_statements\.max = 1000$/m);
    assert.doesNotMatch(text, /work_mem|shared_buffers/);
  });

  it('writes synchronous mode\'s override marked and after the parameters, and reads it back', () => {
    for (const names of ['1 ("n2")', '2 ("a","we""ird")', '*', '', "it's \\ odd\n"]) {
      const text = renderParameters({ synchronous_standby_names: 'configured', port: 5432 }, names);
      assert.equal(text.match(/^synchronous_standby_names = /gm)?.length, 1, text);
      assert.match(text, /^port = 5432\n# synchronous_standby_names is set by synchronous mode.*\nsynchronous_standby_names = /m);
      assert.equal(syncOverrideOf(text), names);
    }
  });

  it('reads no override from a file without the mark, even with a configured synchronous_standby_names', () => {
    const text = renderParameters({ synchronous_standby_names: '1 ("n9")', port: 5432 });
    assert.match(text, /^synchronous_standby_names = '1 \("n9"\)'$/m);
    assert.equal(syncOverrideOf(text), null);
    assert.equal(syncOverrideOf(''), null);
  });

  it('refuses names that could inject lines or break the include chain, naming each one', () => {
    assert.throws(
      () => renderParameters({ 'x = 1\nport': 1, include_dir: 'conf.d', ok: 1 }),
      (e) => e instanceof ConfigError && e.problems.length === 2 && e.problems.some((p) => p.includes('include_dir')),
    );
  });
});

describe('the include line in postgresql.conf', () => {
  it('is appended once, on its own line, even when the file lacks a final newline', () => {
    const once = withIncludeLine('max_connections = 100');
    assert.ok(once !== null);
    assert.ok(once.startsWith('max_connections = 100\n'));
    assert.ok(once.endsWith(`${INCLUDE_LINE}\n`));
    assert.equal(withIncludeLine(once), null);
  });

  it('is recognised with surrounding whitespace and not confused with a commented-out copy', () => {
    assert.equal(withIncludeLine(`  ${INCLUDE_LINE}  \n`), null);
    assert.notEqual(withIncludeLine(`# ${INCLUDE_LINE}\n`), null);
  });
});

describe('recovery settings', () => {
  it('points a replica at its upstream by replication user, member name and passfile, with its slot and the latest timeline', () => {
    const text = renderReplicaRecovery({ ...settings, upstream: { name: 'pg2', host: '127.0.0.1', port: 5433 }, slotName: 'pg1' });
    assert.match(text, /^primary_conninfo = 'host=127\.0\.0\.1 port=5433 user=replicator application_name=''pg 1'' passfile=''\/tmp\/pgpass pg1'' sslmode=prefer'$/m);
    assert.match(text, /^primary_slot_name = 'pg1'$/m);
    assert.match(text, /^recovery_target_timeline = 'latest'$/m);
  });

  it('gives a standby without upstream an empty conninfo and no slot, written out so a reload clears them', () => {
    const text = renderReplicaRecovery({ ...settings, upstream: null, slotName: 'pg1' });
    assert.match(text, /^primary_conninfo = ''$/m);
    assert.match(text, /^primary_slot_name = ''$/m);
  });

  it('leaves a primary with no recovery settings at all', () => {
    assert.doesNotMatch(PRIMARY_RECOVERY, /^[a-z_]+ =/m);
  });
});

describe('connection strings', () => {
  it('quotes values with spaces or quotes and escapes backslashes and quotes, leaving out empty values', () => {
    assert.equal(conninfo({ host: 'h', user: "o'k", password: 'a\\b c', port: 1, empty: '', none: undefined }), "host=h user='o\\'k' password='a\\\\b c' port=1");
  });
});

describe('pgpass', () => {
  it('writes a wildcard line per user with a password, escaping colons and backslashes, once per user', () => {
    const text = renderPgpass([{ username: 'a', password: 'p:w\\' }, { username: 'b' }, { username: 'a', password: 'other' }]);
    assert.equal(text, '*:*:*:a:p\\:w\\\\\n');
  });

  it('refuses a password with a line break, which pgpass cannot hold', () => {
    assert.throws(() => renderPgpass([{ username: 'a', password: 'x\ny' }]), ConfigError);
  });
});

describe('pg_hba.conf', () => {
  it('writes configured lines verbatim after a header', () => {
    assert.match(renderHba(['host all all 10.0.0.0/8 md5']), /^# .*\nhost all all 10\.0\.0\.0\/8 md5\n$/);
  });

  it('defaults to loopback only, with passwords for every database and for replication', () => {
    const rules = renderHba([]).split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    assert.ok(rules.includes('host all all 127.0.0.1/32 md5'));
    assert.ok(rules.includes('host replication all 127.0.0.1/32 md5'));
    assert.ok(rules.every((l) => l.startsWith('local ') || / (127\.0\.0\.1\/32|::1\/128) /.test(l)));
    assert.ok(rules.every((l) => !/ trust$/.test(l)));
  });
});

describe('program options', () => {
  it('turns Patroni-style lists and maps into long options', () => {
    assert.deepEqual(programOptions([{ encoding: 'UTF8' }, 'data-checksums']), ['--encoding=UTF8', '--data-checksums']);
    assert.deepEqual(programOptions({ 'max-rate': '100M', checkpoint: 'fast' }), ['--max-rate=100M', '--checkpoint=fast']);
    assert.deepEqual(programOptions(['--verbose', { '--label': 'pgwarden clone' }]), ['--verbose', '--label=pgwarden clone']);
  });
});
