import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Store } from '../db/store.js';

/**
 * The server's Prometheus metrics, one registry per server (tests run several in one process). Labels hold route
 * patterns and fixed reason names only, never a login, an address or an id: their number stays bounded.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({ name: 'jmap_keys_http_requests_total', help: 'HTTP requests by route pattern and status', labelNames: ['method', 'route', 'status'], registers: [this.registry] });
  readonly latency = new Histogram({
    name: 'jmap_keys_http_request_duration_seconds', help: 'HTTP request latency by route pattern', labelNames: ['method', 'route'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [this.registry],
  });
  readonly auth = new Counter({ name: 'jmap_keys_auth_outcomes_total', help: 'Authentications by outcome (ok, refused) and reason', labelNames: ['outcome', 'reason'], registers: [this.registry] });
  readonly introspection = new Counter({ name: 'jmap_keys_introspection_verdicts_total', help: 'Introspection verdicts by mail service, verdict and reason', labelNames: ['service', 'verdict', 'reason'], registers: [this.registry] });
  readonly throttled = new Counter({ name: 'jmap_keys_throttle_refusals_total', help: 'Requests refused by the failed-authentication throttle or the REST rate limits', labelNames: ['limit'], registers: [this.registry] });
  readonly webhookDeliveries = new Counter({ name: 'jmap_keys_webhook_deliveries_total', help: 'Webhook delivery attempts by outcome (delivered, failed: retried later, abandoned: the last attempt failed)', labelNames: ['outcome'], registers: [this.registry] });
  readonly storeErrors = new Counter({ name: 'jmap_keys_store_errors_total', help: 'Store operations that failed (busy, readonly, full, io, cantopen)', labelNames: ['reason'], registers: [this.registry] });

  // prom-client hashes the label object on every inc/observe, also through labels() children (which only bind the
  // object): caching children per label set saved nothing measurable, so these call it directly.

  /** One answered request: counted by method, route and status, its latency by method and route. */
  request(method: string, route: string, status: number, seconds: number): void {
    this.requests.inc({ method, route, status: String(status) });
    this.latency.observe({ method, route }, seconds);
  }

  /** One introspection verdict (service is a known name, `other` or `none`). */
  verdict(service: string, verdict: 'active' | 'inactive', reason: string): void {
    this.introspection.inc({ service, verdict, reason });
  }

  /** One authentication: `ok`, or refused with its reason (a fixed set of names). */
  authOutcome(reason: string): void {
    this.auth.inc({ outcome: reason === 'ok' ? 'ok' : 'refused', reason });
  }

  constructor(store: Store) {
    const registry = this.registry;
    new Gauge({
      name: 'jmap_keys_credentials', help: 'Stored credentials by kind', labelNames: ['kind'], registers: [registry],
      async collect() {
        try {
          const totals = await store.credentialTotals();
          for (const [kind, n] of Object.entries(totals)) this.set({ kind }, n);
        } catch {
          // An unavailable store shows as missing samples and in jmap_keys_store_errors_total, not as a failed scrape.
        }
      },
    });
    new Gauge({
      name: 'jmap_keys_webhook_outbox', help: 'Webhook deliveries in the store by state (pending, delivered, failed: given up)', labelNames: ['state'], registers: [registry],
      async collect() {
        try {
          const backlog = await store.webhookBacklog();
          for (const [state, n] of Object.entries(backlog)) this.set({ state }, n);
        } catch {
          // as above
        }
      },
    });
    collectDefaultMetrics({ register: registry, prefix: 'jmap_keys_' });
  }
}
