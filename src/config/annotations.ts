/**
 * Walks a parsed document alongside its schema to act on the schema's annotations:
 * `x-ignored` keys become warnings, `x-reject` keys become errors, and mapping/list keys left
 * empty in YAML (`tags:` with every line commented out parses as null) are dropped so defaults
 * apply. Only `properties` are followed; free-form records carry no annotations.
 */
import { joinPath } from './ajv.js';

type Schema = Record<string, unknown>;
type Doc = Record<string, unknown>;

/** True for a plain mapping as YAML or JSON parsing produces it. */
export function isPlainObject(v: unknown): v is Doc {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function propertiesOf(schema: Schema): Record<string, Schema> {
  const props = schema['properties'];
  return isPlainObject(props) ? (props as Record<string, Schema>) : {};
}

function allowsType(schema: Schema, t: string): boolean {
  const type = schema['type'];
  return type === t || (Array.isArray(type) && type.includes(t));
}

/** Result of {@link collectAnnotations}: warnings and errors as `path: message` lines. */
export interface Annotations {
  warnings: string[];
  errors: string[];
}

/**
 * Collects `x-ignored` warnings and `x-reject` errors for every annotated key present in `doc`
 * with a non-null value (null means "not set" in YAML and JSON alike).
 * `skip(path)` stops the walk below a path (used for sections that are checked on their own).
 */
export function collectAnnotations(
  schema: Schema,
  doc: unknown,
  path = '',
  skip: (path: string) => boolean = () => false,
  out: Annotations = { warnings: [], errors: [] },
): Annotations {
  if (!isPlainObject(doc)) return out;
  const props = propertiesOf(schema);
  for (const [key, value] of Object.entries(doc)) {
    const sub = props[key];
    if (!sub || value === null) continue;
    const at = joinPath(path, key);
    const ignoredWhy = sub['x-ignored'];
    const rejectWhy = sub['x-reject'];
    if (typeof rejectWhy === 'string') out.errors.push(`${at}: ${rejectWhy}`);
    else if (typeof ignoredWhy === 'string') out.warnings.push(`${at}: ${ignoredWhy}`);
    if (!skip(at)) collectAnnotations(sub, value, at, skip, out);
  }
  return out;
}

/**
 * Deletes keys whose value is null when the schema expects a mapping or list there and does not
 * itself allow null, so `tags:` or `parameters:` with only comments below behaves like an absent
 * key. Mutates `doc`. `skip(path)` protects verbatim sections (`bootstrap.dcs`).
 */
export function dropEmptySections(schema: Schema, doc: unknown, path = '', skip: (path: string) => boolean = () => false): void {
  if (!isPlainObject(doc)) return;
  const props = propertiesOf(schema);
  for (const [key, value] of Object.entries(doc)) {
    const sub = props[key];
    const at = joinPath(path, key);
    if (!sub || skip(at)) continue;
    const container = allowsType(sub, 'object') || allowsType(sub, 'array');
    if (value === null && container && !allowsType(sub, 'null')) delete doc[key];
    else dropEmptySections(sub, value, at, skip);
  }
}

/**
 * Returns a deep copy of `value` in which every object and array is frozen. The copy keeps the
 * caller's own data mutable and makes the configuration safe to share between modules.
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  const copy: unknown = Array.isArray(value)
    ? value.map((v: unknown) => deepFreeze(v))
    : Object.fromEntries(Object.entries(value).map(([k, v]) => [k, deepFreeze(v)]));
  return Object.freeze(copy) as T;
}
