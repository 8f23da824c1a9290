/**
 * Parsing of the `host:port` strings that appear all over a Patroni-style YAML file
 * (`restapi.listen`, `postgresql.connect_address`, `etcd3.hosts`, ...). Shared by the schema
 * (as Ajv formats) and by every module that needs to bind or connect.
 */

/** A parsed `host:port`. IPv6 hosts are returned without brackets. */
export interface HostPort {
  host: string;
  port: number;
}

const HOST_CHARS = /^[A-Za-z0-9_.\-:%*]+$/;

function parsePort(text: string): number | null {
  if (!/^[0-9]{1,5}$/.test(text)) return null;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : null;
}

function cleanHost(raw: string): string | null {
  let host = raw;
  if (host.startsWith('[') || host.endsWith(']')) {
    if (!(host.startsWith('[') && host.endsWith(']'))) return null;
    host = host.slice(1, -1);
    if (!host.includes(':')) return null;
  }
  if (host === '' || !HOST_CHARS.test(host)) return null;
  return host;
}

function splitLastColon(s: string): [string, string] | null {
  const i = s.lastIndexOf(':');
  if (i < 0) return null;
  return [s.slice(0, i), s.slice(i + 1)];
}

/**
 * Parses `host:port` the way Patroni does (split at the LAST colon, so `::1:5432` works), and
 * also accepts the bracketed IPv6 form `[::1]:5432`. The port must be 1..65535 and the host
 * non-empty without spaces or commas.
 * @throws Error with a one-line message when the text is not `host:port`.
 */
export function parseHostPort(s: string): HostPort {
  const parts = splitLastColon(s.trim());
  const host = parts ? cleanHost(parts[0]) : null;
  const port = parts ? parsePort(parts[1]) : null;
  if (host === null || port === null) throw new Error(`'${s}' is not host:port`);
  return { host, port };
}

/** True when {@link parseHostPort} accepts `s`. */
export function isHostPort(s: string): boolean {
  try {
    parseHostPort(s);
    return true;
  } catch {
    return false;
  }
}

/**
 * Parses an etcd endpoint, where the port may be left out (Patroni then uses 2379).
 * @throws Error when the text is neither `host` nor `host:port`.
 */
export function parseEtcdHost(s: string, defaultPort = 2379): HostPort {
  const t = s.trim();
  if (isHostPort(t)) return parseHostPort(t);
  // A bare IPv6 address has colons but no port; only the bracketed form may omit the port.
  const host = t.includes(':') && !t.startsWith('[') ? null : cleanHost(t);
  if (host === null) throw new Error(`'${s}' is not host or host:port`);
  return { host, port: defaultPort };
}

/** True when {@link parseEtcdHost} accepts `s`. */
export function isEtcdHost(s: string): boolean {
  try {
    parseEtcdHost(s);
    return true;
  } catch {
    return false;
  }
}

/** A parsed `postgresql.listen`: the addresses for `listen_addresses` and the port. */
export interface ListenAddresses {
  hosts: string[];
  port: number;
}

/**
 * Parses `postgresql.listen` (`host[,host...]:port`, e.g. `127.0.0.1,::1:5432` or `*:5432`).
 * @throws Error when a host is empty or the port is not 1..65535.
 */
export function parseListen(s: string): ListenAddresses {
  const parts = splitLastColon(s.trim());
  const port = parts ? parsePort(parts[1]) : null;
  const hosts = parts ? parts[0].split(',').map((h) => cleanHost(h.trim())) : [];
  if (port === null || hosts.length === 0 || hosts.some((h) => h === null)) {
    throw new Error(`'${s}' is not host[,host...]:port`);
  }
  return { hosts: hosts as string[], port };
}

/** True when {@link parseListen} accepts `s`. */
export function isListen(s: string): boolean {
  try {
    parseListen(s);
    return true;
  } catch {
    return false;
  }
}

/** `host:port` for URLs and connection strings: IPv6 hosts get brackets. */
export function formatHostPort(hp: HostPort): string {
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}
