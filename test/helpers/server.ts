import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { inject } from 'vitest';
import { numbered } from '../../src/db/credential-query.js';
import { createDatabase } from './postgres.js';
import { bootstrapAdmin } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/server.js';

export const USING = ['urn:ietf:params:jmap:core', 'urn:stalwart:jmap'];

export interface TestServer extends RunningServer {
  dir: string;
  /** The settings that select this server's store: another node started with them shares it. */
  storeEnv: Record<string, string>;
  adminToken: string;
  adminPassword: string;
  /** POST /api with the given calls and auth header value. */
  api(auth: string, methodCalls: unknown[], extra?: Record<string, unknown>): Promise<{ status: number; body: ApiBody }>;
  stop(): Promise<void>;
}

// Test bodies are arbitrary JSON; a loose type keeps assertions short.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ApiBody = any;

export const bearer = (token: string) => `Bearer ${token}`;
export const basic = (login: string, password: string) => `Basic ${Buffer.from(`${login}:${password}`).toString('base64')}`;

/** The engine this test run uses: the `postgres` vitest project sets TEST_STORE_ENGINE=postgres. */
export const TEST_ENGINE: 'sqlite' | 'postgres' = process.env.TEST_STORE_ENGINE === 'postgres' ? 'postgres' : 'sqlite';
/** The secret every test node of one database shares (PostgreSQL nodes must be given one). */
export const TEST_SECRET = 'a1'.repeat(32);

/**
 * Settings for a fresh, empty store of the run's engine: a new SQLite file in `dir`, or a new database on the run's
 * PostgreSQL server (test/setup/postgres.ts).
 */
export async function freshStoreEnv(dir: string): Promise<Record<string, string>> {
  if (TEST_ENGINE === 'sqlite') return { JMAP_KEYS_DATA: dir };
  const admin = inject('postgresUrl');
  if (!admin) throw new Error('TEST_STORE_ENGINE=postgres, but no PostgreSQL server was started (test/setup/postgres.ts)');
  return { JMAP_KEYS_DATA: dir, JMAP_KEYS_DATABASE_URL: await createDatabase(admin), JMAP_KEYS_SECRET: TEST_SECRET };
}

/** Starts the real server on 127.0.0.1 on a fresh store of the run's engine (SQLite file in a temporary folder). */
export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'jmap-keys-test-'));
  const storeEnv = await freshStoreEnv(dir);
  const config = loadConfig({
    ...storeEnv, JMAP_KEYS_PORT: '0', JMAP_KEYS_AUTH_MAX_FAILURES: '1000', JMAP_KEYS_LAST_USED_FLUSH_MS: '50',
    JMAP_KEYS_ADMIN_PASSWORD: 'admin-password-for-tests', ...env,
  });
  const running = await startServer(config);
  const first = await bootstrapAdmin(running.services, config.adminPassword);
  if (!first) throw new Error('bootstrap did not run on a fresh database');
  const server: TestServer = {
    ...running,
    dir,
    storeEnv,
    adminToken: first.apiKey,
    adminPassword: first.password,
    async api(auth, methodCalls, extra = {}) {
      const res = await fetch(`${running.url}/api`, {
        method: 'POST',
        headers: { Authorization: auth, 'Content-Type': 'application/json' },
        body: JSON.stringify({ using: USING, methodCalls, ...extra }),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    },
    async stop() {
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

/**
 * Runs SQL on the server's database through a connection of its own, as an operator's shell or another process
 * would (`?` placeholders; each statement on its own).
 */
export async function foreignSql(s: TestServer, text: string, params: unknown[] = []): Promise<void> {
  if (TEST_ENGINE === 'sqlite') {
    const db = new Database(s.services.config.dbFile);
    try {
      db.prepare(text).run(...params);
    } finally {
      db.close();
    }
    return;
  }
  const client = new pg.Client({ connectionString: s.storeEnv.JMAP_KEYS_DATABASE_URL });
  await client.connect();
  try {
    await client.query(numbered(text), params);
  } finally {
    await client.end();
  }
}
