/**
 * Record ids on the wire: a row number written in base 26 with the letters a-z (0 → "a", 26 → "ba").
 * Letters only, so ids never start with a digit or read as numbers (RFC 8620 §1.2 advice),
 * and they stay short and URL-safe.
 */
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz';
const MAX_ID_LENGTH = 12;

export function encodeId(n: number): string {
  let out = '';
  let v = n;
  do {
    out = ALPHABET[v % 26] + out;
    v = Math.floor(v / 26);
  } while (v > 0);
  return out;
}

/** Inverse of encodeId; undefined for anything encodeId cannot produce. */
export function decodeId(id: string): number | undefined {
  if (id.length === 0 || id.length > MAX_ID_LENGTH || !/^[a-z]+$/.test(id)) return undefined;
  if (id.length > 1 && id[0] === 'a') return undefined; // no leading zeros: one spelling per number
  let v = 0;
  for (const ch of id) v = v * 26 + (ch.charCodeAt(0) - 97);
  return Number.isSafeInteger(v) ? v : undefined;
}
