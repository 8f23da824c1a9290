/**
 * Schema of the dynamic configuration AS WRITTEN: `bootstrap.dcs` in the YAML file and the JSON
 * value of etcd `/config` (reference §1.3 "config", §4.2). It has no `default` keywords on
 * purpose: `bootstrap.dcs` is stored in etcd verbatim, so validation must never add to it.
 * Defaults and bool-ish parsing happen in `dynamic.ts` when the effective settings are resolved.
 */
import { Type, type Static, type TNumber, type TSchema, type TUnsafe } from '@sinclair/typebox';

/** The default warning text for accepted-but-ignored Patroni keys. */
export const IGNORED = 'accepted for Patroni compatibility but not acted on by pgwarden yet';

/** Marks a key as accepted-but-ignored: loading the YAML file warns when it is present. */
export function ignored<T extends TSchema>(schema: T, why = IGNORED): T {
  return { ...schema, 'x-ignored': why };
}

/** A Patroni bool-ish value: true/false, on/off, yes/no, 1/0 (any case); null means "not set". */
export const Boolish = Type.Unsafe<boolean | string | number | null>({
  type: ['boolean', 'string', 'integer', 'null'],
  'x-boolish': true,
  'x-message': 'must be true or false (on/off, yes/no and 1/0 are accepted)',
});

/** A PostgreSQL parameter value; `null` in `/config` means "remove this parameter". */
export const ParameterValue = Type.Unsafe<string | number | boolean | null>({
  type: ['string', 'number', 'boolean', 'null'],
});

/**
 * `schema` or null, as ONE schema (`type: [..., 'null']`) rather than an `anyOf`, so errors inside
 * the mapping keep their precise paths.
 */
export function nullable<T extends TSchema>(schema: T): TUnsafe<Static<T> | null> {
  return Type.Unsafe<Static<T> | null>({ ...schema, type: [schema['type'] as string, 'null'] });
}

const Seconds = (minimum: number): TNumber => Type.Number({ minimum });

/** `postgresql` inside the dynamic configuration. */
export const DynamicPostgresqlSchema = Type.Object(
  {
    use_pg_rewind: Type.Optional(Boolish),
    use_slots: Type.Optional(Boolish),
    parameters: Type.Optional(nullable(Type.Record(Type.String(), ParameterValue))),
    pg_hba: Type.Optional(ignored(Type.Array(Type.String()), 'not applied by pgwarden yet: use bootstrap.pg_hba or postgresql.pg_hba')),
    pg_ident: Type.Optional(ignored(Type.Array(Type.String()))),
    recovery_conf: Type.Optional(ignored(Type.Record(Type.String(), ParameterValue))),
    remove_data_directory_on_rewind_failure: Type.Optional(ignored(Boolish, 'set it in the local postgresql section')),
    remove_data_directory_on_diverged_timelines: Type.Optional(ignored(Boolish, 'set it in the local postgresql section')),
    pg_ctl_timeout: Type.Optional(ignored(Type.Number(), 'set it in the local postgresql section')),
  },
  { additionalProperties: false },
);

/**
 * Every key Patroni reads from `/config`. Timing keys: `ttl` >= 5 (Patroni requires 20; pgwarden
 * allows shorter leases because a primary that cannot renew stops taking writes before its
 * locally tracked lease deadline, measured on a monotonic clock from the last confirmed renewal,
 * rather than trusting the etcd library's late "lost" event), `loop_wait` >= 1, `retry_timeout` >= 1,
 * all in seconds (fractions allowed). `loop_wait + 2*retry_timeout <= ttl` is checked separately.
 */
export const DynamicInputSchema = Type.Object(
  {
    ttl: Type.Optional(Seconds(5)),
    loop_wait: Type.Optional(Seconds(1)),
    retry_timeout: Type.Optional(Seconds(1)),
    maximum_lag_on_failover: Type.Optional(Type.Integer({ minimum: 0 })),
    maximum_lag_on_syncnode: Type.Optional(Type.Integer({ minimum: -1 })),
    known_gone_nodes: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    max_timelines_history: Type.Optional(ignored(Type.Integer({ minimum: 0 }))),
    primary_start_timeout: Type.Optional(Seconds(0)),
    primary_stop_timeout: Type.Optional(Seconds(0)),
    master_start_timeout: Type.Optional(Seconds(0)),
    master_stop_timeout: Type.Optional(Seconds(0)),
    check_timeline: Type.Optional(Boolish),
    pause: Type.Optional(Boolish),
    synchronous_mode: Type.Optional(Boolish),
    synchronous_mode_strict: Type.Optional(Boolish),
    synchronous_node_count: Type.Optional(Type.Integer({ minimum: 1 })),
    failsafe_mode: Type.Optional(Boolish),
    standby_cluster: Type.Optional({
      ...Type.Unknown(),
      'x-reject':
        'standby clusters are not supported by pgwarden yet (its leader would run as a writable primary); remove this section',
    }),
    slots: Type.Optional(ignored(nullable(Type.Record(Type.String(), Type.Unknown())))),
    permanent_slots: Type.Optional(ignored(nullable(Type.Record(Type.String(), Type.Unknown())))),
    permanent_replication_slots: Type.Optional(ignored(nullable(Type.Record(Type.String(), Type.Unknown())))),
    ignore_slots: Type.Optional(ignored(Type.Array(Type.Record(Type.String(), Type.Unknown())))),
    member_slots_ttl: Type.Optional(ignored(Type.Union([Type.String(), Type.Number()]))),
    postgresql: Type.Optional(nullable(DynamicPostgresqlSchema)),
  },
  { additionalProperties: false },
);

/**
 * PostgreSQL parameters pgwarden passes on the `postgres` command line and takes ONLY from the
 * dynamic configuration (local values are ignored with a warning), with the values used when
 * `/config` does not set them (reference §4.2; `wal_level` defaults to `replica`).
 */
export const DCS_ONLY_PG_PARAMETERS: Readonly<Record<string, string | number>> = Object.freeze({
  wal_level: 'replica',
  max_wal_senders: 10,
  max_replication_slots: 10,
  max_connections: 100,
  max_worker_processes: 8,
  max_prepared_transactions: 0,
  max_locks_per_transaction: 64,
  track_commit_timestamp: 'off',
  wal_keep_size: '128MB',
});

/** Parameters always derived by pgwarden (from `postgresql.listen`, `scope`, fixed `on`). */
export const DERIVED_PG_PARAMETERS: readonly string[] = Object.freeze([
  'listen_addresses',
  'port',
  'cluster_name',
  'hot_standby',
  'wal_log_hints',
]);
