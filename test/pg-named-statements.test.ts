import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openPgStore, type KeptPlans, type PgStore } from '../src/db/pg.js';
import { OVER_QUOTA, type CredentialFilter, type CredentialRow, type NewCredential, type StoreOps } from '../src/db/store.js';
import { createDatabase } from './helpers/postgres.js';
import { TEST_ENGINE } from './helpers/server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function credential(accountId: number, i: number): NewCredential {
  return {
    accountId, kind: 'apiKey', description: `key ${i}`, locator: randomBytes(9).toString('base64url'), secretHash: randomBytes(32),
    createdAt: 1_800_000_000 + i, expiresAt: i % 4 === 0 ? null : 1_900_000_000 + (i % 7) * 100, permissionsMode: 'Replace',
    permissions: ['sysApiKeyGet'], allowedIps: ['192.0.2.0/24'], scopes: i % 2 ? ['jmap'] : null, platform: null, deviceId: null,
  };
}

/** Retries `fn` while the store reports itself unavailable (a pool connection found dead is dropped, then replaced). */
async function eventually<T>(fn: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= 50) throw err;
      await sleep(50);
    }
  }
}

describe.skipIf(TEST_ENGINE !== 'postgres')('PostgreSQL hot reads as named statements', () => {
  let url: string;
  let store: PgStore;
  let admin: pg.Client;
  let accountId: number;
  const rows: CredentialRow[] = [];
  /**
   * The statements a pool's connection keeps (they are per connection): `pool` is the store's one connection
   * (poolSize 1), `kept` the connections for expiry-ordered /query pages (two; the page is named on the one it used).
   */
  const prepared = async (which: 'pool' | 'kept') => {
    const internals = store as unknown as { pool: pg.Pool; kept: KeptPlans };
    const pool = which === 'pool' ? internals.pool : internals.kept.pool;
    const clients = await Promise.all([pool.connect(), ...(which === 'kept' ? [pool.connect()] : [])]);
    try {
      const names = await Promise.all(clients.map((c) => c.query<{ name: string }>('SELECT name FROM pg_prepared_statements')));
      return names.flatMap((r) => r.rows.map((row) => row.name)).sort();
    } finally {
      for (const c of clients) c.release();
    }
  };

  beforeAll(async () => {
    url = await createDatabase(inject('postgresUrl')!);
    store = await openPgStore(url, { poolSize: 1, heartbeatMs: 200, maxReconnectDelayMs: 100 });
    admin = new pg.Client({ connectionString: url });
    await admin.connect();
    const account = await store.createAccount({ login: 'named', passwordHash: 'x', role: 'user', createdAt: 1_800_000_000 });
    accountId = account!.id;
    for (let i = 0; i < 12; i++) {
      const r = await store.insertCredential(credential(accountId, i), 100);
      if (r === OVER_QUOTA) throw new Error('over quota');
      rows.push(r);
    }
  });
  afterAll(async () => {
    await admin?.end();
    await store?.close();
  });

  /** Every hot read on the pool (named) against the same read inside a transaction (unnamed text). */
  async function sameAsUnnamed(): Promise<void> {
    const filter: CredentialFilter = { operator: 'AND', conditions: [{ condition: { field: 'expiresAt', op: 'gte', value: 1_900_000_200 } }] };
    const sort = [{ property: 'expiresAt' as const, isAscending: false }];
    // The same reads through the pool (named statements) and through a transaction (unnamed text).
    const reads = async (ops: StoreOps) => ({
      byLocator: await ops.credentialByLocator(rows[3]!.locator),
      byId: await ops.credentials(accountId, 'apiKey', [rows[5]!.id]),
      account: await ops.accountById(accountId),
      count: await ops.countCredentials(accountId, 'apiKey'),
      page: await ops.queryPage(accountId, 'apiKey', filter, sort, 1, 4),
      total: await ops.queryCount(accountId, 'apiKey', filter),
      index: await ops.queryIndexOf(accountId, 'apiKey', filter, sort, rows[2]!.id),
    });
    const named = await reads(store);
    const unnamed = await store.transaction((tx) => reads(tx));
    expect(named).toEqual(unnamed);
    expect(named.byLocator).toEqual({ ...rows[3], lastUsedAt: null, lastUsedFrom: null, lastUsedService: null });
    expect(named.byId).toEqual([rows[5]]);
    // Several ids still go through drizzle: the named single-id read maps a row to the same fields and types.
    expect(named.byId).toEqual((await store.credentials(accountId, 'apiKey', [rows[5]!.id, rows[6]!.id])).slice(0, 1));
    // The account row as drizzle reads it (listAccounts is not a named statement): the same fields and types.
    expect(named.account).toEqual((await store.listAccounts()).find((a) => a.id === accountId));
    expect(named.count).toBe(12);
    expect(named.page.length).toBe(4);
  }

  it('answers exactly what the same read answers inside a transaction, and keeps the statements on the connection', async () => {
    await sameAsUnnamed();
    expect(await store.state(accountId, 'apiKey')).toBe(12);
    const names = await prepared('pool');
    for (const base of ['jk_credential_by_locator', 'jk_credential_by_id', 'jk_account_by_id', 'jk_account_state']) {
      expect(names.some((n) => n.startsWith(`${base}_`)), `${base} in ${names.join(', ')}`).toBe(true);
    }
    // The page is sorted by expiry and filtered on expiry: it was named on the connections that keep plans.
    const pages = await prepared('kept');
    expect(pages.some((n) => n.startsWith('jk_query_0_')), pages.join(', ')).toBe(true);
    expect(names.some((n) => n.startsWith('jk_query_0_')), names.join(', ')).toBe(false);
    await sameAsUnnamed(); // the second time binds the kept statements only
  });

  it('keeps answering after a migration adds a column or changes the type of one it returns', async () => {
    await sameAsUnnamed();
    await admin.query('ALTER TABLE credentials ADD COLUMN jk_test_extra text');
    await sameAsUnnamed();
    // A changed result type makes PostgreSQL refuse the kept plan ("cached plan must not change result type").
    await admin.query('ALTER TABLE credentials ALTER COLUMN description TYPE varchar(500)');
    await admin.query('ALTER TABLE accounts ALTER COLUMN login TYPE varchar(200)');
    await sameAsUnnamed();
    // …so the statements were asked again under new names.
    expect((await prepared('pool')).some((n) => n.endsWith('_1'))).toBe(true);
    await sameAsUnnamed();
  });

  it('prepares them again on a new connection after the old ones are cut', async () => {
    await sameAsUnnamed();
    const before = await prepared('pool');
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()');
    // The pool notices its dead connection on use at the latest, and opens a fresh one.
    await eventually(() => sameAsUnnamed());
    await sameAsUnnamed();
    expect((await prepared('pool')).length).toBeGreaterThan(0);
    expect(before.length).toBeGreaterThan(0);
  });

  it('names a bounded number of /query shapes and still answers every other one right', async () => {
    // 80 distinct shapes: k nested ANDs around the same condition (the same rows, a different text each).
    const base: CredentialFilter = { condition: { field: 'expiresAt', op: 'gte', value: 1_900_000_300 } };
    const want = await store.transaction((tx) => tx.queryPage(accountId, 'apiKey', base, [], 0, 100));
    expect(want.length).toBeGreaterThan(0);
    let filter: CredentialFilter = base;
    for (let k = 0; k < 80; k++) {
      filter = { operator: 'AND', conditions: [filter] };
      expect(await store.queryPage(accountId, 'apiKey', filter, [], 0, 100)).toEqual(want);
    }
    expect((await prepared('pool')).filter((n) => n.startsWith('jk_query_')).length).toBeLessThanOrEqual(64);
  });
  it('answers expiry pages on the main pool when the kept-plans connections cannot be used (a pooler refusing their options)', async () => {
    const heard: string[] = [];
    // Its own /query names (the test above used them all up).
    const fresh = await openPgStore(url, { poolSize: 1, onKeptPlansFailure: (m) => heard.push(m) });
    try {
      const filter: CredentialFilter = { operator: 'AND', conditions: [{ condition: { field: 'expiresAt', op: 'gte', value: 1_900_000_200 } }] };
      const sort = [{ property: 'expiresAt' as const, isAscending: true }];
      const want = await fresh.transaction((tx) => tx.queryPage(accountId, 'apiKey', filter, sort, 0, 5));
      expect(want.length).toBeGreaterThan(0);
      const kept = (fresh as unknown as { kept: KeptPlans }).kept;
      await kept.pool.end(); // every use of it now fails, as a refused connection would
      expect(await fresh.queryPage(accountId, 'apiKey', filter, sort, 0, 5)).toEqual(want);
      expect(kept.usable).toBe(false); // tried, failed, not tried again for a while
      expect(await fresh.queryPage(accountId, 'apiKey', filter, sort, 0, 5)).toEqual(want);
      expect(heard).toHaveLength(1); // told once (the server logs it), not on every page
    } finally {
      await fresh.close();
    }
  });
});
