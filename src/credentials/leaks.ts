import { audit, credentialDetails, type Actor } from '../audit/record.js';
import { parseToken, type TokenHasher } from '../auth/tokens.js';
import type { CredentialRow, Store } from '../db/store.js';

/** One entry of a leak report: the shape GitHub's secret-scanning partner program posts. */
export interface LeakReport {
  token: string;
  type: string;
  url: string;
  source: string;
}

/** A credential revoked because it was reported leaked (for the log; the reporter is told nothing of it). */
export interface RevokedLeak {
  credential: CredentialRow;
  login: string;
  report: LeakReport;
}

/**
 * Revokes every reported token that is a credential, each in its own transaction with its audit event, so it is
 * refused on every node at once. Anyone may report: holding a secret already allows using it, and revoking adds no
 * power over it. A token whose checksum fails, or that matches nothing, is skipped without a trace.
 */
export async function revokeLeaked(store: Store, hasher: TokenHasher, reports: readonly LeakReport[], actor: Actor): Promise<RevokedLeak[]> {
  const revoked: RevokedLeak[] = [];
  const seen = new Set<string>();
  for (const report of reports) {
    if (seen.has(report.token)) continue;
    seen.add(report.token);
    const parsed = parseToken(report.token);
    if (!parsed) continue;
    // Looked up first so that made-up tokens never open a write transaction; checked again inside it.
    const found = await store.credentialByLocator(parsed.locator);
    if (!found || found.kind !== parsed.kind || !hasher.matches(report.token, found.secretHash)) continue;
    const done = await store.transaction(async (tx) => {
      const row = await tx.credentialByLocator(parsed.locator);
      if (!row || row.id !== found.id) return undefined;
      const account = await tx.accountById(row.accountId);
      if (!(await tx.deleteCredential(row.accountId, row.kind, row.id))) return undefined;
      const login = account?.login ?? '';
      // Everything an owner's notification needs; never the token.
      await audit(tx, {
        type: 'credential.leaked', accountId: row.accountId, credentialId: row.id, credentialKind: row.kind,
        details: { ...credentialDetails(row), login, url: report.url, source: report.source, reportedType: report.type, revoked: true },
      }, actor);
      return { credential: row, login, report };
    });
    if (done) revoked.push(done);
  }
  return revoked;
}
