import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { startServer, type RunningServer } from '../src/server.js';
import { hashPassword } from '../src/auth/passwords.js';
import { createAccount } from './helpers/accounts.js';
import { basic, bearer, startTestServer, TEST_ENGINE, USING, type ApiBody, type TestServer } from './helpers/server.js';

/** The security review, point by point, against the real server. */

const iso = (secondsFromNow: number) => new Date(Math.floor(Date.now() / 1000 + secondsFromNow) * 1000).toISOString().replace('.000Z', 'Z');

async function rest(s: TestServer, method: string, path: string, auth: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${s.url}/api/smtp-credentials${path}`, {
    method, headers: { Authorization: auth, 'Content-Type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : body instanceof Uint8Array ? new Blob([body as Uint8Array<ArrayBuffer>]) : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: ApiBody = null;
  try { parsed = text ? JSON.parse(text) : null; } catch { parsed = text; }
  return { status: res.status, body: parsed };
}

async function makeKey(s: TestServer, auth: string, props: Record<string, unknown>): Promise<{ id: string; secret: string }> {
  const res = await s.api(auth, [['x:ApiKey/set', { create: { k: { description: 'k', ...props } } }, 'c']]);
  const created = res.body.methodResponses[0][1].created?.k;
  if (!created) throw new Error(JSON.stringify(res.body));
  return created;
}

describe('security review', () => {
  let s: TestServer;
  let internalKey: string;
  beforeAll(async () => {
    s = await startTestServer({ JMAP_KEYS_AUTH_MAX_FAILURES: '3', JMAP_KEYS_AUTH_WINDOW_SECONDS: '60', JMAP_KEYS_TRUSTED_PROXIES: '127.0.0.1/32' });
    await createAccount(s, 'alice', 'alice-password-123');
    await createAccount(s, 'bob', 'bob-password-123');
    const made = await rest(s, 'POST', '', bearer(s.adminToken), { name: 'dovecot', scopes: ['internal'] });
    expect(made.status).toBe(201);
    internalKey = made.body.apiKey;
  });
  afterAll(async () => { await s.stop(); });

  it('1. rights are the calling credential\'s: no internal credential minted, rotated or revoked without internal', async () => {
    const writer = await rest(s, 'POST', '', bearer(s.adminToken), { name: 'writer', scopes: ['api:write'] });
    const minted = await rest(s, 'POST', '', bearer(writer.body.apiKey), { name: 'evil', scopes: ['internal'] });
    expect(minted.status).toBe(403);
    expect(minted.body.message).toMatch(/internal/);

    const narrow = await makeKey(s, bearer(s.adminToken), {
      permissions: { '@type': 'Replace', permissions: ['authenticate', 'sysAppPasswordGet', 'sysAppPasswordCreate', 'sysAppPasswordDestroy'] },
    });
    const list = await rest(s, 'GET', '', bearer(s.adminToken));
    const dovecot = list.body.keys.find((k: { name: string }) => k.name === 'dovecot');
    expect((await rest(s, 'POST', `/${dovecot.id}/rotate`, bearer(narrow.secret))).status).toBe(403);
    expect((await rest(s, 'DELETE', `/${dovecot.id}`, bearer(narrow.secret))).status).toBe(403);
    // The internal credential still works; an admin Inherit key may still manage it.
    const check = await fetch(`${s.url}/internal/introspect`, {
      method: 'POST', headers: { Authorization: basic('admin', internalKey), 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'token=x',
    });
    expect(check.status).toBe(200);
    const destroy = await s.api(bearer(narrow.secret), [['x:AppPassword/set', { destroy: [dovecot.id] }, 'd']]);
    expect(destroy.body.methodResponses[0][1].notDestroyed?.[dovecot.id]?.type ?? destroy.body.methodResponses[0][1].type).toBe('forbidden');
  });

  it('2. delegation is bounded by the caller\'s expiry and IP masks; no credential widens its own limits', async () => {
    const expires = iso(3600);
    const limited = await makeKey(s, bearer(s.adminToken), { allowedIps: ['127.0.0.1/32'], expiresAt: expires });
    const auth = bearer(limited.secret);
    const tryCreate = async (props: Record<string, unknown>) =>
      (await s.api(auth, [['x:ApiKey/set', { create: { n: { description: 'n', ...props } } }, 'c']])).body.methodResponses[0][1];
    const open = await tryCreate({ expiresAt: expires });
    expect(open.notCreated.n).toMatchObject({ type: 'forbidden', properties: ['allowedIps'] });
    expect(open.notCreated.n.description).toMatch(/allowedIps/);
    const forever = await tryCreate({ allowedIps: ['127.0.0.1'] });
    expect(forever.notCreated.n).toMatchObject({ type: 'forbidden', properties: ['expiresAt'] });
    const later = await tryCreate({ allowedIps: ['127.0.0.1'], expiresAt: iso(7200) });
    expect(later.notCreated.n.type).toBe('forbidden');
    const within = await tryCreate({ allowedIps: ['127.0.0.1'], expiresAt: iso(1800) });
    expect(within.created.n.id).toBeTruthy();

    const widen = async (patch: Record<string, unknown>) =>
      (await s.api(auth, [['x:ApiKey/set', { update: { [limited.id]: patch } }, 'u']])).body.methodResponses[0][1];
    expect((await widen({ expiresAt: null })).notUpdated[limited.id].type).toBe('forbidden');
    expect((await widen({ allowedIps: ['127.0.0.0/8'] })).notUpdated[limited.id].type).toBe('forbidden');
    expect((await widen({ allowedIps: [] })).notUpdated[limited.id].type).toBe('forbidden');
    expect((await widen({ description: 'renamed' })).updated).toHaveProperty(limited.id);

    // REST: the new app password inherits the caller's limits.
    const made = await rest(s, 'POST', '', auth, { name: 'bounded', scopes: ['imap'] });
    expect(made.status).toBe(201);
    expect(made.body.expiresAt).toBe(expires);
    const row = await s.services.store.credentialByLocator(made.body.apiKey.slice(3, 15));
    expect(row?.allowedIps).toEqual(['127.0.0.1/32']);
    // Rotating an unrestricted key would make one less restricted than the caller.
    const free = await rest(s, 'POST', '', bearer(s.adminToken), { name: 'free', scopes: ['imap'] });
    const rotated = await rest(s, 'POST', `/${free.body.id}/rotate`, auth);
    expect(rotated.status).toBe(403);
    expect(rotated.body.message).toMatch(/expir/);
  });

  it('5. scopes hold whether the credential comes as Bearer or Basic; Core/echo needs jmapCoreEcho', async () => {
    const smtp = await rest(s, 'POST', '', basic('alice', 'alice-password-123'), { name: 'mail', scopes: ['smtp'] });
    expect(smtp.status).toBe(201);
    const viaBasic = basic('alice', smtp.body.apiKey);
    expect((await fetch(`${s.url}/jmap/session`, { headers: { Authorization: viaBasic } })).status).toBe(401);
    expect((await s.api(viaBasic, [['Core/echo', {}, 'c']])).status).toBe(401);
    expect((await s.api(bearer(smtp.body.apiKey), [['Core/echo', {}, 'c']])).status).toBe(401);
    const reader = await makeKey(s, bearer(s.adminToken), { permissions: { '@type': 'Replace', permissions: ['authenticate', 'sysApiKeyGet'] } });
    const echo = await s.api(bearer(reader.secret), [['Core/echo', { a: 1 }, 'c']]);
    expect(echo.body.methodResponses[0]).toEqual(['error', expect.objectContaining({ type: 'forbidden' }), 'c']);
    expect((await s.api(bearer(s.adminToken), [['Core/echo', { a: 1 }, 'c']])).body.methodResponses[0]).toEqual(['Core/echo', { a: 1 }, 'c']);
  });

  it('6. no 500 on deep JSON, multipart sign-in or oversized web bodies', async () => {
    const deep = '['.repeat(6000) + ']'.repeat(6000);
    const res = await fetch(`${s.url}/api`, {
      method: 'POST', headers: { Authorization: bearer(s.adminToken), 'Content-Type': 'application/json' },
      body: `{"using":${JSON.stringify(USING)},"methodCalls":[["Core/echo",{"x":${deep}},"c"]]}`,
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ type: 'urn:ietf:params:jmap:error:limit', limit: 'maxJsonDepth' });
    const patch = '{"a":'.repeat(6000) + '1' + '}'.repeat(6000);
    const set = await fetch(`${s.url}/api`, {
      method: 'POST', headers: { Authorization: bearer(s.adminToken), 'Content-Type': 'application/json' },
      body: `{"using":${JSON.stringify(USING)},"methodCalls":[["x:ApiKey/set",{"update":{"b":{"description":${patch}}}},"c"]]}`,
    });
    expect(set.status).toBe(400);

    const form = new FormData();
    form.set('login', 'admin');
    form.set('password', 'x');
    const multipart = await fetch(`${s.url}/web/login`, { method: 'POST', body: form });
    expect(multipart.status).toBe(415);
    const big = 'x'.repeat(5000);
    expect((await fetch(`${s.url}/web/logout`, { method: 'POST', body: big, redirect: 'manual' })).status).toBe(413);
    const cookie = await signIn(s, 'admin', s.adminPassword);
    expect((await fetch(`${s.url}/web/qr`, {
      method: 'POST', headers: { Cookie: cookie.cookie, 'X-CSRF-Token': cookie.csrf, 'Content-Type': 'application/json' }, body: JSON.stringify({ data: big }),
    })).status).toBe(413);
  });

  it('7. REST bodies are capped before they are parsed', async () => {
    const huge = JSON.stringify({ name: 'x', scopes: ['imap'], pad: 'x'.repeat(1_000_000) });
    const res = await rest(s, 'POST', '', bearer(s.adminToken), huge);
    expect(res.status).toBe(413);
    expect(res.body.error).toBe('too_large');
  });

  it('8. control characters, lone surrogates and invalid UTF-8 are refused on every face', async () => {
    for (const description of ['a\u0000b', 'bell\u0007', 'del\u007f', 'c1\u0085']) {
      const r = await s.api(bearer(s.adminToken), [['x:ApiKey/set', { create: { n: { description } } }, 'c']]);
      expect(r.body.methodResponses[0][1].notCreated.n, JSON.stringify(description)).toMatchObject({ type: 'invalidProperties', properties: ['description'] });
    }
    const lone = await s.api(bearer(s.adminToken), [['x:ApiKey/set', { create: { n: { description: 'x\ud800' } } }, 'c']]);
    expect(lone.status).toBe(400);
    expect(lone.body.type).toBe('urn:ietf:params:jmap:error:notJSON');
    const restNul = await rest(s, 'POST', '', bearer(s.adminToken), { name: 'a\u0000b', scopes: ['imap'] });
    expect(restNul).toMatchObject({ status: 400, body: { field: 'name' } });
    const restLone = await rest(s, 'POST', '', bearer(s.adminToken), '{"name":"x\\ud800","scopes":["imap"]}');
    expect(restLone).toMatchObject({ status: 400, body: { field: 'name' } });
    const bytes = Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xff, 0xfe]), Buffer.from('","scopes":["imap"]}')]);
    const restBad = await rest(s, 'POST', '', bearer(s.adminToken), new Uint8Array(bytes));
    expect(restBad).toMatchObject({ status: 400, body: { error: 'invalid_utf8' } });
  });

  it('9. an unknown login runs the same password work as a known one', async () => {
    const before = s.services.authenticator.unknownLoginChecks;
    expect((await fetch(`${s.url}/jmap/session`, { headers: { Authorization: basic('nobody-here', 'whatever-password'), 'X-Forwarded-For': '198.51.100.9' } })).status).toBe(401);
    const web = await fetch(`${s.url}/web/login`, {
      method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': '198.51.100.9' }, body: JSON.stringify({ login: 'nobody-either', password: 'x' }),
    });
    expect(web.status).toBe(401);
    expect(s.services.authenticator.unknownLoginChecks).toBe(before + 2);
  });
});

async function signIn(s: { url: string }, login: string, password: string, ip = '127.0.0.1'): Promise<{ cookie: string; csrf: string; status: number }> {
  const res = await fetch(`${s.url}/web/login`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': ip }, body: JSON.stringify({ login, password }),
  });
  const cookie = /jk_session=[^;]+/.exec(res.headers.get('set-cookie') ?? '')?.[0] ?? '';
  const body = await res.json() as { csrfToken?: string };
  return { cookie, csrf: body.csrfToken ?? '', status: res.status };
}

describe('4. throttling that cannot be turned against others', () => {
  let s: TestServer;
  let internalKey: string;
  let appPassword: string;
  beforeAll(async () => {
    s = await startTestServer({ JMAP_KEYS_AUTH_MAX_FAILURES: '3', JMAP_KEYS_AUTH_WINDOW_SECONDS: '60', JMAP_KEYS_TRUSTED_PROXIES: '127.0.0.1/32' });
    await createAccount(s, 'alice', 'alice-password-123');
    await createAccount(s, 'bob', 'bob-password-123');
    internalKey = (await rest(s, 'POST', '', bearer(s.adminToken), { name: 'dovecot', scopes: ['internal'] })).body.apiKey;
    appPassword = (await rest(s, 'POST', '', basic('alice', 'alice-password-123'), { name: 'phone', scopes: ['imap'] })).body.apiKey;
  });
  afterAll(async () => { await s.stop(); });

  const session = (auth: string, ip: string) => fetch(`${s.url}/jmap/session`, { headers: { Authorization: auth, 'X-Forwarded-For': ip } });
  const introspect = (token: string, ip = '127.0.0.1') => fetch(`${s.url}/internal/introspect`, {
    method: 'POST', body: `token=${encodeURIComponent(token)}`,
    headers: { Authorization: basic('admin', internalKey), 'Content-Type': 'application/x-www-form-urlencoded', 'X-Forwarded-For': ip, 'X-Dovecot-Auth-Service': 'imap' },
  });

  it('password failures count per (address, login): another login\'s right password still works', async () => {
    const ip = '192.0.2.10';
    for (let i = 0; i < 3; i++) expect((await signIn(s, 'alice', 'wrong', ip)).status).toBe(401);
    const blocked = await session(basic('alice', 'alice-password-123'), ip);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await signIn(s, 'alice', 'alice-password-123', ip)).status).toBe(429);
    expect((await session(basic('bob', 'bob-password-123'), ip)).status).toBe(200);
    expect((await signIn(s, 'bob', 'bob-password-123', ip)).status).toBe(200);
    // From elsewhere alice is not blocked.
    expect((await session(basic('alice', 'alice-password-123'), '192.0.2.11')).status).toBe(200);
  });

  it('unknown tokens get 429 past the limit, but a valid key from the same address is never refused', async () => {
    const ip = '192.0.2.20';
    for (let i = 0; i < 3; i++) expect((await session(bearer(`API_${'y'.repeat(40)}`), ip)).status).toBe(401);
    expect((await session(bearer(`API_${'y'.repeat(40)}`), ip)).status).toBe(429);
    expect((await session(bearer(s.adminToken), ip)).status).toBe(200);
    expect((await session(basic('alice', appPassword), ip)).status).toBe(401); // imap-only: refused for its scope, not throttled
  });

  it('the introspection caller is never refused because others failed; a client\'s right password works after its wrong ones', async () => {
    for (let i = 0; i < 12; i++) {
      await signIn(s, 'admin', 'wrong', '127.0.0.1');
      await session(bearer(`rm_${'z'.repeat(40)}`), '127.0.0.1');
    }
    for (let i = 0; i < 12; i++) expect(await (await introspect(`rm_${'q'.repeat(40)}`)).json()).toEqual({ active: false });
    const ok = await introspect(appPassword);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ active: true, username: 'alice' });
  });

  it('IPv6 addresses are counted per /64', async () => {
    const statuses: number[] = [];
    for (let i = 1; i <= 6; i++) statuses.push((await session(bearer(`API_${'w'.repeat(40)}`), `2001:db8:1:2::${i.toString(16)}`)).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429, 429]);
    expect((await session(bearer(`API_${'w'.repeat(40)}`), '2001:db8:1:3::1')).status).toBe(401);
  });

  it('counters live in the store: another process on the same database sees them', async () => {
    const other = await startServer(loadConfig({ ...s.storeEnv, JMAP_KEYS_PORT: '0', JMAP_KEYS_AUTH_MAX_FAILURES: '3', JMAP_KEYS_TRUSTED_PROXIES: '127.0.0.1/32' }));
    try {
      const blocked = await fetch(`${other.url}/jmap/session`, { headers: { Authorization: bearer(`API_${'y'.repeat(40)}`), 'X-Forwarded-For': '192.0.2.20' } });
      expect(blocked.status).toBe(429);
    } finally {
      await other.close();
    }
  });
});

describe('3. sign-out ends the session everywhere, for good', () => {
  let s: TestServer;
  let other: RunningServer;
  beforeAll(async () => {
    s = await startTestServer();
    other = await startServer(loadConfig({ ...s.storeEnv, JMAP_KEYS_PORT: '0' }));
  });
  afterAll(async () => { await other.close(); await s.stop(); });

  const sessionStatus = (url: string, cookie: string) => fetch(`${url}/jmap/session`, { headers: { Cookie: cookie } }).then((r) => r.status);

  it('a cookie from before a refresh dies with the sign-out, in every process', async () => {
    const first = await signIn(s, 'admin', s.adminPassword);
    expect(first.status).toBe(200);
    const refreshed = await fetch(`${s.url}/web/refresh`, { method: 'POST', headers: { Cookie: first.cookie, 'X-CSRF-Token': first.csrf } });
    expect(refreshed.status).toBe(200);
    const second = /jk_session=[^;]+/.exec(refreshed.headers.get('set-cookie') ?? '')?.[0] ?? '';
    expect(second).not.toBe(first.cookie);
    expect(await sessionStatus(s.url, first.cookie)).toBe(200);
    expect(await sessionStatus(other.url, second)).toBe(200);
    // Sign out on the other process, with the refreshed cookie.
    const out = await fetch(`${other.url}/web/logout`, { method: 'POST', headers: { Cookie: second, 'X-CSRF-Token': first.csrf }, redirect: 'manual' });
    expect(out.status).toBe(303);
    for (const url of [s.url, other.url]) {
      expect(await sessionStatus(url, first.cookie)).toBe(401);
      expect(await sessionStatus(url, second)).toBe(401);
    }
  });

  it('a password change ends every session of the account', async () => {
    const a = await signIn(s, 'admin', s.adminPassword);
    const b = await signIn(s, 'admin', s.adminPassword);
    expect(await sessionStatus(s.url, a.cookie)).toBe(200);
    const admin = await s.services.store.accountByLogin('admin');
    await s.services.store.setAccountPassword(admin!.id, await hashPassword(s.adminPassword));
    expect(await sessionStatus(s.url, a.cookie)).toBe(401);
    expect(await sessionStatus(other.url, b.cookie)).toBe(401);
  });
});

// File modes are the SQLite engine's (PostgreSQL keeps its files itself); readiness is the same code on both.
describe.skipIf(TEST_ENGINE === 'postgres')('10 and 11. private data files; ready means ready', () => {
  const root = mkdtempSync(join(tmpdir(), 'jmap-keys-sec-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('with umask 000: folder 0700, database, -wal, -shm and server-secret 0600; /healthz only once the admin exists', async () => {
    const data = join(root, 'data');
    const port = String(20000 + Math.floor(Math.random() * 20000));
    const child = spawn('sh', ['-c', 'umask 000; exec "$0" bin/server.js', process.execPath], {
      env: { ...process.env, JMAP_KEYS_DATA: data, JMAP_KEYS_PORT: port, JMAP_KEYS_ADMIN_PASSWORD: 'ready-password-1' }, stdio: 'ignore',
    });
    try {
      let health = 0;
      for (let i = 0; i < 4000 && health !== 200; i++) {
        health = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status, () => 0);
        if (health !== 200) await new Promise((r) => setTimeout(r, 2));
      }
      expect(health).toBe(200);
      // The very first time /healthz answers, the admin account already signs in.
      const admin = await fetch(`http://127.0.0.1:${port}/jmap/session`, { headers: { Authorization: basic('admin', 'ready-password-1') } });
      expect(admin.status).toBe(200);
      const mode = (p: string) => statSync(p).mode & 0o777;
      expect(mode(data)).toBe(0o700);
      for (const f of ['jmap-keys.db', 'jmap-keys.db-wal', 'jmap-keys.db-shm', 'server-secret']) {
        expect(existsSync(join(data, f)), f).toBe(true);
        expect(mode(join(data, f)), f).toBe(0o600);
      }
    } finally {
      await new Promise<void>((r) => { child.on('exit', () => r()); child.kill('SIGTERM'); });
    }
  });
});
