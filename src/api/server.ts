/**
 * The REST API (reference §2): health checks for proxies, status for peers and operators,
 * metrics, and authenticated operator commands.
 *
 * Request path guarantees:
 * - handlers read only the HA loop's published `NodeView` and the clock: no etcd or PostgreSQL
 *   call ever runs while a proxy waits for a health answer, so a slow etcd cannot make health
 *   checks time out, and the answer is as old as the last cycle, never older than `ttl` for
 *   anything that claims "primary";
 * - GET, HEAD and OPTIONS on any path are unauthenticated and answer the same status code
 *   (HEAD/OPTIONS with an empty body) — unlike Patroni, `HEAD /patroni` is 200, not a health
 *   check that fails;
 * - every other method passes the access check first (`access.ts`: allowlist, client
 *   certificate, Basic credentials), then its
 *   body is parsed as JSON whatever its Content-Type (curl `-d` sends form encoding), then it is
 *   dispatched to the write endpoints of `operator.ts`; any other method and path answers 501
 *   with Patroni's `Server does not support this operation`, which `patronictl` recognises.
 *
 * Routing follows Patroni: the first path segment picks the endpoint (`/patroni/x` is
 * `/patroni`), and any GET path without an endpoint is a health check (`/`, `/replica?lag=1MB`).
 */
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Clock } from '../domain/clock.js';
import type { NodeView } from '../domain/node-view.js';
import { accessHook } from './access.js';
import type { ClientAllowlist } from './allowlist.js';
import { SAFE_METHODS, type BasicCredentials } from './auth.js';
import { healthStatus, livenessStatus, readinessStatus } from './health.js';
import { METRICS_CONTENT_TYPE, metricsText } from './metrics.js';
import {
  acceptFailsafe,
  cancelScheduledSwitchover,
  patchConfig,
  putConfig,
  requestLeaderChange,
  requestReinitialize,
  requestRestart,
  type Answer,
  type OperatorContext,
  type OperatorPort,
} from './operator.js';
import { clusterJson, statusJson } from './status.js';
import type { ServerTls } from './tls.js';

/** What the API needs from the daemon; everything is read per request, nothing is cached. */
export interface ApiDeps {
  /** The view the HA loop published after its last cycle. Must be cheap: called per request. */
  view(): NodeView;
  clock: Clock;
  /** `restapi.authentication`; null leaves unsafe methods open (as Patroni does). */
  auth: BasicCredentials | null;
  /** The current `restapi.allowlist` (rebuilt on reload); absent or null allows every address. */
  allowlist?: () => ClientAllowlist | null;
  /** HTTPS options (`api/tls.ts`); absent or null serves plain HTTP. */
  tls?: ServerTls | null;
  /** `POST /reload`: schedule a configuration reload (like SIGHUP); must not block. */
  requestReload(): void;
  /** The write endpoints act through this; without it they answer 501. */
  operator?: OperatorPort;
  log?: { warn(msg: string): void; error(msg: string): void };
}

/** Body text of 501 answers; `patronictl` looks for this exact phrase. */
export const NOT_SUPPORTED = 'Server does not support this operation';

const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';
/** Request bodies are small JSON objects (switchover, restart, config patches). */
const BODY_LIMIT = 64 * 1024;

/** First path segment without the query string: `/replica?lag=1` → `replica`, `/` → ``. */
export function splitUrl(url: string): { path: string; segment: string } {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  let i = 0;
  while (i < path.length && path.charCodeAt(i) === 47 /* '/' */) i++;
  const end = path.indexOf('/', i);
  return { path, segment: end === -1 ? path.slice(i) : path.slice(i, end) };
}

/** Fastify's parsed query with one value per key (the first, as Patroni takes). */
function singleQuery(query: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (query === null || typeof query !== 'object') return out;
  for (const [k, v] of Object.entries(query as Record<string, unknown>)) {
    const first: unknown = Array.isArray(v) ? v[0] : v;
    if (typeof first === 'string') out[k] = first;
  }
  return out;
}

function sendJson(reply: FastifyReply, code: number, body: unknown, statusOnly: boolean): void {
  if (statusOnly) reply.code(code).send();
  else reply.code(code).type(JSON_TYPE).send(JSON.stringify(body));
}

function sendText(reply: FastifyReply, code: number, text: string): void {
  reply.code(code).type(TEXT).send(text);
}

function notSupported(request: FastifyRequest, reply: FastifyReply): void {
  sendText(reply, 501, `Unsupported method (${JSON.stringify(request.method)}): ${NOT_SUPPORTED}`);
}

/** Dispatches an authenticated write request; null when no endpoint matches (501). */
function writeEndpoint(method: string, segment: string, body: unknown, c: OperatorContext): Promise<Answer> | null {
  switch (`${method} ${segment}`) {
    case 'POST switchover':
      return requestLeaderChange('switchover', body, c);
    case 'POST failover':
      return requestLeaderChange('failover', body, c);
    case 'DELETE switchover':
      return cancelScheduledSwitchover(c);
    case 'POST restart':
      return requestRestart(body, c);
    case 'DELETE restart':
      return Promise.resolve(((r) => ({ status: r.status, text: r.message }))(c.port.cancelScheduledRestart()));
    case 'POST reinitialize':
      return requestReinitialize(body, c);
    case 'PATCH config':
      return patchConfig(body, c);
    case 'PUT config':
      return putConfig(body, c);
    case 'POST failsafe':
      return Promise.resolve(acceptFailsafe(body, c));
    default:
      return null;
  }
}

/**
 * Builds the Fastify app without listening (the daemon calls `listen`, tests call `inject`).
 * Logging is off: health checks arrive several times a second from every proxy.
 */
export function buildServer(deps: ApiDeps): FastifyInstance {
  const options = {
    logger: false,
    logController: new LogController({ disableRequestLogging: true }),
    exposeHeadRoutes: false,
    bodyLimit: BODY_LIMIT,
    requestTimeout: 10_000,
  } as const;
  // With `https` Fastify's type parameters name an https.Server; the routes below do not depend
  // on the server type, so both variants are handled as the plain-HTTP instance type.
  const app = deps.tls ? (Fastify({ ...options, https: deps.tls }) as unknown as FastifyInstance) : Fastify(options);

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    try {
      done(null, JSON.parse(text) as unknown);
    } catch (e) {
      const err = new Error(`request body is not valid JSON: ${(e as Error).message}`) as FastifyError;
      err.statusCode = 400;
      done(err, undefined);
    }
  });

  app.setErrorHandler((error: FastifyError, _request, reply) => {
    const code = typeof error.statusCode === 'number' && error.statusCode >= 400 ? error.statusCode : 500;
    if (code >= 500) {
      deps.log?.error(`REST API: ${error.message}`);
      sendText(reply, 500, 'internal error; see the pgwarden log');
    } else {
      sendText(reply, code, error.message);
    }
  });

  app.route({
    method: ['GET', 'HEAD', 'OPTIONS'],
    url: '*',
    handler(request, reply) {
      const view = deps.view();
      const now = deps.clock.now();
      const { path, segment } = splitUrl(request.url);
      const statusOnly = request.method !== 'GET';
      switch (segment) {
        case 'patroni':
          return sendJson(reply, 200, statusJson(view, deps.clock.wallNow(), now), statusOnly);
        case 'cluster':
          return sendJson(reply, view.cluster === null ? 503 : 200, clusterJson(view), statusOnly);
        case 'history':
          return sendJson(reply, 200, view.cluster?.history ?? [], statusOnly);
        case 'failsafe': {
          const failsafe = view.cluster?.failsafe ?? null;
          if (failsafe !== null) return sendJson(reply, 200, failsafe, statusOnly);
          if (statusOnly) return void reply.code(502).send();
          return sendText(reply, 502, 'no failsafe key in the DCS (failsafe_mode is off, or the DCS is not reachable)');
        }
        case 'config': {
          const config = view.cluster?.config ?? null;
          if (config !== null) return sendJson(reply, 200, config, statusOnly);
          if (statusOnly) return void reply.code(502).send();
          return sendText(reply, 502, 'no configuration in the DCS (or the DCS is not reachable)');
        }
        case 'metrics':
          if (statusOnly) return void reply.code(200).send();
          return void reply.code(200).type(METRICS_CONTENT_TYPE).send(metricsText(view, deps.clock.wallNow(), now));
        case 'liveness':
          return void reply.code(livenessStatus(view, now)).send();
        case 'readiness':
          return void reply.code(readinessStatus(view, now)).send();
        default: {
          const code = healthStatus(path, singleQuery(request.query), view, now);
          if (statusOnly) return void reply.code(code).send();
          return sendJson(reply, code, statusJson(view, deps.clock.wallNow(), now), false);
        }
      }
    },
  });

  const checkAccess = accessHook(() => ({
    auth: deps.auth,
    allowlist: deps.allowlist?.() ?? null,
    requireClientCert: deps.tls?.requestCert === true,
    memberApiUrls: deps.view().cluster?.members.map((m) => m.data.api_url) ?? [],
  }));
  app.route({
    method: app.supportedMethods.filter((m) => !SAFE_METHODS.has(m)),
    url: '*',
    onRequest: checkAccess,
    async handler(request, reply) {
      const { segment } = splitUrl(request.url);
      if (request.method === 'POST' && segment === 'reload') {
        deps.requestReload();
        return sendText(reply, 202, 'reload scheduled');
      }
      const port = deps.operator;
      const answer = port ? await writeEndpoint(request.method, segment, request.body, { port, view: deps.view(), wallNow: deps.clock.wallNow() }) : null;
      if (answer === null) return notSupported(request, reply);
      if ('json' in answer) return sendJson(reply, answer.status, answer.json, false);
      return sendText(reply, answer.status, answer.text);
    },
  });

  // Methods Node accepts but Fastify does not route (e.g. `ACL`): check access, then 501.
  app.setNotFoundHandler(async (request, reply) => {
    if (await checkAccess(request, reply)) return;
    notSupported(request, reply);
  });

  return app;
}
