import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from './helpers/accounts.js';
import { basic, bearer, startTestServer, type TestServer } from './helpers/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ JMAP_KEYS_REST_WRITES_PER_WINDOW: '1000' });
  await createAccount(s, 'alice', 'alice-password');
});
afterAll(async () => { await s.stop(); });

/** Prometheus text format → samples keyed by `name{labels}` (labels as printed). */
function parse(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    expect(m, line).not.toBeNull();
    samples.set(m?.[1] as string, Number(m?.[2]));
  }
  return samples;
}

const scrape = (auth?: string) => fetch(`${s.url}/metrics`, { headers: auth ? { Authorization: auth } : {} });

describe('GET /metrics', () => {
  it('needs an admin or a credential with the internal scope', async () => {
    expect((await scrape()).status).toBe(401);
    expect((await scrape(basic('alice', 'alice-password'))).status).toBe(403);
    const res = await fetch(`${s.url}/api/smtp-credentials`, { method: 'POST', headers: { Authorization: bearer(s.adminToken), 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'prometheus', scopes: ['internal'] }) });
    const internal = (await res.json()).apiKey as string;
    expect((await scrape(bearer(internal))).status).toBe(200);
    expect((await scrape(basic('admin', internal))).status).toBe(200);
    expect((await scrape(bearer(s.adminToken))).status).toBe(200);
  });

  it('counts requests, latencies, authentication outcomes, verdicts, throttling, credentials and the process', async () => {
    await s.api(bearer(s.adminToken), [['x:ApiKey/set', { create: { a: { description: 'a' }, b: { description: 'b' } } }, '0']]);
    await fetch(`${s.url}/jmap/session`, { headers: { Authorization: 'Bearer API_nothing' } });
    await fetch(`${s.url}/jmap/session`, { headers: { Authorization: basic('alice', 'wrong-password') } });
    await fetch(`${s.url}/no/such/route`);
    const res = await scrape(bearer(s.adminToken));
    expect(res.headers.get('content-type')).toContain('text/plain');
    const m = parse(await res.text());
    expect(m.get('jmap_keys_http_requests_total{method="POST",route="/api",status="200"}')).toBeGreaterThanOrEqual(1);
    expect(m.get('jmap_keys_http_requests_total{method="GET",route="/jmap/session",status="401"}')).toBe(2);
    expect(m.get('jmap_keys_http_requests_total{method="GET",route="unmatched",status="404"}')).toBe(1);
    expect(m.get('jmap_keys_http_request_duration_seconds_count{method="POST",route="/api"}')).toBeGreaterThanOrEqual(1);
    expect(m.has('jmap_keys_http_request_duration_seconds_bucket{le="0.005",method="POST",route="/api"}')).toBe(true);
    expect(m.get('jmap_keys_auth_outcomes_total{outcome="refused",reason="malformed"}')).toBe(1);
    expect(m.get('jmap_keys_auth_outcomes_total{outcome="refused",reason="bad-password"}')).toBe(1);
    expect(m.get('jmap_keys_auth_outcomes_total{outcome="ok",reason="ok"}')).toBeGreaterThanOrEqual(3);
    // Bootstrap key + a + b, the internal app password.
    expect(m.get('jmap_keys_credentials{kind="apiKey"}')).toBe(3);
    expect(m.get('jmap_keys_credentials{kind="appPassword"}')).toBe(1);
    expect(m.get('jmap_keys_process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(m.has('jmap_keys_nodejs_eventloop_lag_seconds')).toBe(true);
    // No label carries a login, an address or a secret.
    const text = [...m.keys()].join('\n');
    expect(text).not.toContain('alice');
    expect(text).not.toContain('127.0.0.1');
  });

  it('counts introspection verdicts by service and reason, and throttle refusals', async () => {
    const mk = async (scopes: string[]) => (await (await fetch(`${s.url}/api/smtp-credentials`, { method: 'POST', headers: { Authorization: bearer(s.adminToken), 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'x', scopes }) })).json()).apiKey as string;
    const internal = await mk(['internal']);
    const mail = await mk(['imap']);
    const introspect = (service: string) => fetch(`${s.url}/internal/introspect`, {
      method: 'POST', headers: { Authorization: bearer(internal), 'Content-Type': 'application/x-www-form-urlencoded', 'X-Dovecot-Auth-Service': service },
      body: new URLSearchParams({ token: mail }).toString(),
    });
    await introspect('imap');
    await introspect('smtp');
    const strict = await startTestServer({ JMAP_KEYS_AUTH_MAX_FAILURES: '2' });
    try {
      for (let i = 0; i < 3; i++) await fetch(`${strict.url}/jmap/session`, { headers: { Authorization: 'Bearer API_nothing' } });
      // The address is blocked for guesses now; a valid credential is never throttled (scrapes keep working).
      expect((await fetch(`${strict.url}/jmap/session`, { headers: { Authorization: 'Bearer API_nothing' } })).status).toBe(429);
      expect((await fetch(`${strict.url}/metrics`, { headers: { Authorization: bearer(strict.adminToken) } })).status).toBe(200);
      const t = parse(await strict.services.metrics.registry.metrics());
      expect(t.get('jmap_keys_throttle_refusals_total{limit="auth"}')).toBeGreaterThanOrEqual(1);
      expect(t.get('jmap_keys_auth_outcomes_total{outcome="refused",reason="throttled"}')).toBeGreaterThanOrEqual(1);
    } finally {
      await strict.stop();
    }
    const m = parse(await (await scrape(bearer(s.adminToken))).text());
    expect(m.get('jmap_keys_introspection_verdicts_total{service="imap",verdict="active",reason="ok"}')).toBe(1);
    expect(m.get('jmap_keys_introspection_verdicts_total{service="smtp",verdict="inactive",reason="scope"}')).toBe(1);
  });
});

describe('health', () => {
  it('/healthz says the process answers, /readyz that it is bootstrapped and the store answers', async () => {
    expect(await (await fetch(`${s.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${s.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
  });
});
