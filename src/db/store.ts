/**
 * The storage interface: everything jmap-keys keeps, behind one small surface so another engine
 * (PostgreSQL, say) can be added without touching the protocol or the credential logic.
 */
export type Role = 'admin' | 'user';
export type CredentialKind = 'apiKey' | 'appPassword';
export type PermissionsMode = 'Inherit' | 'Disable' | 'Replace';

export interface AccountRow {
  id: number;
  login: string;
  passwordHash: string;
  role: Role;
  createdAt: number;
  /** Lower-cased mail address, or null: mail clients log in with it as well as with the login. */
  email: string | null;
}

export interface CredentialRow {
  id: number;
  accountId: number;
  kind: CredentialKind;
  description: string;
  locator: string;
  secretHash: Buffer;
  createdAt: number;
  expiresAt: number | null;
  permissionsMode: PermissionsMode;
  permissions: string[];
  allowedIps: string[];
  scopes: string[] | null;
  platform: string | null;
  deviceId: string | null;
  lastUsedAt: number | null;
  /** The client address of the newest recorded use (for mail logins, the mail client's), or null. */
  lastUsedFrom: string | null;
  /** What the newest recorded use was for, or null. */
  lastUsedService: UseService | null;
}

/** Where a credential can be used: the JMAP API, the REST API, or a mail login (submission counts as smtp). */
export type UseService = 'jmap' | 'rest' | 'imap' | 'pop3' | 'smtp';
export const USE_SERVICES: readonly UseService[] = ['jmap', 'rest', 'imap', 'pop3', 'smtp'];

/** One use of a credential: unix seconds, client address, service. */
export interface CredentialUse {
  at: number;
  from: string | null;
  /** null when the caller did not say (a mail server that names no service). */
  service: UseService | null;
}

export type NewCredential = Omit<CredentialRow, 'id' | 'lastUsedAt' | 'lastUsedFrom' | 'lastUsedService'>;
export type CredentialChanges = Partial<Pick<CredentialRow, 'description' | 'expiresAt' | 'permissionsMode' | 'permissions' | 'allowedIps' | 'scopes'>>;

/** Credential filters the store evaluates in SQL; dates are unix seconds. */
export interface DateCondition {
  field: 'expiresAt' | 'createdAt';
  op: 'eq' | 'gt' | 'gte' | 'lt' | 'lte';
  value: number;
}
export type CredentialFilter =
  | { operator: 'AND' | 'OR' | 'NOT'; conditions: CredentialFilter[] }
  | { condition: DateCondition };
export interface CredentialSort {
  property: 'id' | 'createdAt' | 'expiresAt' | 'description';
  isAscending: boolean;
  caseSensitive?: boolean;
}

export interface ChangeRow {
  seq: number;
  recordId: number;
  op: 'created' | 'updated' | 'destroyed';
}

export type AuditType =
  | 'credential.created' | 'credential.updated' | 'credential.rotated' | 'credential.destroyed' | 'credential.leaked'
  | 'account.created' | 'account.passwordChanged' | 'account.deleted'
  | 'web.signIn' | 'web.signOut';
export const AUDIT_TYPES: readonly AuditType[] = [
  'credential.created', 'credential.updated', 'credential.rotated', 'credential.destroyed', 'credential.leaked',
  'account.created', 'account.passwordChanged', 'account.deleted', 'web.signIn', 'web.signOut',
];

/** One audit event; `at` is unix seconds; details never hold a secret. */
export interface AuditRow {
  id: number;
  at: number;
  type: AuditType;
  accountId: number | null;
  credentialId: number | null;
  credentialKind: CredentialKind | null;
  actorAccountId: number | null;
  actorCredentialId: number | null;
  clientAddress: string | null;
  via: string;
  details: Record<string, unknown>;
}
export type NewAuditEvent = Omit<AuditRow, 'id'>;

/** Which audit events a query reads; every given field must match (accountId null: every account). */
export interface AuditFilter {
  accountId: number | null;
  credentialId?: number;
  types?: readonly AuditType[];
  /** Unix seconds, inclusive lower and exclusive upper bound. */
  after?: number;
  before?: number;
}

/** A webhook event to deliver (src/webhooks/); `eventId` is its webhook-id, unique in the outbox. */
export interface NewWebhookDelivery {
  eventId: string;
  type: string;
  /** The JSON body: never a secret. */
  payload: string;
  createdAt: number;
  /** When the first attempt is due (unix seconds). */
  nextAttemptAt: number;
}
export interface WebhookDelivery extends NewWebhookDelivery {
  id: number;
  /** Attempts made before this one. */
  attempts: number;
  /** This claim's lease end: the settle names it, so a node whose lease ran out cannot settle another's claim. */
  claimedUntil: number;
}
/** How an attempt ended: delivered, or failed with the next attempt due then (null: given up). */
export type WebhookOutcome =
  | { delivered: true; at: number; status: number }
  | { delivered: false; nextAttemptAt: number | null; status: number | null; error: string };
export interface WebhookBacklog { pending: number; delivered: number; failed: number }
/** Something noticed once about a credential (an address it was used from, an expiry warned of). */
export interface CredentialNote { credentialId: number; topic: 'address' | 'expiring' | 'expired'; value: string; at: number }

/** One web sign-in (unix seconds). */
export interface WebSessionRow {
  id: string;
  accountId: number;
  authTime: number;
  expiresAt: number;
}

/** An insert refused because the account already holds its quota of this kind. */
export const OVER_QUOTA = 'overQuota' as const;

/**
 * The data operations. The same surface serves calls outside any transaction (each one atomic on its own) and
 * calls inside `Store.transaction` (made through the `tx` handed to the callback, they join it).
 */
export interface StoreOps {
  countAccounts(): Promise<number>;
  accountById(id: number): Promise<AccountRow | undefined>;
  accountByLogin(login: string): Promise<AccountRow | undefined>;
  /** The account with this mail address (compared lower-cased). */
  accountByEmail(email: string): Promise<AccountRow | undefined>;
  listAccounts(): Promise<AccountRow[]>;
  /** `email` is stored lower-cased; undefined when the login or the address is taken. */
  createAccount(account: Omit<AccountRow, 'id' | 'email'> & { email?: string | null }): Promise<AccountRow | undefined>;
  /** false when there is no such account; a taken address throws. */
  setAccountEmail(id: number, email: string | null): Promise<boolean>;
  setAccountPassword(id: number, passwordHash: string): Promise<boolean>;
  deleteAccount(id: number): Promise<boolean>;

  credentialByLocator(locator: string): Promise<CredentialRow | undefined>;
  credentials(accountId: number, kind: CredentialKind, ids: readonly number[] | null): Promise<CredentialRow[]>;
  countCredentials(accountId: number, kind: CredentialKind): Promise<number>;
  /**
   * Each write below also appends to the account's change log, atomically with the write. An insert is refused
   * with OVER_QUOTA when the account already holds `quota` credentials of the kind, counted and inserted as one
   * step (exact with concurrent writers, on every node); `replacing` credentials about to be destroyed by the same
   * transaction are not counted.
   */
  insertCredential(credential: NewCredential, quota: number, replacing?: number): Promise<CredentialRow | typeof OVER_QUOTA>;
  /**
   * Inserts credentials of ONE account and kind, in the order given, as one step (one /set's creates): the quota
   * is counted once, the first ones that fit are inserted, each with its change-log entry (positions in this
   * order), and the rest come back as OVER_QUOTA, in their places. Exact with concurrent writers, as above.
   * A failure leaves none of the rows behind. Inside a transaction it may fail the transaction too (SQLite takes
   * no savepoint for it, so that transaction rolls back whole even if the caller catches the error and goes on).
   */
  insertCredentials(list: readonly NewCredential[], quota: number): Promise<(CredentialRow | typeof OVER_QUOTA)[]>;
  updateCredential(accountId: number, kind: CredentialKind, id: number, changes: CredentialChanges): Promise<boolean>;
  deleteCredential(accountId: number, kind: CredentialKind, id: number): Promise<boolean>;
  /**
   * Records each credential's last use: time, address and service are written together, and only when the use is
   * not older than the stored one, so a late write (another node's) never moves them back. Not a change clients track.
   */
  touchLastUsed(uses: ReadonlyMap<number, CredentialUse>): Promise<void>;

  /**
   * The account's change-log position for this kind (0 when none): grows with every change of the account's records
   * of this kind, in commit order, whichever node wrote them.
   */
  state(accountId: number, kind: CredentialKind): Promise<number>;
  /** Changes after `seq`, oldest first (seq values are the account's own positions). */
  changesSince(accountId: number, kind: CredentialKind, seq: number, maxRows: number): Promise<ChangeRow[]>;

  queryCount(accountId: number, kind: CredentialKind, filter: CredentialFilter | null): Promise<number>;
  queryIndexOf(accountId: number, kind: CredentialKind, filter: CredentialFilter | null, sort: readonly CredentialSort[], id: number): Promise<number | undefined>;
  queryPage(accountId: number, kind: CredentialKind, filter: CredentialFilter | null, sort: readonly CredentialSort[], offset: number, limit: number): Promise<number[]>;

  /** Web sign-ins: a row per sign-in; deleting it ends every cookie issued for it. */
  createWebSession(session: WebSessionRow): Promise<void>;
  /** The sign-in, if it exists and has not expired at `now` (unix seconds). */
  webSession(id: string, now: number): Promise<WebSessionRow | undefined>;
  endWebSession(id: string): Promise<boolean>;
  /** Ends every sign-in of the account (password change); returns how many. */
  endAccountWebSessions(accountId: number): Promise<number>;

  /**
   * Fixed-window counters (failure throttles, rate limits), shared by every node on the database.
   * `hitCounter` adds one to the key's window, opening a new one of `windowMs` when none is open at `nowMs`,
   * atomically, and returns the new count and when the window resets (unix ms). `peekCounter` reads it (count 0
   * when no window is open). Expired windows are removed by `pruneCounters`.
   */
  hitCounter(key: string, windowMs: number, nowMs: number): Promise<{ count: number; resetAt: number }>;
  /** `hitCounter` for several keys at once (a rate limit per account and per address), in their order. */
  hitCounters(keys: readonly string[], windowMs: number, nowMs: number): Promise<{ count: number; resetAt: number }[]>;
  peekCounter(key: string, nowMs: number): Promise<{ count: number; resetAt: number }>;
  pruneCounters(nowMs: number): Promise<number>;

  /** Stores a one-time link's sealed payload until `expiresAt` (unix seconds); expired links are dropped now. */
  putOneTimeLink(id: string, payload: Buffer, expiresAt: number, now: number): Promise<void>;
  /** The payload of an unexpired link, without using it up (HEAD, link previews). */
  peekOneTimeLink(id: string, now: number): Promise<Buffer | undefined>;
  /** Removes and returns the payload, atomically: of concurrent takes on any nodes, one gets it. */
  takeOneTimeLink(id: string, now: number): Promise<Buffer | undefined>;

  /** Every credential of every account, by kind (for metrics). */
  credentialTotals(): Promise<Record<CredentialKind, number>>;

  /** Named settings of the database (e.g. the server secret's check value). */
  getMeta(name: string): Promise<string | undefined>;
  setMeta(name: string, value: string): Promise<void>;

  /** Appends an audit event; call it inside the transaction of the change it describes. */
  appendAudit(event: NewAuditEvent): Promise<void>;
  auditByIds(filter: AuditFilter, ids: readonly number[]): Promise<AuditRow[]>;
  countAudit(filter: AuditFilter): Promise<number>;
  /** Ids of the matching events, newest first unless ascending. */
  queryAudit(filter: AuditFilter, ascending: boolean, offset: number, limit: number): Promise<number[]>;
  /** Position of `id` among queryAudit's results, or undefined. */
  auditIndexOf(filter: AuditFilter, ascending: boolean, id: number): Promise<number | undefined>;
  /** The newest event id matching the filter (0 when none): the audit "state". */
  maxAuditId(filter: AuditFilter): Promise<number>;
  /** Deletes at most `max` events older than `before` (unix seconds), oldest first; returns how many. */
  pruneAudit(before: number, max: number): Promise<number>;
  /** At most `limit` events with ids above `afterId`, oldest first (every account). */
  auditAfter(afterId: number, limit: number): Promise<AuditRow[]>;

  /** The webhook outbox. Adds the deliveries whose eventId is not there yet; returns how many were added. */
  enqueueWebhooks(deliveries: readonly NewWebhookDelivery[]): Promise<number>;
  /**
   * Claims at most `limit` deliveries due at `now` and not claimed by anyone (or whose claim ran out), until
   * `until`, as one atomic step: of nodes claiming at once, each delivery goes to one.
   */
  claimWebhooks(now: number, until: number, limit: number): Promise<WebhookDelivery[]>;
  /** Records an attempt's outcome, if the claim is still this one's; false otherwise. */
  settleWebhook(id: number, claimedUntil: number, outcome: WebhookOutcome): Promise<boolean>;
  /** Deletes at most `max` settled (delivered or given up) deliveries made before `before`; returns how many. */
  pruneWebhooks(before: number, max: number): Promise<number>;
  webhookBacklog(): Promise<WebhookBacklog>;
  /**
   * Credentials whose expiry lies in (from, to] and that carry no note of `topic` for that expiry, soonest first:
   * the ones the expiry scan has still to announce.
   */
  credentialsToWarn(topic: 'expiring' | 'expired', from: number, to: number, limit: number): Promise<CredentialRow[]>;
  /**
   * Records the note and, only when it is new, queues `delivery` with it, atomically; true when new. A credential
   * that no longer exists is not noted (false).
   */
  noteOnce(note: CredentialNote, delivery: NewWebhookDelivery): Promise<boolean>;
}

export interface Store extends StoreOps {
  readonly engine: 'sqlite' | 'postgres';
  /**
   * Runs `fn` as one transaction: the calls it makes through `tx` join it, a throw rolls it all back. Calls made on
   * the store itself meanwhile are not part of it.
   */
  transaction<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /**
   * A number that changes whenever accounts or credentials may have changed, through this node or any other
   * writing the same database. What is cached under one version is valid while the version holds; when the store
   * cannot know (PostgreSQL's notification connection is down), every call returns a new number, so nothing cached
   * is trusted. Last-use stamps do not change it.
   */
  version(): number;
  /**
   * A consistent copy of the whole database in `file` (which must not exist), taken while serving. SQLite only:
   * PostgreSQL is backed up with its own tools (pg_dump), and says so.
   */
  backup(file: string): Promise<void>;
}

export { StoreUnavailableError, type StoreFailure } from './errors.js';
