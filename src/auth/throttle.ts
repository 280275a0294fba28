import { createHash } from 'node:crypto';
import type { Store } from '../db/store.js';
import { parseClientAddress } from './ipmask.js';

/**
 * Fixed-window counters kept in the store (table window_counters), so every node sharing the database counts
 * together: the failed-authentication throttle and the REST rate limits both stand on them.
 */
export class WindowCounters {
  private hits = 0;

  constructor(private readonly store: Store, private readonly windowMs: number) {}

  /** Count so far in the key's open window and seconds until it resets (0 when none is open). */
  async peek(key: string, now = Date.now()): Promise<{ count: number; retryAfter: number }> {
    const { count, resetAt } = await this.store.peekCounter(key, now);
    return { count, retryAfter: count === 0 ? 0 : secondsUntil(resetAt, now) };
  }

  /** Adds one to the key's window (opening one if needed): the new count and seconds until it resets. */
  async hit(key: string, now = Date.now()): Promise<{ count: number; retryAfter: number }> {
    return (await this.hitAll([key], now))[0]!;
  }

  /** `hit` for several keys at once (one store call, one commit). */
  async hitAll(keys: readonly string[], now = Date.now()): Promise<{ count: number; retryAfter: number }[]> {
    // Expired windows are swept now and then, so the table stays the size of the live windows.
    this.hits += keys.length;
    if (this.hits % 1000 < keys.length) await this.store.pruneCounters(now);
    const hits = await this.store.hitCounters(keys, this.windowMs, now);
    return hits.map(({ count, resetAt }) => ({ count, retryAfter: secondsUntil(resetAt, now) }));
  }
}

const secondsUntil = (resetAt: number, now: number) => Math.max(1, Math.ceil((resetAt - now) / 1000));

/**
 * The bucket a client address is counted in: an IPv4 address itself, an IPv6 address's network of
 * `ipv6Prefix` bits (one customer usually holds a whole /64, so counting single addresses would let it guess
 * forever). IPv4-mapped IPv6 addresses count as IPv4.
 */
export function addressBucket(address: string | undefined, ipv6Prefix: number): string {
  const parsed = address === undefined ? undefined : parseClientAddress(address);
  if (!parsed) return 'unknown';
  if (parsed.kind() === 'ipv4') return parsed.toString();
  const bytes = parsed.toByteArray();
  for (let bit = ipv6Prefix; bit < 128; bit++) bytes[bit >> 3] = (bytes[bit >> 3] as number) & ~(0x80 >> (bit & 7));
  return `${Buffer.from(bytes).toString('hex')}/${ipv6Prefix}`;
}

/**
 * Failed authentications, counted so that nobody can use them against someone else (a fail2ban in miniature):
 * - account-password failures per (address bucket, login): one login's failures never block another login;
 * - unknown-token guesses per address bucket. A valid token is never refused by the throttle (the caller checks
 *   it first): 160+ random bits cannot be guessed, and refusing it would let one guesser lock out everyone
 *   behind the same address.
 * Past `maxFailures` in a window, that bucket gets 429 with Retry-After until the window ends.
 */
export class FailureThrottle {
  private readonly counters: WindowCounters;

  constructor(store: Store, private readonly maxFailures: number, windowMs: number, private readonly ipv6Prefix = 64) {
    this.counters = new WindowCounters(store, windowMs);
  }

  private passwordKey(address: string | undefined, login: string): string {
    // Hashed: a login in a Basic header may be anything, of any length.
    const who = createHash('sha256').update(login).digest('base64url').slice(0, 22);
    return `pw:${addressBucket(address, this.ipv6Prefix)}:${who}`;
  }

  private tokenKey(address: string | undefined): string {
    return `tok:${addressBucket(address, this.ipv6Prefix)}`;
  }

  /** Seconds until this login may be tried again from this address, or 0. */
  passwordBlockedFor(address: string | undefined, login: string): Promise<number> {
    return this.blockedFor(this.passwordKey(address, login));
  }

  async recordPasswordFailure(address: string | undefined, login: string): Promise<void> {
    await this.counters.hit(this.passwordKey(address, login));
  }

  /** Seconds until unknown tokens from this address are looked at again, or 0. */
  tokenBlockedFor(address: string | undefined): Promise<number> {
    return this.blockedFor(this.tokenKey(address));
  }

  async recordTokenFailure(address: string | undefined): Promise<void> {
    await this.counters.hit(this.tokenKey(address));
  }

  private async blockedFor(key: string): Promise<number> {
    const { count, retryAfter } = await this.counters.peek(key);
    return count >= this.maxFailures ? retryAfter : 0;
  }
}

/** Per-key request limits (e.g. per account and per address), checked before the work is done; shared by nodes. */
export class RateLimit {
  private readonly counters: WindowCounters;

  constructor(store: Store, private readonly prefix: string, private readonly max: number, windowMs: number) {
    this.counters = new WindowCounters(store, windowMs);
  }

  /** Counts one request for every key; returns seconds to wait if any key is over the limit, else 0. */
  async take(keys: readonly string[]): Promise<number> {
    let wait = 0;
    for (const { count, retryAfter } of await this.counters.hitAll(keys.map((key) => `${this.prefix}:${key}`))) {
      if (count > this.max) wait = Math.max(wait, retryAfter);
    }
    return wait;
  }
}
