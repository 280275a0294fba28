import { describe, expect, it } from 'vitest';
import { evaluateReferencePath, splitTokens } from '../../src/jmap/pointer.js';
import type { JsonObject } from '../../src/jmap/types.js';

// Arguments to point into: arrays of objects, member names that need escaping, a string and a null.
const base: JsonObject = { a: [{ b: [1, 2] }, { b: [3] }], o: { 'x/y': 5, 't~': 6 }, s: 'str', n: null };
const at = (path: string, maxItems = 1000) => evaluateReferencePath(base, path, maxItems);

describe('splitTokens (RFC 6901)', () => {
  it('splits on "/" and unescapes ~1 before ~0', () => {
    expect(splitTokens('a/b')).toEqual(['a', 'b']);
    expect(splitTokens('x~1y/t~0')).toEqual(['x/y', 't~']);
    expect(splitTokens('~01')).toEqual(['~1']);
    expect(splitTokens('')).toEqual(['']);
    expect(splitTokens('a//b')).toEqual(['a', '', 'b']);
  });
});

describe('evaluateReferencePath (RFC 8620 §3.7)', () => {
  it('resolves a member path', () => {
    expect(at('/s')).toBe('str');
    expect(at('/a')).toEqual(base.a);
  });

  it('"*" maps over an array and flattens one level', () => {
    expect(at('/a/*/b')).toEqual([1, 2, 3]);
    expect(at('/a/*')).toEqual(base.a);
  });

  it('"*" keeps non-array results as single items', () => {
    expect(evaluateReferencePath({ list: [{ id: 'a' }, { id: 'b' }] }, '/list/*/id', 10)).toEqual(['a', 'b']);
  });

  it('"*" over an empty array is an empty array', () => {
    expect(evaluateReferencePath({ list: [] }, '/list/*/id', 10)).toEqual([]);
  });

  it('nested "*" flattens at each level', () => {
    const doc: JsonObject = { x: [{ y: [{ z: 1 }, { z: 2 }] }, { y: [{ z: 3 }] }] };
    expect(evaluateReferencePath(doc, '/x/*/y/*/z', 10)).toEqual([1, 2, 3]);
  });

  it('"*" on a non-array fails', () => {
    expect(at('/s/*')).toBeUndefined();
    expect(at('/o/*')).toBeUndefined();
  });

  it('"*" where one item lacks the rest of the path fails, never a partial array', () => {
    expect(at('/a/*/c')).toBeUndefined();
    expect(evaluateReferencePath({ l: [{ id: 'a' }, { other: 1 }] }, '/l/*/id', 10)).toBeUndefined();
  });

  it('a missing member fails', () => {
    expect(at('/nope')).toBeUndefined();
    expect(at('/o/nope')).toBeUndefined();
  });

  it('unescapes ~1 and ~0 in member names', () => {
    expect(at('/o/x~1y')).toBe(5);
    expect(at('/o/t~0')).toBe(6);
    expect(at('/o/x/y')).toBeUndefined();
  });

  it('indexes arrays; out of range fails', () => {
    expect(at('/a/1/b')).toEqual([3]);
    expect(at('/a/0/b/1')).toBe(2);
    expect(at('/a/5')).toBeUndefined();
  });

  it('refuses array indexes that are not canonical decimal', () => {
    for (const p of ['/a/01', '/a/-', '/a/-1', '/a/1.0', '/a/ 1', '/a/length', '/a/1e0']) expect(at(p), p).toBeUndefined();
  });

  it('a path to null resolves to null, not to a failure', () => {
    expect(at('/n')).toBeNull();
  });

  it('the empty path is the whole document', () => {
    expect(at('')).toBe(base);
  });

  it('a path without the leading "/" fails (strict)', () => {
    expect(at('a/0/b')).toBeUndefined();
    expect(at('s')).toBeUndefined();
  });

  it('a trailing slash names member "" and fails on a string', () => {
    expect(at('/s/')).toBeUndefined();
  });

  it('does not walk inherited properties', () => {
    for (const p of ['/constructor', '/o/toString', '/__proto__', '/s/length', '/a/length']) expect(at(p), p).toBeUndefined();
  });

  it('an own "__proto__" member is plain data', () => {
    const doc = JSON.parse('{"__proto__": {"v": 1}}') as JsonObject;
    expect(evaluateReferencePath(doc, '/__proto__/v', 10)).toBe(1);
  });

  it('a "*" expansion may produce at most maxItems items', () => {
    const doc: JsonObject = { l: [[1, 2], [3, 4], [5]] };
    expect(evaluateReferencePath(doc, '/l/*', 5)).toEqual([1, 2, 3, 4, 5]);
    expect(evaluateReferencePath(doc, '/l/*', 4)).toBeUndefined();
  });

  it('nested "*" counts each produced item once against maxItems', () => {
    const doc: JsonObject = { x: [{ y: [1, 2] }, { y: [3] }] };
    expect(evaluateReferencePath(doc, '/x/*/y/*', 3)).toEqual([1, 2, 3]);
    expect(evaluateReferencePath(doc, '/x/*/y/*', 2)).toBeUndefined();
  });

  it('bounds a deep tree of nested "*"', () => {
    // A binary tree 12 levels deep: 4096 leaves.
    const tree = (d: number): JsonObject => (d === 0 ? { v: [1] } : { c: [tree(d - 1), tree(d - 1)] });
    const path = `/c${'/*/c'.repeat(10)}/*/v`;
    expect(evaluateReferencePath(tree(12), path, 100)).toBeUndefined();
    expect(evaluateReferencePath(tree(2), '/c/*/c/*/v', 100)).toEqual([1, 1, 1, 1]);
  });
});

describe('evaluateReferencePath with large inputs', () => {
  it('refuses a "*" over an item array too large for maxItems without building it', () => {
    const doc: JsonObject = { l: [new Array<number>(500_000).fill(0)] };
    expect(evaluateReferencePath(doc, '/l/*', 1000)).toBeUndefined();
  });
});
