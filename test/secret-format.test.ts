import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, bearer, startTestServer, type TestServer } from './helpers/server.js';

/**
 * The published secret format (spec/secret-format.md), checked the way a secret scanner would: with its own CRC32
 * and base62 written here from the spec, nothing imported from src/, against secrets the real server issues.
 */

// CRC-32/IEEE: reflected polynomial 0xEDB88320, initial value and final XOR 0xFFFFFFFF.
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(text: string): number {
  let crc = 0xffffffff;
  for (const byte of Buffer.from(text, 'ascii')) crc = (CRC_TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
const DIGITS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
function base62(n: number, width: number): string {
  let out = '';
  for (; n > 0; n = Math.floor(n / 62)) out = DIGITS[n % 62] + out;
  return out.padStart(width, '0');
}
const checksumHolds = (secret: string) => base62(crc32(secret.slice(0, -6)), 6) === secret.slice(-6);

const spec = readFileSync(new URL('../spec/secret-format.md', import.meta.url), 'utf8');
/** The regular expression the spec publishes (the code block under "## Regular expression"). */
const SPEC_RE = new RegExp(/## Regular expression\n\n```\n(.+)\n```/.exec(spec)?.[1] ?? 'missing');
/** The gitleaks rules, compiled as JavaScript regular expressions (the rules use the syntax both share). */
const gitleaks = readFileSync(new URL('../spec/gitleaks.toml', import.meta.url), 'utf8');
const RULES = Object.fromEntries([...gitleaks.matchAll(/id = "([^"]+)"[\s\S]*?regex = '''(.+)'''/g)].map((m) => [m[1] as string, new RegExp(m[2] as string, 'g')]));

/** Checks a secret as a scanner would: shape, checksum, and exactly one gitleaks rule, of its own kind. */
function expectWellFormed(secret: string, kind: 'api-key' | 'app-password') {
  expect(secret).toMatch(SPEC_RE);
  expect(checksumHolds(secret), secret).toBe(true);
  const hits = Object.entries(RULES).filter(([, re]) => [...`token = "${secret}"\n`.matchAll(re)].some((m) => m[1] === secret)).map(([id]) => id);
  expect(hits).toEqual([`jmap-keys-${kind}`]);
}

let s: TestServer;
beforeAll(async () => { s = await startTestServer({ JMAP_KEYS_REST_WRITES_PER_WINDOW: '1000' }); });
afterAll(async () => { await s.stop(); });

const rest = async (path: string, body: unknown) => {
  const res = await fetch(`${s.url}/api/smtp-credentials${path}`, { method: 'POST', headers: { Authorization: bearer(s.adminToken), 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return (await res.json()) as { id: string; apiKey: string };
};
const sessionStatus = async (auth: string) => (await fetch(`${s.url}/jmap/session`, { headers: { Authorization: auth } })).status;
async function authOutcomes(): Promise<Record<string, number>> {
  const text = await s.services.metrics.registry.metrics();
  return Object.fromEntries([...text.matchAll(/^jmap_keys_auth_outcomes_total\{outcome="refused",reason="([a-z-]+)"\} (\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
}

describe('the secret format of spec/secret-format.md', () => {
  it('has a checksum algorithm that is CRC-32/IEEE in base62', () => {
    expect(crc32('123456789')).toBe(0xcbf43926);
    for (const text of ['', 'API_', 'rm_abc', 'x'.repeat(100)]) expect(crc32(text)).toBe(zlibCrc32(text));
    expect(base62(0xffffffff, 6)).toBe('4gfFC3');
    expect(base62(0, 6)).toBe('000000');
  });

  it('publishes examples that verify, and a broken one that does not', () => {
    const examples = [...spec.matchAll(/^((?:API_|rm_)[0-9A-Za-z]{46})$/gm)].map((m) => m[1] as string);
    expect(examples).toHaveLength(4);
    for (const e of examples) expectWellFormed(e, e.startsWith('API_') ? 'api-key' : 'app-password');
    const broken = /Not well formed \(the checksum fails\): `([^`]+)`/.exec(spec)?.[1] as string;
    expect(broken).toMatch(SPEC_RE);
    expect(checksumHolds(broken)).toBe(false);
  });

  it('is what the server issues, on every face: API keys and app passwords, created and rotated', async () => {
    const issued: Array<[string, 'api-key' | 'app-password']> = [[s.adminToken, 'api-key']];
    const create = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, { description: `key ${i}` }]));
    const keys = await s.api(bearer(s.adminToken), [['x:ApiKey/set', { create }, 'a'], ['x:AppPassword/set', { create }, 'p']]);
    for (const k of Object.values(keys.body.methodResponses[0][1].created) as Array<{ secret: string }>) issued.push([k.secret, 'api-key']);
    for (const k of Object.values(keys.body.methodResponses[1][1].created) as Array<{ secret: string }>) issued.push([k.secret, 'app-password']);
    const made = await rest('', { name: 'Thunderbird', scopes: ['imap', 'smtp'] });
    issued.push([made.apiKey, 'app-password']);
    issued.push([(await rest(`/${made.id}/rotate`, {})).apiKey, 'app-password']);
    issued.push([(await rest('/mobile', { name: 'phone', platform: 'android', deviceId: 'd1' })).apiKey, 'app-password']);
    expect(issued).toHaveLength(44);
    for (const [secret, kind] of issued) expectWellFormed(secret, kind);
    // Every secret is different, and so is every lookup prefix.
    expect(new Set(issued.map(([t]) => t.replace(/^(API_|rm_)/, '').slice(0, 12))).size).toBe(issued.length);
  });

  it('refuses a secret whose checksum fails before any lookup, as malformed; a well-formed unknown one is unknown', async () => {
    const key = (await s.api(bearer(s.adminToken), [['x:ApiKey/set', { create: { k: { description: 'typo' } } }, 'c']])).body.methodResponses[0][1].created.k.secret as string;
    // One character of the body mistyped: the checksum no longer holds.
    const i = 10;
    const typo = key.slice(0, i) + (key[i] === 'a' ? 'b' : 'a') + key.slice(i + 1);
    expect(checksumHolds(typo)).toBe(false);
    // Made up, with a checksum that holds: it takes a lookup to refuse it.
    const body = `API_${'Q'.repeat(40)}`;
    const madeUp = body + base62(crc32(body), 6);
    expect(checksumHolds(madeUp)).toBe(true);

    const before = await authOutcomes();
    expect(await sessionStatus(bearer(typo))).toBe(401);
    const app = await rest('', { name: 'typo app', scopes: ['api:read'] });
    const appTypo = app.apiKey.slice(0, -1) + (app.apiKey.endsWith('0') ? '1' : '0');
    expect(await sessionStatus(basic('admin', appTypo))).toBe(401); // refused as a token, never tried as the account password
    const afterTypos = await authOutcomes();
    expect((afterTypos.malformed ?? 0) - (before.malformed ?? 0)).toBe(2);
    expect(afterTypos['bad-password'] ?? 0).toBe(before['bad-password'] ?? 0);
    expect(await sessionStatus(bearer(madeUp))).toBe(401);
    expect(((await authOutcomes()).unknown ?? 0) - (before.unknown ?? 0)).toBe(1);
    // The real ones still work.
    expect(await sessionStatus(bearer(key))).toBe(200);
    expect(await sessionStatus(basic('admin', app.apiKey))).toBe(200);
  });

  it('keeps secrets of the format before the checksum working (base64url, no checksum), and reportable', async () => {
    const admin = await s.services.store.accountByLogin('admin');
    const legacy = async (prefix: string, kind: 'apiKey' | 'appPassword', scopes: string[] | null) => {
      const token = `${prefix}${randomBytes(30).toString('base64url')}`;
      const row = await s.services.store.insertCredential({
        accountId: admin?.id as number, kind, description: `legacy ${kind}`, locator: token.slice(prefix.length, prefix.length + 12),
        secretHash: createHmac('sha256', s.services.serverKey).update(token).digest(), createdAt: Math.floor(Date.now() / 1000),
        expiresAt: null, permissionsMode: 'Inherit', permissions: [], allowedIps: [], scopes, platform: null, deviceId: null,
      }, 1000);
      expect(row).not.toBe('overQuota');
      return token;
    };
    const oldKey = await legacy('API_', 'apiKey', null);
    const oldApp = await legacy('rm_', 'appPassword', ['api:read']);
    expect(oldKey).toMatch(/^API_[A-Za-z0-9_-]{40}$/);
    expect(await sessionStatus(bearer(oldKey))).toBe(200);
    expect(await sessionStatus(basic('admin', oldApp))).toBe(200);
    // Another secret behind the same lookup prefix is refused.
    expect(await sessionStatus(bearer(`${oldKey.slice(0, 16)}${'A'.repeat(28)}`))).toBe(401);
    const reported = await fetch(`${s.url}/api/leaked-credentials`, { method: 'POST', body: JSON.stringify([{ token: oldKey }, { token: oldApp }]) });
    expect(reported.status).toBe(202);
    expect(await sessionStatus(bearer(oldKey))).toBe(401);
    expect(await sessionStatus(basic('admin', oldApp))).toBe(401);
  });
});

describe('a failing checksum counts as a failed attempt', () => {
  let t: TestServer;
  beforeAll(async () => { t = await startTestServer({ JMAP_KEYS_AUTH_MAX_FAILURES: '3', JMAP_KEYS_AUTH_WINDOW_SECONDS: '3600' }); });
  afterAll(async () => { await t.stop(); });

  it('is throttled like any unknown token, while the valid key is never refused', async () => {
    const typo = (n: number) => { const body = `API_${String(n).repeat(40).slice(0, 40)}`; return body + base62((crc32(body) + 1) % 2 ** 32, 6); };
    const status = async (token: string) => (await fetch(`${t.url}/jmap/session`, { headers: { Authorization: bearer(token) } })).status;
    for (let n = 1; n <= 3; n++) expect(await status(typo(n))).toBe(401);
    expect(await status(typo(4))).toBe(429);
    expect(await status(t.adminToken)).toBe(200);
  });
});
