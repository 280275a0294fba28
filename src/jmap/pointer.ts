import { isPlainObject, type JsonValue } from './types.js';

/** Splits an RFC 6901 pointer body (no leading "/") into unescaped tokens. */
export function splitTokens(body: string): string[] {
  return body.split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

const INDEX = /^(0|[1-9][0-9]*)$/;

/**
 * Evaluates a result-reference path (RFC 8620 §3.7): a JSON Pointer where `*` maps over an array
 * and flattens one level. Returns undefined when any step does not resolve (never a partial array).
 * `maxItems` bounds what each `*` expansion may produce (every array it builds is at most that long, so nested
 * expansions cost no more than their input plus their bounded output).
 */
export function evaluateReferencePath(root: JsonValue, path: string, maxItems: number): JsonValue | undefined {
  if (path === '') return root;
  if (!path.startsWith('/')) return undefined;
  const tokens = splitTokens(path.slice(1));
  const walk = (node: JsonValue, i: number): JsonValue | undefined => {
    if (i === tokens.length) return node;
    const token = tokens[i] as string;
    if (token === '*') {
      if (!Array.isArray(node)) return undefined;
      const out: JsonValue[] = [];
      for (const item of node) {
        const r = walk(item, i + 1);
        if (r === undefined) return undefined;
        // Checked before pushing: spreading a huge array into push() would overflow the stack.
        if (out.length + (Array.isArray(r) ? r.length : 1) > maxItems) return undefined;
        if (Array.isArray(r)) out.push(...r);
        else out.push(r);
      }
      return out;
    }
    if (Array.isArray(node)) {
      if (!INDEX.test(token)) return undefined;
      const idx = Number(token);
      return idx < node.length ? walk(node[idx] as JsonValue, i + 1) : undefined;
    }
    if (isPlainObject(node) && Object.hasOwn(node, token)) return walk(node[token] as JsonValue, i + 1);
    return undefined;
  };
  return walk(root, 0);
}
