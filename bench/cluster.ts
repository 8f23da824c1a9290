import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DcsView } from '../features/support/dcs.js';
import { Haproxy } from '../features/support/haproxy.js';
import { AgentNode, CREDENTIALS } from '../features/support/node.js';
import { REPO } from '../features/support/paths.js';
import { forgetDataDir } from '../features/support/process.js';
import { sleep, waitFor } from '../features/support/poll.js';
import { rest } from '../features/support/rest.js';
import { isInRecovery, walReceiver, type PgTarget } from '../features/support/sql.js';

/**
 * The `default-server` check options of the repository's haproxy.cfg (what pgwarden ships), so
 * both systems are checked the way a pgwarden user's haproxy checks.
 */
export function shippedChecks(): string {
  const text = readFileSync(join(REPO, 'haproxy.cfg'), 'utf8');
  const m = /^\s*default-server\s+(.+)$/m.exec(text);
  if (!m) throw new Error(`no default-server line in ${join(REPO, 'haproxy.cfg')}`);
  return m[1]!.trim();
}

/** The two HA managers the bench compares. */
export type System = 'pgwarden' | 'patroni';

export const PATRONI_BIN = '/usr/bin/patroni';

/** Timing shared by both systems (`bootstrap.dcs`). */
export interface Timing {
  ttl: number;
  loop_wait: number;
  retry_timeout: number;
}

/**
 * Ports of one system's cluster: PostgreSQL `pgBase + i`, REST `restBase + i`, haproxy
 * primary/replicas/stats. Below Linux's ephemeral range and apart from the features' ranges.
 */
export interface ClusterPorts {
  pgBase: number;
  restBase: number;
  haproxy: { primary: number; replicas: number; stats: number };
}

export const PORTS: Record<System, ClusterPorts> = {
  pgwarden: { pgBase: 26500, restBase: 29000, haproxy: { primary: 26600, replicas: 26601, stats: 26602 } },
  patroni: { pgBase: 26510, restBase: 29010, haproxy: { primary: 26610, replicas: 26611, stats: 26612 } },
};

export const NODE_NAMES = ['postgres0', 'postgres1', 'postgres2'] as const;

/**
 * One 3-node cluster of one system, under its own directory and scope, behind its own haproxy
 * with the same check settings for both systems. Both systems read the same generated YAML (the
 * features' node template: pgwarden's keys are Patroni's); only the program differs.
 */
export class BenchCluster {
  readonly nodes: AgentNode[];
  readonly dcs: DcsView;
  haproxy: Haproxy | null = null;

  constructor(
    readonly system: System,
    readonly scope: string,
    readonly dir: string,
    etcdEndpoint: string,
    timing: Timing,
  ) {
    mkdirSync(dir, { recursive: true });
    const ports = PORTS[system];
    this.dcs = new DcsView(etcdEndpoint, `/service/${scope}/`);
    this.nodes = NODE_NAMES.map(
      (name, index) =>
        new AgentNode({
          name,
          index,
          scope,
          etcdHostPort: etcdEndpoint.replace(/^https?:\/\//, ''),
          pgPort: ports.pgBase + index,
          restPort: ports.restBase + index,
          dir,
          dcsOverrides: { ...timing },
          nodeOverrides: {},
          ...(system === 'patroni' ? { program: (yml: string) => ({ command: PATRONI_BIN, args: [yml] }) } : {}),
        }),
    );
  }

  node(name: string): AgentNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`${this.system}: no node ${name}`);
    return n;
  }

  /** Starts every node's agent at once (empty data directories: one bootstraps, two clone). */
  async startAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.start()));
  }

  async startHaproxy(): Promise<void> {
    const dir = join(this.dir, 'haproxy');
    mkdirSync(dir, { recursive: true });
    this.haproxy = await Haproxy.start(
      dir,
      PORTS[this.system].haproxy,
      this.nodes.map((n) => ({ name: n.name, pgPort: n.spec.pgPort, restPort: n.spec.restPort })),
      undefined,
      shippedChecks(),
    );
  }

  /** SQL target of haproxy's read-write port. */
  get primaryTarget(): PgTarget {
    if (!this.haproxy) throw new Error(`${this.system}: haproxy is not running`);
    return { ...this.nodes[0]!.pg, port: this.haproxy.ports.primary };
  }

  /**
   * The healthy leader, or undefined: its REST API answers 200 on /primary, its PostgreSQL is not
   * in recovery, and both other nodes' WAL receivers stream from it. Judged on PostgreSQL and the
   * health endpoint only, so it means the same for both systems.
   */
  async healthyLeader(): Promise<AgentNode | undefined> {
    for (const n of this.nodes) {
      const r = await rest(n.restApi, 'GET', '/primary', { timeoutMs: 1000 });
      if (r.status !== 200) continue;
      if (await isInRecovery(n.pg)) return undefined;
      for (const other of this.nodes) {
        if (other === n) continue;
        const rx = await walReceiver(other.pg);
        if (rx?.status !== 'streaming' || rx.sender_port !== n.spec.pgPort) return undefined;
      }
      return n;
    }
    return undefined;
  }

  /**
   * Restarts any agent that is not running, then waits until the cluster is healthy again. A node
   * that has not rejoined after `rejoinSeconds` (seen once with Patroni: a killed old primary
   * stuck "not yet accepting connections") is stopped, its data directory deleted, and started
   * again to clone afresh, so one stuck rejoin costs a rebuild instead of the whole bench. Only
   * the heal between measurements is affected, never a measured figure.
   */
  async heal(seconds: number, log: (line: string) => void = () => undefined, rejoinSeconds = 60): Promise<AgentNode> {
    for (const n of this.nodes) if (!n.agentRunning) await n.start();
    const what = `${this.system}: one leader and two streaming replicas`;
    try {
      await waitFor(Math.min(rejoinSeconds, seconds), what, () => this.healthyLeader(), 250);
    } catch {
      for (const n of await this.stuckNodes()) {
        log(`${this.system}: ${n.name} did not rejoin within ${rejoinSeconds} s; deleting its data directory so it clones again`);
        await n.shutdown(30_000);
        rmSync(n.dataDir, { recursive: true, force: true });
        await n.start();
      }
    }
    const leader = await waitFor(seconds, what, () => this.healthyLeader(), 250);
    // Let haproxy's checks catch up with the new roles before anyone writes through it.
    await sleep(2500);
    return leader;
  }

  /** Nodes that neither lead (200 on /primary, not in recovery) nor stream from the node that does. */
  private async stuckNodes(): Promise<AgentNode[]> {
    let leader: AgentNode | undefined;
    for (const n of this.nodes) {
      const r = await rest(n.restApi, 'GET', '/primary', { timeoutMs: 1000 });
      if (r.status === 200 && !(await isInRecovery(n.pg).catch(() => true))) leader = n;
    }
    if (leader === undefined) return [];
    const stuck: AgentNode[] = [];
    for (const n of this.nodes) {
      if (n === leader) continue;
      const rx = await walReceiver(n.pg).catch(() => null);
      if (rx?.status !== 'streaming' || rx.sender_port !== leader.spec.pgPort) stuck.push(n);
    }
    return stuck;
  }

  /** Agent PIDs of the running nodes (the Patroni script execs python: same PID). */
  agentPids(): number[] {
    return this.nodes.flatMap((n) => (n.agentPid === null ? [] : [n.agentPid]));
  }

  /** Graceful stop of agents, PostgreSQL and haproxy (SIGKILL after the grace period). */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.shutdown(30_000)));
    for (const n of this.nodes) forgetDataDir(n.dataDir);
    await this.haproxy?.stop();
    this.haproxy = null;
  }
}

export const SUPERUSER = CREDENTIALS.superuser;
export const REST_AUTH = CREDENTIALS.restapi;
