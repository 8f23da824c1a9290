/**
 * pgwarden's closed error taxonomy. Adapters catch everything their library throws and rethrow
 * one of these, so the HA loop branches on `code` only. The most important split is
 * `DCS_CONFLICT` (someone else holds the key: act on it now) versus `DCS_UNAVAILABLE`
 * (etcd did not answer: the outcome of a write is unknown).
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'DCS_UNAVAILABLE'
  | 'DCS_CONFLICT'
  | 'DCS_LEASE_LOST'
  | 'PG_UNAVAILABLE'
  | 'PG_COMMAND_FAILED'
  | 'PG_TIMEOUT'
  | 'PEER_UNREACHABLE'
  | 'ABORTED'
  | 'BUG';

/** Every code with the sentence an operator reads in logs and docs. */
export const ERROR_CODES: Readonly<Record<ErrorCode, string>> = {
  CONFIG_INVALID: 'the configuration file or the dynamic configuration is invalid',
  DCS_UNAVAILABLE: 'etcd did not answer in time; the outcome of the request is unknown',
  DCS_CONFLICT: 'a compare-and-set failed: another node holds or changed the key',
  DCS_LEASE_LOST: 'the node lease expired or was revoked in etcd',
  PG_UNAVAILABLE: 'the local PostgreSQL server could not be reached',
  PG_COMMAND_FAILED: 'a PostgreSQL program (initdb, pg_ctl, pg_basebackup, pg_rewind) failed',
  PG_TIMEOUT: 'a PostgreSQL program or query did not finish before its deadline',
  PEER_UNREACHABLE: "a peer's REST API did not answer",
  ABORTED: 'the operation was cancelled',
  BUG: 'an unexpected error; please report it with the log',
};

export class PgwardenError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = `PgwardenError[${code}]`;
  }
}

/** Configuration problems, each one a `path: message` line. */
export class ConfigError extends PgwardenError {
  readonly problems: readonly string[];
  constructor(source: string, problems: readonly string[]) {
    super('CONFIG_INVALID', `${source}: invalid configuration\n  ${problems.join('\n  ')}`);
    this.problems = problems;
  }
}

export function isPgwardenError(e: unknown, code?: ErrorCode): e is PgwardenError {
  return e instanceof PgwardenError && (code === undefined || e.code === code);
}

/** Short text for logs: message of any thrown value. */
export function errorText(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
