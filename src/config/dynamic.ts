/**
 * The dynamic (cluster-wide) settings that live in etcd `/config` (reference §4.2): their
 * defaults, how a possibly hand-edited `/config` value becomes the effective settings WITHOUT
 * ever crashing a node, and the PostgreSQL parameters a node runs with.
 */
import type { TSchema } from '@sinclair/typebox';
import { joinPath, parseBoolish, sortProblems, validate } from './ajv.js';
import { collectAnnotations, isPlainObject } from './annotations.js';
import {
  DCS_ONLY_PG_PARAMETERS,
  DERIVED_PG_PARAMETERS,
  DynamicInputSchema,
  DynamicPostgresqlSchema,
} from './dynamic-schema.js';
import { suggest } from './suggest.js';
import { parseListen } from './hostport.js';
import type { Config } from './schema.js';

/** A PostgreSQL parameter value as pgwarden passes it on (`on`, `128MB`, `100`, ...). */
export type PgParameterValue = string | number | boolean;

/**
 * The effective dynamic settings. Times are seconds. `ttl` may be as low as 5 (Patroni: 20)
 * because pgwarden demotes a primary that cannot renew before its locally tracked lease
 * deadline; `loop_wait + 2*retry_timeout <= ttl` always holds in a resolved value.
 */
export interface DynamicConfig {
  ttl: number;
  loop_wait: number;
  retry_timeout: number;
  /** Bytes a replica may lag behind the last known leader position and still be promoted. */
  maximum_lag_on_failover: number;
  primary_start_timeout: number;
  primary_stop_timeout: number;
  check_timeline: boolean;
  pause: boolean;
  synchronous_mode: boolean;
  /** With no synchronous standby, writes wait (`synchronous_standby_names = '*'`). */
  synchronous_mode_strict: boolean;
  /** How many standbys must confirm each commit in synchronous mode. */
  synchronous_node_count: number;
  /** Bytes a synchronous standby may lag before a healthy asynchronous one replaces it (-1: never). */
  maximum_lag_on_syncnode: number;
  /** Members removed on purpose: nobody probes or waits for them in a leader race or failsafe round. */
  known_gone_nodes: string[];
  failsafe_mode: boolean;
  postgresql: { use_pg_rewind: boolean; use_slots: boolean; parameters: Record<string, PgParameterValue> };
}

/** Patroni's defaults for every dynamic setting (frozen). */
export const DEFAULT_DYNAMIC: Readonly<DynamicConfig> = Object.freeze({
  ttl: 30,
  loop_wait: 10,
  retry_timeout: 10,
  maximum_lag_on_failover: 1048576,
  primary_start_timeout: 300,
  primary_stop_timeout: 0,
  check_timeline: false,
  pause: false,
  synchronous_mode: false,
  synchronous_mode_strict: false,
  synchronous_node_count: 1,
  maximum_lag_on_syncnode: -1,
  known_gone_nodes: [],
  failsafe_mode: false,
  postgresql: Object.freeze({ use_pg_rewind: false, use_slots: true, parameters: Object.freeze({}) }),
});

type NumberKey = 'ttl' | 'loop_wait' | 'retry_timeout' | 'maximum_lag_on_failover' | 'primary_start_timeout' | 'primary_stop_timeout' | 'synchronous_node_count' | 'maximum_lag_on_syncnode';
type BoolKey = 'check_timeline' | 'pause' | 'synchronous_mode' | 'synchronous_mode_strict' | 'failsafe_mode';
const NUMBER_KEYS: readonly NumberKey[] = ['ttl', 'loop_wait', 'retry_timeout', 'maximum_lag_on_failover', 'primary_start_timeout', 'primary_stop_timeout', 'synchronous_node_count', 'maximum_lag_on_syncnode'];
const BOOL_KEYS: readonly BoolKey[] = ['check_timeline', 'pause', 'synchronous_mode', 'synchronous_mode_strict', 'failsafe_mode'];
const ALIASES: Partial<Record<NumberKey, string>> = {
  primary_start_timeout: 'master_start_timeout',
  primary_stop_timeout: 'master_stop_timeout',
};

/**
 * The timing rule `loop_wait + 2*retry_timeout <= ttl` for a raw dynamic value (missing or
 * non-numeric keys count as their defaults). Returns the broken-rule sentence, or null.
 */
export function timingProblem(raw: Record<string, unknown>): string | null {
  const num = (k: NumberKey): number => (typeof raw[k] === 'number' ? (raw[k] as number) : DEFAULT_DYNAMIC[k]);
  return timingSentence(num('ttl'), num('loop_wait'), num('retry_timeout'));
}

function timingSentence(ttl: number, loopWait: number, retry: number): string | null {
  const need = loopWait + 2 * retry;
  return need <= ttl ? null : `loop_wait (${loopWait}) + 2*retry_timeout (${retry}) = ${need} must be <= ttl (${ttl})`;
}

function propertySchema(parent: TSchema, key: string): TSchema | undefined {
  return (parent['properties'] as Record<string, TSchema> | undefined)?.[key];
}

/**
 * Problems with a dynamic configuration value, e.g. the body of a future `PATCH /config` after
 * merging: schema errors, unknown keys, refused keys (`standby_cluster`) and the timing rule.
 * [] means it can be stored.
 */
export function validateDynamic(value: unknown): string[] {
  if (!isPlainObject(value)) return ['(top level): must be a mapping (key: value)'];
  const problems = validate(DynamicInputSchema, structuredClone(value));
  problems.push(...collectAnnotations(DynamicInputSchema, value).errors);
  const timing = timingProblem(value);
  if (timing) problems.push(`(timing): ${timing}`);
  return sortProblems(problems);
}

/** Sanity limits Patroni applies to command-line parameters coming from `/config`. */
const PARAMETER_CHECKS: Readonly<Record<string, (v: PgParameterValue) => boolean>> = {
  max_connections: (v) => Number(v) >= 25,
  max_wal_senders: (v) => Number(v) >= 3,
  max_replication_slots: (v) => Number(v) >= 4,
  max_worker_processes: (v) => Number(v) >= 2,
  max_locks_per_transaction: (v) => Number(v) >= 32,
  max_prepared_transactions: (v) => Number(v) >= 0,
  wal_keep_segments: (v) => Number(v) >= 1,
  wal_level: (v) => ['hot_standby', 'replica', 'logical'].includes(String(v).toLowerCase()),
  track_commit_timestamp: (v) => parseBoolish(v) !== undefined,
};

function resolveParameters(
  raw: unknown,
  fallback: Readonly<Record<string, PgParameterValue>>,
  problems: string[],
): Record<string, PgParameterValue> {
  const out: Record<string, PgParameterValue> = {};
  if (raw === undefined || raw === null) return out;
  if (!isPlainObject(raw)) {
    problems.push('postgresql.parameters: must be a mapping; keeping the previous parameters');
    return { ...fallback };
  }
  for (const [name, v] of Object.entries(raw)) {
    if (v === null || v === undefined) continue;
    const at = `postgresql.parameters.${name}`;
    const keep = fallback[name];
    const keeping = keep === undefined ? 'ignored' : `keeping ${String(keep)}`;
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
      problems.push(`${at}: must be a string, number or boolean; ${keeping}`);
    } else if (PARAMETER_CHECKS[name] && !PARAMETER_CHECKS[name](v)) {
      problems.push(`${at}: value ${String(v)} fails pgwarden's sanity check; ${keeping}`);
    } else {
      out[name] = v;
      continue;
    }
    if (keep !== undefined) out[name] = keep;
  }
  return out;
}

function unknownKeys(raw: Record<string, unknown>, schema: TSchema, path: string, problems: string[]): void {
  const known = Object.keys((schema['properties'] as Record<string, unknown>) ?? {});
  for (const key of Object.keys(raw)) {
    if (known.includes(key)) continue;
    const hint = suggest(key, known);
    problems.push(`${joinPath(path, key)}: unknown key, ignored${hint ? ` (did you mean ${hint}?)` : ''}`);
  }
}

/**
 * The effective dynamic settings from the value of etcd `/config`: defaults, overridden by each
 * valid key of `fromDcs`. A key with a bad value is NOT applied; it keeps the `fallback` value
 * (normally the previous effective settings; the defaults if not given) and a problem line is
 * returned, so a bad hand-written `/config` never crashes a node. Bool-ish values (`pause: "on"`)
 * are parsed; `null` means "not set". If the timing rule fails, the three timing keys keep their
 * fallback values together. Never throws.
 */
export function resolveDynamic(
  fromDcs: Record<string, unknown> | null,
  fallback: DynamicConfig = DEFAULT_DYNAMIC,
): { config: DynamicConfig; problems: string[] } {
  const problems: string[] = [];
  const config: DynamicConfig = {
    ...DEFAULT_DYNAMIC,
    postgresql: { ...DEFAULT_DYNAMIC.postgresql, parameters: {} },
  };
  if (fromDcs === null) return { config, problems };
  if (!isPlainObject(fromDcs)) {
    return { config: structuredClone(fallback), problems: ['(top level): must be a JSON object; keeping the previous settings'] };
  }
  unknownKeys(fromDcs, DynamicInputSchema, '', problems);
  problems.push(...collectAnnotations(DynamicInputSchema, fromDcs).errors.map((e) => `${e}; ignored`));

  for (const key of NUMBER_KEYS) {
    const alias = ALIASES[key];
    const name = fromDcs[key] == null && alias && fromDcs[alias] != null ? alias : key;
    const v = fromDcs[name];
    if (v == null) continue;
    const schema = propertySchema(DynamicInputSchema, name);
    const bad = schema ? validate(schema, v, name) : [];
    if (bad.length === 0) {
      config[key] = v as number;
    } else {
      problems.push(...bad.map((p) => `${p}; keeping ${fallback[key]}`));
      config[key] = fallback[key];
    }
  }
  const broken = timingSentence(config.ttl, config.loop_wait, config.retry_timeout);
  if (broken) {
    const safe = timingSentence(fallback.ttl, fallback.loop_wait, fallback.retry_timeout) ? DEFAULT_DYNAMIC : fallback;
    config.ttl = safe.ttl;
    config.loop_wait = safe.loop_wait;
    config.retry_timeout = safe.retry_timeout;
    problems.push(`(timing): ${broken}; keeping ttl ${safe.ttl}, loop_wait ${safe.loop_wait}, retry_timeout ${safe.retry_timeout}`);
  }

  for (const key of BOOL_KEYS) {
    const v = fromDcs[key];
    if (v == null) continue;
    const b = parseBoolish(v);
    if (b === undefined) problems.push(`${key}: must be true or false (got ${JSON.stringify(v)}); keeping ${fallback[key]}`);
    config[key] = b ?? fallback[key];
  }

  const gone = fromDcs['known_gone_nodes'];
  if (gone != null) {
    const bad = validate(propertySchema(DynamicInputSchema, 'known_gone_nodes')!, gone, 'known_gone_nodes');
    problems.push(...bad.map((p) => `${p}; keeping ${JSON.stringify(fallback.known_gone_nodes)}`));
    config.known_gone_nodes = [...(bad.length === 0 ? (gone as string[]) : fallback.known_gone_nodes)];
  }

  const pg = fromDcs['postgresql'];
  if (isPlainObject(pg)) {
    unknownKeys(pg, DynamicPostgresqlSchema, 'postgresql', problems);
    for (const key of ['use_pg_rewind', 'use_slots'] as const) {
      const v = pg[key];
      if (v == null) continue;
      const b = parseBoolish(v);
      if (b === undefined) problems.push(`postgresql.${key}: must be true or false (got ${JSON.stringify(v)}); keeping ${fallback.postgresql[key]}`);
      config.postgresql[key] = b ?? fallback.postgresql[key];
    }
    config.postgresql.parameters = resolveParameters(pg['parameters'], fallback.postgresql.parameters, problems);
  } else if (pg != null) {
    problems.push('postgresql: must be a mapping; keeping the previous postgresql settings');
    config.postgresql = structuredClone(fallback.postgresql);
  }
  return { config, problems: sortProblems(problems) };
}

const DERIVED_FROM: Readonly<Record<string, string>> = {
  listen_addresses: 'sets it from postgresql.listen',
  port: 'sets it from postgresql.listen',
  cluster_name: 'sets it from scope',
  hot_standby: 'always sets it to on',
  wal_log_hints: 'always sets it to on',
};

/** Warning lines for local `postgresql.parameters` that pgwarden ignores (derived or DCS-only). */
export function ignoredLocalParameters(local: Readonly<Record<string, unknown>> | undefined): string[] {
  return Object.keys(local ?? {})
    .filter((k) => k in DCS_ONLY_PG_PARAMETERS || DERIVED_PG_PARAMETERS.includes(k) || k === 'wal_keep_segments')
    .map((k) =>
      DERIVED_PG_PARAMETERS.includes(k)
        ? `postgresql.parameters.${k}: ignored: pgwarden ${DERIVED_FROM[k] ?? 'derives it'}`
        : `postgresql.parameters.${k}: ignored: it is taken only from the dynamic configuration (bootstrap.dcs.postgresql.parameters or edit-config)`,
    );
}

/**
 * Defaults pgwarden picks where PostgreSQL's own cost failover time; `/config` and the local
 * file override them. A standby retries a failed WAL stream every `wal_retrieve_retry_interval`
 * (5 s by default): right after a clone or a failover the leader creates the standby's slot in
 * its next cycle, and the first attempt fails; 1 s lets the standby stream ~4 s sooner.
 */
export const PGWARDEN_PG_DEFAULTS: Readonly<Record<string, PgParameterValue>> = Object.freeze({
  wal_retrieve_retry_interval: '1s',
});

/**
 * The parameters this node's PostgreSQL runs with: dynamic `postgresql.parameters` overridden by
 * the local ones, except that `listen_addresses`, `port`, `cluster_name`, `hot_standby` and
 * `wal_log_hints` are always derived, and the parameters in `DCS_ONLY_PG_PARAMETERS` come only
 * from the dynamic configuration (or their defaults). `wal_keep_segments` (removed in PostgreSQL
 * 13) is converted to `wal_keep_size` at 16MB per segment when `wal_keep_size` is not set.
 * Keys are returned sorted, so rendering the result is deterministic.
 */
export function effectivePgParameters(local: Config, dyn: DynamicConfig): Record<string, PgParameterValue> {
  const controlled = (k: string): boolean =>
    k in DCS_ONLY_PG_PARAMETERS || DERIVED_PG_PARAMETERS.includes(k) || k === 'wal_keep_segments';
  const merged: Record<string, PgParameterValue> = { ...PGWARDEN_PG_DEFAULTS };
  for (const source of [dyn.postgresql.parameters, local.postgresql.parameters ?? {}]) {
    for (const [k, v] of Object.entries(source)) if (!controlled(k)) merged[k] = v;
  }
  const dynParams = dyn.postgresql.parameters;
  for (const [k, def] of Object.entries(DCS_ONLY_PG_PARAMETERS)) merged[k] = dynParams[k] ?? def;
  const segments = dynParams['wal_keep_segments'];
  if (dynParams['wal_keep_size'] === undefined && segments !== undefined) merged['wal_keep_size'] = `${Number(segments) * 16}MB`;
  const listen = parseListen(local.postgresql.listen);
  merged['listen_addresses'] = listen.hosts.join(',');
  merged['port'] = listen.port;
  merged['cluster_name'] = local.scope;
  merged['hot_standby'] = 'on';
  merged['wal_log_hints'] = 'on';
  return Object.fromEntries(Object.entries(merged).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
