import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from './helpers/accounts.js';
import { basic, bearer, startTestServer, type TestServer } from './helpers/server.js';

/**
 * Usage fields (lastUsedAt, lastUsedFrom, lastUsedService) over plain HTTP against the real server. The test talks
 * through a "proxy" (127.0.0.1 is trusted, X-Forwarded-For names the client), so each use comes from an address
 * of its own.
 */
let s: TestServer;
const alice = basic('alice', 'alice-password');
let internal: string;

async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await read();
    if (ok(v)) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`gave up waiting for ${what}`);
}

async function rest(method: string, path: string, auth: string, body?: unknown, from?: string) {
  const headers: Record<string, string> = { Authorization: auth, 'Content-Type': 'application/json' };
  if (from) headers['X-Forwarded-For'] = from;
  const res = await fetch(`${s.url}/api/smtp-credentials${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: await res.json() as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
}

async function introspect(token: string, headers: Record<string, string>) {
  const res = await fetch(`${s.url}/internal/introspect`, {
    method: 'POST',
    headers: { Authorization: bearer(internal), 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({ token }).toString(),
  });
  return await res.json() as { active: boolean };
}

const getOne = async (type: 'x:ApiKey' | 'x:AppPassword', id: string) =>
  (await s.api(alice, [[`${type}/get`, { ids: [id], properties: ['lastUsedAt', 'lastUsedFrom', 'lastUsedService'] }, 'g']])).body.methodResponses[0][1].list[0];
const restOne = async (id: string) => (await rest('GET', `/${id}`, alice)).body;

beforeAll(async () => {
  s = await startTestServer({ JMAP_KEYS_TRUSTED_PROXIES: '127.0.0.1,::1', JMAP_KEYS_REST_WRITES_PER_WINDOW: '1000' });
  await createAccount(s, 'alice', 'alice-password');
  internal = (await rest('POST', '', bearer(s.adminToken), { name: 'dovecot', scopes: ['internal'] })).body.apiKey;
});
afterAll(async () => { await s.stop(); });

describe('credential usage: when, from where, for what', () => {
  it('records a Bearer use of an API key on /api as jmap from the client address', async () => {
    const made = await s.api(alice, [['x:ApiKey/set', { create: { k: { description: 'script' } } }, 'c']]);
    const key = made.body.methodResponses[0][1].created.k;
    expect(key).toMatchObject({ lastUsedAt: null, lastUsedFrom: null, lastUsedService: null });
    const res = await fetch(`${s.url}/api`, {
      method: 'POST', headers: { Authorization: bearer(key.secret), 'Content-Type': 'application/json', 'X-Forwarded-For': '198.51.100.1' },
      body: JSON.stringify({ using: ['urn:ietf:params:jmap:core', 'urn:stalwart:jmap'], methodCalls: [['x:ApiKey/get', { ids: [] }, 'g']] }),
    });
    expect(res.status).toBe(200);
    const got = await until('the use to be written', () => getOne('x:ApiKey', key.id), (k) => k.lastUsedAt !== null);
    expect(got).toMatchObject({ lastUsedFrom: '198.51.100.1', lastUsedService: 'jmap' });
    expect(got.lastUsedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('records a REST use, then mail logins through introspection (the mail client address, imap; submission as smtp)', async () => {
    const made = await rest('POST', '', alice, { name: 'Phone', scopes: ['imap', 'smtp', 'api:read'] });
    expect(made.status).toBe(201);
    const { id, apiKey } = made.body as { id: string; apiKey: string };
    expect(made.body).toMatchObject({ lastUsedAt: null, lastUsedFrom: null, lastUsedService: null });

    expect((await rest('GET', '', bearer(apiKey), undefined, '198.51.100.2')).status).toBe(200);
    const afterRest = await until('the REST use', () => restOne(id), (k) => k.lastUsedService === 'rest');
    expect(afterRest).toMatchObject({ lastUsedFrom: '198.51.100.2', lastUsedService: 'rest' });

    // Within the same minute: another address and service are still written (the newest use is what shows).
    expect((await introspect(apiKey, { 'X-Dovecot-Auth-Service': 'imap', 'X-Dovecot-Auth-Remote': '203.0.113.9:51234' })).active).toBe(true);
    const afterImap = await until('the IMAP login', () => getOne('x:AppPassword', id), (k) => k.lastUsedService === 'imap');
    expect(afterImap).toMatchObject({ lastUsedFrom: '203.0.113.9', lastUsedService: 'imap' });
    expect(await restOne(id)).toMatchObject({ lastUsedFrom: '203.0.113.9', lastUsedService: 'imap' });

    expect((await introspect(apiKey, { 'X-Dovecot-Auth-Service': 'submission', 'X-Dovecot-Auth-Remote': '[2001:db8::7]:587' })).active).toBe(true);
    const afterSmtp = await until('the submission login', () => getOne('x:AppPassword', id), (k) => k.lastUsedService === 'smtp');
    expect(afterSmtp).toMatchObject({ lastUsedFrom: '2001:db8::7', lastUsedService: 'smtp' });
  });

  it('refuses the usage fields in /set as server-set properties', async () => {
    const res = await s.api(alice, [['x:ApiKey/set', { create: { k: { description: 'x', lastUsedFrom: '1.2.3.4' } } }, 'c']]);
    expect(res.body.methodResponses[0][1].notCreated.k).toMatchObject({ type: 'invalidProperties', properties: ['lastUsedFrom'] });
    const ok = await s.api(alice, [['x:ApiKey/set', { create: { k: { description: 'y' } } }, 'c']]);
    const id = ok.body.methodResponses[0][1].created.k.id;
    const upd = await s.api(alice, [['x:ApiKey/set', { update: { [id]: { lastUsedService: 'imap' } } }, 'u']]);
    expect(upd.body.methodResponses[0][1].notUpdated[id]).toMatchObject({ type: 'invalidProperties', properties: ['lastUsedService'] });
  });
});
