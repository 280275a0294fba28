import type pg from 'pg';
import { credentialFromColumns } from './rows.js';
import type { AccountRow, CredentialKind, CredentialRow, PermissionsMode, UseService } from './store.js';

/**
 * The hot reads of the PostgreSQL store as named statements. node-postgres sends a named statement's text once per
 * connection (Parse) and afterwards only binds and executes it; PostgreSQL keeps its plan with the connection. That
 * takes drizzle's query building (about a sixth of a /get under load) and PostgreSQL's parse and plan out of every
 * request. Column lists are explicit, so a migration that adds a column leaves a kept statement's result unchanged.
 */
export interface Statement {
  name: string;
  text: string;
}

const CREDENTIAL_COLUMNS = `id, account_id, kind, description, locator, secret_hash, created_at, expires_at, permissions_mode,
  permissions, allowed_ips, scopes, platform, device_id, last_used_at, last_used_from, last_used_service`;

export const CREDENTIAL_BY_LOCATOR: Statement = { name: 'jk_credential_by_locator', text: `SELECT ${CREDENTIAL_COLUMNS} FROM credentials WHERE locator = $1` };
export const CREDENTIAL_BY_ID: Statement = {
  name: 'jk_credential_by_id', text: `SELECT ${CREDENTIAL_COLUMNS} FROM credentials WHERE account_id = $1 AND kind = $2 AND id = $3`,
};
export const ACCOUNT_BY_ID: Statement = { name: 'jk_account_by_id', text: 'SELECT id, login, password_hash, role, created_at, email FROM accounts WHERE id = $1' };
export const ACCOUNT_STATE: Statement = { name: 'jk_account_state', text: 'SELECT seq, n FROM account_states WHERE account_id = $1 AND kind = $2' };

/** A credential row as node-postgres gives it: bigint columns as strings, bytea as a Buffer. */
export interface RawCredentialRow {
  id: string; account_id: string; kind: CredentialKind; description: string; locator: string; secret_hash: Buffer;
  created_at: string; expires_at: string | null; permissions_mode: PermissionsMode; permissions: string; allowed_ips: string;
  scopes: string | null; platform: string | null; device_id: string | null; last_used_at: string | null;
  last_used_from: string | null; last_used_service: UseService | null;
}

const num = (v: string | null) => (v === null ? null : Number(v));

export function credentialFromRaw(r: RawCredentialRow): CredentialRow {
  return credentialFromColumns({
    id: Number(r.id), accountId: Number(r.account_id), kind: r.kind, description: r.description, locator: r.locator,
    secretHash: r.secret_hash, createdAt: Number(r.created_at), expiresAt: num(r.expires_at), permissionsMode: r.permissions_mode,
    permissions: r.permissions, allowedIps: r.allowed_ips, scopes: r.scopes, platform: r.platform, deviceId: r.device_id,
    lastUsedAt: num(r.last_used_at), lastUsedFrom: r.last_used_from, lastUsedService: r.last_used_service,
  });
}

export interface RawAccountRow { id: string; login: string; password_hash: string; role: AccountRow['role']; created_at: string; email: string | null }

export function accountFromRaw(r: RawAccountRow): AccountRow {
  return { id: Number(r.id), login: r.login, passwordHash: r.password_hash, role: r.role, createdAt: Number(r.created_at), email: r.email };
}

/** Distinct /query texts given a name; further shapes run unnamed, so no connection keeps an unbounded set of plans. */
const MAX_NAMED_QUERIES = 64;

/** PostgreSQL refuses a kept plan whose result columns a migration changed (e.g. a column's type). */
const planInvalidated = (err: unknown) => (err as { code?: unknown } | null)?.code === '0A000'
  && /cached plan must not change result type/.test((err as Error).message);

/**
 * The names in use. A statement whose kept plan PostgreSQL refuses (after a migration changed what it returns) is
 * asked again under a new name, which every connection then parses afresh; the old names are left unused.
 */
export class NamedStatements {
  private epoch = 0;
  private readonly queries = new Map<string, string>();

  /** The named statement for a rendered /query text, or undefined once MAX_NAMED_QUERIES shapes are named. */
  forQuery(text: string): Statement | undefined {
    let name = this.queries.get(text);
    if (name === undefined) {
      if (this.queries.size >= MAX_NAMED_QUERIES) return undefined;
      name = `jk_query_${this.queries.size}`;
      this.queries.set(text, name);
    }
    return { name, text };
  }

  async run<R extends pg.QueryResultRow>(q: pg.Pool | pg.PoolClient, s: Statement, values: unknown[]): Promise<pg.QueryResult<R>> {
    const at = this.epoch;
    try {
      return await q.query<R>({ name: `${s.name}_${at}`, text: s.text, values });
    } catch (err) {
      if (!planInvalidated(err)) throw err;
      if (this.epoch === at) this.epoch++;
      return q.query<R>({ name: `${s.name}_${this.epoch}`, text: s.text, values });
    }
  }
}
