/**
 * The benchmark dataset in PostgreSQL: the same rows as bench/dataset.ts writes into SQLite (one `admin` account,
 * N API keys of which 8 are real tokens, 20 app passwords, a `created` change per credential), loaded into a
 * database migrated by the real migration (`openPgStore` once), plus what only the PostgreSQL schema has: the
 * `account_states` rows (change position and credential count per account and kind) that quotas and JMAP states
 * read, and the identity sequences moved past the explicit ids.
 *
 * Rows go in as multi-row `INSERT … SELECT FROM unnest($1::…[], …)` statements of 20k rows (one round trip and one
 * parse each; COPY would need a package we do not have), secondary indexes dropped during the load and rebuilt
 * after it, all in one transaction with synchronous_commit off.
 *
 * `npx tsx bench/pg-dataset.ts --keys 100000` loads one into a throwaway server and prints the time.
 */
import { randomFillSync } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { hashPassword } from '../src/auth/passwords.js';
import { TokenHasher } from '../src/auth/tokens.js';
import { openPgStore } from '../src/db/pg.js';
import {
  APP_PASSWORDS, BENCH_ADMIN_PASSWORD, BENCH_SECRET, DAY, REAL_API_KEYS, fillerLocator, sampleIds, spread, type Dataset,
} from './dataset.js';

const BATCH = 20_000;

export interface PgDataset extends Dataset {
  /** postgres://… of the loaded database. */
  url: string;
}

interface Columns {
  id: number[]; kind: string[]; description: string[]; locator: string[]; hash: Buffer[];
  createdAt: number[]; expiresAt: (number | null)[]; scopes: (string | null)[];
}
const empty = (): Columns => ({ id: [], kind: [], description: [], locator: [], hash: [], createdAt: [], expiresAt: [], scopes: [] });

const INSERT_CREDENTIALS = `INSERT INTO credentials (id, account_id, kind, description, locator, secret_hash, created_at, expires_at,
    permissions_mode, permissions, allowed_ips, scopes)
  OVERRIDING SYSTEM VALUE
  SELECT u.id, $1, u.kind, u.description, u.locator, u.hash, u.created_at, u.expires_at, 'Inherit', '[]', '[]', u.scopes
  FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::bytea[], $7::bigint[], $8::bigint[], $9::text[])
    AS u(id, kind, description, locator, hash, created_at, expires_at, scopes)`;
/** Change positions are per account and kind in PostgreSQL: the n-th credential of a kind is its kind's change n. */
const INSERT_CHANGES = `INSERT INTO changes (account_id, kind, seq, record_id, op)
  SELECT $1, u.kind, u.seq, u.id, 'created' FROM unnest($2::bigint[], $3::text[], $4::bigint[]) AS u(id, kind, seq)`;

/** Loads the dataset into the (empty) database at `url`. */
export async function generatePgDataset(opts: { url: string; keys: number; log?: (msg: string) => void }): Promise<PgDataset> {
  const started = performance.now();
  const log = opts.log ?? (() => {});
  const n = opts.keys;
  if (!Number.isSafeInteger(n) || n < REAL_API_KEYS) throw new Error(`a dataset needs at least ${REAL_API_KEYS} keys`);
  await (await openPgStore(opts.url, { poolSize: 1 })).close(); // the real schema, by the real migration

  const hasher = new TokenHasher(Buffer.from(BENCH_SECRET, 'hex'));
  const passwordHash = await hashPassword(BENCH_ADMIN_PASSWORD);
  const now = Math.floor(Date.now() / 1000);
  const expiresFrom = now - (now % DAY) + DAY;
  const expiresTo = expiresFrom + 730 * DAY;
  const createdFrom = now - 365 * DAY;

  const client = new pg.Client({ connectionString: opts.url });
  await client.connect();
  try {
    await client.query('SET synchronous_commit = off');
    await client.query(`SET maintenance_work_mem = '256MB'`);
    await client.query('BEGIN');
    const indexes = (await client.query<{ indexname: string; indexdef: string }>(`SELECT i.indexname, i.indexdef FROM pg_indexes i
      WHERE i.schemaname = 'public' AND i.tablename = 'credentials'
        AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)`)).rows;
    for (const ix of indexes) await client.query(`DROP INDEX "${ix.indexname}"`);

    const adminId = Number((await client.query<{ id: string }>(`INSERT INTO accounts (login, password_hash, role, created_at)
      VALUES ('admin', $1, 'admin', $2) RETURNING id`, [passwordHash, createdFrom])).rows[0]!.id);

    const realAt = new Map<number, number>();
    for (let k = 0; k < REAL_API_KEYS; k++) realAt.set(1 + Math.floor(((k + 0.5) * n) / REAL_API_KEYS), k);
    const apiTokens: string[] = new Array<string>(REAL_API_KEYS);

    const flush = async (c: Columns, seqs: number[]) => {
      await client.query(INSERT_CREDENTIALS, [adminId, c.id, c.kind, c.description, c.locator, c.hash, c.createdAt, c.expiresAt, c.scopes]);
      await client.query(INSERT_CHANGES, [adminId, c.id, c.kind, seqs]);
    };

    for (let from = 1; from <= n; from += BATCH) {
      const to = Math.min(n + 1, from + BATCH);
      const random = Buffer.alloc(32 * (to - from));
      randomFillSync(random);
      const c = empty();
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
          hash = random.subarray((id - from) * 32, (id - from + 1) * 32);
          expiresAt = id % 10 === 0 ? null : expiresFrom + Math.floor(spread(id) * (expiresTo - expiresFrom));
        }
        c.id.push(id); c.kind.push('apiKey'); c.description.push(`bench key ${id}`); c.locator.push(locator); c.hash.push(hash);
        c.createdAt.push(createdFrom + Math.floor(((id - 1) / n) * 365 * DAY)); c.expiresAt.push(expiresAt); c.scopes.push(null);
      }
      await flush(c, c.id);
      if (n >= 200_000 && (to - 1) % 200_000 === 0) log(`  ${to - 1} keys written`);
    }

    const appPasswordTokens: string[] = [];
    let internalToken = '';
    const c = empty();
    const seqs: number[] = [];
    for (let k = 0; k < APP_PASSWORDS; k++) {
      const id = n + 1 + k;
      const issued = hasher.issue('appPassword');
      const internal = k === APP_PASSWORDS - 1;
      if (internal) internalToken = issued.token;
      else if (k < 4) appPasswordTokens.push(issued.token);
      c.id.push(id); c.kind.push('appPassword'); c.description.push(internal ? 'bench verifier' : `bench app password ${k}`);
      c.locator.push(issued.locator); c.hash.push(issued.hash); c.createdAt.push(now - DAY); c.expiresAt.push(null);
      c.scopes.push(JSON.stringify(internal ? ['internal'] : ['smtp', 'pop3', 'imap']));
      seqs.push(k + 1);
    }
    await flush(c, seqs);

    // What the server's writes keep: each kind's change position and count, and identities past the explicit ids.
    await client.query(`INSERT INTO account_states (account_id, kind, seq, n) VALUES ($1, 'apiKey', $2, $3), ($1, 'appPassword', $4, $5)`,
      [adminId, n, n, APP_PASSWORDS, APP_PASSWORDS]);
    await client.query(`SELECT setval(pg_get_serial_sequence('credentials', 'id'), $1)`, [n + APP_PASSWORDS]);

    const loaded = performance.now();
    for (const ix of indexes) await client.query(ix.indexdef);
    await client.query('COMMIT');
    await client.query('ANALYZE');
    log(`  rows ${Math.round(loaded - started)} ms, indexes + analyze ${Math.round(performance.now() - loaded)} ms`);

    return {
      url: opts.url, file: '', keys: n, adminLogin: 'admin', adminPassword: BENCH_ADMIN_PASSWORD,
      apiTokens, sampleIds: sampleIds(n), appPasswordTokens, internalToken, expiresFrom, expiresTo,
      rows: n + APP_PASSWORDS, ms: performance.now() - started,
    };
  } finally {
    await client.end();
  }
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const { startPostgres } = await import('../test/helpers/postgres.js');
  const { values } = parseArgs({ options: { keys: { type: 'string', default: '100000' } } });
  const server = await startPostgres();
  try {
    const d = await generatePgDataset({ url: await server.createDatabase(), keys: Number(values.keys), log: console.error });
    console.log(`${d.rows} rows in ${(d.ms / 1000).toFixed(2)} s (${Math.round(d.rows / (d.ms / 1000))} rows/s)`);
  } finally {
    await server.stop();
  }
}
