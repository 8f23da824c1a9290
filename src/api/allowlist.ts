/**
 * Which client addresses may call the REST API's unsafe methods (reference §2.2, step 1):
 * `restapi.allowlist` (IPv4/IPv6 addresses, CIDR networks, host names) and, with
 * `allowlist_include_members`, the addresses of every member's `api_url` host.
 *
 * No DNS lookup ever runs on the request path: host names in the allowlist are resolved when the
 * list is built (start and reload), and members' host names are resolved in the background and
 * cached, so a member whose name has not resolved yet is refused until it has (a retry a moment
 * later succeeds). Matching uses Node's `net.BlockList`, which knows CIDR arithmetic for both
 * families; IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`, what a dual-stack socket reports) are
 * matched as the IPv4 address they carry.
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { errorText } from '../errors.js';

type Family = 'ipv4' | 'ipv6';

/** Resolves a host name to all its addresses (injectable for tests). */
export type ResolveHost = (host: string) => Promise<string[]>;

export const resolveWithDns: ResolveHost = async (host) => (await lookup(host, { all: true })).map((a) => a.address);

/** How long a member host name's addresses are trusted before they are looked up again. */
const MEMBER_DNS_TTL_MS = 60_000;

/** An address as `BlockList` wants it: bare, IPv4-mapped IPv6 unwrapped, zone index dropped. */
export function normaliseAddress(raw: string): { address: string; family: Family } | null {
  let address = raw.trim();
  if (address.startsWith('[') && address.endsWith(']')) address = address.slice(1, -1);
  const zone = address.indexOf('%');
  if (zone !== -1) address = address.slice(0, zone);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) address = mapped[1]!;
  const version = isIP(address);
  if (version === 0) return null;
  return { address, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** The host part of a URL (`https://[::1]:8008/patroni` → `::1`), or null. */
export function urlHost(url: string): string | null {
  try {
    const host = new URL(url).hostname;
    return host.startsWith('[') ? host.slice(1, -1) : host;
  } catch {
    return null;
  }
}

/** Adds an IP or CIDR entry; false when it is neither (then it is a host name). */
function addLiteral(list: BlockList, entry: string): boolean {
  const slash = entry.indexOf('/');
  const ip = normaliseAddress(slash === -1 ? entry : entry.slice(0, slash));
  if (ip === null) return false;
  if (slash === -1) {
    list.addAddress(ip.address, ip.family);
    return true;
  }
  const bits = entry.slice(slash + 1);
  const prefix = /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  if (!(prefix <= (ip.family === 'ipv4' ? 32 : 128))) return false;
  list.addSubnet(ip.address, prefix, ip.family);
  return true;
}

export class ClientAllowlist {
  private readonly memberAddresses = new Map<string, { addresses: string[]; at: number }>();
  private readonly resolving = new Set<string>();

  private constructor(
    private readonly fixed: BlockList | null,
    private readonly includeMembers: boolean,
    private readonly resolveHost: ResolveHost,
    private readonly warn: (msg: string) => void,
  ) {}

  /**
   * Builds the list from `restapi.allowlist` / `allowlist_include_members`; null when neither is
   * set (everyone may call). A host name that does not resolve is left out with a warning, and an
   * entry that is no address, network or name (`10.0.0.0/99`) as well: refusing to start the
   * REST API over it would take health checks down with it.
   */
  static async build(
    entries: readonly string[] | undefined,
    includeMembers: boolean | undefined,
    warn: (msg: string) => void,
    resolveHost: ResolveHost = resolveWithDns,
  ): Promise<ClientAllowlist | null> {
    const list = entries ?? [];
    if (list.length === 0 && includeMembers !== true) return null;
    const fixed = new BlockList();
    for (const entry of list) {
      if (addLiteral(fixed, entry)) continue;
      if (entry.includes('/') || entry.includes(':')) {
        warn(`restapi.allowlist: "${entry}" is not an IP address, a network or a host name; left out`);
        continue;
      }
      try {
        for (const a of await resolveHost(entry)) addLiteral(fixed, a);
      } catch (e) {
        warn(`restapi.allowlist: cannot resolve "${entry}" (${errorText(e)}); left out until the next reload`);
      }
    }
    return new ClientAllowlist(fixed, includeMembers === true, resolveHost, warn);
  }

  /**
   * True when `clientAddress` is in the allowlist, or (with `allowlist_include_members`) is one
   * of the addresses of the given members' `api_url` hosts. Synchronous: uses only what is
   * already resolved.
   */
  allows(clientAddress: string | undefined, memberApiUrls: readonly string[], now: number = Date.now()): boolean {
    const client = clientAddress === undefined ? null : normaliseAddress(clientAddress);
    if (client === null) return false;
    if (this.fixed?.check(client.address, client.family)) return true;
    if (!this.includeMembers) return false;
    for (const url of memberApiUrls) {
      const host = urlHost(url);
      if (host === null) continue;
      for (const a of this.addressesOf(host, now)) {
        const member = normaliseAddress(a);
        if (member !== null && member.address === client.address) return true;
      }
    }
    return false;
  }

  /** A member host's addresses: itself when it is an IP, else the cache (refreshed in the background). */
  private addressesOf(host: string, now: number): string[] {
    if (isIP(host) !== 0) return [host];
    const cached = this.memberAddresses.get(host);
    if ((cached === undefined || now - cached.at > MEMBER_DNS_TTL_MS) && !this.resolving.has(host)) {
      this.resolving.add(host);
      this.resolveHost(host)
        .then((addresses) => this.memberAddresses.set(host, { addresses, at: Date.now() }))
        .catch((e: unknown) => this.warn(`allowlist_include_members: cannot resolve member host "${host}": ${errorText(e)}`))
        .finally(() => this.resolving.delete(host));
    }
    return cached?.addresses ?? [];
  }
}
