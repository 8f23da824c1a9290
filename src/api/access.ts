/**
 * The access check in front of every unsafe REST method (reference §2.2), in Patroni's order:
 * 1. the client address must be allowed by `restapi.allowlist` / `allowlist_include_members`
 *    → else 403 `Access is denied`;
 * 2. over HTTPS with `verify_client` optional or required, the client must have presented a
 *    certificate that `restapi.cafile` verifies → else 403 `client certificate required`;
 * 3. with `restapi.authentication`, Basic credentials must match → else 401 (`auth.ts`).
 * GET, HEAD and OPTIONS pass untouched: health checks and status reads are open, as in Patroni.
 * It runs as an `onRequest` hook, before the body is read, so a refused client learns nothing
 * from body parsing errors.
 */
import type { TLSSocket } from 'node:tls';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ClientAllowlist } from './allowlist.js';
import { AUTH_CHALLENGE, checkBasicAuth, SAFE_METHODS, type BasicCredentials } from './auth.js';

export interface AccessRules {
  /** `restapi.authentication`; null leaves unsafe methods open to anyone allowed below. */
  auth: BasicCredentials | null;
  /** null when neither `allowlist` nor `allowlist_include_members` is set. */
  allowlist?: ClientAllowlist | null;
  /** Whether callers of unsafe methods must present a verified client certificate. */
  requireClientCert?: boolean;
  /** Members' `api_url`s, for `allowlist_include_members`. */
  memberApiUrls?: readonly string[];
}

const TEXT = 'text/plain; charset=utf-8';

/** True when the request came over TLS with a client certificate that verified. */
function hasVerifiedClientCert(request: FastifyRequest): boolean {
  const socket = request.raw.socket as Partial<TLSSocket>;
  return socket.encrypted === true && socket.authorized === true;
}

/**
 * The hook enforcing the rules `rulesNow()` returns (read per unsafe request, so a reload that
 * rebuilds the allowlist takes effect at once); an `onRequest` hook, also called by the 404 handler.
 */
export function accessHook(rulesNow: () => AccessRules) {
  return async function checkAccess(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    if (SAFE_METHODS.has(request.method)) return undefined;
    const rules = rulesNow();
    const allowlist = rules.allowlist ?? null;
    if (allowlist !== null && !allowlist.allows(request.raw.socket.remoteAddress, rules.memberApiUrls ?? [])) {
      return reply.code(403).type(TEXT).send('Access is denied');
    }
    if (rules.requireClientCert === true && !hasVerifiedClientCert(request)) {
      return reply.code(403).type(TEXT).send('client certificate required');
    }
    if (rules.auth === null) return undefined;
    const verdict = checkBasicAuth(request.headers.authorization, rules.auth);
    if (verdict === 'ok') return undefined;
    return reply
      .code(401)
      .header('www-authenticate', AUTH_CHALLENGE)
      .type(TEXT)
      .send(verdict === 'missing' ? 'no auth header received' : 'not authenticated');
  };
}
