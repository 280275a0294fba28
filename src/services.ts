import { AuditPruner } from './audit/prune.js';
import { registerAuditMethods } from './audit/jmap-type.js';
import { Authenticator } from './auth/authenticator.js';
import { LastUsedRecorder } from './auth/last-used.js';
import { FailureThrottle } from './auth/throttle.js';
import { TokenHasher } from './auth/tokens.js';
import { WebSessions } from './auth/web-sessions.js';
import type { Config } from './config.js';
import { credentialType, STALWART_CAPABILITY } from './credentials/jmap-type.js';
import { registerCredentialMethods } from './credentials/jmap-methods.js';
import { openStore } from './db/open.js';
import { StoreUnavailableError, type Store } from './db/store.js';
import { PushHub } from './http/event-source.js';
import { Metrics } from './http/metrics.js';
import type { AccountDirectory } from './jmap/context.js';
import { JmapServer } from './jmap/server.js';
import { registerStandardMethods } from './jmap/standard/register.js';
import { errorFields, silentLogger, type Logger } from './log.js';
import { checkedServerSecret } from './secret.js';
import { decodeId } from './util/ids.js';
import { WebhookDispatcher } from './webhooks/dispatcher.js';
import { NewAddressWatcher } from './webhooks/new-address.js';

export { checkedServerSecret, loadServerSecret, SecretMismatchError } from './secret.js';

/** Everything the HTTP faces share, built once per process. */
export interface Services {
  config: Config;
  store: Store;
  /** The server secret: hashes of secrets, web-session signatures and one-time link ids are keyed by it. */
  serverKey: Buffer;
  hasher: TokenHasher;
  authenticator: Authenticator;
  lastUsed: LastUsedRecorder;
  jmap: JmapServer;
  webSessions: WebSessions;
  log: Logger;
  metrics: Metrics;
  /** Change notifications (JMAP_KEYS_WEBHOOK_URL), or undefined when none are configured. */
  webhooks: WebhookDispatcher | undefined;
  /** The open event-source streams (RFC 8620 push) of this node. */
  push: PushHub;
  /** Set on SIGTERM: /readyz says 503 and answers close their connections while in-flight requests finish. */
  draining: boolean;
  close(): Promise<void>;
}

export async function createServices(config: Config, log: Logger = silentLogger): Promise<Services> {
  const store = await openStore(config, {
    onListener: (state) => (state === 'down'
      ? log.warn('PostgreSQL notification connection down: caches off, every request reads the database')
      : log.info('PostgreSQL notification connection up: caches on')),
    onKeptPlansFailure: (message) => log.warn({ err: message },
      'PostgreSQL connections for expiry-ordered /query pages failed (a pooler refusing their options parameter?); those pages use the main pool, retried in a minute'),
    onCheckpointFailure: (message) => log.warn({ err: message }, 'SQLite WAL checkpoint failed; retried every 100 ms'),
  });
  let serverKey: Buffer;
  try {
    serverKey = await checkedServerSecret(config, store);
  } catch (err) {
    await store.close();
    throw err;
  }
  const hasher = new TokenHasher(serverKey);
  const metrics = new Metrics(store);
  const throttle = new FailureThrottle(store, config.authMaxFailures, config.authWindowSeconds * 1000, config.authIpv6Prefix);
  const lastUsed = new LastUsedRecorder(store, config.lastUsedFlushMs, undefined, (err, count) => {
    metrics.storeErrors.inc({ reason: err instanceof StoreUnavailableError ? err.reason : 'other' });
    log.error({ ...errorFields(err), credentials: count }, 'could not record last-used times; kept for the next flush');
  });
  lastUsed.start();
  let webhooks: WebhookDispatcher | undefined;
  let addresses: NewAddressWatcher | undefined;
  if (config.webhook) {
    webhooks = new WebhookDispatcher(store, config.webhook, log, metrics);
    try {
      await webhooks.init();
    } catch (err) {
      await lastUsed.stop();
      await store.close();
      throw err;
    }
    addresses = new NewAddressWatcher(store, log);
  }
  const authenticator = new Authenticator(store, hasher, throttle, lastUsed, addresses && ((c, a, ip) => addresses.used(c, a, ip)));

  const directory: AccountDirectory = {
    async access(caller, accountId) {
      const n = decodeId(accountId);
      if (n === undefined || !(await store.accountById(n))) return 'notFound';
      if (accountId === caller.accountId || caller.permissions.has('impersonate')) return 'ok';
      return 'forbidden';
    },
  };
  const jmap = new JmapServer(config.limits, directory, (method, err) => {
    if (err instanceof StoreUnavailableError) metrics.storeErrors.inc({ reason: err.reason });
    log.error({ method, ...errorFields(err) }, err instanceof StoreUnavailableError ? 'store unavailable' : 'method failed');
  }, (err) => err instanceof StoreUnavailableError);
  jmap.addCapability(STALWART_CAPABILITY);
  const apiKeys = {
    kind: 'apiKey', name: 'x:ApiKey', permissionPrefix: 'sysApiKey', noun: 'API keys', quota: config.maxKeysPerAccount, store, hasher,
  } as const;
  const appPasswords = {
    kind: 'appPassword', name: 'x:AppPassword', permissionPrefix: 'sysAppPassword', noun: 'app passwords',
    quota: config.maxAppPasswordsPerAccount, store, hasher,
  } as const;
  registerStandardMethods(jmap, credentialType({ ...apiKeys, withScopes: false }));
  registerStandardMethods(jmap, credentialType({ ...appPasswords, withScopes: true }));
  // x:…/rotate and x:…/revokeAll (src/credentials/jmap-methods.ts).
  registerCredentialMethods(jmap, apiKeys);
  registerCredentialMethods(jmap, appPasswords);
  registerAuditMethods(jmap, store);
  const push = new PushHub(() => store.version(), (err) => {
    if (err instanceof StoreUnavailableError) metrics.storeErrors.inc({ reason: err.reason });
    log.error(errorFields(err), 'push: could not read states; trying again');
  });
  const pruner = new AuditPruner(store, config.auditRetentionDays, log);
  pruner.start();
  webhooks?.start();

  return {
    config, store, serverKey, hasher, authenticator, lastUsed, jmap, webSessions: new WebSessions(store, serverKey),
    log, metrics, webhooks, push, draining: false,
    async close() {
      push.closeAll();
      pruner.stop();
      await webhooks?.stop();
      await addresses?.stop();
      await lastUsed.stop();
      await store.close();
    },
  };
}
