import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readlinkSync } from 'node:fs';

/**
 * The test network of the `@netns` scenarios: real network partitions between hosts on one
 * machine, without root.
 *
 * The cucumber run for those scenarios is started by `scripts/test.sh` inside
 * `unshare --user --map-current-user --net --keep-caps`: a private user and network namespace in
 * which the unprivileged test user holds CAP_NET_ADMIN. Nothing here touches the machine's own
 * network. In that namespace (the "harness" host, where cucumber, the writer and haproxy run) a
 * bridge carries 198.18.0.254/24 (RFC 2544's range for test networks); every other host
 * (etcd, postgres0..4) is a namespace of its own, held open by a `sleep` process, joined to the
 * bridge by a veth pair, with one address 198.18.0.N/24. Processes of a host run through
 * `nsenter --net=/proc/<holder>/ns/net`, so PostgreSQL, the agent and its fencer all live in it.
 *
 * A partition between two hosts is a blackhole route on each side: packets vanish silently, as
 * when a cable is cut (no RST, no ICMP), so open connections hang until their own timeouts fire.
 */

/** Prefix of the test network; host N is `${NET}.N`, the harness `${NET}.254`. */
export const NET = '198.18.0';
export const HARNESS_ADDRESS = `${NET}.254`;
const BRIDGE = 'pgwbr0';

/** One host of the test network: a network namespace held open by a `sleep` process. */
export interface NetHost {
  readonly name: string;
  readonly address: string;
  /** `command args` run inside the host's namespace. */
  wrap(command: string, args: string[]): { command: string; args: string[] };
}

function ip(args: string[], where?: number): void {
  const full = where === undefined ? ['ip', ...args] : ['nsenter', `--net=/proc/${where}/ns/net`, 'ip', ...args];
  const r = spawnSync(full[0]!, full.slice(1), { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`test network: \`${full.join(' ')}\` failed: ${(r.stderr || r.error?.message || '').trim()}`);
}

/**
 * Why the `@netns` scenarios cannot run here, or null when they can: they need the private
 * namespaces `scripts/test.sh` sets up (PGWARDEN_NETNS=1) and the `ip` and `nsenter` programs.
 */
export function netnsUnavailable(): string | null {
  if (process.env.PGWARDEN_NETNS !== '1') {
    return 'the @netns scenarios must run inside the private user+network namespace that `npm test` creates (scripts/test.sh runs them with `unshare --user --map-current-user --net --keep-caps`)';
  }
  for (const tool of ['/usr/bin/nsenter', '/usr/bin/unshare']) {
    if (!existsSync(tool)) return `${tool} is missing (Debian package util-linux)`;
  }
  if (spawnSync('ip', ['-V']).status !== 0) return 'the ip program is missing (Debian package iproute2)';
  return null;
}

/** The bridge, the hosts and the partitions of one scenario. `teardown` undoes all of it. */
export class TestNetwork {
  private readonly holders = new Map<string, { proc: ChildProcess; pid: number; address: string }>();
  private readonly cuts = new Set<string>();

  private constructor() {}

  /** Creates the bridge with the harness address; throws when the namespaces are missing. */
  static create(): TestNetwork {
    const why = netnsUnavailable();
    if (why) throw new Error(why);
    ip(['link', 'set', 'lo', 'up']);
    // A bridge left by a scenario that crashed half-way is reused, not duplicated.
    if (spawnSync('ip', ['link', 'show', BRIDGE]).status !== 0) ip(['link', 'add', BRIDGE, 'type', 'bridge']);
    spawnSync('ip', ['addr', 'flush', 'dev', BRIDGE]);
    ip(['addr', 'add', `${HARNESS_ADDRESS}/24`, 'dev', BRIDGE]);
    ip(['link', 'set', BRIDGE, 'up']);
    return new TestNetwork();
  }

  /** Creates host `name` with address `${NET}.octet` (octet 1..253) and returns it. */
  async addHost(name: string, octet: number): Promise<NetHost> {
    if (this.holders.has(name)) throw new Error(`test network: host ${name} exists already`);
    const proc = spawn('unshare', ['--net', 'sleep', '86400'], { stdio: 'ignore' });
    const pid = proc.pid;
    if (pid === undefined) throw new Error(`test network: cannot start the namespace holder of ${name}`);
    proc.on('error', () => undefined);
    // unshare execs sleep once the namespace exists: wait until the holder's namespace differs from ours.
    const mine = netnsId(process.pid);
    for (let i = 0; i < 200 && (netnsId(pid) === mine || netnsId(pid) === null); i++) await new Promise((r) => setTimeout(r, 10));
    if (netnsId(pid) === mine) throw new Error(`test network: the namespace of ${name} did not appear`);
    const address = `${NET}.${octet}`;
    const outer = `pgwv${octet}`;
    ip(['link', 'add', outer, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', String(pid)]);
    ip(['link', 'set', outer, 'master', BRIDGE]);
    ip(['link', 'set', outer, 'up']);
    ip(['link', 'set', 'lo', 'up'], pid);
    ip(['addr', 'add', `${address}/24`, 'dev', 'eth0'], pid);
    ip(['link', 'set', 'eth0', 'up'], pid);
    this.holders.set(name, { proc, pid, address });
    return {
      name,
      address,
      wrap: (command, args) => ({ command: 'nsenter', args: [`--net=/proc/${pid}/ns/net`, command, ...args] }),
    };
  }

  private host(name: string): { pid: number; address: string } {
    const h = this.holders.get(name);
    if (!h) throw new Error(`test network: no host ${name} (hosts: ${[...this.holders.keys()].join(', ')})`);
    return h;
  }

  /** Cuts `a` from `b` in both directions (a blackhole route on each side). */
  partition(a: string, b: string): void {
    const key = [a, b].sort().join('|');
    if (this.cuts.has(key)) return;
    const ha = this.host(a);
    const hb = this.host(b);
    ip(['route', 'add', 'blackhole', `${hb.address}/32`], ha.pid);
    ip(['route', 'add', 'blackhole', `${ha.address}/32`], hb.pid);
    this.cuts.add(key);
  }

  /** Removes the cut between `a` and `b`. */
  heal(a: string, b: string): void {
    const key = [a, b].sort().join('|');
    if (!this.cuts.delete(key)) return;
    const ha = this.host(a);
    const hb = this.host(b);
    ip(['route', 'del', 'blackhole', `${hb.address}/32`], ha.pid);
    ip(['route', 'del', 'blackhole', `${ha.address}/32`], hb.pid);
  }

  /** Removes every cut. */
  healAll(): void {
    for (const key of [...this.cuts]) {
      const [a, b] = key.split('|') as [string, string];
      this.heal(a, b);
    }
  }

  /** Current cuts as "a|b" strings (for reports). */
  get partitions(): string[] {
    return [...this.cuts];
  }

  /**
   * Ends the namespace holders; a namespace (and its end of the veth pair, which takes the other
   * end with it) goes away with its last process. Call after the processes inside have stopped.
   */
  teardown(): void {
    for (const h of this.holders.values()) {
      try {
        process.kill(h.pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    this.holders.clear();
    this.cuts.clear();
  }
}

function netnsId(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return null;
  }
}
