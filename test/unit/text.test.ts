import { describe, expect, it } from 'vitest';
import { isWellFormed } from '../../src/util/text.js';

describe('isWellFormed (I-JSON strings)', () => {
  it('accepts paired surrogates and plain text, refuses lone ones wherever they stand', () => {
    for (const ok of ['', 'plain', 'emoji \ud83d\ude00 inside', '\ud83d\ude00', 'é ü ß 中文']) expect(isWellFormed(ok)).toBe(true);
    for (const bad of ['\ud800', 'a\ud800', '\udc00b', 'x\ude00\ud83dy', '\ud83d\ud83d', 'end \ud83d']) expect(isWellFormed(bad)).toBe(false);
  });
});
