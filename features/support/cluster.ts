import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeTestCertificates, type TestCertificates } from '../../test/support/certs.js';
import { startEtcd, type EtcdProcess } from '../../test/support/etcd.js';
import { DcsView } from './dcs.js';
import { Haproxy } from './haproxy.js';
import { AgentNode, deepMerge } from './node.js';
import { forgetDataDir } from './process.js';
import { describeError, waitFor } from './poll.js';
import { NET, TestNetwork, type NetHost } from './netns.js';
import { MAX_NODES, type PortSlot } from './ports.js';
import { rest } from './rest.js';
import { isInRecovery, query, walReceiver, replicationRows, type PgTarget } from './sql.js';

/**
 * Agent log lines that mean a programming error in pgwarden: any of them fails the scenario.
 * Case-insensitive; BUG as a word only, so that DEBUG log levels do not count.
 */
export const BUG_PATTERN = /\bBUG\b|Unhandled|uncaught/i;

/**
 * Everything one scenario runs: an etcd, up to five pgwarden agents (postgres0..4) with their
 * PostgreSQL servers, and optionally haproxy, all on the scenario's port slot and under its
 * directory. `teardown` stops all of it, by PID, whatever state the scenario left it in.
 */
export class ScenarioCluster {
  readonly scope = 'batman';
  etcd: EtcdProcess | null = null;
  dcs: DcsView | null = null;
  haproxy: Haproxy | null = null;
  readonly nodes = new Map<string, AgentNode>();
  /** `bootstrap.dcs` settings added by Given steps before the first node starts. */
  dcsOverrides: Record<string, unknown> = {};
  private readonly nodeOverrides = new Map<string, Record<string, unknown>>();
  /** Settings every node's YAML gets (before the per-node ones). */
  private commonOverrides: Record<string, unknown> = {};
  /** Set by {@link useRestTls}: the scenario's certificates. */
  private certs: TestCertificates | null = null;
  /** Set by {@link useTestNetwork}: etcd and every node run on a host of their own. */
  network: TestNetwork | null = null;
  private readonly hosts = new Map<string, NetHost>();

  constructor(
    readonly dir: string,
    readonly ports: PortSlot,
  ) {}

  /**
   * From now on etcd (host `etcd`, ${NET}.10) and every node (postgres<i>, ${NET}.<i+1>) run in a
   * network namespace of their own on the scenario's test network, so that steps can partition
   * them. Must come before etcd starts.
   */
  async useTestNetwork(): Promise<void> {
    if (this.etcd) throw new Error('the test network must be set up before etcd starts');
    if (this.network) return;
    this.network = TestNetwork.create();
    this.hosts.set('etcd', await this.network.addHost('etcd', 10));
    for (let i = 0; i < MAX_NODES; i++) this.hosts.set(`postgres${i}`, await this.network.addHost(`postgres${i}`, i + 1));
  }

  /** The test network, or an error naming the missing Given step. */
  net(): TestNetwork {
    if (!this.network) throw new Error('this scenario has no test network (add "Given the cluster runs on a test network")');
    return this.network;
  }

  async startEtcd(): Promise<void> {
    if (this.etcd) return;
    const host = this.hosts.get('etcd');
    this.etcd = await startEtcd({
      clientPort: this.ports.etcdClient,
      peerPort: this.ports.etcdPeer,
      dataDir: join(this.dir, 'etcd-data'),
      ...(host ? { host: host.address, wrap: host.wrap } : {}),
    });
    this.dcs = new DcsView(this.etcd.endpoint, `/service/${this.scope}/`);
  }

  /** Stops etcd and starts it again on the same data directory, ports and host. */
  async restartEtcd(): Promise<void> {
    const old = this.etcd;
    if (!old) throw new Error('etcd is not running');
    await old.stop();
    if (existsSync(old.logPath)) copyFileSync(old.logPath, join(this.dir, `etcd-before-restart-${Date.now()}.log`));
    await old.remove();
    this.etcd = null;
    await this.startEtcd();
  }

  view(): DcsView {
    if (!this.dcs) throw new Error('etcd is not running in this scenario (add "Given etcd is running")');
    return this.dcs;
  }

  /** Adds settings to the YAML of `name` (before it starts). */
  configureNode(name: string, overrides: Record<string, unknown>): void {
    this.nodeOverrides.set(name, deepMerge(this.nodeOverrides.get(name) ?? {}, overrides));
  }

  /**
   * Every node's REST API serves HTTPS with the scenario's certificates (made now), with
   * `verify_client` and the allowlist given; members call each other with the node certificate,
   * steps and haproxy present the operator/node certificate. Must come before any node starts.
   */
  useRestTls(restapi: { verify_client: 'none' | 'optional' | 'required'; allowlist?: string[]; allowlist_include_members?: boolean }): void {
    if (this.nodes.size > 0) throw new Error('REST TLS must be configured before any node starts');
    const dir = join(this.dir, 'certs');
    mkdirSync(dir, { recursive: true });
    this.certs = makeTestCertificates(dir);
    this.commonOverrides = deepMerge(this.commonOverrides, {
      restapi: { certfile: this.certs.nodeCert, keyfile: this.certs.nodeKey, cafile: this.certs.caCert, ...restapi },
    });
  }

  /** The node called `name` (postgres0..4), created on first use. */
  node(name: string): AgentNode {
    const existing = this.nodes.get(name);
    if (existing) return existing;
    const m = /^postgres(\d)$/.exec(name);
    const index = m ? Number(m[1]) : NaN;
    if (!(index >= 0 && index < MAX_NODES)) throw new Error(`node names are postgres0..postgres${MAX_NODES - 1}, not ${name}`);
    if (!this.etcd) throw new Error('start etcd before the nodes');
    const host = this.hosts.get(name);
    const node = new AgentNode({
      ...(host ? { host: host.address, wrap: host.wrap, clientNet: `${NET}.0/24` } : {}),
      name,
      index,
      scope: this.scope,
      etcdHostPort: this.etcd.endpoint.replace(/^https?:\/\//, ''),
      pgPort: this.ports.pgBase + index,
      restPort: this.ports.restBase + index,
      dir: this.dir,
      dcsOverrides: this.dcsOverrides,
      nodeOverrides: deepMerge(this.commonOverrides, this.nodeOverrides.get(name) ?? {}),
      ...(this.certs
        ? { restTls: { ca: this.certs.read(this.certs.caCert), cert: this.certs.read(this.certs.clientCert), key: this.certs.read(this.certs.clientKey) } }
        : {}),
    });
    this.nodes.set(name, node);
    return node;
  }

  async startHaproxy(): Promise<Haproxy> {
    if (this.haproxy) return this.haproxy;
    const backends = [...this.nodes.values()].map((n) => ({ name: n.name, pgPort: n.spec.pgPort, restPort: n.spec.restPort, ...(n.spec.host ? { host: n.spec.host } : {}) }));
    this.haproxy = await Haproxy.start(
      this.dir,
      { primary: this.ports.haproxyPrimary, replicas: this.ports.haproxyReplicas, stats: this.ports.haproxyStats },
      backends,
      this.certs ? { caFile: this.certs.caCert, crtFile: this.certs.nodePem } : undefined,
    );
    return this.haproxy;
  }

  /**
   * The usual starting point: etcd, postgres0 bootstraps and leads, then postgres1.. join as
   * streaming replicas. Starting postgres0 alone first makes the leader predictable.
   */
  async startCluster(count: number): Promise<void> {
    await this.startEtcd();
    await this.node('postgres0').start();
    await waitFor(60, 'postgres0 is the leader', async () => {
      await this.assertLeader('postgres0');
      return true;
    });
    const others = Array.from({ length: count - 1 }, (_, i) => `postgres${i + 1}`);
    for (const name of others) await this.node(name).start();
    for (const name of others) {
      await waitFor(120, `${name} is a streaming replica of postgres0`, async () => {
        await this.assertStreamingReplica(name, 'postgres0');
        return true;
      });
    }
  }

  /**
   * haproxy starts every server UP until its checks fail, so wait for the settled picture (only
   * `name` UP and every other server DOWN in the primary section) before trusting the read-write port.
   */
  async waitHaproxyRoutesTo(name: string, seconds: number): Promise<void> {
    const node = this.node(name);
    await waitFor(seconds, `haproxy's primary section has only ${node.name} UP and a connection reaches it`, async () => {
      if (!this.haproxy) throw new Error('haproxy is not running in this scenario');
      const states = await this.haproxy.serverStates('primary');
      // "UP 1/2" is still UP (going down) and gets traffic; "DOWN 1/2" is still DOWN.
      for (const [server, state] of Object.entries(states)) {
        const settled = server === node.name ? state === 'UP' : state.startsWith('DOWN');
        if (!settled) throw new Error(`haproxy server states: ${JSON.stringify(states)}`);
      }
      const rows = await query<{ port: number }>(this.haproxyPrimary(), 'SELECT inet_server_port() AS port');
      if (rows[0]?.port !== node.spec.pgPort) throw new Error(`reached port ${String(rows[0]?.port)}`);
      return true;
    });
  }

  /** SQL target of haproxy's read-write (primary) port. */
  haproxyPrimary(): PgTarget {
    if (!this.haproxy) throw new Error('haproxy is not running in this scenario');
    const any = [...this.nodes.values()][0];
    if (!any) throw new Error('no nodes');
    return { ...any.pg, host: '127.0.0.1', port: this.haproxy.ports.primary };
  }

  /**
   * Fails unless `name` holds the leader key, its PostgreSQL is a primary, and no other node of
   * the scenario runs a primary (never two writable primaries).
   */
  async assertLeader(name: string): Promise<void> {
    const holder = await this.view().leader();
    if (holder !== name) throw new Error(`leader key is held by ${holder ?? 'nobody'}, not ${name}`);
    if (await isInRecovery(this.node(name).pg)) throw new Error(`${name} holds the key but its PostgreSQL is in recovery`);
    await this.assertNoOtherPrimary(name);
  }

  /** Fails when any node other than `name` answers SQL as a primary. */
  async assertNoOtherPrimary(name: string | null): Promise<void> {
    for (const other of this.nodes.values()) {
      if (other.name === name) continue;
      const recovering = await isInRecovery(other.pg).catch(() => null);
      if (recovering === false) throw new Error(`${other.name} is also running as a primary`);
    }
  }

  /**
   * Fails unless `name` is a streaming replica of `leader`: its member key says role replica and
   * state running, its WAL receiver streams from the leader's port, and the leader's
   * pg_stat_replication lists it (application_name = member name) as streaming.
   */
  async assertStreamingReplica(name: string, leader: string): Promise<void> {
    const member = await this.view().member(name);
    if (!member) throw new Error(`no members/${name} key`);
    if (member.role !== 'replica' || member.state !== 'running') {
      throw new Error(`members/${name} has role ${String(member.role)} state ${String(member.state)}`);
    }
    const node = this.node(name);
    const leaderNode = this.node(leader);
    if (!(await isInRecovery(node.pg))) throw new Error(`${name}'s PostgreSQL is not in recovery`);
    const rx = await walReceiver(node.pg);
    if (!rx || rx.status !== 'streaming') throw new Error(`${name}'s WAL receiver is ${rx ? rx.status : 'not running'}`);
    if (rx.sender_port !== leaderNode.spec.pgPort) throw new Error(`${name} streams from port ${String(rx.sender_port)}, not from ${leader} (${leaderNode.spec.pgPort})`);
    const rows = await replicationRows(leaderNode.pg);
    const row = rows.find((r) => r.application_name === name);
    if (!row || row.state !== 'streaming') {
      throw new Error(`${leader}'s pg_stat_replication has no streaming row for application_name ${name}: ${JSON.stringify(rows)}`);
    }
  }

  /** Agent logs with a line matching BUG_PATTERN, as "file: line" strings. */
  bugLines(): string[] {
    const found: string[] = [];
    for (const node of this.nodes.values()) {
      if (!existsSync(node.logPath)) continue;
      for (const line of readFileSync(node.logPath, 'utf8').split('\n')) {
        if (BUG_PATTERN.test(line)) found.push(`${node.name}.log: ${line}`);
      }
    }
    return found;
  }

  /** Evidence for a failure report: etcd keys, each node's /patroni and agent state. */
  async evidence(): Promise<string> {
    const parts: string[] = [];
    if (this.dcs) {
      parts.push(`etcd keys:\n${await this.dcs.dump().catch((e: unknown) => `(etcd unreadable: ${describeError(e)})`)}`);
    }
    for (const node of this.nodes.values()) {
      const r = await rest(node.restApi, 'GET', '/patroni', { timeoutMs: 1500 });
      parts.push(`${node.name}: agent ${node.agentRunning ? `running pid ${String(node.agentPid)}` : node.exitDescription}, ` +
        `postmaster ${String(node.postmasterPid() ?? 'none')}, GET /patroni -> ${r.status} ${r.body || r.error || ''}`);
    }
    return parts.join('\n');
  }

  /** Stops everything this scenario started (agents, PostgreSQL, haproxy, etcd), by PID. */
  async teardown(): Promise<void> {
    this.network?.healAll();
    this.etcd?.resume();
    await Promise.all([...this.nodes.values()].map((n) => n.shutdown(30_000)));
    for (const n of this.nodes.values()) forgetDataDir(n.dataDir);
    await this.haproxy?.stop();
    if (this.etcd) {
      await this.etcd.stop();
      if (existsSync(this.etcd.logPath)) copyFileSync(this.etcd.logPath, join(this.dir, 'etcd.log'));
      await this.etcd.remove();
    }
    this.network?.teardown();
  }

  /** Names of the PostgreSQL log files of the scenario (for the failure message). */
  pgLogs(): string[] {
    const root = join(this.dir, 'pglog');
    if (!existsSync(root)) return [];
    return readdirSync(root).flatMap((n) => readdirSync(join(root, n)).map((f) => join(root, n, f)));
  }
}
