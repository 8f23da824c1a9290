import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../../../src/log.js';

/** A logger that keeps `LEVEL message` lines for assertions. */
export function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    debug: (m) => lines.push(`DEBUG ${m}`),
    info: (m) => lines.push(`INFO ${m}`),
    warn: (m) => lines.push(`WARNING ${m}`),
    error: (m) => lines.push(`ERROR ${m}`),
    critical: (m) => lines.push(`CRITICAL ${m}`),
  };
}

/** The lines without DEBUG ones: exactly what an operator reads at the default level. */
export function visible(lines: readonly string[]): string[] {
  return lines.filter((l) => !l.startsWith('DEBUG '));
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `pgwarden-${prefix}-`));
}
