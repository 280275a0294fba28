import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Authenticator } from './auth/authenticator.js';
import { WebSessions } from './auth/web-sessions.js';
import { LastUsedRecorder } from './auth/last-used.js';
import { FailureThrottle } from './auth/throttle.js';
import { TokenHasher } from './auth/tokens.js';
import type { Config } from './config.js';
import { credentialType, STALWART_CAPABILITY } from './credentials/jmap-type.js';
import { openStore } from './db/open.js';
import { makePrivateDir } from './db/sqlite.js';
import { StoreUnavailableError, type Store } from './db/store.js';
import type { AccountDirectory } from './jmap/context.js';
import { JmapServer } from './jmap/server.js';
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
  webSessions: WebSessions;
  close(): Promise<void>;
}

/**
 * The key that makes stored hashes useless without it: from JMAP_KEYS_SECRET, else a file in the data
 * folder created on first start (mode 0600). It lives outside the database on purpose.
 */
export function loadServerSecret(config: Config): Buffer {
  if (config.secretHex) return Buffer.from(config.secretHex, 'hex');
  const file = join(config.dataDir, 'server-secret');
  if (existsSync(file)) {
    const text = readFileSync(file, 'utf8').trim();
    if (!/^[0-9a-f]{64,}$/.test(text)) throw new Error(`${file} is not a hex secret of at least 32 bytes`);
    return Buffer.from(text, 'hex');
  }
  makePrivateDir(dirname(file));
  const secret = randomBytes(32);
  writeFileSync(file, `${secret.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600); // whatever the umask
  return secret;
}

export async function createServices(config: Config, reportFailure: (method: string, error: unknown) => void = () => {}): Promise<Services> {
  const store = await openStore(config);
  const serverKey = loadServerSecret(config);
  const hasher = new TokenHasher(serverKey);
  const throttle = new FailureThrottle(store, config.authMaxFailures, config.authWindowSeconds * 1000, config.authIpv6Prefix);
  const lastUsed = new LastUsedRecorder(store, config.lastUsedFlushMs);
  lastUsed.start();
  const authenticator = new Authenticator(store, hasher, throttle, lastUsed);

  const directory: AccountDirectory = {
    async access(caller, accountId) {
      const n = decodeId(accountId);
      if (n === undefined || !(await store.accountById(n))) return 'notFound';
      if (accountId === caller.accountId || caller.permissions.has('impersonate')) return 'ok';
      return 'forbidden';
    },
  };
  const jmap = new JmapServer(config.limits, directory, reportFailure, (err) => err instanceof StoreUnavailableError);
  jmap.addCapability(STALWART_CAPABILITY);
  registerStandardMethods(jmap, credentialType({
    kind: 'apiKey', name: 'x:ApiKey', permissionPrefix: 'sysApiKey', noun: 'API keys',
    quota: config.maxKeysPerAccount, store, hasher, withScopes: false,
  }));
  registerStandardMethods(jmap, credentialType({
    kind: 'appPassword', name: 'x:AppPassword', permissionPrefix: 'sysAppPassword', noun: 'app passwords',
    quota: config.maxAppPasswordsPerAccount, store, hasher, withScopes: true,
  }));

  return {
    config, store, hasher, authenticator, lastUsed, jmap, webSessions: new WebSessions(store, serverKey),
    async close() {
      await lastUsed.stop();
      await store.close();
    },
  };
}
