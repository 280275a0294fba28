import { describe, expect, it } from 'vitest';
import { MethodError } from '../../src/jmap/errors.js';
import { resolveReferences } from '../../src/jmap/references.js';
import type { Invocation, JsonObject, JsonValue } from '../../src/jmap/types.js';

// Earlier responses: an echo to point into, a query, a failed call and two calls sharing an id.
const echo: JsonObject = { a: [{ b: [1, 2] }, { b: [3] }], o: { 'x/y': 5, 't~': 6 }, s: 'str', n: null };
const responses: Invocation[] = [
  ['Core/echo', echo, 'c0'],
  ['x:ApiKey/query', { ids: ['a', 'b'] }, 'q'],
  ['error', { type: 'forbidden' }, 'bad'],
  ['x:ApiKey/get', { list: [{ id: 'first' }] }, 'dup'],
  ['x:ApiKey/get', { list: [{ id: 'second' }] }, 'dup'],
];
const ref = (resultOf: string, name: string, path: string): JsonObject => ({ resultOf, name, path });

function errorOf(fn: () => unknown): { type: string; description?: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof MethodError) return { type: err.type, description: err.description };
    throw err;
  }
  throw new Error('expected a MethodError');
}
const resolve = (args: JsonObject, maxItems = 100) => resolveReferences(args, responses, maxItems);

describe('resolveReferences (RFC 8620 §3.7)', () => {
  it('passes arguments without "#" through unchanged', () => {
    expect({ ...resolve({ accountId: 'A', ids: null }) }).toEqual({ accountId: 'A', ids: null });
  });

  it('replaces "#name" by the referenced value under "name"', () => {
    const out = resolve({ accountId: 'A', '#ids': ref('q', 'x:ApiKey/query', '/ids') });
    expect({ ...out }).toEqual({ accountId: 'A', ids: ['a', 'b'] });
    expect(Object.hasOwn(out, '#ids')).toBe(false);
  });

  it('resolves "*" paths, flattening one level', () => {
    expect(resolve({ '#v': ref('c0', 'Core/echo', '/a/*/b') }).v).toEqual([1, 2, 3]);
  });

  it('resolves escaped pointers, indexes, null and the whole document', () => {
    const out = resolve({
      '#x': ref('c0', 'Core/echo', '/o/x~1y'),
      '#t': ref('c0', 'Core/echo', '/o/t~0'),
      '#i': ref('c0', 'Core/echo', '/a/1/b'),
      '#n': ref('c0', 'Core/echo', '/n'),
      '#all': ref('c0', 'Core/echo', ''),
    });
    expect({ ...out }).toEqual({ x: 5, t: 6, i: [3], n: null, all: echo });
  });

  it('uses the first response when call ids repeat', () => {
    expect(resolve({ '#ids': ref('dup', 'x:ApiKey/get', '/list/*/id') }).ids).toEqual(['first']);
  });

  it('a reference to a failed call resolves only under the name "error"', () => {
    expect(resolve({ '#t': ref('bad', 'error', '/type') }).t).toBe('forbidden');
    expect(errorOf(() => resolve({ '#t': ref('bad', 'Core/echo', '/type') })).type).toBe('invalidResultReference');
  });

  it('refuses "foo" and "#foo" together with invalidArguments', () => {
    expect(errorOf(() => resolve({ ids: [], '#ids': ref('q', 'x:ApiKey/query', '/ids') })).type).toBe('invalidArguments');
  });

  const failures: [string, JsonValue][] = [
    ['resultOf names no earlier call', ref('nonexistent', 'Core/echo', '/s')],
    ['name differs from the response', ref('q', 'x:ApiKey/set', '/ids')],
    ['name differs only in case', ref('q', 'x:apikey/query', '/ids')],
    ['missing member', ref('c0', 'Core/echo', '/nope')],
    ['"*" on a non-array', ref('c0', 'Core/echo', '/s/*')],
    ['"*" with an item lacking the path', ref('c0', 'Core/echo', '/a/*/c')],
    ['index out of range', ref('c0', 'Core/echo', '/a/5')],
    ['path without the leading "/"', ref('c0', 'Core/echo', 'a/0/b')],
    ['trailing slash', ref('c0', 'Core/echo', '/s/')],
    ['not an object', 'c0'],
    ['null', null],
    ['an array', ['c0', 'Core/echo', '/s']],
    ['missing path', { resultOf: 'c0', name: 'Core/echo' }],
    ['missing name', { resultOf: 'c0', path: '/s' }],
    ['missing resultOf', { name: 'Core/echo', path: '/s' }],
    ['non-string path', { resultOf: 'c0', name: 'Core/echo', path: 1 }],
  ];
  for (const [title, value] of failures) {
    it(`refuses with invalidResultReference: ${title}`, () => {
      expect(errorOf(() => resolve({ '#v': value })).type).toBe('invalidResultReference');
    });
  }

  it('refuses a "*" expansion larger than maxItems', () => {
    expect(errorOf(() => resolve({ '#v': ref('c0', 'Core/echo', '/a/*/b') }, 2)).type).toBe('invalidResultReference');
    expect(resolve({ '#v': ref('c0', 'Core/echo', '/a/*/b') }, 3).v).toEqual([1, 2, 3]);
  });

  it('a later failing reference fails the whole call: nothing is returned', () => {
    expect(errorOf(() => resolve({ '#ids': ref('q', 'x:ApiKey/query', '/ids'), '#v': ref('c0', 'Core/echo', '/nope') })).type)
      .toBe('invalidResultReference');
  });

  it('clips a long client-supplied name in the description', () => {
    const { description } = errorOf(() => resolve({ '#v': ref('q', 'x'.repeat(10_000), '/ids') }));
    expect(description?.length).toBeLessThan(200);
  });

  it('returns a null-prototype object so "__proto__" stays plain data', () => {
    const args = JSON.parse('{"__proto__": {"polluted": true}, "#constructor": {"resultOf": "c0", "name": "Core/echo", "path": "/s"}}') as JsonObject;
    const out = resolve(args);
    expect(Object.getPrototypeOf(out)).toBeNull();
    expect(Object.hasOwn(out, '__proto__')).toBe(true);
    expect(out.constructor).toBe('str');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
