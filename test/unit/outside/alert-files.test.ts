import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AlertFiles, type AlertFileContent } from '../../../src/outside/alert-files.js';
import { recordingLogger, tempDir } from './helpers.js';

const T0 = new Date('2026-11-22T12:00:00.000Z');
const T1 = new Date('2026-11-22T13:00:00.000Z');
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function setup(now: Date = T0) {
  const dir = tempDir('alerts');
  dirs.push(dir);
  const log = recordingLogger();
  return { dir, log, alerts: new AlertFiles(dir, log, () => now) };
}

const read = (dir: string, name: string): AlertFileContent => JSON.parse(readFileSync(join(dir, name), 'utf8')) as AlertFileContent;

describe('AlertFiles', () => {
  it('creates the file of a raised alert with its start time and details, and removes it when cleared', () => {
    const { dir, log, alerts } = setup();
    alerts.set('replication_delay_warning', true, { members: ['n3'] });
    assert.deepEqual(read(dir, 'replication_delay_warning'), { alert: 'replication_delay_warning', since: T0.toISOString(), details: { members: ['n3'] } });
    assert.deepEqual(readdirSync(dir), ['replication_delay_warning'], 'no temporary file is left behind');
    assert.deepEqual(alerts.active(), ['replication_delay_warning']);
    alerts.set('replication_delay_warning', false);
    assert.deepEqual(readdirSync(dir), []);
    assert.deepEqual(alerts.active(), []);
    assert.deepEqual(log.lines, [
      'WARNING alert replication_delay_warning raised: {"members":["n3"]}',
      `INFO alert replication_delay_warning cleared (raised since ${T0.toISOString()})`,
    ]);
  });

  it('does no I/O and logs nothing when called again with the state already in force', () => {
    const { dir, log, alerts } = setup();
    alerts.set('authentication_error', true);
    rmSync(join(dir, 'authentication_error'));
    alerts.set('authentication_error', true);
    alerts.set('authentication_error', true, { other: 'details' });
    assert.equal(existsSync(join(dir, 'authentication_error')), false, 'a repeated raise wrote the file again');
    alerts.set('multiple_primary_warning', false);
    writeFileSync(join(dir, 'multiple_primary_warning'), 'put there by hand');
    alerts.set('multiple_primary_warning', false);
    assert.equal(existsSync(join(dir, 'multiple_primary_warning')), true, 'a repeated clear touched the directory');
    assert.deepEqual(log.lines, ['WARNING alert authentication_error raised']);
  });

  it('adopts the files a previous run left: no second warning, the start time kept, cleared normally', () => {
    const first = setup(T0);
    first.alerts.set('multiple_primary_warning', true, { primaries: ['n1', 'n2'] });
    writeFileSync(join(first.dir, 'authentication_error'), '');
    writeFileSync(join(first.dir, '.replication_delay_warning.4242.tmp'), '{"alert":');
    writeFileSync(join(first.dir, 'unrelated.txt'), 'kept');

    const log = recordingLogger();
    const restarted = new AlertFiles(first.dir, log, () => T1);
    assert.deepEqual(restarted.active(), ['authentication_error', 'multiple_primary_warning']);
    assert.deepEqual(readdirSync(first.dir).sort(), ['authentication_error', 'multiple_primary_warning', 'unrelated.txt'], 'the stale temporary file is removed');
    restarted.set('multiple_primary_warning', true, { primaries: ['n1', 'n2'] });
    assert.equal(read(first.dir, 'multiple_primary_warning').since, T0.toISOString());
    restarted.set('multiple_primary_warning', false);
    assert.equal(existsSync(join(first.dir, 'multiple_primary_warning')), false);
    assert.equal(log.lines.filter((l) => l.startsWith('WARNING')).length, 0);
    assert.equal(log.lines.at(-1), `INFO alert multiple_primary_warning cleared (raised since ${T0.toISOString()})`);
    assert.match(log.lines[0]!, /^INFO alert authentication_error still raised since \S+ \(found .*authentication_error\)$/);
  });

  it('keeps failover_has_happened until the operator deletes it, then raises it again on the next failover', () => {
    const { dir, log, alerts } = setup();
    const file = join(dir, 'failover_has_happened');
    alerts.set('failover_has_happened', true, { from: 'n1', to: 'n2' });
    alerts.set('failover_has_happened', false);
    assert.equal(existsSync(file), true, 'pgwarden removed the failover alert');
    alerts.set('failover_has_happened', true, { from: 'n2', to: 'n3' });
    assert.deepEqual(read(dir, 'failover_has_happened').details, { from: 'n1', to: 'n2' }, 'unacknowledged: the first failover stays on record');
    rmSync(file);
    alerts.set('failover_has_happened', true, { from: 'n2', to: 'n3' });
    assert.deepEqual(read(dir, 'failover_has_happened').details, { from: 'n2', to: 'n3' });
    assert.deepEqual(log.lines, [
      'WARNING alert failover_has_happened raised: {"from":"n1","to":"n2"}',
      `INFO alert failover_has_happened acknowledged: ${file} was removed`,
      'WARNING alert failover_has_happened raised: {"from":"n2","to":"n3"}',
    ]);
  });

  it('never throws on an unusable directory: one error naming the path, and the transitions still logged', () => {
    const base = tempDir('alerts-bad');
    dirs.push(base);
    const notADir = join(base, 'a-file');
    writeFileSync(notADir, '');
    const log = recordingLogger();
    const alerts = new AlertFiles(notADir, log, () => T0);
    alerts.set('authentication_error', true);
    alerts.set('authentication_error', true);
    alerts.set('authentication_error', true);
    const errors = log.lines.filter((l) => l.startsWith('ERROR'));
    assert.equal(errors.length, 2, log.lines.join('\n'));
    assert.match(errors[0]!, new RegExp(`^ERROR cannot read alert_file_dir ${notADir}: `));
    assert.match(errors[1]!, new RegExp(`^ERROR could not create alert file ${join(notADir, 'authentication_error')}: .*ENOTDIR`));
    assert.deepEqual(log.lines.filter((l) => l.startsWith('WARNING')), ['WARNING alert authentication_error raised']);
    assert.deepEqual(alerts.active(), ['authentication_error']);
  });

  it('never throws on details that cannot be serialised', () => {
    const { log, alerts } = setup();
    const circular: Record<string, unknown> = {};
    circular['self'] = circular;
    assert.doesNotThrow(() => alerts.set('authentication_error', true, circular));
    assert.equal(log.lines[0], 'WARNING alert authentication_error raised: (details not serialisable)');
    assert.match(log.lines[1]!, /^ERROR could not create alert file .*authentication_error: Converting circular structure/);
  });

  it('creates the file once the directory becomes usable', () => {
    const base = tempDir('alerts-late');
    dirs.push(base);
    const dir = join(base, 'later');
    const log = recordingLogger();
    const alerts = new AlertFiles(dir, log, () => T0);
    alerts.set('replication_delay_warning', true);
    assert.equal(existsSync(join(dir, 'replication_delay_warning')), false);
    mkdirSync(dir);
    alerts.set('replication_delay_warning', true);
    assert.equal(read(dir, 'replication_delay_warning').since, T0.toISOString());
    alerts.set('replication_delay_warning', false);
    assert.deepEqual(readdirSync(dir), []);
    assert.equal(log.lines.filter((l) => l.startsWith('ERROR')).length, 2, log.lines.join('\n'));
  });

  it('only logs the transitions when no alert_file_dir is configured', () => {
    const log = recordingLogger();
    const alerts = new AlertFiles(undefined, log, () => T0);
    alerts.set('authentication_error', true);
    alerts.set('authentication_error', true);
    alerts.set('failover_has_happened', true);
    alerts.set('failover_has_happened', true);
    alerts.set('authentication_error', false);
    assert.equal(alerts.pathOf('authentication_error'), undefined);
    assert.deepEqual(log.lines, [
      'WARNING alert authentication_error raised',
      'WARNING alert failover_has_happened raised',
      'WARNING alert failover_has_happened raised again',
      `INFO alert authentication_error cleared (raised since ${T0.toISOString()})`,
    ]);
  });
});
