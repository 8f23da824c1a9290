/**
 * Configuration of the "outside view" (pglookout's keys, top level of the node's YAML file),
 * as TypeBox schema PROPERTIES to spread into `ConfigSchema`:
 *
 *     Type.Object({ scope: ..., ...OutsideViewProperties }, CLOSED)
 *
 * Same conventions as `config/schema.ts`: closed mappings, defaults applied by Ajv, `x-message`
 * where Ajv's own wording would be unclear. Every key is optional: without it the feature is off
 * (no alert files, no state file, no lag warnings, no commands, no statsd), except
 * `heartbeat_table`, which always exists in the validated config with `enabled: false`.
 */
import { Type, type Static } from '@sinclair/typebox';
import { DEFAULT_HEARTBEAT_TABLE } from './heartbeat.js';

const CLOSED = { additionalProperties: false } as const;
const NonEmpty = Type.String({ minLength: 1 });

/**
 * `heartbeat_table`: the leader writes the time into this table every cycle so replicas can tell
 * their true delay (`heartbeat.ts`). `name` is `table` or `schema.table`, each part taken
 * verbatim as one identifier (case kept); the default schema `pgwarden` is created when missing,
 * so nothing lands in the applications' `public` schema. The table lives in the database
 * pgwarden connects to (`postgresql.database`).
 */
export const HeartbeatTableSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: false }),
    name: Type.String({
      pattern: '^[^.]+(\\.[^.]+)?$',
      default: DEFAULT_HEARTBEAT_TABLE,
      'x-message': "must be 'table' or 'schema.table' (one dot at most, no empty part)",
    }),
  },
  { ...CLOSED, default: {} },
);

/** `statsd`: where to push metrics (`statsd.ts`); absent means no statsd output. */
export const StatsdSchema = Type.Object(
  {
    host: Type.String({ minLength: 1, default: '127.0.0.1' }),
    port: Type.Integer({ minimum: 1, maximum: 65535, default: 8125, 'x-message': 'must be a port number (1-65535)' }),
    /** Added to every metric, e.g. `{ dc: eu1 }`; `,` `=` `:` `|` and spaces become `_`. */
    tags: Type.Record(Type.String(), Type.String(), { default: {} }),
    /** Prepended to metric names (`myapp` → `myapp.pgwarden.role`). */
    prefix: Type.Optional(Type.String()),
  },
  CLOSED,
);

/** The outside-view keys; spread into `ConfigSchema`'s properties. */
export const OutsideViewProperties = {
  /** Directory of the alert files (`alert-files.ts`); must exist and be writable. */
  alert_file_dir: Type.Optional(NonEmpty),
  /** The JSON state file rewritten every cycle (`state-file.ts`); its directory must exist. */
  json_state_file_path: Type.Optional(NonEmpty),
  /** Seconds of heartbeat delay above which a member is reported (`replication_delay_warning`). */
  warning_replication_time_lag: Type.Optional(Type.Number({ minimum: 0, 'x-message': 'must be a number of seconds, 0 or more' })),
  /** Bytes of WAL behind the leader above which a member is reported. */
  warning_replication_bytes_lag: Type.Optional(Type.Integer({ minimum: 0, 'x-message': 'must be a whole number of bytes, 0 or more' })),
  /**
   * Command run once when a member goes over a warning limit (again only after all came back
   * under): the moment `replication_delay_warning` is raised. Split like sh words and run
   * without a shell, with the event document on stdin (`outside/cycle-observer.ts`).
   */
  over_warning_limit_command: Type.Optional(NonEmpty),
  /**
   * Command run on the member that takes over the leader key from another one (failover or
   * switchover), seen at its next cycle. Unlike pglookout, where it REPLACES the promotion,
   * pgwarden still promotes PostgreSQL itself; the command only notifies.
   */
  failover_command: Type.Optional(NonEmpty),
  /** While this file exists, this node is no failover candidate (as with the `nofailover` tag). */
  maintenance_mode_file: Type.Optional(NonEmpty),
  heartbeat_table: HeartbeatTableSchema,
  statsd: Type.Optional(StatsdSchema),
};

/** The outside-view keys alone, closed: for tests and for code that reads only these keys. */
export const OutsideViewSchema = Type.Object(OutsideViewProperties, CLOSED);

export type OutsideViewConfig = Static<typeof OutsideViewSchema>;
export type HeartbeatTableConfig = Static<typeof HeartbeatTableSchema>;
export type StatsdConfig = Static<typeof StatsdSchema>;
