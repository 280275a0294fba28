import { hashPassword } from '../../src/auth/passwords.js';
import type { Role } from '../../src/db/store.js';
import { encodeId } from '../../src/util/ids.js';
import { nowSeconds } from '../../src/util/utcdate.js';
import type { TestServer } from './server.js';

/** Creates an account in the real store (what `jmap-keys account create` does) and returns its wire id. */
export async function createAccount(s: TestServer, login: string, password: string, role: Role = 'user'): Promise<string> {
  const account = await s.services.store.createAccount({ login, passwordHash: await hashPassword(password), role, createdAt: nowSeconds() });
  if (!account) throw new Error(`account ${login} exists already`);
  return encodeId(account.id);
}
