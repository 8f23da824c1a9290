/**
 * Loading a node's YAML file: parse, apply environment overrides, normalise, validate against
 * the one schema, run the cross-field checks, and hand back a deeply frozen `Config` plus the
 * warnings an operator should see at start-up. Every problem is reported at once, as
 * `dotted.path: message` lines sorted by path, in one `ConfigError`.
 */
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { ConfigError, errorText } from '../errors.js';
import { sortProblems, validate } from './ajv.js';
import { collectAnnotations, deepFreeze, dropEmptySections, isPlainObject } from './annotations.js';
import { ignoredLocalParameters, timingProblem } from './dynamic.js';
import { ConfigSchema, type Config } from './schema.js';
import { checkCommandLines, checkEventCommands, checkTriggerThresholds, type CallbacksConfig, type TriggersConfig } from '../events/config.js';

export { parseHostPort, parseListen, type HostPort } from './hostport.js';
export { etcdEndpoints } from './etcd.js';

/** What a successful load returns; `warnings` are `path: message` lines worth logging once. */
export interface LoadResult {
  config: Config;
  warnings: string[];
}

/** Where environment overrides come from (tests pass their own). */
export interface LoadOptions {
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Environment overrides, Patroni's names (reference §4.3). Each is read as `PATRONI_<name>` and
 * as `PGWARDEN_<name>` (which wins), and replaces the file's value before validation. `drop`
 * lists sibling keys the override makes meaningless (an env `hosts` replaces a file `host`).
 */
const ENV_OVERRIDES: ReadonlyArray<{ name: string; path: readonly string[]; drop?: readonly string[] }> = [
  { name: 'NAME', path: ['name'] },
  { name: 'SCOPE', path: ['scope'] },
  { name: 'NAMESPACE', path: ['namespace'] },
  { name: 'LOG_LEVEL', path: ['log', 'level'] },
  { name: 'RESTAPI_LISTEN', path: ['restapi', 'listen'] },
  { name: 'RESTAPI_CONNECT_ADDRESS', path: ['restapi', 'connect_address'] },
  { name: 'RESTAPI_USERNAME', path: ['restapi', 'authentication', 'username'] },
  { name: 'RESTAPI_PASSWORD', path: ['restapi', 'authentication', 'password'] },
  { name: 'POSTGRESQL_LISTEN', path: ['postgresql', 'listen'] },
  { name: 'POSTGRESQL_CONNECT_ADDRESS', path: ['postgresql', 'connect_address'] },
  { name: 'POSTGRESQL_DATA_DIR', path: ['postgresql', 'data_dir'] },
  { name: 'POSTGRESQL_BIN_DIR', path: ['postgresql', 'bin_dir'] },
  { name: 'POSTGRESQL_PGPASS', path: ['postgresql', 'pgpass'] },
  { name: 'SUPERUSER_USERNAME', path: ['postgresql', 'authentication', 'superuser', 'username'] },
  { name: 'SUPERUSER_PASSWORD', path: ['postgresql', 'authentication', 'superuser', 'password'] },
  { name: 'REPLICATION_USERNAME', path: ['postgresql', 'authentication', 'replication', 'username'] },
  { name: 'REPLICATION_PASSWORD', path: ['postgresql', 'authentication', 'replication', 'password'] },
  { name: 'REWIND_USERNAME', path: ['postgresql', 'authentication', 'rewind', 'username'] },
  { name: 'REWIND_PASSWORD', path: ['postgresql', 'authentication', 'rewind', 'password'] },
  { name: 'ETCD3_HOST', path: ['etcd3', 'host'], drop: ['hosts'] },
  { name: 'ETCD3_HOSTS', path: ['etcd3', 'hosts'], drop: ['host'] },
  { name: 'ETCD3_PROTOCOL', path: ['etcd3', 'protocol'] },
  { name: 'ETCD3_USERNAME', path: ['etcd3', 'username'] },
  { name: 'ETCD3_PASSWORD', path: ['etcd3', 'password'] },
];

/** Applies {@link ENV_OVERRIDES} to a parsed document in place; returns the variables used. */
export function applyEnvOverrides(doc: Record<string, unknown>, env: Readonly<Record<string, string | undefined>>): string[] {
  const used: string[] = [];
  for (const { name, path, drop } of ENV_OVERRIDES) {
    const variable = [`PGWARDEN_${name}`, `PATRONI_${name}`].find((v) => env[v] !== undefined);
    if (variable === undefined) continue;
    let node: Record<string, unknown> | null = doc;
    for (const key of path.slice(0, -1)) {
      if (node[key] === undefined || node[key] === null) node[key] = {};
      const next: unknown = node[key];
      if (!isPlainObject(next)) {
        node = null; // the file has a non-mapping here; validation will report it
        break;
      }
      node = next;
    }
    const leaf = path[path.length - 1];
    if (leaf === undefined || node === null) continue;
    node[leaf] = env[variable];
    for (const sibling of drop ?? []) delete node[sibling];
    used.push(variable);
  }
  return used;
}

/**
 * YAML 1.2 core types plus merge keys (`<<: *defaults`), but WITHOUT js-yaml's timestamp type:
 * an unquoted date must stay the string the user wrote (it may end up in etcd as JSON).
 */
const YAML_SCHEMA: yaml.Schema = (() => {
  // @types/js-yaml does not declare the runtime `types` export; it exists in js-yaml 4.
  const merge = (yaml as unknown as { types?: { merge?: yaml.Type } }).types?.merge;
  return merge ? yaml.CORE_SCHEMA.extend({ implicit: [merge] }) : yaml.CORE_SCHEMA;
})();

const MEMBER_NAME = /^[A-Za-z0-9_.-]+$/;
const LOG_LEVEL_ALIASES: Readonly<Record<string, string>> = { WARN: 'WARNING', FATAL: 'CRITICAL' };

/** Normalisations done before validation so the schema's types stay simple. */
function normalise(doc: Record<string, unknown>): void {
  normaliseSharedSections(doc);
  dropEmptySections(ConfigSchema, doc, '', (p) => p === 'bootstrap.dcs');
}

/**
 * The `etcd3` and `log` sections every pgwarden YAML shares (node, watch): `hosts` given as a
 * comma-separated string becomes a list, and the log level is upper-cased (WARN → WARNING).
 */
export function normaliseSharedSections(doc: Record<string, unknown>): void {
  const etcd3 = doc['etcd3'];
  if (isPlainObject(etcd3) && typeof etcd3['hosts'] === 'string') etcd3['hosts'] = splitHosts(etcd3['hosts']);
  const log = doc['log'];
  if (isPlainObject(log) && typeof log['level'] === 'string') {
    const up = log['level'].trim().toUpperCase();
    log['level'] = LOG_LEVEL_ALIASES[up] ?? up;
  }
}

/** `etcd3` needs exactly one of `host` and `hosts` (JSON Schema cannot say it clearly). */
export function etcd3Problems(doc: Record<string, unknown>): string[] {
  const etcd3 = doc['etcd3'];
  if (!isPlainObject(etcd3)) return [];
  const count = ['host', 'hosts'].filter((k) => etcd3[k] !== undefined).length;
  if (count === 0) return ['etcd3: host or hosts is required'];
  return count === 2 ? ['etcd3: set either host or hosts, not both'] : [];
}

/** `a:1, b:2` or `'a:1','b:2'` or `[a:1, b:2]` → `['a:1', 'b:2']` (Patroni accepts all three). */
function splitHosts(s: string): string[] {
  return s
    .replace(/^\s*\[|\]\s*$/g, '')
    .split(',')
    .map((h) => h.trim().replace(/^['"]|['"]$/g, ''))
    .filter((h) => h !== '');
}

/** Keys outside the schema that Patroni allows: sections of custom bootstrap/replica methods. */
function customMethodSections(doc: Record<string, unknown>): { paths: string[]; warnings: string[] } {
  const paths: string[] = [];
  const warnings: string[] = [];
  const bootstrap = doc['bootstrap'];
  const method = isPlainObject(bootstrap) ? bootstrap['method'] : undefined;
  if (typeof method === 'string' && method !== 'initdb') {
    paths.push(`bootstrap.${method}`);
    warnings.push(`bootstrap.method: custom bootstrap method '${method}' is not supported yet; pgwarden bootstraps with initdb`);
  }
  const pg = doc['postgresql'];
  const methods = isPlainObject(pg) ? pg['create_replica_methods'] : undefined;
  for (const m of Array.isArray(methods) ? methods : []) {
    if (typeof m !== 'string' || m === 'basebackup') continue;
    paths.push(`postgresql.${m}`);
    warnings.push(`postgresql.create_replica_methods: replica method '${m}' is not supported yet; pgwarden uses basebackup`);
  }
  return { paths, warnings };
}

/** Checks that involve more than one key or that JSON Schema cannot express. */
function crossFieldProblems(doc: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const { name, scope } = doc;
  if (typeof name === 'string' && name !== '' && !MEMBER_NAME.test(name)) {
    problems.push("name: must contain only letters, digits, '_', '.' and '-' (it is part of etcd keys and URLs)");
  }
  if (typeof scope === 'string' && scope.includes('/')) problems.push("scope: must not contain '/' (it is part of etcd keys)");
  problems.push(...etcd3Problems(doc));
  const bootstrap = doc['bootstrap'];
  const dcs = isPlainObject(bootstrap) ? bootstrap['dcs'] : undefined;
  if (isPlainObject(dcs)) {
    const timing = timingProblem(dcs);
    if (timing) problems.push(`bootstrap.dcs: ${timing}`);
  }
  problems.push(...eventProblems(doc));
  return problems;
}

/**
 * Command lines that cannot be split into words and inverted replica up/down limits, so that a
 * typo is a load error naming its key rather than a warning in the HA loop's log. Sections of
 * the wrong type are left to the schema's own messages.
 */
function eventProblems(doc: Record<string, unknown>): string[] {
  const pg = doc['postgresql'];
  const callbacks = isPlainObject(pg) && isPlainObject(pg['callbacks']) ? stringValues(pg['callbacks']) : undefined;
  const triggersDoc = doc['triggers'];
  const triggers = isPlainObject(triggersDoc) ? (triggersDoc as TriggersConfig) : undefined;
  const isLimit = (k: string) => k.endsWith('_lag_bytes') || k.endsWith('_lag_seconds');
  const limitsTyped = triggers !== undefined && Object.entries(triggers).every(([k, v]) => !isLimit(k) || typeof v === 'number');
  const outsideCommand = (key: string): [string, string | undefined] => {
    const v = doc[key];
    return [key, typeof v === 'string' ? v : undefined];
  };
  return [
    ...checkEventCommands(callbacks as CallbacksConfig | undefined, triggers && (stringValues(triggers) as TriggersConfig)),
    ...(limitsTyped ? checkTriggerThresholds(triggers) : []),
    ...checkCommandLines([outsideCommand('over_warning_limit_command'), outsideCommand('failover_command')]),
  ];
}

/** The string-valued entries of a mapping (others are the schema's to report). */
function stringValues(o: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/**
 * The top level of a YAML document (node, watch or observer file) must be a mapping.
 * @throws ConfigError naming `source`: an empty file says which sections (`expected`) it needs.
 */
export function requireMapping(doc: unknown, source: string, expected: string): asserts doc is Record<string, unknown> {
  if (doc === undefined || doc === null) throw new ConfigError(source, [`the file is empty: expected a mapping with ${expected}`]);
  if (!isPlainObject(doc)) {
    const got = Array.isArray(doc) ? 'a list' : `a ${typeof doc}`;
    throw new ConfigError(source, [`(top level): must be a mapping of settings (key: value), got ${got}`]);
  }
}

/**
 * Validates an already parsed document (a YAML file's content or `PATRONI_CONFIGURATION`).
 * `source` names it in errors. Mutates `doc` (env overrides, normalisation, defaults).
 * @throws ConfigError listing every problem.
 */
export function loadConfigDocument(doc: unknown, source: string, options: LoadOptions = {}): LoadResult {
  requireMapping(doc, source, 'scope, name, restapi, etcd3 and postgresql');
  applyEnvOverrides(doc, options.env ?? process.env);
  normalise(doc);
  const custom = customMethodSections(doc);
  const schemaProblems = validate(ConfigSchema, doc).filter((p) => {
    if (p === 'etcd3: required' && doc['etcd'] != null) return false;
    return !custom.paths.some((path) => p.startsWith(`${path}: unknown key`));
  });
  const annotations = collectAnnotations(ConfigSchema, doc);
  const problems = sortProblems([...schemaProblems, ...annotations.errors, ...crossFieldProblems(doc)]);
  if (problems.length > 0) throw new ConfigError(source, problems);

  const config = deepFreeze(doc) as unknown as Config;
  const warnings = sortProblems([
    ...annotations.warnings,
    ...custom.warnings,
    ...ignoredLocalParameters(config.postgresql.parameters),
  ]);
  return { config, warnings };
}

/**
 * Parses and validates YAML text. YAML syntax errors name `source`, line and column.
 * @throws ConfigError listing every problem.
 */
export function loadConfigText(text: string, source: string, options: LoadOptions = {}): LoadResult {
  return loadConfigDocument(parseYaml(text, source), source, options);
}

/**
 * Parses YAML text the way every pgwarden YAML file is read (core types, merge keys, no
 * timestamps). A syntax error names `source`, line and column.
 * @throws ConfigError
 */
export function parseYaml(text: string, source: string): unknown {
  try {
    return yaml.load(text, { filename: source, schema: YAML_SCHEMA });
  } catch (e) {
    if (e instanceof yaml.YAMLException) {
      const where = e.mark ? `${source}:${e.mark.line + 1}:${e.mark.column + 1}` : source;
      throw new ConfigError(source, [`${where}: YAML syntax error: ${e.reason}`]);
    }
    throw new ConfigError(source, [`cannot parse YAML: ${errorText(e)}`]);
  }
}

/** Reads a YAML file's text; an unreadable file is a ConfigError naming it. */
export function readConfigText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(path, [`cannot read the file: ${errorText(e)}`]);
  }
}

/**
 * Reads, parses and validates a node's YAML file (synchronously: it runs once at start-up and on
 * reload). Relative `data_dir`/`pgpass` stay as written; the caller resolves them against the
 * working directory, as Patroni does.
 * @throws ConfigError listing every problem, including an unreadable file.
 */
export function loadConfigFile(path: string, options: LoadOptions = {}): LoadResult {
  return loadConfigText(readConfigText(path), path, options);
}
