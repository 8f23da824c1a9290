/**
 * The observer's REST API (`restapi.listen` of its YAML). Read-only: GET and HEAD only, every
 * other method answers 405. Handlers read the published scope states only, never etcd or
 * PostgreSQL, so a slow member cannot make a scrape time out.
 *
 * - `GET /clusters`: `{"clusters": [...]}`, one `/cluster` document per observed scope;
 * - `GET /cluster?scope=NAME`: one scope's document (`report.ts`); `scope` may be left out when
 *   the observer watches one cluster. 404 for a scope it does not observe, 503 before the
 *   scope's first round (nothing measured yet);
 * - `GET /metrics`: Prometheus text (`pgwarden_observer_*`).
 *
 * With `restapi.authentication` every request needs HTTP Basic credentials (401 otherwise).
 */
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { AUTH_CHALLENGE, checkBasicAuth, type BasicCredentials } from '../api/auth.js';
import { METRICS_CONTENT_TYPE } from '../api/metrics.js';
import { splitUrl } from '../api/server.js';
import { observedClusterJson, observerMetricsText } from './report.js';
import type { ScopeState } from './scope-observer.js';

export interface ObserverApiDeps {
  /** The published state of every observed scope, in the order of the YAML. Cheap. */
  states(): ScopeState[];
  /** `restapi.authentication`, or null for an open API. */
  auth: BasicCredentials | null;
  /** Wall clock in ms. */
  now(): number;
}

const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';
const READ_METHODS = ['GET', 'HEAD'];

function send(request: FastifyRequest, reply: FastifyReply, code: number, type: string, body: string): void {
  reply.code(code).type(type);
  if (request.method === 'HEAD') reply.send();
  else reply.send(body);
}

function sendText(request: FastifyRequest, reply: FastifyReply, code: number, text: string): void {
  send(request, reply, code, TEXT, `${text}\n`);
}

/** The `scope` query parameter (first value), or undefined. */
function scopeParam(query: unknown): string | undefined {
  if (query === null || typeof query !== 'object') return undefined;
  const v: unknown = (query as Record<string, unknown>)['scope'];
  const first: unknown = Array.isArray(v) ? v[0] : v;
  return typeof first === 'string' ? first : undefined;
}

/** Builds the Fastify app without listening (tests call `inject`). */
export function buildObserverServer(deps: ObserverApiDeps): FastifyInstance {
  const app = Fastify({ logger: false, logController: new LogController({ disableRequestLogging: true }), exposeHeadRoutes: false, requestTimeout: 10_000, bodyLimit: 64 * 1024 });
  // No endpoint takes a body: whatever is sent is read and dropped, so the answer is the 405 below.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, _body, done) => done(null, undefined));

  app.addHook('onRequest', async (request, reply) => {
    if (deps.auth === null) return;
    const verdict = checkBasicAuth(request.headers.authorization, deps.auth);
    if (verdict === 'ok') return;
    reply.header('www-authenticate', AUTH_CHALLENGE);
    sendText(request, reply, 401, verdict === 'missing' ? 'no auth header received' : 'not authenticated');
    return reply;
  });

  app.route({
    method: READ_METHODS,
    url: '*',
    handler(request, reply) {
      const { segment } = splitUrl(request.url);
      const now = deps.now();
      const states = deps.states();
      switch (segment) {
        case 'clusters':
          return send(request, reply, 200, JSON_TYPE, JSON.stringify({ clusters: states.map((s) => observedClusterJson(s, now)) }));
        case 'cluster': {
          const wanted = scopeParam(request.query);
          const names = states.map((s) => s.scope).join(', ');
          if (wanted === undefined && states.length !== 1) {
            return sendText(request, reply, 400, `name the cluster: /cluster?scope=NAME (observed: ${names})`);
          }
          const state = wanted === undefined ? states[0]! : states.find((s) => s.scope === wanted);
          if (state === undefined) return sendText(request, reply, 404, `scope ${JSON.stringify(wanted)} is not observed (observed: ${names})`);
          return send(request, reply, state.round === null ? 503 : 200, JSON_TYPE, JSON.stringify(observedClusterJson(state, now)));
        }
        case 'metrics':
          return send(request, reply, 200, METRICS_CONTENT_TYPE, observerMetricsText(states));
        default:
          return sendText(request, reply, 404, `no such endpoint; the observer serves /cluster?scope=NAME, /clusters and /metrics`);
      }
    },
  });

  app.route({
    method: app.supportedMethods.filter((m) => !READ_METHODS.includes(m)),
    url: '*',
    handler(request, reply) {
      reply.header('allow', READ_METHODS.join(', '));
      sendText(request, reply, 405, `the observer is read-only: ${request.method} is not allowed (only GET and HEAD)`);
    },
  });
  app.setNotFoundHandler((request, reply) => {
    reply.header('allow', READ_METHODS.join(', '));
    sendText(request, reply, 405, `the observer is read-only: ${request.method} is not allowed (only GET and HEAD)`);
  });
  return app;
}
