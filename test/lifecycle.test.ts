import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, bearer, startTestServer, type TestServer } from './helpers/server.js';

let s: TestServer;
beforeAll(async () => { s = await startTestServer(); });
afterAll(async () => { await s.stop(); });

const create = (props: Record<string, unknown>, cid = 'k1') => ['x:ApiKey/set', { create: { [cid]: props } }, 'c1'];

describe('API key lifecycle', () => {
  it('creates a key whose secret authenticates, masks it on get, updates, expires, restricts by IP and dies on destroy', async () => {
    const admin = bearer(s.adminToken);
    const made = await s.api(admin, [create({ description: 'CI bot', allowedIps: [], permissions: { '@type': 'Inherit' } })]);
    expect(made.status).toBe(200);
    const created = made.body.methodResponses[0][1].created.k1;
    expect(created.secret).toMatch(/^API_[0-9A-Za-z]{46}$/);
    expect(created.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const key = bearer(created.secret);
    const id: string = created.id;

    const session = await fetch(`${s.url}/jmap/session`, { headers: { Authorization: key } });
    expect(session.status).toBe(200);
    const sess = await session.json();
    expect(sess.username).toBe('admin');
    expect(sess.apiUrl).toBe(`${s.url}/api`);

    const got = await s.api(key, [['x:ApiKey/get', { ids: [id] }, 'g']]);
    const { lastUsedAt: _used, lastUsedFrom: _from, lastUsedService: _service, ...rec } = got.body.methodResponses[0][1].list[0];
    expect(rec).toEqual({ id, description: 'CI bot', secret: '****', createdAt: created.createdAt, expiresAt: null,
      permissions: { '@type': 'Inherit' }, allowedIps: [] });
    // Use is written off the request path (flushed every 50 ms in tests), never by management calls.
    await new Promise((r) => setTimeout(r, 200));
    const later = await s.api(admin, [['x:ApiKey/get', { ids: [id], properties: ['lastUsedAt'] }, 'g']]);
    expect(later.body.methodResponses[0][1].list[0].lastUsedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(JSON.stringify(got.body)).not.toContain(created.secret);

    const upd = await s.api(admin, [['x:ApiKey/set', { update: { [id]: { description: 'Renamed' } } }, 'u']]);
    expect(upd.body.methodResponses[0][1].updated).toEqual({ [id]: null });

    // allowedIps that exclude 127.0.0.1: 403; including it (or its /8): works again.
    await s.api(admin, [['x:ApiKey/set', { update: { [id]: { allowedIps: ['10.0.0.0/8'] } } }, 'u']]);
    expect((await s.api(key, [['Core/echo', {}, 'e']])).status).toBe(403);
    await s.api(admin, [['x:ApiKey/set', { update: { [id]: { 'allowedIps/127.0.0.0~18': true } } }, 'u']]);
    expect((await s.api(key, [['Core/echo', {}, 'e']])).status).toBe(200);

    // Expiry in the past takes effect on the next request.
    await s.api(admin, [['x:ApiKey/set', { update: { [id]: { expiresAt: '2020-01-01T00:00:00Z' } } }, 'u']]);
    const expired = await s.api(key, [['Core/echo', {}, 'e']]);
    expect(expired.status).toBe(401);
    await s.api(admin, [['x:ApiKey/set', { update: { [id]: { expiresAt: null } } }, 'u']]);
    expect((await s.api(key, [['Core/echo', {}, 'e']])).status).toBe(200);

    const gone = await s.api(admin, [['x:ApiKey/set', { destroy: [id] }, 'd']]);
    expect(gone.body.methodResponses[0][1].destroyed).toEqual([id]);
    const after = await s.api(key, [['Core/echo', {}, 'e']]);
    expect(after.status).toBe(401);
    expect(after.body.status).toBe(401);
  });

  it('accepts Basic login:password', async () => {
    const res = await s.api(basic('admin', s.adminPassword), [['Core/echo', { hello: true }, 'e']]);
    expect(res.body.methodResponses).toEqual([['Core/echo', { hello: true }, 'e']]);
    expect((await s.api(basic('admin', 'wrong-password'), [])).status).toBe(401);
  });
});
