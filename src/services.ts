import { AuditPruner } from './audit/prune.js';
import { registerAuditMethods } from './audit/jmap-type.js';
import { Authenticator } from './auth/authenticator.js';
import { LastUsedRecorder } from './auth/last-used.js';
import { FailureThrottle } from './auth/throttle.js';
import { TokenHasher } from './auth/tokens.js';
import type { Config } from './config.js';
import { credentialType, STALWART_CAPABILITY } from './credentials/jmap-type.js';
import { StoreUnavailableError } from './db/errors.js';
import { loadServerSecret } from './secret.js';
import { openSqliteStore } from './db/sqlite.js';
import type { Store } from './db/store.js';
import type { AccountDirectory } from './jmap/context.js';
import { Metrics } from './http/metrics.js';
import { JmapServer } from './jmap/server.js';
import { errorFields, silentLogger, type Logger } from './log.js';
import { registerStandardMethods } from './jmap/standard/register.js';
import { decodeId } from './util/ids.js';

export { loadServerSecret, SecretMismatchError } from './secret.js';

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
