import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { and, asc, count, desc, eq, gt, gte, inArray, isNotNull, lt, lte, max, not, or, sql, type SQL } from 'drizzle-orm';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import * as schema from './schema.js';
import { sqliteFailure, StoreUnavailableError } from './errors.js';
import type {
  AccountRow, AuditFilter, AuditRow, AuditType, ChangeRow, CredentialChanges, CredentialFilter, CredentialKind, CredentialRow,
  CredentialSort, NewAuditEvent, NewCredential, Store,
} from './store.js';

const { accounts, credentials, changes } = schema;
const MIGRATIONS = resolve(dirname(fileURLToPath(import.meta.url)), '../../drizzle');

type Db = BetterSQLite3Database<typeof schema>;
type RawCredential = typeof credentials.$inferSelect;

function toRow(r: RawCredential): CredentialRow {
  return {
    ...r,
    permissions: JSON.parse(r.permissions) as string[],
    allowedIps: JSON.parse(r.allowedIps) as string[],
    scopes: r.scopes === null ? null : (JSON.parse(r.scopes) as string[]),
  };
}

const dateColumn = { expiresAt: credentials.expiresAt, createdAt: credentials.createdAt } as const;

function filterSql(filter: CredentialFilter): SQL {
  if ('condition' in filter) {
    const { field, op, value } = filter.condition;
    const col = dateColumn[field];
    const cmp = { eq, gt, gte, lt, lte }[op](col, value);
    // A null date matches no condition, so NOT over it is true (no SQL three-valued surprise).
    return and(isNotNull(col), cmp) as SQL;
  }
  const parts = filter.conditions.map(filterSql);
  if (filter.operator === 'AND') return parts.length ? (and(...parts) as SQL) : sql`1`;
  const any = parts.length ? (or(...parts) as SQL) : sql`0`;
  return filter.operator === 'OR' ? any : not(any);
}

function orderSql(sort: readonly CredentialSort[]): SQL[] {
  const out: SQL[] = [];
  for (const key of sort) {
    const dir = key.isAscending ? asc : desc;
    if (key.property === 'description' && !key.caseSensitive) out.push(key.isAscending ? sql`${credentials.description} COLLATE NOCASE ASC` : sql`${credentials.description} COLLATE NOCASE DESC`);
    else out.push(dir(credentials[key.property]));
    if (key.property === 'id') return out;
  }
  out.push(asc(credentials.id)); // ties in creation order, stable between calls
  return out;
}

// /query pages in plain SQL: the filter's shape and the sort make the text, the dates are parameters, and the
// compiled statement is reused (drizzle's builder and SQLite's prepare cost more than the indexed page read).
const DATE_SQL = { expiresAt: 'expires_at', createdAt: 'created_at' } as const;
const OP_SQL = { eq: '=', gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;
const SORT_SQL = { id: 'id', createdAt: 'created_at', expiresAt: 'expires_at', description: 'description' } as const;

function filterText(filter: CredentialFilter, params: number[]): string {
  if ('condition' in filter) {
    const { field, op, value } = filter.condition;
    const col = DATE_SQL[field];
    params.push(value);
    // Same meaning as filterSql: a null date matches no condition.
    return `(${col} IS NOT NULL AND ${col} ${OP_SQL[op]} ?)`;
  }
  const parts = filter.conditions.map((f) => filterText(f, params));
  if (filter.operator === 'AND') return parts.length ? `(${parts.join(' AND ')})` : '1';
  const any = parts.length ? `(${parts.join(' OR ')})` : '0';
  return filter.operator === 'OR' ? any : `(NOT ${any})`;
}

/** Same order as orderSql. */
function orderText(sort: readonly CredentialSort[]): string {
  const out: string[] = [];
  for (const key of sort) {
    const dir = key.isAscending ? 'ASC' : 'DESC';
    if (key.property === 'description' && !key.caseSensitive) out.push(`description COLLATE NOCASE ${dir}`);
    else out.push(`${SORT_SQL[key.property]} ${dir}`);
    if (key.property === 'id') return out.join(', ');
  }
  out.push('id ASC');
  return out.join(', ');
}

const MAX_CACHED_STATEMENTS = 256;
const MAX_CACHED_STATES = 10_000;

export interface SqliteOptions {
  /**
   * FULL (default): an acknowledged write survives power loss (WAL fsynced on every commit). NORMAL: faster
   * commits, but the last transactions before a power cut may be lost (never on a process crash).
   */
  synchronous?: 'FULL' | 'NORMAL';
}

/** The reason in words, for messages that name the path. */
const FAILURE_WORDS = {
  busy: 'the database is locked by another process', readonly: 'it is read-only for this user',
  full: 'the disk is full', io: 'an I/O error occurred', cantopen: 'it cannot be opened',
} as const;

/** Turns SQLite's errors that mean "not now" into the neutral StoreUnavailableError; others pass through. */
function unavailable(err: unknown, file: string): unknown {
  if (err instanceof StoreUnavailableError) return err;
  const reason = sqliteFailure(err);
  if (!reason) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new StoreUnavailableError(reason, `database ${resolve(file)}: ${FAILURE_WORDS[reason]} (${detail})`, { cause: err });
}

/**
 * Opens (creating the folder if needed), switches to WAL and applies pending migrations from drizzle/. A folder or
 * file that cannot be used throws StoreUnavailableError naming the path and the reason.
 */
export function openSqliteStore(file: string, options: SqliteOptions = {}): Store {
  let client: Database.Database | undefined;
  try {
    if (file !== ':memory:') {
      try {
        mkdirSync(dirname(resolve(file)), { recursive: true });
      } catch (err) {
        const detail = err instanceof Error ? err.message : String(err);
        throw new StoreUnavailableError('cantopen', `cannot create the data folder ${dirname(resolve(file))}: ${detail}`, { cause: err });
      }
    }
    client = new Database(file);
    client.pragma('journal_mode = WAL');
    client.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
    client.pragma('foreign_keys = ON');
    client.pragma('busy_timeout = 5000');
    const db: Db = drizzle(client, { schema });
    migrate(db, { migrationsFolder: MIGRATIONS });
    return guarded(new SqliteStore(db, client), file);
  } catch (err) {
    client?.close();
    throw unavailable(err, file);
  }
}

/**
 * Every Store method, with SQLite's busy/read-only/full/I-O errors rethrown as StoreUnavailableError (so callers
 * need not know the engine). Nested calls (a write inside transaction()) convert once.
 */
function guarded(store: SqliteStore, file: string): Store {
  const out: Record<string, unknown> = {};
  for (const name of Object.getOwnPropertyNames(SqliteStore.prototype)) {
    const method = (store as unknown as Record<string, unknown>)[name];
    if (name === 'constructor' || typeof method !== 'function') continue;
    const fn = method.bind(store) as (...args: unknown[]) => unknown;
    out[name] = (...args: unknown[]) => {
      try {
        return fn(...args);
      } catch (err) {
        throw unavailable(err, file);
      }
    };
  }
  return out as unknown as Store;
}

interface RawAudit {
  id: number; at: number; type: string; account_id: number | null; credential_id: number | null; credential_kind: string | null;
  actor_account_id: number | null; actor_credential_id: number | null; client_address: string | null; via: string; details: string;
}

function toAudit(r: RawAudit): AuditRow {
  return {
    id: r.id, at: r.at, type: r.type as AuditType, accountId: r.account_id, credentialId: r.credential_id,
    credentialKind: r.credential_kind as CredentialKind | null, actorAccountId: r.actor_account_id,
    actorCredentialId: r.actor_credential_id, clientAddress: r.client_address, via: r.via,
    details: JSON.parse(r.details) as Record<string, unknown>,
  };
}

/** WHERE text and parameters of an audit filter (portable SQL). */
function auditWhere(f: AuditFilter): { text: string; params: (string | number)[] } {
  const parts: string[] = ['1 = 1'];
  const params: (string | number)[] = [];
  if (f.accountId !== null) { parts.push('account_id = ?'); params.push(f.accountId); }
  if (f.credentialId !== undefined) { parts.push('credential_id = ?'); params.push(f.credentialId); }
  if (f.types !== undefined) {
    parts.push(f.types.length === 0 ? '1 = 0' : `type IN (${f.types.map(() => '?').join(', ')})`);
    params.push(...f.types);
  }
  if (f.after !== undefined) { parts.push('at >= ?'); params.push(f.after); }
  if (f.before !== undefined) { parts.push('at < ?'); params.push(f.before); }
  return { text: parts.join(' AND '), params };
}

class SqliteStore implements Store {
  // The statements of every authenticated request, built and compiled once (drizzle's builder and SQLite's
  // prepare cost more than the lookups themselves).
  private readonly byLocator;
  private readonly stateStmt;
  private readonly accountByIdStmt;
  private readonly accountByLoginStmt;
  private readonly credentialByIdStmt;
  private readonly credentialsStmt;
  private readonly countStmt;
  private readonly insertStmt;
  /**
   * Row + change-log entry as one unit (a savepoint inside /set's transaction). better-sqlite3's transaction
   * function is built once: drizzle's db.transaction() builds one per call, 8 µs against 2 µs per created key.
   */
  private readonly insertTx: Database.Transaction<(c: NewCredential) => CredentialRow>;
  private readonly logStmt;
  /** /query statements by SQL text. */
  private readonly statements = new Map<string, Database.Statement>();
  private readonly dataVersionStmt;
  private auditInsert: Database.Statement | undefined;
  private generation = 0;
  private seenDataVersion = -1;
  private foreignChecked = false;
  private readonly states = new Map<string, { version: number; seq: number }>();

  constructor(private readonly db: Db, private readonly client: Database.Database) {
    this.byLocator = db.select().from(credentials).where(eq(credentials.locator, sql.placeholder('locator'))).prepare();
    this.accountByIdStmt = db.select().from(accounts).where(eq(accounts.id, sql.placeholder('id'))).prepare();
    this.accountByLoginStmt = db.select().from(accounts).where(eq(accounts.login, sql.placeholder('login'))).prepare();
    this.credentialByIdStmt = db.select().from(credentials).where(and(eq(credentials.id, sql.placeholder('id')),
      eq(credentials.accountId, sql.placeholder('accountId')), eq(credentials.kind, sql.placeholder('kind')))).prepare();
    const p = (name: string) => sql.placeholder(name);
    this.insertStmt = db.insert(credentials).values({
      accountId: p('accountId'), kind: p('kind'), description: p('description'), locator: p('locator'), secretHash: p('secretHash'),
      createdAt: p('createdAt'), expiresAt: p('expiresAt'), permissionsMode: p('permissionsMode'), permissions: p('permissions'),
      allowedIps: p('allowedIps'), scopes: p('scopes'), platform: p('platform'), deviceId: p('deviceId'),
    }).prepare();
    this.logStmt = db.insert(changes).values({ accountId: p('accountId'), kind: p('kind'), recordId: p('recordId'), op: p('op') }).prepare();
    this.insertTx = client.transaction((c: NewCredential): CredentialRow => {
      // No RETURNING: the row is what was given plus its id (no column has a default the input lacks), and
      // reading it back cost a tenth of a 500-key /set.
      const { lastInsertRowid } = this.insertStmt.run({
        ...c,
        permissions: JSON.stringify(c.permissions),
        allowedIps: JSON.stringify(c.allowedIps),
        scopes: c.scopes === null ? null : JSON.stringify(c.scopes),
      });
      const id = Number(lastInsertRowid);
      this.log(c.accountId, c.kind, id, 'created');
      return { ...c, id, lastUsedAt: null };
    });
    this.credentialsStmt = db.select().from(credentials)
      .where(and(eq(credentials.accountId, sql.placeholder('accountId')), eq(credentials.kind, sql.placeholder('kind'))))
      .orderBy(asc(credentials.id)).prepare();
    // Maintained by triggers on credentials (drizzle/0001_credential_counts.sql): O(1) instead of an index scan.
    this.countStmt = client.prepare('SELECT n FROM credential_counts WHERE account_id = ? AND kind = ?').pluck();
    // Changes when another connection (another process) commits: the cheapest complete test for foreign writes.
    this.dataVersionStmt = client.prepare('PRAGMA data_version').pluck();
    this.stateStmt = db.select({ seq: max(changes.seq) }).from(changes)
      .where(and(eq(changes.accountId, sql.placeholder('accountId')), eq(changes.kind, sql.placeholder('kind')))).prepare();
  }

  transaction<T>(fn: () => T): T {
    return this.rollbackAware(() => this.db.transaction(() => fn(), { behavior: 'immediate' }));
  }

  /** Runs a transaction; when it (or a savepoint) rolls back, what was read inside it may be gone: new version. */
  private rollbackAware<T>(run: () => T): T {
    try {
      return run();
    } catch (err) {
      this.changed();
      throw err;
    }
  }

  close(): void {
    this.client.close();
  }

  version(): number {
    // Once per event-loop turn: the requests handled in one turn arrived together, and the pragma takes SQLite's
    // shared-memory read lock (two fcntl calls), which costs more than the rest of a cached credential check.
    if (!this.foreignChecked) {
      this.foreignChecked = true;
      setImmediate(() => { this.foreignChecked = false; });
      const foreign = this.dataVersionStmt.get() as number;
      if (foreign !== this.seenDataVersion) {
        this.seenDataVersion = foreign;
        this.generation++;
      }
    }
    return this.generation;
  }

  /** Our own writes: bumped before they commit, so nothing read after them is cached under an older version. */
  private changed(): void {
    this.generation++;
  }

  countAccounts(): number {
    return this.db.select({ n: count() }).from(accounts).get()?.n ?? 0;
  }

  accountById(id: number): AccountRow | undefined {
    return this.accountByIdStmt.get({ id });
  }

  accountByLogin(login: string): AccountRow | undefined {
    return this.accountByLoginStmt.get({ login });
  }

  listAccounts(): AccountRow[] {
    return this.db.select().from(accounts).orderBy(asc(accounts.id)).all();
  }

  createAccount(account: Omit<AccountRow, 'id'>): AccountRow {
    this.changed();
    return this.db.insert(accounts).values(account).returning().get();
  }

  setAccountPassword(id: number, passwordHash: string): boolean {
    this.changed();
    return this.db.update(accounts).set({ passwordHash }).where(eq(accounts.id, id)).run().changes > 0;
  }

  deleteAccount(id: number): boolean {
    this.changed();
    return this.db.delete(accounts).where(eq(accounts.id, id)).run().changes > 0;
  }

  credentialByLocator(locator: string): CredentialRow | undefined {
    const r = this.byLocator.get({ locator });
    return r ? toRow(r) : undefined;
  }

  credentials(accountId: number, kind: CredentialKind, ids: readonly number[] | null): CredentialRow[] {
    if (ids === null) return this.credentialsStmt.all({ accountId, kind }).map(toRow);
    if (ids.length === 1) {
      const r = this.credentialByIdStmt.get({ id: ids[0], accountId, kind });
      return r ? [toRow(r)] : [];
    }
    return this.db.select().from(credentials)
      .where(and(eq(credentials.accountId, accountId), eq(credentials.kind, kind), inArray(credentials.id, [...ids])))
      .orderBy(asc(credentials.id)).all().map(toRow);
  }

  countCredentials(accountId: number, kind: CredentialKind): number {
    return (this.countStmt.get(accountId, kind) as number | undefined) ?? 0;
  }

  private log(accountId: number, kind: CredentialKind, recordId: number, op: ChangeRow['op']): void {
    this.logStmt.run({ accountId, kind, recordId, op });
  }

  insertCredential(c: NewCredential): CredentialRow {
    this.changed();
    return this.rollbackAware(() => this.insertTx.immediate(c));
  }

  updateCredential(accountId: number, kind: CredentialKind, id: number, ch: CredentialChanges): boolean {
    this.changed();
    return this.transaction(() => {
      const set: Partial<RawCredential> = {};
      if (ch.description !== undefined) set.description = ch.description;
      if (ch.expiresAt !== undefined) set.expiresAt = ch.expiresAt;
      if (ch.permissionsMode !== undefined) set.permissionsMode = ch.permissionsMode;
      if (ch.permissions !== undefined) set.permissions = JSON.stringify(ch.permissions);
      if (ch.allowedIps !== undefined) set.allowedIps = JSON.stringify(ch.allowedIps);
      if (ch.scopes !== undefined) set.scopes = ch.scopes === null ? null : JSON.stringify(ch.scopes);
      if (Object.keys(set).length === 0) return true;
      const done = this.db.update(credentials).set(set)
        .where(and(eq(credentials.id, id), eq(credentials.accountId, accountId), eq(credentials.kind, kind))).run().changes > 0;
      if (done) this.log(accountId, kind, id, 'updated');
      return done;
    });
  }

  deleteCredential(accountId: number, kind: CredentialKind, id: number): boolean {
    this.changed();
    return this.transaction(() => {
      const done = this.db.delete(credentials)
        .where(and(eq(credentials.id, id), eq(credentials.accountId, accountId), eq(credentials.kind, kind))).run().changes > 0;
      if (done) this.log(accountId, kind, id, 'destroyed');
      return done;
    });
  }

  touchLastUsed(uses: ReadonlyMap<number, number>): void {
    if (uses.size === 0) return;
    this.transaction(() => {
      for (const [id, at] of uses) this.db.update(credentials).set({ lastUsedAt: at }).where(eq(credentials.id, id)).run();
    });
  }

  state(accountId: number, kind: CredentialKind): number {
    // Asked by every /get, /query and /set; it can only move with a write, i.e. with version().
    const version = this.version();
    const key = `${accountId}:${kind}`;
    const cached = this.states.get(key);
    if (cached?.version === version) return cached.seq;
    const seq = this.stateStmt.get({ accountId, kind })?.seq ?? 0;
    if (this.states.size >= MAX_CACHED_STATES) this.states.clear();
    this.states.set(key, { version, seq });
    return seq;
  }

  maxSeq(): number {
    return this.db.select({ seq: max(changes.seq) }).from(changes).get()?.seq ?? 0;
  }

  changesSince(accountId: number, kind: CredentialKind, seq: number, maxRows: number): ChangeRow[] {
    return this.db.select({ seq: changes.seq, recordId: changes.recordId, op: changes.op }).from(changes)
      .where(and(eq(changes.accountId, accountId), eq(changes.kind, kind), gt(changes.seq, seq)))
      .orderBy(asc(changes.seq)).limit(maxRows).all();
  }

  private scope(accountId: number, kind: CredentialKind, filter: CredentialFilter | null): SQL {
    const base = and(eq(credentials.accountId, accountId), eq(credentials.kind, kind)) as SQL;
    return filter ? (and(base, filterSql(filter)) as SQL) : base;
  }

  queryCount(accountId: number, kind: CredentialKind, filter: CredentialFilter | null): number {
    return this.db.select({ n: count() }).from(credentials).where(this.scope(accountId, kind, filter)).get()?.n ?? 0;
  }

  queryIndexOf(accountId: number, kind: CredentialKind, filter: CredentialFilter | null, sort: readonly CredentialSort[], id: number): number | undefined {
    const ranked = this.db.select({
      id: credentials.id,
      rn: sql<number>`row_number() over (order by ${sql.join(orderSql(sort), sql`, `)}) - 1`.as('rn'),
    }).from(credentials).where(this.scope(accountId, kind, filter)).as('ranked');
    return this.db.select({ rn: ranked.rn }).from(ranked).where(eq(ranked.id, id)).get()?.rn;
  }

  queryPage(accountId: number, kind: CredentialKind, filter: CredentialFilter | null, sort: readonly CredentialSort[], offset: number, limit: number): number[] {
    const params: number[] = [];
    const where = filter ? ` AND ${filterText(filter, params)}` : '';
    const text = `SELECT id FROM credentials WHERE account_id = ? AND kind = ?${where} ORDER BY ${orderText(sort)} LIMIT ? OFFSET ?`;
    return this.cachedPluck(text).all(accountId, kind, ...params, limit, offset) as number[];
  }

  credentialTotals(): Record<CredentialKind, number> {
    const totals: Record<CredentialKind, number> = { apiKey: 0, appPassword: 0 };
    const rows = this.client.prepare('SELECT kind, SUM(n) AS n FROM credential_counts GROUP BY kind').all() as { kind: CredentialKind; n: number }[];
    for (const r of rows) totals[r.kind] = r.n;
    return totals;
  }

  getMeta(name: string): string | undefined {
    return (this.client.prepare('SELECT value FROM meta WHERE name = ?').pluck().get(name) as string | undefined);
  }

  setMeta(name: string, value: string): void {
    this.client.prepare('INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value').run(name, value);
  }

  appendAudit(e: NewAuditEvent): void {
    // Compiled once: a 500-create /set appends 500 events.
    this.auditInsert ??= this.client.prepare(`INSERT INTO audit_events (at, type, account_id, credential_id, credential_kind,
      actor_account_id, actor_credential_id, client_address, via, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.auditInsert.run(e.at, e.type, e.accountId, e.credentialId, e.credentialKind, e.actorAccountId, e.actorCredentialId, e.clientAddress, e.via, JSON.stringify(e.details));
  }

  auditByIds(filter: AuditFilter, ids: readonly number[]): AuditRow[] {
    if (ids.length === 0) return [];
    const { text, params } = auditWhere(filter);
    const rows = this.client.prepare(`SELECT * FROM audit_events WHERE ${text} AND id IN (${ids.map(() => '?').join(', ')}) ORDER BY id`)
      .all(...params, ...ids) as RawAudit[];
    return rows.map(toAudit);
  }

  countAudit(filter: AuditFilter): number {
    const { text, params } = auditWhere(filter);
    return this.client.prepare(`SELECT count(*) FROM audit_events WHERE ${text}`).pluck().get(...params) as number;
  }

  queryAudit(filter: AuditFilter, ascending: boolean, offset: number, limit: number): number[] {
    const { text, params } = auditWhere(filter);
    return this.client.prepare(`SELECT id FROM audit_events WHERE ${text} ORDER BY id ${ascending ? 'ASC' : 'DESC'} LIMIT ? OFFSET ?`)
      .pluck().all(...params, limit, offset) as number[];
  }

  auditIndexOf(filter: AuditFilter, ascending: boolean, id: number): number | undefined {
    if (this.auditByIds(filter, [id]).length === 0) return undefined;
    const { text, params } = auditWhere(filter);
    return this.client.prepare(`SELECT count(*) FROM audit_events WHERE ${text} AND id ${ascending ? '<' : '>'} ?`).pluck().get(...params, id) as number;
  }

  maxAuditId(filter: AuditFilter): number {
    const { text, params } = auditWhere(filter);
    return (this.client.prepare(`SELECT max(id) FROM audit_events WHERE ${text}`).pluck().get(...params) as number | null) ?? 0;
  }

  pruneAudit(before: number, max: number): number {
    return this.client.prepare('DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE at < ? ORDER BY id LIMIT ?)').run(before, max).changes;
  }

  backup(file: string): void {
    // VACUUM INTO reads one consistent snapshot (a read transaction) while other connections keep writing.
    this.client.prepare('VACUUM INTO ?').run(file);
  }

  /** A compiled single-column statement for this SQL text (a bounded cache: filters may take many shapes). */
  private cachedPluck(text: string): Database.Statement {
    let stmt = this.statements.get(text);
    if (!stmt) {
      if (this.statements.size >= MAX_CACHED_STATEMENTS) this.statements.clear();
      stmt = this.client.prepare(text).pluck();
      this.statements.set(text, stmt);
    }
    return stmt;
  }
}
