import { existsSync } from 'node:fs';
import { generatePassword, hashPassword } from '../auth/passwords.js';
import { TokenHasher } from '../auth/tokens.js';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { openSqliteStore } from '../db/sqlite.js';
import type { AccountRow, Role, Store } from '../db/store.js';
import { audit, CLI_ACTOR } from '../audit/record.js';
import { issueAccountKey } from '../credentials/issue.js';
import { loadServerSecret } from '../secret.js';
import { encodeId } from '../util/ids.js';
import { formatUtcDate, nowSeconds, parseUtcDate } from '../util/utcdate.js';
import { CliError, EXIT, UsageError } from './errors.js';
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
  if (mustExist && !existsSync(config.dbFile)) {
    throw new UsageError(`no database at ${config.dbFile} (set --data, --db or JMAP_KEYS_DATA)`);
  }
  const store = openSqliteStore(config.dbFile, { synchronous: config.sqliteSynchronous });
  try {
    return await fn(store, config);
  } finally {
    store.close();
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

function requireAccount(store: Store, login: string): AccountRow {
  const account = store.accountByLogin(login);
  if (!account) throw new CliError(`no account "${login}"`, EXIT.failed);
  return account;
}

export async function accountCreate(env: NodeJS.ProcessEnv, flags: LocalFlags & { role: Role; password?: string }, login: string, out: Output): Promise<void> {
  checkLogin(login);
  const given = checkPassword(flags.password);
  const password = given ?? generatePassword();
  const passwordHash = await hashPassword(password);
  await withStore(env, flags, false, (store) => {
    const account = store.transaction(() => {
      if (store.accountByLogin(login)) return undefined;
      const made = store.createAccount({ login, passwordHash, role: flags.role, createdAt: nowSeconds() });
      audit(store, { type: 'account.created', accountId: made.id, details: { login, role: flags.role } }, CLI_ACTOR);
      return made;
    });
    if (!account) throw new CliError(`account "${login}" already exists`, EXIT.failed);
    out.out(`Created account ${login} (${account.role}, id ${encodeId(account.id)})`);
    if (given === undefined) {
      out.out(`Password: ${password}`);
      out.err('The password is shown only once: store it now.');
    }
  });
}

export async function accountList(env: NodeJS.ProcessEnv, flags: LocalFlags & { json?: boolean }, out: Output): Promise<void> {
  await withStore(env, flags, true, (store) => {
    const rows = store.listAccounts().map((a) => ({
      id: encodeId(a.id), login: a.login, role: a.role, createdAt: formatUtcDate(a.createdAt),
      apiKeys: store.countCredentials(a.id, 'apiKey'), appPasswords: store.countCredentials(a.id, 'appPassword'),
    }));
    if (flags.json) out.out(json(rows));
    else if (rows.length === 0) out.out('No accounts.');
    else out.out(renderTable(['id', 'login', 'role', 'createdAt', 'apiKeys', 'appPasswords'], rows, out.isTty));
  });
}

export async function accountPasswd(env: NodeJS.ProcessEnv, flags: LocalFlags & { password?: string }, login: string, out: Output): Promise<void> {
  const given = checkPassword(flags.password);
  const password = given ?? generatePassword();
  const passwordHash = await hashPassword(password);
  await withStore(env, flags, true, (store) => {
    const account = requireAccount(store, login);
    store.transaction(() => {
      store.setAccountPassword(account.id, passwordHash);
      audit(store, { type: 'account.passwordChanged', accountId: account.id, details: { login } }, CLI_ACTOR);
    });
    out.out(`Changed the password of ${login}`);
    if (given === undefined) {
      out.out(`Password: ${password}`);
      out.err('The password is shown only once: store it now.');
    }
  });
}

export async function accountDelete(env: NodeJS.ProcessEnv, flags: LocalFlags & { force?: boolean }, login: string, out: Output): Promise<void> {
  await withStore(env, flags, true, (store) => {
    const account = requireAccount(store, login);
    const admins = store.listAccounts().filter((a) => a.role === 'admin').length;
    if (account.role === 'admin' && admins === 1 && !flags.force) {
      throw new CliError(`"${login}" is the last admin account; add --force to delete it anyway`, EXIT.failed);
    }
    const keys = store.countCredentials(account.id, 'apiKey');
    const appPasswords = store.countCredentials(account.id, 'appPassword');
    store.transaction(() => {
      store.deleteAccount(account.id);
      audit(store, { type: 'account.deleted', accountId: account.id, details: { login, role: account.role, apiKeys: keys, appPasswords } }, CLI_ACTOR);
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
  await withStore(env, flags, true, (store, config) => {
    const account = requireAccount(store, flags.login);
    // Checked against the database like the server does: never a key hashed with a stray new secret.
    const hasher = new TokenHasher(loadServerSecret(config, store));
    const issued = store.transaction(() => {
      if (store.countCredentials(account.id, 'apiKey') >= config.maxKeysPerAccount) return undefined;
      return issueAccountKey(store, hasher, account.id, description, expiresAt, CLI_ACTOR);
    });
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

/** `serve`: what `npm start` does, with any server setting as --name value. Resolves once listening. */
export async function serve(env: NodeJS.ProcessEnv, argv: readonly string[], out: Output): Promise<void> {
  const config = configFrom(env, argv);
  // Loaded here: the other local commands need neither the HTTP server, nor the logger, nor the metrics.
  const { runServer } = await import('../run.js');
  await runServer(config, out, (key) => [`export JMAP_KEYS_TOKEN=${key}`, `jmap-keys query api-key --url ${config.publicUrl}`]);
}
