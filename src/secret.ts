import { createHmac, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Config } from './config.js';
import { StoreUnavailableError } from './db/errors.js';
import { makePrivateDir } from './db/sqlite.js';
import type { Store } from './db/store.js';

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
export function loadServerSecret(config: Config): Buffer {
  return readSecret(config) ?? createSecretFile(join(config.dataDir, 'server-secret'));
}

function readSecret(config: Config): Buffer | undefined {
  if (config.secretHex) return Buffer.from(config.secretHex, 'hex');
  const file = join(config.dataDir, 'server-secret');
  if (!existsSync(file)) return undefined;
  const text = readFileSync(file, 'utf8').trim();
  if (!/^[0-9a-f]{64,}$/.test(text)) throw new Error(`${file} is not a hex secret of at least 32 bytes`);
  return Buffer.from(text, 'hex');
}

/**
 * loadServerSecret, checked against the database's check value: a missing secret is only generated for a database
 * without credentials, and a different one stops start-up (every key would otherwise get a plain 401). Nodes of one
 * PostgreSQL database are held to the same secret this way.
 */
export async function checkedServerSecret(config: Config, store: Store): Promise<Buffer> {
  const file = join(config.dataDir, 'server-secret');
  const where = config.secretHex ? 'JMAP_KEYS_SECRET' : file;
  const database = config.databaseUrl ? 'the PostgreSQL database' : config.dbFile;
  let secret = readSecret(config);
  const stored = await store.getMeta(SECRET_CHECK);
  const totals = await store.credentialTotals();
  const held = totals.apiKey + totals.appPassword;
  const recover = `Restore the original secret (keep ${file} with every backup of the database), or, to start over with a new `
    + `secret, move ${database} away: its accounts, keys and app passwords go with it.`;
  if (!secret && (stored !== undefined || held > 0)) {
    throw new SecretMismatchError(`the server secret ${file} is missing, but the database ${database} holds ${held} `
      + `credentials hashed with it; a new secret would refuse every one of them. ${recover}`);
  }
  secret ??= createSecretFile(file);
  const check = secretCheck(secret);
  if (stored !== undefined && stored !== check) {
    throw new SecretMismatchError(`the server secret (${where}) is not the one the database ${database} was used with: `
      + `its ${held} stored credentials would all be refused. ${recover}`);
  }
  if (stored === undefined) {
    try {
      await store.setMeta(SECRET_CHECK, check); // the first start, or a database from before the check existed
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err; // a read-only database: checked once it is writable
    }
  }
  return secret;
}

function createSecretFile(file: string): Buffer {
  makePrivateDir(dirname(file));
  const secret = randomBytes(32);
  writeFileSync(file, `${secret.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600); // whatever the umask
  return secret;
}
