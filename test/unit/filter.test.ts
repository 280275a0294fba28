import { describe, expect, it } from 'vitest';
import { MethodError } from '../../src/jmap/errors.js';
import { MAX_FILTER_DEPTH, parseFilter, parseSort } from '../../src/jmap/standard/filter.js';
import type { JsonObject, JsonValue } from '../../src/jmap/types.js';

/** A tiny object type: conditions are {minSize: number}; only "id" and "size" sort. */
const type = {
  parseCondition(condition: JsonObject): number {
    const keys = Object.keys(condition);
    if (keys.some((k) => k !== 'minSize')) throw new MethodError('unsupportedFilter', 'only minSize');
    if (typeof condition.minSize !== 'number') throw new MethodError('invalidArguments', 'minSize must be a number');
    return condition.minSize;
  },
  sortable: (property: string) => property === 'id' || property === 'size',
};
const COLLATIONS = ['i;ascii-casemap', 'i;octet'];

function errorType(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof MethodError) return err.type;
    throw err;
  }
  throw new Error('expected a MethodError');
}
const filterError = (value: JsonValue) => errorType(() => parseFilter(type, value));
const sortError = (value: JsonValue) => errorType(() => parseSort(type, value, COLLATIONS));

describe('parseFilter (RFC 8620 §5.5)', () => {
  it('absent or null is no filter', () => {
    expect(parseFilter(type, undefined)).toBeNull();
    expect(parseFilter(type, null)).toBeNull();
  });

  it('a FilterCondition goes to the object type', () => {
    expect(parseFilter(type, { minSize: 3 })).toEqual({ condition: 3 });
  });

  it('an empty FilterCondition is the type\'s to judge', () => {
    expect(filterError({})).toBe('invalidArguments');
  });

  it('FilterOperators nest', () => {
    const value: JsonValue = { operator: 'OR', conditions: [{ minSize: 1 }, { operator: 'NOT', conditions: [{ minSize: 2 }] }, { operator: 'AND', conditions: [] }] };
    expect(parseFilter(type, value)).toEqual({
      operator: 'OR',
      conditions: [{ condition: 1 }, { operator: 'NOT', conditions: [{ condition: 2 }] }, { operator: 'AND', conditions: [] }],
    });
  });

  it('the object type\'s errors come through unchanged', () => {
    expect(filterError({ name: 'x' })).toBe('unsupportedFilter');
    expect(filterError({ operator: 'AND', conditions: [{ minSize: 'big' }] })).toBe('invalidArguments');
  });

  it('refuses bad FilterOperators with invalidArguments', () => {
    for (const value of [
      { operator: 'and', conditions: [] },
      { operator: 'XOR', conditions: [] },
      { operator: null, conditions: [] },
      { operator: 'AND' },
      { operator: 'AND', conditions: { minSize: 1 } },
      { operator: 'AND', conditions: null },
      { operator: 'AND', conditions: [], extra: 1 },
      { operator: 'AND', conditions: [[]] },
    ] as JsonValue[]) {
      expect(filterError(value), JSON.stringify(value)).toBe('invalidArguments');
    }
  });

  it('refuses a filter that is not an object', () => {
    for (const value of ['x', 1, true, [], [{ minSize: 1 }]] as JsonValue[]) expect(filterError(value), JSON.stringify(value)).toBe('invalidArguments');
  });

  it(`accepts ${MAX_FILTER_DEPTH} levels of nesting and refuses one more with unsupportedFilter`, () => {
    const nest = (levels: number): JsonValue => {
      let node: JsonValue = { minSize: 1 };
      for (let i = 0; i < levels; i++) node = { operator: 'NOT', conditions: [node] };
      return node;
    };
    expect(parseFilter(type, nest(MAX_FILTER_DEPTH))).not.toBeNull();
    expect(filterError(nest(MAX_FILTER_DEPTH + 1))).toBe('unsupportedFilter');
    expect(filterError(nest(100_000))).toBe('unsupportedFilter');
  });

  it('accepts 1000 nodes and refuses more with unsupportedFilter', () => {
    const wide = (n: number): JsonValue => ({ operator: 'OR', conditions: Array.from({ length: n }, () => ({ minSize: 1 })) });
    expect(parseFilter(type, wide(999))).not.toBeNull();
    expect(filterError(wide(1000))).toBe('unsupportedFilter');
  });

  it('an own "operator" key makes an operator; an inherited one does not', () => {
    const condition = Object.create({ operator: 'AND', conditions: [] }) as JsonObject;
    condition.minSize = 4;
    expect(parseFilter(type, condition)).toEqual({ condition: 4 });
  });
});

describe('parseSort (RFC 8620 §5.5)', () => {
  it('absent or null is no sort; an empty list too', () => {
    expect(parseSort(type, undefined, COLLATIONS)).toEqual([]);
    expect(parseSort(type, null, COLLATIONS)).toEqual([]);
    expect(parseSort(type, [], COLLATIONS)).toEqual([]);
  });

  it('isAscending defaults to true; a supported collation is kept', () => {
    expect(parseSort(type, [{ property: 'size' }, { property: 'id', isAscending: false, collation: 'i;octet' }], COLLATIONS)).toEqual([
      { property: 'size', isAscending: true },
      { property: 'id', isAscending: false, collation: 'i;octet' },
    ]);
  });

  it('refuses an unsortable property or an unknown collation with unsupportedSort', () => {
    expect(sortError([{ property: 'name' }])).toBe('unsupportedSort');
    expect(sortError([{ property: 'Size' }])).toBe('unsupportedSort');
    expect(sortError([{ property: 'size', collation: 'i;unicode-casemap' }])).toBe('unsupportedSort');
  });

  it('refuses malformed Comparators with invalidArguments', () => {
    for (const value of [
      { property: 'size' },
      'size',
      [{}],
      [{ property: 1 }],
      [{ property: 'size', isAscending: 'yes' }],
      [{ property: 'size', isAscending: null }],
      [{ property: 'size', collation: 1 }],
      [{ property: 'size', keyword: 'x' }],
      ['size'],
    ] as JsonValue[]) {
      expect(sortError(value), JSON.stringify(value)).toBe('invalidArguments');
    }
  });

  it('accepts 8 Comparators and refuses 9', () => {
    const keys = (n: number): JsonValue => Array.from({ length: n }, () => ({ property: 'id' }));
    expect(parseSort(type, keys(8), COLLATIONS)).toHaveLength(8);
    expect(sortError(keys(9))).toBe('invalidArguments');
  });
});
