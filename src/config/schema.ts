/**
 * The ONE schema of a node's YAML file (Patroni key names, reference §4.1): TypeScript types,
 * defaults (applied by Ajv's `useDefaults`) and validation all come from here.
 *
 * Conventions: every mapping is closed (`additionalProperties: false`), so a misspelt key is an
 * error, except the free-form records (`postgresql.parameters`, custom `tags`,
 * `bootstrap.users`, `statsd.tags`). Patroni keys that pgwarden accepts but does not
 * act on carry `x-ignored` (a load warning); keys it refuses carry `x-reject` (a load error).
 * Two values are normalised BEFORE validation by `load.ts` so the types stay simple:
 * `etcd3.hosts` given as a comma-separated string becomes a list, and `log.level` is upper-cased.
 */
import { Type, type Static, type TUnsafe } from '@sinclair/typebox';
import { DynamicInputSchema, ignored } from './dynamic-schema.js';
import { CallbacksSchema, CallbackTimeoutSchema, TriggersSchema } from '../events/config.js';
import { OutsideViewProperties } from '../outside/config.js';
import { SYSLOG_FACILITIES, type SyslogFacility } from '../log-syslog.js';

/** A string enum as one `enum` keyword (clearer errors than a union of literals). */
function StringEnum<const T extends readonly string[]>(values: T, options: Record<string, unknown> = {}): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ ...options, type: 'string', enum: [...values] });
}

function reject(why: string): TUnsafe<unknown> {
  return Type.Unsafe<unknown>({ 'x-reject': why });
}

const CLOSED = { additionalProperties: false } as const;
const HostPort = Type.String({ format: 'host-port', 'x-message': 'must be host:port' });
const EtcdHost = Type.String({ format: 'etcd-host', 'x-message': 'must be host:port (or host, meaning port 2379)' });
const Listen = Type.String({ format: 'listen', 'x-message': 'must be host[,host...]:port' });
const NonEmpty = Type.String({ minLength: 1 });
const StringList = Type.Array(Type.String());
const Scalar = Type.Unsafe<string | number | boolean>({ type: ['string', 'number', 'boolean'] });

/** An option for initdb / pg_basebackup: `data-checksums` or a single `name: value` mapping. */
const ToolOption = Type.Union(
  [Type.String({ minLength: 1 }), Type.Record(Type.String(), Scalar, { minProperties: 1, maxProperties: 1 })],
  { 'x-message': "must be an option name or a single 'name: value' mapping" },
);

const DYNAMIC_ONLY =
  'ignored: dynamic settings are read only from etcd /config; set it under bootstrap.dcs or change it with edit-config';
const OTHER_DCS = 'pgwarden speaks only the etcd v3 API: configure an etcd3 section instead';

const Credentials = Type.Object({ username: NonEmpty, password: Type.String() }, CLOSED);

/**
 * `restapi`: where the REST API binds (`listen`), what peers are told (`connect_address`), who
 * may call its unsafe methods (`authentication`, `allowlist`, `allowlist_include_members`,
 * `verify_client`) and its HTTPS certificate (`certfile`, checked in `api/tls.ts`).
 */
export const RestApiSchema = Type.Object(
  {
    listen: HostPort,
    connect_address: HostPort,
    authentication: Type.Optional(Credentials),
    certfile: Type.Optional(Type.String({ minLength: 1 })),
    keyfile: Type.Optional(Type.String({ minLength: 1 })),
    keyfile_password: Type.Optional(Type.String()),
    cafile: Type.Optional(Type.String({ minLength: 1 })),
    ciphers: Type.Optional(Type.String({ minLength: 1 })),
    verify_client: Type.Optional(StringEnum(['none', 'optional', 'required'])),
    allowlist: Type.Optional(Type.Array(NonEmpty)),
    allowlist_include_members: Type.Optional(Type.Boolean()),
    http_extra_headers: Type.Optional(ignored(Type.Record(Type.String(), Type.String()))),
    https_extra_headers: Type.Optional(ignored(Type.Record(Type.String(), Type.String()))),
    request_queue_size: Type.Optional(ignored(Type.Integer())),
    server_tokens: Type.Optional(ignored(Type.String())),
  },
  CLOSED,
);

const ETCD_ONLY_HOSTS = 'not supported yet: list the endpoints with host or hosts';

/** `etcd3`: exactly one of `host`/`hosts` (checked in load.ts); endpoints via `etcdEndpoints()`. */
export const Etcd3Schema = Type.Object(
  {
    host: Type.Optional(EtcdHost),
    hosts: Type.Optional(Type.Array(EtcdHost, { minItems: 1 })),
    protocol: StringEnum(['http', 'https'], { default: 'http' }),
    username: Type.Optional(Type.String()),
    password: Type.Optional(Type.String()),
    cacert: Type.Optional(Type.String()),
    cert: Type.Optional(Type.String()),
    key: Type.Optional(Type.String()),
    url: Type.Optional(ignored(Type.String(), ETCD_ONLY_HOSTS)),
    proxy: Type.Optional(ignored(Type.String(), ETCD_ONLY_HOSTS)),
    srv: Type.Optional(ignored(Type.String(), ETCD_ONLY_HOSTS)),
    srv_suffix: Type.Optional(ignored(Type.String(), ETCD_ONLY_HOSTS)),
    use_proxies: Type.Optional(ignored(Type.Boolean(), ETCD_ONLY_HOSTS)),
    port: Type.Optional(ignored(Type.Integer(), 'ignored: put the port in host or hosts')),
  },
  CLOSED,
);

/** `bootstrap`: used only by the node that wins the `initialize` race and creates the cluster. */
export const BootstrapSchema = Type.Object(
  {
    /** Kept verbatim (no defaults added): it is what the bootstrapping node writes to `/config`. */
    dcs: Type.Unsafe<Record<string, unknown>>({ ...DynamicInputSchema, default: {} }),
    method: Type.Optional(Type.String()),
    initdb: Type.Optional(Type.Array(ToolOption)),
    pg_hba: Type.Optional(StringList),
    users: Type.Optional(
      Type.Record(Type.String(), Type.Object({ password: Type.String(), options: Type.Optional(StringList) }, CLOSED)),
    ),
    post_bootstrap: Type.Optional(ignored(Type.String(), 'bootstrap scripts are not run by pgwarden yet')),
    post_init: Type.Optional(ignored(Type.String(), 'bootstrap scripts are not run by pgwarden yet')),
  },
  { ...CLOSED, default: {} },
);

const LIBPQ_TLS = 'not passed to libpq by pgwarden yet';
const PgCredentials = Type.Object(
  {
    username: NonEmpty,
    password: Type.Optional(Type.String()),
    sslmode: Type.Optional(ignored(Type.String(), LIBPQ_TLS)),
    sslcert: Type.Optional(ignored(Type.String(), LIBPQ_TLS)),
    sslkey: Type.Optional(ignored(Type.String(), LIBPQ_TLS)),
    sslpassword: Type.Optional(ignored(Type.String(), LIBPQ_TLS)),
    sslrootcert: Type.Optional(ignored(Type.String(), LIBPQ_TLS)),
    sslcrl: Type.Optional(ignored(Type.String(), LIBPQ_TLS)),
    sslcrldir: Type.Optional(ignored(Type.String(), LIBPQ_TLS)),
    gssencmode: Type.Optional(ignored(Type.String(), LIBPQ_TLS)),
    channel_binding: Type.Optional(ignored(Type.String(), LIBPQ_TLS)),
  },
  CLOSED,
);

/** `postgresql`: the local server. Addresses are validated as host:port here, parsed by `hostport.ts`. */
export const PostgresqlSchema = Type.Object(
  {
    listen: Listen,
    connect_address: HostPort,
    data_dir: NonEmpty,
    bin_dir: Type.Optional(Type.String()),
    pgpass: Type.Optional(Type.String()),
    database: Type.String({ minLength: 1, default: 'postgres' }),
    authentication: Type.Object(
      { superuser: PgCredentials, replication: PgCredentials, rewind: Type.Optional(PgCredentials) },
      CLOSED,
    ),
    parameters: Type.Optional(Type.Record(Type.String(), Scalar)),
    pg_hba: Type.Optional(StringList),
    basebackup: Type.Optional(
      Type.Union([Type.Array(ToolOption), Type.Record(Type.String(), Scalar)], {
        'x-message': "must be a list of options (name or 'name: value') or a mapping of options",
      }),
    ),
    use_pg_rewind: Type.Optional(Type.Boolean()),
    /** Seconds pg_ctl may take to start/stop/promote before pgwarden gives up waiting. */
    pg_ctl_timeout: Type.Number({ exclusiveMinimum: 0, default: 60 }),
    remove_data_directory_on_rewind_failure: Type.Boolean({ default: false }),
    remove_data_directory_on_diverged_timelines: Type.Boolean({ default: false }),
    /** Commands run after start/stop/restart/reload/role change (`events/callbacks.ts`). */
    callbacks: Type.Optional(CallbacksSchema),
    /** Seconds a callback, trigger or outside-view command may run before it is killed. */
    callback_timeout: CallbackTimeoutSchema,
    create_replica_methods: Type.Optional(Type.Array(Type.String())),
    proxy_address: Type.Optional(ignored(HostPort)),
    config_dir: Type.Optional(ignored(Type.String())),
    pg_ident: Type.Optional(ignored(StringList)),
    use_unix_socket: Type.Optional(ignored(Type.Boolean())),
    use_unix_socket_repl: Type.Optional(ignored(Type.Boolean())),
    recovery_conf: Type.Optional(ignored(Type.Record(Type.String(), Scalar))),
    custom_conf: Type.Optional(ignored(Type.String())),
    pre_promote: Type.Optional(ignored(Type.String())),
    before_stop: Type.Optional(ignored(Type.String())),
    config_base_name: Type.Optional(ignored(Type.String())),
    bin_name: Type.Optional(ignored(Type.Record(Type.String(), Type.String()))),
    use_slots: Type.Optional(ignored(Type.Unknown(), DYNAMIC_ONLY)),
  },
  CLOSED,
);

/** `tags`: the well-known ones typed, plus any custom tag with a scalar value. */
export interface Tags {
  nofailover?: boolean;
  noloadbalance?: boolean;
  clonefrom?: boolean;
  nosync?: boolean;
  replicatefrom?: string;
  [custom: string]: string | number | boolean | undefined;
}

/** Schema of {@link Tags}; booleans must be real YAML booleans (`yes` is a string in YAML 1.2). */
export const TagsSchema = Type.Unsafe<Tags>(
  Type.Object(
    {
      nofailover: Type.Optional(Type.Boolean()),
      noloadbalance: Type.Optional(Type.Boolean()),
      clonefrom: Type.Optional(Type.Boolean()),
      nosync: Type.Optional(Type.Boolean()),
      replicatefrom: Type.Optional(NonEmpty),
    },
    { additionalProperties: Scalar, default: {} },
  ),
);

const LOG_IGNORED = 'ignored: pgwarden writes its log to stderr in its own format';
/** `log`: `level` and pgwarden's `syslog`; Patroni's file/format keys are accepted with a warning. */
export const LogSchema = Type.Object(
  {
    level: StringEnum(['DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'], { default: 'INFO' }),
    traceback_level: Type.Optional(ignored(Type.String(), LOG_IGNORED)),
    format: Type.Optional(ignored(Type.Unknown(), LOG_IGNORED)),
    dateformat: Type.Optional(ignored(Type.String(), LOG_IGNORED)),
    max_queue_size: Type.Optional(ignored(Type.Integer(), LOG_IGNORED)),
    dir: Type.Optional(ignored(Type.String(), LOG_IGNORED)),
    file_num: Type.Optional(ignored(Type.Integer(), LOG_IGNORED)),
    file_size: Type.Optional(ignored(Type.Integer(), LOG_IGNORED)),
    mode: Type.Optional(ignored(Type.Unknown(), LOG_IGNORED)),
    loggers: Type.Optional(ignored(Type.Record(Type.String(), Type.String()), LOG_IGNORED)),
    static_fields: Type.Optional(ignored(Type.Record(Type.String(), Type.Unknown()), LOG_IGNORED)),
    deduplicate_heartbeat_logs: Type.Optional(ignored(Type.Boolean(), LOG_IGNORED)),
    /** A copy of every line to a syslog server over UDP (`log-syslog.ts`); stderr keeps them all. */
    syslog: Type.Optional(
      Type.Object(
        {
          host: Type.String({ minLength: 1, default: '127.0.0.1' }),
          port: Type.Integer({ minimum: 1, maximum: 65535, default: 514, 'x-message': 'must be a port number (1-65535)' }),
          facility: StringEnum(Object.keys(SYSLOG_FACILITIES) as SyslogFacility[], { default: 'daemon' }),
        },
        CLOSED,
      ),
    ),
  },
  { ...CLOSED, default: {} },
);

/**
 * `watchdog` (Patroni's keys; `watchdog/guard.ts`): `mode` off | automatic (default) | required,
 * `device` (default `/dev/watchdog`), `safety_margin` in seconds (default 5, −1 = ttl/2) — how
 * long before the lease ends the companion fencer acts and the device resets the machine.
 */
export const WatchdogSchema = Type.Object(
  {
    mode: Type.Optional(StringEnum(['off', 'automatic', 'required'])),
    device: Type.Optional(Type.String({ minLength: 1 })),
    safety_margin: Type.Optional(Type.Number({ minimum: -1 })),
  },
  CLOSED,
);

/** `ctl`: settings for the operator CLI; the agent itself does not read them. */
export const CtlSchema = Type.Object(
  {
    insecure: Type.Optional(Type.Boolean()),
    cacert: Type.Optional(Type.String()),
    certfile: Type.Optional(Type.String()),
    keyfile: Type.Optional(Type.String()),
    keyfile_password: Type.Optional(Type.String()),
    authentication: Type.Optional(Credentials),
  },
  CLOSED,
);

const CitusSchema = Type.Object(
  { group: Type.Optional(Type.Integer({ minimum: 0 })), database: Type.Optional(Type.String()) },
  { ...CLOSED, 'x-ignored': 'Citus clusters are not supported by pgwarden; the section is ignored' },
);

const dynamicOnly = () => Type.Optional(ignored(Type.Unknown(), DYNAMIC_ONLY));

/** The whole node configuration file. */
export const ConfigSchema = Type.Object(
  {
    scope: NonEmpty,
    namespace: Type.String({ minLength: 1, default: '/service/' }),
    name: NonEmpty,
    restapi: RestApiSchema,
    etcd3: Etcd3Schema,
    bootstrap: BootstrapSchema,
    postgresql: PostgresqlSchema,
    tags: TagsSchema,
    log: LogSchema,
    watchdog: Type.Optional(WatchdogSchema),
    ctl: Type.Optional(CtlSchema),
    /** Cluster-level event commands run by the leader (`events/cluster-triggers.ts`). */
    triggers: Type.Optional(TriggersSchema),
    /** alert_file_dir, json_state_file_path, lag warnings, heartbeat_table, statsd, ... (`outside/config.ts`). */
    ...OutsideViewProperties,
    citus: Type.Optional(CitusSchema),
    etcd: Type.Optional(
      reject('pgwarden speaks the etcd v3 API only: rename this section to etcd3 (same keys; etcd 3.4+ serves v3)'),
    ),
    consul: Type.Optional(reject(OTHER_DCS)),
    zookeeper: Type.Optional(reject(OTHER_DCS)),
    exhibitor: Type.Optional(reject(OTHER_DCS)),
    kubernetes: Type.Optional(reject(OTHER_DCS)),
    raft: Type.Optional(reject(OTHER_DCS)),
    ttl: dynamicOnly(),
    loop_wait: dynamicOnly(),
    retry_timeout: dynamicOnly(),
    maximum_lag_on_failover: dynamicOnly(),
    maximum_lag_on_syncnode: dynamicOnly(),
    max_timelines_history: dynamicOnly(),
    primary_start_timeout: dynamicOnly(),
    primary_stop_timeout: dynamicOnly(),
    master_start_timeout: dynamicOnly(),
    master_stop_timeout: dynamicOnly(),
    check_timeline: dynamicOnly(),
    synchronous_mode: dynamicOnly(),
    synchronous_mode_strict: dynamicOnly(),
    synchronous_node_count: dynamicOnly(),
    failsafe_mode: dynamicOnly(),
    standby_cluster: dynamicOnly(),
  },
  CLOSED,
);

/** A validated node configuration, defaults applied. `load.ts` returns it deeply frozen. */
export type Config = Static<typeof ConfigSchema>;
