import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipAllowed, normalizeMask } from '../src/auth/ipmask.js';
import { hashPassword } from '../src/auth/passwords.js';
import { issueAccountKey } from '../src/credentials/issue.js';
import { CLI_ACTOR } from '../src/audit/record.js';
import { openStore } from '../src/db/open.js';
import { basic, bearer, foreignSql, startTestServer, TEST_ENGINE, type TestServer } from './helpers/server.js';

describe('failed authentication is throttled per client address', () => {
  let s: TestServer;
  beforeAll(async () => { s = await startTestServer({ JMAP_KEYS_AUTH_MAX_FAILURES: '3', JMAP_KEYS_AUTH_WINDOW_SECONDS: '2' }); });
  afterAll(async () => { await s.stop(); });

  it('answers unknown-token guesses 429 with Retry-After after repeated failures, then recovers; a valid key is never refused', async () => {
    const guess = () => fetch(`${s.url}/jmap/session`, { headers: { Authorization: bearer(`API_${'x'.repeat(40)}`) } });
    for (let i = 0; i < 3; i++) expect((await guess()).status).toBe(401);
    const blocked = await guess();
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await blocked.json()).toMatchObject({ status: 429 });
    expect((await fetch(`${s.url}/jmap/session`, { headers: { Authorization: bearer(s.adminToken) } })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 2100));
    expect((await guess()).status).toBe(401);
  });
});

describe('credentials on the wire', () => {
  let s: TestServer;
  beforeAll(async () => { s = await startTestServer(); });
  afterAll(async () => { await s.stop(); });

  it('rejects malformed headers with 401 and both challenges', async () => {
    for (const header of ['', 'Bearer', 'Bearer ', 'Token abc', 'Basic !!!', 'Basic ' + Buffer.from('nocolon').toString('base64'),
      basic('admin', ''), basic('', 'x'), bearer('rm_' + 'a'.repeat(40)), bearer(s.adminToken.slice(0, -1) + (s.adminToken.endsWith('A') ? 'B' : 'A'))]) {
      const res = await fetch(`${s.url}/jmap/session`, { headers: header ? { Authorization: header } : {} });
      expect(res.status, header).toBe(401);
      expect(res.headers.get('www-authenticate'), header).toContain('Bearer');
      expect(res.headers.get('www-authenticate'), header).toContain('Basic');
      expect(res.headers.get('content-type')).toContain('application/problem+json');
    }
  });

  it('scheme names are case-insensitive and API keys do not work as Basic passwords', async () => {
    expect((await fetch(`${s.url}/jmap/session`, { headers: { Authorization: `bearer ${s.adminToken}` } })).status).toBe(200);
    expect((await fetch(`${s.url}/jmap/session`, { headers: { Authorization: basic('admin', s.adminToken) } })).status).toBe(401);
  });

  it('ignores X-Forwarded-For from untrusted peers', async () => {
    const made = await s.api(bearer(s.adminToken), [['x:ApiKey/set', { create: { k: { description: 'proxy', allowedIps: ['203.0.113.7'] } } }, 'c']]);
    const secret = made.body.methodResponses[0][1].created.k.secret;
    const res = await fetch(`${s.url}/jmap/session`, { headers: { Authorization: bearer(secret), 'X-Forwarded-For': '203.0.113.7' } });
    expect(res.status).toBe(403);
  });
});

describe('verified credentials are reused only while nothing changed', () => {
  let s: TestServer;
  beforeAll(async () => { s = await startTestServer(); });
  afterAll(async () => { await s.stop(); });

  it('sees changes written by another process at once, and never accepts another secret with the same locator', async () => {
    const made = await s.api(bearer(s.adminToken), [['x:ApiKey/set', { create: { k: { description: 'cached' } } }, 'c']]);
    const { id, secret } = made.body.methodResponses[0][1].created.k as { id: string; secret: string };
    const locator = secret.slice(4, 16);
    const status = async (token = secret) => (await fetch(`${s.url}/jmap/session`, { headers: { Authorization: bearer(token) } })).status;
    expect(await status()).toBe(200);
    expect(await status()).toBe(200); // now from the cache
    // Same locator, other secret: the cached digest must not open it.
    const forged = secret.slice(0, 16) + (secret[16] === 'A' ? 'B' : 'A') + secret.slice(17);
    expect(await status(forged)).toBe(401);
    expect(await status()).toBe(200);
    // SQLite sees another connection's commit on the next request; PostgreSQL nodes when its notification arrives
    // (a few ms: README, "Scale out"). Either way the next request after that bound answers from the new data.
    const settle = async <T>(read: () => Promise<T>, done: (v: T) => boolean): Promise<T> => {
      const until = Date.now() + (TEST_ENGINE === 'sqlite' ? 0 : 2000);
      let got = await read();
      while (!done(got) && Date.now() < until) got = await read();
      return got;
    };
    const eventually = (want: number) => settle(() => status(), (v) => v === want);

    // Another connection to the same database, as an operator's sqlite3 or psql shell would be.
    const set = (sql: string) => foreignSql(s, `${sql} WHERE locator = ?`, [locator]);
    await set('UPDATE credentials SET expires_at = 1');
    expect(await eventually(401)).toBe(401);
    await set('UPDATE credentials SET expires_at = NULL');
    expect(await eventually(200)).toBe(200);
    await set(`UPDATE credentials SET allowed_ips = '["10.0.0.0/8"]'`);
    expect(await eventually(403)).toBe(403);
    await set(`UPDATE credentials SET allowed_ips = '[]'`);
    expect(await eventually(200)).toBe(200);
    await set('DELETE FROM credentials');
    expect(await eventually(401)).toBe(401);

    // A key made by another process's store (as `jmap-keys key create` does) moves the state at once.
    const state = async () => (await s.api(bearer(s.adminToken), [['x:ApiKey/get', { ids: [] }, 'g']])).body.methodResponses[0][1].state as string;
    const before = await state();
    expect(await state()).toBe(before);
    const otherStore = await openStore(s.services.config);
    try {
      await issueAccountKey(otherStore, s.services.hasher, 1, "made elsewhere", CLI_ACTOR);
    } finally {
      await otherStore.close();
    }
    expect(await settle(state, (v) => v !== before)).not.toBe(before);

    // Basic: a changed password is seen at once, the old one refused, even though the pair was cached.
    const byPassword = async (password: string) => (await fetch(`${s.url}/jmap/session`, { headers: { Authorization: basic('admin', password) } })).status;
    expect(await byPassword(s.adminPassword)).toBe(200);
    expect(await byPassword(s.adminPassword)).toBe(200);
    const passwordStore = await openStore(s.services.config);
    try {
      await passwordStore.setAccountPassword(1, await hashPassword('a-new-admin-password'));
    } finally {
      await passwordStore.close();
    }
    expect(await settle(() => byPassword(s.adminPassword), (v) => v === 401)).toBe(401);
    expect(await byPassword('a-new-admin-password')).toBe(200);

    // And through this server: a destroyed key fails on its next use.
    const again = await s.api(bearer(s.adminToken), [['x:ApiKey/set', { create: { k: { description: 'cached 2' } } }, 'c']]);
    const k2 = again.body.methodResponses[0][1].created.k as { id: string; secret: string };
    expect(await status(k2.secret)).toBe(200);
    await s.api(bearer(s.adminToken), [['x:ApiKey/set', { destroy: [k2.id] }, 'c']]);
    expect(await status(k2.secret)).toBe(401);
    expect(id).not.toBe(k2.id);
  });
});

describe('trusted proxies', () => {
  let s: TestServer;
  beforeAll(async () => { s = await startTestServer({ JMAP_KEYS_TRUSTED_PROXIES: '127.0.0.1' }); });
  afterAll(async () => { await s.stop(); });

  it('takes the client address from X-Forwarded-For when the peer is a trusted proxy', async () => {
    const made = await s.api(bearer(s.adminToken), [['x:ApiKey/set', { create: { k: { description: 'proxy', allowedIps: ['203.0.113.0/24'] } } }, 'c']]);
    const secret = made.body.methodResponses[0][1].created.k.secret;
    const ok = await fetch(`${s.url}/jmap/session`, { headers: { Authorization: bearer(secret), 'X-Forwarded-For': '198.51.100.1, 203.0.113.7' } });
    expect(ok.status).toBe(200);
    const no = await fetch(`${s.url}/jmap/session`, { headers: { Authorization: bearer(secret), 'X-Forwarded-For': '203.0.113.7, 198.51.100.1' } });
    expect(no.status).toBe(403);
  });
});

describe('IP masks', () => {
  it('normalise IPv4 and IPv6 masks and reject odd ones', () => {
    expect(normalizeMask(' 2001:DB8::1 ')).toBe('2001:db8::1');
    expect(normalizeMask('10.1.2.3/8')).toBe('10.1.2.3/8');
    for (const bad of ['10.0.0.0/7', '1.2.3.4/33', '::/0', '0.0.0.0', '10.0.0.1-10.0.0.9', '*', 'localhost', '1.2.3', '0x7f.0.0.1', '10.0.0.0/08a', '']) {
      expect(normalizeMask(bad), bad).toBeUndefined();
    }
  });
  it('match IPv4, IPv4-mapped IPv6 and IPv6 peers', () => {
    expect(ipAllowed([], '1.2.3.4')).toBe(true);
    expect(ipAllowed(['10.0.0.0/8'], '10.9.8.7')).toBe(true);
    expect(ipAllowed(['10.0.0.0/8'], '::ffff:10.9.8.7')).toBe(true);
    expect(ipAllowed(['10.0.0.1'], '::ffff:10.0.0.1')).toBe(true);
    expect(ipAllowed(['10.0.0.0/8'], '11.0.0.1')).toBe(false);
    expect(ipAllowed(['2001:db8::/32'], '2001:db8:1::5')).toBe(true);
    expect(ipAllowed(['2001:db8::/32'], '2001:db9::5')).toBe(false);
    expect(ipAllowed(['10.0.0.0/8'], undefined)).toBe(false);
  });
});
