/**
 * Patroni's rule for changing the dynamic configuration (`PATCH /config`, `edit-config -s`):
 * objects merge recursively, `null` deletes a key, anything else replaces the value — except that
 * a scalar whose text is unchanged (`100` vs `"100"`) is left as it was, so a patch that only
 * retypes a value is not a change.
 */
import { isPlainObject } from './annotations.js';

export type JsonObject = Record<string, unknown>;

/** The merged configuration (a new object; `base` is not modified) and whether anything changed. */
export function mergePatch(base: JsonObject, patch: JsonObject): { value: JsonObject; changed: boolean } {
  const out = structuredClone(base);
  const changed = applyPatch(out, patch);
  return { value: out, changed };
}

function applyPatch(target: JsonObject, patch: JsonObject): boolean {
  let changed = false;
  for (const [key, v] of Object.entries(patch)) {
    const has = Object.prototype.hasOwnProperty.call(target, key);
    if (v === null || v === undefined) {
      if (has && target[key] !== null) changed = true;
      delete target[key];
    } else if (isPlainObject(v)) {
      const cur = target[key];
      if (has && isPlainObject(cur)) {
        if (applyPatch(cur, v)) changed = true;
      } else {
        const fresh: JsonObject = {};
        applyPatch(fresh, v);
        target[key] = fresh;
        changed = true;
      }
    } else if (!has || scalarText(target[key]) !== scalarText(v)) {
      target[key] = v;
      changed = true;
    }
  }
  return changed;
}

/** Python's `str()` for the values YAML and JSON produce, enough to compare them like Patroni. */
function scalarText(v: unknown): string {
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}
