/**
 * What every `pgwardenctl` command works with: the node's YAML, a "ctl mode" etcd client (no
 * lease, no watch: one read per command, like patronictl) and an HTTP client for members' REST
 * APIs carrying `restapi.authentication` and the `ctl` TLS settings.
 */
import { HttpClient, type HttpResponse } from '../api/http-client.js';
import { clientTls } from '../api/tls.js';
import { etcdEndpoints, loadConfigFile } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { ClusterSnapshot, Member } from '../domain/cluster.js';
import { Etcd3Dcs } from '../dcs/etcd3.js';
import { errorText, PgwardenError } from '../errors.js';

/** An expected failure: printed as `pgwardenctl: <message>`, exit status 1, no stack trace. */
export class CtlError extends Error {}

export interface CtlContext {
  file: string;
  config: Config;
  scope: string;
  dcs: Etcd3Dcs;
  http: HttpClient;
  /** One read of the cluster; says which etcd endpoints it tried when it fails. */
  cluster(): Promise<ClusterSnapshot>;
  /** A request to a member's REST API (`path` relative to its base URL, e.g. `/restart`). */
  call(member: Member, method: string, path: string, body?: unknown, timeoutMs?: number): Promise<HttpResponse>;
  close(): Promise<void>;
}

/** Base URL of a member's REST API: its `api_url` without the trailing `/patroni`. */
export function apiBase(member: Member): string {
  return member.data.api_url.replace(/\/patroni\/?$/, '').replace(/\/+$/, '');
}

export function openContext(file: string | undefined, clusterName?: string): CtlContext {
  if (!file) throw new CtlError('no configuration file: pass -c FILE or set PGWARDENCTL_CONFIG_FILE');
  let config: Config;
  try {
    config = loadConfigFile(file).config;
  } catch (e) {
    throw new CtlError(errorText(e));
  }
  if (clusterName !== undefined && clusterName !== config.scope) {
    throw new CtlError(`${file} is for cluster "${config.scope}", not "${clusterName}"`);
  }
  const authSource = config.ctl?.authentication ?? config.restapi.authentication;
  const auth = authSource?.username ? { username: authSource.username, password: authSource.password ?? '' } : null;
  let http: HttpClient;
  try {
    http = new HttpClient({ auth, tls: clientTls(config) });
  } catch (e) {
    throw new CtlError(`${file}: ${errorText(e)}`);
  }
  const endpoints = etcdEndpoints(config);
  const dcs = new Etcd3Dcs({
    namespace: config.namespace,
    scope: config.scope,
    callTimeoutMs: 5_000,
    hosts: endpoints,
    username: config.etcd3.username,
    password: config.etcd3.password,
  });
  return {
    file,
    config,
    scope: config.scope,
    dcs,
    http,
    async cluster() {
      try {
        return await dcs.getCluster();
      } catch (e) {
        throw new CtlError(`cannot read cluster "${config.scope}" from etcd (${endpoints.join(', ')}): ${errorText(e)}`);
      }
    },
    async call(member, method, path, body, timeoutMs = 15_000) {
      const url = `${apiBase(member)}${path}`;
      try {
        return await http.request({ method, url, json: body, timeoutMs });
      } catch (e) {
        if (e instanceof PgwardenError) throw new CtlError(e.message);
        throw e;
      }
    },
    async close() {
      http.close();
      await dcs.close().catch(() => undefined);
    },
  };
}
