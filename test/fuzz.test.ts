import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { bootstrapAdmin } from '../src/bootstrap.js';
import { loadConfig } from '../src/config.js';
import { createServices, type Services } from '../src/services.js';

/**
 * Seeded, bounded fuzzing of every face through the real Hono app and a real SQLite file: mutated JMAP, REST,
 * web and introspection requests. Zero 5xx, zero hangs, zero writes by a read-only key.
 * FUZZ_COUNT (default 20000) and FUZZ_SEED (default 1) make longer or other runs; a failure names its seed and
 * request number, so `FUZZ_SEED=<seed> npx vitest run test/fuzz.test.ts` replays it.
 */
const COUNT = Number(process.env.FUZZ_COUNT ?? 20_000);
const SEED = Number(process.env.FUZZ_SEED ?? 1);
const USING = ['urn:ietf:params:jmap:core', 'urn:stalwart:jmap'];
const HANG_MS = 10_000;

/** mulberry32: small, seedable, good enough to pick mutations. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
  return { next, int, pick };
}
type Rng = ReturnType<typeof rng>;

const ODD_STRINGS = ['', ' ', '\u0000', '\ud800', 'é', '😀', '../', '%00', '#c', '__proto__', 'constructor', 'a'.repeat(2000), '0', '-1', 'null',
  '2026-01-01T00:00:00Z', '1970-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '10.0.0.0/8', '::1', 'fe80::1%eth0', '0.0.0.0/0', 'Inherit', 'Replace'];

function randomJson(r: Rng, depth = 0): unknown {
  switch (r.int(depth > 3 ? 6 : 8)) {
    case 0: return null;
    case 1: return r.next() < 0.5;
    case 2: return r.pick([0, -1, 1.5, 1e308, -0, 2 ** 53, 42]);
    case 3: case 4: return r.pick(ODD_STRINGS);
    case 5: return r.pick(['b', 'c', 'd', 'zz', '#k']);
    case 6: return Array.from({ length: r.int(4) }, () => randomJson(r, depth + 1));
    default: return Object.fromEntries(Array.from({ length: r.int(4) }, () => [r.pick(['description', 'expiresAt', 'permissions', 'allowedIps', 'ids', 'x', '@type', 'filter', 'sort', 'accountId', '__proto__']), randomJson(r, depth + 1)]));
  }
}

/** Replaces, deletes or adds one member somewhere in a JSON value. */
function mutateValue(r: Rng, value: unknown, depth = 0): unknown {
  if (Array.isArray(value)) {
    if (value.length === 0 || r.next() < 0.2) return [...value, randomJson(r)];
    const i = r.int(value.length);
    const copy = [...value];
    if (r.next() < 0.15) copy.splice(i, 1);
    else copy[i] = r.next() < 0.3 || depth > 6 ? randomJson(r) : mutateValue(r, copy[i], depth + 1);
    return copy;
  }
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value);
    if (entries.length === 0 || r.next() < 0.15) return { ...value, [r.pick(['x', 'description', 'ids', '#ids', 'using'])]: randomJson(r) };
    const [k, v] = entries[r.int(entries.length)] as [string, unknown];
    const copy: Record<string, unknown> = { ...value };
    if (r.next() < 0.15) delete copy[k];
    else copy[k] = r.next() < 0.3 || depth > 6 ? randomJson(r) : mutateValue(r, v, depth + 1);
    return copy;
  }
  return randomJson(r);
}

/** Byte-level damage to a serialised body. */
function mutateText(r: Rng, text: string): string | Uint8Array {
  const bytes = Buffer.from(text);
  switch (r.int(5)) {
    case 0: return text.slice(0, r.int(text.length + 1));
    case 1: { const i = r.int(bytes.length || 1); bytes[i] = r.int(256); return new Uint8Array(bytes); }
    case 2: { const i = r.int(text.length + 1); return text.slice(0, i) + r.pick(['{', '[', '"', '\\', ',', '}', ']', '\\ud800', '\u0000']) + text.slice(i); }
    case 3: { const i = r.int(text.length); return text.slice(0, i) + text.slice(i, i + r.int(50)).repeat(r.int(4) + 1) + text.slice(i); }
    default: return `${'['.repeat(r.int(400))}${text}`;
  }
}

function jmapTemplates(r: Rng): unknown[] {
  const ids = r.next() < 0.5 ? null : ['b', 'c', 'zz'];
  return [
    ['Core/echo', { hello: randomJson(r) }, 'e'],
    ['x:ApiKey/get', { ids, properties: r.next() < 0.5 ? null : ['description', 'secret'] }, 'g'],
    ['x:AppPassword/get', { ids }, 'g2'],
    ['x:ApiKey/query', { filter: { expiresAtIsGreaterThan: '2020-01-01T00:00:00Z' }, sort: [{ property: 'expiresAt', isAscending: false }], limit: 5 }, 'q'],
    ['x:ApiKey/changes', { sinceState: '0', maxChanges: 5 }, 'ch'],
    ['x:ApiKey/queryChanges', { sinceQueryState: 'x', filter: null }, 'qc'],
    ['x:ApiKey/set', { create: { k: { description: 'fuzz', expiresAt: '2030-01-01T00:00:00Z', allowedIps: ['10.0.0.0/8'], permissions: { '@type': 'Inherit' } } } }, 's'],
    ['x:ApiKey/set', { update: { b: { description: 'upd', 'allowedIps/10.0.0.1': true } } }, 'u'],
    ['x:AppPassword/set', { destroy: ['zz', '#k'] }, 'd'],
    ['x:ApiKey/get', { '#ids': { resultOf: 'q', name: 'x:ApiKey/query', path: '/ids' } }, 'r'],
  ];
}

interface Req { method: string; path: string; headers: Record<string, string>; body?: string | Uint8Array }

function jmapRequest(r: Rng, auth: string): Req {
  const templates = jmapTemplates(r);
  const calls = Array.from({ length: 1 + r.int(3) }, () => r.pick(templates));
  let envelope: unknown = { using: USING, methodCalls: calls };
  for (let i = r.int(4); i > 0; i--) envelope = mutateValue(r, envelope);
  const text = JSON.stringify(envelope);
  return {
    method: r.next() < 0.97 ? 'POST' : r.pick(['GET', 'PUT', 'DELETE']), path: r.pick(['/api', '/jmap', '/jmap/']),
    headers: { Authorization: auth, 'Content-Type': r.next() < 0.95 ? 'application/json' : r.pick(['text/plain', 'application/json; charset=utf-8', '']) },
    body: r.next() < 0.25 ? mutateText(r, text) : text,
  };
}

function restRequest(r: Rng, auth: string): Req {
  const body = mutateValue(r, r.pick([{ name: 'phone', scopes: ['imap', 'smtp'] }, { name: 'mob', platform: 'ios', deviceId: 'd1' }, { name: 'x', scopes: ['internal'] }]));
  const text = JSON.stringify(body);
  const [method, path] = r.pick([['GET', ''], ['POST', ''], ['POST', '/mobile'], ['GET', '/c'], ['DELETE', '/zz'], ['POST', '/c/rotate'], ['GET', '/%00'], ['POST', '/b/rotate']] as const);
  return { method, path: `/api/smtp-credentials${path}`, headers: { Authorization: auth, 'Content-Type': 'application/json' }, body: method === 'POST' ? (r.next() < 0.3 ? mutateText(r, text) : text) : undefined };
}

function webRequest(r: Rng, cookie: string, csrf: string): Req {
  const path = r.pick(['/web/', '/web/refresh', '/web/qr', '/web/logout', '/web/assets/app.js', '/web/assets/nope', '/', '/web/login']);
  const type = r.pick(['application/json', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'text/plain']);
  let body = JSON.stringify(mutateValue(r, { data: 'http://x/api/mobileconfig/abc' }));
  // Signing in runs scrypt: rare, so the run stays short.
  if (path === '/web/login') body = r.next() < 0.05 ? JSON.stringify({ login: 'admin', password: r.pick(['x', '']) }) : '{"login":1}';
  if (path === '/web/logout' && r.next() < 0.9) return { method: 'GET', path: '/web/', headers: { Cookie: cookie } }; // keep the session alive
  return {
    method: path.startsWith('/web/assets') || path === '/' || path === '/web/' ? 'GET' : 'POST', path,
    headers: { Cookie: cookie, 'X-CSRF-Token': r.next() < 0.8 ? csrf : 'bad', 'Content-Type': type },
    body: path.startsWith('/web/assets') || path === '/' || path === '/web/' ? undefined : r.next() < 0.3 ? mutateText(r, body) : body,
  };
}

function introspectRequest(r: Rng, auth: string, token: string): Req {
  const form = new URLSearchParams({ token: r.next() < 0.5 ? token : r.pick(ODD_STRINGS), ...(r.next() < 0.3 ? { username: r.pick(['admin', 'x', '']) } : {}) }).toString();
  return {
    method: 'POST', path: '/internal/introspect',
    headers: {
      Authorization: r.next() < 0.9 ? auth : r.pick(['Basic !!', 'Bearer rm_x', '']), 'Content-Type': r.next() < 0.9 ? 'application/x-www-form-urlencoded' : 'application/json',
      'X-Dovecot-Auth-Service': r.pick(['imap', 'pop3', 'smtp', 'submission', 'ftp']), 'X-Dovecot-Auth-Remote': r.pick(['192.0.2.1:1234', '[2001:db8::1]:993', 'junk', '']),
    },
    body: r.next() < 0.2 ? mutateText(r, form) : form,
  };
}

describe(`fuzz (seed ${SEED}, ${COUNT} requests)`, () => {
  let dir: string;
  let services: Services;
  let app: ReturnType<typeof createApp>;
  let admin: string;
  let readOnly: string;
  let internal: string;
  let appPassword: string;
  let cookie: string;
  let csrf: string;

  const send = async (req: Req, seq: number): Promise<number> => {
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([, v]) => v !== ''));
    let timer: NodeJS.Timeout | undefined;
    const hang = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`hang: seed ${SEED} request ${seq} ${req.method} ${req.path}`)), HANG_MS); });
    try {
      const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : req.body as BodyInit | undefined;
      const res = await Promise.race([app.request(req.path, { method: req.method, headers, body }), hang]);
      await res.arrayBuffer();
      return res.status;
    } finally {
      clearTimeout(timer);
    }
  };
  const json = async (req: Req) => (await app.request(req.path, { method: req.method, headers: req.headers, body: req.body as BodyInit | undefined })).json();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'jmap-keys-fuzz-'));
    const config = loadConfig({ JMAP_KEYS_DATA: dir, JMAP_KEYS_PORT: '0', JMAP_KEYS_ADMIN_PASSWORD: 'fuzz-admin-password', JMAP_KEYS_REST_WRITES_PER_WINDOW: '1000000', JMAP_KEYS_REST_READS_PER_WINDOW: '1000000' });
    services = await createServices(config);
    app = createApp(services);
    admin = `Bearer ${(await bootstrapAdmin(services, config.adminPassword))!.apiKey}`;
    const ro = await json({ method: 'POST', path: '/api', headers: { Authorization: admin, 'Content-Type': 'application/json' }, body: JSON.stringify({
      using: USING, methodCalls: [['x:ApiKey/set', { create: { r: { description: 'read-only', permissions: { '@type': 'Replace', permissions: [
        'authenticate', 'jmapCoreEcho', 'sysApiKeyGet', 'sysApiKeyQuery', 'sysAppPasswordGet', 'sysAppPasswordQuery'] } } } }, 's']],
    }) });
    readOnly = `Bearer ${ro.methodResponses[0][1].created.r.secret}`;
    const rest = (scopes: string[]) => json({ method: 'POST', path: '/api/smtp-credentials', headers: { Authorization: admin, 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'n', scopes }) });
    internal = `Basic ${Buffer.from(`admin:${(await rest(['internal'])).apiKey}`).toString('base64')}`;
    appPassword = (await rest(['imap', 'smtp'])).apiKey;
    const login = await app.request('/web/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ login: 'admin', password: 'fuzz-admin-password' }) });
    cookie = /jk_session=[^;]+/.exec(login.headers.get('set-cookie') ?? '')?.[0] ?? '';
    csrf = ((await login.json()) as { csrfToken: string }).csrfToken;
  });
  afterAll(async () => {
    await services.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a read-only key writes nothing, whatever it sends; never a 5xx', async () => {
    const r = rng(SEED);
    const snapshot = async () => ({
      seq: [await services.store.state(1, 'apiKey'), await services.store.state(1, 'appPassword')],
      keys: await services.store.countCredentials(1, 'apiKey'), apps: await services.store.countCredentials(1, 'appPassword'),
    });
    const before = await snapshot();
    const fives: string[] = [];
    for (let i = 0; i < COUNT / 2; i++) {
      const req = r.next() < 0.8 ? jmapRequest(r, readOnly) : restRequest(r, readOnly);
      const status = await send(req, i);
      if (status >= 500) fives.push(`seed ${SEED} request ${i}: ${status} ${req.method} ${req.path}`);
    }
    expect(fives).toEqual([]);
    expect(await snapshot()).toEqual(before);
  }, 120_000);

  it('JMAP, REST, web and introspection with valid and broken credentials: never a 5xx', async () => {
    const r = rng(SEED + 1_000_003);
    const fives: string[] = [];
    for (let i = 0; i < COUNT / 2; i++) {
      const auth = r.next() < 0.9 ? admin : r.pick(['Bearer API_x', 'Basic Og==', 'Bearer', readOnly, `Basic ${Buffer.from(`admin:${appPassword}`).toString('base64')}`]);
      const face = r.next();
      const req = face < 0.5 ? jmapRequest(r, auth) : face < 0.75 ? restRequest(r, auth) : face < 0.9 ? webRequest(r, cookie, csrf) : introspectRequest(r, internal, appPassword);
      const status = await send(req, i);
      if (status >= 500) fives.push(`seed ${SEED} request ${i}: ${status} ${req.method} ${req.path}`);
    }
    expect(fives).toEqual([]);
  }, 120_000);
});
