import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Given, Then, When } from '@cucumber/cucumber';
import type { PgWorld } from '../support/world.js';

const PATRONICTL = '/usr/bin/patronictl';

/** Runs patronictl with postgres0's YAML (bounded); fails the step on a non-zero exit. */
function patronictl(world: PgWorld, args: string[]): string {
  const node = world.cluster.node('postgres0');
  const r = spawnSync(PATRONICTL, ['-c', node.configPath, ...args], { encoding: 'utf8', timeout: 120_000 });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  world.note(`patronictl ${args.join(' ')} → exit ${String(r.status)}${out.trim() ? `\n${out.trim()}` : ''}`);
  assert.equal(r.status, 0, `patronictl ${args.join(' ')} exited with ${String(r.status)}: ${out}`);
  return out;
}

Given('patronictl is installed', function (this: PgWorld) {
  const r = spawnSync(PATRONICTL, ['version'], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) {
    process.stderr.write(`  | skipped: ${PATRONICTL} is not installed (as root: apt-get install -y patroni)\n`);
    return 'skipped';
  }
  this.note(r.stdout.trim());
  return undefined;
});

When(/^I run patronictl (.+)$/, function (this: PgWorld, args: string) {
  patronictl(this, args.split(/\s+/));
});

Then('patronictl list shows {node} as Leader', function (this: PgWorld, name: string) {
  const out = patronictl(this, ['list']);
  const line = out.split('\n').find((l) => l.includes(`| ${name} `));
  assert.ok(line && /\|\s*Leader\s*\|/.test(line), `no Leader row for ${name} in:\n${out}`);
});

Then('patronictl topology, history, show-config, dsn and version succeed', function (this: PgWorld) {
  assert.match(patronictl(this, ['topology']), /postgres0/);
  patronictl(this, ['history']);
  assert.match(patronictl(this, ['show-config']), /loop_wait: 2/);
  assert.match(patronictl(this, ['dsn']), /host=127\.0\.0\.1 port=\d+/);
  assert.match(patronictl(this, ['version', 'batman', 'postgres0']), /postgres0: Patroni .* PostgreSQL 15/);
});
