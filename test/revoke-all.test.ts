import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { startServer, type RunningServer } from '../src/server.js';
import { cleanEnv, runBin } from './helpers/cli.js';
import { createAccount } from './helpers/accounts.js';
import { basic, bearer, startTestServer, USING, type ApiBody, type TestServer } from './helpers/server.js';

/** Issue 15 point 6: revoke every API key / app password of an account at once, on every face. */
let s: TestServer;
/** A second node on the same store: it must refuse the revoked credentials at once too. */
let other: RunningServer;

beforeAll(async () => {
  s = await startTestServer({ JMAP_KEYS_REST_READS_PER_WINDOW: '1000', JMAP_KEYS_REST_WRITES_PER_WINDOW: '1000' });
  other = await startServer(loadConfig({ ...s.storeEnv, JMAP_KEYS_PORT: '0', JMAP_KEYS_LAST_USED_FLUSH_MS: '50' }));
  for (const login of ['alice', 'bob', 'dave', 'erin']) await createAccount(s, login, `${login}-password`);
});
afterAll(async () => {
  await other.close();
  await s.stop();
});

const auth = (login: string) => basic(login, `${login}-password`);

async function api(url: string, authz: string, calls: unknown[], using = USING) {
  const res = await fetch(`${url}/api`, { method: 'POST', headers: { Authorization: authz, 'Content-Type': 'application/json' }, body: JSON.stringify({ using, methodCalls: calls }) });
  return { status: res.status, body: await res.json() as ApiBody };
}

async function makeKeys(login: string, n: number): Promise<{ id: string; secret: string }[]> {
  const create = Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, { description: `key ${i}` }]));
  const r = await api(s.url, auth(login), [['x:ApiKey/set', { create }, 's']]);
  return Object.values(r.body.methodResponses[0][1].created as Record<string, { id: string; secret: string }>);
}

async function makeApps(login: string, n: number): Promise<{ id: string; apiKey: string }[]> {
  const out = [];
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${s.url}/api/smtp-credentials`, { method: 'POST', headers: { Authorization: auth(login), 'Content-Type': 'application/json' }, body: JSON.stringify({ name: `app ${i}`, scopes: ['imap', 'api:read'] }) });
    out.push(await res.json() as { id: string; apiKey: string });
  }
  return out;
}

/** Accepted on both nodes (Core/echo for an API key, the REST list for an app password)? */
async function works(token: string): Promise<[boolean, boolean]> {
  const one = async (url: string) => token.startsWith('API_')
    ? (await api(url, bearer(token), [['Core/echo', {}, 'e']])).status === 200
    : (await fetch(`${url}/api/smtp-credentials`, { headers: { Authorization: bearer(token) } })).status === 200;
  return [await one(s.url), await one(other.url)];
}

async function auditOf(login: string, type: string, authz = auth(login)) {
  const r = await api(s.url, authz, [['x:AuditEvent/query', { filter: { type }, sort: [{ property: 'id', isAscending: true }] }, 'q'],
    ['x:AuditEvent/get', { '#ids': { resultOf: 'q', name: 'x:AuditEvent/query', path: '/ids' } }, 'g']], ['urn:ietf:params:jmap:core', 'urn:jmap-keys:audit']);
  return r.body.methodResponses[1][1].list as ApiBody[];
}

describe('x:ApiKey/revokeAll and x:AppPassword/revokeAll', () => {
  it('revokes every API key but the one in use, on every node at once; includeCurrent takes that one too', async () => {
    const keys = await makeKeys('alice', 3);
    for (const k of keys) expect(await works(k.secret)).toEqual([true, true]);
    const [current, ...rest] = keys as [{ id: string; secret: string }, ...{ id: string; secret: string }[]];
    const r = await api(s.url, bearer(current.secret), [['x:ApiKey/revokeAll', {}, 'r']]);
    const [name, args] = r.body.methodResponses[0];
    expect(name).toBe('x:ApiKey/revokeAll');
    expect(args).toEqual({ accountId: expect.any(String), oldState: expect.any(String), newState: expect.any(String),
      destroyed: rest.map((k) => k.id).sort(), notDestroyed: { [current.id]: { type: 'forbidden', description: expect.stringMatching(/includeCurrent: true/) } } });
    expect(Number(args.newState)).toBeGreaterThan(Number(args.oldState));
    for (const k of rest) expect(await works(k.secret)).toEqual([false, false]);
    expect(await works(current.secret)).toEqual([true, true]);

    // The standard /changes sees each destruction.
    const changes = await api(other.url, auth('alice'), [['x:ApiKey/changes', { sinceState: args.oldState }, 'c']]);
    expect(changes.body.methodResponses[0][1].destroyed.sort()).toEqual(rest.map((k) => k.id).sort());

    const all = await api(other.url, bearer(current.secret), [['x:ApiKey/revokeAll', { includeCurrent: true }, 'r']]);
    expect(all.body.methodResponses[0][1]).toMatchObject({ destroyed: [current.id], notDestroyed: {} });
    expect(await works(current.secret)).toEqual([false, false]);

    // One audit event per credential, marked as a revoke-all.
    const events = await auditOf('alice', 'credential.destroyed');
    expect(events.map((e) => e.credentialId).sort()).toEqual(keys.map((k) => k.id).sort());
    for (const e of events) expect(e).toMatchObject({ credentialKind: 'apiKey', via: 'jmap', details: { revokedBy: 'revokeAll' } });
  });

  it('revokes every app password (the API keys stay) and leaves other accounts alone', async () => {
    const apps = await makeApps('bob', 2);
    const [key] = await makeKeys('bob', 1);
    const [aliceApp] = await makeApps('alice', 1);
    const r = await api(s.url, auth('bob'), [['x:AppPassword/revokeAll', {}, 'r']]);
    expect(r.body.methodResponses[0][1]).toMatchObject({ destroyed: apps.map((a) => a.id).sort(), notDestroyed: {} });
    for (const a of apps) expect(await works(a.apiKey)).toEqual([false, false]);
    expect(await works(key!.secret)).toEqual([true, true]);
    expect(await works(aliceApp!.apiKey)).toEqual([true, true]);
    // Nothing left: an empty answer, not an error.
    expect((await api(s.url, auth('bob'), [['x:AppPassword/revokeAll', {}, 'r']])).body.methodResponses[0][1]).toMatchObject({ destroyed: [], notDestroyed: {} });
  });

  it('needs the Destroy permission, checks its arguments, and reaches another account only with impersonate', async () => {
    const made = await api(s.url, auth('bob'), [['x:ApiKey/set', { create: { k: { description: 'no destroy', permissions: { '@type': 'Disable', permissions: ['sysApiKeyDestroy'] } } } }, 's']]);
    const limited = made.body.methodResponses[0][1].created.k as { id: string; secret: string };
    const call = async (authz: string, args: Record<string, unknown>) => (await api(s.url, authz, [['x:ApiKey/revokeAll', args, 'r']])).body.methodResponses[0];
    expect((await call(bearer(limited.secret), {}))[1].type).toBe('forbidden');
    expect(await works(limited.secret)).toEqual([true, true]);
    expect((await call(auth('bob'), { includeCurrent: 'yes' }))[1].type).toBe('invalidArguments');
    expect((await call(auth('bob'), { all: true }))[1].type).toBe('invalidArguments');
    const [aliceKey] = await makeKeys('alice', 1);
    const session = await fetch(`${s.url}/jmap/session`, { headers: { Authorization: auth('alice') } }).then((x) => x.json()) as ApiBody;
    const aliceId = session.primaryAccounts['urn:stalwart:jmap'] as string;
    expect((await call(auth('bob'), { accountId: aliceId }))[1].type).toBe('forbidden');
    expect(await works(aliceKey!.secret)).toEqual([true, true]);
    // The administrator (impersonate) may.
    const admin = await call(bearer(s.adminToken), { accountId: aliceId });
    expect(admin[1].destroyed).toEqual([aliceKey!.id]);
  });
});

describe('internal credentials', () => {
  it('a caller without internal can neither rotate nor revoke-all them: they are kept and listed', async () => {
    const admin = basic('admin', s.adminPassword);
    const res = await fetch(`${s.url}/api/smtp-credentials`, { method: 'POST', headers: { Authorization: admin, 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'dovecot', scopes: ['internal'] }) });
    expect(res.status).toBe(201);
    const internal = await res.json() as { id: string; apiKey: string };
    const plain = await fetch(`${s.url}/api/smtp-credentials`, { method: 'POST', headers: { Authorization: admin, 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'phone', scopes: ['imap'] }) }).then((r) => r.json()) as { id: string };
    // An admin key that is not Inherit and has no internal scope does not hold internal.
    const made = await api(s.url, admin, [['x:ApiKey/set', { create: { k: { description: 'narrow', permissions: { '@type': 'Disable', permissions: ['emailSend'] } } } }, 's']]);
    const narrow = made.body.methodResponses[0][1].created.k as { secret: string };
    const rotate = await api(s.url, bearer(narrow.secret), [['x:AppPassword/rotate', { id: internal.id, graceSeconds: 60 }, 'r']]);
    expect(rotate.body.methodResponses[0]).toEqual(['error', { type: 'forbidden', description: expect.stringMatching(/internal scope/) }, 'r']);
    const restRotate = await fetch(`${s.url}/api/smtp-credentials/${internal.id}/rotate`, { method: 'POST', headers: { Authorization: bearer(narrow.secret) } });
    expect(restRotate.status).toBe(403);
    const all = await api(s.url, bearer(narrow.secret), [['x:AppPassword/revokeAll', {}, 'r']]);
    expect(all.body.methodResponses[0][1]).toMatchObject({ destroyed: [plain.id], notDestroyed: { [internal.id]: { type: 'forbidden' } } });
    expect((await s.services.authenticator.verifyToken(internal.apiKey, '127.0.0.1', ['appPassword'], 'imap')).ok).toBe(true);
    // The administrator's password holds internal: then it goes too.
    const full = await api(s.url, admin, [['x:AppPassword/revokeAll', {}, 'r']]);
    expect(full.body.methodResponses[0][1]).toMatchObject({ destroyed: [internal.id], notDestroyed: {} });
  });
});

describe('the CLI and password changes', () => {
  const env = () => cleanEnv({ ...s.storeEnv, JMAP_KEYS_URL: s.url });

  it('jmap-keys revoke-all app-passwords --login (local) and api-keys (remote)', async () => {
    const apps = await makeApps('dave', 2);
    const keys = await makeKeys('dave', 2);
    const local = await runBin(['revoke-all', 'app-passwords', '--login', 'dave'], env());
    expect(local.code, local.stderr).toBe(0);
    expect(local.stdout).toMatch(/^Revoked 2 app passwords of dave \(/);
    for (const a of apps) expect(await works(a.apiKey)).toEqual([false, false]);
    const events = await auditOf('dave', 'credential.destroyed');
    expect(events.filter((e) => e.credentialKind === 'appPassword')).toEqual(apps.map(() => expect.objectContaining({ via: 'cli', details: expect.objectContaining({ revokedBy: 'revokeAll' }) })));

    const remote = await runBin(['revoke-all', 'api-keys', '--api-key', keys[0]!.secret, '--json'], env());
    expect(remote.code, remote.stderr).toBe(0);
    expect(JSON.parse(remote.stdout)).toEqual({ destroyed: [keys[1]!.id], notDestroyed: { [keys[0]!.id]: expect.objectContaining({ type: 'forbidden' }) } });
    const all = await runBin(['revoke-all', 'api-keys', '--api-key', keys[0]!.secret, '--include-current'], env());
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toContain('Revoked 1 API key');
    expect(await works(keys[0]!.secret)).toEqual([false, false]);

    expect((await runBin(['revoke-all', 'passwords', '--login', 'dave'], env())).code).toBe(2);
    expect((await runBin(['revoke-all', 'api-keys', '--login', 'nobody'], env())).code).toBe(1);
    const mixed = await runBin(['revoke-all', 'api-keys', '--login', 'dave', '--include-current'], env());
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toContain('--login works on the database itself');
  });

  it('jmap-keys account passwd --revoke-credentials revokes both kinds with the password change', async () => {
    const apps = await makeApps('erin', 1);
    const keys = await makeKeys('erin', 2);
    const run = await runBin(['account', 'passwd', 'erin', '--password', 'erin-password', '--revoke-credentials'], env());
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('Revoked 2 API keys and 1 app password');
    for (const t of [...keys.map((k) => k.secret), ...apps.map((a) => a.apiKey)]) expect(await works(t)).toEqual([false, false]);
    const changed = await auditOf('erin', 'account.passwordChanged');
    expect(changed.at(-1)).toMatchObject({ via: 'cli', details: { login: 'erin', revokeCredentials: true } });
    const destroyed = await auditOf('erin', 'credential.destroyed');
    expect(destroyed).toHaveLength(3);
    for (const e of destroyed) expect(e.details.revokedBy).toBe('passwordChange');
  });

  it('the page\'s password change may revoke every credential; its own session keeps working', async () => {
    const apps = await makeApps('erin', 1);
    const keys = await makeKeys('erin', 1);
    const login = await fetch(`${s.url}/web/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ login: 'erin', password: 'erin-password' }) });
    const { csrfToken } = await login.json() as { csrfToken: string };
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
    const change = async (body: unknown) => fetch(`${s.url}/web/password`, { method: 'POST', headers: { Cookie: cookie, 'X-CSRF-Token': csrfToken, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const bad = await change({ currentPassword: 'erin-password', newPassword: 'erin-password-2', revokeCredentials: 'yes' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ field: 'revokeCredentials' });
    expect(await works(keys[0]!.secret)).toEqual([true, true]);

    const res = await change({ currentPassword: 'erin-password', newPassword: 'erin-password-2', revokeCredentials: true });
    expect(res.status).toBe(200);
    const body = await res.json() as ApiBody;
    expect(body.revoked).toEqual({ apiKeys: 1, appPasswords: 1, kept: 0 });
    expect(await works(keys[0]!.secret)).toEqual([false, false]);
    expect(await works(apps[0]!.apiKey)).toEqual([false, false]);
    // The page's new cookie still reaches JMAP.
    const newCookie = (res.headers.get('set-cookie') ?? '').split(';')[0] as string;
    const page = await fetch(`${s.url}/api`, { method: 'POST', headers: { Cookie: newCookie, 'X-CSRF-Token': body.csrfToken, 'Content-Type': 'application/json' },
      body: JSON.stringify({ using: USING, methodCalls: [['x:ApiKey/query', {}, 'q']] }) });
    expect(page.status).toBe(200);
    expect(((await page.json()) as ApiBody).methodResponses[0][1].ids).toEqual([]);
    const destroyed = (await auditOf('erin', 'credential.destroyed', basic('erin', 'erin-password-2'))).slice(-2);
    for (const e of destroyed) expect(e).toMatchObject({ via: 'web', details: { revokedBy: 'passwordChange' } });
  });
});
