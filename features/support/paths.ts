import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Root of the pgwarden checkout (features/support/ is two levels down). */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * The agent entry point the features run: `node bin/pgwarden.js <file.yml>`.
 * PGWARDEN_AGENT_JS overrides it (another build, or a stand-in when testing the harness).
 */
export const AGENT_BIN = process.env.PGWARDEN_AGENT_JS ?? join(REPO, 'bin', 'pgwarden.js');
export const AGENT_DIST = process.env.PGWARDEN_AGENT_JS ?? join(REPO, 'dist', 'cli', 'agent.js');

export const PG_BIN_DIR = process.env.PGWARDEN_PG_BIN ?? '/usr/lib/postgresql/15/bin';
export const HAPROXY_BIN = existsSync('/usr/sbin/haproxy') ? '/usr/sbin/haproxy' : 'haproxy';

function stamp(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}-${process.pid}`;
}

/**
 * `/tmp/pgwarden-features/<run>/`: one directory per cucumber run. Kept short on purpose: the
 * PostgreSQL unix socket lives under a scenario directory and socket paths are limited to 107 bytes.
 */
export const RUN_DIR = join(process.env.PGWARDEN_FEATURES_DIR ?? join(tmpdir(), 'pgwarden-features'), stamp());

let scenarioCounter = 0;

/** Creates `<run>/<NN-slug>/` for a scenario and returns its path. */
export function makeScenarioDir(name: string): string {
  scenarioCounter++;
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 28);
  const dir = join(RUN_DIR, `${String(scenarioCounter).padStart(2, '0')}-${slug}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}
