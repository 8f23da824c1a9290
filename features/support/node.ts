import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { AGENT_BIN, PG_BIN_DIR } from './paths.js';
import { ManagedProcess, postmasterPid, registerDataDir, runSync } from './process.js';
import type { RestClientTls, RestTarget } from './rest.js';
import type { PgTarget } from './sql.js';

/** Credentials every generated node file uses (the REST ones are checked by the API feature). */
export const CREDENTIALS = {
  superuser: { username: 'postgres', password: 'features-super' },
  replication: { username: 'replicator', password: 'features-repl' },
  rewind: { username: 'rewind_user', password: 'features-rewind' },
  restapi: { username: 'admin', password: 'features-admin' },
} as const;

/** Timing of every generated cluster (ttl 10 / loop_wait 2 / retry_timeout 3, like the demo). */
export const TIMING = { ttl: 10, loop_wait: 2, retry_timeout: 3 } as const;

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge of plain objects (arrays and scalars of `over` replace those of `base`). */
export function deepMerge(base: Obj, over: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isObj(b) && isObj(v) ? deepMerge(b, v) : v;
  }
  return out;
}

export interface NodeSpec {
  name: string;
  index: number;
  scope: string;
  etcdHostPort: string;
  pgPort: number;
  restPort: number;
  /** Scenario directory: holds the YAML, logs, data/<name>, pglog/<name>. */
  dir: string;
  /** Extra `bootstrap.dcs` settings of the scenario (e.g. primary_start_timeout: 0). */
  dcsOverrides: Obj;
  /** Extra node settings (e.g. { tags: { nofailover: true } }). */
  nodeOverrides: Obj;
  /** Set when the REST API serves HTTPS: what a trusted client presents. */
  restTls?: RestClientTls;
  /** Address PostgreSQL and the REST API bind and advertise; default 127.0.0.1. */
  host?: string;
  /** Clients pg_hba.conf admits over TCP; default 127.0.0.1/32. */
  clientNet?: string;
  /** Wraps the agent's command line (run it inside a test network namespace). */
  wrap?: (command: string, args: string[]) => { command: string; args: string[] };
  /**
   * The program that runs this node's YAML; default `node bin/pgwarden.js <yaml>`. The benchmark
   * runs Patroni on the same generated file this way.
   */
  program?: (configPath: string) => { command: string; args: string[] };
}

/** The Patroni-style YAML of one node, generated from the template below plus overrides. */
export function nodeConfig(spec: NodeSpec): Obj {
  const dataDir = join(spec.dir, 'data', spec.name);
  const host = spec.host ?? '127.0.0.1';
  const clients = spec.clientNet ?? '127.0.0.1/32';
  const base: Obj = {
    scope: spec.scope,
    namespace: '/service/',
    name: spec.name,
    restapi: {
      listen: `${host}:${spec.restPort}`,
      connect_address: `${host}:${spec.restPort}`,
      authentication: { ...CREDENTIALS.restapi },
    },
    etcd3: { hosts: [spec.etcdHostPort] },
    bootstrap: {
      dcs: deepMerge(
        {
          ...TIMING,
          maximum_lag_on_failover: 1048576,
          postgresql: {
            use_pg_rewind: true,
            use_slots: true,
            parameters: { max_connections: 50, wal_keep_size: '128MB', max_wal_senders: 10, max_replication_slots: 10 },
          },
        },
        spec.dcsOverrides,
      ),
      initdb: [{ encoding: 'UTF8' }, 'data-checksums'],
      pg_hba: [
        `host replication replicator ${clients} scram-sha-256`,
        `host all all ${clients} scram-sha-256`,
      ],
    },
    postgresql: {
      listen: `${host}:${spec.pgPort}`,
      connect_address: `${host}:${spec.pgPort}`,
      data_dir: dataDir,
      bin_dir: PG_BIN_DIR,
      pgpass: join(spec.dir, `pgpass_${spec.name}`),
      use_pg_rewind: true,
      authentication: {
        superuser: { ...CREDENTIALS.superuser },
        replication: { ...CREDENTIALS.replication },
        rewind: { ...CREDENTIALS.rewind },
      },
      parameters: {
        unix_socket_directories: spec.dir,
        shared_buffers: '16MB',
        logging_collector: 'on',
        log_directory: join(spec.dir, 'pglog', spec.name),
        log_filename: 'postgresql-%Y%m%d-%H%M%S.log',
        log_line_prefix: '%m [%p] %q%u@%d ',
        log_connections: 'off',
      },
      basebackup: [{ checkpoint: 'fast' }],
    },
    tags: { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false },
    // Never the machine's real /dev/watchdog: scenarios that test the watchdog give a stand-in file.
    watchdog: { mode: 'off' },
  };
  return deepMerge(base, spec.nodeOverrides);
}

/**
 * One pgwarden agent of a scenario: writes its YAML, runs `node bin/pgwarden.js <yaml>` with the
 * scenario directory as cwd, and knows its PostgreSQL (data dir, postmaster PID, SQL target).
 */
export class AgentNode {
  readonly configPath: string;
  readonly logPath: string;
  readonly dataDir: string;
  private proc: ManagedProcess | null = null;
  private starts = 0;

  constructor(readonly spec: NodeSpec) {
    this.configPath = join(spec.dir, `${spec.name}.yml`);
    this.logPath = join(spec.dir, `${spec.name}.log`);
    this.dataDir = join(spec.dir, 'data', spec.name);
  }

  get name(): string {
    return this.spec.name;
  }

  /** The REST API's base URL (https when the scenario enabled TLS) and client TLS settings. */
  get restApi(): RestTarget {
    const tls = this.spec.restTls;
    const at = `${this.spec.host ?? '127.0.0.1'}:${this.spec.restPort}`;
    return tls ? { url: `https://${at}`, tls } : { url: `http://${at}` };
  }

  get pg(): PgTarget {
    return { host: this.spec.host ?? '127.0.0.1', port: this.spec.pgPort, user: CREDENTIALS.superuser.username, password: CREDENTIALS.superuser.password };
  }

  get agentRunning(): boolean {
    return this.proc?.running ?? false;
  }

  get agentPid(): number | null {
    return this.proc?.running ? this.proc.pid : null;
  }

  get exitDescription(): string {
    return this.proc ? this.proc.exitDescription : 'never started';
  }

  /** The postmaster PID of this node's data directory, when one is alive. */
  postmasterPid(): number | null {
    return postmasterPid(this.dataDir);
  }

  /** Writes the YAML (again) and starts the agent; its output is appended to `<name>.log`. */
  async start(): Promise<void> {
    if (this.proc?.running) throw new Error(`${this.name}: agent already running (pid ${this.proc.pid})`);
    mkdirSync(join(this.spec.dir, 'data'), { recursive: true, mode: 0o700 });
    mkdirSync(join(this.spec.dir, 'pglog', this.name), { recursive: true });
    writeFileSync(this.configPath, `# generated by features/support/node.ts\n${yaml.dump(nodeConfig(this.spec))}`);
    registerDataDir(this.dataDir);
    this.starts++;
    writeFileSync(this.logPath, `\n===== features: start #${this.starts} of ${this.name} at ${new Date().toISOString()} =====\n`, { flag: 'a' });
    const plain = this.spec.program?.(this.configPath) ?? { command: process.execPath, args: [AGENT_BIN, this.configPath] };
    const program = this.spec.wrap ? this.spec.wrap(plain.command, plain.args) : plain;
    this.proc = await ManagedProcess.start(this.name, program.command, program.args, {
      cwd: this.spec.dir,
      logPath: this.logPath,
    });
  }

  /** SIGSTOP of the agent process only (its PostgreSQL and companion fencer keep running). */
  freezeAgent(): void {
    if (!this.proc?.running) throw new Error(`${this.name}: agent is not running`);
    this.proc.signal('SIGSTOP');
  }

  /** SIGCONT of the agent process. */
  thawAgent(): void {
    this.proc?.signal('SIGCONT');
  }

  /** SIGTERM without waiting (a graceful stop is in progress afterwards). */
  terminate(): void {
    this.proc?.signal('SIGTERM');
  }

  /** Resolves true when the agent process has exited within `ms`. */
  async waitAgentExit(ms: number): Promise<boolean> {
    return this.proc ? this.proc.waitExit(ms) : true;
  }

  get agentExitCode(): number | null {
    return this.proc?.code ?? null;
  }

  /** SIGKILL of the agent only (its PostgreSQL keeps running). */
  async killAgent(): Promise<void> {
    await this.proc?.kill();
  }

  /** SIGKILL of the postmaster (its children notice and exit); resolves once it is gone. */
  async killPostmaster(): Promise<number | null> {
    const pid = this.postmasterPid();
    if (pid === null) return null;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      return pid;
    }
    for (let i = 0; i < 100 && this.postmasterPid() === pid; i++) await new Promise((r) => setTimeout(r, 100));
    return pid;
  }

  /**
   * An immediate shutdown of this node's PostgreSQL only (a crash; the agent keeps running): SIGQUIT
   * to the postmaster, what `pg_ctl stop -m immediate` sends, then waits for that process to end.
   * Not pg_ctl itself: it waits for postmaster.pid to go, and the agent may already have started a
   * new server that writes a new one.
   */
  async crashPostgres(): Promise<number> {
    const pid = this.postmasterPid();
    if (pid === null) throw new Error(`${this.name} has no running postmaster`);
    process.kill(pid, 'SIGQUIT');
    const alive = (): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 200 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
    if (alive()) throw new Error(`${this.name}'s postmaster ${pid} still runs 20 s after SIGQUIT`);
    return pid;
  }

  /** Graceful agent stop (SIGTERM, SIGKILL after `graceMs`), then make sure PostgreSQL is down. */
  async shutdown(graceMs: number): Promise<void> {
    if (this.proc) await this.proc.stop(graceMs);
    if (this.postmasterPid() !== null) {
      runSync(join(PG_BIN_DIR, 'pg_ctl'), ['stop', '-m', 'immediate', '-D', this.dataDir, '-t', '20'], 30_000);
    }
    const left = this.postmasterPid();
    if (left !== null) {
      try {
        process.kill(left, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}
