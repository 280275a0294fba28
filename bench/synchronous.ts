/**
 * The cost of durability: SQLite's synchronous=FULL (the default: every commit fsyncs the WAL, so an acknowledged
 * credential survives a power cut) against NORMAL (JMAP_KEYS_SQLITE_SYNCHRONOUS=NORMAL: the last commits before a
 * power cut may be lost; a process crash loses nothing). Same run, same machine, rounds alternating between the two
 * so drift cancels; the result is the ratio. Writes go through the real store (openSqliteStore), as /set does.
 *
 *   npx tsx bench/synchronous.ts [--dir /var/lib/jmap-keys] [--commits 300] [--batches 6] [--rounds 3]
 *
 * Run it on the file system the database will live on: on tmpfs fsync costs nothing and the ratio says nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { TokenHasher } from '../src/auth/tokens.js';
import { openSqliteStore } from '../src/db/sqlite.js';
import type { StoreOps } from '../src/db/store.js';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: tmpdir() },
    commits: { type: 'string', default: '300' },
    batches: { type: 'string', default: '6' },
    rounds: { type: 'string', default: '3' },
  },
});
const commits = Number(values.commits);
const batches = Number(values.batches);
const rounds = Number(values.rounds);
const hasher = new TokenHasher(Buffer.alloc(32, 7));

async function create(store: StoreOps, accountId: number, i: number): Promise<void> {
  const issued = hasher.issue('apiKey');
  await store.insertCredential({
    accountId, kind: 'apiKey', description: `bench ${i}`, locator: issued.locator, secretHash: issued.hash, createdAt: 0,
    expiresAt: null, permissionsMode: 'Inherit', permissions: [], allowedIps: [], scopes: null, platform: null, deviceId: null,
  }, Number.MAX_SAFE_INTEGER);
}

/** Keys created per second: one commit per key (a /set with one create), and 500 keys per commit (a full /set). */
async function measure(mode: 'FULL' | 'NORMAL'): Promise<{ single: number; batch: number }> {
  const dir = mkdtempSync(join(values.dir, 'jmap-keys-sync-'));
  try {
    const store = openSqliteStore(join(dir, 'bench.db'), { synchronous: mode });
    const account = await store.createAccount({ login: 'bench', passwordHash: 'x', role: 'admin', createdAt: 0 });
    if (!account) throw new Error('no bench account');
    let t = process.hrtime.bigint();
    for (let i = 0; i < commits; i++) await store.transaction((tx) => create(tx, account.id, i));
    const single = commits / (Number(process.hrtime.bigint() - t) / 1e9);
    t = process.hrtime.bigint();
    for (let b = 0; b < batches; b++) {
      await store.transaction(async (tx) => { for (let i = 0; i < 500; i++) await create(tx, account.id, b * 500 + i); });
    }
    const batch = (batches * 500) / (Number(process.hrtime.bigint() - t) / 1e9);
    await store.close();
    return { single, batch };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const results = { FULL: [] as { single: number; batch: number }[], NORMAL: [] as { single: number; batch: number }[] };
for (let r = 0; r < rounds; r++) {
  // Alternate which goes first, so a machine getting slower or faster does not favour one.
  for (const mode of r % 2 === 0 ? (['FULL', 'NORMAL'] as const) : (['NORMAL', 'FULL'] as const)) results[mode].push(await measure(mode));
}
const row = (label: string, key: 'single' | 'batch') => {
  const full = median(results.FULL.map((x) => x[key]));
  const normal = median(results.NORMAL.map((x) => x[key]));
  return `| ${label} | ${Math.round(full).toLocaleString('en')} | ${Math.round(normal).toLocaleString('en')} | ${(full / normal).toFixed(2)} |`;
};
console.log(`synchronous=FULL vs NORMAL in ${values.dir}: ${rounds} rounds, median keys created/s\n`);
console.log('| writes | FULL keys/s | NORMAL keys/s | FULL ÷ NORMAL |');
console.log('|---|---:|---:|---:|');
console.log(row(`one key per commit (${commits} commits)`, 'single'));
console.log(row(`500 keys per commit (${batches} commits)`, 'batch'));
