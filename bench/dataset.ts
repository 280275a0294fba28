/**
 * A fast dataset generator: a fresh SQLite file made and migrated by `openSqliteStore`, then one `admin` account
 * and N API keys written straight into the tables with prepared statements in large transactions.
 *
 * - Most keys are filler: a unique synthetic locator and a random 32-byte hash, so no token opens them.
 *   A handful spread across the id range are real (TokenHasher with the fixed bench secret) and are what the
 *   Bearer scenarios authenticate with, so lookups land all over the locator index.
 * - expiresAt is spread (hashed, not in id order) over two years from now, 1 key in 10 never expires;
 *   createdAt rises with the id over the past year.
 * - Each key gets its `created` row in the change log, as if it had been made through /set: a server that
 *   stored 1M keys has a 1M-row log too.
 * - 20 app passwords (kind appPassword, `rm_`, with REST scopes) for the REST list and verification scenarios;
 *   some are real: tokens to verify, and one `internal` credential to ask with.
 *
 * `npx tsx bench/dataset.ts --keys 1000000 --out /tmp/keys.db` runs it alone.
 */
import { randomFillSync } from 'node:crypto';
import { rmSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { hashPassword } from '../src/auth/passwords.js';
import { TokenHasher } from '../src/auth/tokens.js';
import { openSqliteStore } from '../src/db/sqlite.js';
import { encodeId } from '../src/util/ids.js';

/** Fixed server secret (JMAP_KEYS_SECRET) so the real tokens below verify in the server child. */
export const BENCH_SECRET = '6a6d61702d6b6579732062656e6368206d61726b207365637265742030303031';
export const BENCH_ADMIN_PASSWORD = 'bench-admin-password';

export const DAY = 86_400;
export const REAL_API_KEYS = 8;
export const APP_PASSWORDS = 20;
const BATCH = 50_000;

export interface DatasetOptions {
  file: string;
  /** API keys to store in the admin account. */
  keys: number;
  log?: (msg: string) => void;
}

export interface Dataset {
  file: string;
  keys: number;
  adminLogin: string;
  adminPassword: string;
  /** Real API key tokens (Bearer) and the ids of the keys they belong to. */
  apiTokens: string[];
  /** JMAP ids of keys spread across the id range, for /get. */
  sampleIds: string[];
  /** Real app-password tokens (`rm_`) for the verification endpoint to check. */
  appPasswordTokens: string[];
  /** An app password with the `internal` scope: the credential the verification endpoint is asked with. */
  internalToken: string;
  /** expiresAt values of the filler keys lie in [expiresFrom, expiresTo) (unix seconds). */
  expiresFrom: number;
  expiresTo: number;
  /** Rows written to `credentials` (keys + app passwords) and wall time of the whole generation. */
  rows: number;
  ms: number;
}

/** 9 bytes → the 12 base64url characters of a locator; filler locators are [0xfe, 0xb0, id (7 bytes)]. */
export function fillerLocator(id: number): string {
  const b = Buffer.alloc(9);
  b[0] = 0xfe;
  b[1] = 0xb0;
  b.writeUIntBE(Math.floor(id / 2 ** 24), 2, 3);
  b.writeUIntBE(id % 2 ** 24, 5, 3);
  return b.toString('base64url');
}

/** A well-spread fraction in [0, 1) from a row number (32-bit multiplicative hash). */
export const spread = (i: number) => (Math.imul(i, 0x9e3779b1) >>> 0) / 2 ** 32;

export async function generateDataset(opts: DatasetOptions): Promise<Dataset> {
  const started = performance.now();
  const log = opts.log ?? (() => {});
  const n = opts.keys;
  if (!Number.isSafeInteger(n) || n < REAL_API_KEYS) throw new Error(`a dataset needs at least ${REAL_API_KEYS} keys`);
  rmSync(opts.file, { force: true });
  rmSync(`${opts.file}-wal`, { force: true });
  rmSync(`${opts.file}-shm`, { force: true });
  await openSqliteStore(opts.file).close(); // the real schema, by the real migration

  const hasher = new TokenHasher(Buffer.from(BENCH_SECRET, 'hex'));
  const passwordHash = await hashPassword(BENCH_ADMIN_PASSWORD);
  const now = Math.floor(Date.now() / 1000);
  const expiresFrom = now - (now % DAY) + DAY;
  const expiresTo = expiresFrom + 730 * DAY;
  const createdFrom = now - 365 * DAY;

  const db = new Database(opts.file);
  // Loading only: no fsync, a big page cache. The server later opens the file with its own settings.
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -262144');
  db.pragma('temp_store = MEMORY');

  // Secondary indexes are dropped during the load and rebuilt after it (one sort each, not 1M B-tree inserts).
  const indexes = db.prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('credentials', 'changes') AND sql IS NOT NULL`)
    .all() as { name: string; sql: string }[];
  for (const ix of indexes) db.exec(`DROP INDEX "${ix.name}"`);

  const adminId = Number(db.prepare(`INSERT INTO accounts (login, password_hash, role, created_at) VALUES ('admin', ?, 'admin', ?)`)
    .run(passwordHash, createdFrom).lastInsertRowid);

  const insertKey = db.prepare(`INSERT INTO credentials (id, account_id, kind, description, locator, secret_hash, created_at, expires_at,
    permissions_mode, permissions, allowed_ips, scopes, platform, device_id, last_used_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'Inherit', '[]', '[]', ?, NULL, NULL, NULL)`);
  const insertChange = db.prepare(`INSERT INTO changes (seq, account_id, kind, record_id, op) VALUES (?, ?, ?, ?, 'created')`);

  // Real API keys sit at evenly spread ids.
  const realAt = new Map<number, number>();
  for (let k = 0; k < REAL_API_KEYS; k++) realAt.set(1 + Math.floor(((k + 0.5) * n) / REAL_API_KEYS), k);
  const apiTokens: string[] = new Array<string>(REAL_API_KEYS);
  const randomHashes = Buffer.alloc(32 * BATCH);

  const writeBatch = db.transaction((from: number, to: number) => {
    randomFillSync(randomHashes);
    for (let id = from; id < to; id++) {
      const real = realAt.get(id);
      let locator: string;
      let hash: Buffer;
      let expiresAt: number | null;
      if (real !== undefined) {
        const issued = hasher.issue('apiKey');
        apiTokens[real] = issued.token;
        locator = issued.locator;
        hash = issued.hash;
        expiresAt = null;
      } else {
        locator = fillerLocator(id);
        hash = randomHashes.subarray((id - from) * 32, (id - from + 1) * 32);
        expiresAt = id % 10 === 0 ? null : expiresFrom + Math.floor(spread(id) * (expiresTo - expiresFrom));
      }
      const createdAt = createdFrom + Math.floor(((id - 1) / n) * 365 * DAY);
      insertKey.run(id, adminId, 'apiKey', `bench key ${id}`, locator, hash, createdAt, expiresAt, null);
      insertChange.run(id, adminId, 'apiKey', id);
    }
  });

  for (let from = 1; from <= n; from += BATCH) {
    const to = Math.min(n + 1, from + BATCH);
    writeBatch(from, to);
    if (n >= 200_000 && (to - 1) % 200_000 === 0) log(`  ${to - 1} keys written`);
  }

  // App passwords: the REST face's kind. A few real ones to verify, one `internal` to ask with.
  const appPasswordTokens: string[] = [];
  let internalToken = '';
  db.transaction(() => {
    for (let k = 0; k < APP_PASSWORDS; k++) {
      const id = n + 1 + k;
      const issued = hasher.issue('appPassword');
      const internal = k === APP_PASSWORDS - 1;
      if (internal) internalToken = issued.token;
      else if (k < 4) appPasswordTokens.push(issued.token);
      const scopes = internal ? ['internal'] : ['smtp', 'pop3', 'imap'];
      insertKey.run(id, adminId, 'appPassword', internal ? 'bench verifier' : `bench app password ${k}`, issued.locator, issued.hash,
        now - DAY, null, JSON.stringify(scopes));
      insertChange.run(id, adminId, 'appPassword', id);
    }
  })();

  const loaded = performance.now();
  for (const ix of indexes) db.exec(ix.sql);
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  const ms = performance.now() - started;
  log(`  rows ${Math.round(loaded - started)} ms, indexes ${Math.round(performance.now() - loaded)} ms`);

  return {
    file: opts.file, keys: n, adminLogin: 'admin', adminPassword: BENCH_ADMIN_PASSWORD,
    apiTokens, sampleIds: sampleIds(n), appPasswordTokens, internalToken, expiresFrom, expiresTo, rows: n + APP_PASSWORDS, ms,
  };
}

/** JMAP ids of 16 keys spread across the id range 1..n, for /get. */
export function sampleIds(n: number): string[] {
  const out: string[] = [];
  const samples = Math.min(16, n);
  for (let k = 0; k < samples; k++) out.push(encodeId(1 + Math.floor(((k + 0.25) * n) / samples)));
  return out;
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const { values } = parseArgs({ options: { keys: { type: 'string', default: '10000' }, out: { type: 'string', default: 'bench-data/keys.db' } } });
  const d = await generateDataset({ file: values.out, keys: Number(values.keys), log: console.error });
  console.log(`${d.rows} rows in ${(d.ms / 1000).toFixed(2)} s (${Math.round(d.rows / (d.ms / 1000))} rows/s) → ${d.file}`);
}
