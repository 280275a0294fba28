import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { startServer, type RunningServer } from '../src/server.js';
import { formatUtcDate, nowSeconds } from '../src/util/utcdate.js';
import { createAccount } from './helpers/accounts.js';
import { basic, bearer, startTestServer, type TestServer } from './helpers/server.js';

/**
 * Change notifications against a real receiver: node:http on 127.0.0.1 verifying every request with the
 * `standardwebhooks` package (as a receiver written from the specification would).
 */
const SECRET = `whsec_${Buffer.from('jmap-keys webhook test secret, 32 B').toString('base64')}`;

interface Received { id: string; status: number; verified: boolean; type: string; body: string; headers: IncomingHttpHeaders; payload: any } // eslint-disable-line @typescript-eslint/no-explicit-any

class Receiver {
  readonly received: Received[] = [];
  /** Answer 503 to this many requests before answering 204. */
  failNext = 0;
  private server: Server | undefined;
  port = 0;

  async start(port = 0): Promise<this> {
    const verifier = new Webhook(SECRET);
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        let verified = false;
        try {
          verifier.verify(body, req.headers as Record<string, string>);
          verified = true;
        } catch {
          // recorded as unverified: the test fails on it
        }
        const status = !verified ? 400 : this.failNext > 0 ? 503 : 204;
        if (status === 503) this.failNext--;
        const payload = JSON.parse(body);
        this.received.push({ id: String(req.headers['webhook-id']), status, verified, type: payload.type, body, headers: req.headers, payload });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((done) => this.server!.listen(port, '127.0.0.1', done));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  get url(): string { return `http://127.0.0.1:${this.port}/hooks`; }

  /** Answered with 2xx: what the server counts as delivered. */
  delivered(filter: (r: Received) => boolean = () => true): Received[] {
    return this.received.filter((r) => r.status < 300 && filter(r));
  }

  async stop(): Promise<void> {
    await new Promise<void>((done) => { this.server?.close(() => done()); this.server?.closeAllConnections(); });
  }
}

const hookEnv = (url: string) => ({
  JMAP_KEYS_WEBHOOK_URL: url, JMAP_KEYS_WEBHOOK_SECRET: SECRET, JMAP_KEYS_WEBHOOK_POLL_MS: '50', JMAP_KEYS_WEBHOOK_RETRY_SECONDS: '1',
  JMAP_KEYS_REST_WRITES_PER_WINDOW: '1000', JMAP_KEYS_REST_READS_PER_WINDOW: '1000',
});

async function until<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function rest(url: string, method: string, path: string, auth: string, body?: unknown) {
  const res = await fetch(`${url}/api/smtp-credentials${path}`, {
    method, headers: { Authorization: auth, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

const alice = basic('alice', 'alice-password');
const ofCredential = (id: string) => (r: Received) => r.payload.data?.credential?.id === id;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

describe('webhooks', () => {
  let receiver: Receiver;
  let s: TestServer;
  beforeAll(async () => {
    receiver = await new Receiver().start();
    s = await startTestServer(hookEnv(receiver.url));
    await createAccount(s, 'alice', 'alice-password');
  });
  afterAll(async () => {
    await s.stop();
    await receiver.stop();
  });

  it('sends created, rotated and revoked, signed per Standard Webhooks, without secrets', async () => {
    const made = await rest(s.url, 'POST', '', alice, { name: 'Laptop', scopes: ['imap', 'smtp'] });
    expect(made.status).toBe(201);
    const rotated = await rest(s.url, 'POST', `/${made.body.id}/rotate`, alice);
    expect(rotated.status).toBe(200);
    expect((await rest(s.url, 'DELETE', `/${rotated.body.id}`, alice)).status).toBe(204);

    const created = await until('created', () => receiver.delivered(ofCredential(made.body.id)).find((r) => r.type === 'credential.created'));
    const rotation = await until('rotated', () => receiver.delivered(ofCredential(rotated.body.id)).find((r) => r.type === 'credential.rotated'));
    const revoked = await until('revoked', () => receiver.delivered(ofCredential(rotated.body.id)).find((r) => r.type === 'credential.revoked'));

    for (const r of [created, rotation, revoked]) {
      expect(r.verified).toBe(true);
      expect(r.headers['webhook-id']).toMatch(/^msg_/);
      expect(r.headers['webhook-timestamp']).toMatch(/^\d+$/);
      expect(r.headers['webhook-signature']).toMatch(/^v1,/);
      expect(r.headers['content-type']).toBe('application/json');
      // The secrets shown once never travel in a notification.
      expect(r.body).not.toContain(made.body.apiKey);
      expect(r.body).not.toContain(rotated.body.apiKey);
      expect(r.body).not.toMatch(/rm_[A-Za-z0-9_-]{20}/);
      expect(r.payload.data.account).toEqual({ id: expect.any(String), login: 'alice' });
      expect(r.payload.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }
    expect(created.payload).toMatchObject({
      type: 'credential.created',
      data: { credential: { id: made.body.id, kind: 'appPassword', description: 'Laptop', expiresAt: null }, actor: { via: 'rest' } },
    });
    expect(rotation.payload.data.details.previousId).toBe(made.body.id);
    expect(revoked.payload.data.credential).toMatchObject({ id: rotated.body.id, description: 'Laptop' });
    // Another secret does not verify: the signature is real.
    expect(() => new Webhook(`whsec_${Buffer.from('x'.repeat(32)).toString('base64')}`).verify(created.body, created.headers as Record<string, string>)).toThrow();
    // Each event once.
    const ids = receiver.delivered().map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('tells of the first use from a new address, once', async () => {
    const made = await rest(s.url, 'POST', '', alice, { name: 'Script', scopes: ['api:read'] });
    expect((await rest(s.url, 'GET', '', bearer(made.body.apiKey))).status).toBe(200);
    const first = await until('newAddress', () => receiver.delivered(ofCredential(made.body.id)).find((r) => r.type === 'credential.newAddress'));
    expect(first.verified).toBe(true);
    expect(first.payload.data).toMatchObject({ address: '127.0.0.1', credential: { id: made.body.id, kind: 'appPassword' } });
    expect(first.body).not.toContain(made.body.apiKey);
    // Used again from the same address (on this node, and on another node that has not seen it in memory), then revoked.
    expect((await rest(s.url, 'GET', '', bearer(made.body.apiKey))).status).toBe(200);
    const other = await startServer(loadConfig({ ...s.storeEnv, JMAP_KEYS_PORT: '0', ...hookEnv(receiver.url) }));
    cleanups.push(() => other.close());
    expect((await rest(other.url, 'GET', '', bearer(made.body.apiKey))).status).toBe(200);
    await other.close();
    expect((await rest(s.url, 'DELETE', `/${made.body.id}`, alice)).status).toBe(204);
    await until('revoked', () => receiver.delivered(ofCredential(made.body.id)).find((r) => r.type === 'credential.revoked'));
    await until('empty outbox', async () => (await s.services.store.webhookBacklog()).pending === 0);
    expect(receiver.delivered(ofCredential(made.body.id)).filter((r) => r.type === 'credential.newAddress')).toHaveLength(1);
  });

  it('announces an expiry within 7 days, then the expiry, each once', async () => {
    const now = nowSeconds();
    const made = await rest(s.url, 'POST', '', alice, { name: 'Temp', scopes: ['imap'], expiresAt: formatUtcDate(now + 3 * 86_400) });
    expect(made.status).toBe(201);
    const hooks = s.services.webhooks!;
    await hooks.scanExpiries(now);
    await hooks.scanExpiries(now + 60);
    const expiring = await until('expiring', () => receiver.delivered(ofCredential(made.body.id)).find((r) => r.type === 'credential.expiring'));
    expect(expiring.payload.data.credential).toMatchObject({ id: made.body.id, expiresAt: formatUtcDate(now + 3 * 86_400) });
    await hooks.scanExpiries(now + 4 * 86_400);
    await hooks.scanExpiries(now + 5 * 86_400);
    await until('expired', () => receiver.delivered(ofCredential(made.body.id)).find((r) => r.type === 'credential.expired'));
    await until('empty outbox', async () => (await s.services.store.webhookBacklog()).pending === 0);
    const mine = receiver.delivered(ofCredential(made.body.id));
    expect(mine.filter((r) => r.type === 'credential.expiring')).toHaveLength(1);
    expect(mine.filter((r) => r.type === 'credential.expired')).toHaveLength(1);
  });

  it('retries with backoff while the receiver answers 503, then delivers', async () => {
    receiver.failNext = 2;
    const made = await rest(s.url, 'POST', '', alice, { name: 'Retried', scopes: ['imap'] });
    const ok = await until('delivered after 503s', () => receiver.delivered(ofCredential(made.body.id)).find((r) => r.type === 'credential.created'));
    const tries = receiver.received.filter((r) => r.id === ok.id);
    expect(tries.map((r) => r.status)).toEqual([503, 503, 204]);
    expect(tries.every((r) => r.verified && r.body === ok.body)).toBe(true);
    const metrics = await s.services.metrics.registry.getSingleMetricAsString('jmap_keys_webhook_deliveries_total');
    expect(metrics).toMatch(/outcome="failed"} [2-9]/);
    expect(metrics).toMatch(/outcome="delivered"} \d+/);
  });
});

describe('webhooks across restarts and nodes', () => {
  it('delivers what was recorded while the receiver was down and the server stopped, after a restart', async () => {
    // A port nobody listens on yet: the receiver comes up there later.
    const probe = await new Receiver().start();
    const port = probe.port;
    await probe.stop();
    const url = `http://127.0.0.1:${port}/hooks`;
    const a = await startTestServer(hookEnv(url));
    cleanups.push(async () => rmSync(a.dir, { recursive: true, force: true }));
    await createAccount(a, 'alice', 'alice-password');
    const x = await rest(a.url, 'POST', '', alice, { name: 'While down', scopes: ['imap'] });
    await until('a failed attempt', async () => Number(/outcome="failed"} (\d+)/.exec(await a.services.metrics.registry.getSingleMetricAsString('jmap_keys_webhook_deliveries_total'))?.[1] ?? 0) > 0);
    await a.close();

    // While no webhook-sending server runs: a node without webhooks changes credentials.
    const quiet = await startServer(loadConfig({ ...a.storeEnv, JMAP_KEYS_PORT: '0' }));
    cleanups.push(() => quiet.close());
    const y = await rest(quiet.url, 'POST', '', alice, { name: 'While stopped', scopes: ['imap'] });
    expect(y.status).toBe(201);
    await quiet.close();

    const receiver = await new Receiver().start(port);
    cleanups.push(() => receiver.stop());
    const b = await startServer(loadConfig({ ...a.storeEnv, JMAP_KEYS_PORT: '0', ...hookEnv(url) }));
    cleanups.push(() => b.close());
    const gotX = await until('x', () => receiver.delivered(ofCredential(x.body.id)).find((r) => r.type === 'credential.created'));
    const gotY = await until('y', () => receiver.delivered(ofCredential(y.body.id)).find((r) => r.type === 'credential.created'));
    expect(gotX.verified && gotY.verified).toBe(true);
    expect(gotY.payload.data.actor.via).toBe('rest');
  });

  it('two nodes on one store deliver each event once', async () => {
    const receiver = await new Receiver().start();
    cleanups.push(() => receiver.stop());
    const one = await startTestServer(hookEnv(receiver.url));
    cleanups.push(() => one.stop());
    const two: RunningServer = await startServer(loadConfig({ ...one.storeEnv, JMAP_KEYS_PORT: '0', ...hookEnv(receiver.url) }));
    cleanups.push(() => two.close());
    await createAccount(one, 'alice', 'alice-password');
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const made = await rest((i % 2 ? two : one).url, 'POST', '', alice, { name: `Key ${i}`, scopes: ['imap'] });
      expect(made.status).toBe(201);
      ids.push(made.body.id);
    }
    await until('all created', () => ids.every((id) => receiver.delivered(ofCredential(id)).length > 0));
    await until('empty outbox', async () => (await one.services.store.webhookBacklog()).pending === 0);
    const backlog = await one.services.store.webhookBacklog();
    expect(backlog.failed).toBe(0);
    for (const id of ids) expect(receiver.received.filter(ofCredential(id))).toHaveLength(1);
    const all = receiver.received.map((r) => r.id);
    expect(new Set(all).size).toBe(all.length);
    expect(receiver.received.every((r) => r.verified)).toBe(true);
  });
});

describe('webhook settings', () => {
  it('refuses a secret not in whsec_ form, and a URL without a secret, naming the setting', () => {
    expect(() => loadConfig({ JMAP_KEYS_WEBHOOK_URL: 'http://127.0.0.1:9/h', JMAP_KEYS_WEBHOOK_SECRET: 'hunter2' }))
      .toThrow(/JMAP_KEYS_WEBHOOK_SECRET \(--webhook-secret\): must be whsec_ followed by base64/);
    expect(() => loadConfig({ JMAP_KEYS_WEBHOOK_URL: 'http://127.0.0.1:9/h', JMAP_KEYS_WEBHOOK_SECRET: 'whsec_c2hvcnQ=' }))
      .toThrow(/must hold 24 to 64 bytes/);
    expect(() => loadConfig({ JMAP_KEYS_WEBHOOK_URL: 'http://127.0.0.1:9/h' })).toThrow(ConfigError);
    expect(() => loadConfig({ JMAP_KEYS_WEBHOOK_URL: 'http://127.0.0.1:9/h' })).toThrow(/JMAP_KEYS_WEBHOOK_SECRET \(--webhook-secret\): .*go together/);
    expect(() => loadConfig({ JMAP_KEYS_WEBHOOK_URL: 'ftp://x/', JMAP_KEYS_WEBHOOK_SECRET: SECRET })).toThrow(/JMAP_KEYS_WEBHOOK_URL .*must be http\(s\)/);
    expect(loadConfig({}).webhook).toBeUndefined();
  });

  it('the README\'s verification snippet, run as written, accepts a real notification', async () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('### Webhooks'), readme.indexOf('### Metrics'));
    const snippet = /```js\n([\s\S]*?)```/.exec(section)?.[1];
    expect(snippet).toContain('wh.verify');
    const probe = await new Receiver().start();
    const port = probe.port;
    await probe.stop();
    const child = spawn(process.execPath, ['--input-type=module', '-e', snippet as string], {
      cwd: new URL('..', import.meta.url), env: { ...process.env, PORT: String(port), WEBHOOK_SECRET: SECRET }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    cleanups.push(async () => { child.kill(); });
    const s = await startTestServer(hookEnv(`http://127.0.0.1:${port}/`));
    cleanups.push(() => s.stop());
    await createAccount(s, 'alice', 'alice-password');
    const made = await rest(s.url, 'POST', '', alice, { name: 'Snippet', scopes: ['imap'] });
    await until('the snippet\'s line', () => out.includes(`credential.created ${made.body.id}`));
  });
});
