/**
 * etcd connection details derived from the `etcd3` section.
 */
import { formatHostPort, parseEtcdHost } from './hostport.js';
import type { Config } from './schema.js';

/**
 * The etcd endpoints as URLs (`http://127.0.0.1:2379`), in the order written, from `etcd3.host`
 * or `etcd3.hosts` (a comma-separated string has already been split by the loader). A missing
 * port means 2379, as in Patroni; IPv6 hosts are bracketed. Never empty for a loaded Config.
 */
export function etcdEndpoints(config: Pick<Config, 'etcd3'>): string[] {
  const { host, hosts, protocol } = config.etcd3;
  const list = hosts ?? (host !== undefined ? [host] : []);
  return list.map((h) => `${protocol}://${formatHostPort(parseEtcdHost(h))}`);
}
