import http from 'node:http';
import https from 'node:https';

/** What one REST call returned (status, headers, body text); `status` 0 = no answer. */
export interface RestAnswer {
  status: number;
  headers: Headers;
  body: string;
  error?: string;
}

/** Client TLS for a node whose REST API serves HTTPS (PEM contents). */
export interface RestClientTls {
  ca: string;
  cert?: string;
  key?: string;
}

/** Where a node's REST API is: its base URL and, for HTTPS, what a trusted client presents. */
export interface RestTarget {
  url: string;
  tls?: RestClientTls;
}

export interface RestOptions {
  auth?: { username: string; password: string };
  body?: unknown;
  timeoutMs?: number;
  /** Send from this loopback address (allowlist checks), e.g. 127.0.0.3. */
  localAddress?: string;
  /** Leave out the client certificate of the target's TLS settings. */
  withoutClientCert?: boolean;
}

function toHeaders(raw: http.IncomingHttpHeaders): Headers {
  const h = new Headers();
  for (const [k, v] of Object.entries(raw)) {
    if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
  }
  return h;
}

/**
 * One HTTP(S) request to a node's REST API with a short deadline. Never rejects: a refused, timed
 * out or TLS-rejected request is `status: 0` with the reason in `error`.
 */
export function rest(target: RestTarget, method: string, path: string, opts: RestOptions = {}): Promise<RestAnswer> {
  const headers: Record<string, string> = {};
  if (opts.auth) headers.authorization = `Basic ${Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64')}`;
  let body: Buffer | undefined;
  if (opts.body !== undefined) {
    body = Buffer.from(JSON.stringify(opts.body));
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(body.length);
  }
  const tls = target.tls;
  const tlsOptions = tls
    ? { ca: tls.ca, ...(opts.withoutClientCert || !tls.cert ? {} : { cert: tls.cert, key: tls.key }) }
    : {};
  return new Promise<RestAnswer>((resolve) => {
    let done = false;
    const finish = (a: RestAnswer): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve(a);
    };
    const fail = (why: string): void => finish({ status: 0, headers: new Headers(), body: '', error: why });
    const timer = setTimeout(() => fail(`no answer within ${opts.timeoutMs ?? 3000} ms`), opts.timeoutMs ?? 3000);
    const transport = target.url.startsWith('https:') ? https : http;
    const req = transport.request(
      `${target.url}${path}`,
      { method, headers, agent: false, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}), ...tlsOptions },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => finish({ status: res.statusCode ?? 0, headers: toHeaders(res.headers), body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (e) => fail(`${e.name}: ${e.message}`));
      },
    );
    req.on('error', (e) => fail(`${e.name}: ${e.message}`));
    req.end(body);
  });
}

/** GET /patroni parsed, or null when the node does not answer with JSON. */
export async function patroniStatus(target: RestTarget): Promise<Record<string, unknown> | null> {
  const r = await rest(target, 'GET', '/patroni');
  if (r.status !== 200) return null;
  try {
    return JSON.parse(r.body) as Record<string, unknown>;
  } catch {
    return null;
  }
}
