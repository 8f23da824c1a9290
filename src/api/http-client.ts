/**
 * The one HTTP(S) client pgwarden uses to talk to members' REST APIs: the agent probing peers,
 * the REST API polling during a switchover, and `pgwardenctl`. Built on `node:http`/`node:https`
 * so a CA, a client certificate and "insecure" can be set per client (Node's global `fetch` has
 * no per-request TLS options).
 *
 * Guarantees: one request per call, a hard deadline that covers connecting, sending and reading
 * the whole body, a cap on the body size, and no redirects. It never throws for an HTTP status:
 * any status comes back as a response; connection failures and the deadline reject with
 * `PgwardenError('PEER_UNREACHABLE')` naming the URL.
 */
import http from 'node:http';
import https from 'node:https';
import { PgwardenError } from '../errors.js';
import { basicAuthHeader, type BasicCredentials } from './auth.js';

/** TLS settings for https URLs (PEM contents, not paths). */
export interface ClientTls {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  passphrase?: string;
  /** false accepts any server certificate (`ctl.insecure`). Default true. */
  verify?: boolean;
}

export interface HttpClientOptions {
  auth?: BasicCredentials | null;
  tls?: ClientTls;
  /** Answers larger than this are cut off with an error. Default 1 MiB. */
  maxBodyBytes?: number;
}

export interface HttpRequest {
  method: string;
  url: string;
  /** Sent as JSON with `Content-Type: application/json` and a `Content-Length`. */
  json?: unknown;
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

const DEFAULT_MAX_BODY = 1024 * 1024;

export class HttpClient {
  private readonly authorization: string | null;
  private readonly agent: https.Agent;

  constructor(private readonly options: HttpClientOptions = {}) {
    this.authorization = options.auth ? basicAuthHeader(options.auth) : null;
    const tls = options.tls ?? {};
    this.agent = new https.Agent({
      keepAlive: false,
      ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
      ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
      ...(tls.key !== undefined ? { key: tls.key } : {}),
      ...(tls.passphrase !== undefined ? { passphrase: tls.passphrase } : {}),
      rejectUnauthorized: tls.verify ?? true,
    });
  }

  /** Sends one request; see the module comment for what it guarantees. */
  request(req: HttpRequest): Promise<HttpResponse> {
    let url: URL;
    try {
      url = new URL(req.url);
    } catch {
      return Promise.reject(new PgwardenError('PEER_UNREACHABLE', `not a URL: ${JSON.stringify(req.url)}`));
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return Promise.reject(new PgwardenError('PEER_UNREACHABLE', `${req.url}: only http and https URLs are supported`));
    }
    const body = req.json === undefined ? null : Buffer.from(JSON.stringify(req.json), 'utf8');
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.authorization !== null) headers['authorization'] = this.authorization;
    if (body !== null) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(body.length);
    }
    const max = this.options.maxBodyBytes ?? DEFAULT_MAX_BODY;
    const what = `${req.method} ${req.url}`;
    return new Promise<HttpResponse>((resolve, reject) => {
      let settled = false;
      const finish = (err: Error | null, res?: HttpResponse): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.signal?.removeEventListener('abort', onAbort);
        if (err) {
          request.destroy();
          reject(err);
        } else {
          resolve(res!);
        }
      };
      const fail = (why: string, cause?: unknown): void =>
        finish(new PgwardenError('PEER_UNREACHABLE', `${what}: ${why}`, cause === undefined ? undefined : { cause }));
      const onAbort = (): void => fail('aborted');
      const timer = setTimeout(() => fail(`no complete answer within ${req.timeoutMs} ms`), Math.max(0, req.timeoutMs));
      const transport = url.protocol === 'https:' ? https : http;
      const request = transport.request(
        url,
        { method: req.method, headers, ...(url.protocol === 'https:' ? { agent: this.agent } : { agent: false }) },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > max) fail(`answer larger than ${max} bytes`);
            else chunks.push(c);
          });
          res.on('end', () => finish(null, { status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', (e) => fail(e.message, e));
        },
      );
      request.on('error', (e) => fail(e.message, e));
      if (req.signal?.aborted) return onAbort();
      req.signal?.addEventListener('abort', onAbort, { once: true });
      request.end(body ?? undefined);
    });
  }

  /** `request` and parse the answer as JSON; `json` is undefined when the body is not JSON. */
  async requestJson(req: HttpRequest): Promise<HttpResponse & { json: unknown }> {
    const res = await this.request(req);
    let json: unknown;
    try {
      json = res.text === '' ? undefined : (JSON.parse(res.text) as unknown);
    } catch {
      json = undefined;
    }
    return { ...res, json };
  }

  close(): void {
    this.agent.destroy();
  }
}
