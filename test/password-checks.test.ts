import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../src/auth/passwords.js';
import { createAccount } from './helpers/accounts.js';
import { basic, startTestServer, type TestServer } from './helpers/server.js';

/** Basic sign-ins that arrive together with the same login and password share one scrypt check. */
describe('concurrent password checks', () => {
  let s: TestServer;
  const session = (auth: string) => fetch(`${s.url}/jmap/session`, { headers: { Authorization: auth } }).then((r) => r.status);

  beforeAll(async () => {
    s = await startTestServer({ JMAP_KEYS_AUTH_MAX_FAILURES: '50' });
    await createAccount(s, 'carol', 'carol-password-123');
    await createAccount(s, 'dave', 'dave-password-123');
  });
  afterAll(async () => { await s.stop(); });

  it('identical requests run one check and all get its answer', async () => {
    const auth = s.services.authenticator;
    const before = auth.passwordChecksRun;
    expect(await Promise.all(Array.from({ length: 6 }, () => session(basic('carol', 'carol-password-123'))))).toEqual(Array(6).fill(200));
    expect(auth.passwordChecksRun).toBe(before + 1);

    // A wrong password and an unknown login: shared the same way, each request refused.
    const wrong = auth.passwordChecksRun;
    expect(await Promise.all(Array.from({ length: 4 }, () => session(basic('carol', 'not-her-password'))))).toEqual(Array(4).fill(401));
    expect(auth.passwordChecksRun).toBe(wrong + 1);
    const decoys = auth.unknownLoginChecks;
    expect(await Promise.all(Array.from({ length: 4 }, () => session(basic('nobody-at-all', 'whatever-123'))))).toEqual(Array(4).fill(401));
    expect(auth.unknownLoginChecks).toBe(decoys + 1);
  });

  it('a request after a password change does not join a check started before it', async () => {
    const auth = s.services.authenticator;
    const [dave] = (await s.services.store.listAccounts()).filter((a) => a.login === 'dave');
    const newHash = await hashPassword('dave-new-password-456');
    const before = auth.passwordChecksRun;
    const first = auth.authenticate(basic('dave', 'dave-password-123'), '127.0.0.1', 'jmap', () => true);
    // Wait until the first request is inside its check (reading the account or running scrypt).
    while (auth.passwordChecksRun === before) await new Promise((r) => setImmediate(r));
    expect(await s.services.store.setAccountPassword(dave!.id, newHash)).toBe(true);
    const second = await auth.authenticate(basic('dave', 'dave-password-123'), '127.0.0.1', 'jmap', () => true);
    expect(second.ok).toBe(false);
    expect(auth.passwordChecksRun).toBe(before + 2);
    await first;
    expect((await auth.authenticate(basic('dave', 'dave-new-password-456'), '127.0.0.1', 'jmap', () => true)).ok).toBe(true);
  });
});
