/** What pgwarden reads from `pg_controldata` (run with LC_ALL=C so the labels are English). */
export interface ControlData {
  systemIdentifier: string | null;
  /** "Database cluster state", e.g. `shut down`, `in production`, `shut down in recovery`. */
  state: string | null;
  timeline: number | null;
}

/** Parses `pg_controldata` output ("Label:   value" lines). Unknown or missing labels read as null. */
export function parseControlData(text: string): ControlData {
  const map = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) map.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  const tl = map.get("Latest checkpoint's TimeLineID");
  return {
    systemIdentifier: map.get('Database system identifier') ?? null,
    state: map.get('Database cluster state') ?? null,
    timeline: tl !== undefined && /^\d+$/.test(tl) ? Number(tl) : null,
  };
}

/** States after which pg_rewind accepts the directory without crash recovery first. */
export function isCleanShutdown(state: string | null): boolean {
  return state === 'shut down' || state === 'shut down in recovery';
}
