import type { CredentialFilter, CredentialSort } from './store.js';

/**
 * The one renderer of credential /query filters and sorts into SQL, for every engine. The text depends only on the
 * filter's shape and the sort (so engines can cache compiled statements by it); dates are `?` parameters.
 */
export interface SqlDialect {
  /** ORDER BY term for the description under i;ascii-casemap (the default collation). */
  caseless(column: string, direction: 'ASC' | 'DESC'): string;
  /** ORDER BY term for the description under i;octet (byte order). */
  octet(column: string, direction: 'ASC' | 'DESC'): string;
  /** ORDER BY term for a column that may hold NULL (expires_at): NULL sorts below every value, as in SQLite. */
  nullable(column: string, direction: 'ASC' | 'DESC'): string;
}

export const SQLITE_DIALECT: SqlDialect = {
  caseless: (col, dir) => `${col} COLLATE NOCASE ${dir}`,
  octet: (col, dir) => `${col} ${dir}`,
  nullable: (col, dir) => `${col} ${dir}`,
};

/** SQLite's NOCASE folds ASCII letters only; lower() would also fold others under a non-C database locale. */
const ASCII_FOLD = (col: string) => `translate(${col}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') COLLATE "C"`;

export const POSTGRES_DIALECT: SqlDialect = {
  // The same expression as the credentials_description index (drizzle/pg/0000_init.sql), so it can serve the sort.
  caseless: (col, dir) => `${ASCII_FOLD(col)} ${dir}`,
  octet: (col, dir) => `${col} COLLATE "C" ${dir}`,
  // PostgreSQL puts NULL above every value by default (last ascending): SQLite's order is the other way round. Spelled
  // out always, filtered or not: credentials_expires is (…, expires_at NULLS FIRST, id) (drizzle/pg/0010), so with
  // orderText's tie-break both directions are index orders.
  nullable: (col, dir) => `${col} ${dir} NULLS ${dir === 'ASC' ? 'FIRST' : 'LAST'}`,
};

const DATE_COLUMN = { expiresAt: 'expires_at', createdAt: 'created_at' } as const;
const OPERATOR = { eq: '=', gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;
const SORT_COLUMN = { id: 'id', createdAt: 'created_at', expiresAt: 'expires_at', description: 'description' } as const;
/** Sort properties whose column may hold NULL. */
const NULLABLE = new Set<CredentialSort['property']>(['expiresAt']);

/**
 * A WHERE fragment; a null date matches no condition, so NOT over it is true (no three-valued surprise). Only under
 * a NOT does a comparison need its `IS NOT NULL` guard: without one above, a comparison with NULL (unknown) rejects
 * the row exactly as false would, and the guard costs a test per row (a count over a 37k-row window took ~0.6 × the
 * time without it, bench/notes-perfread.md).
 */
export function filterText(filter: CredentialFilter, params: number[], negated = false): string {
  if ('condition' in filter) {
    const { field, op, value } = filter.condition;
    const col = DATE_COLUMN[field];
    params.push(value);
    return negated ? `(${col} IS NOT NULL AND ${col} ${OPERATOR[op]} ?)` : `(${col} ${OPERATOR[op]} ?)`;
  }
  const parts = filter.conditions.map((f) => filterText(f, params, negated || filter.operator === 'NOT'));
  if (filter.operator === 'AND') return parts.length ? `(${parts.join(' AND ')})` : '(1 = 1)';
  const any = parts.length ? `(${parts.join(' OR ')})` : '(1 = 0)';
  return filter.operator === 'OR' ? any : `(NOT ${any})`;
}

/**
 * An ORDER BY list; ties are broken by id, so pages are stable between calls: ascending, except after a descending
 * expiresAt, where it is descending. That makes an expiry sort one index order on both engines (read backwards for
 * DESC): SQLite's credentials_expires holds the rowid (= id), PostgreSQL's ends in id (drizzle/pg/0010). With
 * `id ASC` there PostgreSQL had to re-sort each run of equal dates (and on an unfiltered page, every key).
 */
export function orderText(sort: readonly CredentialSort[], dialect: SqlDialect): string {
  const out: string[] = [];
  let tie: 'ASC' | 'DESC' = 'ASC';
  for (const key of sort) {
    const dir = key.isAscending ? 'ASC' : 'DESC';
    if (key.property === 'description') out.push(key.caseSensitive ? dialect.octet('description', dir) : dialect.caseless('description', dir));
    else if (NULLABLE.has(key.property)) out.push(dialect.nullable(SORT_COLUMN[key.property], dir));
    else out.push(`${SORT_COLUMN[key.property]} ${dir}`);
    if (key.property === 'id') return out.join(', ');
    tie = key.property === 'expiresAt' ? dir : 'ASC';
  }
  out.push(`id ${tie}`);
  return out.join(', ');
}

export interface CredentialQuery {
  /** `account_id = ? AND kind = ?` plus the filter. */
  where: string;
  order: string;
  /** accountId, kind, then the filter's dates. */
  params: (number | string)[];
}

export function credentialQuery(accountId: number, kind: string, filter: CredentialFilter | null, sort: readonly CredentialSort[], dialect: SqlDialect): CredentialQuery {
  const dates: number[] = [];
  const where = `account_id = ? AND kind = ?${filter ? ` AND ${filterText(filter, dates)}` : ''}`;
  return { where, order: orderText(sort, dialect), params: [accountId, kind, ...dates] };
}

/** `?` placeholders as PostgreSQL's `$1, $2, …` (the rendered text holds no other question mark). */
export function numbered(text: string): string {
  let n = 0;
  return text.replace(/\?/g, () => `$${++n}`);
}
