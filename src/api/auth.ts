/**
 * HTTP Basic authentication for the REST API's unsafe methods (reference §2.2): everything except
 * GET, HEAD and OPTIONS needs `restapi.authentication` credentials when they are configured.
 * The messages are Patroni's (`no auth header received`, `not authenticated`), which
 * `patronictl` shows to the operator; the realm is `pgwarden`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** Credentials from `restapi.authentication`. */
export interface BasicCredentials {
  username: string;
  password: string;
}

/** Methods anyone may call: health checks and read-only endpoints. */
export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

export const AUTH_CHALLENGE = 'Basic realm="pgwarden"';

export type AuthVerdict = 'ok' | 'missing' | 'wrong';

const digest = (b: Buffer): Buffer => createHash('sha256').update(b).digest();

/**
 * Checks an `Authorization` header against the expected credentials. Both sides are hashed to
 * fixed-length digests and compared with `timingSafeEqual`, so neither the length nor the content
 * of the secret leaks through response timing.
 */
export function checkBasicAuth(header: string | undefined, expected: BasicCredentials): AuthVerdict {
  if (header === undefined || header === '') return 'missing';
  const m = /^\s*basic\s+(\S+)\s*$/i.exec(header);
  const given = m ? Buffer.from(m[1]!, 'base64') : Buffer.alloc(0);
  const wanted = Buffer.from(`${expected.username}:${expected.password}`, 'utf8');
  const same = timingSafeEqual(digest(given), digest(wanted));
  return same && m !== null ? 'ok' : 'wrong';
}

/** `Authorization` header value a client sends for these credentials. */
export function basicAuthHeader(c: BasicCredentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64')}`;
}
