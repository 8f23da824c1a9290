/**
 * Small file helpers for the data directory: atomic writes, timeline history files and the
 * name a failed data directory is moved to. The parsers are pure and unit tested.
 */
import { readdir } from 'node:fs/promises';
import { writeFileAtomic } from '../atomic-file.js';
import { parseLsn } from '../domain/lsn.js';

/** Replaces `path` atomically (owner-only by default: these files may hold passwords). */
export function writeAtomic(path: string, content: string, mode = 0o600): Promise<void> {
  return writeFileAtomic(path, content, mode);
}

/** Directory entries, or null when the directory does not exist. */
export async function listDir(path: string): Promise<string[] | null> {
  try {
    return await readdir(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** `pg_wal/<8 hex digits>.history` for a timeline, e.g. 2 → `00000002.history`. */
export function historyFileName(timeline: number): string {
  return `${timeline.toString(16).toUpperCase().padStart(8, '0')}.history`;
}

/**
 * A timeline history file → rows `[parent timeline, switch LSN in bytes, reason]`. Blank lines
 * and `#` comments are skipped, as are lines that do not start with a timeline and an LSN.
 */
export function parseHistoryFile(text: string): [number, number, string][] {
  const rows: [number, number, string][] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\d+)\s+([0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8})\s*(.*)$/.exec(line);
    if (!m) continue;
    rows.push([Number(m[1]), parseLsn(m[2]!), m[3]!.trim()]);
  }
  return rows;
}

/** `<dataDir>.failed.<ISO time without colons>`, e.g. `/d/pg0.failed.2026-11-22T211332.123Z`. */
export function asideName(dataDir: string, at: Date): string {
  return `${dataDir.replace(/\/+$/, '')}.failed.${at.toISOString().replace(/:/g, '')}`;
}
