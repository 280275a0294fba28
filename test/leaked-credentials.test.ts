import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { startServer, type RunningServer } from '../src/server.js';
import { decodeId } from '../src/util/ids.js';
import { createAccount } from './helpers/accounts.js';
import { basic, bearer, startTestServer, type TestServer } from './helpers/server.js';

/** POST /api/leaked-credentials: anyone reports, live credentials die at once everywhere, the answer tells nothing. */
let s: TestServer;
let internal: string;
let aliceId: string;
const alice = basic('alice', 'alice-password');

const report = (url: string, body: unknown, headers: Record<string, string> = {}) => fetch(`${url}/api/leaked-credentials`, {
  method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body),
});
/** What GitHub's secret scanning posts for one match. */
const found = (token: string, url = 'https://github.com/octo/repo/blob/abc123/config.env', type = 'jmap_keys_api_key') =>
  ({ token, type, url, source: 'content' });

async function apiKey(auth: string, description: string): Promise<{ id: string; secret: string }> {
  const res = await s.api(auth, [['x:ApiKey/set', { create: { k: { description } } }, 'c']]);
  return res.body.methodResponses[0][1].created.k as { id: string; secret: string };
}
async function restCreate(auth: string, body: unknown): Promise<{ id: string; apiKey: string }> {
  const res = await fetch(`${s.url}/api/smtp-credentials`, { method: 'POST', headers: { Authorization: auth, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.status).toBe(201);
  return res.json() as Promise<{ id: string; apiKey: string }>;
}
const sessionStatus = async (url: string, token: string) => (await fetch(`${url}/jmap/session`, { headers: { Authorization: bearer(token) } })).status;
async function introspect(token: string): Promise<{ active: boolean }> {
  const res = await fetch(`${s.url}/internal/introspect`, {
    method: 'POST', headers: { Authorization: bearer(internal), 'Content-Type': 'application/x-www-form-urlencoded', 'X-Dovecot-Auth-Service': 'imap' },
    body: new URLSearchParams({ token }).toString(),
  });
  return res.json() as Promise<{ active: boolean }>;
}
async function leakEvents(): Promise<Array<Record<string, unknown>>> {
  const store = s.services.store;
  const filter = { accountId: null, types: ['credential.leaked' as const] };
  return (await store.auditByIds(filter, await store.queryAudit(filter, true, 0, 100))) as unknown as Array<Record<string, unknown>>;
}

beforeAll(async () => {
  s = await startTestServer({ JMAP_KEYS_REST_WRITES_PER_WINDOW: '1000', JMAP_KEYS_LEAK_REPORTS_PER_WINDOW: '1000' });
  aliceId = await createAccount(s, 'alice', 'alice-password');
  internal = (await restCreate(bearer(s.adminToken), { name: 'dovecot', scopes: ['internal'] })).apiKey;
});
afterAll(async () => { await s.stop(); });

describe('POST /api/leaked-credentials', () => {
  it('revokes a reported API key at once: its next use is refused, and the audit trail says where it was found', async () => {
    const key = await apiKey(alice, 'CI deploy');
    expect(await sessionStatus(s.url, key.secret)).toBe(200); // used, so any cache holds it
    const res = await report(s.url, [found(key.secret)]); // no Authorization: open to anyone
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ received: 1 });
    expect(await sessionStatus(s.url, key.secret)).toBe(401);
    const call = await s.api(bearer(key.secret), [['x:ApiKey/get', {}, 'g']]);
    expect(call.status).toBe(401);
    // Gone for its owner too.
    const listed = await s.api(alice, [['x:ApiKey/get', { ids: [key.id] }, 'g']]);
    expect(listed.body.methodResponses[0][1].notFound).toEqual([key.id]);

    const events = (await leakEvents()).filter((e) => e.credentialId === decodeId(key.id));
    expect(events).toEqual([expect.objectContaining({
      type: 'credential.leaked', accountId: decodeId(aliceId),
      credentialKind: 'apiKey', actorAccountId: null, actorCredentialId: null, via: 'leak-report', clientAddress: '127.0.0.1',
      details: expect.objectContaining({
        description: 'CI deploy', login: 'alice', url: 'https://github.com/octo/repo/blob/abc123/config.env', source: 'content',
        reportedType: 'jmap_keys_api_key', revoked: true,
      }),
    })]);
    expect(JSON.stringify(events)).not.toContain(key.secret);
  });

  it('revokes a reported app password: the mail server\'s introspection says inactive at once', async () => {
    const mail = await restCreate(alice, { name: 'Thunderbird', scopes: ['imap', 'smtp'] });
    expect(await introspect(mail.apiKey)).toMatchObject({ active: true });
    expect((await report(s.url, [found(mail.apiKey, 'https://gist.github.com/x/1', 'jmap_keys_app_password')])).status).toBe(202);
    expect(await introspect(mail.apiKey)).toEqual({ active: false });
    const events = (await leakEvents()).filter((e) => e.credentialId === decodeId(mail.id));
    expect(events).toEqual([expect.objectContaining({ credentialKind: 'appPassword', details: expect.objectContaining({ description: 'Thunderbird', url: 'https://gist.github.com/x/1' }) })]);
  });

  it('dies on every node at once: a second node on the same store refuses it right after the report', async () => {
    const config = loadConfig({ ...s.storeEnv, JMAP_KEYS_PORT: '0', JMAP_KEYS_LAST_USED_FLUSH_MS: '50' });
    const other: RunningServer = await startServer(config);
    try {
      const key = await apiKey(alice, 'two nodes');
      expect(await sessionStatus(other.url, key.secret)).toBe(200);
      expect((await report(s.url, [found(key.secret)])).status).toBe(202);
      expect(await sessionStatus(other.url, key.secret)).toBe(401);
    } finally {
      await other.close();
    }
  });

  it('answers the same whatever the tokens were: live, already revoked, made up, malformed', async () => {
    const live = await apiKey(alice, 'live');
    const revoked = await apiKey(alice, 'revoked');
    await s.api(alice, [['x:ApiKey/set', { destroy: [revoked.id] }, 'd']]);
    const madeUp = `${live.secret.slice(0, 4)}${'A'.repeat(40)}`; // a checksum that fails
    const cases = [live.secret, revoked.secret, madeUp, `API_${'x'.repeat(40)}`, 'rm_nope', 'not a token at all'];
    const answers = [];
    for (const token of cases) {
      const res = await report(s.url, [found(token)]);
      answers.push({ status: res.status, type: res.headers.get('content-type'), body: await res.text() });
    }
    for (const a of answers) expect(a).toEqual(answers[0]);
    expect(answers[0]).toEqual({ status: 202, type: expect.stringContaining('application/json'), body: '{"received":1}' });
    expect(await sessionStatus(s.url, live.secret)).toBe(401);
    // A batch counts its entries, whatever they were; a repeated token is revoked once.
    const batch = await apiKey(alice, 'batch');
    const res = await report(s.url, [found(batch.secret), found(batch.secret), found('rm_x')]);
    expect(await res.json()).toEqual({ received: 3 });
    expect((await leakEvents()).filter((e) => e.credentialId === decodeId(batch.id))).toHaveLength(1);
  });

  it('refuses bad bodies with 400 or 413 and a JSON error, revoking nothing', async () => {
    const key = await apiKey(alice, 'survives bad reports');
    const cases: Array<[unknown, number, RegExp]> = [
      ['{not json', 400, /JSON array/],
      [{ token: key.secret }, 400, /JSON array/],
      [[{ url: 'https://x' }], 400, /entry 0: token is required/],
      [[found(key.secret), { token: 42 }], 400, /entry 1: token must be a string/],
      [[{ ...found(key.secret), url: 'https://x/\u0000' }], 400, /entry 0: url must not hold control characters/],
      [[{ ...found(key.secret), url: `https://x/${'a'.repeat(3000)}` }], 400, /entry 0: url must be 2048 characters or less/],
      [[found('')], 400, /entry 0: token must not be empty/],
      [Array.from({ length: 1001 }, () => ({ token: 'rm_x' })), 400, /at most 1000 entries/],
      [[{ token: key.secret, url: 'x'.repeat(2000) }, ...Array.from({ length: 300 }, () => found('y'.repeat(500), 'z'.repeat(2000)))], 413, /larger than 524288 bytes/],
    ];
    for (const [body, status, message] of cases) {
      const res = await report(s.url, body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(status);
      const json = await res.json() as { error: string; message: string };
      expect(json.message).toMatch(message);
      expect(json.error).toBe(status === 413 ? 'too_large' : 'invalid_request');
    }
    const bytes = await fetch(`${s.url}/api/leaked-credentials`, { method: 'POST', body: Buffer.from([0x5b, 0xff, 0x5d]) });
    expect(bytes.status).toBe(400);
    expect((await fetch(`${s.url}/api/leaked-credentials`)).status).toBe(405);
    expect(await sessionStatus(s.url, key.secret)).toBe(200);
  });
});

describe('POST /api/leaked-credentials rate limit', () => {
  let limited: TestServer;
  beforeAll(async () => { limited = await startTestServer({ JMAP_KEYS_LEAK_REPORTS_PER_WINDOW: '3', JMAP_KEYS_REST_WINDOW_SECONDS: '3600' }); });
  afterAll(async () => { await limited.stop(); });

  it('answers 429 with Retry-After past the limit per client address, counted in the store', async () => {
    for (let i = 0; i < 3; i++) expect((await report(limited.url, [found('rm_x')])).status).toBe(202);
    // Another node on the same store counts with it.
    const other = await startServer(loadConfig({ ...limited.storeEnv, JMAP_KEYS_PORT: '0', JMAP_KEYS_LEAK_REPORTS_PER_WINDOW: '3', JMAP_KEYS_REST_WINDOW_SECONDS: '3600' }));
    try {
      const res = await report(other.url, [found(limited.adminToken)]);
      expect(res.status).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await res.json()).toMatchObject({ error: 'rate_limited' });
    } finally {
      await other.close();
    }
    // Refused before reading: the reported admin key was not revoked.
    expect(await sessionStatus(limited.url, limited.adminToken)).toBe(200);
  });
});

describe('README "Leaked secrets", run as written', () => {
  it('reports a key with curl: {"received":1}, then the key is refused', async () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const start = readme.indexOf('## Leaked secrets');
    const section = readme.slice(start, readme.indexOf('\n## ', start + 3));
    const blocks = [...section.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1] as string);
    expect(blocks).toHaveLength(1);
    const key = await apiKey(bearer(s.adminToken), 'Example');
    const env = { ...process.env as Record<string, string>, JMAP_KEYS_URL: s.url, TOKEN: s.adminToken, LEAKED: key.secret };
    const { stdout } = await promisify(execFile)('bash', ['-e', '-c', blocks[0] as string], { env });
    expect(stdout).toBe('{"received":1}\n401\n');
    const events = (await leakEvents()).filter((e) => e.credentialId === decodeId(key.id));
    expect(events).toEqual([expect.objectContaining({ details: expect.objectContaining({ url: 'https://github.com/octo/app/blob/4f2a9c1/.env', source: 'content', reportedType: 'jmap_keys_api_key' }) })]);
  });
});
