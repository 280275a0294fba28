import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { startServer, type RunningServer } from '../src/server.js';
import { OVER_QUOTA, type NewCredential } from '../src/db/store.js';
import { parseToken } from '../src/auth/tokens.js';
import { createAccount } from './helpers/accounts.js';
import { basic, bearer, startTestServer, TEST_ENGINE, USING, type ApiBody, type TestServer } from './helpers/server.js';

/**
 * A /set's creates are checked one by one, then stored together (one store operation: the quota counted once, the
 * rows, their change-log entries); each create still succeeds or fails on its own, as RFC 8620 wants.
 */
const QUOTA = 300;
const AUDIT_USING = ['urn:ietf:params:jmap:core', 'urn:jmap-keys:audit'];
let s: TestServer;
let other: RunningServer;
const alice = basic('alice', 'alice-password');
const bob = basic('bob', 'bob-password');

beforeAll(async () => {
  s = await startTestServer({ JMAP_KEYS_MAX_KEYS_PER_ACCOUNT: String(QUOTA), JMAP_KEYS_MAX_CONCURRENT_REQUESTS: '100' });
  await createAccount(s, 'alice', 'alice-password');
  await createAccount(s, 'bob', 'bob-password');
  // A second node on the same store (the same SQLite file, or the same PostgreSQL database).
  other = await startServer(loadConfig({ ...s.storeEnv, JMAP_KEYS_PORT: '0', JMAP_KEYS_MAX_KEYS_PER_ACCOUNT: String(QUOTA), JMAP_KEYS_MAX_CONCURRENT_REQUESTS: '100' }));
});
afterAll(async () => {
  await other?.close();
  await s?.stop();
});

async function call(url: string, auth: string, methodCalls: unknown[], using = USING): Promise<ApiBody> {
  const res = await fetch(`${url}/api`, { method: 'POST', headers: { Authorization: auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ using, methodCalls }) });
  expect(res.status).toBe(200);
  return res.json();
}

async function createdAudit(auth: string): Promise<ApiBody[]> {
  const body = await call(s.url, auth, [
    ['x:AuditEvent/query', { filter: { type: 'credential.created' }, sort: [{ property: 'id', isAscending: true }], limit: 1000 }, 'q'],
    ['x:AuditEvent/get', { '#ids': { resultOf: 'q', name: 'x:AuditEvent/query', path: '/ids' } }, 'g'],
  ], AUDIT_USING);
  expect(body.methodResponses[1][0], JSON.stringify(body.methodResponses[0])).toBe('x:AuditEvent/get');
  return body.methodResponses[1][1].list;
}

describe('x:ApiKey/set with many creates', () => {
  it('500 creates, mixed valid and invalid, past the quota: each refused on its own, the first that fit stored in order', async () => {
    // Two keys already: 298 fit. The caller is a key expiring in 2099, so a create without an earlier expiry is refused.
    const first = await call(s.url, alice, [['x:ApiKey/set', { create: { k1: { description: 'one' }, k2: { description: 'two' } } }, 's']]);
    const caller = first.methodResponses[0][1].created.k1;
    const restricted = await call(s.url, alice, [['x:ApiKey/set', { update: { [caller.id]: { expiresAt: '2099-01-01T00:00:00Z' } } }, 'u']]);
    expect(restricted.methodResponses[0][1].updated).toEqual({ [caller.id]: null });
    const auditBefore = (await createdAudit(alice)).length;

    const create: Record<string, unknown> = {};
    const expected: Record<string, string> = {};
    for (let i = 0; i < 500; i++) {
      const cid = `c${i}`;
      if (i % 10 === 3) { create[cid] = { description: 'x', nope: 1 }; expected[cid] = 'invalidProperties'; }
      else if (i % 10 === 7) { create[cid] = { description: 42 }; expected[cid] = 'invalidProperties'; }
      else if (i % 25 === 0) { create[cid] = { description: 'forever' }; expected[cid] = 'forbidden'; }
      else { create[cid] = { description: `key ${i}`, expiresAt: '2098-01-01T00:00:00Z' }; expected[cid] = 'valid'; }
    }
    const valid = Object.keys(expected).filter((cid) => expected[cid] === 'valid');
    expect(valid.length).toBeGreaterThan(QUOTA - 2);
    const fits = valid.slice(0, QUOTA - 2);

    const body = await call(s.url, bearer(caller.secret), [
      ['x:ApiKey/set', { create }, 's'],
      ['x:ApiKey/get', { ids: ['#c1', `#${fits.at(-1)}`], properties: ['description'] }, 'g'],
    ]);
    const [[name, r], [, got]] = body.methodResponses;
    expect(name).toBe('x:ApiKey/set');
    expect(Object.keys(r.created)).toEqual(fits);
    for (const cid of Object.keys(expected)) {
      if (fits.includes(cid)) continue;
      const want = expected[cid] === 'valid' ? 'overQuota' : expected[cid];
      expect(r.notCreated[cid]?.type, cid).toBe(want);
    }
    expect(r.notCreated.c3.properties).toEqual(['nope']);
    expect(r.notCreated.c7.properties).toEqual(['description']);
    expect(r.notCreated.c0.properties).toEqual(['expiresAt']);
    expect(r.notCreated[valid[QUOTA - 2]!]).toEqual({ type: 'overQuota', description: `You have exceeded your quota of ${QUOTA} API keys.` });
    // Every secret different; creation ids resolve in the next call of the request.
    const secrets: string[] = fits.map((cid) => r.created[cid].secret);
    expect(new Set(secrets).size).toBe(fits.length);
    expect(new Set(secrets.map((t) => parseToken(t)?.locator)).size).toBe(fits.length);
    expect(secrets.every((t) => /^API_[0-9A-Za-z]{46}$/.test(t) && parseToken(t)?.kind === 'apiKey')).toBe(true);
    expect(got.list.map((k: ApiBody) => k.description)).toEqual(['key 1', `key ${fits.at(-1)!.slice(1)}`]);
    expect(got.list.map((k: ApiBody) => k.id)).toEqual([r.created.c1.id, r.created[fits.at(-1)!].id]);
    // A created secret works.
    const echo = await call(s.url, bearer(r.created[fits[5]!].secret), [['Core/echo', { ok: true }, 'e']]);
    expect(echo.methodResponses[0][1]).toEqual({ ok: true });

    // The change log: one `created` entry per stored key, in creation order.
    const changes = await call(s.url, alice, [['x:ApiKey/changes', { sinceState: r.oldState, maxChanges: 1000 }, 'c']]);
    const c = changes.methodResponses[0][1];
    expect(c).toMatchObject({ oldState: r.oldState, newState: r.newState, hasMoreChanges: false, updated: [], destroyed: [] });
    expect(c.created).toEqual(fits.map((cid) => r.created[cid].id));
    const paged = await call(s.url, alice, [['x:ApiKey/changes', { sinceState: r.oldState, maxChanges: 100 }, 'c']]);
    const page = paged.methodResponses[0][1];
    expect(page).toMatchObject({ hasMoreChanges: true, created: fits.slice(0, 100).map((cid) => r.created[cid].id) });
    const rest = await call(s.url, alice, [['x:ApiKey/changes', { sinceState: page.newState, maxChanges: 1000 }, 'c']]);
    expect(rest.methodResponses[0][1].created).toEqual(fits.slice(100).map((cid) => r.created[cid].id));

    // The audit trail: one credential.created event per stored key, in order, by the calling key, never a secret.
    const audit = (await createdAudit(alice)).slice(auditBefore);
    expect(audit.map((e: ApiBody) => e.credentialId)).toEqual(fits.map((cid) => r.created[cid].id));
    expect(audit.every((e: ApiBody) => e.actorCredentialId === caller.id && e.details.description.startsWith('key '))).toBe(true);
    expect(JSON.stringify(audit)).not.toContain(r.created[fits[0]!].secret.slice(4, 20));

    // The quota is full: one more is refused, from either node.
    const more = await call(other.url, alice, [['x:ApiKey/set', { create: { m: { description: 'more' } } }, 's']]);
    expect(more.methodResponses[0][1].notCreated.m.type).toBe('overQuota');
    const count = await call(s.url, alice, [['x:ApiKey/query', { calculateTotal: true, limit: 1 }, 'q']]);
    expect(count.methodResponses[0][1].total).toBe(QUOTA);
  });

  it('concurrent 200-create calls on two nodes: the quota holds exactly and change positions have no gap or repeat', async () => {
    const batch = (n: number) => {
      const create: Record<string, unknown> = {};
      for (let i = 0; i < 200; i++) create[`b${n}-${i}`] = { description: `batch ${n} key ${i}` };
      return [['x:ApiKey/set', { create }, 's']];
    };
    const before = await call(s.url, bob, [['x:ApiKey/get', { ids: [] }, 'g']]);
    const startState = Number(before.methodResponses[0][1].state);
    const answers = await Promise.all([0, 1, 2, 3].map((n) => call(n % 2 === 0 ? s.url : other.url, bob, batch(n))));
    const results = answers.map((a) => a.methodResponses[0][1]);
    const created = results.flatMap((r) => Object.values(r.created ?? {}).map((k) => (k as ApiBody).id as string));
    const refused = results.flatMap((r) => Object.values(r.notCreated ?? {}).map((e) => (e as ApiBody).type as string));
    expect(created.length).toBe(QUOTA);
    expect(refused).toEqual(Array(800 - QUOTA).fill('overQuota'));
    // Within each call, the stored creates are its first ones.
    for (const [n, r] of results.entries()) {
      const made = Object.keys(r.created ?? {});
      expect(made).toEqual(Array.from({ length: made.length }, (_, i) => `b${n}-${i}`));
    }
    const changes = await call(other.url, bob, [['x:ApiKey/changes', { sinceState: String(startState), maxChanges: 1000 }, 'c']]);
    const c = changes.methodResponses[0][1];
    expect(c.created.length).toBe(QUOTA);
    expect([...c.created].sort()).toEqual([...created].sort());
    // Each call's entries are one run of positions, in its creation order: the calls took turns, whole.
    for (const r of results) {
      const mine = Object.values(r.created ?? {}).map((k) => (k as ApiBody).id as string);
      if (mine.length === 0) continue;
      const start = c.created.indexOf(mine[0]);
      expect(c.created.slice(start, start + mine.length)).toEqual(mine);
    }
  });
});

describe('insertCredentials (the store operation behind it)', () => {
  const row = (accountId: number, locator: string): NewCredential => ({
    accountId, kind: 'apiKey', description: locator, locator, secretHash: Buffer.alloc(32, 7), createdAt: 1_700_000_000, expiresAt: null,
    permissionsMode: 'Inherit', permissions: [], allowedIps: [], scopes: null, platform: null, deviceId: null,
  });

  it('fits the first ones under the quota, outside a transaction too, with one change entry each', async () => {
    const store = s.services.store;
    const carol = (await store.accountByLogin('bob'))!.id;
    const before = await store.countCredentials(carol, 'apiKey');
    const seq = await store.state(carol, 'apiKey');
    const out = await store.insertCredentials([row(carol, 'batchloc0001'), row(carol, 'batchloc0002'), row(carol, 'batchloc0003')], before + 2);
    expect(out.map((r) => (r === OVER_QUOTA ? r : r.locator))).toEqual(['batchloc0001', 'batchloc0002', OVER_QUOTA]);
    const ids = out.flatMap((r) => (r === OVER_QUOTA ? [] : [r.id]));
    expect((await store.changesSince(carol, 'apiKey', seq, 10)).map((c) => [c.recordId, c.op])).toEqual(ids.map((id) => [id, 'created']));
    expect(await store.countCredentials(carol, 'apiKey')).toBe(before + 2);
    expect(await store.insertCredentials([], 0)).toEqual([]);
  });

  it('a failure half-way leaves none of its rows, even when the caller catches it inside a transaction', async () => {
    const store = s.services.store;
    const bobNum = (await store.accountByLogin('bob'))!.id;
    const before = await store.countCredentials(bobNum, 'apiKey');
    // The third row repeats a stored locator (unique): it fails after two rows went in.
    const batch = [row(bobNum, 'halfway00001'), row(bobNum, 'halfway00002'), row(bobNum, 'batchloc0001')];
    let caught: unknown;
    const outcome = await store.transaction(async (tx) => {
      await tx.setMeta('batch-test', 'written in the same transaction');
      try {
        await tx.insertCredentials(batch, 1_000_000);
      } catch (err) {
        caught = err;
      }
      return 'went on';
    }).then((v) => v, (err: unknown) => err);
    expect(caught).toBeInstanceOf(Error);
    expect(await store.countCredentials(bobNum, 'apiKey')).toBe(before);
    expect(await store.credentialByLocator('halfway00001')).toBeUndefined();
    if (TEST_ENGINE === 'sqlite') {
      // No savepoint on SQLite: the whole transaction is refused, the other write with it.
      expect(outcome).toBe(caught);
      expect(await store.getMeta('batch-test')).toBeUndefined();
    } else {
      expect(outcome).toBe('went on');
    }
    // A mixed batch is a caller's bug, refused before anything is written.
    await expect(store.insertCredentials([row(bobNum, 'mixed0000001'), row(bobNum + 1, 'mixed0000002')], 1_000_000)).rejects.toThrow(/one account and kind/);
  });
});
