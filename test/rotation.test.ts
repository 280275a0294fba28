import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, runBin } from './helpers/cli.js';
import { createAccount } from './helpers/accounts.js';
import { basic, bearer, startTestServer, type ApiBody, type TestServer } from './helpers/server.js';

/** Issue 15 point 3: rotation with a grace period, on REST, JMAP (x:…/rotate), the CLI and the audit trail. */
let s: TestServer;
const alice = basic('alice', 'alice-password');
const carol = basic('carol', 'carol-password');

beforeAll(async () => {
  s = await startTestServer({ JMAP_KEYS_REST_READS_PER_WINDOW: '1000', JMAP_KEYS_REST_WRITES_PER_WINDOW: '1000', JMAP_KEYS_MAX_APP_PASSWORDS_PER_ACCOUNT: '3' });
  await createAccount(s, 'alice', 'alice-password');
  await createAccount(s, 'carol', 'carol-password');
});
afterAll(async () => { await s.stop(); });

async function rest(method: string, path: string, auth: string, body?: unknown) {
  const headers: Record<string, string> = { Authorization: auth };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`${s.url}/api/smtp-credentials${path}`, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) as ApiBody : null };
}

/** Whether an app password (with api:read) is accepted: GET /api/smtp-credentials with it as Bearer. */
const appWorks = async (token: string) => (await rest('GET', '', bearer(token))).status === 200;
/** Whether an API key is accepted: Core/echo with it. */
const keyWorks = async (token: string) => (await s.api(bearer(token), [['Core/echo', {}, 'e']])).status === 200;

/** Polls until `check` is false (the grace ran out); the deadline only bounds a broken run. */
async function until(check: () => Promise<boolean>, deadlineMs = 15_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (await check()) {
    if (Date.now() > end) throw new Error('still accepted after the deadline');
    await new Promise((r) => setTimeout(r, 250));
  }
}

const secondsFromNow = (utc: string) => Math.round((Date.parse(utc) - Date.now()) / 1000);

describe('POST /api/smtp-credentials/{id}/rotate with graceSeconds', () => {
  it('keeps both secrets working during the grace, then only the new one', async () => {
    const made = await rest('POST', '', alice, { name: 'Laptop', scopes: ['imap', 'api:read'] });
    expect(made.status).toBe(201);
    const rotated = await rest('POST', `/${made.body.id}/rotate`, alice, { graceSeconds: 2 });
    expect(rotated.status).toBe(200);
    expect(rotated.body).toMatchObject({ name: 'Laptop', scopes: ['imap', 'api:read'], apiKey: expect.stringMatching(/^rm_/), previousId: made.body.id });
    expect(rotated.body.id).not.toBe(made.body.id);
    expect(secondsFromNow(rotated.body.previousExpiresAt)).toBeGreaterThanOrEqual(0);
    expect(secondsFromNow(rotated.body.previousExpiresAt)).toBeLessThanOrEqual(3);
    expect(await appWorks(made.body.apiKey)).toBe(true);
    expect(await appWorks(rotated.body.apiKey)).toBe(true);
    // The old one shows its shortened expiry.
    expect((await rest('GET', `/${made.body.id}`, alice)).body.expiresAt).toBe(rotated.body.previousExpiresAt);
    await until(() => appWorks(made.body.apiKey));
    expect(await appWorks(rotated.body.apiKey)).toBe(true);
    // The old one is now an ordinary expired credential: listed as inactive by id until it is revoked.
    expect((await rest('GET', `/${made.body.id}`, alice)).body.isActive).toBe(false);
    expect((await rest('GET', '', alice)).body.keys.map((k: ApiBody) => k.id)).toEqual([rotated.body.id]);
    await rest('DELETE', `/${made.body.id}`, alice);
    await rest('DELETE', `/${rotated.body.id}`, alice);
  });

  it('without a body or with graceSeconds 0 revokes the old one at once, as before', async () => {
    const made = await rest('POST', '', alice, { name: 'Phone', scopes: ['imap', 'api:read'] });
    const rotated = await rest('POST', `/${made.body.id}/rotate`, alice);
    expect(rotated.status).toBe(200);
    expect(await appWorks(made.body.apiKey)).toBe(false);
    expect((await rest('GET', `/${made.body.id}`, alice)).status).toBe(404);
    const again = await rest('POST', `/${rotated.body.id}/rotate`, alice, { graceSeconds: 0 });
    expect(again.status).toBe(200);
    expect(await appWorks(rotated.body.apiKey)).toBe(false);
    expect(await appWorks(again.body.apiKey)).toBe(true);
    await rest('DELETE', `/${again.body.id}`, alice);
  });

  it('never keeps the old one past its own expiry', async () => {
    const expiresAt = new Date(Date.now() + 600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const made = await rest('POST', '', carol, { name: 'Short', scopes: ['imap'], expiresAt });
    const rotated = await rest('POST', `/${made.body.id}/rotate`, carol, { graceSeconds: 86_400 });
    expect(rotated.status).toBe(200);
    expect(rotated.body.previousExpiresAt).toBe(expiresAt);
    expect(rotated.body.expiresAt).toBe(expiresAt);
    await rest('DELETE', `/${made.body.id}`, carol);
    await rest('DELETE', `/${rotated.body.id}`, carol);
  });

  it('refuses bad grace values precisely, and writes nothing', async () => {
    const made = await rest('POST', '', carol, { name: 'Bad', scopes: ['imap', 'api:read'] });
    for (const [body, message] of [
      [{ graceSeconds: -1 }, 'graceSeconds must be from 0 to 604800'],
      [{ graceSeconds: 604_801 }, 'graceSeconds must be from 0 to 604800 (7 days)'],
      [{ graceSeconds: 1.5 }, 'graceSeconds must be a whole number of seconds'],
      [{ graceSeconds: '1h' }, 'graceSeconds must be a number of seconds'],
    ] as const) {
      const res = await rest('POST', `/${made.body.id}/rotate`, carol, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body).toEqual({ error: 'invalid_request', message, field: 'graceSeconds' });
    }
    expect((await rest('POST', `/${made.body.id}/rotate`, carol, { grace: 5 })).body).toMatchObject({ error: 'invalid_request', message: 'Unknown field grace' });
    expect((await rest('POST', `/${made.body.id}/rotate`, carol, '{')).status).toBe(400);
    expect(await appWorks(made.body.apiKey)).toBe(true);
    expect((await rest('GET', '', carol)).body.keys).toHaveLength(1);
    await rest('DELETE', `/${made.body.id}`, carol);
  });

  it('at the quota, a grace rotation is refused (both would count) and a plain one still works', async () => {
    const ids: string[] = [];
    for (const name of ['a', 'b', 'c']) ids.push((await rest('POST', '', carol, { name, scopes: ['imap'] })).body.id);
    const refused = await rest('POST', `/${ids[0]}/rotate`, carol, { graceSeconds: 3600 });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toBe('over_quota');
    expect(refused.body.message).toMatch(/Rotate without a grace period/);
    expect((await rest('GET', '', carol)).body.keys).toHaveLength(3);
    const plain = await rest('POST', `/${ids[0]}/rotate`, carol, { graceSeconds: 0 });
    expect(plain.status).toBe(200);
    for (const id of [plain.body.id, ids[1], ids[2]]) await rest('DELETE', `/${id}`, carol);
  });
});

describe('x:ApiKey/rotate and x:AppPassword/rotate', () => {
  const createKey = async (auth: string, create: Record<string, unknown>) => {
    const r = await s.api(auth, [['x:ApiKey/set', { create: { k: { description: 'CI', ...create } } }, 's']]);
    return r.body.methodResponses[0][1].created.k as { id: string; secret: string };
  };

  it('issues a new key, keeps the old one for the grace, and audits graceSeconds', async () => {
    const key = await createKey(alice, {});
    const r = await s.api(alice, [['x:ApiKey/rotate', { id: key.id, graceSeconds: 3600 }, 'r']]);
    const [name, args] = r.body.methodResponses[0];
    expect(name).toBe('x:ApiKey/rotate');
    expect(args).toMatchObject({ accountId: expect.any(String), oldState: expect.any(String), newState: expect.any(String), id: expect.any(String),
      secret: expect.stringMatching(/^API_/), expiresAt: null, previousId: key.id });
    expect(Math.abs(secondsFromNow(args.previousExpiresAt) - 3600)).toBeLessThanOrEqual(2);
    expect(await keyWorks(key.secret)).toBe(true);
    expect(await keyWorks(args.secret)).toBe(true);
    const got = await s.api(alice, [['x:ApiKey/get', { ids: [key.id, args.id], properties: ['description', 'expiresAt'] }, 'g']]);
    expect(got.body.methodResponses[0][1].list).toEqual([
      { id: key.id, description: 'CI', expiresAt: args.previousExpiresAt }, { id: args.id, description: 'CI', expiresAt: null }]);

    const events = await s.api(alice, [['x:AuditEvent/query', { filter: { type: 'credential.rotated', credentialId: args.id } }, 'q'],
      ['x:AuditEvent/get', { '#ids': { resultOf: 'q', name: 'x:AuditEvent/query', path: '/ids' } }, 'g']], { using: ['urn:ietf:params:jmap:core', 'urn:jmap-keys:audit'] });
    expect(events.body.methodResponses[1][1].list).toEqual([expect.objectContaining({ credentialKind: 'apiKey', via: 'jmap',
      details: { description: 'CI', previousId: key.id, graceSeconds: 3600, previousExpiresAt: args.previousExpiresAt } })]);

    // Without a grace the old one goes at once.
    const now = await s.api(alice, [['x:ApiKey/rotate', { id: args.id }, 'r']]);
    expect(await keyWorks(args.secret)).toBe(false);
    expect(await keyWorks(now.body.methodResponses[0][1].secret)).toBe(true);
  });

  it('rotates app passwords with their scopes', async () => {
    const made = await rest('POST', '', alice, { name: 'Tablet', scopes: ['imap', 'api:read'] });
    const r = await s.api(alice, [['x:AppPassword/rotate', { id: made.body.id, graceSeconds: 60 }, 'r']]);
    const args = r.body.methodResponses[0][1];
    expect(args.secret).toMatch(/^rm_/);
    expect(await appWorks(made.body.apiKey)).toBe(true);
    expect((await rest('GET', `/${args.id}`, alice)).body).toMatchObject({ name: 'Tablet', scopes: ['imap', 'api:read'] });
    await rest('DELETE', `/${made.body.id}`, alice);
    await rest('DELETE', `/${args.id}`, alice);
  });

  it('keeps the policy: rights, wider limits, unknown ids and bad arguments', async () => {
    const wide = await createKey(alice, {});
    // A key that expires cannot rotate one that does not (the new one would outlive it).
    const soon = new Date(Date.now() + 86_400_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const restricted = await createKey(alice, { expiresAt: soon });
    const call = async (auth: string, args: Record<string, unknown>) => (await s.api(auth, [['x:ApiKey/rotate', args, 'r']])).body.methodResponses[0];
    expect(await call(bearer(restricted.secret), { id: wide.id })).toEqual(['error', { type: 'forbidden', description: expect.stringMatching(/^expiresAt may not be later/) }, 'r']);
    // Without the Destroy permission of the type: refused before anything is read.
    const noDestroy = await createKey(alice, { permissions: { '@type': 'Disable', permissions: ['sysApiKeyDestroy'] } });
    expect((await call(bearer(noDestroy.secret), { id: wide.id }))[1].type).toBe('forbidden');
    expect(await call(alice, { id: 'zzzz' })).toEqual(['error', { type: 'notFound', description: 'No x:ApiKey with id zzzz' }, 'r']);
    // Another account's key is not found, not rotated.
    expect((await call(carol, { id: wide.id }))[1].type).toBe('notFound');
    for (const bad of [{ id: wide.id, graceSeconds: 604_801 }, { id: wide.id, graceSeconds: -5 }, { id: wide.id, graceSeconds: '1h' }, { id: 5 }, { id: wide.id, extra: 1 }]) {
      expect((await call(alice, bad))[1].type, JSON.stringify(bad)).toBe('invalidArguments');
    }
    expect(await keyWorks(wide.secret)).toBe(true);
  });
});

describe('jmap-keys rotate', () => {
  it('rotates an API key with --grace 1h and an app password at once', async () => {
    const env = cleanEnv({ JMAP_KEYS_URL: s.url });
    const r = await s.api(alice, [['x:ApiKey/set', { create: { k: { description: 'Deploy' } } }, 's']]);
    const key = r.body.methodResponses[0][1].created.k as { id: string; secret: string };
    const run = await runBin(['rotate', 'api-key', key.id, '--grace', '1h', '--json', '--user', 'alice', '--password', 'alice-password'], env);
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout) as ApiBody;
    expect(out).toMatchObject({ previousId: key.id, secret: expect.stringMatching(/^API_/) });
    expect(Math.abs(secondsFromNow(out.previousExpiresAt) - 3600)).toBeLessThanOrEqual(5);
    expect(await keyWorks(key.secret)).toBe(true);
    expect(await keyWorks(out.secret)).toBe(true);

    const app = await rest('POST', '', alice, { name: 'Mail', scopes: ['imap', 'api:read'] });
    const plain = await runBin(['rotate', 'app-password', app.body.id, '--api-key', out.secret], env);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toContain(`Rotated AppPassword ${app.body.id}`);
    expect(plain.stdout).toContain('The old secret no longer works.');
    expect(plain.stderr).toContain('shown only once');
    expect(await appWorks(app.body.apiKey)).toBe(false);

    for (const grace of ['8d', '1w', '-1h', 'soon']) {
      const bad = await runBin(['rotate', 'api-key', key.id, '--grace', grace, '--api-key', out.secret], env);
      expect(bad.code, grace).toBe(2);
      expect(bad.stderr).toContain(`--grace ${grace}: a duration such as 30m, 1h or 7d`);
    }
    const missing = await runBin(['rotate', 'api-key', 'zzzz', '--api-key', out.secret], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('notFound');
  });
});
