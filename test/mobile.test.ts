import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from './helpers/accounts.js';
import { basic, startTestServer, type TestServer } from './helpers/server.js';

let s: TestServer;
const alice = basic('alice', 'alice-password');

beforeAll(async () => {
  s = await startTestServer({ JMAP_KEYS_MAIL_HOSTNAME: 'mail.example.com', JMAP_KEYS_POP3_ENABLED: 'true' });
  await createAccount(s, 'alice', 'alice-password');
});
afterAll(async () => { await s.stop(); });

const mobile = async (platform: string) => {
  const res = await fetch(`${s.url}/api/smtp-credentials/mobile`, {
    method: 'POST', headers: { Authorization: alice, 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: `my ${platform}`, platform, deviceId: `${platform}-1` }),
  });
  expect(res.status).toBe(201);
  return res.json() as Promise<{ apiKey: string; setupUrl: string; mobileconfigUrl?: string; scopes: string[] }>;
};

describe('one-time setup links (issue 14, point 2)', () => {
  it('a HEAD request (a link preview) does not use the link up; the GET that serves the profile does', async () => {
    const made = await mobile('ios');
    expect(made.mobileconfigUrl).toBe(made.setupUrl);
    for (let i = 0; i < 3; i++) {
      const head = await fetch(made.setupUrl, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-type')).toBe('application/x-apple-aspen-config');
      expect(await head.text()).toBe('');
    }
    const get = await fetch(made.setupUrl);
    expect(get.status).toBe(200);
    const profile = await get.text();
    expect(profile).toContain(made.apiKey);
    expect((await fetch(made.setupUrl, { method: 'HEAD' })).status).toBe(404);
    expect((await fetch(made.setupUrl)).status).toBe(404);

    // The profile: an address in EmailAddress; SMTP on the secure port with TLS, as the connection info lists it.
    const field = (k: string) => new RegExp(`<key>${k}</key>\\s*<(?:string|integer|true|false)>?([^<]*)`).exec(profile)?.[1];
    expect(field('EmailAddress')).toBe('alice@mail.example.com');
    expect(field('IncomingMailServerUsername')).toBe('alice');
    const info = (await (await fetch(`${s.url}/api/smtp-credentials`, { headers: { Authorization: alice } })).json()).connectionInfo;
    expect(Number(field('OutgoingMailServerPortNumber'))).toBe(info.smtp.securePort);
    expect(profile).toMatch(/<key>OutgoingMailServerUseSSL<\/key>\s*<true\/>/);
  });

  it('Android, Windows and web get a page of settings they can type in, not an Apple profile; only the protocols of the password', async () => {
    for (const platform of ['android', 'windows', 'web']) {
      const made = await mobile(platform);
      expect(made.mobileconfigUrl).toBeUndefined();
      expect(made.scopes).toEqual(['imap', 'smtp']);
      const res = await fetch(made.setupUrl);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      const html = await res.text();
      expect(html).toContain(made.apiKey);
      expect(html).toContain('Incoming (IMAP)');
      expect(html).toContain('mail.example.com, port 993, SSL/TLS');
      expect(html).toContain('Outgoing (SMTP)');
      expect(html).not.toContain('POP3');
      expect((await fetch(made.setupUrl)).status).toBe(404);
    }
  });
});

/** Runs `node bin/server.js` as `npm start` does, until it listens; returns everything it printed. */
function start(env: Record<string, string>): Promise<{ child: ChildProcess; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/server.js'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      // Warnings follow the "listening on" line in the same tick, on stderr: give that pipe a moment.
      if (out.includes('listening on')) setTimeout(() => resolve({ child, out }), 300);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
  });
}
const stop = (child: ChildProcess) => new Promise<void>((r) => { child.removeAllListeners('exit'); child.on('exit', () => r()); child.kill('SIGTERM'); });

describe('public addresses (issue 14, point 3)', () => {
  const dirs: string[] = [];
  afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
  const port = () => String(20000 + Math.floor(Math.random() * 12000));

  it('with defaults, start-up warns that generated links name 127.0.0.1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jmap-keys-pub-'));
    dirs.push(dir);
    const { child, out } = await start({ JMAP_KEYS_DATA: dir, JMAP_KEYS_PORT: port() });
    await stop(child);
    expect(out).toMatch(/"level":"warn".*generated links .* name 127\.0\.0\.1, which no other device reaches: set JMAP_KEYS_PUBLIC_URL/);
    expect(out).toMatch(/"level":"warn".*mail clients are told to connect to 127\.0\.0\.1: set JMAP_KEYS_MAIL_HOSTNAME/);
  });

  it('JMAP_KEYS_HOST=0.0.0.0 never puts 0.0.0.0 into the session, autoconfig or connection info', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jmap-keys-pub-'));
    dirs.push(dir);
    const p = port();
    const { child, out } = await start({ JMAP_KEYS_DATA: dir, JMAP_KEYS_PORT: p, JMAP_KEYS_HOST: '0.0.0.0' });
    try {
      const key = /API key:\s+(API_\S+)/.exec(out)?.[1] as string;
      const session = await (await fetch(`http://127.0.0.1:${p}/jmap/session`, { headers: { Authorization: `Bearer ${key}` } })).json();
      expect(session.apiUrl).not.toContain('0.0.0.0');
      const auto = await (await fetch(`http://127.0.0.1:${p}/mail/config-v1.1.xml`)).text();
      expect(auto).not.toContain('0.0.0.0');
      const list = await (await fetch(`http://127.0.0.1:${p}/api/smtp-credentials`, { headers: { Authorization: `Bearer ${key}` } })).json();
      expect(JSON.stringify(list.connectionInfo)).not.toContain('0.0.0.0');
      expect(out).toMatch(/"level":"warn".*generated links/);
    } finally {
      await stop(child);
    }
  });

  it('with JMAP_KEYS_PUBLIC_URL and JMAP_KEYS_MAIL_HOSTNAME set, no warning', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jmap-keys-pub-'));
    dirs.push(dir);
    const { child, out } = await start({ JMAP_KEYS_DATA: dir, JMAP_KEYS_PORT: port(), JMAP_KEYS_PUBLIC_URL: 'https://keys.example.com', JMAP_KEYS_MAIL_HOSTNAME: 'mail.example.com' });
    await stop(child);
    expect(out).not.toContain('"level":"warn"');
  });
});
