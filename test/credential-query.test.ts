import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { credentialQuery, numbered, orderText, POSTGRES_DIALECT, SQLITE_DIALECT } from '../src/db/credential-query.js';
import type { CredentialSort } from '../src/db/store.js';

const byExpiry = (isAscending: boolean): CredentialSort[] => [{ property: 'expiresAt', isAscending }];

describe('credential /query renderer', () => {
  it('keeps the SQLite text as it was (its statement cache is keyed by it), ties after a descending expiry by id descending', () => {
    expect(orderText(byExpiry(true), SQLITE_DIALECT)).toBe('expires_at ASC, id ASC');
    expect(orderText(byExpiry(false), SQLITE_DIALECT)).toBe('expires_at DESC, id DESC');
    expect(orderText([{ property: 'description', isAscending: false }, { property: 'createdAt', isAscending: true }], SQLITE_DIALECT))
      .toBe('description COLLATE NOCASE DESC, created_at ASC, id ASC');
  });

  it('gives PostgreSQL SQLite\'s NULL placement for expiry dates: below every date', () => {
    expect(orderText(byExpiry(true), POSTGRES_DIALECT)).toBe('expires_at ASC NULLS FIRST, id ASC');
    expect(orderText(byExpiry(false), POSTGRES_DIALECT)).toBe('expires_at DESC NULLS LAST, id DESC');
    expect(orderText([{ property: 'createdAt', isAscending: true }], POSTGRES_DIALECT)).toBe('created_at ASC, id ASC');
  });

  it('folds ASCII letters only on PostgreSQL, with the expression its description index holds', () => {
    const order = orderText([{ property: 'description', isAscending: true }], POSTGRES_DIALECT);
    expect(order).not.toMatch(/lower\(/);
    const term = order.replace(/ ASC, id ASC$/, '');
    const index = readFileSync(new URL('../drizzle/pg/0000_init.sql', import.meta.url), 'utf8');
    expect(index.replaceAll('"description"', 'description')).toContain(`(${term})`);
  });

  it('numbers the placeholders of one statement for PostgreSQL', () => {
    const q = credentialQuery(7, 'apiKey', { operator: 'OR', conditions: [{ condition: { field: 'createdAt', op: 'lt', value: 5 } }] }, byExpiry(true), POSTGRES_DIALECT);
    expect(numbered(`SELECT id FROM credentials WHERE ${q.where} ORDER BY ${q.order} LIMIT ? OFFSET ?`))
      .toBe('SELECT id FROM credentials WHERE account_id = $1 AND kind = $2 AND ((created_at < $3)) ORDER BY expires_at ASC NULLS FIRST, id ASC LIMIT $4 OFFSET $5');
    expect(q.params).toEqual([7, 'apiKey', 5]);
  });
});
