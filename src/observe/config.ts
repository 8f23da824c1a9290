/**
 * The observer YAML (`pgwarden observe FILE.yml`): which clusters to watch in etcd, how to log in
 * to their members' PostgreSQL, where to serve the observer's own REST API and where to put its
 * alert files. One TypeBox schema gives the type, the defaults and the validation. Sections and
 * keys an operator already knows are the same schemas as elsewhere, so they can be copied:
 * `etcd3`, `log`, `restapi.listen`/`authentication` and `postgresql.authentication.superuser`
 * from a node's YAML; `scope`/`scopes` from the watch YAML; `alert_file_dir`,
 * `warning_replication_*_lag` and `heartbeat_table` from the outside-view keys.
 *
 * Problems are reported all at once as `dotted.path: message` lines in one `ConfigError` that
 * names the file, as for every pgwarden YAML.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { sortProblems, validate } from '../config/ajv.js';
import { collectAnnotations, deepFreeze, dropEmptySections, isPlainObject } from '../config/annotations.js';
import { etcd3Problems, normaliseSharedSections, parseYaml, readConfigText, requireMapping } from '../config/load.js';
import { Etcd3Schema, LogSchema, PostgresqlSchema, RestApiSchema } from '../config/schema.js';
import { ConfigError, errorText } from '../errors.js';
import { HeartbeatTableSchema, OutsideViewProperties } from '../outside/config.js';
import { ScopeName, scopeProblems } from '../watch/config.js';

const CLOSED = { additionalProperties: false } as const;

/** A PostgreSQL login, exactly as `postgresql.authentication.superuser` of a node's YAML. */
const PgLogin = PostgresqlSchema.properties.authentication.properties.superuser;

/**
 * `postgresql`: how the observer logs in to every member. It only reads (see `observe/probe.ts`),
 * so a role with `pg_monitor` is enough; `superuser` is accepted so a node's section can be
 * copied. Exactly one of the two.
 */
export const ObserverPostgresqlSchema = Type.Object(
  {
    authentication: Type.Object({ monitoring: Type.Optional(PgLogin), superuser: Type.Optional(PgLogin) }, CLOSED),
    database: PostgresqlSchema.properties.database,
  },
  CLOSED,
);

/**
 * `restapi`: where the observer serves `/cluster`, `/clusters` and `/metrics`. With
 * `authentication`, EVERY request needs it (unlike a node, whose GETs stay open for proxies: no
 * proxy health-checks an observer, and its answers list every member's address).
 */
export const ObserverRestApiSchema = Type.Pick(RestApiSchema, ['listen', 'authentication'], CLOSED);

/** The whole observer YAML. */
export const ObserverConfigSchema = Type.Object(
  {
    etcd3: Etcd3Schema,
    namespace: Type.String({ minLength: 1, default: '/service/' }),
    /** One cluster to observe (or use `scopes`). */
    scope: Type.Optional(ScopeName),
    /** Several clusters to observe (or use `scope`). */
    scopes: Type.Optional(Type.Array(ScopeName, { minItems: 1 })),
    restapi: ObserverRestApiSchema,
    postgresql: ObserverPostgresqlSchema,
    /** Seconds between two observation rounds of a cluster (etcd read, then every member probed). */
    poll_interval: Type.Number({ minimum: 0.5, default: 5 }),
    /**
     * Seconds one probe may take: connecting to a member's PostgreSQL plus each query, and the
     * whole `GET /patroni` of its REST API. A member that does not answer in time counts as unreachable.
     */
    probe_timeout: Type.Number({ exclusiveMinimum: 0, default: 3 }),
    /** Alert files go to `<alert_file_dir>/<scope>/`; without it alerts are only logged and served. */
    alert_file_dir: OutsideViewProperties.alert_file_dir,
    warning_replication_time_lag: OutsideViewProperties.warning_replication_time_lag,
    warning_replication_bytes_lag: OutsideViewProperties.warning_replication_bytes_lag,
    /** Read (never written) on every member to measure time lag; see `observe/probe.ts`. */
    heartbeat_table: HeartbeatTableSchema,
    log: LogSchema,
  },
  CLOSED,
);

/** A validated observer YAML, defaults applied, deeply frozen. */
export type ObserverConfig = Static<typeof ObserverConfigSchema>;

export interface ObserverLoadResult {
  config: ObserverConfig;
  /** `path: message` lines worth logging once (keys accepted but not acted on). */
  warnings: string[];
}

/** The observer's PostgreSQL login (`monitoring`, else `superuser`). */
export function observerLogin(config: ObserverConfig): { username: string; password?: string | undefined } {
  const { monitoring, superuser } = config.postgresql.authentication;
  const login = monitoring ?? superuser;
  // The loader refuses a file with neither, so this only guards against a hand-built config.
  if (login === undefined) throw new ConfigError('postgresql.authentication', ['postgresql.authentication: monitoring or superuser is required']);
  return login;
}

/** Checks that involve more than one key or the file system. */
function crossFieldProblems(doc: Record<string, unknown>): string[] {
  const problems = [...etcd3Problems(doc), ...scopeProblems(doc)];
  const pg = doc['postgresql'];
  const auth = isPlainObject(pg) ? pg['authentication'] : undefined;
  if (isPlainObject(auth)) {
    const given = ['monitoring', 'superuser'].filter((k) => auth[k] !== undefined && auth[k] !== null);
    if (given.length === 0) problems.push('postgresql.authentication: monitoring (a role with pg_monitor) or superuser is required');
    if (given.length === 2) problems.push('postgresql.authentication: set either monitoring or superuser, not both');
  }
  const dir = doc['alert_file_dir'];
  if (typeof dir === 'string' && dir !== '') {
    try {
      if (!statSync(dir).isDirectory()) problems.push(`alert_file_dir: ${dir} is not a directory`);
      else accessSync(dir, constants.W_OK | constants.X_OK);
    } catch (e) {
      problems.push(`alert_file_dir: ${dir} must be an existing writable directory (${errorText(e)})`);
    }
  }
  return problems;
}

/**
 * Validates an already parsed document. Mutates it (normalisation, defaults) and returns a
 * frozen copy. `source` names the file in errors.
 * @throws ConfigError listing every problem.
 */
export function loadObserverDocument(doc: unknown, source: string): ObserverLoadResult {
  requireMapping(doc, source, 'etcd3, scope (or scopes), restapi and postgresql');
  normaliseSharedSections(doc);
  dropEmptySections(ObserverConfigSchema, doc);
  const annotations = collectAnnotations(ObserverConfigSchema, doc);
  const problems = sortProblems([...validate(ObserverConfigSchema, doc), ...annotations.errors, ...crossFieldProblems(doc)]);
  if (problems.length > 0) throw new ConfigError(source, problems);
  return { config: deepFreeze(doc) as unknown as ObserverConfig, warnings: sortProblems(annotations.warnings) };
}

/**
 * Reads, parses and validates an observer YAML file.
 * @throws ConfigError listing every problem, including an unreadable file or a YAML syntax error.
 */
export function loadObserverFile(path: string): ObserverLoadResult {
  return loadObserverDocument(parseYaml(readConfigText(path), path), path);
}
