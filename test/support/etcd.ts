import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Options of `startEtcd`; every field has a working default. */
export interface EtcdOptions {
  /** Client port on 127.0.0.1; default: a free port. */
  clientPort?: number;
  /** Peer port on 127.0.0.1; default: a free port. */
  peerPort?: number;
  /** Data directory; default `<temp dir>/data`. Reuse one to restart a member with its data. */
  dataDir?: string;
  /** Member name; default `etcd0`. */
  name?: string;
  /** `--initial-cluster` for multi-member clusters; default: this member alone. */
  initialCluster?: string;
  /** `--initial-cluster-state`; default `new`. */
  initialClusterState?: 'new' | 'existing';
  /** Binary; default `/usr/bin/etcd`. */
  binary?: string;
  /** How long to wait for `/health`; default 15 s. */
  readyTimeoutMs?: number;
  /** Skip the health wait (a member of a cluster whose quorum is not up yet). */
  noWait?: boolean;
  /** Address to bind and advertise; default 127.0.0.1 (the features' test network gives its own). */
  host?: string;
  /** Wraps the command line, e.g. to run etcd inside a test network namespace (`nsenter ...`). */
  wrap?: (command: string, args: string[]) => { command: string; args: string[] };
}

/** A running etcd member started by the tests. Only ever signals its own PID. */
export interface EtcdProcess {
  /** Client URL, e.g. `http://127.0.0.1:23790`. */
  endpoint: string;
  /** Peer URL, e.g. `http://127.0.0.1:23791`. */
  peerUrl: string;
  name: string;
  pid: number;
  /** Temp directory holding the log (and the data unless `dataDir` was given). */
  dir: string;
  dataDir: string;
  logPath: string;
  /**
   * SIGSTOP: the process hangs without closing its sockets, like a frozen machine. Resolves
   * once the kernel reports it stopped (signals land asynchronously), so await it before
   * testing what a hung etcd does.
   */
  suspend(): Promise<void>;
  /** SIGCONT after `suspend`; resolves once it runs again. */
  resume(): Promise<void>;
  /** Graceful stop (SIGTERM, SIGKILL after 5 s); resolves once the process has exited. */
  stop(): Promise<void>;
  /** SIGKILL; resolves once the process has exited. */
  kill(): Promise<void>;
  /** Resolves when `/health` answers healthy (bounded by `timeoutMs`). */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Deletes `dir` (call after `stop`; keep it to read logs of a failed run). */
  remove(): Promise<void>;
}

/** Waits (at most 2 s) until /proc says the process is stopped (`T`) or not; gone counts as done. */
async function waitState(pid: number, stopped: boolean): Promise<void> {
  const until = Date.now() + 2000;
  while (Date.now() < until) {
    let state: string | undefined;
    try {
      state = (await readFile(`/proc/${pid}/stat`, 'utf8')).replace(/^.*\) /s, '').split(' ')[0];
    } catch {
      return;
    }
    if ((state === 'T' || state === 't') === stopped) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts one etcd member bound to 127.0.0.1 (or `host`), logging to `<dir>/etcd.log`, and waits until it
 * reports healthy. Works for any OS user: files live under `os.tmpdir()`.
 */
export async function startEtcd(opts: EtcdOptions = {}): Promise<EtcdProcess> {
  const name = opts.name ?? 'etcd0';
  const clientPort = opts.clientPort ?? (await freePort());
  const peerPort = opts.peerPort ?? (await freePort());
  const dir = await mkdtemp(join(tmpdir(), `pgwarden-${name}-`));
  const dataDir = opts.dataDir ?? join(dir, 'data');
  const logPath = join(dir, 'etcd.log');
  const host = opts.host ?? '127.0.0.1';
  const endpoint = `http://${host}:${clientPort}`;
  const peerUrl = `http://${host}:${peerPort}`;
  const initialCluster = opts.initialCluster ?? `${name}=${peerUrl}`;
  const args = [
    '--name', name,
    '--data-dir', dataDir,
    '--listen-client-urls', endpoint,
    '--advertise-client-urls', endpoint,
    '--listen-peer-urls', peerUrl,
    '--initial-advertise-peer-urls', peerUrl,
    '--initial-cluster', initialCluster,
    '--initial-cluster-state', opts.initialClusterState ?? 'new',
    // Same for every member of one cluster, different between clusters.
    '--initial-cluster-token', `pgwarden-${createHash('sha256').update(initialCluster).digest('hex').slice(0, 12)}`,
    '--logger', 'zap',
  ];
  const log = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    const binary = opts.binary ?? '/usr/bin/etcd';
    const line = opts.wrap ? opts.wrap(binary, args) : { command: binary, args };
    child = spawn(line.command, line.args, { stdio: ['ignore', log, log] });
  } finally {
    closeSync(log);
  }
  const pid = child.pid;
  if (pid === undefined) {
    await new Promise((r) => child.once('error', r));
    throw new Error(`could not start etcd (${opts.binary ?? '/usr/bin/etcd'}); is etcd-server installed?`);
  }
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => {
    exited = true;
    resolve();
  }));
  const signal = (sig: NodeJS.Signals): void => {
    if (!exited) process.kill(pid, sig);
  };
  const waitExit = async (ms: number): Promise<boolean> =>
    Promise.race([exit.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

  const proc: EtcdProcess = {
    endpoint, peerUrl, name, pid, dir, dataDir, logPath,
    async suspend() {
      signal('SIGSTOP');
      await waitState(pid, true);
    },
    async resume() {
      signal('SIGCONT');
      await waitState(pid, false);
    },
    async stop() {
      signal('SIGTERM');
      signal('SIGCONT');
      if (!(await waitExit(5000))) {
        signal('SIGKILL');
        await exit;
      }
    },
    async kill() {
      signal('SIGKILL');
      await exit;
    },
    async waitHealthy(timeoutMs = opts.readyTimeoutMs ?? 15_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        if (exited) throw new Error(`etcd ${name} exited during start; see ${logPath}`);
        try {
          const res = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1000) });
          const body = (await res.json()) as { health?: string };
          if (res.ok && body.health === 'true') return;
        } catch {
          // not up yet
        }
        if (Date.now() > until) throw new Error(`etcd ${name} not healthy within ${timeoutMs} ms; see ${logPath}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async remove() {
      await rm(dir, { recursive: true, force: true });
    },
  };
  if (!opts.noWait) {
    try {
      await proc.waitHealthy();
    } catch (e) {
      await proc.kill();
      throw e;
    }
  }
  return proc;
}

/**
 * Starts an n-member etcd cluster on consecutive ports from `basePort` (client, peer, client,
 * peer, ...) and waits until every member is healthy.
 */
export async function startEtcdCluster(size: number, basePort: number): Promise<EtcdProcess[]> {
  const members = Array.from({ length: size }, (_, i) => ({ name: `etcd${i}`, clientPort: basePort + 2 * i, peerPort: basePort + 2 * i + 1 }));
  const initialCluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peerPort}`).join(',');
  const procs: EtcdProcess[] = [];
  try {
    for (const m of members) procs.push(await startEtcd({ ...m, initialCluster, noWait: true }));
    await Promise.all(procs.map((p) => p.waitHealthy()));
    return procs;
  } catch (e) {
    await Promise.all(procs.map((p) => p.kill()));
    throw e;
  }
}
