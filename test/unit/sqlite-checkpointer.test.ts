import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/db/sqlite.js';
import { FALLBACK_AUTOCHECKPOINT } from '../../src/db/sqlite-checkpointer.js';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

/** A store on a fresh file; with `failures`, checkpointed by the worker (what the server does). */
function fresh(failures?: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'jmap-keys-checkpoint-'));
  dirs.push(dir);
  const file = join(dir, 'db.sqlite');
  const store = openSqliteStore(file, failures ? { checkpoints: { onFailure: (m) => failures.push(m) } } : {});
  const client = (store as unknown as { client: Database.Database }).client;
  return { store, file, client };
}

/** ~1,500 pages (6 MB) of new data in one commit: more than SQLite's own 1,000-page autocheckpoint. */
async function writeMuch(store: ReturnType<typeof fresh>['store']): Promise<void> {
  await store.transaction(async (tx) => {
    for (let i = 0; i < 300; i++) await tx.setMeta(`filler-${i}`, 'x'.repeat(20_000));
  });
}

const size = (file: string) => statSync(file).size;

describe('SQLite WAL checkpoints in a worker thread', () => {
  it('copy committed pages into the database file without the writer doing it, and leave no WAL after close', async () => {
    const failures: string[] = [];
    const { store, file, client } = fresh(failures);
    // The writer's own checkpoint is only the fallback, far above one commit.
    expect(client.pragma('wal_autocheckpoint', { simple: true })).toBe(FALLBACK_AUTOCHECKPOINT);
    const before = size(file);
    await writeMuch(store);
    // The worker copies within its 100 ms round: the database file grows by what was written.
    const deadline = Date.now() + 10_000;
    while (size(file) < before + 5_000_000 && Date.now() < deadline) await sleep(50);
    expect(size(file)).toBeGreaterThan(before + 5_000_000);
    expect(await store.getMeta('filler-299')).toHaveLength(20_000);
    await store.close();
    expect(existsSync(`${file}-wal`)).toBe(false);
    expect(failures).toEqual([]);
  });

  it('without it (a bare store, local CLI commands) the commit that passes 1,000 pages checkpoints itself', async () => {
    const { store, file, client } = fresh();
    expect(client.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    const before = size(file);
    await writeMuch(store);
    expect(size(file)).toBeGreaterThan(before + 5_000_000);
    await store.close();
  });
});
