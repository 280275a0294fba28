import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openPgStore, type PgStore } from '../src/db/pg.js';
import { openSqliteStore } from '../src/db/sqlite.js';
import {
  OVER_QUOTA, StoreUnavailableError,
  type AuditType, type ChangeRow, type CredentialFilter, type CredentialKind, type CredentialSort, type NewAuditEvent, type NewCredential,
  type Store,
} from '../src/db/store.js';
import { createDatabase, postgresBinDir, startPostgres, type TestPostgres } from './helpers/postgres.js';

const installed = postgresBinDir() !== undefined;
if (!installed) console.warn('test/pg-store.test.ts skipped: PostgreSQL is not installed (apt-get install postgresql; .ci/run does)');

const OPTIONS = { heartbeatMs: 500, maxReconnectDelayMs: 200 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A JMAP use at `at` from an address made of it. */
const use = (at: number) => ({ at, from: `192.0.2.${at % 256}`, service: 'jmap' as const });

function credential(accountId: number, kind: CredentialKind = 'apiKey', extra: Partial<NewCredential> = {}): NewCredential {
  return {
    accountId, kind, description: 'key', locator: randomBytes(9).toString('base64url'), secretHash: randomBytes(32),
    createdAt: 1_800_000_000, expiresAt: null, permissionsMode: 'Inherit', permissions: [], allowedIps: [], scopes: null,
    platform: null, deviceId: null, ...extra,
  };
}

function auditEvent(at: number, type: AuditType, accountId: number | null, credentialId: number | null = null, details: Record<string, unknown> = {}): NewAuditEvent {
  return {
    at, type, accountId, credentialId, credentialKind: credentialId === null ? null : 'apiKey', actorAccountId: accountId,
    actorCredentialId: null, clientAddress: '203.0.113.7', via: 'jmap', details,
  };
}

/** Waits for `test` to hold, checking every 5 ms (or on every event-loop turn when `fine`, to measure delays). */
async function until(what: string, test: () => boolean, limitMs = 10_000, fine = false): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await (fine ? new Promise((r) => setImmediate(r)) : sleep(5));
  }
}

describe.skipIf(!installed)('PostgreSQL store', () => {
  let server: TestPostgres | undefined;
  let adminUrl: string;
  const open: Store[] = [];

  /** A fresh database on the run's server; `nodes` stores on it, each its own pool and listener (a "node"). */
  async function nodes(count: number, locale?: string, existing?: string): Promise<PgStore[]> {
    const url = existing ?? await createDatabase(adminUrl, locale);
    const stores = await Promise.all(Array.from({ length: count }, () => openPgStore(url, OPTIONS)));
    open.push(...stores);
    return stores;
  }

  async function account(store: Store, login = `u-${randomBytes(4).toString('hex')}`): Promise<number> {
    const a = await store.createAccount({ login, passwordHash: 'x', role: 'user', createdAt: 1_800_000_000 });
    if (!a) throw new Error('login taken');
    return a.id;
  }

  beforeAll(async () => {
    // The run's shared server when the globalSetup started one (TEST_STORE_ENGINE=postgres), else our own.
    const shared = inject('postgresUrl');
    if (shared) adminUrl = shared;
    else {
      server = await startPostgres();
      adminUrl = server.url;
    }
  });
  afterAll(async () => {
    await Promise.all(open.map((s) => s.close()));
    await server?.stop();
  });

  it('creates, reads, updates and deletes accounts and credentials; ids are never reused', async () => {
    const [s] = await nodes(1);
    const id = await account(s!, 'alice');
    expect(await s!.createAccount({ login: 'alice', passwordHash: 'y', role: 'admin', createdAt: 1 })).toBeUndefined();
    expect((await s!.accountByLogin('alice'))?.id).toBe(id);
    expect(await s!.setAccountPassword(id, 'new-hash')).toBe(true);
    expect(await s!.accountById(id)).toEqual({ id, login: 'alice', passwordHash: 'new-hash', role: 'user', createdAt: 1_800_000_000, email: null });
    expect(await s!.countAccounts()).toBe(1);

    const input = credential(id, 'appPassword', { description: 'phone', expiresAt: 1_900_000_000, permissionsMode: 'Replace', permissions: ['a', 'b'], allowedIps: ['10.0.0.0/8'], scopes: ['smtp'], platform: 'ios', deviceId: 'd1' });
    const row = await s!.insertCredential(input, 10);
    if (row === OVER_QUOTA) throw new Error('over quota');
    expect(await s!.credentialByLocator(input.locator)).toEqual({ ...input, id: row.id, lastUsedAt: null, lastUsedFrom: null, lastUsedService: null });
    expect((await s!.credentials(id, 'appPassword', null)).map((r) => r.id)).toEqual([row.id]);
    expect(await s!.credentials(id, 'apiKey', null)).toEqual([]);
    expect(await s!.countCredentials(id, 'appPassword')).toBe(1);

    expect(await s!.updateCredential(id, 'appPassword', row.id, { description: 'tablet', scopes: null, allowedIps: [] })).toBe(true);
    expect(await s!.updateCredential(id, 'apiKey', row.id, { description: 'wrong kind' })).toBe(false);
    expect(await s!.credentialByLocator(input.locator)).toMatchObject({ description: 'tablet', scopes: null, allowedIps: [], permissions: ['a', 'b'] });
    expect(await s!.deleteCredential(id, 'appPassword', row.id)).toBe(true);
    expect(await s!.deleteCredential(id, 'appPassword', row.id)).toBe(false);
    expect(await s!.countCredentials(id, 'appPassword')).toBe(0);
    expect(await s!.state(id, 'appPassword')).toBe(3);
    expect(await s!.state(id, 'apiKey')).toBe(0);
    expect(await s!.changesSince(id, 'appPassword', 0, 10)).toEqual([
      { seq: 1, recordId: row.id, op: 'created' }, { seq: 2, recordId: row.id, op: 'updated' }, { seq: 3, recordId: row.id, op: 'destroyed' },
    ]);
    expect(await s!.changesSince(id, 'appPassword', 1, 1)).toEqual([{ seq: 2, recordId: row.id, op: 'updated' }]);

    const next = await s!.insertCredential(credential(id, 'appPassword'), 10);
    if (next === OVER_QUOTA) throw new Error('over quota');
    expect(next.id).toBeGreaterThan(row.id);
    expect(await s!.deleteAccount(id)).toBe(true);
    expect(await s!.credentialByLocator(next.locator)).toBeUndefined();
    expect(await s!.countAccounts()).toBe(0);
  });

  it('answers /query exactly like the SQLite store (filters, null dates, case-insensitive and byte order, ties by id)', async () => {
    // A database whose locale folds non-ASCII letters: the order must not depend on it.
    const [s] = await nodes(1, 'C.UTF-8');
    const dir = mkdtempSync(join(tmpdir(), 'jmap-keys-pg-ref-'));
    const ref = openSqliteStore(join(dir, 'ref.db'));
    try {
      const a = await account(s!, 'q');
      const b = await account(ref, 'q');
      const descriptions = ['b', 'A', 'a', 'B', 'é', 'Z', 'z', '_x', 'Éclair', 'a', '10', '9', ''];
      const byPosition: [number[], number[]] = [[], []];
      for (const [i, description] of descriptions.entries()) {
        const fields = { description, createdAt: 1_800_000_000 + (i % 4) * 100, expiresAt: i % 3 === 0 ? null : 1_900_000_000 + (i % 5) * 100 };
        for (const [k, [store, acc]] of ([[s!, a], [ref, b]] as const).entries()) {
          const r = await store.insertCredential(credential(acc, 'apiKey', fields), 100);
          if (r === OVER_QUOTA) throw new Error('over quota');
          byPosition[k]!.push(r.id);
        }
      }
      const position = (k: number, ids: number[]) => ids.map((id) => byPosition[k]!.indexOf(id));
      const cond = (field: 'expiresAt' | 'createdAt', op: 'eq' | 'gt' | 'gte' | 'lt' | 'lte', value: number): CredentialFilter => ({ condition: { field, op, value } });
      const filters: (CredentialFilter | null)[] = [
        null,
        cond('expiresAt', 'gt', 1_900_000_100),
        { operator: 'NOT', conditions: [cond('expiresAt', 'gt', 1_900_000_100)] },
        { operator: 'OR', conditions: [cond('createdAt', 'eq', 1_800_000_000), cond('expiresAt', 'lte', 1_900_000_200)] },
        { operator: 'AND', conditions: [cond('createdAt', 'gte', 1_800_000_100), { operator: 'NOT', conditions: [cond('expiresAt', 'lt', 1_900_000_300)] }] },
        { operator: 'AND', conditions: [] }, { operator: 'OR', conditions: [] }, { operator: 'NOT', conditions: [] },
      ];
      const sorts: CredentialSort[][] = [
        [], [{ property: 'description', isAscending: true }], [{ property: 'description', isAscending: false }],
        [{ property: 'description', isAscending: true, caseSensitive: true }], [{ property: 'description', isAscending: false, caseSensitive: true }],
        [{ property: 'expiresAt', isAscending: true }], [{ property: 'expiresAt', isAscending: false }],
        [{ property: 'createdAt', isAscending: false }, { property: 'description', isAscending: true }],
        [{ property: 'id', isAscending: false }, { property: 'description', isAscending: true }],
      ];
      let compared = 0;
      for (const filter of filters) {
        expect(await s!.queryCount(a, 'apiKey', filter)).toBe(await ref.queryCount(b, 'apiKey', filter));
        for (const sort of sorts) {
          const mine = position(0, await s!.queryPage(a, 'apiKey', filter, sort, 0, 100));
          const theirs = position(1, await ref.queryPage(b, 'apiKey', filter, sort, 0, 100));
          expect(mine, JSON.stringify({ filter, sort })).toEqual(theirs);
          expect(position(0, await s!.queryPage(a, 'apiKey', filter, sort, 2, 3))).toEqual(position(1, await ref.queryPage(b, 'apiKey', filter, sort, 2, 3)));
          for (const p of [0, 4, 12]) {
            expect(await s!.queryIndexOf(a, 'apiKey', filter, sort, byPosition[0][p]!)).toBe(await ref.queryIndexOf(b, 'apiKey', filter, sort, byPosition[1][p]!));
          }
          compared += mine.length;
        }
      }
      expect(compared).toBeGreaterThan(100);
    } finally {
      await ref.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps the quota exact under 60 concurrent inserts from 3 nodes', async () => {
    const stores = await nodes(3);
    const id = await account(stores[0]!);
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => stores[i % 3]!.insertCredential(credential(id), 20)));
    expect(results.filter((r) => r !== OVER_QUOTA)).toHaveLength(20);
    expect(results.filter((r) => r === OVER_QUOTA)).toHaveLength(40);
    expect(await stores[1]!.countCredentials(id, 'apiKey')).toBe(20);
    expect(await stores[2]!.credentials(id, 'apiKey', null)).toHaveLength(20);
    // `replacing`: credentials the same transaction is about to destroy do not count.
    const swapped = await stores[0]!.transaction(async (tx) => {
      const victim = (await tx.credentials(id, 'apiKey', null))[0]!;
      const row = await tx.insertCredential(credential(id), 20, 1);
      await tx.deleteCredential(id, 'apiKey', victim.id);
      return row;
    });
    expect(swapped).not.toBe(OVER_QUOTA);
    expect(await stores[2]!.countCredentials(id, 'apiKey')).toBe(20);
  });

  it('gives every change of an account one position, in commit order, across nodes', async () => {
    const stores = await nodes(3);
    const id = await account(stores[0]!);
    const seen: ChangeRow[] = [];
    let done = false;
    // A /changes client polling a fourth connection while three nodes write.
    const reader = (async () => {
      let since = 0;
      for (;;) {
        const finished = done;
        const batch = await stores[0]!.changesSince(id, 'apiKey', since, 7);
        seen.push(...batch);
        if (batch.length) since = batch[batch.length - 1]!.seq;
        else if (finished) return;
        else await sleep(1);
      }
    })();
    await Promise.all(stores.map(async (store) => {
      for (let i = 0; i < 10; i++) {
        const row = await store.insertCredential(credential(id), 1000);
        if (row === OVER_QUOTA) throw new Error('over quota');
        await store.updateCredential(id, 'apiKey', row.id, { description: `v${i}` });
        if (i % 2) await store.deleteCredential(id, 'apiKey', row.id);
      }
    }));
    done = true;
    await reader;
    const total = 3 * (10 + 10 + 5);
    expect(seen.map((c) => c.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(await stores[2]!.state(id, 'apiKey')).toBe(total);
    const lastOp = new Map<number, ChangeRow['op']>();
    for (const c of seen) {
      const before = lastOp.get(c.recordId);
      if (c.op === 'created') expect(before).toBeUndefined();
      else expect(before).toMatch(/created|updated/);
      lastOp.set(c.recordId, c.op);
    }
  });

  it('moves version() when another node writes (prints the observed revocation delay)', async () => {
    const [a, b] = await nodes(2);
    const id = await account(a!);
    const delays: number[] = [];
    for (let i = 0; i < 20; i++) {
      const beforeInsert = b!.version();
      const row = await a!.insertCredential(credential(id), 1000);
      if (row === OVER_QUOTA) throw new Error('over quota');
      await until("the insert's notification", () => b!.version() !== beforeInsert);
      const before = b!.version();
      await a!.deleteCredential(id, 'apiKey', row.id); // a revocation on node A
      const committed = performance.now();
      // Node B's caches (keyed by version) stop answering for the revoked key once this moves.
      await until('the other node to see the revocation', () => b!.version() !== before, 5000, true);
      delays.push(performance.now() - committed);
    }
    delays.sort((x, y) => x - y);
    console.log(`revocation on node A seen by node B's version() ${delays[10]!.toFixed(2)} ms (median), ${delays[19]!.toFixed(2)} ms (max) after A's commit returned, 20 deletes`);
  });

  it('keeps version() still for last-use stamps', async () => {
    const url = await createDatabase(adminUrl);
    const [writer] = await nodes(1, undefined, url);
    const row = await writer!.insertCredential(credential(await account(writer!)), 10);
    if (row === OVER_QUOTA) throw new Error('over quota');
    // Nodes that start listening after those writes: any later move of their versions comes from what follows.
    const [a, b] = await nodes(2, undefined, url);
    const before = [a!.version(), b!.version()];
    await a!.touchLastUsed(new Map([[row.id, use(5)]]));
    await sleep(100);
    expect([a!.version(), b!.version()]).toEqual(before);
    expect((await b!.credentialByLocator(row.locator))?.lastUsedAt).toBe(5);
  });

  it('fails closed while its notification connection is down, and recovers', async () => {
    const [a, b] = await nodes(2);
    const events: string[] = [];
    const pid = await b!.listener.backendPid();
    expect(pid).toBeGreaterThan(0);
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    try {
      const stable = b!.version();
      expect(b!.version()).toBe(stable);
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      await until('the listener to notice', () => !b!.listener.up);
      events.push('down');
      // Nothing cached can be trusted: every call is a new version.
      const v1 = b!.version();
      const v2 = b!.version();
      expect(v2).not.toBe(v1);
      await until('the listener to come back', () => b!.listener.up);
      const v3 = b!.version();
      expect(v3).toBeGreaterThan(v2);
      expect(b!.version()).toBe(v3);
      // And it hears writes again.
      await account(a!);
      await until('the notification after reconnecting', () => b!.version() !== v3);
      expect(await b!.listener.backendPid()).not.toBe(pid);
    } finally {
      await admin.end();
    }
    expect(events).toEqual(['down']);
  });

  it('records last use as the latest stamp, whatever the order of writes', async () => {
    const [a, b] = await nodes(2);
    const id = await account(a!);
    const row = await a!.insertCredential(credential(id), 10);
    if (row === OVER_QUOTA) throw new Error('over quota');
    await a!.touchLastUsed(new Map([[row.id, use(100)]]));
    await b!.touchLastUsed(new Map([[row.id, use(50)]]));
    expect((await a!.credentialByLocator(row.locator))?.lastUsedAt).toBe(100);
    await Promise.all([a!.touchLastUsed(new Map([[row.id, use(300)]])), b!.touchLastUsed(new Map([[row.id, use(200)]]))]);
    expect((await b!.credentialByLocator(row.locator))?.lastUsedAt).toBe(300);
    // Address and service travel with the time: those of the newest use.
    expect((await b!.credentialByLocator(row.locator))?.lastUsedFrom).toBe('192.0.2.44');
    await b!.touchLastUsed(new Map([[row.id, { at: 250, from: '192.0.2.1', service: 'imap' }]]));
    expect(await a!.credentialByLocator(row.locator)).toMatchObject({ lastUsedAt: 300, lastUsedFrom: '192.0.2.44', lastUsedService: 'jmap' });
    expect(await a!.state(id, 'apiKey')).toBe(1); // not a tracked change
  });

  it('keeps the rest of a transaction when one insert fails, and rolls back all of a failed one', async () => {
    const [s] = await nodes(1);
    const id = await account(s!);
    const taken = credential(id);
    await s!.insertCredential(taken, 10);
    const outcome = await s!.transaction(async (tx) => {
      const first = await tx.insertCredential(credential(id, 'apiKey', { description: 'first' }), 10);
      const duplicate = await tx.insertCredential({ ...credential(id), locator: taken.locator }, 10).then(() => 'inserted', (err: Error) => err.message);
      const third = await tx.insertCredential(credential(id, 'apiKey', { description: 'third' }), 10);
      return { first, duplicate, third };
    });
    expect(outcome.duplicate).toMatch(/duplicate key/);
    expect((await s!.credentials(id, 'apiKey', null)).map((r) => r.description)).toEqual(['key', 'first', 'third']);
    expect((await s!.changesSince(id, 'apiKey', 0, 10)).map((c) => [c.seq, c.op])).toEqual([[1, 'created'], [2, 'created'], [3, 'created']]);
    expect(await s!.countCredentials(id, 'apiKey')).toBe(3);

    await expect(s!.transaction(async (tx) => {
      await tx.insertCredential(credential(id), 10);
      await tx.deleteCredential(id, 'apiKey', outcome.first === OVER_QUOTA ? 0 : outcome.first.id);
      throw new Error('client gave up');
    })).rejects.toThrow('client gave up');
    expect(await s!.countCredentials(id, 'apiKey')).toBe(3);
    expect(await s!.state(id, 'apiKey')).toBe(3);
  });

  it('keeps web sign-ins: created, read from any node until they expire, ended one by one or all at once', async () => {
    const url = await createDatabase(adminUrl);
    const [a] = await nodes(1, undefined, url);
    const id = await account(a!);
    const other = await account(a!);
    // Nodes that start listening after those writes: any later move of their versions comes from what follows.
    const [b, c] = await nodes(2, undefined, url);
    const versions = [b!.version(), c!.version()];
    const t = 1_800_000_000;
    await b!.createWebSession({ id: 's1', accountId: id, authTime: t, expiresAt: t + 100 });
    await b!.createWebSession({ id: 's2', accountId: id, authTime: t, expiresAt: t + 1000 });
    await b!.createWebSession({ id: 's3', accountId: other, authTime: t, expiresAt: t + 1000 });
    await expect(b!.createWebSession({ id: 's1', accountId: other, authTime: t, expiresAt: t + 1000 })).rejects.toThrow(/duplicate key/);
    expect(await c!.webSession('s1', t + 99)).toEqual({ id: 's1', accountId: id, authTime: t, expiresAt: t + 100 });
    expect(await c!.webSession('s1', t + 100)).toBeUndefined();
    expect(await c!.webSession('nope', t)).toBeUndefined();
    // Ended on one node, gone on the other at once: sessions are read from the database, never cached.
    expect(await b!.endWebSession('s2')).toBe(true);
    expect(await c!.webSession('s2', t)).toBeUndefined();
    expect(await b!.endWebSession('s2')).toBe(false);
    // A new sign-in sweeps the account's ended ones (s1 ended at t + 100), not its live ones or other accounts'.
    await b!.createWebSession({ id: 's4', accountId: id, authTime: t + 200, expiresAt: t + 2000 });
    await b!.createWebSession({ id: 's5', accountId: id, authTime: t + 200, expiresAt: t + 2000 });
    expect(await c!.webSession('s1', t)).toBeUndefined();
    expect(await c!.webSession('s4', t + 300)).toMatchObject({ accountId: id });
    expect(await c!.endAccountWebSessions(id)).toBe(2);
    expect(await b!.webSession('s5', t + 300)).toBeUndefined();
    expect(await b!.webSession('s3', t + 300)).toMatchObject({ accountId: other });
    expect(await b!.endAccountWebSessions(id)).toBe(0);
    // Not credential changes: no node's caches are dropped for them.
    await sleep(100);
    expect([b!.version(), c!.version()]).toEqual(versions);
    // Deleting the account ends its sign-ins with it.
    expect(await a!.deleteAccount(other)).toBe(true);
    expect(await b!.webSession('s3', t + 300)).toBeUndefined();
  });

  it('ends the web sign-ins of an account whose password changes, in the same transaction', async () => {
    const [a, b] = await nodes(2);
    const id = await account(a!);
    const other = await account(a!);
    const t = 1_800_000_000;
    for (const [sid, acc] of [['p1', id], ['p2', id], ['q1', other]] as const) await a!.createWebSession({ id: sid, accountId: acc, authTime: t, expiresAt: t + 1000 });
    // Rolled back: the password and the sign-ins stay.
    await expect(a!.transaction(async (tx) => {
      expect(await tx.setAccountPassword(id, 'rolled-back')).toBe(true);
      expect(await tx.webSession('p1', t)).toBeUndefined();
      throw new Error('client gave up');
    })).rejects.toThrow('client gave up');
    expect((await b!.accountById(id))?.passwordHash).toBe('x');
    expect(await b!.webSession('p1', t)).toMatchObject({ accountId: id });
    // Committed: both go together, and the other nodes' caches are told (the password is a credential).
    const before = b!.version();
    expect(await a!.setAccountPassword(id, 'new-hash')).toBe(true);
    expect(await b!.webSession('p1', t)).toBeUndefined();
    expect(await b!.webSession('p2', t)).toBeUndefined();
    expect(await b!.webSession('q1', t)).toMatchObject({ accountId: other });
    expect((await b!.accountById(id))?.passwordHash).toBe('new-hash');
    await until("the password change's notification", () => b!.version() !== before);
  });

  it('counts 60 concurrent hits from 3 nodes exactly, one window at a time, and prunes ended windows', async () => {
    const stores = await nodes(3);
    const now = 1_800_000_000_000; // unix ms: beyond 32 bits
    const hits = await Promise.all(Array.from({ length: 60 }, (_, i) => stores[i % 3]!.hitCounter('auth:203.0.113.7', 60_000, now + (i % 5))));
    // Every hit saw its own count: none lost, none counted twice, whichever node and however they interleaved.
    expect(hits.map((h) => h.count).sort((x, y) => x - y)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    const opened = hits.find((h) => h.count === 1)!.resetAt;
    expect(opened).toBeGreaterThanOrEqual(now + 60_000);
    expect(opened).toBeLessThan(now + 60_005);
    expect(new Set(hits.map((h) => h.resetAt))).toEqual(new Set([opened]));
    expect(await stores[1]!.peekCounter('auth:203.0.113.7', opened - 1)).toEqual({ count: 60, resetAt: opened });
    expect(await stores[1]!.peekCounter('auth:other', now)).toEqual({ count: 0, resetAt: 0 });

    // The window ends at resetAt: nothing open then, and the next hit opens a new one.
    expect(await stores[2]!.peekCounter('auth:203.0.113.7', opened)).toEqual({ count: 0, resetAt: 0 });
    expect(await stores[2]!.hitCounter('auth:203.0.113.7', 1000, opened)).toEqual({ count: 1, resetAt: opened + 1000 });
    expect(await stores[0]!.hitCounter('auth:203.0.113.7', 1000, opened + 999)).toEqual({ count: 2, resetAt: opened + 1000 });
    // Several keys in one call, answered in their order.
    expect(await stores[1]!.hitCounters(['auth:203.0.113.7', 'auth:fresh'], 1000, opened + 999))
      .toEqual([{ count: 3, resetAt: opened + 1000 }, { count: 1, resetAt: opened + 1999 }]);

    // Pruning removes ended windows only.
    await stores[0]!.hitCounter('rest:short', 10, now);
    await stores[0]!.hitCounter('rest:long', 10_000_000, now);
    expect(await stores[1]!.pruneCounters(now + 10)).toBe(1);
    expect(await stores[1]!.peekCounter('rest:long', now + 10)).toMatchObject({ count: 1 });
    expect(await stores[1]!.peekCounter('auth:203.0.113.7', opened + 1)).toEqual({ count: 3, resetAt: opened + 1000 });
    expect(await stores[1]!.pruneCounters(opened + 1000)).toBe(1);
    expect(await stores[1]!.pruneCounters(opened + 1000)).toBe(0);
  });

  it('keeps the audit trail: in the transaction of the change, filtered, ordered both ways, pruned oldest first; no notification', async () => {
    const url = await createDatabase(adminUrl);
    const [writer] = await nodes(1, undefined, url);
    const acc = await account(writer!);
    const other = await account(writer!);
    const row = await writer!.insertCredential(credential(acc), 10);
    if (row === OVER_QUOTA) throw new Error('over quota');
    const t = 1_800_000_000;
    const all = { accountId: null };

    // Rolled back with the change it describes.
    await expect(writer!.transaction(async (tx) => {
      await tx.deleteCredential(acc, 'apiKey', row.id);
      await tx.appendAudit(auditEvent(t, 'credential.destroyed', acc, row.id));
      throw new Error('client gave up');
    })).rejects.toThrow('client gave up');
    expect(await writer!.countAudit(all)).toBe(0);
    expect(await writer!.maxAuditId(all)).toBe(0);
    expect(await writer!.countCredentials(acc, 'apiKey')).toBe(1);

    // Nodes that start listening after those writes: any later move of their versions comes from what follows.
    const [a, b] = await nodes(2, undefined, url);
    const versions = [a!.version(), b!.version()];
    const events = [
      auditEvent(t, 'credential.created', acc, row.id, { description: 'phone', nul: '\u0000', nested: { ips: ['10.0.0.0/8'] } }),
      auditEvent(t + 10, 'credential.updated', acc, row.id),
      auditEvent(t + 20, 'web.signIn', other),
      auditEvent(t + 30, 'credential.destroyed', acc, row.id),
      auditEvent(t + 40, 'account.passwordChanged', other),
    ];
    await a!.appendAudit(events[0]!);
    await b!.transaction(async (tx) => {
      await tx.appendAudit(events[1]!);
      await tx.appendAudit(events[2]!);
    });
    // Not credential changes: no node's caches are dropped for them.
    await sleep(100);
    expect([a!.version(), b!.version()]).toEqual(versions);
    // Committed with the change it describes.
    await a!.transaction(async (tx) => {
      expect(await tx.deleteCredential(acc, 'apiKey', row.id)).toBe(true);
      await tx.appendAudit(events[3]!);
    });
    await b!.appendAudit(events[4]!);

    const ids = await b!.queryAudit(all, true, 0, 100);
    expect(ids).toHaveLength(5);
    expect([...ids].sort((x, y) => x - y)).toEqual(ids);
    const [i1, i2, i3, i4, i5] = ids as [number, number, number, number, number];
    expect(await a!.auditByIds(all, [i5, i1, i3, i2, i4, 999_999])).toEqual(events.map((e, i) => ({ ...e, id: ids[i] })));
    expect(await a!.auditByIds(all, [])).toEqual([]);
    expect(await a!.queryAudit(all, false, 0, 100)).toEqual([i5, i4, i3, i2, i1]);
    expect(await a!.queryAudit(all, false, 1, 2)).toEqual([i4, i3]);
    expect(await a!.queryAudit(all, true, 3, 10)).toEqual([i4, i5]);

    // Filters: account, credential, types, time (inclusive lower, exclusive upper), all together.
    const mine = { accountId: acc };
    expect(await a!.countAudit(mine)).toBe(3);
    expect(await a!.queryAudit(mine, false, 0, 10)).toEqual([i4, i2, i1]);
    expect(await a!.auditByIds(mine, [i3, i4])).toEqual([{ ...events[3], id: i4 }]);
    expect(await a!.queryAudit({ accountId: null, credentialId: row.id }, true, 0, 10)).toEqual([i1, i2, i4]);
    expect(await a!.queryAudit({ accountId: null, credentialId: row.id + 1 }, true, 0, 10)).toEqual([]);
    expect(await a!.queryAudit({ accountId: null, types: ['web.signIn', 'account.passwordChanged'] }, true, 0, 10)).toEqual([i3, i5]);
    expect(await a!.countAudit({ accountId: null, types: [] })).toBe(0);
    expect(await a!.queryAudit({ accountId: null, after: t + 10, before: t + 30 }, true, 0, 10)).toEqual([i2, i3]);
    expect(await a!.countAudit({ accountId: acc, credentialId: row.id, types: ['credential.updated', 'credential.destroyed'], after: t + 5, before: t + 31 })).toBe(2);

    // Positions, both ways, and only within the filter.
    expect(await b!.auditIndexOf(all, true, i2)).toBe(1);
    expect(await b!.auditIndexOf(all, false, i2)).toBe(3);
    expect(await b!.auditIndexOf(mine, true, i4)).toBe(2);
    expect(await b!.auditIndexOf(mine, false, i4)).toBe(0);
    expect(await b!.auditIndexOf(mine, true, i3)).toBeUndefined();
    expect(await b!.auditIndexOf(all, true, 999_999)).toBeUndefined();

    // The newest matching id: the audit state.
    expect(await b!.maxAuditId(all)).toBe(i5);
    expect(await b!.maxAuditId(mine)).toBe(i4);
    expect(await b!.maxAuditId({ accountId: other, types: ['web.signIn'] })).toBe(i3);
    expect(await b!.maxAuditId({ accountId: 999_999 })).toBe(0);

    // Pruning: at most `max` events older than `before`, oldest first.
    expect(await a!.pruneAudit(t + 25, 2)).toBe(2);
    expect(await b!.queryAudit(all, true, 0, 10)).toEqual([i3, i4, i5]);
    expect(await a!.pruneAudit(t + 25, 10)).toBe(1);
    expect(await a!.pruneAudit(t + 25, 10)).toBe(0);
    expect(await b!.queryAudit(all, true, 0, 10)).toEqual([i4, i5]);
  });

  it('numbers audit events in commit order across nodes', async () => {
    const [a, b] = await nodes(2);
    const t = 1_800_000_000;
    let release = () => undefined as void;
    const gate = new Promise<void>((r) => { release = r; });
    // A transaction that appends first but commits last...
    const slow = a!.transaction(async (tx) => {
      await tx.appendAudit(auditEvent(t, 'credential.created', 1, 1, { which: 'slow' }));
      await gate;
    });
    // ...and one on another node that appends and commits meanwhile.
    await b!.transaction((tx) => tx.appendAudit(auditEvent(t, 'credential.created', 1, 2, { which: 'fast' })));
    const seen = await b!.maxAuditId({ accountId: null });
    release();
    await slow;
    // A client that read the trail up to `seen` finds the later commit after it, not before.
    const after = await a!.queryAudit({ accountId: null }, true, 0, 10);
    expect(after.indexOf(seen)).toBe(0);
    expect((await a!.auditByIds({ accountId: null }, after)).map((r) => r.details)).toEqual([{ which: 'fast' }, { which: 'slow' }]);
  });

  it('keeps named settings: set, read from another node, overwritten; rolled back with a transaction', async () => {
    const [a, b] = await nodes(2);
    expect(await b!.getMeta('secret_check')).toBeUndefined();
    await a!.setMeta('secret_check', 'v1');
    expect(await b!.getMeta('secret_check')).toBe('v1');
    await b!.setMeta('secret_check', 'v2');
    expect(await a!.getMeta('secret_check')).toBe('v2');
    await expect(a!.transaction(async (tx) => {
      await tx.setMeta('secret_check', 'v3');
      await tx.setMeta('other', 'x');
      expect(await tx.getMeta('secret_check')).toBe('v3');
      throw new Error('client gave up');
    })).rejects.toThrow('client gave up');
    expect(await b!.getMeta('secret_check')).toBe('v2');
    expect(await b!.getMeta('other')).toBeUndefined();
  });

  it('totals the credentials of every account by kind, as nodes insert and delete', async () => {
    const [a, b] = await nodes(2);
    expect(await a!.credentialTotals()).toEqual({ apiKey: 0, appPassword: 0 });
    const x = await account(a!);
    const y = await account(b!);
    const made = await Promise.all([
      a!.insertCredential(credential(x, 'apiKey'), 10), a!.insertCredential(credential(x, 'appPassword'), 10),
      b!.insertCredential(credential(y, 'apiKey'), 10), b!.insertCredential(credential(y, 'apiKey'), 10),
      b!.insertCredential(credential(x, 'apiKey'), 10),
    ]);
    const rows = made.map((r) => { if (r === OVER_QUOTA) throw new Error('over quota'); return r; });
    expect(await b!.credentialTotals()).toEqual({ apiKey: 4, appPassword: 1 });
    expect(await b!.deleteCredential(x, 'appPassword', rows[1]!.id)).toBe(true);
    expect(await a!.deleteCredential(y, 'apiKey', rows[2]!.id)).toBe(true);
    expect(await a!.credentialTotals()).toEqual({ apiKey: 3, appPassword: 0 });
    // An account deleted takes its credentials out of the totals.
    expect(await b!.deleteAccount(x)).toBe(true);
    expect(await a!.credentialTotals()).toEqual({ apiKey: 1, appPassword: 0 });
  });

  it('refuses a file backup and names pg_dump', async () => {
    const [s] = await nodes(1);
    await expect(s!.backup('/tmp/never-written.db')).rejects.toThrow(/pg_dump "\$JMAP_KEYS_DATABASE_URL" > backup\.sql/);
  });

  it('throws StoreUnavailableError (readonly) on a server that only accepts reads', async () => {
    const url = await createDatabase(adminUrl);
    await nodes(1, undefined, url); // migrated while writable
    const readOnly = new URL(url);
    readOnly.searchParams.set('options', '-c default_transaction_read_only=on');
    const err = await openPgStore(readOnly.toString(), OPTIONS).then(async (s) => {
      open.push(s);
      return s.createAccount({ login: 'ro', passwordHash: 'x', role: 'user', createdAt: 1 });
    }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as StoreUnavailableError).reason).toBe('readonly');
  });

  it('migrates once when several nodes start together', async () => {
    const stores = await nodes(4); // opened at once on a fresh database
    await account(stores[0]!);
    expect(await stores[3]!.countAccounts()).toBe(1);
  });

  it('throws StoreUnavailableError when the server is gone', async () => {
    const own = await startPostgres();
    const store = await openPgStore(await own.createDatabase(), { ...OPTIONS, connectTimeoutMs: 1000 });
    try {
      const id = await account(store);
      await own.stop();
      const refused = await store.accountById(id).then(() => undefined, (err: unknown) => err);
      expect(refused).toBeInstanceOf(StoreUnavailableError);
      // Refused at connect, or the pool's idle connection found dead.
      expect((refused as StoreUnavailableError).reason).toMatch(/^(cantopen|io)$/);
      await expect(store.insertCredential(credential(id), 10)).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.transaction((tx) => tx.countAccounts())).rejects.toBeInstanceOf(StoreUnavailableError);
      await until('the listener to notice', () => !store.listener.up);
      expect(store.version()).not.toBe(store.version());
    } finally {
      await store.close();
      await own.stop();
    }
  });
});
