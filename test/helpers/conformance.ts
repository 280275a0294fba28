import { isDeepStrictEqual } from 'node:util';

/**
 * Runs the data-driven cases in spec/conformance/*.json (format: spec/README.md).
 * Patterns: "<any>", "<string>", "<number>", "<absent>", "<capture:NAME>", "<contains:VALUE>";
 * "${NAME}" substitutes a captured value; objects match as subsets unless "$exact": true; arrays match item by item.
 */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type Vars = Map<string, Json>;

export function substitute(value: Json, vars: Vars): Json {
  if (typeof value === 'string') {
    const whole = /^\$\{(\w+)\}$/.exec(value);
    if (whole) {
      const v = vars.get(whole[1] as string);
      if (v === undefined) throw new Error(`unbound variable ${whole[1]}`);
      return v;
    }
    const repeat = /^<repeat:(\d+):(.*)>$/s.exec(value);
    if (repeat) return Array.from({ length: Number(repeat[1]) }, () => JSON.parse(repeat[2] as string) as Json);
    const nest = /^<nest:(\d+)>$/.exec(value);
    if (nest) {
      let f: Json = { expiresAt: '2031-01-01T00:00:00Z' };
      for (let i = 0; i < Number(nest[1]); i++) f = { operator: 'NOT', conditions: [f] };
      return f;
    }
    return value.replace(/\$\{(\w+)\}/g, (_, name: string) => String(vars.get(name) ?? `\${${name}}`));
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, vars));
  if (value && typeof value === 'object') {
    const out: { [k: string]: Json } = {};
    for (const [k, v] of Object.entries(value)) {
      Object.defineProperty(out, substitute(k, vars) as string, { value: substitute(v, vars), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return value;
}

/** Returns a list of mismatch descriptions (empty when `actual` matches `pattern`). */
export function match(pattern: Json, actual: Json | undefined, vars: Vars, path = '$'): string[] {
  if (typeof pattern === 'string') {
    if (pattern === '<any>') return actual === undefined ? [`${path}: missing`] : [];
    if (pattern === '<absent>') return actual === undefined ? [] : [`${path}: expected absent, got ${JSON.stringify(actual)}`];
    if (pattern === '<string>') return typeof actual === 'string' ? [] : [`${path}: expected a string, got ${JSON.stringify(actual)}`];
    if (pattern === '<number>') return typeof actual === 'number' ? [] : [`${path}: expected a number, got ${JSON.stringify(actual)}`];
    const cap = /^<capture:(\w+)>$/.exec(pattern);
    if (cap) {
      if (actual === undefined) return [`${path}: missing (capture ${cap[1]})`];
      vars.set(cap[1] as string, actual);
      return [];
    }
    const contains = /^<contains:(.*)>$/.exec(pattern);
    if (contains) {
      const want = substitute(contains[1] as string, vars);
      return Array.isArray(actual) && actual.some((a) => isDeepStrictEqual(a, want)) ? [] : [`${path}: expected an array containing ${JSON.stringify(want)}, got ${JSON.stringify(actual)}`];
    }
    const want = substitute(pattern, vars);
    return isDeepStrictEqual(want, actual) ? [] : [`${path}: expected ${JSON.stringify(want)}, got ${JSON.stringify(actual)}`];
  }
  if (Array.isArray(pattern)) {
    if (!Array.isArray(actual)) return [`${path}: expected an array, got ${JSON.stringify(actual)}`];
    if (actual.length !== pattern.length) return [`${path}: expected ${pattern.length} items, got ${actual.length}: ${JSON.stringify(actual).slice(0, 400)}`];
    return pattern.flatMap((p, i) => match(p, actual[i], vars, `${path}[${i}]`));
  }
  if (pattern && typeof pattern === 'object') {
    if (!actual || typeof actual !== 'object' || Array.isArray(actual)) return [`${path}: expected an object, got ${JSON.stringify(actual)}`];
    const errors: string[] = [];
    const keys = Object.keys(pattern).filter((k) => k !== '$exact');
    for (const rawKey of keys) {
      const key = substitute(rawKey, vars) as string;
      errors.push(...match(pattern[rawKey] as Json, Object.hasOwn(actual, key) ? actual[key] : undefined, vars, `${path}.${key}`));
    }
    if (pattern.$exact === true) {
      const allowed = new Set(keys.map((k) => substitute(k, vars) as string));
      for (const k of Object.keys(actual)) if (!allowed.has(k)) errors.push(`${path}.${k}: unexpected property`);
    }
    return errors;
  }
  return isDeepStrictEqual(pattern, actual) ? [] : [`${path}: expected ${JSON.stringify(pattern)}, got ${JSON.stringify(actual)}`];
}
