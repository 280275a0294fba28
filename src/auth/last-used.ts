import type { CredentialUse, Store } from '../db/store.js';

/** The stored last use of a credential, as read with its row. */
export interface StoredUse {
  lastUsedAt: number | null;
  lastUsedFrom: string | null;
  lastUsedService: string | null;
}

/**
 * Records when, from where and for what credentials authenticate, off the request path: uses are kept in memory
 * and written in one transaction per flush. A key is written at most once per `granularity` seconds while it is
 * used from the same address for the same service; a use from elsewhere or for another service is written at the
 * next flush, so the stored address and service are always those of the newest use.
 */
export class LastUsedRecorder {
  private readonly pending = new Map<number, CredentialUse>();
  private readonly written = new Map<number, CredentialUse>();
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

  record(credentialId: number, use: CredentialUse, stored: StoredUse): void {
    const last = this.written.get(credentialId)
      ?? (stored.lastUsedAt === null ? undefined : { at: stored.lastUsedAt, from: stored.lastUsedFrom, service: stored.lastUsedService });
    if (last && use.at - last.at < this.granularity && use.from === last.from && use.service === last.service) return;
    this.written.set(credentialId, use);
    this.pending.set(credentialId, use);
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
      for (const [id, use] of batch) if (!this.pending.has(id)) this.pending.set(id, use);
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
