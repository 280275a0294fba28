import type { SetError } from './errors.js';
import { splitTokens } from './pointer.js';
import { isPlainObject, type JsonObject, type JsonValue } from './types.js';

/**
 * Applies a PatchObject (RFC 8620 §5.3) to a copy of `target`.
 * Keys are JSON Pointers without the leading slash. A key that is a prefix of another is invalid,
 * paths may not go through arrays (arrays are replaced whole), and the parent of a nested path must exist.
 * `null` at the top level is kept (the object type decides what a null property means);
 * deeper down it removes the member.
 */
export function applyPatch(target: JsonObject, patch: JsonObject): { ok: true; value: JsonObject } | { ok: false; error: SetError } {
  const keys = Object.keys(patch);
  const invalid = (description: string, path: string): { ok: false; error: SetError } =>
    ({ ok: false, error: { type: 'invalidPatch', description, properties: [path] } });

  for (const a of keys) {
    for (const b of keys) {
      if (a !== b && b.startsWith(`${a}/`)) return invalid('Patch paths overlap', b);
    }
  }
  const out = structuredClone(target);
  for (const key of keys) {
    const value = patch[key] as JsonValue;
    const tokens = splitTokens(key);
    if (tokens.some((t) => t === '')) return invalid('Invalid JSON Pointer path', key);
    if (tokens.length === 1) {
      defineOwn(out, tokens[0] as string, value);
      continue;
    }
    let node: JsonValue | undefined = out;
    for (const t of tokens.slice(0, -1)) {
      node = isPlainObject(node) && Object.hasOwn(node, t) ? node[t] : undefined;
      if (!isPlainObject(node)) return invalid('Invalid JSON Pointer path', key);
    }
    const parent = node as JsonObject;
    const last = tokens[tokens.length - 1] as string;
    if (value === null) delete parent[last];
    else defineOwn(parent, last, value);
  }
  return { ok: true, value: out };
}

/** Sets an own data property even for names like "__proto__". */
function defineOwn(obj: JsonObject, key: string, value: JsonValue): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}
