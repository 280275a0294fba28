import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AuditPruner } from './audit/prune.js';
import { registerAuditMethods } from './audit/jmap-type.js';
import { Authenticator } from './auth/authenticator.js';
import { LastUsedRecorder } from './auth/last-used.js';
import { FailureThrottle } from './auth/throttle.js';
import { TokenHasher } from './auth/tokens.js';
import type { Config } from './config.js';
import { credentialType, STALWART_CAPABILITY } from './credentials/jmap-type.js';
import { StoreUnavailableError } from './db/errors.js';
import { openSqliteStore } from './db/sqlite.js';
import type { Store } from './db/store.js';
import type { AccountDirectory } from './jmap/context.js';
import { Metrics } from './http/metrics.js';
import { JmapServer } from './jmap/server.js';
import { errorFields, silentLogger, type Logger } from './log.js';
import { registerStandardMethods } from './jmap/standard/register.js';
import { decodeId } from './util/ids.js';

/** Everything the HTTP faces share, built once per process. */
export interface Services {
  config: Config;
  store: Store;
  hasher: TokenHasher;
  authenticator: Authenticator;
  lastUsed: LastUsedRecorder;
  jmap: JmapServer;
  log: Logger;
  metrics: Metrics;
  /** Set on SIGTERM: /readyz says 503 and answers close their connections while in-flight requests finish. */
  draining: boolean;
  close(): void;
}

/** Start-up refused: the server secret is missing or is not the one the database's credentials were hashed with. */
export class SecretMismatchError extends Error {}

/** Meta row holding HMAC(secret, fixed label): tells the right secret from a wrong one without storing it. */
const SECRET_CHECK = 'server-secret-check';
const secretCheck = (secret: Buffer) => createHmac('sha256', secret).update('jmap-keys server-secret check v1').digest('hex');

/**
 * The key that makes stored hashes useless without it: from JMAP_KEYS_SECRET, else a file in the data
 * folder created on first start (mode 0600). It lives outside the database on purpose. Given the store, the
 * secret is checked against the database's check value: a missing secret is only generated for a database
 * without credentials, and a different one stops start-up (every key would otherwise get a plain 401).
 */
export function loadServerSecret(config: Config, store?: Store): Buffer {
  const file = join(config.dataDir, 'server-secret');
  const where = config.secretHex ? 'JMAP_KEYS_SECRET' : file;
  let secret: Buffer | undefined;
  if (config.secretHex) secret = Buffer.from(config.secretHex, 'hex');
  else if (existsSync(file)) {
    const text = readFileSync(file, 'utf8').trim();
    if (!/^[0-9a-f]{64,}$/.test(text)) throw new Error(`${file} is not a hex secret of at least 32 bytes`);
    secret = Buffer.from(text, 'hex');
  }
  if (!store) return secret ?? createSecretFile(file);

  const stored = store.getMeta(SECRET_CHECK);
  const totals = store.credentialTotals();
  const held = totals.apiKey + totals.appPassword;
  const recover = `Restore the original secret (keep ${file} with every backup of the database), or, to start over with a new `
    + `secret, move ${config.dbFile} away: its accounts, keys and app passwords go with it.`;
  if (!secret && (stored !== undefined || held > 0)) {
    throw new SecretMismatchError(`the server secret ${file} is missing, but the database ${config.dbFile} holds ${held} `
      + `credentials hashed with it; a new secret would refuse every one of them. ${recover}`);
  }
  secret ??= createSecretFile(file);
  const check = secretCheck(secret);
  if (stored !== undefined && stored !== check) {
    throw new SecretMismatchError(`the server secret (${where}) is not the one the database ${config.dbFile} was used with: `
      + `its ${held} stored credentials would all be refused. ${recover}`);
  }
  if (stored === undefined) {
    try {
      store.setMeta(SECRET_CHECK, check); // the first start, or a database from before the check existed
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err; // a read-only database: checked once it is writable
    }
  }
  return secret;
}

function createSecretFile(file: string): Buffer {
  mkdirSync(dirname(file), { recursive: true });
  const secret = randomBytes(32);
  writeFileSync(file, `${secret.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  return secret;
}

export function createServices(config: Config, log: Logger = silentLogger): Services {
  const store = openSqliteStore(config.dbFile, { synchronous: config.sqliteSynchronous });
  let secret: Buffer;
  try {
    secret = loadServerSecret(config, store);
  } catch (err) {
    store.close();
    throw err;
  }
  const hasher = new TokenHasher(secret);
  const metrics = new Metrics(store);
  const throttle = new FailureThrottle(config.authMaxFailures, config.authWindowSeconds * 1000);
  const lastUsed = new LastUsedRecorder(store, config.lastUsedFlushMs, undefined, (err, count) => {
    metrics.storeErrors.inc({ reason: err instanceof StoreUnavailableError ? err.reason : 'other' });
    log.error({ ...errorFields(err), credentials: count }, 'could not record last-used times; kept for the next flush');
  });
  lastUsed.start();
  const authenticator = new Authenticator(store, hasher, throttle, lastUsed);

  const directory: AccountDirectory = {
    access(caller, accountId) {
      const n = decodeId(accountId);
      if (n === undefined || !store.accountById(n)) return 'notFound';
      if (accountId === caller.accountId || caller.permissions.has('impersonate')) return 'ok';
      return 'forbidden';
    },
  };
  const jmap = new JmapServer(config.limits, directory, (method, err) => {
    if (err instanceof StoreUnavailableError) metrics.storeErrors.inc({ reason: err.reason });
    log.error({ method, ...errorFields(err) }, err instanceof StoreUnavailableError ? 'store unavailable' : 'method failed');
  });
  jmap.addCapability(STALWART_CAPABILITY);
  registerStandardMethods(jmap, credentialType({
    kind: 'apiKey', name: 'x:ApiKey', permissionPrefix: 'sysApiKey', noun: 'API keys',
    quota: config.maxKeysPerAccount, store, hasher, withScopes: false,
  }));
  registerStandardMethods(jmap, credentialType({
    kind: 'appPassword', name: 'x:AppPassword', permissionPrefix: 'sysAppPassword', noun: 'app passwords',
    quota: config.maxAppPasswordsPerAccount, store, hasher, withScopes: true,
  }));
  registerAuditMethods(jmap, store);
  const pruner = new AuditPruner(store, config.auditRetentionDays, log);
  pruner.start();

  return {
    config, store, hasher, authenticator, lastUsed, jmap, log, metrics, draining: false,
    close() {
      pruner.stop();
      lastUsed.stop();
      store.close();
    },
  };
}
