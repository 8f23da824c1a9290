import type { Agent } from './agent.js';
import type { DcsStore } from './fake-dcs.js';
import type { FakePg, Timelines } from './fake-pg.js';
import type { Invariant } from './invariants.js';
import { ackablePosition, type Sender } from './sync-rep.js';

/**
 * The synchronous-mode invariants of issue 4, checked from the clients' side:
 *
 * - `syncPromotion`: when etcd creates the leader key for a replica that races to promote, the
 *   `sync` key (as it stood just before) names that node as leader or synchronous standby. A node
 *   an operator request names as the candidate is exempt: that promotion is not automatic.
 * - `syncLoss`: every commit a client saw acknowledged is on the node that becomes the next
 *   primary. Acknowledgements are recorded per timeline (highest position, see `sync-rep.ts`);
 *   the check runs whenever a node becomes a writable primary, when a node that already runs as
 *   primary takes the leader key, and for the leader at the end of the run. The one exemption is
 *   a node promoted by an explicit operator *failover* (a candidate and no leader in the request):
 *   Patroni documents that escape hatch as able to lose data, and so does pgwarden. Its loss is
 *   counted (`forgiven`) and those acknowledgements are dropped, so later checks judge what
 *   happens after it; the timelines it left behind count no more acknowledgements.
 */
/**
 * How far back a request counts as the one a node acted on: its cluster read, peer probe and
 * acquire take at most a few call deadlines (retry_timeout each).
 */
export const REQUEST_WINDOW_MS = 10_000;

/**
 * WAL the clients of a primary may have written but not yet seen acknowledged. Clients wait for
 * their commits, so while commits wait for a standby the primary soon stops producing WAL; a
 * healthy synchronous standby keeps the backlog at one or two ticks of writes, far below this.
 */
export const MAX_UNACKED_WAL = 256 * 1024;

export class SyncChecker {
  /** Timeline id → highest acknowledged commit position on it. */
  private readonly acked = new Map<number, number>();
  private readonly wasPrimary = new Map<string, boolean>();
  /**
   * Timeline ids below this one were left behind by an explicit failover: a primary still running
   * on one (its agent frozen, say) acknowledges commits nobody promised to keep, so those are not
   * recorded. (Ids grow with every fork, so every timeline that existed then is below the one the
   * failover's promotion created.)
   */
  private abandonedBelow = 0;
  /** Nodes that took the leader key through an explicit failover, until they become primary. */
  private readonly explicit = new Set<string>();
  /** Per server: its current run as a primary and what it acknowledged in that run. */
  private readonly runs = new Map<string, { run: string; acked: number }>();
  /** Ticks in which some primary acknowledged more commits. */
  ackAdvances = 0;
  /** Explicit failovers that dropped acknowledged commits. */
  forgiven = 0;

  constructor(
    private readonly timelines: Timelines,
    private readonly fail: (invariant: Invariant, message: string) => void,
  ) {}

  /** Whether the clients of this primary still write: their unacknowledged WAL is below `MAX_UNACKED_WAL`. */
  clientsMayWrite(p: FakePg): boolean {
    const r = this.runs.get(p.name);
    return r === undefined || r.run !== p.run || p.lsn - r.acked < MAX_UNACKED_WAL;
  }

  /** After the tick moved WAL: what each primary may have acknowledged by now. */
  onTick(pgs: readonly FakePg[], sendersOf: (pg: FakePg) => Sender[]): void {
    for (const p of pgs) {
      if (!p.isPrimary) continue;
      const pos = ackablePosition(p.ssn, p.lsn, sendersOf(p));
      const r = this.runs.get(p.name);
      // A new run starts with nothing in flight: WAL from before it is history, not waiting commits.
      if (r === undefined || r.run !== p.run) this.runs.set(p.name, { run: p.run, acked: Math.max(pos ?? 0, p.lsnAtTickStart) });
      else if (pos !== null) r.acked = Math.max(r.acked, pos);
      if (p.tl < this.abandonedBelow) continue;
      if (pos !== null && pos > (this.acked.get(p.tl) ?? -1)) {
        this.acked.set(p.tl, pos);
        this.ackAdvances++;
      }
    }
  }

  /** etcd created the leader key for `node`, which races to promote. */
  onRace(node: string, store: DcsStore): void {
    const request = store.requestNaming(node, REQUEST_WINDOW_MS);
    const requested = request !== null;
    if (request !== null && request.leader === undefined) this.explicit.add(node);
    else this.explicit.delete(node);
    // What the sync key said when etcd created the key (the winner's claim replaces it).
    const sync = store.syncAtLastRace;
    if (requested || (sync !== null && (sync.leader === node || sync.standbys.includes(node)))) return;
    const names = sync === null ? 'there is no sync key' : `the sync key names ${[sync.leader ?? '-', ...sync.standbys].join(', ')}`;
    this.fail('syncPromotion', `${node} won the leader race to promote, but ${names}`);
  }

  /** The leader key changed hands; a holder already running as primary leads from now on. */
  onNewHolder(holder: Agent | null): void {
    if (holder?.pg.isPrimary) this.judge(holder.name, holder.pg, 'took the free leader key while running as primary');
  }

  /** After every event: nodes that just became writable primaries. */
  afterEvent(agents: readonly Agent[]): void {
    for (const a of agents) {
      const now = a.pg.isPrimary;
      if (now && !this.wasPrimary.get(a.name)) this.judge(a.name, a.pg, 'became primary');
      this.wasPrimary.set(a.name, now);
    }
  }

  /** End of the run: the leader of the quiet cluster has every acknowledged commit. */
  atEnd(leader: Agent | null): void {
    if (leader?.pg.isPrimary) this.judge(leader.name, leader.pg, 'leads at the end of the run');
  }

  private holds(pg: FakePg, tl: number, lsn: number): boolean {
    return pg.tl === tl ? pg.lsn >= lsn : this.timelines.canFollow(tl, lsn, pg.tl);
  }

  private judge(node: string, pg: FakePg, how: string): void {
    const missing = [...this.acked].filter(([tl, lsn]) => !this.holds(pg, tl, lsn));
    if (this.explicit.delete(node)) {
      this.abandonedBelow = Math.max(this.abandonedBelow, pg.tl);
      if (missing.length > 0) this.forgiven++;
      for (const [tl] of missing) this.acked.delete(tl);
      return;
    }
    if (missing.length === 0) return;
    const what = missing.map(([tl, lsn]) => `up to ${lsn} on timeline ${this.timelines.describe(tl)}`).join('; ');
    this.fail('syncLoss', `${node} ${how} on timeline ${this.timelines.describe(pg.tl)} at ${pg.lsn} without commits acknowledged to clients ${what}`);
  }
}
