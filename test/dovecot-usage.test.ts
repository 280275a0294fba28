import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from './helpers/accounts.js';
import { dialogue, hasDovecot, startMailPeers, type Dovecot } from './helpers/dovecot.js';
import { basic, bearer, startTestServer, type TestServer } from './helpers/server.js';

// Modelled on test/dovecot.test.ts: a real Dovecot asks jmap-keys (passdb oauth2); here for the usage fields.
const run = hasDovecot || process.env.CI ? describe : describe.skip;

run('usage fields after mail logins through a real Dovecot', () => {
  let s: TestServer;
  let dovecot: Dovecot;
  let peers: Awaited<ReturnType<typeof startMailPeers>> | undefined;
  let key: { id: string; apiKey: string };
  const alice = basic('alice', 'alice-password');

  const restCreate = async (auth: string, body: unknown) => {
    const res = await fetch(`${s.url}/api/smtp-credentials`, { method: 'POST', headers: { Authorization: auth, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const json = await res.json();
    if (res.status !== 201) throw new Error(JSON.stringify(json));
    return json as { id: string; apiKey: string };
  };
  const usage = async () => {
    const res = await fetch(`${s.url}/api/smtp-credentials/${key.id}`, { headers: { Authorization: alice } });
    return await res.json() as { lastUsedAt: string | null; lastUsedFrom: string | null; lastUsedService: string | null };
  };

  beforeAll(async () => {
    s = await startTestServer({ JMAP_KEYS_REST_WRITES_PER_WINDOW: '1000' });
    await createAccount(s, 'alice', 'alice-password');
    const internal = await restCreate(bearer(s.adminToken), { name: 'dovecot', scopes: ['internal'] });
    key = await restCreate(alice, { name: 'Thunderbird', scopes: ['imap', 'pop3', 'smtp'] });
    // A range of its own (test/dovecot.test.ts uses 20000-31999), below Linux's ephemeral ports.
    const basePort = 16000 + Math.floor(Math.random() * 500) * 8;
    peers = await startMailPeers(s.url, internal.apiKey, basePort);
    dovecot = peers.dovecot;
  }, 60_000);

  afterAll(async () => {
    await peers?.stop();
    await s?.stop();
  });

  const until = async (what: string, ok: (u: Awaited<ReturnType<typeof usage>>) => boolean) => {
    for (let i = 0; i < 200; i++) {
      const u = await usage();
      if (ok(u)) return u;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`gave up waiting for ${what}\n--- dovecot log ---\n${dovecot.log().slice(-3000)}`);
  };

  it('IMAP LOGIN records imap from the mail client; POP3 and SMTP AUTH (submission) follow', async () => {
    expect(await usage()).toMatchObject({ lastUsedAt: null, lastUsedFrom: null, lastUsedService: null });
    const imap = await dialogue(dovecot.imaps, [
      { expect: /^\* OK.*\r\n/m },
      { send: `a LOGIN alice ${key.apiKey}`, expect: /^a (OK|NO|BAD).*\r\n/m },
      { send: 'b LOGOUT', expect: /^b OK.*\r\n/m },
    ], true);
    expect(imap[1], dovecot.log()).toMatch(/^a OK/m);
    // Each dialogue connects from a loopback address of its own (127.0.0.10, .11, …; helpers/dovecot.ts), while
    // Dovecot calls jmap-keys from 127.0.0.1: the address recorded is the mail client's, not the mail server's.
    const afterImap = await until('the IMAP login', (u) => u.lastUsedService === 'imap');
    expect(afterImap.lastUsedFrom).toMatch(/^127\.0\.0\.(1\d|[2-9]\d|1\d\d|2[0-5]\d)$/);

    const pop3 = await dialogue(dovecot.pop3s, [
      { expect: /^\+OK.*\r\n/m },
      { send: 'USER alice', expect: /^\+OK.*\r\n/m },
      { send: `PASS ${key.apiKey}`, expect: /^(\+OK|-ERR).*\r\n/m },
      { send: 'QUIT', expect: /^\+OK.*\r\n/m },
    ], true);
    expect(pop3[2], dovecot.log()).toMatch(/^\+OK/m);
    const afterPop3 = await until('the POP3 login', (u) => u.lastUsedService === 'pop3');
    expect(afterPop3.lastUsedFrom).toMatch(/^127\.0\.0\.\d+$/);
    expect(afterPop3.lastUsedFrom).not.toBe(afterImap.lastUsedFrom);

    const plain = Buffer.from(`\0alice\0${key.apiKey}`).toString('base64');
    const smtp = await dialogue(dovecot.submissions, [
      { expect: /^220 .*\r\n/m },
      { send: 'EHLO client.test', expect: /^250 .*\r\n/m },
      { send: `AUTH PLAIN ${plain}`, expect: /^(235|535|454|5\d\d) .*\r\n/m },
      { send: 'QUIT', expect: /^221.*\r\n/m },
    ], true);
    expect(smtp[2], dovecot.log()).toMatch(/^235/m);
    const last = await until('the SMTP login', (u) => u.lastUsedService === 'smtp');
    expect(last.lastUsedFrom).toMatch(/^127\.0\.0\.\d+$/);
    expect(new Set([afterImap.lastUsedFrom, afterPop3.lastUsedFrom, last.lastUsedFrom, '127.0.0.1']).size).toBe(4);
    expect(last.lastUsedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });
});
