import { WindowCounter } from './window-counter.js';

/**
 * Counts failed authentications per client address; past the limit the address gets 429 with
 * Retry-After until the window ends (a fail2ban in miniature).
 */
export class FailureThrottle {
  private readonly counter: WindowCounter;

  constructor(private readonly maxFailures: number, windowMs: number) {
    this.counter = new WindowCounter(windowMs);
  }

  /** Seconds until the address may try again, or 0 when it is not blocked. */
  blockedFor(address: string): number {
    const { count, retryAfter } = this.counter.peek(address);
    return count >= this.maxFailures ? retryAfter : 0;
  }

  recordFailure(address: string): void {
    this.counter.hit(address);
  }
}

/** Per-key request limits (e.g. per account and per address), checked before the work is done. */
export class RateLimit {
  private readonly counter: WindowCounter;

  constructor(private readonly max: number, windowMs: number) {
    this.counter = new WindowCounter(windowMs);
  }

  /** Counts one request for every key; returns seconds to wait if any key is over the limit, else 0. */
  take(keys: readonly string[]): number {
    let wait = 0;
    for (const key of keys) {
      if (this.counter.hit(key) > this.max) wait = Math.max(wait, this.counter.peek(key).retryAfter);
    }
    return wait;
  }
}
