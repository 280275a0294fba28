import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { credentialQuery, filterText, numbered, orderText, POSTGRES_DIALECT, SQLITE_DIALECT } from '../../src/db/credential-query.js';
import type { CredentialFilter, DateCondition } from '../../src/db/store.js';

const cond = (field: DateCondition['field'], op: DateCondition['op'], value: number): CredentialFilter => ({ condition: { field, op, value } });
const render = (f: CredentialFilter) => {
  const params: number[] = [];
  return { text: filterText(f, params), params };
};

describe('filterText', () => {
  it('renders a condition as a comparison with a parameter, null-guarded under NOT only', () => {
    expect(render(cond('expiresAt', 'lt', 100))).toEqual({ text: '(expires_at < ?)', params: [100] });
    expect(render(cond('createdAt', 'eq', 5)).text).toBe('(created_at = ?)');
    expect(render({ operator: 'NOT', conditions: [cond('createdAt', 'eq', 5)] }).text).toBe('(NOT ((created_at IS NOT NULL AND created_at = ?)))');
    expect(render({ operator: 'AND', conditions: [{ operator: 'NOT', conditions: [{ operator: 'OR', conditions: [cond('expiresAt', 'lt', 1)] }] }, cond('createdAt', 'eq', 5)] }).text)
      .toBe('((NOT (((expires_at IS NOT NULL AND expires_at < ?)))) AND (created_at = ?))');
    expect(render(cond('createdAt', 'gt', 5)).text).toContain('created_at > ?');
    expect(render(cond('createdAt', 'gte', 5)).text).toContain('created_at >= ?');
    expect(render(cond('createdAt', 'lte', 5)).text).toContain('created_at <= ?');
  });

  it('renders AND, OR and NOT (NOT = none of the conditions, RFC 8620 §5.5)', () => {
    const a = cond('createdAt', 'gt', 1);
    const b = cond('expiresAt', 'lt', 2);
    const ca = '(created_at > ?)';
    const cb = '(expires_at < ?)';
    expect(render({ operator: 'AND', conditions: [a, b] })).toEqual({ text: `(${ca} AND ${cb})`, params: [1, 2] });
    expect(render({ operator: 'OR', conditions: [a, b] }).text).toBe(`(${ca} OR ${cb})`);
    expect(render({ operator: 'NOT', conditions: [a, b] }).text)
      .toBe('(NOT ((created_at IS NOT NULL AND created_at > ?) OR (expires_at IS NOT NULL AND expires_at < ?)))');
  });

  it('empty operators: AND is true, OR is false, NOT is true', () => {
    expect(render({ operator: 'AND', conditions: [] })).toEqual({ text: '(1 = 1)', params: [] });
    expect(render({ operator: 'OR', conditions: [] })).toEqual({ text: '(1 = 0)', params: [] });
    expect(render({ operator: 'NOT', conditions: [] })).toEqual({ text: '(NOT (1 = 0))', params: [] });
  });

  it('pushes parameters in the order their placeholders appear, through nesting', () => {
    const f: CredentialFilter = {
      operator: 'OR',
      conditions: [
        { operator: 'AND', conditions: [cond('createdAt', 'gt', 1), cond('createdAt', 'lt', 2)] },
        { operator: 'NOT', conditions: [cond('expiresAt', 'eq', 3)] },
        cond('expiresAt', 'gte', 4),
      ],
    };
    const { text, params } = render(f);
    expect(params).toEqual([1, 2, 3, 4]);
    expect(text.split('?').length - 1).toBe(4);
  });

  it('the text depends only on the shape, never on the values (statements can be cached by it)', () => {
    expect(render(cond('expiresAt', 'lt', 1)).text).toBe(render(cond('expiresAt', 'lt', 999_999)).text);
  });
});

describe('orderText', () => {
  it('breaks ties by id ascending, also with no sort', () => {
    expect(orderText([], SQLITE_DIALECT)).toBe('id ASC');
    expect(orderText([{ property: 'createdAt', isAscending: false }], SQLITE_DIALECT)).toBe('created_at DESC, id ASC');
    expect(orderText([{ property: 'expiresAt', isAscending: true }, { property: 'createdAt', isAscending: true }], SQLITE_DIALECT))
      .toBe('expires_at ASC, created_at ASC, id ASC');
  });

  it('stops at id: it is unique, so later keys cannot matter', () => {
    expect(orderText([{ property: 'id', isAscending: false }], SQLITE_DIALECT)).toBe('id DESC');
    expect(orderText([{ property: 'id', isAscending: true }, { property: 'createdAt', isAscending: true }], SQLITE_DIALECT)).toBe('id ASC');
  });

  it('sorts description caselessly by default and by bytes for i;octet, in each dialect', () => {
    const caseless = [{ property: 'description' as const, isAscending: true }];
    const octet = [{ property: 'description' as const, isAscending: false, caseSensitive: true }];
    expect(orderText(caseless, SQLITE_DIALECT)).toBe('description COLLATE NOCASE ASC, id ASC');
    expect(orderText(octet, SQLITE_DIALECT)).toBe('description DESC, id ASC');
    expect(orderText(caseless, POSTGRES_DIALECT)).toBe(`translate(description, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') COLLATE "C" ASC, id ASC`);
    expect(orderText(octet, POSTGRES_DIALECT)).toBe('description COLLATE "C" DESC, id ASC');
  });
});

describe('credentialQuery', () => {
  it('scopes to the account and kind first; the filter\'s dates follow in order', () => {
    const q = credentialQuery(7, 'apiKey', { operator: 'AND', conditions: [cond('createdAt', 'gt', 10), cond('expiresAt', 'lt', 20)] }, [], SQLITE_DIALECT);
    expect(q.where).toBe('account_id = ? AND kind = ? AND ((created_at > ?) AND (expires_at < ?))');
    expect(q.params).toEqual([7, 'apiKey', 10, 20]);
    expect(q.order).toBe('id ASC');
  });

  it('without a filter has only the account and kind', () => {
    expect(credentialQuery(1, 'appPassword', null, [], SQLITE_DIALECT)).toEqual({ where: 'account_id = ? AND kind = ?', order: 'id ASC', params: [1, 'appPassword'] });
  });
});

describe('numbered', () => {
  it('numbers placeholders for PostgreSQL in order', () => {
    expect(numbered('a = ? AND b = ? AND (c > ?)')).toBe('a = $1 AND b = $2 AND (c > $3)');
    expect(numbered('1 = 1')).toBe('1 = 1');
  });
});

describe('the rendered SQL on a real SQLite database', () => {
  // Rows: id, account, created_at, expires_at (null = never), description.
  const rows: [number, number, number, number | null, string][] = [
    [1, 1, 100, null, 'beta'],
    [2, 1, 200, 500, 'Alpha'],
    [3, 1, 300, 150, 'alpha'],
    [4, 2, 100, null, 'other account'],
    [5, 1, 200, null, 'Beta'],
  ];
  const db = new Database(':memory:');
  db.exec('CREATE TABLE credentials (id INTEGER PRIMARY KEY, account_id INTEGER, kind TEXT, created_at INTEGER, expires_at INTEGER, description TEXT)');
  const insert = db.prepare('INSERT INTO credentials VALUES (?, ?, ?, ?, ?, ?)');
  for (const [id, account, created, expires, description] of rows) insert.run(id, account, 'apiKey', created, expires, description);
  const ids = (filter: CredentialFilter | null, sort: Parameters<typeof credentialQuery>[3] = []) => {
    const q = credentialQuery(1, 'apiKey', filter, sort, SQLITE_DIALECT);
    return db.prepare(`SELECT id FROM credentials WHERE ${q.where} ORDER BY ${q.order}`).pluck().all(...q.params);
  };

  it('a null date matches no condition, and NOT over it is true (no three-valued surprise)', () => {
    expect(ids(cond('expiresAt', 'lt', 1000))).toEqual([2, 3]);
    expect(ids({ operator: 'NOT', conditions: [cond('expiresAt', 'lt', 1000)] })).toEqual([1, 5]);
  });

  it('AND, OR, NOT and their empty forms select the right rows of the account only', () => {
    expect(ids(null)).toEqual([1, 2, 3, 5]);
    expect(ids({ operator: 'AND', conditions: [] })).toEqual([1, 2, 3, 5]);
    expect(ids({ operator: 'OR', conditions: [] })).toEqual([]);
    expect(ids({ operator: 'NOT', conditions: [] })).toEqual([1, 2, 3, 5]);
    expect(ids({ operator: 'AND', conditions: [cond('createdAt', 'gte', 200), cond('expiresAt', 'gt', 100)] })).toEqual([2, 3]);
    expect(ids({ operator: 'OR', conditions: [cond('createdAt', 'eq', 100), cond('expiresAt', 'eq', 150)] })).toEqual([1, 3]);
    expect(ids({ operator: 'NOT', conditions: [cond('createdAt', 'eq', 100), cond('expiresAt', 'eq', 150)] })).toEqual([2, 5]);
  });

  it('sorts description caselessly with ties by id, or by bytes', () => {
    expect(ids(null, [{ property: 'description', isAscending: true }])).toEqual([2, 3, 1, 5]);
    expect(ids(null, [{ property: 'description', isAscending: true, caseSensitive: true }])).toEqual([2, 5, 3, 1]);
    expect(ids(null, [{ property: 'createdAt', isAscending: false }])).toEqual([3, 2, 5, 1]);
  });
});
