import { existsSync } from 'node:fs';
import { generatePassword, hashPassword } from '../auth/passwords.js';
import { accountForName } from '../auth/identity.js';
import { TokenHasher } from '../auth/tokens.js';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { openStore } from '../db/open.js';
import type { AccountRow, Role, Store } from '../db/store.js';
import { audit, CLI_ACTOR } from '../audit/record.js';
import { issueAccountKey } from '../credentials/issue.js';
import { revokeAll } from '../credentials/revoke-all.js';
import { checkedServerSecret } from '../secret.js';
import { encodeId } from '../util/ids.js';
import { formatUtcDate, nowSeconds, parseUtcDate } from '../util/utcdate.js';
import { CliError, EXIT, UsageError } from './errors.js';
import { parseKinds, plural } from './lifecycle.js';
import { json, renderTable, type Output } from './output.js';

/**
 * Local admin commands: they open the database directly (same settings as the server: JMAP_KEYS_* or
 * --data/--db), for bootstrapping and recovery without a running server.
 */
export interface LocalFlags {
  data?: string;
  db?: string;
}

const MIN_PASSWORD = 8;

/** The server's configuration from the environment plus the given --name value flags. */
export function configFrom(env: NodeJS.ProcessEnv, argv: readonly string[]): Config {
  try {
    return loadConfig(env, argv);
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
}

function flagArgs(flags: LocalFlags): string[] {
  const args: string[] = [];
  if (flags.data !== undefined) args.push('--data', flags.data);
  if (flags.db !== undefined) args.push('--db', flags.db);
  return args;
}

/** Opens the store for one command and closes it after; `mustExist` refuses to create a new database. */
export async function withStore<T>(env: NodeJS.ProcessEnv, flags: LocalFlags, mustExist: boolean, fn: (store: Store, config: Config) => Promise<T> | T): Promise<T> {
  const config = configFrom(env, flagArgs(flags));
  if (mustExist && !config.databaseUrl && !existsSync(config.dbFile)) {
    throw new UsageError(`no database at ${config.dbFile} (set --data, --db or JMAP_KEYS_DATA)`);
  }
  const store = await openStore(config);
  try {
    return await fn(store, config);
  } finally {
    await store.close();
  }
}

function checkLogin(login: string): void {
  // Basic auth splits on the first colon, so a login may not contain one.
  if (login.length === 0 || login.length > 256 || /[:\s\p{Cc}]/u.test(login)) {
    throw new UsageError(`login "${login}": 1 to 256 characters, no spaces, colons or control characters`);
  }
}

function checkPassword(password: string | undefined): string | undefined {
  if (password !== undefined && password.length < MIN_PASSWORD) throw new UsageError(`--password: at least ${MIN_PASSWORD} characters`);
  return password;
}

async function requireAccount(store: Store, login: string): Promise<AccountRow> {
  const account = await store.accountByLogin(login);
  if (!account) throw new CliError(`no account "${login}"`, EXIT.failed);
  return account;
}

/** A mail address as accounts store it: lower-cased, one @, no spaces or control characters. */
function checkEmail(email: string | undefined): string | undefined {
  if (email === undefined) return undefined;
  if (email.length > 254 || !/^[^@\s:\p{Cc}]+@[^@\s:\p{Cc}]+\.[^@\s:\p{Cc}]+$/u.test(email)) {
    throw new UsageError(`--email "${email}": a mail address such as alice@example.com`);
  }
  return email.toLowerCase();
}

export async function accountCreate(env: NodeJS.ProcessEnv, flags: LocalFlags & { role: Role; password?: string; email?: string }, login: string, out: Output): Promise<void> {
  checkLogin(login);
  const email = checkEmail(flags.email);
  const given = checkPassword(flags.password);
  const password = given ?? generatePassword();
  const passwordHash = await hashPassword(password);
  await withStore(env, flags, false, async (store) => {
    const account = await store.transaction(async (tx) => {
      // Logins and addresses are one namespace for mail clients: neither may name another account.
      if (await accountForName(tx, login)) return `account "${login}" already exists`;
      if (email !== undefined && email !== login.toLowerCase() && await accountForName(tx, email)) return `the address ${email} already names an account`;
      const made = await tx.createAccount({ login, passwordHash, role: flags.role, createdAt: nowSeconds(), email: email ?? null });
      if (!made) return `account "${login}" already exists`;
      await audit(tx, { type: 'account.created', accountId: made.id, details: { login, role: flags.role, email: made.email } }, CLI_ACTOR);
      return made;
    });
    if (typeof account === 'string') throw new CliError(account, EXIT.failed);
    out.out(`Created account ${login}${account.email ? ` <${account.email}>` : ''} (${account.role}, id ${encodeId(account.id)})`);
    if (given === undefined) {
      out.out(`Password: ${password}`);
      out.err('The password is shown only once: store it now.');
    }
  });
}

export async function accountList(env: NodeJS.ProcessEnv, flags: LocalFlags & { json?: boolean }, out: Output): Promise<void> {
  await withStore(env, flags, true, async (store) => {
    const rows = [];
    for (const a of await store.listAccounts()) {
      rows.push({
        id: encodeId(a.id), login: a.login, email: a.email, role: a.role, createdAt: formatUtcDate(a.createdAt),
        apiKeys: await store.countCredentials(a.id, 'apiKey'), appPasswords: await store.countCredentials(a.id, 'appPassword'),
      });
    }
    if (flags.json) out.out(json(rows));
    else if (rows.length === 0) out.out('No accounts.');
    else out.out(renderTable(['id', 'login', 'email', 'role', 'createdAt', 'apiKeys', 'appPasswords'], rows, out.isTty));
  });
}

/** Sets (or, without an address, removes) an account's mail address: its mail user name from then on. */
export async function accountEmail(env: NodeJS.ProcessEnv, flags: LocalFlags, login: string, address: string | undefined, out: Output): Promise<void> {
  const email = checkEmail(address);
  await withStore(env, flags, true, async (store) => {
    const account = await requireAccount(store, login);
    const outcome = await store.transaction(async (tx) => {
      const other = email === undefined ? undefined : await accountForName(tx, email);
      if (other && other.id !== account.id) return `the address ${email} already names another account`;
      await tx.setAccountEmail(account.id, email ?? null);
      return undefined;
    });
    if (outcome) throw new CliError(outcome, EXIT.failed);
    out.out(email ? `${login} now has the address ${email}: mail apps log in with it` : `${login} has no address now: mail apps log in with ${login}`);
  });
}

export async function accountPasswd(env: NodeJS.ProcessEnv, flags: LocalFlags & { password?: string; revokeCredentials?: boolean }, login: string, out: Output): Promise<void> {
  const given = checkPassword(flags.password);
  const password = given ?? generatePassword();
  const passwordHash = await hashPassword(password);
  await withStore(env, flags, true, async (store) => {
    const account = await requireAccount(store, login);
    // The new password and, with --revoke-credentials, the end of every API key and app password: one transaction.
    const revoked = await store.transaction(async (tx) => {
      await tx.setAccountPassword(account.id, passwordHash);
      await audit(tx, { type: 'account.passwordChanged', accountId: account.id, details: { login, ...(flags.revokeCredentials ? { revokeCredentials: true } : {}) } }, CLI_ACTOR);
      if (!flags.revokeCredentials) return undefined;
      const options = { accountId: account.id, reason: 'passwordChange', internal: true, spare: null, actor: CLI_ACTOR } as const;
      return [(await revokeAll(tx, { ...options, kind: 'apiKey' })).revoked.length, (await revokeAll(tx, { ...options, kind: 'appPassword' })).revoked.length];
    });
    out.out(`Changed the password of ${login}`);
    if (revoked) out.out(`Revoked ${revoked[0]} API key${revoked[0] === 1 ? '' : 's'} and ${revoked[1]} app password${revoked[1] === 1 ? '' : 's'}`);
    if (given === undefined) {
      out.out(`Password: ${password}`);
      out.err('The password is shown only once: store it now.');
    }
  });
}

export async function accountDelete(env: NodeJS.ProcessEnv, flags: LocalFlags & { force?: boolean }, login: string, out: Output): Promise<void> {
  await withStore(env, flags, true, async (store) => {
    const account = await requireAccount(store, login);
    const admins = (await store.listAccounts()).filter((a) => a.role === 'admin').length;
    if (account.role === 'admin' && admins === 1 && !flags.force) {
      throw new CliError(`"${login}" is the last admin account; add --force to delete it anyway`, EXIT.failed);
    }
    const keys = await store.countCredentials(account.id, 'apiKey');
    const appPasswords = await store.countCredentials(account.id, 'appPassword');
    await store.transaction(async (tx) => {
      await tx.deleteAccount(account.id);
      await audit(tx, { type: 'account.deleted', accountId: account.id, details: { login, role: account.role, apiKeys: keys, appPasswords } }, CLI_ACTOR);
    });
    out.out(`Deleted account ${login} with ${keys} API key${keys === 1 ? '' : 's'} and ${appPasswords} app password${appPasswords === 1 ? '' : 's'}`);
  });
}

export interface KeyCreateFlags extends LocalFlags {
  login: string;
  description: string;
  expiresAt?: string;
  json?: boolean;
}

/** An API key for an account (a first admin key, or a lost one replaced), hashed with the server's secret. */
export async function keyCreate(env: NodeJS.ProcessEnv, flags: KeyCreateFlags, out: Output): Promise<void> {
  const expiresAt = flags.expiresAt === undefined ? null : parseUtcDate(flags.expiresAt);
  if (expiresAt === undefined) throw new UsageError(`--expires-at ${flags.expiresAt}: expected a UTCDate like 2026-01-01T00:00:00Z`);
  const description = flags.description.trim();
  if (description.length === 0 || description.length > 1000) throw new UsageError('--description: 1 to 1000 characters');
  await withStore(env, flags, true, async (store, config) => {
    const account = await requireAccount(store, flags.login);
    // Checked against the database like the server does: never a key hashed with a stray new secret.
    const hasher = new TokenHasher(await checkedServerSecret(config, store));
    const issued = await store.transaction((tx) => issueAccountKey(tx, hasher, account.id, description, CLI_ACTOR, expiresAt, config.maxKeysPerAccount));
    if (!issued) throw new CliError(`${flags.login} already has ${config.maxKeysPerAccount} API keys (JMAP_KEYS_MAX_KEYS_PER_ACCOUNT)`, EXIT.failed);
    const id = encodeId(issued.row.id);
    if (flags.json) {
      out.out(json({ id, login: account.login, description, secret: issued.token, expiresAt: expiresAt === null ? null : formatUtcDate(expiresAt) }));
      return;
    }
    out.out(`Created ApiKey ${id} for ${account.login}`);
    out.out(`Secret: ${issued.token}`);
    out.err('The secret is shown only once: store it now.');
  });
}

/** `revoke-all KIND --login LOGIN`: every credential of the type of `login`, `internal` ones included (the database's operator may). */
export async function revokeAllLocal(env: NodeJS.ProcessEnv, flags: LocalFlags & { login: string; json?: boolean }, kinds: string, out: Output): Promise<void> {
  const { kind, noun } = parseKinds(kinds);
  await withStore(env, flags, true, async (store) => {
    const account = await store.accountByLogin(flags.login);
    if (!account) throw new CliError(`no account "${flags.login}"`, EXIT.failed);
    const done = await store.transaction((tx) => revokeAll(tx, { accountId: account.id, kind, reason: 'revokeAll', internal: true, spare: null, actor: CLI_ACTOR }));
    const ids = done.revoked.map((r) => encodeId(r.id));
    if (flags.json) out.out(json({ login: account.login, destroyed: ids }));
    else out.out(`Revoked ${plural(ids.length, noun)} of ${account.login}${ids.length > 0 ? ` (${ids.join(', ')})` : ''}`);
  });
}

/** `serve`: what `npm start` does, with any server setting as --name value. Resolves once listening. */
export async function serve(env: NodeJS.ProcessEnv, argv: readonly string[], out: Output): Promise<void> {
  const config = configFrom(env, argv);
  // Loaded here: the other local commands need neither the HTTP server, nor the logger, nor the metrics.
  const { runServer } = await import('../run.js');
  await runServer(config, out, (key) => [`export JMAP_KEYS_TOKEN=${key}`, `jmap-keys query api-key --url ${config.publicUrl}`]);
}
