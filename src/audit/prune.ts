import type { Store } from '../db/store.js';
import { errorFields, type Logger } from '../log.js';
import { nowSeconds } from '../util/utcdate.js';

const HOUR_MS = 60 * 60 * 1000;
/** Rows deleted per statement: each batch is a short transaction, and requests run between batches. */
const BATCH = 500;

/** Deletes audit events older than the retention, in small batches off the request path (hourly, and soon after start). */
export class AuditPruner {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private stopped = false;

  constructor(private readonly store: Store, private readonly retentionDays: number, private readonly log: Logger) {}

  start(): void {
    this.timer = setInterval(() => void this.prune(), HOUR_MS);
    this.timer.unref();
    setTimeout(() => void this.prune(), 5_000).unref();
  }

  /** Resolves with the number of events deleted. */
  async prune(now = nowSeconds()): Promise<number> {
    if (this.running || this.stopped) return 0;
    this.running = true;
    let total = 0;
    try {
      const before = now - this.retentionDays * 86_400;
      for (;;) {
        const n = await this.store.pruneAudit(before, BATCH);
        total += n;
        if (n < BATCH || this.stopped) break;
        await new Promise((r) => setImmediate(r)); // let waiting requests run
      }
      if (total > 0) this.log.info({ deleted: total, retentionDays: this.retentionDays }, 'pruned old audit events');
    } catch (err) {
      this.log.warn(errorFields(err), 'audit pruning failed; retrying in an hour');
    } finally {
      this.running = false;
    }
    return total;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }
}
