import type { CredentialRow } from './store.js';

/** The JSON-array columns of a credential row as stored (text), for both engines. */
interface StoredSets {
  permissions: string;
  allowedIps: string;
  scopes: string | null;
}

/** A stored credential row with its set-valued columns parsed: the same on SQLite and PostgreSQL. */
export function credentialFromColumns<R extends StoredSets>(r: R): Omit<R, keyof StoredSets> & Pick<CredentialRow, keyof StoredSets> {
  return {
    ...r,
    permissions: JSON.parse(r.permissions) as string[],
    allowedIps: JSON.parse(r.allowedIps) as string[],
    scopes: r.scopes === null ? null : (JSON.parse(r.scopes) as string[]),
  };
}
