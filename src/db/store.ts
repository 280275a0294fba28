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
}

export type NewCredential = Omit<CredentialRow, 'id' | 'lastUsedAt'>;
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
  | 'credential.created' | 'credential.updated' | 'credential.rotated' | 'credential.destroyed'
  | 'account.created' | 'account.passwordChanged' | 'account.deleted'
  | 'web.signIn' | 'web.signOut';
export const AUDIT_TYPES: readonly AuditType[] = [
  'credential.created', 'credential.updated', 'credential.rotated', 'credential.destroyed',
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

export interface Store {
  transaction<T>(fn: () => T): T;
  close(): void;
  /**
   * A number that changes whenever accounts or credentials may have changed, through this store or through
   * another process writing the same database (the CLI's local commands do). What is cached under one version is
   * valid while the version holds. Last-use stamps do not change it.
   */
  version(): number;

  countAccounts(): number;
  accountById(id: number): AccountRow | undefined;
  accountByLogin(login: string): AccountRow | undefined;
  listAccounts(): AccountRow[];
  createAccount(account: Omit<AccountRow, 'id'>): AccountRow;
  setAccountPassword(id: number, passwordHash: string): boolean;
  deleteAccount(id: number): boolean;

  credentialByLocator(locator: string): CredentialRow | undefined;
  credentials(accountId: number, kind: CredentialKind, ids: readonly number[] | null): CredentialRow[];
  countCredentials(accountId: number, kind: CredentialKind): number;
  /** Each write below also appends to the change log, in the same transaction. */
  insertCredential(credential: NewCredential): CredentialRow;
  updateCredential(accountId: number, kind: CredentialKind, id: number, changes: CredentialChanges): boolean;
  deleteCredential(accountId: number, kind: CredentialKind, id: number): boolean;
  /** Records last use; not a change clients track (no change-log row). */
  touchLastUsed(uses: ReadonlyMap<number, number>): void;

  /** Latest change-log sequence number for the account's records of this kind (0 when none). */
  state(accountId: number, kind: CredentialKind): number;
  /** The newest sequence number of the whole log: no valid state is above it. */
  maxSeq(): number;
  changesSince(accountId: number, kind: CredentialKind, seq: number, maxRows: number): ChangeRow[];

  queryCount(accountId: number, kind: CredentialKind, filter: CredentialFilter | null): number;
  queryIndexOf(accountId: number, kind: CredentialKind, filter: CredentialFilter | null, sort: readonly CredentialSort[], id: number): number | undefined;
  queryPage(accountId: number, kind: CredentialKind, filter: CredentialFilter | null, sort: readonly CredentialSort[], offset: number, limit: number): number[];

  /** Every credential of every account, by kind (for metrics). */
  credentialTotals(): Record<CredentialKind, number>;

  /** Named settings of the database (e.g. the server secret's check value). */
  getMeta(name: string): string | undefined;
  setMeta(name: string, value: string): void;

  /** Appends an audit event; call it inside the transaction of the change it describes. */
  appendAudit(event: NewAuditEvent): void;
  auditByIds(filter: AuditFilter, ids: readonly number[]): AuditRow[];
  countAudit(filter: AuditFilter): number;
  /** Ids of the matching events, newest first unless ascending. */
  queryAudit(filter: AuditFilter, ascending: boolean, offset: number, limit: number): number[];
  /** Position of `id` among queryAudit's results, or undefined. */
  auditIndexOf(filter: AuditFilter, ascending: boolean, id: number): number | undefined;
  /** The newest event id matching the filter (0 when none): the audit "state". */
  maxAuditId(filter: AuditFilter): number;
  /** Deletes at most `max` events older than `before` (unix seconds), oldest first; returns how many. */
  pruneAudit(before: number, max: number): number;

  /** A consistent copy of the whole database in `file` (which must not exist), taken while serving. */
  backup(file: string): void;
}
