import * as v from 'valibot';
import { MethodError } from '../errors.js';
import { isPlainObject, type JsonValue } from '../types.js';
import type { FilterNode, SortKey, StandardType } from './type.js';

/** How deep FilterOperators may nest; deeper trees are refused before any recursion can overflow. */
export const MAX_FILTER_DEPTH = 32;
const MAX_FILTER_NODES = 1000;
const MAX_SORT_KEYS = 8;

/**
 * Operator names: RFC 8620's, and the spellings of the x:ApiKey reference page (AllOf, AnyOf, Not), which mean
 * the same thing.
 */
const OPERATORS: Record<string, 'AND' | 'OR' | 'NOT'> = { AND: 'AND', OR: 'OR', NOT: 'NOT', AllOf: 'AND', AnyOf: 'OR', Not: 'NOT' };

/** Parses a Filter (RFC 8620 §5.5): FilterOperator trees of the object type's conditions. */
export function parseFilter<C>(type: Pick<StandardType<unknown, C>, 'parseCondition'>, value: JsonValue | undefined): FilterNode<C> | null {
  if (value === undefined || value === null) return null;
  let nodes = 0;
  const walk = (node: JsonValue, depth: number): FilterNode<C> => {
    if (++nodes > MAX_FILTER_NODES) throw new MethodError('unsupportedFilter', `A filter may hold at most ${MAX_FILTER_NODES} nodes`);
    if (depth > MAX_FILTER_DEPTH) throw new MethodError('unsupportedFilter', `Filters may nest at most ${MAX_FILTER_DEPTH} levels`);
    if (!isPlainObject(node)) throw new MethodError('invalidArguments', 'A filter must be an object');
    if (!Object.hasOwn(node, 'operator')) return { condition: type.parseCondition(node) };
    const keys = Object.keys(node);
    if (keys.some((k) => k !== 'operator' && k !== 'conditions')) {
      throw new MethodError('invalidArguments', 'A FilterOperator has only operator and conditions');
    }
    const { conditions } = node;
    const operator = typeof node.operator === 'string' && Object.hasOwn(OPERATORS, node.operator) ? OPERATORS[node.operator] : undefined;
    if (!operator) throw new MethodError('invalidArguments', 'operator must be AND, OR or NOT (or AllOf, AnyOf, Not)');
    if (!Array.isArray(conditions)) throw new MethodError('invalidArguments', 'A FilterOperator needs a conditions array');
    return { operator, conditions: conditions.map((c) => walk(c, depth + 1)) };
  };
  return walk(value, 0);
}

const Comparator = v.strictObject({
  property: v.string(),
  isAscending: v.optional(v.boolean(), true),
  collation: v.optional(v.string()),
});
const SortSchema = v.pipe(v.array(Comparator), v.maxLength(MAX_SORT_KEYS));

export function parseSort(type: Pick<StandardType<unknown, unknown>, 'sortable'>, value: JsonValue | undefined, collations: readonly string[]): SortKey[] {
  if (value === undefined || value === null) return [];
  const parsed = v.safeParse(SortSchema, value);
  if (!parsed.success) throw new MethodError('invalidArguments', `sort: ${parsed.issues[0]?.message ?? 'invalid'}`);
  for (const key of parsed.output) {
    if (!type.sortable(key.property)) throw new MethodError('unsupportedSort', `Property ${key.property.slice(0, 64)} is not supported for sorting`);
    if (key.collation !== undefined && !collations.includes(key.collation)) throw new MethodError('unsupportedSort', 'Unsupported collation');
  }
  return parsed.output;
}
