import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'jmap-keys-start-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `node bin/server.js` as `npm start` does; resolves once it listens (or exits). */
function start(env: Record<string, string>, args: string[] = []): Promise<{ child: ChildProcess; out: string; code: number | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/server.js', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes('listening on')) resolve({ child, out, code: null });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => resolve({ child, out, code }));
  });
}
const stop = (child: ChildProcess) => new Promise<void>((r) => { child.on('exit', () => r()); child.kill('SIGTERM'); });

describe('npm start', () => {
  const port = String(20000 + Math.floor(Math.random() * 20000));
  const env = { JMAP_KEYS_DATA: dir, JMAP_KEYS_PORT: port };

  it('first start creates and migrates the database, prints the admin password and key once; they work', async () => {
    const first = await start(env);
    expect(first.code).toBeNull();
    const password = /password: (\S+)/.exec(first.out)?.[1];
    const key = /API key:\s+(API_\S+)/.exec(first.out)?.[1];
    expect(password).toBeTruthy();
    expect(key).toBeTruthy();
    expect(first.out).toContain('Authorization: Bearer $TOKEN');
    expect(statSync(join(dir, 'server-secret')).mode & 0o777).toBe(0o600);
    const session = await fetch(`http://127.0.0.1:${port}/jmap/session`, { headers: { Authorization: `Bearer ${key}` } });
    expect(session.status).toBe(200);
    expect((await session.json()).apiUrl).toBe(`http://127.0.0.1:${port}/api`);
    const basicAuth = await fetch(`http://127.0.0.1:${port}/jmap/session`, { headers: { Authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}` } });
    expect(basicAuth.status).toBe(200);
    await stop(first.child);

    const second = await start(env);
    expect(second.out).not.toContain('API key:');
    expect(second.out).not.toContain(key);
    const again = await fetch(`http://127.0.0.1:${port}/jmap/session`, { headers: { Authorization: `Bearer ${key}` } });
    expect(again.status).toBe(200);
    await stop(second.child);
  });

  it('refuses bad configuration with a message naming the setting', async () => {
    const bad = await start({ ...env, JMAP_KEYS_PORT: 'eighty' });
    expect(bad.code).toBe(2);
    expect(bad.out).toContain('JMAP_KEYS_PORT');
    const flag = await start(env, ['--public-url', 'not a url']);
    expect(flag.code).toBe(2);
    expect(flag.out).toContain('PUBLIC_URL');
    const unknown = await start({ ...env, JMAP_KEYS_PROT: '80' });
    expect(unknown.code).toBe(2);
    expect(unknown.out).toContain('JMAP_KEYS_PROT');
  });
});
