import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from './helpers/accounts.js';
import { basic, bearer, startTestServer, type TestServer } from './helpers/server.js';

let s: TestServer;
let aliceId: string;
let bobId: string;
const alice = basic('alice', 'alice-password');
const bob = basic('bob', 'bob-password');

beforeAll(async () => {
  s = await startTestServer({ JMAP_KEYS_MAX_KEYS_PER_ACCOUNT: '3' });
  aliceId = await createAccount(s, 'alice', 'alice-password');
  bobId = await createAccount(s, 'bob', 'bob-password');
});
afterAll(async () => { await s.stop(); });

async function makeKey(auth: string, props: Record<string, unknown>): Promise<{ id: string; secret: string }> {
  const res = await s.api(auth, [['x:ApiKey/set', { create: { k: { description: 'k', ...props } } }, 'c']]);
  const created = res.body.methodResponses[0][1].created?.k;
  if (!created) throw new Error(JSON.stringify(res.body));
  return created;
}

const destroyAll = async (auth: string) => {
  const q = await s.api(auth, [['x:ApiKey/query', {}, 'q'], ['x:ApiKey/set', { '#destroy': { resultOf: 'q', name: 'x:ApiKey/query', path: '/ids' } }, 'd']]);
  expect(q.body.methodResponses[1][0]).toBe('x:ApiKey/set');
};

describe('method permissions', () => {
  it('each method checks its sys* permission: a key with it disabled gets forbidden and changes nothing', async () => {
    const cases: [string, unknown[]][] = [
      ['sysApiKeyGet', ['x:ApiKey/get', { ids: [] }, 'c']],
      ['sysApiKeyQuery', ['x:ApiKey/query', {}, 'c']],
      ['sysApiKeyCreate', ['x:ApiKey/set', { create: { n: { description: 'no' } } }, 'c']],
      ['sysApiKeyGet', ['x:ApiKey/changes', { sinceState: '0' }, 'c']],
      ['sysApiKeyQuery', ['x:ApiKey/queryChanges', { sinceQueryState: 'x' }, 'c']],
    ];
    for (const [perm, call] of cases) {
      const key = await makeKey(alice, { permissions: { '@type': 'Disable', permissions: [perm] } });
      const res = await s.api(bearer(key.secret), [call]);
      expect(res.body.methodResponses[0], perm).toEqual(['error', { type: 'forbidden', description: expect.any(String) }, 'c']);
      await destroyAll(alice);
    }
    const victim = await makeKey(alice, {});
    for (const perm of ['sysApiKeyUpdate', 'sysApiKeyDestroy']) {
      const key = await makeKey(alice, { permissions: { '@type': 'Disable', permissions: [perm] } });
      const call = perm === 'sysApiKeyUpdate' ? { update: { [victim.id]: { description: 'hacked' } } } : { destroy: [victim.id] };
      const res = await s.api(bearer(key.secret), [['x:ApiKey/set', call, 'c']]);
      expect(res.body.methodResponses[0][1].type, perm).toBe('forbidden');
      await s.api(alice, [['x:ApiKey/set', { destroy: [key.id] }, 'd']]);
    }
    const still = await s.api(alice, [['x:ApiKey/get', { ids: [victim.id] }, 'g']]);
    expect(still.body.methodResponses[0][1].list[0].description).toBe('k');
    await destroyAll(alice);
  });

  it('a key without authenticate cannot log in (403)', async () => {
    const key = await makeKey(alice, { permissions: { '@type': 'Replace', permissions: ['sysApiKeyGet'] } });
    const res = await s.api(bearer(key.secret), [['Core/echo', {}, 'c']]);
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ type: 'about:blank', status: 403 });
    await destroyAll(alice);
  });

  it('no escalation: a narrow key cannot mint or widen a key beyond its own rights', async () => {
    const narrow = await makeKey(alice, { permissions: { '@type': 'Replace', permissions: ['authenticate', 'sysApiKeyCreate', 'sysApiKeyUpdate', 'sysApiKeyGet', 'sysApiKeyQuery'] } });
    const auth = bearer(narrow.secret);
    const inherit = await s.api(auth, [['x:ApiKey/set', { create: { wide: { description: 'wide' } } }, 'c']]);
    expect(inherit.body.methodResponses[0][1].notCreated.wide).toMatchObject({ type: 'forbidden', description: expect.stringContaining('You are not authorized to grant permissions:') });
    const same = await s.api(auth, [['x:ApiKey/set', { create: { ok: { description: 'ok', permissions: { '@type': 'Replace', permissions: ['authenticate', 'sysApiKeyGet'] } } } }, 'c']]);
    const okId = same.body.methodResponses[0][1].created.ok.id;
    const widen = await s.api(auth, [['x:ApiKey/set', { update: { [okId]: { permissions: { '@type': 'Inherit' } } } }, 'c']]);
    expect(widen.body.methodResponses[0][1].notUpdated[okId].type).toBe('forbidden');
    const rename = await s.api(auth, [['x:ApiKey/set', { update: { [okId]: { description: 'renaming is fine' } } }, 'c']]);
    expect(rename.body.methodResponses[0][1].updated).toEqual({ [okId]: null });
    // A user can never grant what the account lacks: Replace is intersected with the account's rights.
    const adminish = await s.api(alice, [['x:ApiKey/set', { create: { x: { description: 'x', permissions: { '@type': 'Replace', permissions: ['authenticate', 'impersonate'] } } } }, 'c']]);
    const x = adminish.body.methodResponses[0][1].created.x;
    const other = await s.api(bearer(x.secret), [['x:ApiKey/get', { accountId: bobId, ids: [] }, 'c']]);
    expect(other.body.methodResponses[0][1].type).toBe('forbidden');
    await destroyAll(alice);
  });

  it('quota: overQuota past the configured number of keys', async () => {
    const res = await s.api(alice, [['x:ApiKey/set', { create: { a: { description: '1' }, b: { description: '2' }, c: { description: '3' }, d: { description: '4' } } }, 'c']]);
    const r = res.body.methodResponses[0][1];
    expect(Object.keys(r.created)).toEqual(['a', 'b', 'c']);
    expect(r.notCreated.d).toEqual({ type: 'overQuota', description: 'You have exceeded your quota of 3 API keys.' });
    await destroyAll(alice);
  });
});

describe('account isolation', () => {
  it('bob never sees or touches alice\'s keys', async () => {
    const key = await makeKey(alice, { description: 'alice key' });
    const got = await s.api(bob, [['x:ApiKey/get', { ids: [key.id] }, 'g'], ['x:ApiKey/query', {}, 'q'], ['x:ApiKey/get', { ids: null }, 'all']]);
    expect(got.body.methodResponses[0][1]).toMatchObject({ accountId: bobId, list: [], notFound: [key.id] });
    expect(got.body.methodResponses[1][1].ids).toEqual([]);
    expect(got.body.methodResponses[2][1].list).toEqual([]);
    const touch = await s.api(bob, [['x:ApiKey/set', { update: { [key.id]: { description: 'mine' } }, destroy: [key.id] }, 's']]);
    expect(touch.body.methodResponses[0][1].notUpdated[key.id].type).toBe('notFound');
    expect(touch.body.methodResponses[0][1].notDestroyed[key.id].type).toBe('notFound');
    const explicit = await s.api(bob, [['x:ApiKey/get', { accountId: aliceId, ids: [key.id] }, 'g'], ['x:ApiKey/set', { accountId: aliceId, destroy: [key.id] }, 's']]);
    expect(explicit.body.methodResponses[0][1].type).toBe('forbidden');
    expect(explicit.body.methodResponses[1][1].type).toBe('forbidden');
    const still = await s.api(bearer(key.secret), [['x:ApiKey/get', { ids: [key.id], properties: ['description'] }, 'g']]);
    expect(still.body.methodResponses[0][1].list).toEqual([{ id: key.id, description: 'alice key' }]);
    await destroyAll(alice);
  });

  it('an admin (impersonate) manages another account\'s keys by accountId', async () => {
    const admin = bearer(s.adminToken);
    const res = await s.api(admin, [['x:ApiKey/set', { accountId: bobId, create: { k: { description: 'made by admin' } } }, 's'], ['x:ApiKey/query', { accountId: bobId }, 'q']]);
    const id = res.body.methodResponses[0][1].created.k.id;
    expect(res.body.methodResponses[1][1]).toMatchObject({ accountId: bobId, ids: [id] });
    const mine = await s.api(bob, [['x:ApiKey/get', { ids: [id], properties: ['description'] }, 'g']]);
    expect(mine.body.methodResponses[0][1].list).toEqual([{ id, description: 'made by admin' }]);
    await destroyAll(bob);
  });
});
