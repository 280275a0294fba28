import { isPlainObject, type JsonObject, type JsonValue } from '../jmap/types.js';
import { UsageError } from './errors.js';
import { parseUtcDate } from '../util/utcdate.js';
import { findProperty, propertySpec, unknownProperty, type ObjectSpec } from './objects.js';

/**
 * Parsing of --field, --where, --fields, --sort and id lists, as stalwart-cli does it:
 * a field is split on its first `=`; values of object and set properties are JSON; `null` is JSON null
 * for nullable properties; on update a key may be a JSON pointer (`allowedIps/10.0.0.1=true`).
 */
export type Mode = 'create' | 'update';

const EXAMPLES: Record<string, string> = {
  permissions: `permissions='{"@type":"Inherit"}'`,
  allowedIps: `allowedIps='["10.0.0.0/8"]'`,
};

function splitField(field: string): { key: string; raw: string } {
  if (field.startsWith('"')) {
    const close = field.indexOf('"', 1);
    if (close > 1 && field[close + 1] === '=') return { key: field.slice(1, close), raw: field.slice(close + 2) };
    throw new UsageError(`--field ${field}: expected "name"=value`);
  }
  const eq = field.indexOf('=');
  if (eq < 1) throw new UsageError(`--field ${field}: expected name=value`);
  return { key: field.slice(0, eq), raw: field.slice(eq + 1) };
}

/** The key with its property name spelled canonically; pointer keys (with `/`) only on update. */
function resolveKey(spec: ObjectSpec, key: string, mode: Mode): { key: string; property: string; pointer: boolean } {
  const slash = key.indexOf('/');
  const head = slash < 0 ? key : key.slice(0, slash);
  if (slash >= 0 && mode === 'create') throw new UsageError(`${key}: JSON-pointer keys are only allowed in update`);
  const property = findProperty(spec, head);
  if (!property) throw unknownProperty(spec, head);
  if (propertySpec(spec, property).readOnly) throw new UsageError(`${property} is set by the server and cannot be ${mode}d`);
  if (slash >= 0 && slash === key.length - 1) throw new UsageError(`${key}: empty JSON-pointer segment`);
  return { key: slash < 0 ? property : `${property}${key.slice(slash)}`, property, pointer: slash >= 0 };
}

function parseJson(key: string, raw: string): JsonValue {
  try {
    return JSON.parse(raw) as JsonValue;
  } catch (err) {
    throw new UsageError(`--field ${key}: bad JSON (${err instanceof Error ? err.message : String(err)})`);
  }
}

function parseValue(spec: ObjectSpec, property: string, raw: string): JsonValue {
  const p = propertySpec(spec, property);
  if (raw === 'null' && p.nullable) return null;
  if (p.type === 'object' || p.type === 'set') {
    if (!/^\s*[[{]/.test(raw)) {
      const example = EXAMPLES[property] ?? `${property}='${p.type === 'set' ? '[]' : '{}'}'`;
      throw new UsageError(`--field ${property}: needs a JSON ${p.type === 'set' ? 'array' : 'object'}, e.g. --field ${example}`);
    }
    return parseJson(property, raw);
  }
  return raw;
}

/** A value under a JSON pointer: JSON when it reads as JSON (true, 3, {...}, "x"), else the text itself. */
function parsePointerValue(key: string, raw: string): JsonValue {
  if (/^(true|false|null|-?\d+(\.\d+)?([eE][+-]?\d+)?)$/.test(raw) || /^\s*[[{"]/.test(raw)) return parseJson(key, raw);
  return raw;
}

/** `--field k=v` arguments as a create object or an update patch. */
export function parseFields(spec: ObjectSpec, fields: readonly string[], mode: Mode): JsonObject {
  const out: JsonObject = {};
  for (const field of fields) {
    const { key, raw } = splitField(field);
    const resolved = resolveKey(spec, key, mode);
    out[resolved.key] = resolved.pointer ? parsePointerValue(resolved.key, raw) : parseValue(spec, resolved.property, raw);
  }
  return out;
}

/** A whole object from --json, --file or --stdin: keys checked and spelled canonically, values kept. */
export function checkObject(spec: ObjectSpec, value: JsonValue, mode: Mode, source: string): JsonObject {
  if (!isPlainObject(value)) throw new UsageError(`${source}: expected a JSON object`);
  const out: JsonObject = {};
  for (const [key, v] of Object.entries(value)) out[resolveKey(spec, key, mode).key] = v;
  return out;
}

export function parseJsonText(text: string, source: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch (err) {
    throw new UsageError(`${source}: bad JSON (${err instanceof Error ? err.message : String(err)})`);
  }
}

const OPERATORS: Record<string, string> = { '=': '', '<': 'IsLessThan', '<=': 'IsLessThanOrEqual', '>': 'IsGreaterThan', '>=': 'IsGreaterThanOrEqual' };

/** `--where` conditions as one FilterCondition (ANDed), or an AND operator when a key repeats. */
export function parseWhere(spec: ObjectSpec, wheres: readonly string[]): JsonObject | undefined {
  if (wheres.length === 0) return undefined;
  const conditions: [string, string][] = [];
  for (const where of wheres) {
    const m = /^\s*([A-Za-z][A-Za-z0-9]*)\s*(<=|>=|<|>|=)\s*(.*?)\s*$/.exec(where);
    if (!m) throw new UsageError(`--where ${where}: expected name=value, name<value, name<=value, name>value or name>=value`);
    const [, name, op, value] = m as unknown as [string, string, string, string];
    const property = findProperty(spec, name);
    const filterable = Object.entries(spec.properties).filter(([, p]) => p.filterable).map(([k]) => k);
    if (!property) throw new UsageError(`--where ${where}: unknown filter property "${name}"; filterable: ${filterable.join(', ')}`);
    if (!propertySpec(spec, property).filterable) {
      throw new UsageError(`--where ${where}: cannot filter on ${property}; filterable: ${filterable.join(', ')}`);
    }
    if (value === '') throw new UsageError(`--where ${where}: missing value`);
    if (propertySpec(spec, property).type === 'utcDate' && parseUtcDate(value) === undefined) {
      throw new UsageError(`--where ${where}: ${property} takes a UTCDate such as 2027-01-01T00:00:00Z (UTC, seconds, a Z at the end)`);
    }
    conditions.push([`${property}${OPERATORS[op] as string}`, value]);
  }
  const keys = new Set(conditions.map(([k]) => k));
  if (keys.size === conditions.length) return Object.fromEntries(conditions);
  return { operator: 'AND', conditions: conditions.map(([k, v]) => ({ [k]: v })) };
}

/** `--fields a,b`: canonical property names, unknown ones refused. */
export function parsePropertyList(spec: ObjectSpec, list: string): string[] {
  const names = list.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) throw new UsageError('--fields: no property names given');
  return [...new Set(names.map((n) => {
    const property = findProperty(spec, n);
    if (!property) throw unknownProperty(spec, n);
    return property;
  }))];
}

/** `--sort createdAt,-id`: a leading `-` sorts descending. */
export function parseSort(spec: ObjectSpec, list: string): JsonObject[] {
  const items = list.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw new UsageError('--sort: no property names given');
  return items.map((item) => {
    const descending = item.startsWith('-');
    const name = descending ? item.slice(1) : item;
    const property = findProperty(spec, name);
    if (!property) throw unknownProperty(spec, name, 'sort property');
    if (!propertySpec(spec, property).sortable) {
      const sortable = Object.entries(spec.properties).filter(([, p]) => p.sortable).map(([k]) => k);
      throw new UsageError(`--sort: cannot sort on ${property}; sortable: ${sortable.join(', ')}`);
    }
    return { property, isAscending: !descending };
  });
}

/** Ids from --ids or stdin: a JSON array, or a list separated by commas, spaces or newlines. */
export function parseIds(text: string, source: string): string[] {
  const trimmed = text.trim();
  let ids: string[];
  if (trimmed.startsWith('[')) {
    const value = parseJsonText(trimmed, source);
    if (!Array.isArray(value) || !value.every((x): x is string => typeof x === 'string')) {
      throw new UsageError(`${source}: expected a JSON array of id strings`);
    }
    ids = value;
  } else {
    ids = trimmed.split(/[\s,]+/);
  }
  ids = [...new Set(ids.filter((id) => id !== ''))];
  if (ids.length === 0) throw new UsageError(`${source}: no ids given`);
  return ids;
}
