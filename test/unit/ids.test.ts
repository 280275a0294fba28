import { describe, expect, it } from 'vitest';
import { decodeId, encodeId } from '../../src/util/ids.js';

describe('encodeId / decodeId', () => {
  it('writes row numbers in base 26 with a-z', () => {
    expect(encodeId(0)).toBe('a');
    expect(encodeId(1)).toBe('b');
    expect(encodeId(25)).toBe('z');
    expect(encodeId(26)).toBe('ba');
    expect(encodeId(26 * 26)).toBe('baa');
  });

  it('round-trips, including the largest safe integer', () => {
    for (const n of [0, 1, 25, 26, 27, 675, 676, 123_456_789, Number.MAX_SAFE_INTEGER]) {
      expect(decodeId(encodeId(n)), String(n)).toBe(n);
    }
  });

  it('emits valid RFC 8620 §1.2 Ids that avoid the discouraged forms', () => {
    for (const n of [0, 1, 9, 10, 99, 1000, 9007, 2 ** 40, Number.MAX_SAFE_INTEGER]) {
      const id = encodeId(n);
      expect(id).toMatch(/^[A-Za-z0-9_-]{1,255}$/);
      expect(id).not.toMatch(/^[0-9-]/);
      expect(id).not.toMatch(/^[0-9]+$/);
    }
    expect(encodeId(Number.MAX_SAFE_INTEGER).length).toBeLessThanOrEqual(12);
  });

  it('has one spelling per number: leading "a" is refused', () => {
    expect(decodeId('a')).toBe(0);
    expect(decodeId('ab')).toBeUndefined();
    expect(decodeId('aa')).toBeUndefined();
  });

  it('refuses what encodeId cannot produce (invalid ids are simply not found)', () => {
    for (const id of ['', 'A', 'Ba', '1', 'b1', 'b-', 'b_', 'é', ' b', 'b ', 'z'.repeat(13), 'no such!']) {
      expect(decodeId(id), JSON.stringify(id)).toBeUndefined();
    }
  });

  it('refuses numbers beyond the safe integer range', () => {
    expect(decodeId('z'.repeat(12))).toBeUndefined();
    expect(decodeId(encodeId(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER);
  });
});

describe('encodeId against the letter-at-a-time definition', () => {
  const reference = (n: number): string => {
    let out = '';
    let v = n;
    do {
      out = 'abcdefghijklmnopqrstuvwxyz'[v % 26] + out;
      v = Math.floor(v / 26);
    } while (v > 0);
    return out;
  };

  it('agrees on every number up to 26^3 + 1 and around each power of 26', () => {
    for (let n = 0; n <= 26 ** 3 + 1; n++) expect(encodeId(n)).toBe(reference(n));
    for (let p = 4; p <= 11; p++) {
      for (const n of [26 ** p - 1, 26 ** p, 26 ** p + 1, 26 ** p * 7 + 675, 26 ** p * 25]) {
        if (Number.isSafeInteger(n)) expect(encodeId(n), String(n)).toBe(reference(n));
      }
    }
    expect(encodeId(Number.MAX_SAFE_INTEGER)).toBe(reference(Number.MAX_SAFE_INTEGER));
  });
});
