import { generatePassword, hashPassword } from './auth/passwords.js';
import { audit, SERVER_ACTOR } from './audit/record.js';
import { issueAccountKey } from './credentials/issue.js';
import type { Services } from './services.js';
import { nowSeconds } from './util/utcdate.js';

export interface BootstrapResult {
  login: string;
  password: string;
  generatedPassword: boolean;
  apiKey: string;
}

/** On the very first start (no accounts yet): an `admin` account and one admin API key. */
export async function bootstrapAdmin(services: Services, adminPassword: string | undefined): Promise<BootstrapResult | undefined> {
  const { store, hasher } = services;
  if (await store.countAccounts() > 0) return undefined;
  const password = adminPassword ?? generatePassword();
  const passwordHash = await hashPassword(password);
  // Several nodes may start at once on one database: only the first to commit creates the admin.
  return store.transaction(async (tx) => {
    if (await tx.countAccounts() > 0) return undefined;
    const account = await tx.createAccount({ login: 'admin', passwordHash, role: 'admin', createdAt: nowSeconds() });
    if (!account) return undefined;
    await audit(tx, { type: 'account.created', accountId: account.id, details: { login: 'admin', role: 'admin' } }, SERVER_ACTOR);
    const issued = await issueAccountKey(tx, hasher, account.id, 'Bootstrap admin key', SERVER_ACTOR);
    if (!issued) throw new Error('bootstrap: the admin key was refused');
    return { login: 'admin', password, generatedPassword: adminPassword === undefined, apiKey: issued.token };
  });
}
