import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { USING, bearer, startTestServer, type TestServer } from './helpers/server.js';

let s: TestServer;
beforeAll(async () => { s = await startTestServer({ JMAP_KEYS_MAX_SIZE_REQUEST: '20000' }); });
afterAll(async () => { await s.stop(); });

/** What the admin account holds (lastUsedAt aside, it moves with use), to prove a bad request wrote nothing. */
const snapshot = async () => {
  const res = await s.api(bearer(s.adminToken), [['x:ApiKey/get', { ids: null, properties: ['description', 'expiresAt', 'permissions', 'allowedIps', 'createdAt'] }, 'g']]);
  return JSON.stringify(res.body.methodResponses[0][1]);
};

describe('bad input never crashes and changes nothing', () => {
  it('request bodies of every odd shape get a 4xx problem or a method error, never a 500', async () => {
    const before = await snapshot();
    const bodies: string[] = [
      '', ' ', 'null', 'true', '0', '"x"', '[]', '{}', '{"using":null}', '{"using":[],"methodCalls":null}',
      '{"using":["urn:ietf:params:jmap:core"],"methodCalls":[[]]}', '\uFEFF{"using":[],"methodCalls":[]}',
      '{"using":["urn:ietf:params:jmap:core","urn:stalwart:jmap"],"methodCalls":[["x:ApiKey/set",{"create":{"a":{"description":"x","expiresAt":1e400}}},"c"]]}',
      '{"using":["urn:ietf:params:jmap:core","urn:stalwart:jmap"],"methodCalls":[["x:ApiKey/set",{"create":{"__proto__":{"description":"p","allowedIps":{"__proto__":true}}}},"c"]]}',
      '{"using":["urn:ietf:params:jmap:core","urn:stalwart:jmap"],"methodCalls":[["x:ApiKey/set",{"create":{"a":{"description":"x","permissions":{"@type":"Replace","permissions":{"__proto__":true}}}}},"c"]]}',
      '{"using":["urn:ietf:params:jmap:core","urn:stalwart:jmap"],"methodCalls":[["x:ApiKey/query",{"position":1e400},"c"]]}',
      '{"using":["urn:ietf:params:jmap:core","urn:stalwart:jmap"],"methodCalls":[["x:ApiKey/query",{"limit":9007199254740992},"c"]]}',
      '{"using":["urn:ietf:params:jmap:core","urn:stalwart:jmap"],"methodCalls":[["x:ApiKey/get",{"ids":[1,2]},"c"]]}',
      '{"using":["urn:ietf:params:jmap:core","urn:stalwart:jmap"],"methodCalls":[["x:ApiKey/set",{"update":{"b":{"allowedIps/::1":true,"permissions/permissions/x":true}}},"c"]]}',
      '{"using":["urn:ietf:params:jmap:core","urn:stalwart:jmap"],"methodCalls":[["x:ApiKey/set",{"create":{"a":{"description":"x","allowedIps":["1.2.3.4/33","::ffff:1.2.3.4/200","01.2.3.4","1.2.3"]}}},"c"]]}',
      '{"using":["urn:ietf:params:jmap:core","urn:stalwart:jmap"],"methodCalls":[["x:ApiKey/set",{"create":{"a":{"description":"x","expiresAt":"0000-01-01T00:00:00Z"}},"update":{"b":{"expiresAt":"3001-01-01T00:00:00Z"}}},"c"]]}',
      `{"using":["urn:ietf:params:jmap:core","urn:stalwart:jmap"],"methodCalls":[["x:ApiKey/set",{"create":{"a":{"description":"${'x'.repeat(1001)}"}}},"c"]]}`,
      `{"using":["urn:ietf:params:jmap:core","urn:stalwart:jmap"],"methodCalls":[["x:ApiKey/set",{"create":{"a":{"description":"x","allowedIps":[${Array.from({ length: 101 }, (_, i) => `"10.0.${i}.1"`).join(',')}]}}},"c"]]}`,
      `{"using":["urn:ietf:params:jmap:core"],"methodCalls":[["Core/echo",${'['.repeat(3000)}${']'.repeat(3000)},"c"]]}`,
    ];
    for (const body of bodies) {
      const res = await fetch(`${s.url}/api`, { method: 'POST', headers: { Authorization: bearer(s.adminToken), 'Content-Type': 'application/json' }, body });
      const text = await res.text();
      expect(res.status, body.slice(0, 120)).toBeLessThan(500);
      expect(() => JSON.parse(text), body.slice(0, 120)).not.toThrow();
      if (res.status === 200) {
        for (const [name, args] of JSON.parse(text).methodResponses) {
          if (name === 'error') expect(args.type, body.slice(0, 120)).not.toBe('serverFail');
          if (name === 'x:ApiKey/set') expect(args.created, body.slice(0, 120)).toBeNull();
        }
      }
    }
    expect(await snapshot()).toBe(before);
    expect(Object.prototype).not.toHaveProperty('description');
  });

  it('a body over maxSizeRequest is a limit problem before anything runs', async () => {
    const body = JSON.stringify({ using: USING, methodCalls: [['x:ApiKey/set', { create: { a: { description: 'x'.repeat(20_000) } } }, 'c']] });
    const res = await fetch(`${s.url}/api`, { method: 'POST', headers: { Authorization: bearer(s.adminToken), 'Content-Type': 'application/json' }, body });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(await res.json()).toMatchObject({ type: 'urn:ietf:params:jmap:error:limit', limit: 'maxSizeRequest', status: 400 });
    // Chunked bodies (no Content-Length) are cut off at the same limit.
    const stream = new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode(body)); c.close(); } });
    const chunked = await fetch(`${s.url}/api`, { method: 'POST', headers: { Authorization: bearer(s.adminToken), 'Content-Type': 'application/json' }, body: stream, duplex: 'half' } as RequestInit);
    expect(chunked.status).toBe(400);
    const fits = JSON.stringify({ using: USING, methodCalls: [['Core/echo', { pad: 'x'.repeat(19_000) }, 'c']] });
    const ok = await fetch(`${s.url}/api`, { method: 'POST', headers: { Authorization: bearer(s.adminToken), 'Content-Type': 'application/json' }, body: fits });
    expect(ok.status).toBe(200);
  });

  it('a huge batch of creates is refused whole: requestTooLarge, nothing written', async () => {
    const before = await snapshot();
    const create = Object.fromEntries(Array.from({ length: 501 }, (_, i) => [`k${i}`, { description: 'x' }]));
    const res = await fetch(`${s.url}/api`, { method: 'POST', headers: { Authorization: bearer(s.adminToken), 'Content-Type': 'application/json' },
      body: JSON.stringify({ using: USING, methodCalls: [['x:ApiKey/set', { create }, 'c']] }) });
    // 501 creates exceed maxSizeRequest here too (20 000 bytes): either limit stops it before any write.
    expect(res.status === 400 || (await res.clone().json()).methodResponses[0][1].type === 'requestTooLarge').toBe(true);
    expect(await snapshot()).toBe(before);
  });

  it('unknown routes and methods are JSON problems', async () => {
    const res = await fetch(`${s.url}/nope`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ status: 404 });
  });
});
