import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, readdirSync } from 'node:fs';
import { sleep } from '../features/support/poll.js';
import type { BenchCluster } from './cluster.js';

const execFileAsync = promisify(execFile);

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
  /** Responses other than 2xx/3xx, and socket errors other than the server closing (Patroni closes every connection). */
  non2xx: number;
  errors: number;
}

/** wrk's duration text (`812.00us`, `1.20ms`, `2.01s`) in milliseconds. */
export function wrkMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!m) throw new Error(`not a wrk duration: ${text}`);
  const scale = { us: 0.001, ms: 1, s: 1000, m: 60_000 }[m[2] as 'us' | 'ms' | 's' | 'm'];
  return Number(m[1]) * scale;
}

/** The figures of `wrk --latency` output. */
export function parseWrk(out: string): Omit<RestResult, 'path' | 'connections'> {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out)?.[1];
  const p50 = /^\s+50%\s+(\S+)/m.exec(out)?.[1];
  const p99 = /^\s+99%\s+(\S+)/m.exec(out)?.[1];
  if (rps === undefined || p50 === undefined || p99 === undefined) throw new Error(`unexpected wrk output:\n${out}`);
  const sock = /Socket errors: connect (\d+), read \d+, write (\d+), timeout (\d+)/.exec(out);
  return {
    requestsPerSecond: Number(rps),
    p50Ms: wrkMs(p50),
    p99Ms: wrkMs(p99),
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
    errors: sock ? Number(sock[1]) + Number(sock[2]) + Number(sock[3]) : 0,
  };
}

export const WRK_BIN = '/usr/bin/wrk';

/**
 * wrk (2 threads) against one URL for `seconds`. wrk, not autocannon: Patroni answers HTTP/1.0
 * and ends each answer by closing the connection, which autocannon never counts as a response.
 * The load generator shares the machine's cores with the server, for both systems alike.
 */
export async function measureRest(url: string, path: string, connections: number, seconds: number): Promise<RestResult> {
  const { stdout } = await execFileAsync(WRK_BIN, ['-t', '2', '-c', String(connections), '-d', `${seconds}s`, '--latency', `${url}${path}`], {
    timeout: (seconds + 30) * 1000,
  });
  return { path, connections, ...parseWrk(stdout) };
}
