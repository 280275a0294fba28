import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * Credential secrets, as spec/secret-format.md publishes them: `<prefix><body><checksum>`.
 * - body: 40 base62 characters (0-9A-Za-z): a 12-character locator, public and indexed so that verification is one
 *   lookup, then 28 characters (166 bits) that never leave the response that creates the secret;
 * - checksum: the CRC32 (IEEE) of everything before it, prefix included, in 6 base62 characters, left-padded with
 *   '0': a secret scanner (or this server) tells a real secret from a typo or a look-alike offline.
 * Only HMAC-SHA256(server key, whole token) is stored.
 * Secrets issued before the checksum, `<prefix><locator 12><secret 28>` in base64url, keep working.
 */
export const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const LOCATOR_CHARS = 12;
const SECRET_CHARS = 28;
const BODY_CHARS = LOCATOR_CHARS + SECRET_CHARS;
const CHECKSUM_CHARS = 6;
const BODY = new RegExp(`^[0-9A-Za-z]{${BODY_CHARS + CHECKSUM_CHARS}}$`);
/** The format before the checksum: 9 + 21 random bytes in base64url. */
const LEGACY_BODY = /^[A-Za-z0-9_-]{40}$/;
/** The largest multiple of 62 a byte can hold: bytes from here on are dropped, so every character is equally likely. */
const UNBIASED_LIMIT = 256 - (256 % 62);

export const PREFIXES = { apiKey: 'API_', appPassword: 'rm_' } as const;
export type TokenKind = keyof typeof PREFIXES;

export interface IssuedToken {
  token: string;
  locator: string;
  hash: Buffer;
}

/**
 * Uniformly random base62 characters (rejection sampling: no modulo bias), drawn from `chunk`-byte calls to
 * randomBytes: each call costs about 3.5 µs, more than the rest of issuing a key, so a batch of keys shares a few.
 */
class RandomBase62 {
  private bytes: Buffer;
  private at = 0;

  constructor(private readonly chunk: number) {
    this.bytes = randomBytes(chunk);
  }

  take(n: number): string {
    let out = '';
    while (out.length < n) {
      if (this.at === this.bytes.length) {
        this.bytes = randomBytes(this.chunk);
        this.at = 0;
      }
      const byte = this.bytes[this.at++]!;
      if (byte < UNBIASED_LIMIT) out += BASE62[byte % 62];
    }
    return out;
  }
}

/** Bytes per token body drawn at once: 40 characters need 41.3 bytes on average (1 byte in 31 is dropped). */
const BYTES_PER_BODY = BODY_CHARS + 8;

/** The 6-character checksum of `text`: its CRC32 in base62, most significant digit first, left-padded with '0'. */
export function checksum(text: string): string {
  let n = crc32(text);
  let out = '';
  for (let i = 0; i < CHECKSUM_CHARS; i++) {
    out = BASE62[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

export class TokenHasher {
  constructor(private readonly key: Buffer) {}

  hash(token: string): Buffer {
    return createHmac('sha256', this.key).update(token).digest();
  }

  issue(kind: TokenKind): IssuedToken {
    return this.issueFrom(kind, new RandomBase62(BYTES_PER_BODY));
  }

  /** `count` new tokens of one kind (a /set's creates), from a few draws of random bytes instead of one each. */
  issueMany(kind: TokenKind, count: number): IssuedToken[] {
    const random = new RandomBase62(Math.min(count, 256) * BYTES_PER_BODY);
    return Array.from({ length: count }, () => this.issueFrom(kind, random));
  }

  private issueFrom(kind: TokenKind, random: RandomBase62): IssuedToken {
    const body = random.take(BODY_CHARS);
    const unchecked = `${PREFIXES[kind]}${body}`;
    const token = `${unchecked}${checksum(unchecked)}`;
    return { token, locator: body.slice(0, LOCATOR_CHARS), hash: this.hash(token) };
  }

  /** Constant-time comparison of a presented token with a stored hash. */
  matches(token: string, stored: Buffer): boolean {
    const actual = this.hash(token);
    return actual.length === stored.length && timingSafeEqual(actual, stored);
  }
}

/** The kind whose prefix the token carries, and the rest of it. */
function split(token: string): { kind: TokenKind; body: string } | undefined {
  for (const kind of Object.keys(PREFIXES) as TokenKind[]) {
    if (token.startsWith(PREFIXES[kind])) return { kind, body: token.slice(PREFIXES[kind].length) };
  }
  return undefined;
}

/**
 * The kind of credential this string is shaped as (prefix, length and alphabet of either format), checksum not
 * checked: what tells an app password from an account password inside HTTP Basic.
 */
export function tokenShape(token: string): TokenKind | undefined {
  const parts = split(token);
  return parts && (BODY.test(parts.body) || LEGACY_BODY.test(parts.body)) ? parts.kind : undefined;
}

/**
 * Splits a presented token into kind and locator; undefined when it has no valid shape or its checksum fails, so
 * a mistyped or made-up token is refused without a lookup.
 */
export function parseToken(token: string): { kind: TokenKind; locator: string } | undefined {
  const parts = split(token);
  if (!parts) return undefined;
  const { kind, body } = parts;
  if (LEGACY_BODY.test(body)) return { kind, locator: body.slice(0, LOCATOR_CHARS) };
  if (!BODY.test(body)) return undefined;
  const cut = token.length - CHECKSUM_CHARS;
  return checksum(token.slice(0, cut)) === token.slice(cut) ? { kind, locator: body.slice(0, LOCATOR_CHARS) } : undefined;
}
