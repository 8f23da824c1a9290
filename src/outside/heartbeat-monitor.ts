/**
 * Runs the heartbeat table (`heartbeat.ts`) from the HA loop without ever delaying it: each
 * cycle's `tick` starts one background round, or does nothing while the previous round still
 * runs (a slow or frozen server then costs a skipped beat, not a late cycle).
 *
 * A round on the leader (holder of the leader key, running as primary) writes the beat, then
 * reads how old the newest beat is on every other running member, over a direct connection
 * (as pglookout does): that gives the leader every replica's delay for the triggers' and
 * warnings' time limits. A round on a running replica reads its own delay. The delay reported
 * is `certainDelaySeconds` (age minus the beat interval): a replica that keeps up reads 0, not
 * a random value up to `loop_wait`.
 */
import type { ClusterSnapshot } from '../domain/cluster.js';
import type { NodeView } from '../domain/node-view.js';
import { hostPort } from '../api/status.js';
import { errorText } from '../errors.js';
import type { Logger } from '../log.js';
import { certainDelaySeconds, readHeartbeat, writeHeartbeat, type Queryable, type TableName } from './heartbeat.js';

/** Runs `fn` on a connection to the local server (`server` null) or another member's. */
export type ConnectionRunner = <T>(server: { host: string; port: number } | null, what: string, fn: (db: Queryable) => Promise<T>) => Promise<T>;

export interface HeartbeatMonitorOptions {
  table: TableName;
  /** This member's name (written as the beat's `leader`). */
  name: string;
  connect: ConnectionRunner;
  log: Logger;
}

export class HeartbeatMonitor {
  private busy = false;
  private delays: ReadonlyMap<string, number> = new Map();
  private lastError: string | null = null;

  constructor(private readonly o: HeartbeatMonitorOptions) {}

  /** Delay in seconds by member name, from the last finished round (empty when none measured). */
  measured(): ReadonlyMap<string, number> {
    return this.delays;
  }

  /**
   * Starts a round for this cycle unless one is still running. `cluster` is this cycle's
   * snapshot (null when etcd was not read: then nothing is written, since leadership is unknown).
   */
  tick(view: NodeView, cluster: ClusterSnapshot | null): void {
    if (this.busy) return;
    // A replica that keeps up has read a beat at most one loop_wait (plus a cycle) old.
    const interval = view.loopWaitSeconds + 1;
    const pg = view.pg;
    if (pg?.running !== true || cluster === null) {
      this.delays = new Map();
      return;
    }
    const leads = !pg.inRecovery && cluster.leader?.name === this.o.name;
    this.busy = true;
    const round = leads ? this.leaderRound(cluster, interval) : this.replicaRound(interval);
    void round
      .then((delays) => {
        this.delays = delays;
        if (this.lastError !== null) this.o.log.info(`heartbeat table ${this.tableText()} works again`);
        this.lastError = null;
      })
      .catch((e: unknown) => {
        const text = errorText(e);
        if (text !== this.lastError) this.o.log.warn(`heartbeat table ${this.tableText()}: ${text}`);
        this.lastError = text;
        this.delays = new Map();
      })
      .finally(() => {
        this.busy = false;
      });
  }

  private async leaderRound(cluster: ClusterSnapshot, interval: number): Promise<Map<string, number>> {
    await this.o.connect(null, 'writing the heartbeat', (db) => writeHeartbeat(db, this.o.table, this.o.name));
    const delays = new Map<string, number>();
    const others = cluster.members.filter((m) => m.name !== this.o.name && m.data.state === 'running');
    await Promise.all(
      others.map(async (m) => {
        const server = hostPort(m.data.conn_url);
        if (server === null) return;
        try {
          const beat = await this.o.connect(server, `reading the heartbeat on ${m.name}`, (db) => readHeartbeat(db, this.o.table));
          if (beat !== null) delays.set(m.name, certainDelaySeconds(beat.ageSeconds, interval));
        } catch (e) {
          // One unreachable replica must not hide the others' delays; its own key shows it.
          this.o.log.debug(`heartbeat of ${m.name} not read: ${errorText(e)}`);
        }
      }),
    );
    return delays;
  }

  private async replicaRound(interval: number): Promise<Map<string, number>> {
    const beat = await this.o.connect(null, 'reading the heartbeat', (db) => readHeartbeat(db, this.o.table));
    return beat === null ? new Map() : new Map([[this.o.name, certainDelaySeconds(beat.ageSeconds, interval)]]);
  }

  private tableText(): string {
    return this.o.table.schema === null ? this.o.table.table : `${this.o.table.schema}.${this.o.table.table}`;
  }
}
