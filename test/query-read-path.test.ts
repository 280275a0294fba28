import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialQuery, nonNullFields, numbered, orderText, POSTGRES_DIALECT, SQLITE_DIALECT } from '../src/db/credential-query.js';
import type { CredentialFilter } from '../src/db/store.js';
import { bearer, startTestServer, TEST_ENGINE, type ApiBody, type TestServer } from './helpers/server.js';

const cond = (field: 'expiresAt' | 'createdAt', op: 'eq' | 'gt' | 'gte' | 'lt' | 'lte', value: number): CredentialFilter => ({ condition: { field, op, value } });
const fields = (f: CredentialFilter | null) => [...nonNullFields(f)].sort();

describe('which dates a /query filter leaves no NULL in', () => {
  it('a condition excludes its field\'s NULLs; AND keeps any part\'s, OR only all parts\', NOT none', () => {
    expect(fields(null)).toEqual([]);
    expect(fields(cond('expiresAt', 'gte', 1))).toEqual(['expiresAt']);
    expect(fields({ operator: 'AND', conditions: [cond('createdAt', 'gt', 1), cond('expiresAt', 'lt', 9)] })).toEqual(['createdAt', 'expiresAt']);
    expect(fields({ operator: 'OR', conditions: [cond('expiresAt', 'lt', 1), cond('expiresAt', 'gt', 9)] })).toEqual(['expiresAt']);
    expect(fields({ operator: 'OR', conditions: [cond('expiresAt', 'lt', 1), cond('createdAt', 'gt', 9)] })).toEqual([]);
    expect(fields({ operator: 'NOT', conditions: [cond('expiresAt', 'lt', 1)] })).toEqual([]);
    expect(fields({ operator: 'AND', conditions: [] })).toEqual([]);
    expect(fields({ operator: 'OR', conditions: [] })).toEqual([]);
    expect(fields({ operator: 'AND', conditions: [{ operator: 'NOT', conditions: [cond('expiresAt', 'lt', 1)] }, cond('createdAt', 'gt', 1)] })).toEqual(['createdAt']);
  });

  it('sorts such a date plainly (the index order on PostgreSQL), others with NULL below every date', () => {
    const byExpiry = [{ property: 'expiresAt' as const, isAscending: true }];
    expect(credentialQuery(1, 'apiKey', cond('expiresAt', 'gte', 5), byExpiry, POSTGRES_DIALECT).order).toBe('expires_at ASC, id ASC');
    expect(credentialQuery(1, 'apiKey', cond('createdAt', 'gte', 5), byExpiry, POSTGRES_DIALECT).order).toBe('expires_at ASC NULLS FIRST, id ASC');
    expect(orderText([{ property: 'expiresAt', isAscending: false }], POSTGRES_DIALECT, new Set(['expiresAt']))).toBe('expires_at DESC, id ASC');
    expect(credentialQuery(1, 'apiKey', cond('expiresAt', 'gte', 5), byExpiry, SQLITE_DIALECT).order).toBe('expires_at ASC, id ASC');
  });
});

describe('x:ApiKey/query over dates that may be NULL (the running engine)', () => {
  let s: TestServer;
  const DAY = 86_400;
  const base = Date.UTC(2031, 0, 1) / 1000;
  const utc = (t: number) => new Date(t * 1000).toISOString().replace('.000Z', 'Z');
  /** id → expiry (null: never), as created. */
  const made = new Map<string, number | null>();

  beforeAll(async () => {
    s = await startTestServer({ JMAP_KEYS_MAX_KEYS_PER_ACCOUNT: '100' });
    const create: Record<string, { description: string; expiresAt: string | null }> = {};
    // Expiries repeat (ties broken by id) and every third key never expires.
    for (let i = 0; i < 15; i++) create[`k${i}`] = { description: `k${i}`, expiresAt: i % 3 === 0 ? null : utc(base + ((i * 7) % 5) * DAY) };
    const res = await s.api(bearer(s.adminToken), [['x:ApiKey/set', { create }, 's']]);
    const created = res.body.methodResponses[0][1].created as Record<string, { id: string }>;
    for (const [k, v] of Object.entries(created)) made.set(v.id, create[k]!.expiresAt === null ? null : Date.parse(create[k]!.expiresAt!) / 1000);
    expect(made.size).toBe(15);
  });
  afterAll(async () => { await s?.stop(); });

  /** The ids the store must answer: filter in JS, NULL below every date, ties by id (ids order as created). */
  function expected(keep: (e: number | null) => boolean, ascending: boolean): string[] {
    const all = [...made.entries()];
    const order = [...made.keys()];
    const rank = (e: number | null) => (e === null ? -Infinity : e);
    return all.filter(([, e]) => keep(e))
      .sort((a, b) => (ascending ? rank(a[1]) - rank(b[1]) : rank(b[1]) - rank(a[1])) || order.indexOf(a[0]) - order.indexOf(b[0]))
      .map(([id]) => id);
  }

  const cases: [string, unknown, (e: number | null) => boolean][] = [
    ['a window', { expiresAtIsGreaterThanOrEqual: utc(base + DAY), expiresAtIsLessThan: utc(base + 4 * DAY) }, (e) => e !== null && e >= base + DAY && e < base + 4 * DAY],
    ['either end', { operator: 'OR', conditions: [{ expiresAtIsLessThan: utc(base + DAY) }, { expiresAtIsGreaterThan: utc(base + 3 * DAY) }] },
      (e) => e !== null && (e < base + DAY || e > base + 3 * DAY)],
    ['not a window (NULLs in)', { operator: 'NOT', conditions: [{ expiresAtIsGreaterThanOrEqual: utc(base + 2 * DAY) }] }, (e) => e === null || e < base + 2 * DAY],
    ['no filter', undefined, () => true],
  ];

  for (const [name, filter, keep] of cases) {
    for (const ascending of [true, false]) {
      it(`${name}, ${ascending ? 'ascending' : 'descending'}: rows, order, total and queryState`, async () => {
        const args = { ...(filter === undefined ? {} : { filter }), sort: [{ property: 'expiresAt', isAscending: ascending }], calculateTotal: true };
        const want = expected(keep, ascending);
        const res = await s.api(bearer(s.adminToken), [
          ['x:ApiKey/query', args, 'a'],
          ['x:ApiKey/query', { ...args, position: 2, limit: 3 }, 'b'],
          ['x:ApiKey/query', { ...args, anchor: want[1], anchorOffset: 0, limit: 2 }, 'c'],
        ]);
        const [a, b, c] = (res.body as ApiBody).methodResponses.map((r: ApiBody) => r[1]);
        // The account also holds the admin's own bootstrap key (never expires): only ours are compared.
        expect(a.ids.filter((id: string) => made.has(id))).toEqual(want);
        expect(a.total).toBe(a.ids.length);
        expect(b.ids).toEqual(a.ids.slice(2, 5));
        expect(c.ids).toEqual(a.ids.slice(a.ids.indexOf(want[1]), a.ids.indexOf(want[1]) + 2));
        expect(b.queryState).toBe(a.queryState);
      });
    }
  }
});

describe.skipIf(TEST_ENGINE !== 'postgres')('the /query page on PostgreSQL', () => {
  let s: TestServer;
  let client: pg.Client;
  beforeAll(async () => {
    s = await startTestServer();
    client = new pg.Client({ connectionString: s.storeEnv.JMAP_KEYS_DATABASE_URL });
    await client.connect();
    // Enough rows for the planner to weigh an index against a sort; raw rows are enough for a plan.
    await client.query(`INSERT INTO credentials (account_id, kind, description, locator, secret_hash, created_at, expires_at, permissions_mode)
      SELECT 1, 'apiKey', 'bulk ' || g, 'plan' || g, '\\x00', 1800000000 + g, CASE WHEN g % 10 = 0 THEN NULL ELSE 1900000000 + (g * 7919) % 20000 * 60 END, 'Inherit'
      FROM generate_series(1, 20000) g`);
    await client.query('ANALYZE credentials');
  });
  afterAll(async () => {
    await client?.end();
    await s?.stop();
  });

  it('reads a filtered expiry page off the (account_id, kind, expires_at) index instead of sorting the window', async () => {
    for (const ascending of [true, false]) {
      const filter: CredentialFilter = { operator: 'AND', conditions: [cond('expiresAt', 'gte', 1_900_100_000), cond('expiresAt', 'lt', 1_900_700_000)] };
      const q = credentialQuery(1, 'apiKey', filter, [{ property: 'expiresAt', isAscending: ascending }], POSTGRES_DIALECT);
      const plan = (await client.query<{ 'QUERY PLAN': string }>(numbered(`EXPLAIN SELECT id FROM credentials WHERE ${q.where} ORDER BY ${q.order} LIMIT ? OFFSET ?`), [...q.params, 50, 0]))
        .rows.map((r) => r['QUERY PLAN']).join('\n');
      expect(plan).toContain('credentials_expires');
      // An incremental sort (ties by id within one date) is fine; a full sort of the window is what this avoids.
      expect(plan).not.toMatch(/->\s+Sort\b|^Sort\b/m);
    }
  });
});
