import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditPruner } from '../src/audit/prune.js';
import { silentLogger } from '../src/log.js';
import { nowSeconds } from '../src/util/utcdate.js';
import { runCli } from './helpers/child.js';
import { basic, bearer, startTestServer, type ApiBody, type TestServer } from './helpers/server.js';

const AUDIT_USING = ['urn:ietf:params:jmap:core', 'urn:jmap-keys:audit'];
let s: TestServer;
let env: Record<string, string>;
const secrets: string[] = [];
const alice = basic('alice', 'alice-password');

async function auditQuery(auth: string, args: Record<string, unknown> = {}): Promise<ApiBody[]> {
  const res = await s.api(auth, [
    ['x:AuditEvent/query', args, 'q'],
    ['x:AuditEvent/get', { accountId: args.accountId ?? null, '#ids': { resultOf: 'q', name: 'x:AuditEvent/query', path: '/ids' } }, 'g'],
  ], { using: AUDIT_USING });
  expect(res.status).toBe(200);
  const [q, g] = res.body.methodResponses;
  expect(q[0], JSON.stringify(q)).toBe('x:AuditEvent/query');
  return g[1].list;
}

beforeAll(async () => {
  s = await startTestServer({ JMAP_KEYS_REST_WRITES_PER_WINDOW: '1000' });
  env = { ...s.storeEnv };
  secrets.push(s.adminToken, s.adminPassword);
  // The CLI writes the same database while the server runs.
  const made = await runCli(['account', 'create', 'alice', '--password', 'alice-password'], env);
  expect(made.code, made.stderr).toBe(0);
});
afterAll(async () => { await s.stop(); });

describe('the audit trail', () => {
  it('records every change with who, when, from where and what (never a secret), in the change\'s transaction', async () => {
    const created = await s.api(bearer(s.adminToken), [['x:ApiKey/set', { create: { k: { description: 'CI', allowedIps: ['10.0.0.0/8'] } } }, '0']]);
    const key = created.body.methodResponses[0][1].created.k;
    secrets.push(key.secret);
    await s.api(bearer(s.adminToken), [['x:ApiKey/set', { update: { [key.id]: { description: 'CI runner' } } }, '0']]);
    await s.api(bearer(s.adminToken), [['x:ApiKey/set', { destroy: [key.id] }, '0']]);
    // A refused create (unknown property) writes neither a key nor an event.
    const refused = await s.api(bearer(s.adminToken), [['x:ApiKey/set', { create: { bad: { description: 'x', color: 'red' } } }, '0']]);
    expect(refused.body.methodResponses[0][1].notCreated.bad.type).toBe('invalidProperties');

    const post = (path: string, body: unknown) => fetch(`${s.url}${path}`, { method: 'POST', headers: { Authorization: alice, 'Content-Type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.json());
    const phone = await post('/api/smtp-credentials', { name: 'Phone', scopes: ['imap'] });
    const rotated = await post(`/api/smtp-credentials/${phone.id}/rotate`, {});
    secrets.push(phone.apiKey, rotated.apiKey);
    expect((await fetch(`${s.url}/api/smtp-credentials/${rotated.id}`, { method: 'DELETE', headers: { Authorization: alice } })).status).toBe(204);

    const login = await fetch(`${s.url}/web/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ login: 'alice', password: 'alice-password' }) });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
    const { csrfToken } = await login.json();
    expect((await fetch(`${s.url}/web/logout`, { method: 'POST', redirect: 'manual', headers: { Cookie: cookie, 'X-CSRF-Token': csrfToken } })).status).toBe(303);

    expect((await runCli(['account', 'passwd', 'alice', '--password', 'alice-password'], env)).code).toBe(0);

    const all = await auditQuery(bearer(s.adminToken), { sort: [{ property: 'id', isAscending: true }] });
    const types = all.map((e: ApiBody) => e.type);
    expect(types).toEqual([
      'account.created', 'credential.created', // bootstrap
      'account.created', // alice, by the CLI
      'credential.created', 'credential.updated', 'credential.destroyed',
      'credential.created', 'credential.rotated', 'credential.destroyed',
      'web.signIn', 'web.signOut', 'account.passwordChanged',
    ]);
    const byType = (t: string, n = 0) => all.filter((e: ApiBody) => e.type === t)[n];
    expect(byType('account.created', 1)).toMatchObject({ via: 'cli', actorAccountId: null, details: { login: 'alice', role: 'user' } });
    const keyCreated = byType('credential.created', 1);
    expect(keyCreated).toMatchObject({ credentialId: key.id, credentialKind: 'apiKey', via: 'jmap', clientAddress: '127.0.0.1',
      actorCredentialId: expect.any(String), details: { description: 'CI', allowedIps: ['10.0.0.0/8'] } });
    expect(keyCreated.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(byType('credential.updated')).toMatchObject({ credentialId: key.id, details: { description: 'CI runner' } });
    expect(byType('credential.rotated')).toMatchObject({ credentialId: rotated.id, via: 'rest', actorCredentialId: null, details: { previousId: phone.id } });
    expect(byType('web.signIn')).toMatchObject({ via: 'web', details: { login: 'alice' } });
    const text = JSON.stringify(all);
    for (const secret of secrets) expect(text).not.toContain(secret);
    expect(text).not.toContain('alice-password');
  });

  it('filters by type, credential, account and time; users see their own account, impersonate sees all', async () => {
    const admin = bearer(s.adminToken);
    const destroyed = await auditQuery(admin, { filter: { type: 'credential.destroyed' } });
    expect(destroyed.map((e: ApiBody) => e.type)).toEqual(['credential.destroyed', 'credential.destroyed']);
    const keyId = destroyed.find((e: ApiBody) => e.credentialKind === 'apiKey').credentialId;
    expect((await auditQuery(admin, { filter: { credentialId: keyId } })).map((e: ApiBody) => e.type))
      .toEqual(['credential.destroyed', 'credential.updated', 'credential.created']); // newest first by default
    const aliceId = destroyed.find((e: ApiBody) => e.credentialKind === 'appPassword').accountId;
    expect((await auditQuery(admin, { filter: { accountId: aliceId } })).every((e: ApiBody) => e.accountId === aliceId)).toBe(true);
    expect(await auditQuery(admin, { filter: { after: '2099-01-01T00:00:00Z' } })).toEqual([]);
    expect((await auditQuery(admin, { filter: { before: '2099-01-01T00:00:00Z', after: '2000-01-01T00:00:00Z' } })).length).toBe(12);

    const own = await auditQuery(alice);
    expect(own.length).toBe(7);
    expect(own.every((e: ApiBody) => e.accountId === aliceId)).toBe(true);
    // Another account's id in the filter shows nothing; asking for another account is forbidden.
    expect(await auditQuery(alice, { filter: { credentialId: keyId } })).toEqual([]);
    const other = await s.api(alice, [['x:AuditEvent/query', { accountId: 'b' }, 'q']], { using: AUDIT_USING });
    expect(other.body.methodResponses[0][1].type).toBe('forbidden');
    const bad = await s.api(admin, [['x:AuditEvent/query', { filter: { type: 'nope' } }, 'q'], ['x:AuditEvent/query', { filter: { colour: 1 } }, 'r'],
      ['x:AuditEvent/query', { filter: { operator: 'OR', conditions: [] } }, 's']], { using: AUDIT_USING });
    expect(bad.body.methodResponses.map((r: ApiBody) => r[1].type)).toEqual(['invalidArguments', 'unsupportedFilter', 'unsupportedFilter']);
    // Without its capability in `using`, the type is unknown.
    const unused = await s.api(admin, [['x:AuditEvent/query', {}, 'q']]);
    expect(unused.body.methodResponses[0][1].type).toBe('unknownMethod');
  });

  it('jmap-keys audit prints the trail from the database, with filters and as JSON', async () => {
    const table = await runCli(['audit', '--login', 'alice'], env);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/account\.created\s+alice\s+cli/);
    expect(table.stdout).toMatch(/credential\.rotated\s+alice\s+[a-z]+\s+alice\s+127\.0\.0\.1\s+rest/);
    const json = await runCli(['audit', '--type', 'credential.destroyed', '--type', 'web.signOut', '--json'], env);
    expect(JSON.parse(json.stdout).map((e: ApiBody) => e.type)).toEqual(['credential.destroyed', 'credential.destroyed', 'web.signOut']);
    expect(JSON.parse((await runCli(['audit', '--since', '2099-01-01T00:00:00Z', '--json'], env)).stdout)).toEqual([]);
    const badType = await runCli(['audit', '--type', 'nope'], env);
    expect(badType.code).toBe(2);
    expect(badType.stderr).toContain('--type nope');
  });

  it('prunes events past the retention in batches', async () => {
    const { store } = s.services;
    const before = await store.countAudit({ accountId: null });
    expect(await new AuditPruner(store, 30, silentLogger).prune(nowSeconds() + 29 * 86_400)).toBe(0);
    await store.transaction(async (tx) => { for (let i = 0; i < 1200; i++) await tx.appendAudit({ at: 1000 + i, type: 'web.signIn', accountId: 1, credentialId: null, credentialKind: null, actorAccountId: 1, actorCredentialId: null, clientAddress: null, via: 'web', details: {} }); });
    expect(await new AuditPruner(store, 180, silentLogger).prune()).toBe(1200);
    expect(await store.countAudit({ accountId: null })).toBe(before);
  });
});

describe('README: Operating jmap-keys, the bash examples run as written', () => {
  it('audit query, metrics, readiness', async () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const start = readme.indexOf('## Operating jmap-keys');
    const section = readme.slice(start, readme.indexOf('\n## ', start + 3));
    const blocks = [...section.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1] as string);
    expect(blocks).toHaveLength(3);
    const sh = async (script: string) => (await promisify(execFile)('bash', ['-c', script.replaceAll('127.0.0.1:8080', new URL(s.url).host)],
      { env: { ...process.env as Record<string, string>, TOKEN: s.adminToken } })).stdout;
    const audit = JSON.parse(await sh(blocks[0] as string));
    expect(audit.methodResponses[1][1].list.length).toBeGreaterThan(0);
    expect(audit.methodResponses[1][1].list.every((e: ApiBody) => e.type === 'credential.destroyed')).toBe(true);
    expect(await sh(blocks[1] as string)).toMatch(/^jmap_keys_credentials\{kind="apiKey"\} \d+$/m);
    expect(JSON.parse(await sh(blocks[2] as string))).toEqual({ status: 'ready' });
  });
});
