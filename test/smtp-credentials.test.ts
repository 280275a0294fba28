import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from './helpers/accounts.js';
import { basic, bearer, startTestServer, type TestServer } from './helpers/server.js';

let s: TestServer;
const alice = basic('alice', 'alice-password');
const bob = basic('bob', 'bob-password');

beforeAll(async () => {
  s = await startTestServer({ JMAP_KEYS_MAIL_HOSTNAME: 'mail.example.com', JMAP_KEYS_POP3_ENABLED: 'false', JMAP_KEYS_REST_READS_PER_WINDOW: '1000', JMAP_KEYS_REST_WRITES_PER_WINDOW: '1000' });
  await createAccount(s, 'alice', 'alice-password');
  await createAccount(s, 'bob', 'bob-password');
});
afterAll(async () => { await s.stop(); });

async function rest(method: string, path: string, auth: string | null, body?: unknown) {
  const headers: Record<string, string> = {};
  if (auth) headers.Authorization = auth;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`${s.url}/api/smtp-credentials${path}`, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

describe('/api/smtp-credentials', () => {
  it('lists connection info from configuration and the caller\'s keys', async () => {
    const res = await rest('GET', '', alice);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      connectionInfo: {
        smtp: { serverName: 'mail.example.com', port: 587, securePort: 465, enabled: true },
        pop3: { serverName: 'mail.example.com', port: 110, securePort: 995, enabled: false },
        imap: { serverName: 'mail.example.com', port: 143, securePort: 993, enabled: true },
        // The user name mail clients log in with (the address, else the login) and the address they send from.
        username: 'alice',
        email: null,
      },
      keys: [],
    });
  });

  it('creates (201, rm_ key once), lists without the secret, gets one, revokes (204) and then 404', async () => {
    const made = await rest('POST', '', alice, { name: 'Thunderbird', scopes: ['smtp', 'pop3', 'imap'] });
    expect(made.status).toBe(201);
    expect(made.body).toEqual({ id: expect.any(String), name: 'Thunderbird', createdAt: expect.stringMatching(/Z$/), lastUsedAt: null, lastUsedFrom: null, lastUsedService: null, isActive: true,
      scopes: ["smtp", "pop3", "imap"], apiKey: expect.stringMatching(/^rm_[0-9A-Za-z]{46}$/) });
    const list = await rest('GET', '', alice);
    expect(list.body.keys).toEqual([{ id: made.body.id, name: 'Thunderbird', createdAt: made.body.createdAt, lastUsedAt: null, lastUsedFrom: null, lastUsedService: null, isActive: true, scopes: ['smtp', 'pop3', 'imap'] }]);
    expect(JSON.stringify(list.body)).not.toContain(made.body.apiKey);
    const one = await rest('GET', `/${made.body.id}`, alice);
    expect(one.body).toMatchObject({ id: made.body.id, name: 'Thunderbird' });

    // The app password is a mail password: on the HTTP API it needs an API scope, as Basic login:rm_… or as Bearer.
    expect((await s.api(basic('alice', made.body.apiKey), [['Core/echo', {}, 'c']])).status).toBe(401);
    expect((await s.api(basic('bob', made.body.apiKey), [['Core/echo', {}, 'c']])).status).toBe(401);
    expect((await rest('GET', '', bearer(made.body.apiKey))).status).toBe(401);

    expect((await rest('DELETE', `/${made.body.id}`, alice)).status).toBe(204);
    expect((await rest('DELETE', `/${made.body.id}`, alice)).status).toBe(404);
    expect((await rest('POST', `/${made.body.id}/rotate`, alice)).status).toBe(404);
    expect((await s.api(basic('alice', made.body.apiKey), [['Core/echo', {}, 'c']])).status).toBe(401);
  });

  it('rotates atomically: the old key fails at once, the new one works, same name and scopes', async () => {
    const made = await rest('POST', '', alice, { name: 'Phone', scopes: ['imap', 'api:read'] });
    const rotated = await rest('POST', `/${made.body.id}/rotate`, alice);
    expect(rotated.status).toBe(200);
    expect(rotated.body).toMatchObject({ name: 'Phone', scopes: ['imap', 'api:read'], isActive: true, lastUsedAt: null });
    expect(rotated.body.id).not.toBe(made.body.id);
    expect(rotated.body.apiKey).not.toBe(made.body.apiKey);
    expect((await rest('GET', '', bearer(made.body.apiKey))).status).toBe(401);
    const withNew = await rest('GET', '', bearer(rotated.body.apiKey));
    expect(withNew.status).toBe(200);
    expect(withNew.body.keys.map((k: { id: string }) => k.id)).toEqual([rotated.body.id]);
    await rest('DELETE', `/${rotated.body.id}`, alice);
  });

  it('mobile keys carry platform and deviceId, mail scopes, and a one-time .mobileconfig link', async () => {
    const made = await rest('POST', '/mobile', alice, { name: 'iPhone 15', platform: 'ios', deviceId: 'device-identifier' });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ name: 'iPhone 15', scopes: ['imap', 'smtp'], platform: 'ios', deviceId: 'device-identifier', apiKey: expect.stringMatching(/^rm_/) });
    const profile = await fetch(made.body.mobileconfigUrl);
    expect(profile.status).toBe(200);
    expect(profile.headers.get('content-type')).toBe('application/x-apple-aspen-config');
    const plist = await profile.text();
    expect(plist).toContain('<string>com.apple.mail.managed</string>');
    expect(plist).toContain(`<string>${made.body.apiKey}</string>`);
    expect(plist).toContain('<string>mail.example.com</string>');
    expect((await fetch(made.body.mobileconfigUrl)).status).toBe(404);
    await rest('DELETE', `/${made.body.id}`, alice);
  });

  it('validates input with a JSON error naming the field, and writes nothing', async () => {
    const cases: [string, unknown, string][] = [
      ['', {}, 'name'], ['', { name: '', scopes: ['smtp'] }, 'name'], ['', { name: '   ', scopes: ['smtp'] }, 'name'],
      ['', { name: 'x'.repeat(101), scopes: ['smtp'] }, 'name'], ['', { name: 'x', scopes: ['smtp', 'ftp'] }, 'scopes'],
      ['', { name: 'x', scopes: [] }, 'scopes'], ['', { name: 'x' }, 'scopes'], ['', { name: 'x', scopes: 'smtp' }, 'scopes'],
      ['', { name: 5, scopes: ['smtp'] }, 'name'], ['', { name: 'x', scopes: ['smtp'], admin: true }, 'admin'],
      ['/mobile', { name: 'x', platform: 'nokia', deviceId: 'd' }, 'platform'], ['/mobile', { name: 'x', platform: 'ios' }, 'deviceId'],
      ['/mobile', { platform: 'ios', deviceId: 'd' }, 'name'],
    ];
    for (const [path, body, field] of cases) {
      const res = await rest('POST', path, alice, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body, JSON.stringify(body)).toMatchObject({ error: 'invalid_request', message: expect.any(String), field });
    }
    for (const raw of ['not json', '[1]', 'null']) {
      const res = await rest('POST', '', alice, raw);
      expect(res.status, raw).toBe(400);
      expect(res.body.error, raw).toMatch(/invalid_(json|request)/);
    }
    expect((await rest('GET', '', alice)).body.keys).toEqual([]);
  });

  it('requires authentication everywhere and never lets a caller reach another account\'s key', async () => {
    for (const [method, path] of [['GET', ''], ['POST', ''], ['GET', '/b'], ['DELETE', '/b'], ['POST', '/b/rotate'], ['POST', '/mobile']]) {
      const res = await rest(method as string, path as string, null, method === 'POST' ? {} : undefined);
      expect(res.status, `${method} ${path}`).toBe(401);
      expect(res.body.error).toBe('unauthorized');
    }
    const mine = await rest('POST', '', alice, { name: 'alice mail', scopes: ['imap'] });
    expect((await rest('GET', `/${mine.body.id}`, bob)).status).toBe(404);
    expect((await rest('DELETE', `/${mine.body.id}`, bob)).status).toBe(404);
    expect((await rest('POST', `/${mine.body.id}/rotate`, bob)).status).toBe(404);
    expect((await rest('GET', '', bob)).body.keys).toEqual([]);
    expect((await rest('GET', `/${mine.body.id}`, alice)).status).toBe(200);
    await rest('DELETE', `/${mine.body.id}`, alice);
  });

  it('no escalation: internal is for admins, and a narrow key cannot mint a broader one', async () => {
    const internal = await rest('POST', '', alice, { name: 'x', scopes: ['internal'] });
    expect(internal.status).toBe(403);
    const adminInternal = await rest('POST', '', bearer(s.adminToken), { name: 'dovecot', scopes: ['internal'] });
    expect(adminInternal.status).toBe(201);
    const writer = await rest('POST', '', alice, { name: 'writer', scopes: ['api:write'] });
    const broader = await rest('POST', '', bearer(writer.body.apiKey), { name: 'all mail', scopes: ['imap', 'smtp'] });
    expect(broader.status).toBe(403);
    expect(broader.body).toMatchObject({ error: 'forbidden', message: expect.stringContaining('imapAuthenticate') });
    const app = await rest('POST', '', bearer(writer.body.apiKey), { name: 'everything', scopes: ['app'] });
    expect(app.status).toBe(403);
    const same = await rest('POST', '', bearer(writer.body.apiKey), { name: 'reader', scopes: ['api:read'] });
    expect(same.status).toBe(201);
    for (const id of [writer.body.id, same.body.id]) await rest('DELETE', `/${id}`, alice);
  });

  it('lastUsedAt is set by use and untouched by listing', async () => {
    const made = await rest('POST', '', alice, { name: 'used', scopes: ['api:read'] });
    for (let i = 0; i < 3; i++) await rest('GET', '', alice);
    await new Promise((r) => setTimeout(r, 150));
    expect((await rest('GET', `/${made.body.id}`, alice)).body.lastUsedAt).toBeNull();
    await rest('GET', '', bearer(made.body.apiKey));
    await new Promise((r) => setTimeout(r, 150));
    expect((await rest('GET', `/${made.body.id}`, alice)).body.lastUsedAt).toMatch(/Z$/);
    await rest('DELETE', `/${made.body.id}`, alice);
  });

  it('serves Thunderbird autoconfig without any secret', async () => {
    for (const path of ['/.well-known/autoconfig/mail/config-v1.1.xml', '/mail/config-v1.1.xml?emailaddress=alice@example.org']) {
      const res = await fetch(`${s.url}${path}`);
      expect(res.status).toBe(200);
      const xml = await res.text();
      expect(xml).toContain('<incomingServer type="imap">');
      expect(xml).not.toContain('type="pop3"');
      expect(xml).toContain('<hostname>mail.example.com</hostname>');
      expect(xml).not.toMatch(/rm_|API_/);
    }
  });
});

describe('the same key on both faces', () => {
  it('REST keys appear as x:AppPassword with their scopes; JMAP ones in the REST list; revoking on either side revokes both', async () => {
    const made = await rest('POST', '', alice, { name: 'both faces', scopes: ['imap', 'smtp'] });
    const got = await s.api(alice, [['x:AppPassword/get', { ids: [made.body.id] }, 'g'], ['x:ApiKey/get', { ids: [made.body.id] }, 'k']]);
    expect(got.body.methodResponses[0][1].list[0]).toMatchObject({ id: made.body.id, description: 'both faces', secret: '****', scopes: ['imap', 'smtp'],
      permissions: { '@type': 'Replace', permissions: expect.arrayContaining(['authenticate', 'imapAuthenticate', 'emailSend']) } });
    expect(got.body.methodResponses[1][1].notFound).toEqual([made.body.id]);
    const setScopes = await s.api(alice, [['x:AppPassword/set', { update: { [made.body.id]: { scopes: ['app'] } } }, 's']]);
    // Scopes are settable on x:AppPassword (issue 14): the permissions follow them, and the response says so.
    expect(setScopes.body.methodResponses[0][1].updated[made.body.id]).toEqual({ scopes: ['app'], permissions: { '@type': 'Inherit' } });
    const viaApiKey = await s.api(alice, [['x:ApiKey/set', { destroy: [made.body.id] }, 'd']]);
    expect(viaApiKey.body.methodResponses[0][1].notDestroyed[made.body.id].type).toBe('notFound');

    const jmapMade = await s.api(alice, [['x:AppPassword/set', { create: { p: { description: 'jmap made', permissions: { '@type': 'Replace', permissions: ['authenticate', 'imapAuthenticate'] } } } }, 'c']]);
    const jmap = jmapMade.body.methodResponses[0][1].created.p;
    expect(jmap.secret).toMatch(/^rm_/);
    const list = await rest('GET', '', alice);
    expect(list.body.keys.find((k: { id: string }) => k.id === jmap.id)).toMatchObject({ name: 'jmap made', scopes: ['imap'] });

    expect((await s.api(alice, [['x:AppPassword/set', { destroy: [made.body.id] }, 'd']])).body.methodResponses[0][1].destroyed).toEqual([made.body.id]);
    expect((await rest('GET', `/${made.body.id}`, alice)).status).toBe(404);
    expect((await rest('DELETE', `/${jmap.id}`, alice)).status).toBe(204);
    const gone = await s.api(alice, [['x:AppPassword/get', { ids: [jmap.id] }, 'g']]);
    expect(gone.body.methodResponses[0][1].notFound).toEqual([jmap.id]);
  });
});

describe('rate limits on /api/smtp-credentials', () => {
  let r: TestServer;
  beforeAll(async () => {
    r = await startTestServer({ JMAP_KEYS_REST_READS_PER_WINDOW: '3', JMAP_KEYS_REST_WRITES_PER_WINDOW: '2', JMAP_KEYS_REST_WINDOW_SECONDS: '2' });
  });
  afterAll(async () => { await r.stop(); });

  it('429 with Retry-After and a JSON body past the limit, reads and writes apart, then recovery', async () => {
    const call = (method: string, body?: unknown) => fetch(`${r.url}/api/smtp-credentials`, {
      method, headers: { Authorization: bearer(r.adminToken), 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    for (let i = 0; i < 3; i++) expect((await call('GET')).status).toBe(200);
    const limited = await call('GET');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await limited.json()).toMatchObject({ error: 'rate_limited', message: expect.any(String) });
    // Writes have their own budget.
    expect((await call('POST', { name: 'a', scopes: ['imap'] })).status).toBe(201);
    expect((await call('POST', { name: 'b', scopes: ['imap'] })).status).toBe(201);
    expect((await call('POST', { name: 'c', scopes: ['imap'] })).status).toBe(429);
    await new Promise((res) => setTimeout(res, 2100));
    expect((await call('GET')).status).toBe(200);
    expect((await call('GET')).status).toBe(200);
  });
});
