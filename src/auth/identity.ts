import type { AccountRow, StoreOps } from '../db/store.js';

/**
 * The names an account logs in with: its login, and its mail address when it has one (mail clients set up
 * by autoconfig send the address). Compared lower-cased, as Dovecot lower-cases the names it passes on.
 */
export async function accountForName(store: StoreOps, name: string): Promise<AccountRow | undefined> {
  return (await store.accountByLogin(name)) ?? (name.includes('@') ? store.accountByEmail(name) : undefined);
}

export function namesAccount(account: AccountRow, name: string): boolean {
  const n = name.toLowerCase();
  return n === account.login.toLowerCase() || (account.email !== null && n === account.email);
}

/**
 * The account's one mail user name: its address when it has one, else its login. Mail servers key mailboxes by
 * the name a client logs in with, and Dovecot cannot tell jmap-keys which name that was, so introspection
 * answers with this name and every generated setting (autoconfig, profile, connection info) names it.
 */
export function mailUsername(account: AccountRow): string {
  return account.email ?? account.login;
}

/** The account's address, if it has one (its own, or a login that is an address). */
export function accountAddress(account: AccountRow): string | null {
  return account.email ?? (account.login.includes('@') ? account.login.toLowerCase() : null);
}

/**
 * The address mail settings show (Apple's profile requires one): the account's, a login that is an address,
 * or else login@<mail host>, which the user may correct on the device.
 */
export function mailAddress(account: AccountRow, mailHost: string): string {
  return accountAddress(account) ?? `${account.login}@${mailHost}`;
}
