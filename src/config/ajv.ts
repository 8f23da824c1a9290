/**
 * The one Ajv instance the configuration module validates with, and the translation of Ajv's
 * error objects into the `dotted.path: message` lines an operator reads.
 *
 * Schemas may carry these annotation keywords (registered here so Ajv's strict mode accepts them):
 * - `x-message`: the sentence to show when this sub-schema fails (instead of Ajv's wording);
 * - `x-ignored`: the key is a Patroni key pgwarden accepts but does not act on (a warning);
 * - `x-reject`: the key is recognised but refused, with this explanation (an error);
 * - `x-boolish`: the value must be a Patroni "bool-ish" (true/false, on/off, yes/no, 1/0).
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { TSchema } from '@sinclair/typebox';
import { isEtcdHost, isHostPort, isListen } from './hostport.js';
import { suggest } from './suggest.js';

/**
 * Patroni's `parse_bool`: true/on/yes/1 and false/off/no/0 (any case), booleans, and the
 * numbers 1 and 0. Anything else is `undefined` (not a boolean).
 */
export function parseBoolish(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (v === 1 || v === 0) return v === 1;
  if (typeof v !== 'string') return undefined;
  const t = v.trim().toLowerCase();
  if (['true', 'on', 'yes', '1'].includes(t)) return true;
  if (['false', 'off', 'no', '0'].includes(t)) return false;
  return undefined;
}

function makeAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, verbose: true, allowUnionTypes: true, strict: true });
  ajv.addFormat('host-port', { type: 'string', validate: isHostPort });
  ajv.addFormat('etcd-host', { type: 'string', validate: isEtcdHost });
  ajv.addFormat('listen', { type: 'string', validate: isListen });
  ajv.addKeyword({ keyword: 'x-message', schemaType: 'string' });
  ajv.addKeyword({ keyword: 'x-ignored', schemaType: 'string' });
  ajv.addKeyword({ keyword: 'x-reject', schemaType: 'string' });
  ajv.addKeyword({
    keyword: 'x-boolish',
    schemaType: 'boolean',
    errors: true,
    validate: (on: boolean, data: unknown) => !on || data === null || parseBoolish(data) !== undefined,
  });
  return ajv;
}

const ajv = makeAjv();
const cache = new WeakMap<TSchema, ValidateFunction>();

/**
 * Validates (and, through `default` keywords, completes IN PLACE) `data` against `schema`.
 * Returns every problem as `path: message`, de-duplicated and sorted by path; [] means valid.
 * `prefix` is prepended to every path (e.g. `bootstrap.dcs`).
 */
export function validate(schema: TSchema, data: unknown, prefix = ''): string[] {
  let fn = cache.get(schema);
  if (!fn) {
    fn = ajv.compile(schema);
    cache.set(schema, fn);
  }
  fn(data);
  return sortProblems(formatErrors(fn.errors ?? [], prefix));
}

/** Sorts `path: message` lines by path (then message) and drops duplicates. */
export function sortProblems(lines: Iterable<string>): string[] {
  const key = (l: string): string => l.slice(0, Math.max(0, l.indexOf(': ')));
  return [...new Set(lines)].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    if (ka !== kb) return ka < kb ? -1 : 1;
    return a < b ? -1 : a > b ? 1 : 0;
  });
}

/** Joins path segments with dots, skipping empty ones. */
export function joinPath(...parts: string[]): string {
  return parts.filter((p) => p !== '').join('.');
}

function pointerToPath(pointer: string): string {
  if (pointer === '') return '';
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

const ARTICLE: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  integer: 'a whole number',
  boolean: 'true or false',
  object: 'a mapping (key: value)',
  array: 'a list',
  null: 'empty',
};
const NOUN: Record<string, string> = { integer: 'whole number', object: 'mapping', array: 'list' };

function describeType(expected: string, data: unknown): string {
  const types = expected.split(',').filter((t) => t !== 'null');
  if (types.length > 1) {
    const nouns = types.map((t) => NOUN[t] ?? t);
    return `must be a ${nouns.slice(0, -1).join(', ')} or ${nouns[nouns.length - 1] ?? ''}`;
  }
  const only = types[0] ?? expected;
  let text = `must be ${ARTICLE[only] ?? only}`;
  if (only === 'string' && (typeof data === 'number' || typeof data === 'boolean')) text += ' (quote the value in YAML)';
  if (only === 'boolean' && typeof data === 'string') text += ` (got '${data}'; write true or false)`;
  return text;
}

function messageFor(e: ErrorObject): string {
  const custom = (e.parentSchema as Record<string, unknown> | undefined)?.['x-message'];
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return 'required';
    case 'type':
      return describeType(String(p['type']), e.data);
    default:
      if (typeof custom === 'string') return custom;
  }
  switch (e.keyword) {
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return `must be ${String(p['comparison'])} ${String(p['limit'])}`;
    case 'enum':
      return `must be one of: ${(p['allowedValues'] as unknown[]).map(String).join(', ')}`;
    case 'minLength':
      return 'must not be empty';
    case 'minItems':
      return `must have at least ${String(p['limit'])} item(s)`;
    case 'format':
      return `must be ${String(p['format'])}`;
    case 'anyOf':
      return 'has an unsupported form';
    default:
      return e.message ?? 'is invalid';
  }
}

function knownKeys(e: ErrorObject): string[] {
  const props = (e.parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties;
  return props ? Object.keys(props) : [];
}

/** Turns Ajv errors into `path: message` lines (unsorted). Branch errors under `anyOf` are dropped. */
export function formatErrors(errors: readonly ErrorObject[], prefix: string): string[] {
  const unions = errors.filter((e) => e.keyword === 'anyOf').map((e) => `${e.schemaPath}/`);
  const out: string[] = [];
  for (const e of errors) {
    if (unions.some((u) => e.schemaPath.startsWith(u))) continue;
    const at = joinPath(prefix, pointerToPath(e.instancePath));
    const p = e.params as Record<string, unknown>;
    if (e.keyword === 'required') {
      out.push(`${joinPath(at, String(p['missingProperty']))}: required`);
    } else if (e.keyword === 'additionalProperties') {
      const key = String(p['additionalProperty']);
      const hint = suggest(key, knownKeys(e));
      out.push(`${joinPath(at, key)}: unknown key${hint ? ` (did you mean ${hint}?)` : ''}`);
    } else {
      out.push(`${at || '(top level)'}: ${messageFor(e)}`);
    }
  }
  return out;
}
