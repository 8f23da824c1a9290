import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import autocannon from 'autocannon';
import { sleep } from '../features/support/poll.js';
import type { BenchCluster } from './cluster.js';

/** Kernel clock ticks per second (utime/stime in /proc/PID/stat). */
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** RSS in MiB and CPU seconds (user + system) of one process, from /proc. */
export function processUsage(pid: number): { rssMiB: number; cpuSeconds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  // Fields after the command name (which may hold spaces) start at ") ": utime is field 14, stime 15.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { rssMiB: rssKb / 1024, cpuSeconds: ticks / CLK_TCK };
}

/** Direct children of a process (pgwarden's companion fencer; Patroni has none at idle). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
    if (text) out.push(...text.split(/\s+/).map(Number));
  }
  return out;
}

/** Sum of every `grpc_server_msg_received_total` series: each request message etcd received. */
export async function etcdRequestCount(endpoint: string): Promise<{ total: number; byMethod: Record<string, number> }> {
  const text = await (await fetch(`${endpoint}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
  const byMethod: Record<string, number> = {};
  let total = 0;
  for (const line of text.split('\n')) {
    const m = /^grpc_server_msg_received_total\{([^}]*)\} (\S+)$/.exec(line);
    if (!m) continue;
    const method = /grpc_method="([^"]+)"/.exec(m[1]!)?.[1] ?? '?';
    const n = Number(m[2]);
    byMethod[method] = (byMethod[method] ?? 0) + n;
    total += n;
  }
  return { total, byMethod };
}

/** Idle figures of one node: the agent alone, and the agent with its helper processes. */
export interface NodeIdle {
  node: string;
  agentRssMiB: number;
  agentCpuSecondsPerMinute: number;
  /** Agent plus its child processes (pgwarden's companion fencer), what the node pays in all. */
  totalRssMiB: number;
  totalCpuSecondsPerMinute: number;
}

export interface IdleResult {
  seconds: number;
  nodes: NodeIdle[];
  etcdRequestsPerSecond: number;
  etcdByMethod: Record<string, number>;
}

/**
 * Watches an idle, healthy cluster for `seconds` while nothing else talks to etcd (the other
 * system's cluster is not running): CPU seconds per minute and RSS at the end for each agent
 * (and its children), and etcd's received request messages per second.
 */
export async function measureIdle(cluster: BenchCluster, etcdEndpoint: string, seconds: number): Promise<IdleResult> {
  const pids = cluster.nodes.map((n) => {
    if (n.agentPid === null) throw new Error(`${cluster.system}: ${n.name}'s agent is not running`);
    return { node: n.name, agent: n.agentPid, children: childPids(n.agentPid) };
  });
  const cpu = (pid: number) => processUsage(pid).cpuSeconds;
  const before = pids.map((p) => ({ agent: cpu(p.agent), children: p.children.map(cpu) }));
  const etcdBefore = await etcdRequestCount(etcdEndpoint);
  const t0 = Date.now();
  await sleep(seconds * 1000);
  const etcdAfter = await etcdRequestCount(etcdEndpoint);
  const elapsed = (Date.now() - t0) / 1000;
  const nodes = pids.map((p, i) => {
    const agent = processUsage(p.agent);
    const kids = p.children.map(processUsage);
    const agentCpu = agent.cpuSeconds - before[i]!.agent;
    const kidsCpu = kids.reduce((s, k, j) => s + k.cpuSeconds - before[i]!.children[j]!, 0);
    return {
      node: p.node,
      agentRssMiB: agent.rssMiB,
      agentCpuSecondsPerMinute: (agentCpu * 60) / elapsed,
      totalRssMiB: agent.rssMiB + kids.reduce((s, k) => s + k.rssMiB, 0),
      totalCpuSecondsPerMinute: ((agentCpu + kidsCpu) * 60) / elapsed,
    };
  });
  const byMethod: Record<string, number> = {};
  for (const [m, n] of Object.entries(etcdAfter.byMethod)) {
    const d = n - (etcdBefore.byMethod[m] ?? 0);
    if (d > 0) byMethod[m] = d / elapsed;
  }
  return { seconds: elapsed, nodes, etcdRequestsPerSecond: (etcdAfter.total - etcdBefore.total) / elapsed, etcdByMethod: byMethod };
}

export interface RestResult {
  path: string;
  connections: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
}

/** autocannon against one URL for `seconds` (the load generator shares the machine's cores). */
export async function measureRest(url: string, path: string, connections: number, seconds: number): Promise<RestResult> {
  const r = await autocannon({ url: `${url}${path}`, connections, duration: seconds });
  return {
    path,
    connections,
    requestsPerSecond: r.requests.average,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors,
  };
}
