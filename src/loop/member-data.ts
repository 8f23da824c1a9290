import type { MemberData, MemberRole, PgState, Tags } from '../domain/cluster.js';
import type { PgStatus } from '../domain/pg-status.js';
import type { RunningTask } from '../ha/types.js';

/** Member `state` from the local server and the task in flight (reference §1.3 values). */
export function pgState(pg: PgStatus | null, task: RunningTask | null): PgState {
  if (task?.kind === 'bootstrap') return 'initializing new cluster';
  if (task?.kind === 'clone' || task?.kind === 'reinit') return 'creating replica';
  if (pg?.running) return 'running';
  if (task?.kind === 'restart') return 'restarting';
  if (task?.kind === 'start' || task?.kind === 'promote') return 'starting';
  if (task?.kind === 'rejoin') return 'rewinding';
  if (pg && !pg.running && pg.postmasterAlive) return 'starting';
  return 'stopped';
}

export function pgRole(pg: PgStatus | null): MemberRole {
  if (pg?.running) return pg.inRecovery ? 'replica' : 'primary';
  if (pg && pg.dataDirInitialized) return 'replica';
  return 'uninitialized';
}

export interface MemberIdentity {
  connUrl: string;
  apiUrl: string;
  version: string;
}

/** The value of `members/<name>` for this node (field order as in reference §1.3). */
export function memberData(
  id: MemberIdentity,
  pg: PgStatus | null,
  task: RunningTask | null,
  tags: Tags,
  paused: boolean,
  scheduledRestart: Record<string, unknown> | null = null,
): MemberData {
  const data: MemberData = {
    conn_url: id.connUrl,
    api_url: id.apiUrl,
    state: pgState(pg, task),
    role: pgRole(pg),
    version: id.version,
  };
  if (Object.keys(tags).length > 0) data.tags = tags;
  if (pg?.running) {
    if (pg.pendingRestart) data.pending_restart = true;
    data.xlog_location = pg.lsn;
    data.timeline = pg.timeline;
  } else if (pg?.timeline) {
    data.timeline = pg.timeline;
  }
  if (scheduledRestart) data.scheduled_restart = scheduledRestart;
  if (paused) data.pause = true;
  return data;
}
