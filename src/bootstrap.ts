import { generatePassword, hashPassword } from './auth/passwords.js';
import { audit } from './audit/record.js';
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
  if (store.countAccounts() > 0) return undefined;
  const password = adminPassword ?? generatePassword();
  const passwordHash = await hashPassword(password);
  return store.transaction(() => {
    if (store.countAccounts() > 0) return undefined;
    const account = store.createAccount({ login: 'admin', passwordHash, role: 'admin', createdAt: nowSeconds() });
    audit(store, { type: 'account.created', accountId: account.id, details: { login: 'admin', role: 'admin' } });
    const issued = issueAccountKey(store, hasher, account.id, 'Bootstrap admin key');
    return { login: 'admin', password, generatedPassword: adminPassword === undefined, apiKey: issued.token };
  });
}
