import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/db/sqlite.js';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });
const fresh = (synchronous?: 'FULL' | 'NORMAL') => {
  const dir = mkdtempSync(join(tmpdir(), 'jmap-keys-counters-'));
  dirs.push(dir);
  const store = openSqliteStore(join(dir, 'db.sqlite'), synchronous ? { synchronous } : {});
  // The connection's own setting (a pragma is per connection): read through the store's client.
  const level = () => (store as unknown as { client: Database.Database }).client.pragma('synchronous', { simple: true });
  return { store, level };
};

describe('SQLite rate-limit counters', () => {
  it('count within a window, start over after it, and leave the connection at its synchronous level', async () => {
    const { store, level } = fresh();
    expect(level()).toBe(2); // FULL
    expect(await store.hitCounter('k', 1000, 10_000)).toEqual({ count: 1, resetAt: 11_000 });
    expect(await store.hitCounter('k', 1000, 10_500)).toEqual({ count: 2, resetAt: 11_000 });
    expect(await store.hitCounter('k', 1000, 11_000)).toEqual({ count: 1, resetAt: 12_000 });
    expect(await store.peekCounter('k', 11_500)).toEqual({ count: 1, resetAt: 12_000 });
    // Several keys in one commit (a REST call's account and address), in their order.
    expect(await store.hitCounters(['k', 'other'], 1000, 11_200)).toEqual([{ count: 2, resetAt: 12_000 }, { count: 1, resetAt: 12_200 }]);
    // Committed without FULL's fsync, then back to FULL for every other write.
    expect(level()).toBe(2);
    await store.close();
  });

  it('inside a transaction the hit joins it (and rolls back with it); NORMAL stays NORMAL', async () => {
    const { store, level } = fresh('NORMAL');
    await expect(store.transaction(async (tx) => {
      await tx.hitCounter('t', 1000, 0);
      throw new Error('undo');
    })).rejects.toThrow('undo');
    expect(await store.peekCounter('t', 1)).toEqual({ count: 0, resetAt: 0 });
    await store.hitCounter('t', 1000, 0);
    expect(level()).toBe(1);
    await store.close();
  });
});
