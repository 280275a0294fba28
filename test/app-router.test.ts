import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { bearer, startTestServer, type TestServer } from './helpers/server.js';

let s: TestServer;
// One REST write per window: the 404s below must not spend it.
beforeAll(async () => { s = await startTestServer({ JMAP_KEYS_REST_WRITES_PER_WINDOW: '1' }); });
afterAll(async () => { await s.stop(); });

describe('routing', () => {
  it("keeps Hono on its RegExpRouter (one regular expression per method), not the slower TrieRouter fallback", async () => {
    const app = createApp(s.services);
    expect((await app.request('/healthz')).status).toBe(200);
    // SmartRouter settles on the first router that takes every route; a route shape RegExpRouter cannot express
    // (a static segment beside /:param with /:param/more below it) would make it fall back for every request.
    expect((app.router as unknown as { activeRouter: { name: string } }).activeRouter.name).toBe('RegExpRouter');
  });

  it('POST /api/smtp-credentials/<anything but mobile> is 404 and spends no rate-limit; /mobile still works', async () => {
    const post = (path: string, body: unknown) => fetch(`${s.url}/api/smtp-credentials/${path}`, {
      method: 'POST', headers: { Authorization: bearer(s.adminToken), 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    for (const path of ['k123', 'mobil', 'MOBILE']) expect((await post(path, {})).status).toBe(404);
    const made = await post('mobile', { name: 'phone', platform: 'android', deviceId: 'dev-1' });
    expect(made.status).toBe(201);
    expect((await made.json() as { setupUrl: string }).setupUrl).toContain('/api/mobileconfig/');
  });
});
