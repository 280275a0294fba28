/**
 * Counts failed authentications per client address in a fixed window; past the limit the address
 * gets 429 with Retry-After until the window ends (a fail2ban in miniature).
 */
export class FailureThrottle {
  private readonly windows = new Map<string, { failures: number; resetAt: number }>();

  constructor(private readonly maxFailures: number, private readonly windowMs: number, private readonly maxTracked = 100_000) {}

  /** Seconds until the address may try again, or 0 when it is not blocked. */
  blockedFor(address: string, now = Date.now()): number {
    const w = this.windows.get(address);
    if (!w || w.resetAt <= now) return 0;
    return w.failures >= this.maxFailures ? Math.ceil((w.resetAt - now) / 1000) : 0;
  }

  recordFailure(address: string, now = Date.now()): void {
    let w = this.windows.get(address);
    if (!w || w.resetAt <= now) {
      if (this.windows.size >= this.maxTracked) this.prune(now);
      w = { failures: 0, resetAt: now + this.windowMs };
      this.windows.set(address, w);
    }
    w.failures++;
  }

  private prune(now: number): void {
    for (const [k, w] of this.windows) if (w.resetAt <= now) this.windows.delete(k);
    // Still full: forget the oldest entries rather than grow without bound.
    for (const k of this.windows.keys()) {
      if (this.windows.size < this.maxTracked) break;
      this.windows.delete(k);
    }
  }
}
