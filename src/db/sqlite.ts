import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { and, asc, count, eq, gt, inArray, lte, max, sql } from 'drizzle-orm';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { credentialQuery, SQLITE_DIALECT } from './credential-query.js';
import { credentialFromColumns, sameAccountAndKind } from './rows.js';
import { FALLBACK_AUTOCHECKPOINT, startCheckpointer, type Checkpointer } from './sqlite-checkpointer.js';
import * as schema from './schema.js';
import { sqliteFailure, StoreUnavailableError } from './errors.js';
import {
  OVER_QUOTA,
  type AccountRow, type AuditFilter, type AuditRow, type AuditType, type ChangeRow, type CredentialChanges, type CredentialFilter,
  type CredentialKind, type CredentialNote, type CredentialRow, type CredentialSort, type CredentialUse, type NewAuditEvent,
  type NewCredential, type NewWebhookDelivery, type Store, type StoreOps, type WebhookBacklog, type WebhookDelivery,
  type WebhookOutcome, type WebSessionRow,
} from './store.js';
import { CLAIM_COLUMNS, NOTE_ONCE, toBacklog, toWebhookDelivery, WEBHOOK_BACKLOG, type RawWebhookDelivery } from './webhook-sql.js';

const { accounts, credentials, changes, webSessions, windowCounters, oneTimeLinks } = schema;
const MIGRATIONS = resolve(dirname(fileURLToPath(import.meta.url)), '../../drizzle');

type Db = BetterSQLite3Database<typeof schema>;
type RawCredential = typeof credentials.$inferSelect;

const toRow = (r: RawCredential): CredentialRow => credentialFromColumns(r);

const MAX_CACHED_STATEMENTS = 256;
const MAX_CACHED_STATES = 10_000;

/** The synchronous form of the store's operations: better-sqlite3 answers at once. */
type SyncOps = { [K in keyof StoreOps]: StoreOps[K] extends (...args: infer A) => Promise<infer R> ? (...args: A) => R : never };
const OP_NAMES = [
  'countAccounts', 'accountById', 'accountByLogin', 'accountByEmail', 'listAccounts', 'createAccount', 'setAccountEmail',
  'setAccountPassword', 'deleteAccount',
  'credentialByLocator', 'credentials', 'countCredentials', 'insertCredential', 'insertCredentials', 'updateCredential', 'deleteCredential',
  'touchLastUsed', 'state', 'changesSince', 'queryCount', 'queryIndexOf', 'queryPage',
  'createWebSession', 'webSession', 'endWebSession', 'endAccountWebSessions', 'hitCounter', 'hitCounters', 'peekCounter', 'pruneCounters',
  'putOneTimeLink', 'peekOneTimeLink', 'takeOneTimeLink',
  'credentialTotals', 'getMeta', 'setMeta', 'appendAudit', 'auditByIds', 'countAudit', 'queryAudit', 'auditIndexOf', 'maxAuditId',
  'pruneAudit', 'auditAfter', 'enqueueWebhooks', 'claimWebhooks', 'settleWebhook', 'pruneWebhooks', 'webhookBacklog',
  'credentialsToWarn', 'noteOnce',
] as const satisfies readonly (keyof StoreOps)[];

export interface SqliteOptions {
  /**
   * FULL (default): an acknowledged write survives power loss (WAL fsynced on every commit). NORMAL: faster
   * commits, but the last transactions before a power cut may be lost (never on a process crash).
   */
  synchronous?: 'FULL' | 'NORMAL';
  /**
   * Checkpoint the WAL from a worker thread (the server: src/db/sqlite-checkpointer.ts says why) instead of inside
   * the commits; `onFailure` hears a checkpoint that failed. Left out (a bare store, the CLI's local commands): SQLite's own.
   */
  checkpoints?: { onFailure: (message: string) => void };
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

/** Creates a folder (and missing parents) readable by its owner only, whatever the umask. */
export function makePrivateDir(dir: string): void {
  const created = mkdirSync(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode is filtered by the umask (it can only remove bits): set it exactly on what was created here.
  if (created !== undefined) chmodSync(dir, 0o700);
}

/**
 * Opens (creating the folder if needed, readable by its owner only), switches to WAL and applies pending migrations
 * from drizzle/. A folder or file that cannot be used throws StoreUnavailableError naming the path and the reason.
 */
export function openSqliteStore(file: string, options: SqliteOptions = {}): Store {
  let client: Database.Database | undefined;
  try {
    if (file !== ':memory:') {
      try {
        makePrivateDir(dirname(resolve(file)));
        // Created 0600 before SQLite opens it; SQLite gives -wal and -shm the database file's mode.
        if (!existsSync(file)) closeSync(openSync(file, 'a', 0o600));
        chmodSync(file, 0o600);
      } catch (err) {
        const code = err instanceof Error && 'code' in err ? err.code : undefined;
        const detail = err instanceof Error ? err.message : String(err);
        // Not ours to change (another user's file or folder): SQLite says below whether it can be used at all.
        if (code === 'EPERM' && existsSync(file)) {
          // fall through
        } else if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
          throw new StoreUnavailableError('readonly', `database ${resolve(file)}: ${FAILURE_WORDS.readonly} (${detail})`, { cause: err });
        } else {
          throw new StoreUnavailableError('cantopen', `cannot create the database ${resolve(file)}: ${detail}`, { cause: err });
        }
      }
    }
    client = new Database(file);
    client.pragma('journal_mode = WAL');
    if (file !== ':memory:') {
      for (const extra of ['-wal', '-shm']) {
        try {
          if (existsSync(file + extra)) chmodSync(file + extra, 0o600);
        } catch {
          // another user's file: not ours to change
        }
      }
    }
    client.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
    client.pragma('foreign_keys = ON');
    client.pragma('busy_timeout = 5000');
    // Without the worker, wal_autocheckpoint stays at SQLite's 1,000 pages: 10,000 alone measured +20-60 % /set calls
    // on a loaded machine but none on a quiet one, and cost introspection 15-20 % CPU per request in the same runs
    // (a longer WAL to look pages up in; bench/README.md, round 4). With it, the WAL is copied every 100 ms.
    const db: Db = drizzle(client, { schema });
    migrate(db, { migrationsFolder: MIGRATIONS });
    let checkpointer: Checkpointer | undefined;
    if (options.checkpoints && file !== ':memory:') {
      client.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT}`);
      checkpointer = startCheckpointer(file, options.synchronous ?? 'FULL', options.checkpoints.onFailure);
    }
    return new SqliteStore(new SqliteOps(db, client), client, file, checkpointer);
  } catch (err) {
    client?.close();
    throw unavailable(err, file);
  }
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

/**
 * The async Store over the synchronous operations. One connection serves everything, so while a transaction is
 * open (it may await between its statements) calls from outside it wait for it to end instead of joining it.
 */
class SqliteStore implements Store {
  readonly engine = 'sqlite' as const;
  private open: Promise<void> | undefined;
  private readonly inside: StoreOps;
  // The StoreOps methods, assigned in the constructor from OP_NAMES.
  declare countAccounts: StoreOps['countAccounts'];
  declare accountById: StoreOps['accountById'];
  declare accountByLogin: StoreOps['accountByLogin'];
  declare accountByEmail: StoreOps['accountByEmail'];
  declare setAccountEmail: StoreOps['setAccountEmail'];
  declare listAccounts: StoreOps['listAccounts'];
  declare createAccount: StoreOps['createAccount'];
  declare setAccountPassword: StoreOps['setAccountPassword'];
  declare deleteAccount: StoreOps['deleteAccount'];
  declare credentialByLocator: StoreOps['credentialByLocator'];
  declare credentials: StoreOps['credentials'];
  declare countCredentials: StoreOps['countCredentials'];
  declare insertCredential: StoreOps['insertCredential'];
  declare insertCredentials: StoreOps['insertCredentials'];
  declare updateCredential: StoreOps['updateCredential'];
  declare deleteCredential: StoreOps['deleteCredential'];
  declare touchLastUsed: StoreOps['touchLastUsed'];
  declare state: StoreOps['state'];
  declare changesSince: StoreOps['changesSince'];
  declare queryCount: StoreOps['queryCount'];
  declare queryIndexOf: StoreOps['queryIndexOf'];
  declare queryPage: StoreOps['queryPage'];
  declare createWebSession: StoreOps['createWebSession'];
  declare webSession: StoreOps['webSession'];
  declare endWebSession: StoreOps['endWebSession'];
  declare endAccountWebSessions: StoreOps['endAccountWebSessions'];
  declare hitCounter: StoreOps['hitCounter'];
  declare hitCounters: StoreOps['hitCounters'];
  declare peekCounter: StoreOps['peekCounter'];
  declare pruneCounters: StoreOps['pruneCounters'];
  declare putOneTimeLink: StoreOps['putOneTimeLink'];
  declare peekOneTimeLink: StoreOps['peekOneTimeLink'];
  declare takeOneTimeLink: StoreOps['takeOneTimeLink'];
  declare credentialTotals: StoreOps['credentialTotals'];
  declare getMeta: StoreOps['getMeta'];
  declare setMeta: StoreOps['setMeta'];
  declare appendAudit: StoreOps['appendAudit'];
  declare auditByIds: StoreOps['auditByIds'];
  declare countAudit: StoreOps['countAudit'];
  declare queryAudit: StoreOps['queryAudit'];
  declare auditIndexOf: StoreOps['auditIndexOf'];
  declare maxAuditId: StoreOps['maxAuditId'];
  declare pruneAudit: StoreOps['pruneAudit'];
  declare auditAfter: StoreOps['auditAfter'];
  declare enqueueWebhooks: StoreOps['enqueueWebhooks'];
  declare claimWebhooks: StoreOps['claimWebhooks'];
  declare settleWebhook: StoreOps['settleWebhook'];
  declare pruneWebhooks: StoreOps['pruneWebhooks'];
  declare webhookBacklog: StoreOps['webhookBacklog'];
  declare credentialsToWarn: StoreOps['credentialsToWarn'];
  declare noteOnce: StoreOps['noteOnce'];

  constructor(private readonly ops: SqliteOps, private readonly client: Database.Database, private readonly file: string,
    private readonly checkpointer?: Checkpointer) {
    const inside: Record<string, unknown> = {};
    const self = this as unknown as Record<string, unknown>;
    for (const name of OP_NAMES) {
      const fn = (ops[name] as (...args: unknown[]) => unknown).bind(ops);
      const now = (...args: unknown[]): Promise<unknown> => {
        try {
          return Promise.resolve(fn(...args));
        } catch (err) {
          return Promise.reject(unavailable(err, file));
        }
      };
      inside[name] = now;
      self[name] = (...args: unknown[]): Promise<unknown> => (this.open ? this.afterOpen().then(() => now(...args)) : now(...args));
    }
    this.inside = inside as unknown as StoreOps;
  }

  private async afterOpen(): Promise<void> {
    while (this.open) await this.open;
  }

  async transaction<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T> {
    await this.afterOpen();
    let release!: () => void;
    this.open = new Promise((done) => { release = done; });
    try {
      this.ops.changed();
      try {
        this.client.exec('BEGIN IMMEDIATE');
      } catch (err) {
        throw unavailable(err, this.file);
      }
      this.ops.doomed = undefined;
      try {
        const result = await fn(this.inside);
        // Even when `fn` caught the failure and went on, what failed half-way is not committed.
        if (this.ops.doomed !== undefined) throw this.ops.doomed;
        this.client.exec('COMMIT');
        return result;
      } catch (err) {
        if (this.client.inTransaction) this.client.exec('ROLLBACK');
        // What was read inside it may be gone: a new version.
        this.ops.changed();
        throw unavailable(err, this.file);
      }
    } finally {
      this.open = undefined;
      release();
    }
  }

  async backup(file: string): Promise<void> {
    await this.afterOpen();
    try {
      this.ops.backup(file);
    } catch (err) {
      throw unavailable(err, this.file);
    }
  }

  async close(): Promise<void> {
    await this.afterOpen();
    // The worker's connection first: closing the last connection copies what is left and removes the WAL.
    await this.checkpointer?.stop();
    this.client.close();
  }

  version(): number {
    return this.ops.version();
  }
}

class SqliteOps implements SyncOps {
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
  private readonly insertTx: Database.Transaction<(c: NewCredential, quota: number, replacing: number) => CredentialRow | typeof OVER_QUOTA>;
  /** A /set's creates outside a transaction: one count for all of them. */
  private readonly insertManyTx: Database.Transaction<(list: readonly NewCredential[], quota: number) => (CredentialRow | typeof OVER_QUOTA)[]>;
  private readonly logStmt;
  /** /query statements by SQL text. */
  private readonly statements = new Map<string, Database.Statement>();
  private readonly dataVersionStmt;
  private readonly counterHit;
  private readonly counterHitsTx: Database.Transaction<(keys: readonly string[], params: { resetAt: number; now: number }) => { count: number; resetAt: number }[]>;
  private readonly counterPeek;
  /** Whether the connection runs synchronous=FULL (restored after each counter hit). */
  private readonly fullSync: boolean;
  private readonly touchStmt;
  private auditInsert: Database.Statement | undefined;
  /** An operation that failed half-way inside the open transaction: that transaction must roll back, not commit. */
  doomed: unknown;
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
    // The two inserts of every created credential (500 per /set call) as plain positional statements: drizzle's
    // prepared insert maps named placeholders per call (2.2 against 1.5 µs for a change-log row in a loop).
    this.insertStmt = client.prepare(`INSERT INTO credentials (account_id, kind, description, locator, secret_hash, created_at,
      expires_at, permissions_mode, permissions, allowed_ips, scopes, platform, device_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.logStmt = client.prepare('INSERT INTO changes (account_id, kind, record_id, op) VALUES (?, ?, ?, ?)');
    this.insertTx = client.transaction((c: NewCredential, quota: number, replacing: number): CredentialRow | typeof OVER_QUOTA => {
      // Counted and inserted under one write lock (BEGIN IMMEDIATE, or the enclosing transaction's): exact.
      if (this.countCredentials(c.accountId, c.kind) - replacing >= quota) return OVER_QUOTA;
      return this.insertRow(c);
    });
    this.insertManyTx = client.transaction((list: readonly NewCredential[], quota: number) => this.insertMany(list, quota));
    this.credentialsStmt = db.select().from(credentials)
      .where(and(eq(credentials.accountId, sql.placeholder('accountId')), eq(credentials.kind, sql.placeholder('kind'))))
      .orderBy(asc(credentials.id)).prepare();
    // Maintained by triggers on credentials (drizzle/0001_credential_counts.sql): O(1) instead of an index scan.
    this.countStmt = client.prepare('SELECT n FROM credential_counts WHERE account_id = ? AND kind = ?').pluck();
    // Changes when another connection (another process) commits: the cheapest complete test for foreign writes.
    this.dataVersionStmt = client.prepare('PRAGMA data_version').pluck();
    this.counterHit = client.prepare(`INSERT INTO window_counters (key, count, reset_at) VALUES (@key, 1, @resetAt)
      ON CONFLICT (key) DO UPDATE SET count = CASE WHEN reset_at <= @now THEN 1 ELSE count + 1 END,
        reset_at = CASE WHEN reset_at <= @now THEN @resetAt ELSE reset_at END
      RETURNING count, reset_at AS resetAt`);
    this.counterHitsTx = client.transaction((keys: readonly string[], params: { resetAt: number; now: number }) => this.counterHits(keys, params));
    this.counterPeek = client.prepare('SELECT count, reset_at AS resetAt FROM window_counters WHERE key = @key AND reset_at > @now');
    // Not prepared statements: SQLite applies `PRAGMA synchronous = …` when it compiles it.
    this.fullSync = client.pragma('synchronous', { simple: true }) === 2;
    // The newest use wins whole: time, address and service together (an older one, written late, changes nothing).
    this.touchStmt = client.prepare(`UPDATE credentials SET last_used_at = @at, last_used_from = @from, last_used_service = @service
      WHERE id = @id AND (last_used_at IS NULL OR last_used_at <= @at)`);
    this.stateStmt = db.select({ seq: max(changes.seq) }).from(changes)
      .where(and(eq(changes.accountId, sql.placeholder('accountId')), eq(changes.kind, sql.placeholder('kind')))).prepare();
  }

  /** A write of its own: immediate when alone, a savepoint inside an open transaction. */
  private write<T>(fn: () => T): T {
    const tx = this.client.transaction(fn);
    return this.rollbackAware(() => (this.client.inTransaction ? tx() : tx.immediate()));
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
  changed(): void {
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

  accountByEmail(email: string): AccountRow | undefined {
    return this.db.select().from(accounts).where(eq(accounts.email, email.toLowerCase())).get();
  }

  listAccounts(): AccountRow[] {
    return this.db.select().from(accounts).orderBy(asc(accounts.id)).all();
  }

  createAccount(account: Omit<AccountRow, 'id' | 'email'> & { email?: string | null }): AccountRow | undefined {
    this.changed();
    return this.db.insert(accounts).values({ ...account, email: account.email?.toLowerCase() ?? null }).onConflictDoNothing().returning().get();
  }

  setAccountEmail(id: number, email: string | null): boolean {
    this.changed();
    return this.db.update(accounts).set({ email: email?.toLowerCase() ?? null }).where(eq(accounts.id, id)).run().changes > 0;
  }

  setAccountPassword(id: number, passwordHash: string): boolean {
    this.changed();
    // A new password ends every web sign-in of the account, in the same transaction.
    return this.write(() => {
      this.db.delete(webSessions).where(eq(webSessions.accountId, id)).run();
      return this.db.update(accounts).set({ passwordHash }).where(eq(accounts.id, id)).run().changes > 0;
    });
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
    this.logStmt.run(accountId, kind, recordId, op);
  }

  insertCredential(c: NewCredential, quota: number, replacing = 0): CredentialRow | typeof OVER_QUOTA {
    this.changed();
    return this.rollbackAware(() => (this.client.inTransaction ? this.insertTx(c, quota, replacing) : this.insertTx.immediate(c, quota, replacing)));
  }

  insertCredentials(list: readonly NewCredential[], quota: number): (CredentialRow | typeof OVER_QUOTA)[] {
    if (list.length === 0) return [];
    this.changed();
    if (!this.client.inTransaction) return this.rollbackAware(() => this.insertManyTx.immediate(list, quota));
    // Inside the caller's transaction without a savepoint: a savepoint journals every page the rows touch before
    // changing it (on a 1M-key file, a third of the store's time per created key). Atomic all the same: a failure
    // half-way dooms the transaction, which then rolls back instead of committing (SqliteStore.transaction).
    try {
      return this.insertMany(list, quota);
    } catch (err) {
      this.doomed ??= err;
      this.changed();
      throw err;
    }
  }

  /** Counted once under the write lock (the caller's): the first that fit are inserted, in order. */
  private insertMany(list: readonly NewCredential[], quota: number): (CredentialRow | typeof OVER_QUOTA)[] {
    const { accountId, kind } = sameAccountAndKind(list);
    let room = quota - this.countCredentials(accountId, kind);
    return list.map((c) => (room-- > 0 ? this.insertRow(c) : OVER_QUOTA));
  }

  /** Row + change-log entry; the caller holds the write lock and has checked the quota. */
  private insertRow(c: NewCredential): CredentialRow {
    // No RETURNING: the row is what was given plus its id (no column has a default the input lacks), and
    // reading it back cost a tenth of a 500-key /set.
    const { lastInsertRowid } = this.insertStmt.run(c.accountId, c.kind, c.description, c.locator, c.secretHash, c.createdAt,
      c.expiresAt, c.permissionsMode, JSON.stringify(c.permissions), JSON.stringify(c.allowedIps),
      c.scopes === null ? null : JSON.stringify(c.scopes), c.platform, c.deviceId);
    const id = Number(lastInsertRowid);
    this.log(c.accountId, c.kind, id, 'created');
    return { ...c, id, lastUsedAt: null, lastUsedFrom: null, lastUsedService: null };
  }

  updateCredential(accountId: number, kind: CredentialKind, id: number, ch: CredentialChanges): boolean {
    this.changed();
    return this.write(() => {
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
    return this.write(() => {
      const done = this.db.delete(credentials)
        .where(and(eq(credentials.id, id), eq(credentials.accountId, accountId), eq(credentials.kind, kind))).run().changes > 0;
      if (done) this.log(accountId, kind, id, 'destroyed');
      return done;
    });
  }

  touchLastUsed(uses: ReadonlyMap<number, CredentialUse>): void {
    if (uses.size === 0) return;
    // Conditional: another process (or node) may have written a later use already.
    this.write(() => {
      for (const [id, use] of uses) this.touchStmt.run({ id, at: use.at, from: use.from, service: use.service });
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

  changesSince(accountId: number, kind: CredentialKind, seq: number, maxRows: number): ChangeRow[] {
    return this.db.select({ seq: changes.seq, recordId: changes.recordId, op: changes.op }).from(changes)
      .where(and(eq(changes.accountId, accountId), eq(changes.kind, kind), gt(changes.seq, seq)))
      .orderBy(asc(changes.seq)).limit(maxRows).all();
  }

  queryCount(accountId: number, kind: CredentialKind, filter: CredentialFilter | null): number {
    const q = credentialQuery(accountId, kind, filter, [], SQLITE_DIALECT);
    return this.cachedPluck(`SELECT count(*) FROM credentials WHERE ${q.where}`).get(...q.params) as number;
  }

  queryIndexOf(accountId: number, kind: CredentialKind, filter: CredentialFilter | null, sort: readonly CredentialSort[], id: number): number | undefined {
    const q = credentialQuery(accountId, kind, filter, sort, SQLITE_DIALECT);
    const text = `SELECT rn FROM (SELECT id, row_number() OVER (ORDER BY ${q.order}) - 1 AS rn FROM credentials WHERE ${q.where}) WHERE id = ?`;
    return this.cachedPluck(text).get(...q.params, id) as number | undefined;
  }

  queryPage(accountId: number, kind: CredentialKind, filter: CredentialFilter | null, sort: readonly CredentialSort[], offset: number, limit: number): number[] {
    const q = credentialQuery(accountId, kind, filter, sort, SQLITE_DIALECT);
    // `+?`, not `?`: SQLite (3.53) plans with the value bound to a bare LIMIT/OFFSET parameter, so every new binding
    // expired the cached statement and each page was parsed and planned again (a third of its SQLite time, `perf`).
    // A unary plus hides the value from the planner; the plan is the same index walk either way.
    const text = `SELECT id FROM credentials WHERE ${q.where} ORDER BY ${q.order} LIMIT +? OFFSET +?`;
    return this.cachedPluck(text).all(...q.params, limit, offset) as number[];
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
    return this.client.prepare(`SELECT id FROM audit_events WHERE ${text} ORDER BY id ${ascending ? 'ASC' : 'DESC'} LIMIT +? OFFSET +?`)
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

  auditAfter(afterId: number, limit: number): AuditRow[] {
    return (this.client.prepare('SELECT * FROM audit_events WHERE id > ? ORDER BY id LIMIT +?').all(afterId, limit) as RawAudit[]).map(toAudit);
  }

  // The webhook outbox and credential notes: not credential changes, so version() stays still.

  private enqueueStmt: Database.Statement | undefined;

  enqueueWebhooks(deliveries: readonly NewWebhookDelivery[]): number {
    if (deliveries.length === 0) return 0;
    this.enqueueStmt ??= this.client.prepare(`INSERT INTO webhook_deliveries (event_id, type, payload, created_at, next_attempt_at)
      VALUES (?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING`);
    const stmt = this.enqueueStmt;
    return this.write(() => deliveries.reduce((n, d) => n + stmt.run(d.eventId, d.type, d.payload, d.createdAt, d.nextAttemptAt).changes, 0));
  }

  claimWebhooks(now: number, until: number, limit: number): WebhookDelivery[] {
    // One statement under SQLite's write lock: no other connection claims between the choice and the update.
    const rows = this.client.prepare(`UPDATE webhook_deliveries SET claimed_until = ? WHERE id IN (
        SELECT id FROM webhook_deliveries WHERE next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until < ?)
        ORDER BY next_attempt_at, id LIMIT ?)
      RETURNING ${CLAIM_COLUMNS}`).all(until, now, now, limit) as RawWebhookDelivery[];
    return rows.map(toWebhookDelivery).sort((a, b) => a.id - b.id);
  }

  settleWebhook(id: number, claimedUntil: number, o: WebhookOutcome): boolean {
    const r = o.delivered
      ? this.client.prepare(`UPDATE webhook_deliveries SET delivered_at = ?, next_attempt_at = NULL, claimed_until = NULL,
          attempts = attempts + 1, last_status = ?, last_error = NULL WHERE id = ? AND claimed_until = ?`).run(o.at, o.status, id, claimedUntil)
      : this.client.prepare(`UPDATE webhook_deliveries SET next_attempt_at = ?, claimed_until = NULL, attempts = attempts + 1,
          last_status = ?, last_error = ? WHERE id = ? AND claimed_until = ?`).run(o.nextAttemptAt, o.status, o.error, id, claimedUntil);
    return r.changes > 0;
  }

  pruneWebhooks(before: number, max: number): number {
    return this.client.prepare(`DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries
      WHERE next_attempt_at IS NULL AND created_at < ? ORDER BY id LIMIT ?)`).run(before, max).changes;
  }

  webhookBacklog(): WebhookBacklog {
    return toBacklog(this.client.prepare(WEBHOOK_BACKLOG).get() as Record<keyof WebhookBacklog, number | null>);
  }

  credentialsToWarn(topic: 'expiring' | 'expired', from: number, to: number, limit: number): CredentialRow[] {
    return this.db.select().from(credentials).where(and(gt(credentials.expiresAt, from), lte(credentials.expiresAt, to),
      sql`NOT EXISTS (SELECT 1 FROM credential_notes n WHERE n.credential_id = ${credentials.id} AND n.topic = ${topic}
        AND n.value = CAST(${credentials.expiresAt} AS TEXT))`))
      .orderBy(asc(credentials.expiresAt), asc(credentials.id)).limit(limit).all().map(toRow);
  }

  noteOnce(note: CredentialNote, d: NewWebhookDelivery): boolean {
    return this.write(() => {
      const fresh = this.client.prepare(NOTE_ONCE).run(note.credentialId, note.topic, note.value, note.at, note.credentialId).changes > 0;
      if (fresh) this.enqueueWebhooks([d]);
      return fresh;
    });
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

  createWebSession(session: WebSessionRow): void {
    this.write(() => {
      // The account's ended sign-ins go with each new one: the table stays the size of the live sessions.
      this.db.delete(webSessions).where(and(eq(webSessions.accountId, session.accountId), lte(webSessions.expiresAt, session.authTime))).run();
      this.db.insert(webSessions).values(session).run();
    });
  }

  webSession(id: string, now: number): WebSessionRow | undefined {
    return this.db.select().from(webSessions).where(and(eq(webSessions.id, id), gt(webSessions.expiresAt, now))).get();
  }

  endWebSession(id: string): boolean {
    return this.db.delete(webSessions).where(eq(webSessions.id, id)).run().changes > 0;
  }

  endAccountWebSessions(accountId: number): number {
    return this.db.delete(webSessions).where(eq(webSessions.accountId, accountId)).run().changes;
  }

  hitCounter(key: string, windowMs: number, nowMs: number): { count: number; resetAt: number } {
    return this.hitCounters([key], windowMs, nowMs)[0]!;
  }

  hitCounters(keys: readonly string[], windowMs: number, nowMs: number): { count: number; resetAt: number }[] {
    // One statement per key, so concurrent hits from several processes never lose a count. On their own (every REST
    // call takes two) they commit together, without the fsync of synchronous=FULL: a rate-limit count may lose its
    // last hits to a power cut, nothing else; the next FULL commit makes it durable with the WAL frames before it.
    // The fsyncs were ~70 % of a REST read's CPU (bench/README.md, round 4).
    const params = { resetAt: nowMs + windowMs, now: nowMs };
    if (this.client.inTransaction) return this.counterHits(keys, params);
    if (this.fullSync) this.client.pragma('synchronous = NORMAL');
    try {
      return this.counterHitsTx.immediate(keys, params);
    } finally {
      if (this.fullSync) this.client.pragma('synchronous = FULL');
    }
  }

  private counterHits(keys: readonly string[], params: { resetAt: number; now: number }): { count: number; resetAt: number }[] {
    return keys.map((key) => this.counterHit.get({ key, ...params }) as { count: number; resetAt: number });
  }

  peekCounter(key: string, nowMs: number): { count: number; resetAt: number } {
    // Prepared once: every password sign-in (Basic) peeks its throttle counter first.
    const row = this.counterPeek.get({ key, now: nowMs }) as { count: number; resetAt: number } | undefined;
    return row ?? { count: 0, resetAt: 0 };
  }

  pruneCounters(nowMs: number): number {
    return this.db.delete(windowCounters).where(lte(windowCounters.resetAt, nowMs)).run().changes;
  }

  putOneTimeLink(id: string, payload: Buffer, expiresAt: number, now: number): void {
    this.write(() => {
      this.db.delete(oneTimeLinks).where(lte(oneTimeLinks.expiresAt, now)).run();
      this.db.insert(oneTimeLinks).values({ id, payload, expiresAt }).run();
    });
  }

  peekOneTimeLink(id: string, now: number): Buffer | undefined {
    return this.db.select({ payload: oneTimeLinks.payload }).from(oneTimeLinks).where(and(eq(oneTimeLinks.id, id), gt(oneTimeLinks.expiresAt, now))).get()?.payload;
  }

  takeOneTimeLink(id: string, now: number): Buffer | undefined {
    // One statement: two requests racing for the link cannot both get it.
    return this.db.delete(oneTimeLinks).where(and(eq(oneTimeLinks.id, id), gt(oneTimeLinks.expiresAt, now)))
      .returning({ payload: oneTimeLinks.payload }).get()?.payload;
  }
}
