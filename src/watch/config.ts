/**
 * The watch YAML (`pgwarden watch FILE.yml`): which clusters to follow in etcd and which plugin
 * commands to run when their topology changes. One TypeBox schema gives the type, the defaults
 * and the validation, like a node's YAML (`config/schema.ts`), and the `etcd3` and `log`
 * sections are that file's own schemas, so an operator can copy them from a node's YAML.
 *
 * Problems are reported all at once as `dotted.path: message` lines in one `ConfigError` that
 * names the file, as for a node's YAML.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { sortProblems, validate } from '../config/ajv.js';
import { collectAnnotations, deepFreeze, dropEmptySections, isPlainObject } from '../config/annotations.js';
import { etcd3Problems, normaliseSharedSections, parseYaml, readConfigText, requireMapping } from '../config/load.js';
import { Etcd3Schema, LogSchema } from '../config/schema.js';
import { ConfigError, errorText } from '../errors.js';
import { CallbackTimeoutSchema } from '../events/config.js';
import { splitCommand } from '../events/runner.js';

const CLOSED = { additionalProperties: false } as const;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Scope and plugin names end up in etcd keys, log lines and runner keys: keep them plain. */
const NAME = '^[A-Za-z0-9_.-]+$';
/** A cluster name as `scope`/`scopes` accept it (also in the observer's YAML). */
export const ScopeName = Type.String({ minLength: 1, pattern: NAME, 'x-message': "must contain only letters, digits, '_', '.' and '-'" });
const PluginName = Type.String({ minLength: 1, pattern: NAME, 'x-message': "must contain only letters, digits, '_', '.' and '-'" });

/**
 * One plugin: a command line run without a shell (words and quotes split like sh, nothing
 * expanded), with the watch document as JSON on stdin.
 */
export const PluginSchema = Type.Object(
  {
    /** Names the plugin in the log; unique. */
    name: PluginName,
    command: Type.String({ minLength: 1 }),
    /** The scopes whose clusters this plugin gets and reacts to; default: every watched scope. */
    scopes: Type.Optional(Type.Array(ScopeName, { minItems: 1 })),
    /** Extra environment variables (added to the watcher's own environment). */
    env: Type.Optional(Type.Record(Type.String(), Type.String())),
  },
  CLOSED,
);

/** The whole watch YAML. */
export const WatchConfigSchema = Type.Object(
  {
    etcd3: Etcd3Schema,
    namespace: Type.String({ minLength: 1, default: '/service/' }),
    /** One cluster to watch (or use `scopes`). */
    scope: Type.Optional(ScopeName),
    /** Several clusters to watch (or use `scope`). */
    scopes: Type.Optional(Type.Array(ScopeName, { minItems: 1 })),
    /** Seconds a plugin run may take before its process group is killed (and retried later). */
    callback_timeout: CallbackTimeoutSchema,
    /** Seconds after a failed run before it is tried again while the topology stays the same. */
    retry_interval: Type.Number({ exclusiveMinimum: 0, default: 10 }),
    /**
     * Seconds between two reads of a cluster. etcd's watch wakes the watcher at once when the
     * leader key changes; member health (state) is only seen by these reads.
     */
    poll_interval: Type.Number({ minimum: 0.1, default: 2 }),
    plugins: Type.Array(PluginSchema, { minItems: 1 }),
    log: LogSchema,
  },
  CLOSED,
);

/** A validated watch YAML, defaults applied, deeply frozen. Use {@link watchedScopes} for the scopes. */
export type WatchConfig = Static<typeof WatchConfigSchema>;
export type PluginConfig = Static<typeof PluginSchema>;

export interface WatchLoadResult {
  config: WatchConfig;
  /** `path: message` lines worth logging once (keys accepted but not acted on). */
  warnings: string[];
}

/** The watched scopes in the order written (`scope` or `scopes`). */
export function watchedScopes(config: Pick<WatchConfig, 'scope' | 'scopes'>): string[] {
  return config.scopes ? [...config.scopes] : config.scope !== undefined ? [config.scope] : [];
}

/** The scopes a plugin reacts to, in the order they are watched. */
export function pluginScopes(config: Pick<WatchConfig, 'scope' | 'scopes'>, plugin: Pick<PluginConfig, 'scopes'>): string[] {
  const all = watchedScopes(config);
  return plugin.scopes ? all.filter((s) => plugin.scopes!.includes(s)) : all;
}

/** True when `program` can be run: an executable file, or a bare name found on PATH. */
function isRunnable(program: string, env: Readonly<Record<string, string | undefined>>): boolean {
  const executable = (path: string): boolean => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (program.includes('/')) return executable(program);
  return (env['PATH'] ?? '').split(delimiter).some((dir) => dir !== '' && executable(join(dir, program)));
}

/** Checks that involve more than one key or the file system. */
function crossFieldProblems(doc: Record<string, unknown>, env: Readonly<Record<string, string | undefined>>): string[] {
  const problems = [...etcd3Problems(doc), ...scopeProblems(doc)];
  const watched = Array.isArray(doc['scopes']) ? doc['scopes'] : [doc['scope']];

  const plugins = Array.isArray(doc['plugins']) ? doc['plugins'] : [];
  const seen = new Set<unknown>();
  plugins.forEach((p: unknown, i) => {
    if (!isPlainObject(p)) return;
    const at = `plugins.${i}`;
    if (seen.has(p['name'])) problems.push(`${at}.name: '${String(p['name'])}' is used by an earlier plugin; names must be unique`);
    seen.add(p['name']);
    if (Array.isArray(p['scopes'])) {
      problems.push(...duplicates(`${at}.scopes`, p['scopes']));
      for (const s of p['scopes']) if (!watched.includes(s)) problems.push(`${at}.scopes: '${String(s)}' is not a watched scope`);
    }
    if (isPlainObject(p['env'])) {
      for (const name of Object.keys(p['env'])) {
        if (!ENV_NAME.test(name)) problems.push(`${at}.env.${name}: must be a variable name (letters, digits and '_', not starting with a digit)`);
      }
    }
    if (typeof p['command'] !== 'string') return;
    try {
      const argv = splitCommand(p['command']);
      if (argv.length === 0) problems.push(`${at}.command: must name a program`);
      else if (!isRunnable(argv[0]!, env)) problems.push(`${at}.command: program '${argv[0]}' does not exist or is not executable`);
    } catch (e) {
      problems.push(`${at}.command: ${errorText(e)}`);
    }
  });
  return problems;
}

/**
 * `scope` / `scopes` of a watch or observer YAML: exactly one of them, no scope listed twice.
 * The names themselves are checked by the schema ({@link ScopeName}).
 */
export function scopeProblems(doc: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const hasScope = doc['scope'] !== undefined;
  const hasScopes = doc['scopes'] !== undefined;
  if (!hasScope && !hasScopes) problems.push('scope: required (or scopes: a list of clusters)');
  if (hasScope && hasScopes) problems.push('scopes: set either scope or scopes, not both');
  if (Array.isArray(doc['scopes'])) problems.push(...duplicates('scopes', doc['scopes']));
  return problems;
}

/** `path: 'x' is listed twice` for every value that repeats in `list`. */
function duplicates(path: string, list: readonly unknown[]): string[] {
  const repeated = new Set(list.filter((v, i) => list.indexOf(v) !== i));
  return [...repeated].map((v) => `${path}: '${String(v)}' is listed twice`);
}

/** Options of the loader; tests pass their own environment (PATH for the program check). */
export interface WatchLoadOptions {
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Validates an already parsed document. Mutates it (normalisation, defaults) and returns a
 * frozen copy. `source` names the file in errors.
 * @throws ConfigError listing every problem.
 */
export function loadWatchDocument(doc: unknown, source: string, options: WatchLoadOptions = {}): WatchLoadResult {
  requireMapping(doc, source, 'etcd3, scope (or scopes) and plugins');
  // Same leniency as a node's YAML, so its etcd3 and log sections can be copied as they are.
  normaliseSharedSections(doc);
  dropEmptySections(WatchConfigSchema, doc);

  const annotations = collectAnnotations(WatchConfigSchema, doc);
  const problems = sortProblems([
    ...validate(WatchConfigSchema, doc),
    ...annotations.errors,
    ...crossFieldProblems(doc, options.env ?? process.env),
  ]);
  if (problems.length > 0) throw new ConfigError(source, problems);
  return { config: deepFreeze(doc) as unknown as WatchConfig, warnings: sortProblems(annotations.warnings) };
}

/**
 * Reads, parses and validates a watch YAML file.
 * @throws ConfigError listing every problem, including an unreadable file or a YAML syntax error.
 */
export function loadWatchFile(path: string, options: WatchLoadOptions = {}): WatchLoadResult {
  return loadWatchDocument(parseYaml(readConfigText(path), path), path, options);
}
