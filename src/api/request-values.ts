/**
 * Parsing of the values operators send in write requests (reference §2.6), with Patroni's status
 * codes and messages: scheduled times, PostgreSQL versions, timeouts, and the rule that a body
 * carries only known fields.
 */

/** A refused request: HTTP status and the text the client sees. A class, so no body can pass for one. */
export class Refusal {
  constructor(
    readonly status: number,
    readonly message: string,
  ) {}
}

export const refuse = (status: number, message: string): Refusal => new Refusal(status, message);

/** A request body that must be a JSON object (or absent, when `optional`). */
export function bodyObject(body: unknown, optional: boolean): Record<string, unknown> | Refusal {
  if (body === undefined || body === null) {
    return optional ? {} : refuse(400, 'a JSON object body is required');
  }
  if (typeof body !== 'object' || Array.isArray(body)) return refuse(400, 'the request body must be a JSON object');
  return body as Record<string, unknown>;
}

export function isRefusal(x: unknown): x is Refusal {
  return x instanceof Refusal;
}

/** The first field not in `allowed`, as a refusal naming the allowed ones. */
export function unknownField(body: Record<string, unknown>, allowed: readonly string[], message?: (key: string) => string): Refusal | null {
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key)) return refuse(400, message ? message(key) : `unknown field "${key}"; allowed: ${allowed.join(', ')}`);
  }
  return null;
}

/** An optional string field (null and absent are "not given"). */
export function optionalString(body: Record<string, unknown>, key: string): string | undefined | Refusal {
  const v = body[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') return refuse(400, `${key} must be a string`);
  return v;
}

/** Time zone at the end of an ISO-like timestamp: `Z`, `+01:00`, `+0100`, `+01`. */
const ZONE = /(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$/;

/**
 * A scheduled time for `action` (`switchover`, `failover`, `restart`): ISO 8601 with a time zone,
 * not in the past. Returns epoch milliseconds.
 */
export function parseSchedule(text: string, action: string, wallNow: number): number | Refusal {
  const t = text.trim();
  const when = Date.parse(t.replace(/^(\d{4}-\d{2}-\d{2}) /, '$1T'));
  if (Number.isNaN(when)) return refuse(422, 'Unable to parse scheduled timestamp. It should be in an unambiguous format, e.g. ISO 8601');
  if (!ZONE.test(t)) return refuse(400, `Timezone information is mandatory for the scheduled ${action}`);
  if (when < wallNow) return refuse(422, `Cannot schedule ${action} in the past`);
  return when;
}

/**
 * A PostgreSQL version as `server_version_num`: `15` → 150000, `15.4` → 150004, `9.6.24` → 90624.
 */
export function parsePgVersion(v: unknown): number | Refusal {
  const text = typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim() : '';
  const m = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(text);
  if (!m) return refuse(400, `postgres_version: ${JSON.stringify(v)} is not a PostgreSQL version (e.g. 15.4)`);
  const major = Number(m[1]);
  const minor = Number(m[2] ?? 0);
  if (major >= 10) {
    if (m[3] !== undefined) return refuse(400, `postgres_version: ${text}: versions since 10 have two parts (e.g. 15.4)`);
    return major * 10000 + minor;
  }
  return major * 10000 + minor * 100 + Number(m[3] ?? 0);
}

const DURATION_UNITS: Readonly<Record<string, number>> = { '': 1, s: 1, min: 60, h: 3600, d: 86400, ms: 0.001 };

/** A timeout in seconds, written like a PostgreSQL duration (`30`, `30s`, `5min`), > 0. */
export function parseTimeoutSeconds(v: unknown): number | Refusal {
  const bad = refuse(400, 'Timeout should be a positive number of seconds');
  const text = typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim() : '';
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|min|h|d)?$/.exec(text);
  if (!m) return bad;
  const seconds = Number(m[1]) * DURATION_UNITS[m[2] ?? '']!;
  return seconds > 0 ? seconds : bad;
}

/** Truthy the way Patroni reads flags in request bodies. */
export function truthy(v: unknown): boolean {
  if (typeof v === 'string') return ['true', 'on', 'yes', 'y', '1'].includes(v.trim().toLowerCase());
  return Boolean(v);
}
