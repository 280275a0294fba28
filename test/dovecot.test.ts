import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from './helpers/accounts.js';
import { cleanEnv, runBin } from './helpers/cli.js';
import { dialogue, hasDovecot, startMailPeers, type Dovecot } from './helpers/dovecot.js';
import { basic, bearer, startTestServer, type TestServer } from './helpers/server.js';

// CI installs Dovecot (.ci/run); a developer machine without it skips this file rather than failing.
const run = hasDovecot || process.env.CI ? describe : describe.skip;

run('a real Dovecot asks jmap-keys whether a login is good (passdb oauth2, RFC 7662)', () => {
  let s: TestServer;
  let dovecot: Dovecot;
  let peers: Awaited<ReturnType<typeof startMailPeers>> | undefined;
  const keys: Record<string, string> = {};
  const alice = basic('alice', 'alice-password');

  const restCreate = async (auth: string, body: unknown) => {
    const res = await fetch(`${s.url}/api/smtp-credentials`, { method: 'POST', headers: { Authorization: auth, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const json = await res.json();
    if (res.status !== 201) throw new Error(JSON.stringify(json));
    return json as { id: string; apiKey: string };
  };
  const jmapCreate = async (props: Record<string, unknown>) => {
    const res = await s.api(alice, [['x:AppPassword/set', { create: { k: { description: 'jmap', ...props } } }, 'c']]);
    return res.body.methodResponses[0][1].created.k as { id: string; secret: string };
  };

  beforeAll(async () => {
    s = await startTestServer({ JMAP_KEYS_REST_WRITES_PER_WINDOW: '1000' });
    await createAccount(s, 'alice', 'alice-password');
    await createAccount(s, 'bob', 'bob-password');
    // As a user does it: the CLI's local command on the running server's data folder.
    const carol = await runBin(['account', 'create', 'carol', '--email', 'Carol@Example.com', '--password', 'carol-password'], cleanEnv(s.storeEnv));
    if (carol.code !== 0) throw new Error(carol.stderr);
    const dave = await runBin(['account', 'create', 'dave@example.org', '--password', 'dave-password'], cleanEnv(s.storeEnv));
    if (dave.code !== 0) throw new Error(dave.stderr);
    const internal = await restCreate(bearer(s.adminToken), { name: 'dovecot', scopes: ['internal'] });
    keys.good = (await restCreate(alice, { name: 'Thunderbird', scopes: ['imap', 'pop3', 'smtp'] })).apiKey;
    const revoked = await restCreate(alice, { name: 'old laptop', scopes: ['imap', 'pop3'] });
    keys.revoked = revoked.apiKey;
    await fetch(`${s.url}/api/smtp-credentials/${revoked.id}`, { method: 'DELETE', headers: { Authorization: alice } });
    keys.smtpOnly = (await restCreate(alice, { name: 'printer', scopes: ['smtp'] })).apiKey;
    const mail = ['authenticate', 'imapAuthenticate', 'pop3Authenticate', 'emailSend'];
    keys.expired = (await jmapCreate({ expiresAt: '2020-01-01T00:00:00Z', permissions: { '@type': 'Replace', permissions: mail } })).secret;
    keys.elsewhere = (await jmapCreate({ allowedIps: ['10.0.0.0/8'], permissions: { '@type': 'Replace', permissions: mail } })).secret;
    keys.here = (await jmapCreate({ allowedIps: ['127.0.0.0/8'], permissions: { '@type': 'Replace', permissions: mail } })).secret;

    // Below Linux's ephemeral range (32768+), where outgoing connections would collide with the fixed ports.
    const basePort = 20000 + Math.floor(Math.random() * 1500) * 8;
    peers = await startMailPeers(s.url, internal.apiKey, basePort);
    dovecot = peers.dovecot;
  }, 60_000);

  afterAll(async () => {
    await peers?.stop();
    await s?.stop();
  });

  const withLog = async <T>(work: Promise<T>): Promise<T> => {
    try {
      return await work;
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- dovecot log ---\n${dovecot.log().slice(-3000)}`);
    }
  };
  const imapLogin = async (user: string, password: string) => {
    const replies = await withLog(dialogue(dovecot.imaps, [
      { expect: /^\* OK.*\r\n/m },
      { send: `a LOGIN ${user} ${password}`, expect: /^a (OK|NO|BAD).*\r\n/m },
      { send: 'b LOGOUT', expect: /^b OK.*\r\n/m },
    ], true));
    return /^a OK/m.test(replies[1] as string);
  };
  const pop3Login = async (user: string, password: string) => {
    const replies = await withLog(dialogue(dovecot.pop3s, [
      { expect: /^\+OK.*\r\n/m },
      { send: `USER ${user}`, expect: /^\+OK.*\r\n/m },
      { send: `PASS ${password}`, expect: /^(\+OK|-ERR).*\r\n/m },
      { send: 'QUIT', expect: /^\+OK.*\r\n/m },
    ], true));
    return /^\+OK/m.test(replies[2] as string);
  };
  const smtpLogin = async (user: string, password: string) => {
    const plain = Buffer.from(`\0${user}\0${password}`).toString('base64');
    const replies = await withLog(dialogue(dovecot.submissions, [
      { expect: /^220 .*\r\n/m },
      { send: 'EHLO client.test', expect: /^250 .*\r\n/m },
      { send: `AUTH PLAIN ${plain}`, expect: /^(235|535|454|5\d\d) .*\r\n/m },
      { send: 'QUIT', expect: /^221.*\r\n/m },
    ], true));
    return /^235/m.test(replies[2] as string);
  };

  it('IMAP LOGIN and POP3 USER/PASS with a good key succeed; lastUsedAt follows', async () => {
    expect(await imapLogin('alice', keys.good as string), dovecot.log()).toBe(true);
    expect(await pop3Login('alice', keys.good as string), dovecot.log()).toBe(true);
    await new Promise((r) => setTimeout(r, 150));
    const list = await (await fetch(`${s.url}/api/smtp-credentials`, { headers: { Authorization: alice } })).json();
    expect(list.keys.find((k: { name: string }) => k.name === 'Thunderbird').lastUsedAt).toMatch(/Z$/);
  });

  it('SMTP AUTH PLAIN through Dovecot submission: the smtp scope is required', async () => {
    expect(await smtpLogin('alice', keys.good as string), dovecot.log()).toBe(true);
    expect(await smtpLogin('alice', keys.smtpOnly as string)).toBe(true);
    expect(await imapLogin('alice', keys.smtpOnly as string)).toBe(false);
  });

  it('wrong, revoked, expired, wrong-scope, IP-excluded keys and another account\'s login all fail', async () => {
    expect(await imapLogin('alice', `rm_${'A'.repeat(40)}`)).toBe(false);
    expect(await imapLogin('alice', 'alice-password')).toBe(false);
    expect(await imapLogin('alice', keys.revoked as string)).toBe(false);
    expect(await pop3Login('alice', keys.revoked as string)).toBe(false);
    expect(await imapLogin('alice', keys.expired as string)).toBe(false);
    expect(await pop3Login('alice', keys.smtpOnly as string)).toBe(false);
    expect(await imapLogin('alice', keys.elsewhere as string)).toBe(false);
    expect(await imapLogin('alice', keys.here as string), dovecot.log()).toBe(true);
    expect(await imapLogin('bob', keys.good as string)).toBe(false);
    expect(await pop3Login('bob', keys.good as string)).toBe(false);
    expect(await imapLogin('admin', keys.good as string)).toBe(false);
  });

  it('an account with an address logs in to mail with it; every generated setting names that user name', async () => {
    const carol = basic('carol', 'carol-password');
    const made = await restCreate(carol, { name: 'Thunderbird', scopes: ['imap', 'pop3', 'smtp'] });
    // The Basic identity of the HTTP APIs accepts the address too.
    expect((await restCreate(basic('carol@example.com', 'carol-password'), { name: 'by address', scopes: ['imap'] })).apiKey).toMatch(/^rm_/);
    expect(await imapLogin('carol@example.com', made.apiKey), dovecot.log()).toBe(true);
    expect(await imapLogin('CAROL@example.COM', made.apiKey)).toBe(true);
    // One mail user name per account (Dovecot keys the mailbox by it): the bare login is not a second one.
    expect(await imapLogin('carol', made.apiKey)).toBe(false);
    expect(await pop3Login('carol@example.com', made.apiKey)).toBe(true);
    expect(await smtpLogin('carol@example.com', made.apiKey)).toBe(true);
    expect(await imapLogin('alice@example.com', made.apiKey)).toBe(false);
    expect(await imapLogin('carol@example.org', made.apiKey)).toBe(false);

    // Thunderbird: %EMAILADDRESS% is what the user typed, carol@example.com.
    const auto = await (await fetch(`${s.url}/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=carol@example.com`)).text();
    expect(auto).toContain('<username>%EMAILADDRESS%</username>');
    // Connection info names the user name and address.
    const list = await (await fetch(`${s.url}/api/smtp-credentials`, { headers: { Authorization: carol } })).json();
    expect(list.connectionInfo).toMatchObject({ username: 'carol@example.com', email: 'carol@example.com' });
    expect(await imapLogin(list.connectionInfo.username, made.apiKey)).toBe(true);

    // The phone profile: its user name and password log in over IMAP and SMTP.
    const mobile = await fetch(`${s.url}/api/smtp-credentials/mobile`, { method: 'POST', headers: { Authorization: carol, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'Phone', platform: 'ios', deviceId: 'p1' }) });
    const phone = await mobile.json();
    const profile = await (await fetch(phone.mobileconfigUrl.replace(/^https?:\/\/[^/]+/, s.url))).text();
    const field = (k: string) => new RegExp(`<key>${k}</key>\\s*<(?:string|integer)>([^<]*)<`).exec(profile)?.[1];
    expect(field('EmailAddress')).toBe('carol@example.com');
    expect(await imapLogin(field('IncomingMailServerUsername') as string, field('IncomingPassword') as string)).toBe(true);
    expect(await smtpLogin(field('OutgoingMailServerUsername') as string, field('IncomingPassword') as string)).toBe(true);
    // A phone password holds imap and smtp only: POP3 is not among its protocols.
    expect(await pop3Login(field('IncomingMailServerUsername') as string, field('IncomingPassword') as string)).toBe(false);

    // A login that is itself an address.
    const dave = await restCreate(basic('dave@example.org', 'dave-password'), { name: 'mail', scopes: ['imap'] });
    expect(await imapLogin('dave@example.org', dave.apiKey)).toBe(true);
  });

  it('an app password made over JMAP without scopes: its scopes say what Dovecot and the APIs let it do', async () => {
    const made = await s.api(alice, [['x:AppPassword/set', { create: { k: { description: 'jmap mail', permissions: { '@type': 'Replace', permissions: ['authenticate', 'imapAuthenticate'] } } } }, 'c']]);
    const key = made.body.methodResponses[0][1].created.k;
    expect(key.scopes).toEqual(['imap']);
    expect(await imapLogin('alice', key.secret)).toBe(true);
    expect(await pop3Login('alice', key.secret)).toBe(false);
    const asBearer = await fetch(`${s.url}/api/smtp-credentials`, { headers: { Authorization: bearer(key.secret) } });
    expect(asBearer.status).toBe(401);
  });
});
