import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openPgStore, type PgStore } from '../src/db/pg.js';
import { OVER_QUOTA } from '../src/db/store.js';
import { createDatabase } from './helpers/postgres.js';
import { TEST_ENGINE } from './helpers/server.js';

const INDEX = `SELECT indexdef FROM pg_indexes WHERE indexname = 'credentials_expires'`;

describe.skipIf(TEST_ENGINE !== 'postgres')('drizzle/pg/0010 on a database migrated before it', () => {
  let url: string;
  let admin: pg.Client;
  let store: PgStore | undefined;
  let folder = '';

  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'jmap-keys-pg-0009-'));
    url = await createDatabase(inject('postgresUrl')!);
    admin = new pg.Client({ connectionString: url });
    await admin.connect();
    // drizzle/pg as a node built before 0010 had it: the same migrations, the journal ending at 0009.
    cpSync(new URL('../drizzle/pg', import.meta.url), folder, { recursive: true });
    const journalPath = join(folder, 'meta', '_journal.json');
    const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: { idx: number }[] };
    journal.entries = journal.entries.filter((e) => e.idx < 10);
    writeFileSync(journalPath, JSON.stringify(journal));
    await migrate(drizzle(admin), { migrationsFolder: folder });
  });
  afterAll(async () => {
    await store?.close();
    await admin?.end();
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  it('replaces the expiry index on start, and /query pages keep NULL below every date, ties by id in the sort direction', async () => {
    expect((await admin.query(INDEX)).rows[0].indexdef).toMatch(/\(account_id, kind, expires_at\)$/);
    store = await openPgStore(url, { poolSize: 2 });
    expect((await admin.query(INDEX)).rows[0].indexdef).toMatch(/\(account_id, kind, expires_at NULLS FIRST, id\)$/);
    expect((await admin.query(`SELECT count(*)::int n FROM drizzle.__drizzle_migrations`)).rows[0].n).toBe(JSON.parse(readFileSync(new URL('../drizzle/pg/meta/_journal.json', import.meta.url), 'utf8')).entries.length);

    const account = await store.createAccount({ login: 'order', passwordHash: 'x', role: 'user', createdAt: 1_800_000_000 });
    const ids: number[] = [];
    const expiry = (i: number) => (i % 3 === 0 ? null : 1_900_000_000 + (i % 2) * 100);
    for (let i = 0; i < 9; i++) {
      const r = await store.insertCredential({
        accountId: account!.id, kind: 'apiKey', description: `k${i}`, locator: `order-${i}`, secretHash: Buffer.alloc(32, i), createdAt: 1_800_000_000 + i,
        expiresAt: expiry(i), permissionsMode: 'Inherit', permissions: [], allowedIps: [], scopes: null, platform: null, deviceId: null,
      }, 100);
      if (r === OVER_QUOTA) throw new Error('over quota');
      ids.push(r.id);
    }
    const rank = (i: number) => expiry(i) ?? -Infinity;
    const ascending = [...ids.keys()].sort((a, b) => rank(a) - rank(b) || ids[a]! - ids[b]!).map((i) => ids[i]!);
    const page = (isAscending: boolean) => store!.queryPage(account!.id, 'apiKey', null, [{ property: 'expiresAt', isAscending }], 0, 50);
    expect(await page(true)).toEqual(ascending);
    expect(await page(false)).toEqual([...ascending].reverse());
  });
});
