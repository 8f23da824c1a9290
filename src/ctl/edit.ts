/**
 * `pgwardenctl edit-config`: building a patch from `-s key.path=value` / `-p param=value`
 * (values parsed as YAML, `null` deletes), and a line diff of the old and new YAML so the operator
 * sees what will change before it is written.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import type { JsonObject } from '../config/patch.js';
import { errorText } from '../errors.js';
import { CtlError } from './context.js';
import { interactive } from './prompt.js';

/** `a.b.c=value` → `{a: {b: {c: value}}}` merged into `patch`; the value is YAML (`null` deletes). */
export function addSetting(patch: JsonObject, assignment: string): JsonObject {
  const eq = assignment.indexOf('=');
  if (eq <= 0) throw new Error(`"${assignment}" is not key=value`);
  const path = assignment.slice(0, eq).trim().split('.');
  if (path.some((p) => p === '')) throw new Error(`"${assignment.slice(0, eq)}" is not a dotted key path`);
  const value = yaml.load(assignment.slice(eq + 1)) ?? null;
  let node = patch;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as JsonObject;
  }
  node[path[path.length - 1]!] = value;
  return patch;
}

/** `-p name=value` is `-s postgresql.parameters.name=value`. */
export function pgParameterSetting(assignment: string): string {
  return `postgresql.parameters.${assignment}`;
}

export function toYaml(value: unknown): string {
  return yaml.dump(value, { lineWidth: -1, sortKeys: true });
}

/**
 * A unified-style line diff (`-` old, `+` new, two lines of context), from a longest common
 * subsequence of lines; the configs are small, so the quadratic table is fine.
 */
export function lineDiff(before: string, after: string): string {
  const a = before.split('\n');
  const b = after.split('\n');
  const n = a.length;
  const m = b.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const ops: { tag: ' ' | '-' | '+'; text: string }[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      ops.push({ tag: ' ', text: a[i]! });
      i++;
      j++;
    } else if (i < n && (j >= m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) ops.push({ tag: '-', text: a[i++]! });
    else ops.push({ tag: '+', text: b[j++]! });
  }
  const changed = ops.map((o, k) => (o.tag !== ' ' ? k : -1)).filter((k) => k >= 0);
  const keep = new Set<number>();
  for (const k of changed) for (let c = k - 2; c <= k + 2; c++) if (c >= 0 && c < ops.length) keep.add(c);
  const out: string[] = [];
  let last = -1;
  for (const k of [...keep].sort((x, y) => x - y)) {
    if (last >= 0 && k > last + 1) out.push('@@');
    out.push(`${ops[k]!.tag}${ops[k]!.text}`);
    last = k;
  }
  return out.join('\n');
}

/** A YAML mapping from a file (`-` = stdin), for `--apply` / `--replace`. */
export function readYamlFile(path: string, flag: string): JsonObject {
  let text: string;
  try {
    text = path === '-' ? readFileSync(0, 'utf8') : readFileSync(path, 'utf8');
  } catch (e) {
    throw new CtlError(`${flag} ${path}: ${errorText(e)}`);
  }
  const value = yaml.load(text);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CtlError(`${flag} ${path}: not a YAML mapping`);
  return value as JsonObject;
}

/** Opens $EDITOR on the configuration as YAML and returns the edited mapping. */
export function editInEditor(current: JsonObject): JsonObject {
  if (!interactive()) throw new CtlError('no terminal for an editor; pass -s, -p, --apply or --replace');
  const dir = mkdtempSync(join(tmpdir(), 'pgwardenctl-'));
  const file = join(dir, 'config.yaml');
  try {
    writeFileSync(file, toYaml(current));
    const editor = process.env.EDITOR ?? process.env.VISUAL ?? 'vi';
    const r = spawnSync(editor, [file], { stdio: 'inherit', shell: true });
    if (r.status !== 0) throw new CtlError(`${editor} exited with status ${r.status ?? 'unknown'}; nothing was changed`);
    return readYamlFile(file, 'edited file');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
