import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startChild, stopChild, type ServerChild } from './helpers/child.js';

const dir = mkdtempSync(join(tmpdir(), 'jmap-keys-logs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const USING = ['urn:ietf:params:jmap:core', 'urn:stalwart:jmap'];
const ADMIN_PASSWORD = 'logs-admin-password';
const basic = (login: string, password: string) => `Basic ${Buffer.from(`${login}:${password}`).toString('base64')}`;

describe('structured logs (a real server, stdout parsed as JSON lines)', () => {
  it('one line per request with route, status, account and credential; refusals and verdicts with reasons; never a secret', async () => {
    const port = String(await freePort());
    const base = `http://127.0.0.1:${port}`;
    const s: ServerChild = startChild({ JMAP_KEYS_DATA: dir, JMAP_KEYS_PORT: port, JMAP_KEYS_ADMIN_PASSWORD: ADMIN_PASSWORD, JMAP_KEYS_AUTH_MAX_FAILURES: '12' });
    await s.waitFor('listening on');
    const adminKey = /API key:\s+(API_\S+)/.exec(s.stdout())?.[1] as string;
    const secrets: string[] = [adminKey, ADMIN_PASSWORD];
    const auth = (value: string) => { secrets.push(value); return { Authorization: value }; };
    const api = async (authorization: string, methodCalls: unknown[]) => (await fetch(`${base}/api`, {
      method: 'POST', headers: { ...auth(authorization), 'Content-Type': 'application/json', 'X-Request-Id': 'req-test-1' },
      body: JSON.stringify({ using: USING, methodCalls }),
    })).json();
    const rest = async (authorization: string, path: string, body: unknown) => (await fetch(`${base}${path}`, {
      method: 'POST', headers: { ...auth(authorization), 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    })).json();

    expect((await fetch(`${base}/jmap/session`, { headers: auth(`Bearer ${adminKey}`) })).status).toBe(200);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    // Every answer names its request: the client's id when it gave a plain one, else a new one.
    expect((await fetch(`${base}/healthz`, { headers: { 'X-Request-Id': 'probe-7' } })).headers.get('x-request-id')).toBe('probe-7');
    expect((await fetch(`${base}/healthz`, { headers: { 'X-Request-Id': 'bad id!' } })).headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const made = await api(`Bearer ${adminKey}`, [['x:ApiKey/set', { create: {
      fenced: { description: 'fenced', allowedIps: ['192.0.2.0/24'] }, gone: { description: 'gone' },
    } }, '0']]);
    const fenced = made.methodResponses[0][1].created.fenced;
    const gone = made.methodResponses[0][1].created.gone;
    secrets.push(fenced.secret, gone.secret);
    await api(`Bearer ${adminKey}`, [['x:ApiKey/set', { destroy: [gone.id] }, '0']]);

    expect((await fetch(`${base}/jmap/session`, { headers: auth(`Bearer ${fenced.secret}`) })).status).toBe(403);
    expect((await fetch(`${base}/jmap/session`, { headers: auth(`Bearer ${gone.secret}`) })).status).toBe(401);
    expect((await fetch(`${base}/jmap/session`, { headers: auth(basic('admin', 'not-the-password')) })).status).toBe(401);

    const internal = await rest(`Bearer ${adminKey}`, '/api/smtp-credentials', { name: 'dovecot', scopes: ['internal'] });
    const mail = await rest(`Bearer ${adminKey}`, '/api/smtp-credentials', { name: 'Phone', scopes: ['imap'] });
    const mobile = await rest(`Bearer ${adminKey}`, '/api/smtp-credentials/mobile', { name: 'iPhone', platform: 'ios', deviceId: 'dev-1' });
    const dead = await rest(`Bearer ${adminKey}`, '/api/smtp-credentials', { name: 'Old phone', scopes: ['imap'] });
    expect((await fetch(`${base}/api/smtp-credentials/${dead.id}`, { method: 'DELETE', headers: auth(`Bearer ${adminKey}`) })).status).toBe(204);
    secrets.push(internal.apiKey, mail.apiKey, mobile.apiKey, dead.apiKey);
    const profileToken = (mobile.mobileconfigUrl as string).split('/').pop() as string;
    secrets.push(profileToken);
    expect((await fetch(mobile.mobileconfigUrl)).status).toBe(200);

    const introspect = (token: string, service: string, user?: string) => fetch(`${base}/internal/introspect`, {
      method: 'POST',
      headers: { ...auth(`Bearer ${internal.apiKey}`), 'Content-Type': 'application/x-www-form-urlencoded', 'X-Dovecot-Auth-Service': service, 'X-Dovecot-Auth-Remote': '203.0.113.5:50000' },
      body: new URLSearchParams({ token, ...(user ? { username: user } : {}) }).toString(),
    }).then((r) => r.json());
    expect(await introspect(mail.apiKey, 'imap')).toMatchObject({ active: true });
    expect(await introspect(mail.apiKey, 'pop3')).toEqual({ active: false });
    expect(await introspect(mail.apiKey, 'imap', 'mallory')).toEqual({ active: false });
    expect(await introspect(dead.apiKey, 'imap')).toEqual({ active: false });

    // Past the limit of failed authentications from this address: throttled.
    let status = 0;
    for (let i = 0; i < 15 && status !== 429; i++) status = (await fetch(`${base}/jmap/session`, { headers: auth('Bearer API_nope') })).status;
    expect(status).toBe(429);

    expect(await stopChild(s)).toBe(0);
    const out = s.stdout();
    const jsonPart = out.slice(out.indexOf('\n{'));
    for (const secret of secrets) expect(jsonPart, 'a secret in the log').not.toContain(secret);
    expect(jsonPart.toLowerCase()).not.toContain('authorization');

    const lines = s.logLines();
    for (const l of lines) expect(typeof l.time === 'string' && typeof l.level === 'string' && typeof l.msg === 'string').toBe(true);
    // Start-up warnings (links naming 127.0.0.1) come first; the listening line is the last start-up line.
    expect(lines.find((l) => String(l.msg).startsWith('listening on'))).toMatchObject({ level: 'info', msg: `listening on ${base} (database ${join(dir, 'jmap-keys.db')})`, url: base, synchronous: 'FULL' });
    expect(lines.at(-1)).toMatchObject({ msg: 'stopped: last-used times flushed, store closed', signal: 'SIGTERM' });
    const requests = lines.filter((l) => l.msg === 'request');
    for (const r of requests) {
      expect(r).toHaveProperty('reqId');
      expect(r).toHaveProperty('route');
      expect(typeof r.status).toBe('number');
      expect(typeof r.ms).toBe('number');
      expect(r.clientIp).toBe('127.0.0.1');
    }
    const session = requests.find((r) => r.route === '/jmap/session' && r.status === 200);
    expect(session).toMatchObject({ method: 'GET', login: 'admin', accountId: expect.any(String), credentialId: expect.any(String) });
    expect(requests.find((r) => r.route === '/api')).toMatchObject({ reqId: 'req-test-1', status: 200, login: 'admin' });
    const refused = requests.filter((r) => r.authRefused).map((r) => r.authRefused);
    expect(refused).toEqual(expect.arrayContaining(['ip-not-allowed', 'unknown', 'bad-password', 'throttled']));
    // Health probes are not logged at info.
    expect(requests.some((r) => r.route === '/healthz')).toBe(false);
    // The profile link is logged by its route pattern, not its path.
    expect(requests.some((r) => r.route === '/api/mobileconfig/:token')).toBe(true);

    const verdicts = requests.filter((r) => r.route === '/internal/introspect');
    expect(verdicts.map((v) => [v.verdict, v.verdictReason, v.service, v.mailClient])).toEqual([
      ['active', 'ok', 'imap', '203.0.113.5'],
      ['inactive', 'scope', 'pop3', '203.0.113.5'],
      ['inactive', 'wrong-user', 'imap', '203.0.113.5'],
      ['inactive', 'unknown', 'imap', '203.0.113.5'],
    ]);
    for (const v of verdicts) expect(v.login).toBe('admin'); // the caller: the mail server's internal credential
  });

  it('JMAP_KEYS_LOG_LEVEL=warn drops the request lines', async () => {
    const port = String(await freePort());
    const s = startChild({ JMAP_KEYS_DATA: dir, JMAP_KEYS_PORT: port, JMAP_KEYS_LOG_LEVEL: 'warn' });
    // Nothing at info: no "listening" line either; wait for the port instead (a loaded CI machine can take seconds).
    for (let i = 0; !(await fetch(`http://127.0.0.1:${port}/healthz`).then(() => true, () => false)); i++) {
      if (s.child.exitCode !== null || i >= 300) throw new Error(`the server did not answer (exit ${s.child.exitCode}):\n${s.stderr()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await fetch(`http://127.0.0.1:${port}/jmap/session`)).status).toBe(401);
    expect(await stopChild(s)).toBe(0);
    expect(s.logLines().filter((l) => l.msg === 'request')).toEqual([]);
  });
});
