import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialQuery, numbered, orderText, POSTGRES_DIALECT, SQLITE_DIALECT } from '../src/db/credential-query.js';
import { KEPT_PLANS_APPLICATION } from '../src/db/pg.js';
import type { CredentialFilter } from '../src/db/store.js';
import { bearer, startTestServer, TEST_ENGINE, type ApiBody, type TestServer } from './helpers/server.js';

const utc = (t: number) => new Date(t * 1000).toISOString().replace('.000Z', 'Z');
const cond = (field: 'expiresAt' | 'createdAt', op: 'eq' | 'gt' | 'gte' | 'lt' | 'lte', value: number): CredentialFilter => ({ condition: { field, op, value } });

describe('the expiry order', () => {
  it('is one index order per direction, filtered or not: NULL below every date, ties by id in the same direction', () => {
    const byExpiry = (isAscending: boolean) => [{ property: 'expiresAt' as const, isAscending }];
    for (const filter of [null, cond('expiresAt', 'gte', 5), cond('createdAt', 'gte', 5)]) {
      expect(credentialQuery(1, 'apiKey', filter, byExpiry(true), POSTGRES_DIALECT).order).toBe('expires_at ASC NULLS FIRST, id ASC');
      expect(credentialQuery(1, 'apiKey', filter, byExpiry(false), POSTGRES_DIALECT).order).toBe('expires_at DESC NULLS LAST, id DESC');
      expect(credentialQuery(1, 'apiKey', filter, byExpiry(true), SQLITE_DIALECT).order).toBe('expires_at ASC, id ASC');
      expect(credentialQuery(1, 'apiKey', filter, byExpiry(false), SQLITE_DIALECT).order).toBe('expires_at DESC, id DESC');
    }
    // The tie-break follows the last key only.
    expect(orderText([{ property: 'expiresAt', isAscending: false }, { property: 'createdAt', isAscending: false }], SQLITE_DIALECT)).toBe('expires_at DESC, created_at DESC, id ASC');
  });
});

describe('x:ApiKey/query over dates that may be NULL (the running engine)', () => {
  let s: TestServer;
  const DAY = 86_400;
  const base = Date.UTC(2031, 0, 1) / 1000;
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
    const sign = ascending ? 1 : -1;
    return all.filter(([, e]) => keep(e))
      .sort((a, b) => sign * (rank(a[1]) - rank(b[1]) || order.indexOf(a[0]) - order.indexOf(b[0])))
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

  it('reads every expiry page off credentials_expires, filtered or not, in both directions, without a sort', async () => {
    const window: CredentialFilter = { operator: 'AND', conditions: [cond('expiresAt', 'gte', 1_900_100_000), cond('expiresAt', 'lt', 1_900_700_000)] };
    for (const filter of [window, null]) {
      for (const ascending of [true, false]) {
        const q = credentialQuery(1, 'apiKey', filter, [{ property: 'expiresAt', isAscending: ascending }], POSTGRES_DIALECT);
        const plan = (await client.query<{ 'QUERY PLAN': string }>(numbered(`EXPLAIN SELECT id FROM credentials WHERE ${q.where} ORDER BY ${q.order} LIMIT ? OFFSET ?`), [...q.params, 50, 0]))
          .rows.map((r) => r['QUERY PLAN']).join('\n');
        expect(plan, plan).toMatch(/Index (Only )?Scan (Backward )?using credentials_expires\b/);
        expect(plan.includes('Backward'), plan).toBe(!ascending);
        // No sort node at all, not even an incremental one (ties by id come in index order too).
        expect(plan, plan).not.toMatch(/Sort\b/);
      }
    }
  });

  it('expiry-ordered pages run on connections that keep one plan, and that kept plan is the same index walk', async () => {
    const window: CredentialFilter = { operator: 'AND', conditions: [cond('expiresAt', 'gte', 1_900_100_000), cond('expiresAt', 'lt', 1_900_700_000)] };
    // What those connections do with the statement: one generic plan for all values, never a sort.
    const kept = new pg.Client({ connectionString: s.storeEnv.JMAP_KEYS_DATABASE_URL, options: '-c plan_cache_mode=force_generic_plan' });
    await kept.connect();
    try {
      let n = 0;
      for (const filter of [window, null]) {
        for (const ascending of [true, false]) {
          const q = credentialQuery(1, 'apiKey', filter, [{ property: 'expiresAt', isAscending: ascending }], POSTGRES_DIALECT);
          const name = `kept_${n++}`;
          await kept.query(`PREPARE ${name} AS ${numbered(`SELECT id FROM credentials WHERE ${q.where} ORDER BY ${q.order} LIMIT ? OFFSET ?`)}`);
          const args = [...q.params, 50, 0].map((v) => (typeof v === 'string' ? `'${v}'` : String(v))).join(', ');
          const plan = (await kept.query<{ 'QUERY PLAN': string }>(`EXPLAIN EXECUTE ${name}(${args})`)).rows.map((r) => r['QUERY PLAN']).join('\n');
          expect(plan, plan).toMatch(/\$1/); // generic: the values are parameters in the plan
          expect(plan, plan).toMatch(/Index (Only )?Scan (Backward )?using credentials_expires\b/);
          expect(plan, plan).not.toMatch(/Sort\b/);
        }
      }
    } finally {
      await kept.end();
    }
    // The server sends such a page there (by application_name), and answers it as any other page.
    const res = await s.api(bearer(s.adminToken), [['x:ApiKey/query', {
      filter: { expiresAtIsGreaterThanOrEqual: utc(1_900_100_000), expiresAtIsLessThan: utc(1_900_700_000) },
      sort: [{ property: 'expiresAt' }], limit: 5,
    }, 'q']]);
    expect((res.body as ApiBody).methodResponses[0][1].ids).toHaveLength(5);
    const seen = await client.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1', [KEPT_PLANS_APPLICATION]);
    expect(Number(seen.rows[0]!.n)).toBeGreaterThan(0);
  });
});
