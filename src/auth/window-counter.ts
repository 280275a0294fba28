/**
 * Fixed-window counters keyed by string (client address, account…): the building block of the failed-login
 * throttle and the REST rate limits. Bounded: past `maxKeys`, expired windows are dropped first, then the oldest.
 */
export class WindowCounter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  constructor(private readonly windowMs: number, private readonly maxKeys = 100_000) {}

  /** Count so far in the current window and seconds until it resets (0 when no window is open). */
  peek(key: string, now = Date.now()): { count: number; retryAfter: number } {
    const w = this.windows.get(key);
    if (!w || w.resetAt <= now) return { count: 0, retryAfter: 0 };
    return { count: w.count, retryAfter: Math.max(1, Math.ceil((w.resetAt - now) / 1000)) };
  }

  /** Adds one to the key's window (opening one if needed) and returns the new count. */
  hit(key: string, now = Date.now()): number {
    let w = this.windows.get(key);
    if (!w || w.resetAt <= now) {
      if (this.windows.size >= this.maxKeys) this.prune(now);
      w = { count: 0, resetAt: now + this.windowMs };
      this.windows.set(key, w);
    }
    return ++w.count;
  }

  private prune(now: number): void {
    for (const [k, w] of this.windows) if (w.resetAt <= now) this.windows.delete(k);
    for (const k of this.windows.keys()) {
      if (this.windows.size < this.maxKeys) break;
      this.windows.delete(k);
    }
  }
}
