import { describe, expect, it } from 'vitest';
import { applyPatch } from '../../src/jmap/patch.js';
import type { JsonObject } from '../../src/jmap/types.js';

const record = (): JsonObject => ({
  description: 'CI',
  expiresAt: '2030-01-01T00:00:00Z',
  allowedIps: { '10.0.0.1': true },
  permissions: { '@type': 'Inherit' },
  list: ['a', 'b'],
});

function ok(target: JsonObject, patch: JsonObject): JsonObject {
  const r = applyPatch(target, patch);
  if (!r.ok) throw new Error(`expected success, got ${JSON.stringify(r.error)}`);
  return r.value;
}

describe('applyPatch (RFC 8620 §5.3 PatchObject)', () => {
  it('replaces a top-level property and leaves the others alone', () => {
    const out = ok(record(), { description: 'new' });
    expect(out).toEqual({ ...record(), description: 'new' });
  });

  it('keeps a top-level null (the object type decides what it means)', () => {
    const out = ok(record(), { expiresAt: null });
    expect(Object.hasOwn(out, 'expiresAt')).toBe(true);
    expect(out.expiresAt).toBeNull();
  });

  it('adds and removes a member of a nested map, unescaping ~1 as "/"', () => {
    const added = ok(record(), { 'allowedIps/10.0.0.0~18': true });
    expect(added.allowedIps).toEqual({ '10.0.0.1': true, '10.0.0.0/8': true });
    const removed = ok(added, { 'allowedIps/10.0.0.0~18': null });
    expect(removed.allowedIps).toEqual({ '10.0.0.1': true });
  });

  it('unescapes ~0 as "~", and "~01" as "~1" (RFC 6901 order)', () => {
    const out = ok({ m: {} }, { 'm/a~0b': 1, 'm/~01': 2 });
    expect(out.m).toEqual({ 'a~b': 1, '~1': 2 });
  });

  it('removing an absent nested member is a no-op', () => {
    const out = ok(record(), { 'allowedIps/192.0.2.1': null });
    expect(out.allowedIps).toEqual({ '10.0.0.1': true });
  });

  it('sets a nested member below an existing object', () => {
    const out = ok(record(), { 'permissions/@type': 'Replace' });
    expect(out.permissions).toEqual({ '@type': 'Replace' });
  });

  it('never mutates the target', () => {
    const target = record();
    ok(target, { description: 'x', 'allowedIps/10.0.0.2': true, 'allowedIps/10.0.0.1': null });
    expect(target).toEqual(record());
  });

  it('an empty patch returns an equal copy', () => {
    const target = record();
    const out = ok(target, {});
    expect(out).toEqual(target);
    expect(out).not.toBe(target);
  });

  it('refuses a path that is a prefix of another, naming the longer one', () => {
    const r = applyPatch(record(), { permissions: { '@type': 'Inherit' }, 'permissions/@type': 'Inherit' });
    expect(r).toEqual({ ok: false, error: { type: 'invalidPatch', description: 'Patch paths overlap', properties: ['permissions/@type'] } });
  });

  it('finds an overlap whatever other keys sort between the two', () => {
    for (const patch of [
      { a: {}, 'a+b': 1, 'a/c': 1 },
      { 'a/c': 1, 'a.b': 1, a: {}, 'a0': 1, 'a/b/c': 1 },
      { 'm/x/y': 1, 'm/w': 1, 'm/x~1y': 1, 'm/x': {} },
      { 'z/y': 1, 'm/a': 1, 'm/b/c': 1, 'm/b': {} },
    ] as JsonObject[]) {
      const r = applyPatch({ a: {}, m: { x: {}, b: {} }, z: {} }, patch);
      expect(r.ok, JSON.stringify(patch)).toBe(false);
      if (!r.ok) expect(r.error.description).toBe('Patch paths overlap');
    }
  });

  it('reports the longer of two overlapping paths', () => {
    const r = applyPatch({ m: { b: {} } }, { 'm/b/c': 1, 'm/b': {} });
    expect(r.ok ? [] : r.error.properties).toEqual(['m/b/c']);
  });

  it('accepts many non-overlapping paths', () => {
    const patch: JsonObject = {};
    for (let i = 0; i < 3000; i++) patch[`allowedIps/10.0.${i >> 8}.${i & 255}`] = true;
    const out = ok({ allowedIps: {} }, patch);
    expect(Object.keys(out.allowedIps as JsonObject)).toHaveLength(3000);
  });

  it('two keys that only share a leading string are not overlapping', () => {
    const out = ok({ a: 1, ab: { c: 1 } }, { a: 2, 'ab/c': 3 });
    expect(out).toEqual({ a: 2, ab: { c: 3 } });
  });

  it('refuses a path whose parent does not exist', () => {
    const r = applyPatch(record(), { 'nosuch/child': 1 });
    expect(r).toEqual({ ok: false, error: { type: 'invalidPatch', description: 'Invalid JSON Pointer path', properties: ['nosuch/child'] } });
  });

  it('refuses a path whose parent is null or a scalar', () => {
    expect(applyPatch({ a: null }, { 'a/b': 1 }).ok).toBe(false);
    expect(applyPatch(record(), { 'description/x': 1 }).ok).toBe(false);
  });

  it('refuses a path into an array: arrays are replaced whole', () => {
    const r = applyPatch(record(), { 'list/0': 'z' });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.type).toBe('invalidPatch');
    expect(ok(record(), { list: ['z'] }).list).toEqual(['z']);
  });

  it('refuses empty tokens ("", "a//b", trailing slash)', () => {
    for (const key of ['', 'allowedIps//x', 'allowedIps/', '/allowedIps']) {
      const r = applyPatch(record(), { [key]: true });
      expect(r.ok, key).toBe(false);
    }
  });

  it('only walks own properties: "constructor/x" has no parent', () => {
    expect(applyPatch({}, { 'constructor/x': 1 }).ok).toBe(false);
    expect(applyPatch({}, { 'toString/x': 1 }).ok).toBe(false);
  });

  it('stores "__proto__" as plain data, never touching a prototype', () => {
    const patch = JSON.parse('{"__proto__": {"polluted": true}, "m/__proto__": {"polluted": true}}') as JsonObject;
    const out = ok({ m: {} }, patch);
    expect(Object.hasOwn(out, '__proto__')).toBe(true);
    expect(Object.hasOwn(out.m as JsonObject, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(out.m)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
