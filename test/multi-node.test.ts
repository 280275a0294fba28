import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDatabase } from './helpers/postgres.js';
import { TEST_SECRET, USING } from './helpers/server.js';

/**
 * Three jmap-keys processes (`node bin/server.js`, as `npm start` runs it) on one PostgreSQL database: every promise
 * of one node holds across them. Runs in the `postgres` vitest project only.
 */
interface Node {
  name: string;
  child: ChildProcess;
  url: string;
  out: string;
}

const ADMIN_PASSWORD = 'multi-node-admin-password';
const dirs: string[] = [];

function startNode(name: string, env: Record<string, string>): Promise<Node> {
  const dir = mkdtempSync(join(tmpdir(), `jmap-keys-${name}-`));
  dirs.push(dir);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/server.js'], {
      env: { ...process.env, JMAP_KEYS_DATA: dir, JMAP_KEYS_PORT: '0', JMAP_KEYS_ADMIN_PASSWORD: ADMIN_PASSWORD, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve({ name, child, url: m[1] as string, get out() { return out; } });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${name} exited with ${code}:\n${out}`)));
  });
}

const stopNode = (node: Node) => new Promise<void>((done) => {
  if (node.child.exitCode !== null || node.child.signalCode !== null) return done();
  node.child.once('exit', () => done());
  node.child.kill('SIGTERM');
});

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

async function api(node: Node, auth: Record<string, string>, methodCalls: unknown[]): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(`${node.url}/api`, {
    method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ using: USING, methodCalls }),
  });
  return { status: res.status, body: await res.json() };
}

const sessionStatus = async (node: Node, headers: Record<string, string>) => (await fetch(`${node.url}/jmap/session`, { headers })).status;

describe.runIf(inject('postgresUrl'))('three nodes on one PostgreSQL database', () => {
  let nodes: Node[] = [];
  let a: Node, b: Node, c: Node;
  let admin: Record<string, string>;
  let databaseUrl: string;

  beforeAll(async () => {
    databaseUrl = await createDatabase(inject('postgresUrl'));
    const env = {
      JMAP_KEYS_DATABASE_URL: databaseUrl, JMAP_KEYS_SECRET: TEST_SECRET, JMAP_KEYS_MAX_KEYS_PER_ACCOUNT: '20',
      JMAP_KEYS_AUTH_MAX_FAILURES: '6', JMAP_KEYS_MAX_CONCURRENT_REQUESTS: '100', JMAP_KEYS_REST_WRITES_PER_WINDOW: '10000',
      JMAP_KEYS_REST_READS_PER_WINDOW: '10000', JMAP_KEYS_TRUSTED_PROXIES: '127.0.0.1/32',
    };
    // All three at once on an empty database: migrations and the first-start bootstrap must not collide.
    nodes = await Promise.all(['a', 'b', 'c'].map((n) => startNode(n, env)));
    [a, b, c] = nodes as [Node, Node, Node];
    const banners = nodes.filter((n) => n.out.includes('first start'));
    expect(banners).toHaveLength(1);
    const key = /API key:\s+(API_\S+)/.exec((banners[0] as Node).out)?.[1] as string;
    admin = bearer(key);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(nodes.map(stopNode));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('started together with one admin; a key made on A works on B and C; revoked on B, A and C refuse it', async () => {
    for (const n of nodes) expect(await sessionStatus(n, admin)).toBe(200);
    const made = await api(a, admin, [['x:ApiKey/set', { create: { k: { description: 'made on A' } } }, 'c']]);
    const { id, secret } = made.body.methodResponses[0][1].created.k;
    for (const n of nodes) expect(await sessionStatus(n, bearer(secret))).toBe(200);

    const destroyed = await api(b, admin, [['x:ApiKey/set', { destroy: [id] }, 'd']]);
    expect(destroyed.body.methodResponses[0][1].destroyed).toEqual([id]);
    const acknowledged = performance.now();
    // The bound: the time the destroy's notification takes to reach the other nodes (README, "Scale out").
    const delays: number[] = [];
    for (const n of [a, c]) {
      let status = await sessionStatus(n, bearer(secret));
      while (status === 200 && performance.now() - acknowledged < 5000) status = await sessionStatus(n, bearer(secret));
      expect(status).toBe(401);
      delays.push(performance.now() - acknowledged);
    }
    console.log(`revocation seen on A and C ${delays.map((d) => `${d.toFixed(1)} ms`).join(', ')} after B acknowledged it`);
  });

  it('a node started with another secret refuses to start, saying why', async () => {
    const wrong = startNode('d', { JMAP_KEYS_DATABASE_URL: databaseUrl, JMAP_KEYS_SECRET: 'b2'.repeat(32) });
    const error = await wrong.then(() => undefined, (err: unknown) => err as Error);
    expect(error?.message).toMatch(/exited with [1-9]/);
    expect(error?.message).toContain('is not the one the database');
  });

  it('failures spread over the nodes throttle together; a valid key is never refused', async () => {
    const guess = { Authorization: `Bearer API_${'x'.repeat(40)}`, 'X-Forwarded-For': '198.51.100.7' };
    const statuses: number[] = [];
    for (let i = 0; i < 9; i++) statuses.push(await sessionStatus(nodes[i % 3] as Node, guess));
    // 6 failures allowed in all, wherever they land; then every node answers 429.
    expect(statuses.slice(0, 6)).toEqual([401, 401, 401, 401, 401, 401]);
    expect(statuses.slice(6)).toEqual([429, 429, 429]);
    for (const n of nodes) expect(await sessionStatus(n, admin)).toBe(200);
  });

  it('60 concurrent creates spread over the nodes at quota 20 leave exactly 20', async () => {
    const count = async () => (await api(c, admin, [['x:ApiKey/query', { calculateTotal: true }, 'q']])).body.methodResponses[0][1].total as number;
    const before = await count();
    const calls = Array.from({ length: 60 }, (_, i) => api(nodes[i % 3] as Node,
      admin, [['x:ApiKey/set', { create: { q: { description: `quota ${i}` } } }, 'q']]));
    const results = await Promise.all(calls);
    const created = results.filter((r) => r.body.methodResponses[0][1].created?.q).length;
    const refused = results.filter((r) => r.body.methodResponses[0][1].notCreated?.q?.type === 'overQuota').length;
    expect(await count()).toBe(20);
    expect(created).toBe(20 - before);
    expect(refused).toBe(60 - created);
  });

  it('/changes on C sees the writes made on A and B, in order', async () => {
    const state = async (n: Node) => (await api(n, admin, [['x:AppPassword/get', { ids: [] }, 'g']])).body.methodResponses[0][1].state as string;
    const since = await state(c);
    const one = (await api(a, admin, [['x:AppPassword/set', { create: { x: { description: 'one' } } }, 's']])).body.methodResponses[0][1].created.x.id;
    const two = (await api(b, admin, [['x:AppPassword/set', { create: { x: { description: 'two' } } }, 's']])).body.methodResponses[0][1].created.x.id;
    await api(b, admin, [['x:AppPassword/set', { update: { [one]: { description: 'one, edited on B' } } }, 's']]);
    await api(a, admin, [['x:AppPassword/set', { destroy: [two] }, 's']]);
    const changes = (await api(c, admin, [['x:AppPassword/changes', { sinceState: since }, 'ch']])).body.methodResponses[0][1];
    expect(changes).toMatchObject({ oldState: since, hasMoreChanges: false, created: [one], updated: [], destroyed: [] });
    expect(changes.newState).toBe(await state(a));
    // Step by step, each write is its own position, in the order the nodes made them.
    let at = since;
    const seen: string[] = [];
    for (;;) {
      const step = (await api(c, admin, [['x:AppPassword/changes', { sinceState: at, maxChanges: 1 }, 'ch']])).body.methodResponses[0][1];
      seen.push(...step.created.map((i: string) => `+${i}`), ...step.updated.map((i: string) => `~${i}`), ...step.destroyed.map((i: string) => `-${i}`));
      at = step.newState;
      if (!step.hasMoreChanges) break;
    }
    expect(seen).toEqual([`+${one}`, `+${two}`, `~${one}`, `-${two}`]);
  });

  it('a web sign-out on A ends the session on B', async () => {
    const login = await fetch(`${a.url}/web/login`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ login: 'admin', password: ADMIN_PASSWORD }),
    });
    expect(login.status).toBe(200);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
    const { csrfToken } = (await login.json()) as { csrfToken: string };
    expect(await sessionStatus(b, { Cookie: cookie })).toBe(200);
    const out = await fetch(`${a.url}/web/logout`, { method: 'POST', headers: { Cookie: cookie, 'X-CSRF-Token': csrfToken } });
    expect(out.status).toBeLessThan(400);
    expect(await sessionStatus(b, { Cookie: cookie })).toBe(401);
    expect(await sessionStatus(c, { Cookie: cookie })).toBe(401);
  });

  it('a .mobileconfig link made on A works once, on B', async () => {
    const made = await fetch(`${a.url}/api/smtp-credentials/mobile`, {
      method: 'POST', headers: { ...admin, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'phone', platform: 'ios', deviceId: 'device-1' }),
    });
    expect(made.status).toBe(201);
    const { mobileconfigUrl, apiKey } = (await made.json()) as { mobileconfigUrl: string; apiKey: string };
    const path = new URL(mobileconfigUrl).pathname;
    expect((await fetch(`${b.url}${path}`, { method: 'HEAD' })).status).toBe(200);
    const profile = await fetch(`${b.url}${path}`);
    expect(profile.status).toBe(200);
    expect(await profile.text()).toContain(apiKey);
    expect((await fetch(`${c.url}${path}`)).status).toBe(404);
    expect((await fetch(`${a.url}${path}`)).status).toBe(404);
  });

  it('kill -9 of one node under load loses nothing acknowledged; the others keep answering', async () => {
    // Room under the quota: app passwords (quota 100), created over every node while C is killed half-way.
    const acknowledged: string[] = [];
    let afterKill = 0;
    let killed = false;
    const worker = async (n: Node, count: number) => {
      for (let i = 0; i < count; i++) {
        try {
          const r = await api(n, admin, [['x:AppPassword/set', { create: { w: { description: `load ${n.name} ${i}` } } }, 'w']]);
          const id = r.body.methodResponses[0][1].created?.w?.id as string | undefined;
          if (id) {
            acknowledged.push(id);
            if (killed) afterKill++;
          }
        } catch {
          // The killed node's connections fail: nothing was acknowledged by them.
        }
      }
    };
    const load = Promise.all([worker(a, 25), worker(b, 25), worker(c, 25)]);
    await new Promise((r) => setTimeout(r, 150));
    c.child.kill('SIGKILL');
    killed = true;
    await load;
    expect(afterKill).toBeGreaterThan(0);
    const got = await api(a, admin, [['x:AppPassword/get', { ids: acknowledged, properties: ['id'] }, 'g']]);
    expect(got.body.methodResponses[0][1].notFound).toEqual([]);
    expect(got.body.methodResponses[0][1].list).toHaveLength(acknowledged.length);
    expect(await sessionStatus(b, admin)).toBe(200);
  });
});
