import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../../src/errors.js';
import { loadConfigFile, type LoadResult } from '../../../src/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'pgwarden-config-test-'));
let counter = 0;
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** Writes `text` to a fresh file under the OS temp directory and returns its path. */
export function writeTemp(text: string): string {
  counter += 1;
  const path = join(dir, `node${counter}.yml`);
  writeFileSync(path, text);
  return path;
}

/** Path of a file in test/fixtures/config. */
export function fixture(name: string): string {
  return fileURLToPath(new URL(`../../fixtures/config/${name}`, import.meta.url));
}

/** Loads YAML text through a temp file with an empty environment. */
export function load(text: string, env: Record<string, string> = {}): LoadResult {
  return loadConfigFile(writeTemp(text), { env });
}

/** Loads YAML text that must fail and returns the ConfigError's problem lines. */
export function problemsOf(text: string, env: Record<string, string> = {}): readonly string[] {
  const path = writeTemp(text);
  try {
    loadConfigFile(path, { env });
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    assert.equal(e.code, 'CONFIG_INVALID');
    assert.ok(e.message.startsWith(`${path}: invalid configuration`));
    return e.problems;
  }
  assert.fail('expected the configuration to be rejected');
}

/** The sections of a minimal valid file, by top-level key. */
const SECTIONS: Readonly<Record<string, string>> = {
  scope: 'scope: demo',
  name: 'name: node1',
  restapi: 'restapi:\n  listen: 127.0.0.1:8008\n  connect_address: 127.0.0.1:8008',
  etcd3: 'etcd3:\n  host: 127.0.0.1:2379',
  postgresql: [
    'postgresql:',
    '  listen: 127.0.0.1:5432',
    '  connect_address: 127.0.0.1:5432',
    '  data_dir: data/node1',
    '  authentication:',
    '    superuser: {username: postgres}',
    '    replication: {username: replicator, password: rep-pass}',
  ].join('\n'),
};

/** The minimal `postgresql` section with `extra` lines (indented by the caller) added to it. */
export function postgresqlWith(extra: string): string {
  return `${SECTIONS['postgresql']!}\n${extra}`;
}

/**
 * A minimal valid file with some top-level sections replaced (value = the section's YAML text,
 * starting with its key), added (new keys), or removed (null).
 */
export function minimalWith(changes: Record<string, string | null> = {}): string {
  const merged: Record<string, string | null> = { ...SECTIONS, ...changes };
  return `${Object.values(merged)
    .filter((v): v is string => v !== null)
    .join('\n')}\n`;
}
