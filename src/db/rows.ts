import type { CredentialKind, CredentialRow, NewCredential } from './store.js';

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

/** The one account and kind of a batch of new credentials (insertCredentials); a mixed batch is a bug. */
export function sameAccountAndKind(list: readonly NewCredential[]): { accountId: number; kind: CredentialKind } {
  const { accountId, kind } = list[0]!;
  if (list.some((c) => c.accountId !== accountId || c.kind !== kind)) throw new Error('insertCredentials: one account and kind per call');
  return { accountId, kind };
}
