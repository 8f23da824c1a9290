import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterSnapshot, Member, Tags } from '../../../src/domain/cluster.js';
import type { Logger, LogLevel } from '../../../src/log.js';
import { CommandRunner, type CommandJob } from '../../../src/events/runner.js';

export interface LogLine {
  level: LogLevel;
  msg: string;
}

/** A Logger that keeps every line, so tests can assert on level and text. */
export function memoryLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: LogLevel) => (msg: string) => void lines.push({ level, msg });
  return { lines, debug: at('DEBUG'), info: at('INFO'), warn: at('WARNING'), error: at('ERROR'), critical: at('CRITICAL') };
}

/** A temp directory with helpers to write executable sh scripts into it. */
export function scratch(): { dir: string; script(name: string, body: string): string; read(name: string): string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'pgwarden-events-'));
  return {
    dir,
    script(name, body) {
      const path = join(dir, name);
      writeFileSync(path, `#!/bin/sh\n${body}\n`);
      chmodSync(path, 0o755);
      return path;
    },
    read: (name) => readFileSync(join(dir, name), 'utf8'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** True while the process exists and is not a zombie waiting to be reaped. */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/**
 * True once the process is gone, polled for up to `withinMs`: a signalled process dies when the
 * kernel next schedules it, which on a busy machine can come after its killed parent was reaped.
 */
export async function processGone(pid: number, withinMs = 2_000): Promise<boolean> {
  const until = Date.now() + withinMs;
  while (processAlive(pid)) {
    if (Date.now() >= until) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

export interface MemberSpec {
  role?: string;
  state?: string;
  /** Bytes behind `optime`; the member publishes no position when null. */
  lag?: number | null;
  tags?: Tags;
}

/**
 * A snapshot whose leader key (if any) names `leaderKey`; each listed member publishes
 * `optime - lag` as its position. The leader key holder defaults to role primary.
 */
export function snap(leaderKey: string | null, members: Record<string, MemberSpec>, optime: number | null = 10_000): ClusterSnapshot {
  return {
    initialize: '7000000000000000001',
    config: {},
    configModRevision: '1',
    leader: leaderKey === null ? null : { name: leaderKey, modRevision: '2' },
    members: Object.entries(members).map(([name, spec]): Member => {
      const data: Member['data'] = {
        conn_url: `postgres://10.0.0.${name.slice(1)}:5432/postgres`,
        api_url: `http://10.0.0.${name.slice(1)}:8008/patroni`,
        state: spec.state ?? 'running',
        role: spec.role ?? (name === leaderKey ? 'primary' : 'replica'),
        version: '0.1.0',
        timeline: 3,
      };
      const lag = spec.lag === undefined ? 0 : spec.lag;
      if (lag !== null && optime !== null) data.xlog_location = optime - lag;
      if (spec.tags) data.tags = spec.tags;
      return { name, data };
    }),
    optime,
    history: [],
    failover: null,
    failoverModRevision: null,
    sync: null,
    syncModRevision: null,
    failsafe: null,
    revision: '3',
  };
}

/** A CommandRunner that only records the jobs submitted to it (nothing runs). */
export class RecordingRunner extends CommandRunner {
  readonly jobs: CommandJob[] = [];
  constructor() {
    super(memoryLogger());
  }
  override submit(job: CommandJob): void {
    this.jobs.push(job);
  }
}
