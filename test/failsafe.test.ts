import { request } from 'node:http';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { sqliteFailure, StoreUnavailableError } from '../src/db/errors.js';
import { openSqliteStore } from '../src/db/sqlite.js';
import { freePort, runCli, startChild, stopChild } from './helpers/child.js';

const root = mkdtempSync(join(tmpdir(), 'jmap-keys-failsafe-'));
chmodSync(root, 0o755);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const ADMIN_PASSWORD = 'failsafe-admin-password';
const USING = ['urn:ietf:params:jmap:core', 'urn:stalwart:jmap'];
const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
const isRoot = process.getuid?.() === 0;

/** A first start in `dir`: the database, the secret file, the admin key (read from the first-start banner). */
async function firstStart(dir: string, port: string): Promise<string> {
  const s = startChild({ JMAP_KEYS_DATA: dir, JMAP_KEYS_PORT: port, JMAP_KEYS_ADMIN_PASSWORD: ADMIN_PASSWORD });
  await s.waitFor('listening on');
  const key = /API key:\s+(API_\S+)/.exec(s.stdout())?.[1];
  expect(key).toBeTruthy();
  expect(await stopChild(s)).toBe(0);
  return key as string;
}

const api = (port: string, key: string, methodCalls: unknown[]) => fetch(`http://127.0.0.1:${port}/api`, {
  method: 'POST', headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ using: USING, methodCalls }),
});

describe('start-up refuses a server secret that does not match the database', () => {
  const dir = join(root, 'secret');

  it('a different or missing secret stops start-up with a message and a non-zero exit; the right one starts', async () => {
    const port = String(await freePort());
    const key = await firstStart(dir, port);
    const wrong = startChild({ JMAP_KEYS_DATA: dir, JMAP_KEYS_PORT: port, JMAP_KEYS_SECRET: 'ab'.repeat(32) });
    expect(await wrong.exited).not.toBe(0);
    expect(wrong.stderr()).toContain('is not the one the database');
    expect(wrong.stderr()).toContain('Restore the original secret');

    const secretFile = join(dir, 'server-secret');
    const secret = readFileSync(secretFile, 'utf8');
    rmSync(secretFile);
    const missing = startChild({ JMAP_KEYS_DATA: dir, JMAP_KEYS_PORT: port });
    expect(await missing.exited).not.toBe(0);
    expect(missing.stderr()).toContain(`the server secret ${secretFile} is missing`);
    // Nor by the command line, which would otherwise hash a new key with a stray new secret.
    const cli = await runCli(['key', 'create', '--login', 'admin'], { JMAP_KEYS_DATA: dir });
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain('is missing');
    // Not silently regenerated: restoring the file brings every key back.
    expect(existsSync(secretFile)).toBe(false);

    const restored = startChild({ JMAP_KEYS_DATA: dir, JMAP_KEYS_PORT: port, JMAP_KEYS_SECRET: secret.trim() });
    await restored.waitFor('listening on');
    expect((await fetch(`http://127.0.0.1:${port}/jmap/session`, { headers: { Authorization: `Bearer ${key}` } })).status).toBe(200);
    expect(await stopChild(restored)).toBe(0);
  });
});

describe.runIf(isRoot)('a database the server may not write (run as nobody)', () => {
  it('starts, serves reads, answers writes with 503 / serverUnavailable, logs them and stays up', async () => {
    const dir = join(root, 'readonly');
    const port = String(await freePort());
    const key = await firstStart(dir, port);
    // The folder is the server user's (SQLite may keep its -shm there), the database file is root's, mode 0644.
    chownSync(dir, 65534, 65534);
    chownSync(join(dir, 'server-secret'), 65534, 65534);
    chmodSync(join(dir, 'jmap-keys.db'), 0o644);
    const s = startChild({ JMAP_KEYS_DATA: dir, JMAP_KEYS_PORT: port, JMAP_KEYS_LAST_USED_FLUSH_MS: '50' }, NOBODY);
    await s.waitFor('listening on');

    const got = await api(port, key, [['x:ApiKey/get', {}, '0']]);
    expect(got.status).toBe(200);
    const made = await (await api(port, key, [['x:ApiKey/set', { create: { k: { description: 'nope' } } }, '0']])).json();
    expect(made.methodResponses[0][0]).toBe('error');
    expect(made.methodResponses[0][1].type).toBe('serverUnavailable');

    const rest = await fetch(`http://127.0.0.1:${port}/api/smtp-credentials`, {
      method: 'POST', headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'Phone', scopes: ['imap'] }),
    });
    expect(rest.status).toBe(503);
    expect(rest.headers.get('content-type')).toContain('application/problem+json');
    expect((await rest.json()).status).toBe(503);

    // A web sign-in is a row in the store (so sign-out can end it on every node): refused with 503, nothing half-made.
    const signIn = await fetch(`http://127.0.0.1:${port}/web/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ login: 'admin', password: ADMIN_PASSWORD }) });
    expect(signIn.status).toBe(503);
    expect(signIn.headers.get('set-cookie')).toBeNull();

    // The last-used flush fails in the background too (every 50 ms); the process keeps serving.
    await s.waitFor('could not record last-used times');
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    expect((await api(port, key, [['x:ApiKey/query', {}, '0']])).status).toBe(200);
    expect(s.child.exitCode).toBeNull();

    const failures = s.logLines().filter((l) => l.msg === 'store unavailable');
    expect(failures.length).toBeGreaterThanOrEqual(2);
    expect(String(failures[0]?.error)).toContain(join(dir, 'jmap-keys.db'));
    expect(s.stdout() + s.stderr()).not.toContain('SqliteError: attempt');
    expect(await stopChild(s)).toBe(0);
  });

  it('an unwritable data folder stops start-up naming the path and the reason', async () => {
    const dir = join(root, 'locked', 'data');
    mkdirSync(join(root, 'locked'), { mode: 0o755 });
    const s = startChild({ JMAP_KEYS_DATA: dir, JMAP_KEYS_PORT: String(await freePort()) }, NOBODY);
    expect(await s.exited).not.toBe(0);
    expect(s.stderr()).toContain(dir);
    expect(s.stderr()).toMatch(/permission denied|EACCES/i);

    // A database in a folder the server may not write: SQLite cannot even read it in WAL mode.
    const owned = join(root, 'owned');
    await firstStart(owned, String(await freePort()));
    chownSync(join(owned, 'server-secret'), 65534, 65534);
    const t = startChild({ JMAP_KEYS_DATA: owned, JMAP_KEYS_PORT: String(await freePort()) }, NOBODY);
    expect(await t.exited).not.toBe(0);
    expect(t.stderr()).toContain(join(owned, 'jmap-keys.db'));
    expect(t.stderr()).toContain('read-only');
  });
});

describe('SIGTERM', () => {
  it('stops accepting, finishes the request in flight, flushes, closes the store and exits 0', async () => {
    const dir = join(root, 'drain');
    const port = String(await freePort());
    const key = await firstStart(dir, port);
    const s = startChild({ JMAP_KEYS_DATA: dir, JMAP_KEYS_PORT: port });
    await s.waitFor('listening on');

    // A request whose body is still arriving when the signal comes.
    const body = JSON.stringify({ using: USING, methodCalls: [['x:ApiKey/set', { create: { k: { description: 'in flight' } } }, '0']] });
    const half = Math.floor(body.length / 2);
    const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: Number(port), path: '/api', method: 'POST',
        headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => { text += d.toString(); });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      req.write(body.slice(0, half));
      // Once the server has the first half, signal it; then send the rest.
      setTimeout(() => {
        s.child.kill('SIGTERM');
        void s.waitFor('shutting down').then(async () => {
          await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
          req.end(body.slice(half));
        });
      }, 200);
    });
    const done = await answer;
    expect(done.status).toBe(200);
    expect(JSON.parse(done.text).methodResponses[0][1].created.k.id).toBeTruthy();
    expect(await s.exited).toBe(0);
    const lines = s.logLines();
    expect(lines.some((l) => l.msg === 'stopped: last-used times flushed, store closed')).toBe(true);

    // What was acknowledged during the drain is in the database.
    const again = startChild({ JMAP_KEYS_DATA: dir, JMAP_KEYS_PORT: port });
    await again.waitFor('listening on');
    const list = await (await api(port, key, [['x:ApiKey/get', {}, '0']])).json();
    expect(list.methodResponses[0][1].list.map((k: { description: string }) => k.description)).toContain('in flight');
    expect(await stopChild(again)).toBe(0);
  });
});

describe('store failures are classified, whatever the engine says', () => {
  it('maps SQLite codes, extended ones too, to the neutral reasons', () => {
    const err = (code: string) => Object.assign(new Error(code), { code });
    expect(['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_LOCKED', 'SQLITE_READONLY_DIRECTORY', 'SQLITE_FULL', 'SQLITE_IOERR_FSYNC', 'SQLITE_CANTOPEN', 'SQLITE_CONSTRAINT_UNIQUE']
      .map((c) => sqliteFailure(err(c)))).toEqual(['busy', 'busy', 'busy', 'readonly', 'full', 'io', 'cantopen', undefined]);
    expect(sqliteFailure(new Error('plain'))).toBeUndefined();
  });

  it('a write that waits past the busy timeout for another process\'s lock is StoreUnavailableError(busy), nothing written', async () => {
    const file = join(root, 'busy.db');
    const store = openSqliteStore(file);
    const other = new Database(file);
    other.exec('BEGIN IMMEDIATE'); // another process holds the write lock
    try {
      let caught: unknown;
      try {
        await store.createAccount({ login: 'x', passwordHash: 'x', role: 'user', createdAt: 0 });
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(StoreUnavailableError);
      expect((caught as StoreUnavailableError).reason).toBe('busy');
      expect((caught as Error).message).toContain(file);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    expect(await store.countAccounts()).toBe(0);
    await store.close();
  });
});
