/**
 * `pg_controldata`: what a stopped data directory says about itself (system identifier, last
 * shutdown state, timeline). Run with LC_ALL=C so the labels are the English ones parsed here.
 */
import { join } from 'node:path';
import { parseLsn, type Lsn } from '../domain/lsn.js';
import { runProgram } from './process.js';

export interface ControlData {
  systemIdentifier: string | null;
  /** "Database cluster state": `shut down`, `shut down in recovery`, `in production`, `in archive recovery`, ... */
  state: string | null;
  /** Timeline of the latest checkpoint (or restartpoint on a standby). */
  timeline: number | null;
  /** "Latest checkpoint location". */
  checkpointLsn: Lsn | null;
}

const EMPTY: ControlData = { systemIdentifier: null, state: null, timeline: null, checkpointLsn: null };

/** Parses `Label:   value` lines; a missing or malformed value reads as null, never throws. */
export function parseControlData(text: string): ControlData {
  const map = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) map.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  const sysid = map.get('Database system identifier');
  const tl = map.get("Latest checkpoint's TimeLineID");
  const lsn = map.get('Latest checkpoint location');
  let checkpointLsn: Lsn | null = null;
  try {
    checkpointLsn = lsn ? parseLsn(lsn) : null;
  } catch {
    checkpointLsn = null;
  }
  return {
    ...EMPTY,
    systemIdentifier: sysid !== undefined && /^\d+$/.test(sysid) ? sysid : null,
    state: map.get('Database cluster state') || null,
    timeline: tl !== undefined && /^\d+$/.test(tl) ? Number(tl) : null,
    checkpointLsn,
  };
}

/** States in which pg_rewind accepts the directory as a target without recovery first. */
export function isCleanShutdown(state: string | null): boolean {
  return state === 'shut down' || state === 'shut down in recovery';
}

/**
 * How to bring an uncleanly stopped directory to a clean shutdown before pg_rewind:
 *  - `none`: already clean;
 *  - `standby`: a crashed replica (`in archive recovery`, also right after pg_rewind): start it
 *    as a standby without a source and stop it fast, which writes no WAL of its own;
 *  - `single-user`: a crashed primary (`in production`, `in crash recovery`, `shutting down`,
 *    ...): `postgres --single` replays its WAL and ends with a shutdown checkpoint, so pg_rewind
 *    compares the true end of its WAL, as pg_rewind itself would.
 * A `backup_label` (an unfinished clone or rewind) always takes the standby route: recovery
 * from it must not end on a timeline of its own.
 */
export type CleanShutdownRoute = 'none' | 'standby' | 'single-user';

export function cleanShutdownRoute(state: string | null, hasBackupLabel: boolean): CleanShutdownRoute {
  if (isCleanShutdown(state)) return 'none';
  if (state === 'in archive recovery' || hasBackupLabel) return 'standby';
  return 'single-user';
}

/** Runs pg_controldata; rejects with a coded error when it fails (e.g. no global/pg_control). */
export async function readControlData(binDir: string, dataDir: string): Promise<ControlData> {
  const { stdout } = await runProgram(join(binDir, 'pg_controldata'), ['-D', dataDir], { timeoutMs: 10_000, cLocale: true });
  return parseControlData(stdout);
}
