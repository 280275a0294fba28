import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { remoteAddress } from '../src/http/introspect.js';
import { createAccount } from './helpers/accounts.js';
import { basic, bearer, startTestServer, type TestServer } from './helpers/server.js';

let s: TestServer;
let internal: string;
let mailKey: { id: string; apiKey: string };
const alice = basic('alice', 'alice-password');

async function restCreate(auth: string, body: unknown): Promise<{ id: string; apiKey: string }> {
  const res = await fetch(`${s.url}/api/smtp-credentials`, { method: 'POST', headers: { Authorization: auth, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return res.json() as Promise<{ id: string; apiKey: string }>;
}

async function introspect(auth: string | null, form: Record<string, string>, headers: Record<string, string> = {}) {
  const h: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded', ...headers };
  if (auth) h.Authorization = auth;
  const res = await fetch(`${s.url}/internal/introspect`, { method: 'POST', headers: h, body: new URLSearchParams(form).toString() });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

beforeAll(async () => {
  s = await startTestServer({ JMAP_KEYS_REST_WRITES_PER_WINDOW: '1000' });
  await createAccount(s, 'alice', 'alice-password');
  internal = (await restCreate(bearer(s.adminToken), { name: 'dovecot', scopes: ['internal'] })).apiKey;
  mailKey = await restCreate(alice, { name: 'Thunderbird', scopes: ['imap', 'smtp'] });
});
afterAll(async () => { await s.stop(); });

describe('POST /internal/introspect (RFC 7662)', () => {
  it('needs a credential with the internal scope, by Basic or Bearer', async () => {
    for (const auth of [null, bearer(s.adminToken), basic('admin', 'admin-password-for-tests'), alice, basic('alice', mailKey.apiKey), bearer(mailKey.apiKey)]) {
      const res = await introspect(auth, { token: mailKey.apiKey });
      expect(res.status, String(auth)).toBe(401);
      expect(res.body.error).toBe('invalid_client');
      expect(res.headers.get('www-authenticate')).toContain('Basic');
    }
    expect((await introspect(basic('admin', internal), { token: mailKey.apiKey })).status).toBe(200);
    expect((await introspect(bearer(internal), { token: mailKey.apiKey })).status).toBe(200);
  });

  it('answers an active key with username, scope, client_id, token_type and exp', async () => {
    const res = await introspect(bearer(internal), { token: mailKey.apiKey, token_type_hint: 'access_token' }, { 'X-Dovecot-Auth-Service': 'imap', 'X-Dovecot-Auth-Remote': '127.0.0.1:50000' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(res.body).toEqual({ active: true, username: 'alice', scope: 'imap smtp', client_id: mailKey.id, token_type: 'Bearer' });
    const expiring = await s.api(alice, [['x:AppPassword/set', { create: { e: { description: 'e', expiresAt: '2099-01-01T00:00:00Z', permissions: { '@type': 'Replace', permissions: ['authenticate', 'pop3Authenticate'] } } } }, 'c']]);
    const e = expiring.body.methodResponses[0][1].created.e;
    const withExp = await introspect(bearer(internal), { token: e.secret }, { 'X-Dovecot-Auth-Service': 'pop3' });
    expect(withExp.body).toEqual({ active: true, username: 'alice', scope: 'pop3', client_id: e.id, token_type: 'Bearer', exp: 4070908800 });
  });

  it('says exactly {"active": false} for anything not good for this service, client and user', async () => {
    const api = await s.api(bearer(s.adminToken), [['x:ApiKey/set', { create: { k: { description: 'api key' } } }, 'c']]);
    const apiKey = api.body.methodResponses[0][1].created.k.secret;
    const restricted = await s.api(alice, [['x:AppPassword/set', { create: { r: { description: 'r', allowedIps: ['192.0.2.0/24'], permissions: { '@type': 'Replace', permissions: ['authenticate', 'imapAuthenticate'] } } } }, 'c']]);
    const r = restricted.body.methodResponses[0][1].created.r.secret;
    const cases: [Record<string, string>, Record<string, string>][] = [
      [{ token: 'rm_nope' }, {}],
      [{ token: `rm_${'A'.repeat(40)}` }, {}],
      [{ token: apiKey }, {}],
      [{ token: mailKey.apiKey }, { 'X-Dovecot-Auth-Service': 'pop3' }],
      [{ token: mailKey.apiKey }, { 'X-Dovecot-Auth-Service': 'sieve' }],
      [{ token: mailKey.apiKey, username: 'bob' }, { 'X-Dovecot-Auth-Service': 'imap' }],
      [{ token: r }, { 'X-Dovecot-Auth-Service': 'imap', 'X-Dovecot-Auth-Remote': '198.51.100.7:4000' }],
      [{ token: r }, { 'X-Dovecot-Auth-Service': 'imap' }],
      [{ token: 'x'.repeat(5000) }, {}],
    ];
    for (const [form, headers] of cases) {
      const res = await introspect(bearer(internal), form, headers);
      expect(res.status, JSON.stringify([form, headers]).slice(0, 200)).toBe(200);
      expect(res.body, JSON.stringify([form, headers]).slice(0, 200)).toEqual({ active: false });
    }
    const ok = await introspect(bearer(internal), { token: r }, { 'X-Dovecot-Auth-Service': 'imap', 'X-Dovecot-Auth-Remote': '192.0.2.9:4000' });
    expect(ok.body.active).toBe(true);
    const smtp = await introspect(bearer(internal), { token: mailKey.apiKey }, { 'X-Dovecot-Auth-Service': 'submission' });
    expect(smtp.body.active).toBe(true);
  });

  it('refuses a request without a form token', async () => {
    expect((await introspect(bearer(internal), {})).status).toBe(400);
    const json = await fetch(`${s.url}/internal/introspect`, { method: 'POST', headers: { Authorization: bearer(internal), 'Content-Type': 'application/json' }, body: '{"token":"x"}' });
    expect(json.status).toBe(400);
  });

  it('parses the mail client address Dovecot reports', () => {
    expect(remoteAddress('192.0.2.1:143')).toBe('192.0.2.1');
    expect(remoteAddress('[2001:db8::1]:143')).toBe('2001:db8::1');
    expect(remoteAddress('2001:db8::1')).toBe('2001:db8::1');
    expect(remoteAddress(undefined)).toBeUndefined();
  });
});
