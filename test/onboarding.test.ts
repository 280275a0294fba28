import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from './helpers/accounts.js';
import { cleanEnv, runBin } from './helpers/cli.js';
import { basic, bearer, startTestServer, type TestServer } from './helpers/server.js';

let s: TestServer;
const alice = basic('alice', 'alice-password');

beforeAll(async () => {
  s = await startTestServer({ JMAP_KEYS_MAIL_HOSTNAME: 'mail.example.com', JMAP_KEYS_REST_WRITES_PER_WINDOW: '1000' });
  await createAccount(s, 'alice', 'alice-password');
});
afterAll(async () => { await s.stop(); });

const rest = async (method: string, path: string, auth: string, body?: unknown) => {
  const res = await fetch(`${s.url}/api/smtp-credentials${path}`, {
    method, headers: { Authorization: auth, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
};
const getApp = async (id: string) => (await s.api(alice, [['x:AppPassword/get', { ids: [id] }, 'g']])).body.methodResponses[0][1].list[0];
const restKey = async (id: string) => (await rest('GET', `/${id}`, alice)).body;

describe('one credential, one description (issue 14, point 5)', () => {
  it('an app password made over JMAP with default rights has the same scopes on every face, and they decide what it may do', async () => {
    const made = await s.api(alice, [['x:AppPassword/set', { create: { a: { description: 'inherit' } } }, 'c']]);
    const created = made.body.methodResponses[0][1].created.a;
    expect(created.scopes).toEqual(['app']);
    expect((await getApp(created.id)).scopes).toEqual(['app']);
    expect((await restKey(created.id)).scopes).toEqual(['app']);
    // `app` = the account's own rights: it works as Bearer on the APIs, as introspection and Dovecot would admit it.
    expect((await rest('GET', '', bearer(created.secret))).status).toBe(200);
    const jmapAsBearer = await s.api(bearer(created.secret), [['x:AppPassword/get', { ids: [created.id] }, 'g']]);
    expect(jmapAsBearer.status).toBe(200);

    const cliAlice = await runBin(['get', 'app-password', created.id], cleanEnv({ JMAP_KEYS_URL: s.url, JMAP_KEYS_TOKEN: created.secret }));
    expect(cliAlice.code, cliAlice.stderr).toBe(0);
    expect(cliAlice.stdout).toMatch(/^Scopes:\s+app$/m);
  });

  it('scopes are settable over JMAP: they decide the permissions; permissions edited alone re-derive the scopes', async () => {
    const made = await s.api(alice, [['x:AppPassword/set', { create: { m: { description: 'mail', scopes: ['imap', 'smtp'] } } }, 'c']]);
    const key = made.body.methodResponses[0][1].created.m;
    expect(key.scopes).toEqual(['imap', 'smtp']);
    expect(key.permissions).toEqual({ '@type': 'Replace', permissions: expect.arrayContaining(['authenticate', 'imapAuthenticate', 'emailSend']) });
    expect((await restKey(key.id)).scopes).toEqual(['imap', 'smtp']);
    // A mail-only password is no API credential, on every face.
    expect((await rest('GET', '', bearer(key.secret))).status).toBe(401);

    const edit = await s.api(alice, [['x:AppPassword/set', { update: { [key.id]: { permissions: { '@type': 'Replace', permissions: ['authenticate', 'pop3Authenticate'] } } } }, 'u']]);
    expect(edit.body.methodResponses[0][1].updated[key.id]).toMatchObject({ scopes: ['pop3'] });
    expect((await restKey(key.id)).scopes).toEqual(['pop3']);

    const both = await s.api(alice, [['x:AppPassword/set', { update: { [key.id]: { scopes: ['imap'], permissions: { '@type': 'Inherit' } } } }, 'u']]);
    expect(both.body.methodResponses[0][1].notUpdated[key.id]).toMatchObject({ type: 'invalidProperties', properties: ['scopes', 'permissions'] });
    const bad = await s.api(alice, [['x:AppPassword/set', { create: { x: { description: 'x', scopes: ['mail'] } } }, 'c']]);
    expect(bad.body.methodResponses[0][1].notCreated.x).toMatchObject({ type: 'invalidProperties', properties: ['scopes'], description: expect.stringContaining('scopes must be') });
    const internal = await s.api(alice, [['x:AppPassword/set', { create: { x: { description: 'x', scopes: ['internal'] } } }, 'c']]);
    expect(internal.body.methodResponses[0][1].notCreated.x).toMatchObject({ type: 'forbidden', properties: ['scopes'] });
    expect((await getApp(key.id)).scopes).toEqual(['pop3']);
  });

  it('the CLI sets scopes with --field', async () => {
    const env = cleanEnv({ JMAP_KEYS_URL: s.url, JMAP_KEYS_TOKEN: s.adminToken });
    const made = await runBin(['create', 'app-password', '--field', 'description=Phone', '--field', 'scopes=["imap","smtp"]'], env);
    expect(made.code, made.stderr).toBe(0);
    const id = /^Created AppPassword ([a-z]+)$/m.exec(made.stdout)?.[1] as string;
    const got = await runBin(['get', 'app-password', id, '--json'], env);
    expect(JSON.parse(got.stdout)).toMatchObject({ scopes: ['imap', 'smtp'], permissions: { '@type': 'Replace' } });
  });

  it('REST create also takes expiresAt and allowedIps', async () => {
    const made = await rest('POST', '', alice, { name: 'office', scopes: ['imap'], expiresAt: '2099-01-01T00:00:00Z', allowedIps: ['10.0.0.0/8', '192.0.2.7'] });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ expiresAt: '2099-01-01T00:00:00Z' });
    expect((await getApp(made.body.id)).allowedIps).toEqual(['10.0.0.0/8', '192.0.2.7']);
    const badDate = await rest('POST', '', alice, { name: 'x', scopes: ['imap'], expiresAt: 'tomorrow' });
    expect(badDate).toMatchObject({ status: 400, body: { field: 'expiresAt', message: expect.stringContaining('UTCDate') } });
    const badIp = await rest('POST', '', alice, { name: 'x', scopes: ['imap'], allowedIps: ['10.0.0.0/99'] });
    expect(badIp).toMatchObject({ status: 400, body: { field: 'allowedIps' } });
  });
});

describe('errors that say what to do (issue 14, point 6)', () => {
  it('invalidProperties carries a description naming the rule', async () => {
    const res = await s.api(alice, [['x:ApiKey/set', { create: { k: { description: 'x', expiresAt: '2027-01-01' } } }, 'c']]);
    expect(res.body.methodResponses[0][1].notCreated.k).toEqual({
      type: 'invalidProperties', properties: ['expiresAt'],
      description: expect.stringMatching(/^expiresAt must be null or a UTCDate such as 2027-01-01T00:00:00Z/),
    });
  });

  it('a missing REST field is "required", not an unknown field', async () => {
    const res = await rest('POST', '', alice, { scopes: ['imap'] });
    expect(res).toEqual({ status: 400, body: { error: 'invalid_request', message: 'name is required', field: 'name' } });
  });

  it('a patch pointer into a set member that is not a mask or permission name is invalidPatch (RFC 8620 §5.3)', async () => {
    const made = await s.api(alice, [['x:ApiKey/set', { create: { k: { description: 'patch me' } } }, 'c']]);
    const id = made.body.methodResponses[0][1].created.k.id;
    const res = await s.api(alice, [['x:ApiKey/set', { update: { [id]: { 'allowedIps/0': '10.0.0.1' }, } }, 'u']]);
    expect(res.body.methodResponses[0][1].notUpdated[id]).toMatchObject({ type: 'invalidPatch', properties: ['allowedIps'] });
    const perm = await s.api(alice, [['x:ApiKey/set', { update: { [id]: { permissions: { '@type': 'Disable', permissions: [] } } } }, 'u1'],
      ['x:ApiKey/set', { update: { [id]: { 'permissions/permissions/notAPermission': true } } }, 'u2']]);
    expect(perm.body.methodResponses[1][1].notUpdated[id]).toMatchObject({ type: 'invalidPatch' });
    const good = await s.api(alice, [['x:ApiKey/set', { update: { [id]: { 'allowedIps/10.0.0.0~18': true } } }, 'u']]);
    expect(good.body.methodResponses[0][1].updated).toHaveProperty(id);
  });

  it('the CLI: --where with a bad date exits 2; an unknown filter lists only filterable properties', async () => {
    const env = cleanEnv({ JMAP_KEYS_URL: s.url, JMAP_KEYS_TOKEN: s.adminToken });
    const date = await runBin(['query', 'api-key', '--where', 'expiresAt<tomorrow'], env);
    expect(date.code).toBe(2);
    expect(date.stderr).toMatch(/UTCDate/);
    const unknown = await runBin(['query', 'api-key', '--where', 'description=x'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/filterable: createdAt, expiresAt|filterable: expiresAt, createdAt/);
    expect(unknown.stderr).not.toMatch(/secret|allowedIps/);
  });
});

describe('account addresses on the command line (issue 14, point 1)', () => {
  it('account create --email and account email store the address lower-cased, unique across logins and addresses', async () => {
    const env = cleanEnv(s.storeEnv);
    const made = await runBin(['account', 'create', 'erin', '--email', 'Erin@Example.COM', '--password', 'erin-password'], env);
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toContain('Created account erin <erin@example.com>');
    expect((await s.services.store.accountByEmail('ERIN@example.com'))?.login).toBe('erin');
    // Basic accepts the address as well as the login.
    expect((await s.api(basic('erin@example.com', 'erin-password'), [['x:ApiKey/query', {}, 'q']])).status).toBe(200);

    const taken = await runBin(['account', 'create', 'frank', '--email', 'erin@example.com', '--password', 'frank-password'], env);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toMatch(/already names an account/);
    const loginTaken = await runBin(['account', 'create', 'erin@example.com', '--password', 'other-password'], env);
    expect(loginTaken.code).toBe(1);
    const bad = await runBin(['account', 'create', 'gina', '--email', 'not-an-address'], env);
    expect(bad.code).toBe(2);

    const set = await runBin(['account', 'email', 'alice', 'Alice@Example.org'], env);
    expect(set.code, set.stderr).toBe(0);
    const list = await rest('GET', '', alice);
    expect(list.body.connectionInfo).toMatchObject({ username: 'alice@example.org', email: 'alice@example.org' });
    const clash = await runBin(['account', 'email', 'alice', 'erin@example.com'], env);
    expect(clash.code).toBe(1);
    const cleared = await runBin(['account', 'email', 'alice'], env);
    expect(cleared.code, cleared.stderr).toBe(0);
    expect((await rest('GET', '', alice)).body.connectionInfo).toMatchObject({ username: 'alice', email: null });
    const listed = await runBin(['account', 'list', '--json'], env);
    expect(JSON.parse(listed.stdout)).toEqual(expect.arrayContaining([expect.objectContaining({ login: 'erin', email: 'erin@example.com' })]));
  });
});

describe('introspection names the same identity as every setting (issue 14, point 1)', () => {
  it('answers with the mail user name and accepts only it as the claimed username', async () => {
    const admin = bearer(s.adminToken);
    const internal = (await (await fetch(`${s.url}/api/smtp-credentials`, { method: 'POST', headers: { Authorization: admin, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'dovecot', scopes: ['internal'] }) })).json()).apiKey as string;
    const env = cleanEnv(s.storeEnv);
    expect((await runBin(['account', 'create', 'hank', '--email', 'hank@example.com', '--password', 'hank-password'], env)).code).toBe(0);
    const hank = basic('hank', 'hank-password');
    const key = (await (await fetch(`${s.url}/api/smtp-credentials`, { method: 'POST', headers: { Authorization: hank, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'mail', scopes: ['imap'] }) })).json()).apiKey as string;
    const ask = async (form: Record<string, string>) => (await fetch(`${s.url}/internal/introspect`, {
      method: 'POST', headers: { Authorization: bearer(internal), 'Content-Type': 'application/x-www-form-urlencoded', 'X-Dovecot-Auth-Service': 'imap' },
      body: new URLSearchParams(form).toString() })).json();
    expect(await ask({ token: key })).toMatchObject({ active: true, username: 'hank@example.com', scope: 'imap' });
    expect(await ask({ token: key, username: 'Hank@Example.com' })).toMatchObject({ active: true });
    expect(await ask({ token: key, username: 'hank' })).toEqual({ active: false });
    // The connection info and the settings name that same user name.
    expect((await rest('GET', '', hank)).body.connectionInfo.username).toBe('hank@example.com');
  });
});
