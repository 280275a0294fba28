import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { and, asc, count, desc, eq, gt, gte, inArray, lt, lte, max, sql, type SQL } from 'drizzle-orm';
import { DrizzleQueryError } from 'drizzle-orm/errors';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { credentialQuery, numbered, POSTGRES_DIALECT } from './credential-query.js';
import { credentialFromColumns, sameAccountAndKind } from './rows.js';
import {
  ACCOUNT_BY_ID, ACCOUNT_STATE, accountFromRaw, CREDENTIAL_BY_ID, CREDENTIAL_BY_LOCATOR, credentialFromRaw, NamedStatements,
  type RawAccountRow, type RawCredentialRow, type Statement,
} from './pg-reads.js';
import * as schema from './pg-schema.js';
import { pgErrorIsRetryable, pgFailure } from './pg-errors.js';
import {
  OVER_QUOTA, StoreUnavailableError,
  type AccountRow, type AuditFilter, type AuditRow, type AuditType, type ChangeRow, type CredentialChanges, type CredentialFilter,
  type CredentialKind, type CredentialNote, type CredentialRow, type CredentialSort, type CredentialUse, type NewAuditEvent,
  type NewCredential, type NewWebhookDelivery, type Store, type StoreFailure, type StoreOps, type WebhookBacklog,
  type WebhookDelivery, type WebhookOutcome, type WebSessionRow,
} from './store.js';
import { CLAIM_COLUMNS, NOTE_ONCE, toBacklog, toWebhookDelivery, WEBHOOK_BACKLOG, type RawWebhookDelivery } from './webhook-sql.js';

const { accounts, credentials, changes, webSessions, windowCounters, oneTimeLinks, meta, auditEvents } = schema;
const MIGRATIONS = resolve(dirname(fileURLToPath(import.meta.url)), '../../drizzle/pg');
/** The channel every write transaction notifies at commit; each node listens on it to drop its caches. */
export const CHANGES_CHANNEL = 'jmap_keys_changes';
/** pg_advisory_lock key pair held while migrating, so nodes starting together migrate one at a time. */
const MIGRATION_LOCK = [0x6a6d6170, 0x6b657973] as const; // 'jmap', 'keys'
/** pg_advisory_xact_lock key pair held from an audit insert to its commit (see INSERT_AUDIT). */
const AUDIT_LOCK = [0x6a6d6170, 0x61756474] as const; // 'jmap', 'audt'

export interface PgStoreOptions {
  /** Connections per node (default 10). */
  poolSize?: number;
  /** How long to wait for a connection before the store counts as unavailable (default 5000 ms). */
  connectTimeoutMs?: number;
  /** The notification connection is checked this often; a silent loss is noticed within it + 2 s (default 5000 ms). */
  heartbeatMs?: number;
  /** Longest pause between reconnection attempts of the notification connection (default 5000 ms). */
  maxReconnectDelayMs?: number;
  /** Told when the notification connection goes down (caches are off until it is back) and when it is back. */
  onListener?: (event: 'down' | 'up', err?: Error) => void;
  /** Told when the connections for expiry-ordered /query pages fail (those pages then use the main pool a minute). */
  onKeptPlansFailure?: (message: string) => void;
}

type Db = NodePgDatabase<typeof schema>;
type Queryable = pg.Pool | pg.PoolClient;
type RawCredential = typeof credentials.$inferSelect;

const toRow = (r: RawCredential): CredentialRow => credentialFromColumns(r);

/** The application_name of the connections that keep /query plans (visible in pg_stat_activity). */
export const KEPT_PLANS_APPLICATION = 'jmap-keys kept plans';

/**
 * A /query page whose first sort key is expiresAt and whose filter is absent or an AND of expiresAt conditions:
 * whatever the values, its best plan is one ordered walk of credentials_expires (…, expires_at NULLS FIRST, id).
 */
function expiryWalk(filter: CredentialFilter | null, sort: readonly CredentialSort[]): boolean {
  if (sort[0]?.property !== 'expiresAt') return false;
  const onExpiry = (f: CredentialFilter): boolean => ('condition' in f
    ? f.condition.field === 'expiresAt'
    : f.operator === 'AND' && f.conditions.every(onExpiry));
  return filter === null || onExpiry(filter);
}

/** The /query statement's WHERE and ORDER BY, from the one renderer both engines use (credential-query.ts). */
function query(accountId: number, kind: CredentialKind, filter: CredentialFilter | null, sort: readonly CredentialSort[]) {
  return credentialQuery(accountId, kind, filter, sort, POSTGRES_DIALECT);
}

// --- writes ---------------------------------------------------------------------------------------------------------

/**
 * Locks the account's state row for this kind (creating it), until commit: writers of one account and kind take
 * turns here whichever node they run on, which orders their change positions by commit and makes the count exact.
 */
const LOCK_STATE = `INSERT INTO account_states (account_id, kind, seq, n) VALUES ($1, $2, 0, 0)
  ON CONFLICT (account_id, kind) DO UPDATE SET seq = account_states.seq RETURNING seq, n`;
const INSERT_CREDENTIAL = `WITH ins AS (
    INSERT INTO credentials (account_id, kind, description, locator, secret_hash, created_at, expires_at, permissions_mode,
      permissions, allowed_ips, scopes, platform, device_id)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id
  ), st AS (
    UPDATE account_states SET seq = seq + 1, n = n + 1 WHERE account_id = $1 AND kind = $2 RETURNING seq
  )
  INSERT INTO changes (account_id, kind, seq, record_id, op) SELECT $1, $2, st.seq, ins.id, 'created' FROM ins, st
  RETURNING record_id`;
/**
 * A /set's creates as one statement, under the state row lock LOCK_STATE took: the rows (arrays, in order), the
 * account's positions moved by their number ($3) and one change entry each, positions in id order (= the given
 * order: identity values follow the ORDER BY). Ids come back with their locators (unique), which map them to inputs.
 */
const INSERT_CREDENTIALS = `WITH r AS (
    SELECT * FROM unnest($4::text[], $5::text[], $6::bytea[], $7::int8[], $8::int8[], $9::text[], $10::text[], $11::text[],
      $12::text[], $13::text[], $14::text[]) WITH ORDINALITY AS r(description, locator, secret_hash, created_at, expires_at,
      permissions_mode, permissions, allowed_ips, scopes, platform, device_id, i)
  ), ins AS (
    INSERT INTO credentials (account_id, kind, description, locator, secret_hash, created_at, expires_at, permissions_mode,
      permissions, allowed_ips, scopes, platform, device_id)
    SELECT $1::int8, $2::text, description, locator, secret_hash, created_at, expires_at, permissions_mode, permissions,
      allowed_ips, scopes, platform, device_id FROM r ORDER BY i
    RETURNING id, locator
  ), st AS (
    UPDATE account_states SET seq = seq + $3::int8, n = n + $3::int4 WHERE account_id = $1::int8 AND kind = $2::text RETURNING seq
  ), ch AS (
    INSERT INTO changes (account_id, kind, seq, record_id, op)
    SELECT $1::int8, $2::text, st.seq - $3::int8 + row_number() OVER (ORDER BY ins.id), ins.id, 'created' FROM ins, st
  )
  SELECT id, locator FROM ins`;
/** The write ($3 = the credential id) then, only when it hit a row, the next position and its change entry. */
const logged = (write: string, op: ChangeRow['op'], dn: string) => `WITH w AS (${write} RETURNING id),
  st AS (UPDATE account_states SET seq = seq + 1${dn} WHERE account_id = $1 AND kind = $2 AND EXISTS (SELECT 1 FROM w) RETURNING seq)
  INSERT INTO changes (account_id, kind, seq, record_id, op) SELECT $1, $2, st.seq, $3, '${op}' FROM st RETURNING 1`;
const DELETE_CREDENTIAL = logged('DELETE FROM credentials WHERE account_id = $1 AND kind = $2 AND id = $3', 'destroyed', ', n = n - 1');
/** Bumps the shared counter and notifies every node's listener; PostgreSQL delivers the notification at commit. */
const NOTIFY = `WITH v AS (UPDATE store_version SET n = n + 1 WHERE id = 1 RETURNING n)
  SELECT pg_notify('${CHANGES_CHANNEL}', n::text) FROM v`;
/** The newest use wins whole: time, address and service together; an older one written late changes nothing. */
const TOUCH = `UPDATE credentials c SET last_used_at = u.at, last_used_from = u.from_address, last_used_service = u.service
  FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[]) AS u(id, at, from_address, service)
  WHERE c.id = u.id AND (c.last_used_at IS NULL OR c.last_used_at <= u.at)`;

/**
 * One sign-in more; the account's ended sign-ins go with it, so the table stays the size of the live sessions. One
 * statement (both parts see one snapshot; the new id is never among the deleted).
 */
const CREATE_WEB_SESSION = `WITH ended AS (DELETE FROM web_sessions WHERE account_id = $2 AND expires_at <= $3)
  INSERT INTO web_sessions (id, account_id, auth_time, expires_at) VALUES ($1, $2, $3, $4)`;
/**
 * One hit, as one statement: concurrent hits on the key from any node queue on its row (or its unique index entry
 * for the first one), so none is lost. An expired window is replaced by a new one of $2 ms from $3.
 */
const HIT_COUNTER = `INSERT INTO window_counters AS w (key, count, reset_at) VALUES ($1, 1, $3::bigint + $2::bigint)
  ON CONFLICT (key) DO UPDATE SET
    count = CASE WHEN w.reset_at <= $3::bigint THEN 1 ELSE w.count + 1 END,
    reset_at = CASE WHEN w.reset_at <= $3::bigint THEN $3::bigint + $2::bigint ELSE w.reset_at END
  RETURNING count, reset_at`;

/**
 * Audit events, as one statement for any number of them. Identity values are handed out at insert, not at commit:
 * without the lock, a transaction holding id 10 could commit after one holding id 11, and a client that read the
 * trail up to 11 would never see 10. Held until commit (taken last in a transaction, see PgStore.transaction, so it
 * never waits while holding it), the lock makes ids follow commit order on every node.
 */
const INSERT_AUDIT = `WITH l AS (SELECT pg_advisory_xact_lock(${AUDIT_LOCK[0]}, ${AUDIT_LOCK[1]}))
  INSERT INTO audit_events (at, type, account_id, credential_id, credential_kind, actor_account_id, actor_credential_id,
    client_address, via, details)
  SELECT e.at, e.type, e.account_id, e.credential_id, e.credential_kind, e.actor_account_id, e.actor_credential_id,
    e.client_address, e.via, e.details
  FROM l, unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::bigint[], $7::bigint[], $8::text[],
    $9::text[], $10::text[]) WITH ORDINALITY AS e(at, type, account_id, credential_id, credential_kind, actor_account_id,
    actor_credential_id, client_address, via, details, i)
  ORDER BY e.i`;
const PRUNE_AUDIT = 'DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE at < $1 ORDER BY id LIMIT $2)';
const ENQUEUE_WEBHOOKS = `INSERT INTO webhook_deliveries (event_id, type, payload, created_at, next_attempt_at)
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[])
  ON CONFLICT (event_id) DO NOTHING`;
/**
 * One statement: the rows are chosen and locked (SKIP LOCKED: another node's claim in progress is passed over, and
 * a row it has just claimed is re-checked after the lock and no longer matches), then their lease moved.
 */
const CLAIM_WEBHOOKS = `UPDATE webhook_deliveries SET claimed_until = $1 WHERE id IN (
    SELECT id FROM webhook_deliveries WHERE next_attempt_at <= $2 AND (claimed_until IS NULL OR claimed_until < $2)
    ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
  RETURNING ${CLAIM_COLUMNS}`;
const SETTLE_DELIVERED = `UPDATE webhook_deliveries SET delivered_at = $3, next_attempt_at = NULL, claimed_until = NULL,
  attempts = attempts + 1, last_status = $4, last_error = NULL WHERE id = $1 AND claimed_until = $2`;
const SETTLE_FAILED = `UPDATE webhook_deliveries SET next_attempt_at = $3, claimed_until = NULL, attempts = attempts + 1,
  last_status = $4, last_error = $5 WHERE id = $1 AND claimed_until = $2`;
const PRUNE_WEBHOOKS = `DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries
  WHERE next_attempt_at IS NULL AND created_at < $1 ORDER BY id LIMIT $2)`;

/** The credential counts are kept per account in account_states: summed, not counted (no scan of credentials). */
const CREDENTIAL_TOTALS = 'SELECT kind, sum(n)::bigint AS n FROM account_states GROUP BY kind';

function auditParams(events: readonly NewAuditEvent[]): unknown[] {
  const column = <T>(pick: (e: NewAuditEvent) => T) => events.map(pick);
  return [
    column((e) => e.at), column((e) => e.type), column((e) => e.accountId), column((e) => e.credentialId),
    column((e) => e.credentialKind), column((e) => e.actorAccountId), column((e) => e.actorCredentialId),
    column((e) => e.clientAddress), column((e) => e.via), column((e) => JSON.stringify(e.details)),
  ];
}

/** The AuditFilter's WHERE: every given field must match, as in the SQLite store. */
function auditWhere(f: AuditFilter): SQL | undefined {
  return and(
    f.accountId === null ? undefined : eq(auditEvents.accountId, f.accountId),
    f.credentialId === undefined ? undefined : eq(auditEvents.credentialId, f.credentialId),
    f.types === undefined ? undefined : f.types.length === 0 ? sql`false` : inArray(auditEvents.type, [...f.types]),
    f.after === undefined ? undefined : gte(auditEvents.at, f.after),
    f.before === undefined ? undefined : lt(auditEvents.at, f.before),
  );
}

function toAudit(r: typeof auditEvents.$inferSelect): AuditRow {
  return {
    ...r, type: r.type as AuditType, credentialKind: r.credentialKind as CredentialKind | null,
    details: JSON.parse(r.details) as Record<string, unknown>,
  };
}

const UPDATE_COLUMNS = {
  description: 'description', expiresAt: 'expires_at', permissionsMode: 'permissions_mode', permissions: 'permissions',
  allowedIps: 'allowed_ips', scopes: 'scopes',
} as const;

/** What the data operations need from the store around them. */
interface Context {
  /** Own write: the version moves (before commit, and again after). */
  changed(): void;
  /** Runs one write as its own transaction (retried once when PostgreSQL asks for it). */
  write<T>(fn: (tx: PgOps) => Promise<T>): Promise<T>;
  /** The store's named statements (pg-reads.ts). */
  statements: NamedStatements;
  /** Connections that keep one plan per statement (`plan_cache_mode = force_generic_plan`): expiry-ordered pages. */
  kept: KeptPlans;
}

/**
 * The pool of connections that keep plans, and whether it works: a pooler in front of PostgreSQL may refuse its
 * `options` startup parameter (PgBouncer does unless told to ignore it). Then those pages use the main pool (each
 * planned per call, as every other shape), and the kept pool is tried again a minute later.
 */
export class KeptPlans {
  private downUntil = 0;
  constructor(readonly pool: pg.Pool, private readonly onFailure?: (message: string) => void, private readonly retryMs = 60_000) {}
  get usable(): boolean { return Date.now() >= this.downUntil; }
  failed(err: unknown): void {
    this.downUntil = Date.now() + this.retryMs;
    this.onFailure?.(err instanceof Error ? err.message : String(err));
  }
}

/** An error of the connection (refused, lost, closed, or a startup parameter the server or a pooler rejects), not of the query. */
function connectionFailure(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return true; // no SQLSTATE: network or pool
  return code.startsWith('08') || code.startsWith('28') || code.startsWith('57P') || code === '42704'; // 42704: unknown option name
}

/**
 * The data operations over one connection source: the pool (outside transactions; writes then open their own) or
 * one transaction's client (calls queue, so a savepoint never interleaves with another call).
 */
class PgOps implements StoreOps {
  /** Set by the first write of a transaction: the commit then notifies the other nodes. */
  wrote = false;
  /** A transaction's audit events, inserted by `flushAudit` just before its commit. */
  private readonly audit: NewAuditEvent[] = [];
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: Db,
    private readonly q: Queryable,
    private readonly ctx: Context,
    private readonly inTransaction: boolean,
  ) {}

  /** In a transaction, one call at a time on its client; errors become StoreUnavailableError when they mean so. */
  private run<T>(fn: () => Promise<T>): Promise<T> {
    const guarded = () => fn().catch((err: unknown) => { throw mapError(err); });
    if (!this.inTransaction) return guarded();
    const next = this.queue.then(guarded, guarded);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** A write: joins the transaction (`body`), or runs as its own transaction (`call` on that transaction's ops). */
  private write<T>(call: (tx: PgOps) => Promise<T>, body: () => Promise<T>): Promise<T> {
    if (!this.inTransaction) return this.ctx.write(call);
    return this.run(() => {
      this.wrote = true;
      this.ctx.changed();
      return body();
    });
  }

  /**
   * A hot read: a named statement on the pool (parsed and planned once per connection, pg-reads.ts). In a
   * transaction the same text goes unnamed: a kept plan refused after a migration would abort the transaction.
   */
  private read<R extends pg.QueryResultRow>(s: Statement | string, values: unknown[]): Promise<pg.QueryResult<R>> {
    if (typeof s === 'string') {
      const named = this.inTransaction ? undefined : this.ctx.statements.forQuery(s);
      return named ? this.ctx.statements.run<R>(this.q, named, values) : this.q.query<R>(s, values);
    }
    return this.inTransaction ? this.q.query<R>(s.text, values) : this.ctx.statements.run<R>(this.q, s, values);
  }

  countAccounts(): Promise<number> {
    return this.run(async () => (await this.db.select({ n: count() }).from(accounts))[0]?.n ?? 0);
  }

  accountById(id: number): Promise<AccountRow | undefined> {
    return this.run(async () => {
      const r = (await this.read<RawAccountRow>(ACCOUNT_BY_ID, [id])).rows[0];
      return r ? accountFromRaw(r) : undefined;
    });
  }

  accountByLogin(login: string): Promise<AccountRow | undefined> {
    return this.run(async () => (await this.db.select().from(accounts).where(eq(accounts.login, login)))[0]);
  }

  accountByEmail(email: string): Promise<AccountRow | undefined> {
    return this.run(async () => (await this.db.select().from(accounts).where(eq(accounts.email, email.toLowerCase())))[0]);
  }

  listAccounts(): Promise<AccountRow[]> {
    return this.run(() => this.db.select().from(accounts).orderBy(asc(accounts.id)));
  }

  createAccount(account: Omit<AccountRow, 'id' | 'email'> & { email?: string | null }): Promise<AccountRow | undefined> {
    const row = { ...account, email: account.email?.toLowerCase() ?? null };
    // A taken login or address: nothing is inserted (either unique index).
    return this.write((tx) => tx.createAccount(row), async () => (await this.db.insert(accounts).values(row).onConflictDoNothing().returning())[0]);
  }

  setAccountEmail(id: number, email: string | null): Promise<boolean> {
    return this.write((tx) => tx.setAccountEmail(id, email), async () =>
      ((await this.db.update(accounts).set({ email: email?.toLowerCase() ?? null }).where(eq(accounts.id, id))).rowCount ?? 0) > 0);
  }

  setAccountPassword(id: number, passwordHash: string): Promise<boolean> {
    return this.write((tx) => tx.setAccountPassword(id, passwordHash), async () => {
      // A new password ends every web sign-in of the account, in the same transaction.
      await this.db.delete(webSessions).where(eq(webSessions.accountId, id));
      return ((await this.db.update(accounts).set({ passwordHash }).where(eq(accounts.id, id))).rowCount ?? 0) > 0;
    });
  }

  deleteAccount(id: number): Promise<boolean> {
    return this.write((tx) => tx.deleteAccount(id), async () => ((await this.db.delete(accounts).where(eq(accounts.id, id))).rowCount ?? 0) > 0);
  }

  credentialByLocator(locator: string): Promise<CredentialRow | undefined> {
    return this.run(async () => {
      const r = (await this.read<RawCredentialRow>(CREDENTIAL_BY_LOCATOR, [locator])).rows[0];
      return r ? credentialFromRaw(r) : undefined;
    });
  }

  credentials(accountId: number, kind: CredentialKind, ids: readonly number[] | null): Promise<CredentialRow[]> {
    return this.run(async () => {
      if (ids !== null && ids.length === 0) return [];
      // One id (every /get by id, and the reads before an update or destroy): the named statement.
      if (ids?.length === 1) return (await this.read<RawCredentialRow>(CREDENTIAL_BY_ID, [accountId, kind, ids[0]])).rows.map(credentialFromRaw);
      const scope = and(eq(credentials.accountId, accountId), eq(credentials.kind, kind));
      const where = ids === null ? scope : and(scope, ids.length === 1 ? eq(credentials.id, ids[0]!) : inArray(credentials.id, [...ids]));
      return (await this.db.select().from(credentials).where(where).orderBy(asc(credentials.id))).map(toRow);
    });
  }

  countCredentials(accountId: number, kind: CredentialKind): Promise<number> {
    return this.run(async () => {
      const r = await this.read<{ n: number }>(ACCOUNT_STATE, [accountId, kind]);
      return r.rows[0]?.n ?? 0;
    });
  }

  insertCredential(c: NewCredential, quota: number, replacing = 0): Promise<CredentialRow | typeof OVER_QUOTA> {
    return this.write((tx) => tx.insertCredential(c, quota, replacing), async () => {
      const state = await this.q.query<{ n: number }>(LOCK_STATE, [c.accountId, c.kind]);
      // Counted under the row lock: no other node can insert for this account and kind until we commit.
      if (state.rows[0]!.n - replacing >= quota) return OVER_QUOTA;
      // A savepoint: if the insert fails on its own (a duplicate locator, the account just deleted), the rest of
      // the caller's transaction stays usable.
      await this.q.query('SAVEPOINT jk_insert');
      try {
        const r = await this.q.query<{ record_id: string }>(INSERT_CREDENTIAL, [
          c.accountId, c.kind, c.description, c.locator, c.secretHash, c.createdAt, c.expiresAt, c.permissionsMode,
          JSON.stringify(c.permissions), JSON.stringify(c.allowedIps), c.scopes === null ? null : JSON.stringify(c.scopes),
          c.platform, c.deviceId,
        ]);
        await this.q.query('RELEASE SAVEPOINT jk_insert');
        return { ...c, id: Number(r.rows[0]!.record_id), lastUsedAt: null, lastUsedFrom: null, lastUsedService: null };
      } catch (err) {
        await this.q.query('ROLLBACK TO SAVEPOINT jk_insert');
        throw err;
      }
    });
  }

  async insertCredentials(list: readonly NewCredential[], quota: number): Promise<(CredentialRow | typeof OVER_QUOTA)[]> {
    if (list.length === 0) return [];
    const { accountId, kind } = sameAccountAndKind(list);
    return this.write((tx) => tx.insertCredentials(list, quota), async () => {
      // Four round trips for any number of rows (not four per row): the account's state row lock is held for
      // the whole transaction, so every statement of it delays the account's other writers, on every node.
      const state = await this.q.query<{ n: number }>(LOCK_STATE, [accountId, kind]);
      const fit = list.slice(0, Math.max(0, quota - state.rows[0]!.n));
      if (fit.length === 0) return list.map(() => OVER_QUOTA);
      const column = <T>(pick: (c: NewCredential) => T) => fit.map(pick);
      await this.q.query('SAVEPOINT jk_insert');
      let ids: Map<string, number>;
      try {
        const r = await this.q.query<{ id: string; locator: string }>(INSERT_CREDENTIALS, [
          accountId, kind, fit.length, column((c) => c.description), column((c) => c.locator), column((c) => c.secretHash),
          column((c) => c.createdAt), column((c) => c.expiresAt), column((c) => c.permissionsMode),
          column((c) => JSON.stringify(c.permissions)), column((c) => JSON.stringify(c.allowedIps)),
          column((c) => (c.scopes === null ? null : JSON.stringify(c.scopes))), column((c) => c.platform), column((c) => c.deviceId),
        ]);
        await this.q.query('RELEASE SAVEPOINT jk_insert');
        ids = new Map(r.rows.map((row) => [row.locator, Number(row.id)]));
      } catch (err) {
        await this.q.query('ROLLBACK TO SAVEPOINT jk_insert');
        throw err;
      }
      return list.map((c, i) => (i < fit.length
        ? { ...c, id: ids.get(c.locator)!, lastUsedAt: null, lastUsedFrom: null, lastUsedService: null }
        : OVER_QUOTA));
    });
  }

  updateCredential(accountId: number, kind: CredentialKind, id: number, ch: CredentialChanges): Promise<boolean> {
    const params: unknown[] = [accountId, kind, id];
    const set: string[] = [];
    for (const [key, column] of Object.entries(UPDATE_COLUMNS) as [keyof CredentialChanges, string][]) {
      const value = ch[key];
      if (value === undefined) continue;
      params.push(Array.isArray(value) ? JSON.stringify(value) : value);
      set.push(`${column} = $${params.length}`);
    }
    if (set.length === 0) return Promise.resolve(true);
    return this.write((tx) => tx.updateCredential(accountId, kind, id, ch), async () => {
      await this.q.query(LOCK_STATE, [accountId, kind]);
      const update = `UPDATE credentials SET ${set.join(', ')} WHERE account_id = $1 AND kind = $2 AND id = $3`;
      return ((await this.q.query(logged(update, 'updated', ''), params)).rowCount ?? 0) > 0;
    });
  }

  deleteCredential(accountId: number, kind: CredentialKind, id: number): Promise<boolean> {
    return this.write((tx) => tx.deleteCredential(accountId, kind, id), async () => {
      await this.q.query(LOCK_STATE, [accountId, kind]);
      return ((await this.q.query(DELETE_CREDENTIAL, [accountId, kind, id])).rowCount ?? 0) > 0;
    });
  }

  touchLastUsed(uses: ReadonlyMap<number, CredentialUse>): Promise<void> {
    if (uses.size === 0) return Promise.resolve();
    // One statement, no change entry, no notification: last-use stamps are not tracked changes.
    const all = [...uses.values()];
    const params = [[...uses.keys()], all.map((u) => u.at), all.map((u) => u.from), all.map((u) => u.service)];
    return this.run(async () => { await this.q.query(TOUCH, params); });
  }

  state(accountId: number, kind: CredentialKind): Promise<number> {
    return this.run(async () => {
      const r = await this.read<{ seq: string }>(ACCOUNT_STATE, [accountId, kind]);
      return Number(r.rows[0]?.seq ?? 0);
    });
  }

  changesSince(accountId: number, kind: CredentialKind, seq: number, maxRows: number): Promise<ChangeRow[]> {
    return this.run(() => this.db.select({ seq: changes.seq, recordId: changes.recordId, op: changes.op }).from(changes)
      .where(and(eq(changes.accountId, accountId), eq(changes.kind, kind), sql`${changes.seq} > ${seq}`))
      .orderBy(asc(changes.seq)).limit(maxRows));
  }

  queryCount(accountId: number, kind: CredentialKind, filter: CredentialFilter | null): Promise<number> {
    return this.run(async () => {
      const { where, params } = query(accountId, kind, filter, []);
      const r = await this.read<{ n: number }>(numbered(`SELECT count(*)::int AS n FROM credentials WHERE ${where}`), params);
      return r.rows[0]?.n ?? 0;
    });
  }

  queryIndexOf(accountId: number, kind: CredentialKind, filter: CredentialFilter | null, sort: readonly CredentialSort[], id: number): Promise<number | undefined> {
    return this.run(async () => {
      const { where, order, params } = query(accountId, kind, filter, sort);
      const r = await this.read<{ rn: string }>(numbered(`SELECT rn FROM (SELECT id, row_number() OVER (ORDER BY ${order}) - 1 AS rn
        FROM credentials WHERE ${where}) ranked WHERE id = ?`), [...params, id]);
      return r.rows[0] ? Number(r.rows[0].rn) : undefined;
    });
  }

  queryPage(accountId: number, kind: CredentialKind, filter: CredentialFilter | null, sort: readonly CredentialSort[], offset: number, limit: number): Promise<number[]> {
    return this.run(async () => {
      const { where, order, params } = query(accountId, kind, filter, sort);
      const text = numbered(`SELECT id FROM credentials WHERE ${where} ORDER BY ${order} LIMIT ? OFFSET ?`);
      const values = [...params, limit, offset];
      // With LIMIT a parameter, PostgreSQL costs a kept plan for a tenth of the rows and so plans every call afresh
      // (about half of its CPU for a 50-row expiry page). A page ordered by expiry and filtered on expiry alone is
      // one walk of credentials_expires for any values (bench/README.md, round 5): it runs where plans are kept.
      // Other shapes keep planning per call: for a wide window sorted by another column, a kept plan would scan and
      // sort the whole window (22-86 ms instead of 0.4 ms per page on 100k keys).
      const { kept } = this.ctx;
      const named = !this.inTransaction && kept.usable && expiryWalk(filter, sort) ? this.ctx.statements.forQuery(text) : undefined;
      if (named) {
        try {
          return (await this.ctx.statements.run<{ id: string }>(kept.pool, named, values)).rows.map((row) => Number(row.id));
        } catch (err) {
          if (!connectionFailure(err)) throw err;
          kept.failed(err);
        }
      }
      return (await this.read<{ id: string }>(text, values)).rows.map((row) => Number(row.id));
    });
  }

  // Web sign-ins and counters: single statements on their own (no transaction opened, nothing marked written), so
  // version() stays still. Nothing caches them: every node reads the row on each request, a deletion is seen by the
  // next read everywhere without a notification.

  createWebSession(session: WebSessionRow): Promise<void> {
    return this.run(async () => {
      await this.q.query(CREATE_WEB_SESSION, [session.id, session.accountId, session.authTime, session.expiresAt]);
    });
  }

  webSession(id: string, now: number): Promise<WebSessionRow | undefined> {
    return this.run(async () => (await this.db.select().from(webSessions).where(and(eq(webSessions.id, id), gt(webSessions.expiresAt, now))))[0]);
  }

  endWebSession(id: string): Promise<boolean> {
    return this.run(async () => ((await this.db.delete(webSessions).where(eq(webSessions.id, id))).rowCount ?? 0) > 0);
  }

  endAccountWebSessions(accountId: number): Promise<number> {
    return this.run(async () => (await this.db.delete(webSessions).where(eq(webSessions.accountId, accountId))).rowCount ?? 0);
  }

  hitCounter(key: string, windowMs: number, nowMs: number): Promise<{ count: number; resetAt: number }> {
    return this.run(async () => {
      const r = await this.q.query<{ count: number; reset_at: string }>(HIT_COUNTER, [key, windowMs, nowMs]);
      const row = r.rows[0]!;
      return { count: row.count, resetAt: Number(row.reset_at) };
    });
  }

  async hitCounters(keys: readonly string[], windowMs: number, nowMs: number): Promise<{ count: number; resetAt: number }[]> {
    const out: { count: number; resetAt: number }[] = [];
    for (const key of keys) out.push(await this.hitCounter(key, windowMs, nowMs));
    return out;
  }

  peekCounter(key: string, nowMs: number): Promise<{ count: number; resetAt: number }> {
    return this.run(async () => {
      const r = await this.db.select({ count: windowCounters.count, resetAt: windowCounters.resetAt }).from(windowCounters)
        .where(and(eq(windowCounters.key, key), gt(windowCounters.resetAt, nowMs)));
      return r[0] ?? { count: 0, resetAt: 0 };
    });
  }

  pruneCounters(nowMs: number): Promise<number> {
    return this.run(async () => (await this.db.delete(windowCounters).where(lte(windowCounters.resetAt, nowMs))).rowCount ?? 0);
  }

  putOneTimeLink(id: string, payload: Buffer, expiresAt: number, now: number): Promise<void> {
    return this.run(async () => {
      await this.db.delete(oneTimeLinks).where(lte(oneTimeLinks.expiresAt, now));
      await this.db.insert(oneTimeLinks).values({ id, payload, expiresAt });
    });
  }

  peekOneTimeLink(id: string, now: number): Promise<Buffer | undefined> {
    return this.run(async () => (await this.db.select({ payload: oneTimeLinks.payload }).from(oneTimeLinks)
      .where(and(eq(oneTimeLinks.id, id), gt(oneTimeLinks.expiresAt, now))))[0]?.payload);
  }

  takeOneTimeLink(id: string, now: number): Promise<Buffer | undefined> {
    // One statement: of two nodes racing for the link, one deletes the row and gets it.
    return this.run(async () => (await this.db.delete(oneTimeLinks).where(and(eq(oneTimeLinks.id, id), gt(oneTimeLinks.expiresAt, now)))
      .returning({ payload: oneTimeLinks.payload }))[0]?.payload);
  }

  credentialTotals(): Promise<Record<CredentialKind, number>> {
    return this.run(async () => {
      const totals: Record<CredentialKind, number> = { apiKey: 0, appPassword: 0 };
      for (const r of (await this.q.query<{ kind: CredentialKind; n: string }>(CREDENTIAL_TOTALS)).rows) totals[r.kind] = Number(r.n);
      return totals;
    });
  }

  // Settings and the audit trail: not credential changes, so no notification and version() stays still; on a
  // transaction's ops they join it.

  getMeta(name: string): Promise<string | undefined> {
    return this.run(async () => (await this.db.select({ value: meta.value }).from(meta).where(eq(meta.name, name)))[0]?.value);
  }

  setMeta(name: string, value: string): Promise<void> {
    return this.run(async () => {
      await this.db.insert(meta).values({ name, value }).onConflictDoUpdate({ target: meta.name, set: { value } });
    });
  }

  appendAudit(event: NewAuditEvent): Promise<void> {
    // In a transaction: kept until its commit (the audit lock is then the last lock it takes); reads made meanwhile
    // in the transaction do not see it.
    if (this.inTransaction) {
      this.audit.push(event);
      return Promise.resolve();
    }
    return this.run(async () => { await this.q.query(INSERT_AUDIT, auditParams([event])); });
  }

  /** @internal Inserts the transaction's audit events; PgStore.transaction calls it just before the commit. */
  flushAudit(): Promise<void> {
    const events = this.audit.splice(0);
    if (events.length === 0) return Promise.resolve();
    return this.run(async () => { await this.q.query(INSERT_AUDIT, auditParams(events)); });
  }

  auditByIds(filter: AuditFilter, ids: readonly number[]): Promise<AuditRow[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.run(async () => (await this.db.select().from(auditEvents)
      .where(and(auditWhere(filter), inArray(auditEvents.id, [...ids]))).orderBy(asc(auditEvents.id))).map(toAudit));
  }

  countAudit(filter: AuditFilter): Promise<number> {
    return this.run(async () => (await this.db.select({ n: count() }).from(auditEvents).where(auditWhere(filter)))[0]?.n ?? 0);
  }

  queryAudit(filter: AuditFilter, ascending: boolean, offset: number, limit: number): Promise<number[]> {
    return this.run(async () => (await this.db.select({ id: auditEvents.id }).from(auditEvents).where(auditWhere(filter))
      .orderBy(ascending ? asc(auditEvents.id) : desc(auditEvents.id)).limit(limit).offset(offset)).map((r) => r.id));
  }

  auditIndexOf(filter: AuditFilter, ascending: boolean, id: number): Promise<number | undefined> {
    return this.run(async () => {
      const where = auditWhere(filter);
      const found = await this.db.select({ id: auditEvents.id }).from(auditEvents).where(and(where, eq(auditEvents.id, id)));
      if (found.length === 0) return undefined;
      const before = ascending ? lt(auditEvents.id, id) : gt(auditEvents.id, id);
      return (await this.db.select({ n: count() }).from(auditEvents).where(and(where, before)))[0]?.n ?? 0;
    });
  }

  maxAuditId(filter: AuditFilter): Promise<number> {
    return this.run(async () => (await this.db.select({ id: max(auditEvents.id) }).from(auditEvents).where(auditWhere(filter)))[0]?.id ?? 0);
  }

  pruneAudit(before: number, limit: number): Promise<number> {
    return this.run(async () => (await this.q.query(PRUNE_AUDIT, [before, limit])).rowCount ?? 0);
  }

  auditAfter(afterId: number, limit: number): Promise<AuditRow[]> {
    return this.run(async () => (await this.db.select().from(auditEvents).where(gt(auditEvents.id, afterId))
      .orderBy(asc(auditEvents.id)).limit(limit)).map(toAudit));
  }

  // The webhook outbox and credential notes: single statements, not credential changes (no notification).

  enqueueWebhooks(deliveries: readonly NewWebhookDelivery[]): Promise<number> {
    if (deliveries.length === 0) return Promise.resolve(0);
    const column = <T>(pick: (d: NewWebhookDelivery) => T) => deliveries.map(pick);
    return this.run(async () => (await this.q.query(ENQUEUE_WEBHOOKS, [column((d) => d.eventId), column((d) => d.type),
      column((d) => d.payload), column((d) => d.createdAt), column((d) => d.nextAttemptAt)])).rowCount ?? 0);
  }

  claimWebhooks(now: number, until: number, limit: number): Promise<WebhookDelivery[]> {
    return this.run(async () => (await this.q.query<RawWebhookDelivery>(CLAIM_WEBHOOKS, [until, now, limit])).rows
      .map(toWebhookDelivery).sort((a, b) => a.id - b.id));
  }

  settleWebhook(id: number, claimedUntil: number, o: WebhookOutcome): Promise<boolean> {
    return this.run(async () => ((o.delivered
      ? await this.q.query(SETTLE_DELIVERED, [id, claimedUntil, o.at, o.status])
      : await this.q.query(SETTLE_FAILED, [id, claimedUntil, o.nextAttemptAt, o.status, o.error])).rowCount ?? 0) > 0);
  }

  pruneWebhooks(before: number, max: number): Promise<number> {
    return this.run(async () => (await this.q.query(PRUNE_WEBHOOKS, [before, max])).rowCount ?? 0);
  }

  webhookBacklog(): Promise<WebhookBacklog> {
    return this.run(async () => toBacklog((await this.q.query<Record<keyof WebhookBacklog, string | null>>(WEBHOOK_BACKLOG)).rows[0]));
  }

  credentialsToWarn(topic: 'expiring' | 'expired', from: number, to: number, limit: number): Promise<CredentialRow[]> {
    return this.run(async () => (await this.db.select().from(credentials).where(and(gt(credentials.expiresAt, from), lte(credentials.expiresAt, to),
      sql`NOT EXISTS (SELECT 1 FROM credential_notes n WHERE n.credential_id = ${credentials.id} AND n.topic = ${topic}
        AND n.value = CAST(${credentials.expiresAt} AS TEXT))`))
      .orderBy(asc(credentials.expiresAt), asc(credentials.id)).limit(limit)).map(toRow));
  }

  noteOnce(note: CredentialNote, d: NewWebhookDelivery): Promise<boolean> {
    // The note and its delivery commit together: a note without its delivery would never be sent.
    if (!this.inTransaction) return this.ctx.write((tx) => tx.noteOnce(note, d));
    return this.run(async () => {
      const fresh = ((await this.q.query(numbered(NOTE_ONCE), [note.credentialId, note.topic, note.value, note.at, note.credentialId])).rowCount ?? 0) > 0;
      if (fresh) await this.q.query(ENQUEUE_WEBHOOKS, [[d.eventId], [d.type], [d.payload], [d.createdAt], [d.nextAttemptAt]]);
      return fresh;
    });
  }
}

/**
 * The driver's own error (drizzle's wrapper quotes the query's parameters, password hashes included, in its message:
 * not for logs), or StoreUnavailableError when it means the database is unavailable.
 */
function mapError(err: unknown): unknown {
  const driver = err instanceof DrizzleQueryError && err.cause !== undefined ? err.cause : err;
  if (driver instanceof StoreUnavailableError) return driver;
  const reason = pgFailure(driver);
  if (!reason) return driver;
  const detail = driver instanceof Error ? driver.message : String(driver);
  return new StoreUnavailableError(reason, `PostgreSQL unavailable: ${FAILURE_WORDS[reason]} (${detail})`, { cause: driver });
}

/** The reason in words, for the message. */
const FAILURE_WORDS: Record<StoreFailure, string> = {
  busy: 'busy with conflicting work or out of resources', readonly: 'it only accepts reads (a standby?)',
  full: 'its disk is full', io: 'the connection was lost or the server failed I/O', cantopen: 'cannot connect to the server',
};

// --- the notification connection ------------------------------------------------------------------------------------

/**
 * One dedicated connection per node listening on CHANGES_CHANNEL. Each notification (another node's commit, or our
 * own) moves the generation. While the connection is down nobody can tell what changed, so `up` is false and the
 * store's version() moves on every call; after a reconnection the generation moves once more, for whatever was
 * missed meanwhile.
 */
class Listener {
  up = false;
  private client: pg.Client | undefined;
  private closed = false;
  private delay = 0;
  private retry: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly bump: () => void,
    private readonly options: Required<Pick<PgStoreOptions, 'heartbeatMs' | 'maxReconnectDelayMs'>> & Pick<PgStoreOptions, 'onListener'>,
  ) {}

  /** Connects and listens; the first attempt's failure is thrown (the store does not open without it). */
  async start(): Promise<void> {
    await this.connect();
    this.heartbeat = setInterval(() => this.check(), this.options.heartbeatMs);
    this.heartbeat.unref();
  }

  /** The listener's server process id (tests terminate it to check the fail-closed path). */
  async backendPid(): Promise<number | undefined> {
    const r = await this.client?.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    return r?.rows[0]?.pid;
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ ...this.config, keepAlive: true, query_timeout: 2000 });
    client.on('notification', () => this.bump());
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGES_CHANNEL}`);
    } catch (err) {
      client.removeAllListeners('end');
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.up = true;
    this.delay = 0;
    this.bump();
    this.options.onListener?.('up');
  }

  /** A silent loss (a dead network path) shows no error until something is sent: ask now and then. */
  private check(): void {
    const client = this.client;
    if (!client) return;
    client.query('SELECT 1').catch((err: Error) => this.lost(client, err));
  }

  private lost(client: pg.Client, err?: Error): void {
    if (client !== this.client) return;
    this.client = undefined;
    this.up = false;
    this.bump();
    client.end().catch(() => undefined);
    if (this.closed) return;
    this.options.onListener?.('down', err);
    this.reconnect();
  }

  private reconnect(): void {
    this.delay = Math.min(this.options.maxReconnectDelayMs, this.delay ? this.delay * 2 : 50);
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.connect().catch(() => { if (!this.closed) this.reconnect(); });
    }, this.delay);
    this.retry.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.up = false;
    clearInterval(this.heartbeat);
    clearTimeout(this.retry);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}

// --- the store ------------------------------------------------------------------------------------------------------

const MAX_CACHED_STATES = 10_000;

export class PgStore implements Store {
  readonly engine = 'postgres' as const;
  private generation = 0;
  private readonly ops: PgOps;
  private readonly states = new Map<string, { version: number; seq: number }>();
  private readonly statements = new NamedStatements();
  /** @internal exposed for tests */
  readonly listener: Listener;

  constructor(private readonly pool: pg.Pool, private readonly kept: KeptPlans, private readonly db: Db, listenConfig: pg.ClientConfig, options: PgStoreOptions) {
    const ctx: Context = {
      changed: () => { this.generation++; },
      write: (call) => this.retrying(() => this.transaction((tx) => call(tx as PgOps))),
      statements: this.statements,
      kept,
    };
    this.ops = new PgOps(db, pool, ctx, false);
    this.listener = new Listener(listenConfig, () => { this.generation++; }, {
      heartbeatMs: options.heartbeatMs ?? 5000,
      maxReconnectDelayMs: options.maxReconnectDelayMs ?? 5000,
      onListener: options.onListener,
    });
  }

  version(): number {
    // Cheap on purpose (every authenticated request asks): the listener does the work when notifications arrive.
    return this.listener.up ? this.generation : ++this.generation;
  }

  /** A standalone call asked again once when PostgreSQL gave up on it for a conflict (it was rolled back whole). */
  private async retrying<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (!pgErrorIsRetryable(err)) throw err;
      return fn();
    }
  }

  async transaction<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw mapError(err);
    }
    const tx = new PgOps(drizzle(client, { schema }), client, {
      changed: () => { this.generation++; },
      write: () => { throw new Error('unreachable: writes inside a transaction join it'); },
      statements: this.statements,
      kept: this.kept,
    }, true);
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await fn(tx);
      // The audit events last: their lock is then the last one the transaction takes (INSERT_AUDIT).
      await tx.flushAudit();
      if (tx.wrote) {
        this.generation++;
        await client.query(NOTIFY);
      }
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch((e: Error) => { broken = e; });
      throw mapError(err);
    } finally {
      // After commit or rollback: whatever was read meanwhile is cached under an older version.
      if (tx.wrote) this.generation++;
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    await this.listener.close();
    // The kept-plans pool may be ended already (or never worked): nothing of it can be lost.
    await Promise.all([this.pool.end(), this.kept.pool.end().catch(() => undefined)]);
  }

  countAccounts() { return this.retrying(() => this.ops.countAccounts()); }
  accountById(id: number) { return this.retrying(() => this.ops.accountById(id)); }
  accountByLogin(login: string) { return this.retrying(() => this.ops.accountByLogin(login)); }
  accountByEmail(email: string) { return this.retrying(() => this.ops.accountByEmail(email)); }
  listAccounts() { return this.retrying(() => this.ops.listAccounts()); }
  createAccount(account: Omit<AccountRow, 'id' | 'email'> & { email?: string | null }) { return this.ops.createAccount(account); }
  setAccountEmail(id: number, email: string | null) { return this.ops.setAccountEmail(id, email); }
  setAccountPassword(id: number, passwordHash: string) { return this.ops.setAccountPassword(id, passwordHash); }
  deleteAccount(id: number) { return this.ops.deleteAccount(id); }
  credentialByLocator(locator: string) { return this.retrying(() => this.ops.credentialByLocator(locator)); }
  credentials(accountId: number, kind: CredentialKind, ids: readonly number[] | null) { return this.retrying(() => this.ops.credentials(accountId, kind, ids)); }
  countCredentials(accountId: number, kind: CredentialKind) { return this.retrying(() => this.ops.countCredentials(accountId, kind)); }
  insertCredential(credential: NewCredential, quota: number, replacing?: number) { return this.ops.insertCredential(credential, quota, replacing); }
  insertCredentials(list: readonly NewCredential[], quota: number) { return this.ops.insertCredentials(list, quota); }
  updateCredential(accountId: number, kind: CredentialKind, id: number, ch: CredentialChanges) { return this.ops.updateCredential(accountId, kind, id, ch); }
  deleteCredential(accountId: number, kind: CredentialKind, id: number) { return this.ops.deleteCredential(accountId, kind, id); }
  touchLastUsed(uses: ReadonlyMap<number, CredentialUse>) { return this.retrying(() => this.ops.touchLastUsed(uses)); }

  async state(accountId: number, kind: CredentialKind): Promise<number> {
    // Asked by every /get, /query and /set; it only moves with a write, i.e. with version() (read first).
    const version = this.version();
    const key = `${accountId}:${kind}`;
    const cached = this.states.get(key);
    if (cached?.version === version) return cached.seq;
    const seq = await this.retrying(() => this.ops.state(accountId, kind));
    if (this.states.size >= MAX_CACHED_STATES) this.states.clear();
    this.states.set(key, { version, seq });
    return seq;
  }

  changesSince(accountId: number, kind: CredentialKind, seq: number, maxRows: number) { return this.retrying(() => this.ops.changesSince(accountId, kind, seq, maxRows)); }
  queryCount(accountId: number, kind: CredentialKind, filter: CredentialFilter | null) { return this.retrying(() => this.ops.queryCount(accountId, kind, filter)); }
  queryIndexOf(accountId: number, kind: CredentialKind, filter: CredentialFilter | null, sort: readonly CredentialSort[], id: number) {
    return this.retrying(() => this.ops.queryIndexOf(accountId, kind, filter, sort, id));
  }
  queryPage(accountId: number, kind: CredentialKind, filter: CredentialFilter | null, sort: readonly CredentialSort[], offset: number, limit: number) {
    return this.retrying(() => this.ops.queryPage(accountId, kind, filter, sort, offset, limit));
  }
  // Single statements: a conflict rolls back the statement whole, so asking again never counts twice.
  createWebSession(session: WebSessionRow) { return this.retrying(() => this.ops.createWebSession(session)); }
  webSession(id: string, now: number) { return this.retrying(() => this.ops.webSession(id, now)); }
  endWebSession(id: string) { return this.retrying(() => this.ops.endWebSession(id)); }
  endAccountWebSessions(accountId: number) { return this.retrying(() => this.ops.endAccountWebSessions(accountId)); }
  hitCounter(key: string, windowMs: number, nowMs: number) { return this.retrying(() => this.ops.hitCounter(key, windowMs, nowMs)); }
  hitCounters(keys: readonly string[], windowMs: number, nowMs: number) { return this.retrying(() => this.ops.hitCounters(keys, windowMs, nowMs)); }
  peekCounter(key: string, nowMs: number) { return this.retrying(() => this.ops.peekCounter(key, nowMs)); }
  pruneCounters(nowMs: number) { return this.retrying(() => this.ops.pruneCounters(nowMs)); }
  putOneTimeLink(id: string, payload: Buffer, expiresAt: number, now: number) { return this.retrying(() => this.ops.putOneTimeLink(id, payload, expiresAt, now)); }
  peekOneTimeLink(id: string, now: number) { return this.retrying(() => this.ops.peekOneTimeLink(id, now)); }
  takeOneTimeLink(id: string, now: number) { return this.retrying(() => this.ops.takeOneTimeLink(id, now)); }
  credentialTotals() { return this.retrying(() => this.ops.credentialTotals()); }
  getMeta(name: string) { return this.retrying(() => this.ops.getMeta(name)); }
  setMeta(name: string, value: string) { return this.retrying(() => this.ops.setMeta(name, value)); }
  appendAudit(event: NewAuditEvent) { return this.retrying(() => this.ops.appendAudit(event)); }
  auditByIds(filter: AuditFilter, ids: readonly number[]) { return this.retrying(() => this.ops.auditByIds(filter, ids)); }
  countAudit(filter: AuditFilter) { return this.retrying(() => this.ops.countAudit(filter)); }
  queryAudit(filter: AuditFilter, ascending: boolean, offset: number, limit: number) { return this.retrying(() => this.ops.queryAudit(filter, ascending, offset, limit)); }
  auditIndexOf(filter: AuditFilter, ascending: boolean, id: number) { return this.retrying(() => this.ops.auditIndexOf(filter, ascending, id)); }
  maxAuditId(filter: AuditFilter) { return this.retrying(() => this.ops.maxAuditId(filter)); }
  pruneAudit(before: number, max: number) { return this.retrying(() => this.ops.pruneAudit(before, max)); }
  auditAfter(afterId: number, limit: number) { return this.retrying(() => this.ops.auditAfter(afterId, limit)); }
  enqueueWebhooks(deliveries: readonly NewWebhookDelivery[]) { return this.retrying(() => this.ops.enqueueWebhooks(deliveries)); }
  claimWebhooks(now: number, until: number, limit: number) { return this.retrying(() => this.ops.claimWebhooks(now, until, limit)); }
  settleWebhook(id: number, claimedUntil: number, outcome: WebhookOutcome) { return this.retrying(() => this.ops.settleWebhook(id, claimedUntil, outcome)); }
  pruneWebhooks(before: number, max: number) { return this.retrying(() => this.ops.pruneWebhooks(before, max)); }
  webhookBacklog() { return this.retrying(() => this.ops.webhookBacklog()); }
  credentialsToWarn(topic: 'expiring' | 'expired', from: number, to: number, limit: number) { return this.retrying(() => this.ops.credentialsToWarn(topic, from, to, limit)); }
  noteOnce(note: CredentialNote, delivery: NewWebhookDelivery) { return this.ops.noteOnce(note, delivery); }

  backup(file: string): Promise<void> {
    return Promise.reject(new Error(`not written: ${file}: a PostgreSQL database is not a file to copy; back it up with its own `
      + 'tools, e.g. pg_dump "$JMAP_KEYS_DATABASE_URL" > backup.sql (restore with psql)'));
  }
}

/** Applies drizzle/pg's migrations under an advisory lock: nodes starting at once take turns, the first one migrates. */
async function migrateLocked(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('SELECT pg_advisory_lock($1, $2)', [...MIGRATION_LOCK]);
    try {
      await migrate(drizzle(client), { migrationsFolder: MIGRATIONS });
    } finally {
      await client.query('SELECT pg_advisory_unlock($1, $2)', [...MIGRATION_LOCK]).catch((e: Error) => { broken = e; });
    }
  } finally {
    client.release(broken);
  }
}

/**
 * Connects to PostgreSQL at `url` (postgres://user:pass@host:port/db), applies pending migrations and starts the
 * notification listener. Throws StoreUnavailableError when the server cannot be reached.
 */
export async function openPgStore(url: string, options: PgStoreOptions = {}): Promise<PgStore> {
  const connection: pg.ClientConfig = { connectionString: url, connectionTimeoutMillis: options.connectTimeoutMs ?? 5000 };
  const pool = new pg.Pool({ ...connection, max: options.poolSize ?? 10, keepAlive: true });
  // Expiry-ordered /query pages only (PgOps.queryPage): a few connections that keep each statement's plan.
  const kept = new pg.Pool({
    ...connection, max: Math.max(2, Math.ceil((options.poolSize ?? 10) / 4)), keepAlive: true,
    options: '-c plan_cache_mode=force_generic_plan', application_name: KEPT_PLANS_APPLICATION,
  });
  // An idle connection lost (server restart): the pool drops it; the next query gets a fresh one or a clear error.
  pool.on('error', () => undefined);
  kept.on('error', () => undefined);
  try {
    await migrateLocked(pool);
    const store = new PgStore(pool, new KeptPlans(kept, options.onKeptPlansFailure), drizzle(pool, { schema }), connection, options);
    await store.listener.start();
    return store;
  } catch (err) {
    await Promise.all([pool.end().catch(() => undefined), kept.end().catch(() => undefined)]);
    throw mapError(err);
  }
}
