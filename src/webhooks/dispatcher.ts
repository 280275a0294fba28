import { Webhook } from 'standardwebhooks';
import type { Store, WebhookDelivery } from '../db/store.js';
import type { Metrics } from '../http/metrics.js';
import { errorFields, type Logger } from '../log.js';
import { nowSeconds } from '../util/utcdate.js';
import { auditDelivery, EXPIRING_WITHIN, expiryDelivery, webhookTypeOf } from './events.js';

export interface WebhookSettings {
  url: string;
  /** whsec_<base64>: Standard Webhooks' symmetric secret. */
  secret: string;
  /** How often the outbox and the audit trail are looked at. */
  pollMs: number;
  /** The first retry's delay; each next one doubles (capped at MAX_DELAY). */
  retrySeconds: number;
}

/** The meta row holding the last audit event id turned into deliveries. */
export const AUDIT_CURSOR = 'webhooks.auditCursor';
const AUDIT_BATCH = 200;
const CLAIM_BATCH = 10;
/** A claim's lease: longer than an attempt can take (REQUEST_TIMEOUT), so a live claim is never taken over. */
const LEASE_SECONDS = 60;
const REQUEST_TIMEOUT_MS = 10_000;
const MAX_DELAY = 6 * 3600;
/** With the default 5 s first retry: about two days of attempts before one is given up. */
export const MAX_ATTEMPTS = 20;
const SCAN_EVERY_MS = 10 * 60 * 1000;
const PRUNE_EVERY_MS = 60 * 60 * 1000;
/** Settled deliveries are kept this long (for the backlog metric and an operator's look), then deleted. */
const KEEP_SETTLED = 7 * 86_400;

/** Seconds until attempt `n + 1` after `n` failed ones: doubling from `base`, capped, with ±20% jitter. */
export function retryDelay(base: number, failed: number): number {
  const plain = Math.min(MAX_DELAY, base * 2 ** Math.max(0, failed - 1));
  return Math.max(1, Math.round(plain * (0.8 + Math.random() * 0.4)));
}

/**
 * Sends change notifications from the outbox in the store, off the request path. Each tick: turns new audit events
 * into deliveries (the audit trail is the source of truth: an event recorded by any node, the CLI, or while no
 * server ran is picked up from the cursor), then claims due deliveries (atomically: on many nodes each goes to one)
 * and posts them, signed per Standard Webhooks. A failure is retried with backoff; nothing is lost across restarts.
 * Expiries are found by a periodic scan, each announced once (noted in the store).
 */
export class WebhookDispatcher {
  private readonly signer: Webhook;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private stopped = false;
  private lastScan = 0;
  private lastPrune = 0;
  private readonly inFlight = new Set<AbortController>();

  constructor(
    private readonly store: Store,
    private readonly settings: WebhookSettings,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {
    this.signer = new Webhook(settings.secret);
  }

  /**
   * Run before serving: on the first start with webhooks, the cursor begins at the current end of the trail (the
   * past is not replayed); afterwards it stays where delivery left off, stopped server or not.
   */
  async init(): Promise<void> {
    if (await this.store.getMeta(AUDIT_CURSOR) === undefined) {
      await this.store.setMeta(AUDIT_CURSOR, String(await this.store.maxAuditId({ accountId: null })));
    }
  }

  start(): void {
    this.timer = setInterval(() => { void this.tick(); }, this.settings.pollMs);
    this.timer.unref();
    setImmediate(() => { void this.tick(); });
  }

  /** One round; rounds never overlap. Resolves when it is done (tests and stop() wait for it). */
  tick(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.ticking ??= this.round().finally(() => { this.ticking = undefined; });
    return this.ticking;
  }

  private async round(): Promise<void> {
    try {
      await this.enqueueFromAudit();
      const now = Date.now();
      if (now - this.lastScan >= SCAN_EVERY_MS) {
        this.lastScan = now;
        await this.scanExpiries();
      }
      await this.deliverDue();
      if (now - this.lastPrune >= PRUNE_EVERY_MS) {
        this.lastPrune = now;
        await this.store.pruneWebhooks(nowSeconds() - KEEP_SETTLED, 500);
      }
    } catch (err) {
      if (!this.stopped) this.log.warn(errorFields(err), 'webhook round failed; retrying at the next one');
    }
  }

  /** New audit events after the cursor become deliveries. Idempotent (event ids are unique): a race only repeats work. */
  async enqueueFromAudit(): Promise<void> {
    for (;;) {
      const cursor = Number(await this.store.getMeta(AUDIT_CURSOR) ?? 0);
      const events = await this.store.auditAfter(cursor, AUDIT_BATCH);
      if (events.length === 0 || this.stopped) return;
      const logins = new Map<number, string | null>();
      const now = nowSeconds();
      const deliveries = [];
      for (const e of events) {
        const type = webhookTypeOf(e);
        if (!type) continue;
        if (e.accountId !== null && !logins.has(e.accountId)) logins.set(e.accountId, (await this.store.accountById(e.accountId))?.login ?? null);
        deliveries.push(auditDelivery(e, type, e.accountId === null ? null : logins.get(e.accountId) ?? null, now));
      }
      await this.store.enqueueWebhooks(deliveries);
      await this.store.setMeta(AUDIT_CURSOR, String(events[events.length - 1]!.id));
      if (events.length < AUDIT_BATCH) return;
    }
  }

  /** Credentials expiring within 7 days, and those expired (in the last 7 days): each announced once per expiry. */
  async scanExpiries(now = nowSeconds()): Promise<void> {
    const kinds = [
      ['expiring', now, now + EXPIRING_WITHIN],
      ['expired', now - EXPIRING_WITHIN, now],
    ] as const;
    for (const [topic, from, to] of kinds) {
      for (;;) {
        const due = await this.store.credentialsToWarn(topic, from, to, 100);
        for (const c of due) {
          const login = (await this.store.accountById(c.accountId))?.login ?? null;
          const type = topic === 'expiring' ? 'credential.expiring' : 'credential.expired';
          // Due now, whatever `now` the scan was asked about.
          await this.store.noteOnce({ credentialId: c.id, topic, value: String(c.expiresAt), at: now }, expiryDelivery(type, c, login, nowSeconds()));
        }
        if (due.length < 100 || this.stopped) break;
      }
    }
  }

  private async deliverDue(): Promise<void> {
    while (!this.stopped) {
      const now = nowSeconds();
      const claimed = await this.store.claimWebhooks(now, now + LEASE_SECONDS, CLAIM_BATCH);
      await Promise.all(claimed.map((d) => this.attempt(d)));
      if (claimed.length < CLAIM_BATCH) return;
    }
  }

  private async attempt(d: WebhookDelivery): Promise<void> {
    const abort = new AbortController();
    this.inFlight.add(abort);
    let status: number | null = null;
    let error = '';
    try {
      const at = new Date();
      const res = await fetch(this.settings.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json', 'user-agent': 'jmap-keys-webhooks',
          'webhook-id': d.eventId, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
          'webhook-signature': this.signer.sign(d.eventId, at, d.payload),
        },
        body: d.payload,
        redirect: 'manual',
        signal: AbortSignal.any([abort.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
      });
      status = res.status;
      await res.body?.cancel().catch(() => undefined);
      if (res.ok) {
        await this.store.settleWebhook(d.id, d.claimedUntil, { delivered: true, at: nowSeconds(), status });
        this.metrics.webhookDeliveries.inc({ outcome: 'delivered' });
        return;
      }
      error = `HTTP ${status}`;
    } catch (err) {
      if (this.stopped) {
        // Cut by stop(): handed back, due at once for the next start or another node.
        await this.store.settleWebhook(d.id, d.claimedUntil, { delivered: false, nextAttemptAt: nowSeconds(), status: null, error: 'stopped' });
        return;
      }
      error = errorFields(err).error;
    } finally {
      this.inFlight.delete(abort);
    }
    await this.failed(d, status, error);
  }

  private async failed(d: WebhookDelivery, status: number | null, error: string): Promise<void> {
    const attempts = d.attempts + 1;
    const giveUp = attempts >= MAX_ATTEMPTS;
    const delay = retryDelay(this.settings.retrySeconds, attempts);
    await this.store.settleWebhook(d.id, d.claimedUntil, { delivered: false, nextAttemptAt: giveUp ? null : nowSeconds() + delay, status, error });
    this.metrics.webhookDeliveries.inc({ outcome: giveUp ? 'abandoned' : 'failed' });
    const fields = { webhookId: d.eventId, type: d.type, status, error, attempts };
    if (giveUp) this.log.error(fields, 'webhook delivery abandoned after its last attempt');
    else this.log.warn({ ...fields, retryInSeconds: delay }, 'webhook delivery failed; will retry');
  }

  /** Stops the rounds; attempts in flight are cut and handed back (sent again at the next start or by another node). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const abort of this.inFlight) abort.abort();
    await this.ticking;
  }
}
