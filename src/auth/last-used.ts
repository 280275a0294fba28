import type { Store } from '../db/store.js';

/**
 * Records when credentials authenticate, off the request path: uses are kept in memory and written
 * in one transaction per flush, and a key is written at most once per `granularity` seconds.
 */
export class LastUsedRecorder {
  private readonly pending = new Map<number, number>();
  private readonly written = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Store,
    private readonly flushMs: number,
    private readonly granularity = 60,
    /** A flush that failed (read-only or full database): reported, and its uses kept for the next flush. */
    private readonly onError: (error: unknown, count: number) => void = () => {},
  ) {}

  start(): void {
    this.timer = setInterval(() => { void this.flush().catch(() => {}); }, this.flushMs);
    this.timer.unref();
  }

  record(credentialId: number, at: number, previous: number | null): void {
    const last = this.written.get(credentialId) ?? previous ?? -Infinity;
    if (at - last < this.granularity) return;
    this.written.set(credentialId, at);
    this.pending.set(credentialId, at);
  }

  /** Writes what was recorded; a failed write puts the uses back for the next flush. */
  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = new Map(this.pending);
    this.pending.clear();
    try {
      await this.store.touchLastUsed(batch);
    } catch (err) {
      // Never thrown out of the timer (that would end the process); newer uses of the same key win.
      for (const [id, at] of batch) if (!this.pending.has(id)) this.pending.set(id, at);
      this.onError(err, batch.size);
      return;
    }
    if (this.written.size > 100_000) this.written.clear();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush().catch(() => {});
  }
}
