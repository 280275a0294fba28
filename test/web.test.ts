import { rmSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../src/auth/passwords.js';
import { createAccount } from './helpers/accounts.js';
import { ARTIFACTS, chromiumPath, launchChromium, screenshot } from './helpers/browser.js';
import { basic, bearer, startTestServer, USING, type TestServer } from './helpers/server.js';

const executable = chromiumPath();
// CI installs Debian's chromium; a developer machine without it skips (with CI set, a missing browser fails).
const suite = executable || process.env.CI ? describe : describe.skip;

const LOGIN = 'alice';
const PASSWORD = 'alice-password-1';
const DESKTOP = { width: 1280, height: 860 };
const PHONE = { width: 375, height: 740 };

suite('web page (real Chromium against the real server)', () => {
  let s: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const requests: string[] = [];
  const consoleErrors: string[] = [];
  let keySecret = '';

  const sessionStatus = async (auth: string) => (await fetch(`${s.url}/jmap/session`, { headers: { Authorization: auth } })).status;
  const sessionCookie = async (ctx = context) => (await ctx.cookies()).find((c) => c.name === 'jk_session');
  const cred = () => page.locator('#cred-dialog');
  const row = (table: string, text: string) => page.locator(`#${table} tbody tr`, { hasText: text });
  const newContext = async (viewport: { width: number; height: number }) => {
    const ctx = await browser.newContext({ viewport, timezoneId: 'UTC', locale: 'en-GB', hasTouch: viewport.width < 500 });
    ctx.on('request', (r) => requests.push(r.url()));
    ctx.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    // Fail a step in seconds, not at the test's timeout.
    ctx.setDefaultTimeout(5000);
    return ctx;
  };

  beforeAll(async () => {
    rmSync(ARTIFACTS, { recursive: true, force: true });
    s = await startTestServer({ JMAP_KEYS_REST_WRITES_PER_WINDOW: '1000', JMAP_KEYS_REST_READS_PER_WINDOW: '1000' });
    await createAccount(s, LOGIN, PASSWORD);
    browser = await launchChromium(executable as string);
    context = await newContext(DESKTOP);
    page = await context.newPage();
  });

  afterEach(async ({ task }) => {
    if (task.result?.state === 'fail') await screenshot(page, `failed-${task.name.replace(/\W+/g, '-')}`).catch(() => {});
  });

  afterAll(async () => {
    await browser?.close();
    await s?.stop();
  });

  it('signs in with login and password into a short-lived HttpOnly, SameSite cookie', async () => {
    await page.goto(`${s.url}/`);
    await expect.poll(() => page.url()).toBe(`${s.url}/web/`);
    await expect(page.getByRole('heading', { name: 'Sign in' }).isVisible()).resolves.toBe(true);
    await screenshot(page, '01-sign-in');

    await page.getByLabel('Login').fill(LOGIN);
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByLabel('Password').press('Enter');
    await expect(page.locator('#signin-error').textContent()).resolves.toBe('Wrong login or password.');
    await expect(page.getByLabel('Login').inputValue()).resolves.toBe(LOGIN);
    await screenshot(page, '02-sign-in-error');

    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'API Keys' }).waitFor();
    await page.getByText('No API keys yet.').waitFor();
    expect(page.url()).toBe(`${s.url}/web/#api-keys`);
    await expect(page.locator('#who-login').textContent()).resolves.toBe(LOGIN);

    const cookie = await sessionCookie();
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    const [, payload] = (cookie?.value ?? '').split('.');
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()) as { exp: number; iat: number };
    expect(claims.exp - claims.iat).toBeLessThanOrEqual(30 * 60);
    await screenshot(page, '03-api-keys-empty');
  });

  it('creates an API key and shows its secret once, and the secret works', async () => {
    await page.getByRole('button', { name: 'Create API key' }).click();
    const dialog = page.locator('#cred-dialog');
    await expect(dialog.isVisible()).resolves.toBe(true);
    await expect(page.evaluate(() => document.activeElement?.id)).resolves.toBe('cred-description');

    await cred().getByLabel('Description').fill('CI deploy');
    await dialog.getByText('only the permissions picked below').click();
    await page.getByLabel('Search permissions').fill('apikey');
    await dialog.getByLabel('sysApiKeyGet').check();
    await dialog.getByLabel('sysApiKeyQuery').check();
    await page.getByLabel('Search permissions').fill('authenticate');
    await dialog.getByLabel('authenticate', { exact: true }).check();
    await expect(page.locator('#perm-count').textContent()).resolves.toBe('3 selected');
    await cred().getByLabel('Expiration date').fill('2031-05-20T10:00');
    await cred().getByLabel('Allowed IPs').fill('127.0.0.1\n::1');
    await screenshot(page, '04-create-api-key');
    await dialog.getByRole('button', { name: 'Create' }).click();

    const secretDialog = page.locator('#secret-dialog');
    await secretDialog.waitFor();
    await expect(secretDialog.textContent()).resolves.toContain('It is shown only this once');
    keySecret = await page.locator('#secret-value').inputValue();
    expect(keySecret).toMatch(/^API_[0-9A-Za-z]{46}$/);
    await page.getByRole('button', { name: 'Copy' }).click();
    await expect.poll(() => page.locator('#secret-copied').textContent()).not.toBe('');
    await screenshot(page, '05-secret-once');
    await page.getByRole('button', { name: 'I have saved it' }).click();
    await expect(secretDialog.isVisible()).resolves.toBe(false);
    await expect.poll(() => page.locator('#secret-value').inputValue()).toBe('');

    const r = row('key-table', 'CI deploy');
    await r.waitFor();
    await expect(r.textContent()).resolves.toContain('Only 3 permissions · 2 allowed IPs');
    await expect(r.locator('time').nth(1).getAttribute('datetime')).resolves.toBe('2031-05-20T10:00:00Z');

    // The secret from the dialog, used the way curl would.
    expect(await sessionStatus(bearer(keySecret))).toBe(200);
    const got = await s.api(bearer(keySecret), [['x:ApiKey/get', { properties: ['description', 'permissions', 'allowedIps'] }, 'c']]);
    expect(got.body.methodResponses[0][1].list[0]).toMatchObject({
      description: 'CI deploy', permissions: { '@type': 'Replace' }, allowedIps: ['127.0.0.1', '::1'],
    });
  });

  it('filters keys by expiration date', async () => {
    const filter = page.locator('#key-filter');
    await filter.getByRole('button', { name: 'Filter' }).click();
    await expect(page.locator('#key-filter-date-error').textContent()).resolves.toBe('Pick a date to filter by.');

    await filter.getByLabel('Date', { exact: true }).fill('2031-05-20');
    await filter.getByRole('button', { name: 'Filter' }).click();
    await page.locator('#key-status').filter({ hasText: '1 API key expiring on 20 May 2031.' }).waitFor();
    await filter.getByLabel('Expiration date').selectOption('before');
    await filter.getByRole('button', { name: 'Filter' }).click();
    await page.getByText('No API keys match this filter.').waitFor();
    await filter.getByLabel('Expiration date').selectOption('after');
    await filter.getByLabel('Date', { exact: true }).fill('2031-05-19');
    await filter.getByRole('button', { name: 'Filter' }).click();
    await row('key-table', 'CI deploy').waitFor();
    await screenshot(page, '06-filter');
    await filter.getByRole('button', { name: 'Show all' }).click();
    await page.locator('#key-status').filter({ hasText: /^1 API key\.$/ }).waitFor();
  });

  it('edits a key', async () => {
    await row('key-table', 'CI deploy').getByRole('button', { name: 'Edit' }).click();
    await expect(cred().getByLabel('Description').inputValue()).resolves.toBe('CI deploy');
    await expect(cred().getByLabel('Expiration date').inputValue()).resolves.toBe('2031-05-20T10:00');
    await cred().getByLabel('Description').fill('CI deploy (prod)');
    await cred().getByLabel('Allowed IPs').fill('127.0.0.1\n::1\n10.0.0.0/8');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.locator('#key-status').filter({ hasText: 'API key “CI deploy (prod)” saved.' }).waitFor();
    const r = row('key-table', 'CI deploy (prod)');
    await expect(r.textContent()).resolves.toContain('3 allowed IPs');
    // Used once by the previous test: the list shows when.
    await expect(r.locator('td[data-label="Last used"] time').count()).resolves.toBe(1);

    const got = await s.api(bearer(keySecret), [['x:ApiKey/get', { properties: ['description', 'allowedIps', 'expiresAt'] }, 'c']]);
    expect(got.body.methodResponses[0][1].list[0]).toMatchObject({
      description: 'CI deploy (prod)', allowedIps: ['127.0.0.1', '::1', '10.0.0.0/8'], expiresAt: '2031-05-20T10:00:00Z',
    });
  });

  it('shows bad input as the server\'s errors next to the fields', async () => {
    await page.getByRole('button', { name: 'Create API key' }).click();
    // Loosely plausible, so only the server can say no: an empty description and a /4 mask.
    await cred().getByLabel('Allowed IPs').fill('10.0.0.0/4');
    await page.keyboard.press('Shift+Tab');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    const descError = page.locator('#cred-description-error');
    await descError.waitFor();
    await expect(descError.textContent()).resolves.toBe('Enter a description of 1 to 1000 characters.');
    await expect(page.locator('#cred-allowedIps-error').textContent()).resolves.toContain('CIDR mask with a prefix of 8 or more');
    await expect(cred().getByLabel('Description').getAttribute('aria-invalid')).resolves.toBe('true');
    await expect(cred().getByLabel('Allowed IPs').getAttribute('aria-invalid')).resolves.toBe('true');
    await expect(page.locator('#cred-error').textContent()).resolves.toBe('Please correct the marked fields.');
    // Focus moved to the first field in error, for keyboard users.
    await expect(page.evaluate(() => document.activeElement?.id)).resolves.toBe('cred-description');
    await screenshot(page, '07-server-errors');

    // Garbage is caught before sending, in the same place.
    await cred().getByLabel('Description').fill('typo');
    await cred().getByLabel('Allowed IPs').fill('my-office');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await expect.poll(() => page.locator('#cred-allowedIps-error').textContent()).toContain('“my-office” is not an IP address');
    await expect(page.locator('#cred-description-error').isVisible()).resolves.toBe(false);

    // Esc closes the dialog; nothing was created.
    await page.keyboard.press('Escape');
    await expect(page.locator('#cred-dialog').isVisible()).resolves.toBe(false);
    await expect(page.locator('#key-table tbody tr').count()).resolves.toBe(1);
  });

  it('revokes a key after confirmation, and the key stops working', async () => {
    await row('key-table', 'CI deploy (prod)').getByRole('button', { name: 'Revoke' }).click();
    const confirm = page.locator('#confirm-dialog');
    await expect(confirm.textContent()).resolves.toContain('This cannot be undone');
    // Cancel has the focus: Enter alone must not destroy.
    await expect(page.evaluate(() => document.activeElement?.textContent)).resolves.toBe('Cancel');
    await screenshot(page, '08-revoke-confirm');
    await confirm.getByRole('button', { name: 'Revoke key' }).click();
    await page.getByText('API key “CI deploy (prod)” revoked.').waitFor();
    await page.getByText('No API keys yet.').waitFor();
    expect(await sessionStatus(bearer(keySecret))).toBe(401);
  });

  it('creates, rotates and revokes an app password, with errors shown and connection info', async () => {
    // Keyboard: arrow keys move between the tabs.
    await page.getByRole('tab', { name: 'API Keys' }).focus();
    await page.keyboard.press('ArrowRight');
    await page.getByRole('heading', { name: 'App Passwords' }).waitFor();
    expect(page.url()).toBe(`${s.url}/web/#app-passwords`);
    await page.locator('#conn-table').getByText('SMTP (submission)').waitFor();
    await page.getByText('No app passwords yet.').waitFor();
    await screenshot(page, '09-app-passwords-empty');

    await page.getByRole('button', { name: 'Create app password' }).click();
    const dialog = page.locator('#app-dialog');
    for (const scope of ['smtp', 'imap']) await dialog.getByRole('checkbox', { name: scope, exact: false }).first().uncheck();
    await dialog.getByRole('button', { name: 'Create' }).click();
    await expect.poll(() => page.locator('#app-name-error').textContent()).toBe('Name is required.');
    await expect(page.locator('#app-error').textContent()).resolves.toBe('Please correct the marked field.');
    await expect(dialog.getByLabel('Name', { exact: true }).getAttribute('aria-invalid')).resolves.toBe('true');
    await dialog.getByLabel('Name', { exact: true }).fill('Thunderbird');
    await dialog.getByRole('button', { name: 'Create' }).click();
    await expect.poll(() => page.locator('#app-scopes-error').textContent()).toBe('Scopes must not be empty.');
    await expect(page.locator('#app-name-error').isVisible()).resolves.toBe(false);
    await screenshot(page, '10-app-password-errors');

    for (const scope of ['smtp', 'imap', 'pop3']) await dialog.locator(`input[value="${scope}"]`).check();
    await dialog.getByRole('button', { name: 'Create' }).click();
    await page.locator('#secret-dialog').waitFor();
    const password = await page.locator('#secret-value').inputValue();
    expect(password).toMatch(/^rm_/);
    await expect(page.locator('#secret-extra').textContent()).resolves.toContain(`User name${LOGIN}`);
    await screenshot(page, '11-app-password-secret');
    // Esc asks before the secret is gone for good (issue 14).
    await page.keyboard.press('Escape');
    await page.getByRole('button', { name: 'Close anyway' }).click();

    const r = row('app-table', 'Thunderbird');
    await r.waitFor();
    await expect(r.textContent()).resolves.toMatch(/smtp.*pop3.*imap|smtp.*imap.*pop3/);
    // A mail login: the app password verifies as a mail credential (a mail-only scope does not open the HTTP API).
    const mailLogin = async (secret: string) => (await s.services.authenticator.verifyToken(secret, '127.0.0.1', ['appPassword'], 'imap')).ok;
    expect(await mailLogin(password)).toBe(true);
    expect(await sessionStatus(basic(LOGIN, password))).toBe(401);

    await r.getByRole('button', { name: 'Rotate' }).click();
    await page.locator('#confirm-dialog').getByRole('button', { name: 'Rotate' }).click();
    await page.locator('#secret-dialog').waitFor();
    const rotated = await page.locator('#secret-value').inputValue();
    expect(rotated).toMatch(/^rm_/);
    expect(rotated).not.toBe(password);
    await page.getByRole('button', { name: 'I have saved it' }).click();
    expect(await mailLogin(password)).toBe(false);
    expect(await mailLogin(rotated)).toBe(true);

    // Edit: an expiry and an address restriction, through x:AppPassword/set.
    await row('app-table', 'Thunderbird').getByRole('button', { name: 'Edit' }).click();
    await expect(page.locator('#cred-permissions-section').isVisible()).resolves.toBe(false);
    await cred().getByLabel('Allowed IPs').fill('192.0.2.1');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('App password “Thunderbird” saved.').waitFor();
    expect(await sessionStatus(basic(LOGIN, rotated))).toBe(403);
    await screenshot(page, '12-app-passwords-list');

    await row('app-table', 'Thunderbird').getByRole('button', { name: 'Revoke' }).click();
    await page.locator('#confirm-dialog').getByRole('button', { name: 'Revoke password' }).click();
    await page.getByText('No app passwords yet.').waitFor();
  });

  it('creates a mobile key with a QR code of its one-time profile link', async () => {
    await page.getByRole('button', { name: 'Add a phone or tablet' }).click();
    const dialog = page.locator('#mobile-dialog');
    await dialog.getByLabel('Name').fill('My iPhone');
    await dialog.getByLabel('Platform').selectOption('ios');
    await dialog.getByLabel('Device identifier').fill('F2LX1234ABCD');
    const created = page.waitForResponse((res) => res.url().endsWith('/api/smtp-credentials/mobile'));
    const qrRequest = page.waitForRequest((req) => req.url().endsWith('/web/qr'));
    await dialog.getByRole('button', { name: 'Create' }).click();
    const body = (await (await created).json()) as { mobileconfigUrl: string; apiKey: string };
    expect(JSON.parse((await qrRequest).postData() ?? '{}')).toEqual({ data: body.mobileconfigUrl });

    const qr = page.locator('#qr-image');
    await qr.waitFor();
    await expect.poll(() => qr.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);
    await expect(page.locator('#secret-value').inputValue()).resolves.toBe(body.apiKey);
    await screenshot(page, '13-mobile-qr');
    await page.getByRole('button', { name: 'I have saved it' }).click();
    await row('app-table', 'My iPhone').filter({ hasText: 'ios · F2LX1234ABCD' }).waitFor();

    // The link in the QR code gives the profile once.
    const profile = await fetch(body.mobileconfigUrl);
    expect(profile.status).toBe(200);
    expect(profile.headers.get('content-type')).toBe('application/x-apple-aspen-config');
    expect(await profile.text()).toContain(body.apiKey);
    expect((await fetch(body.mobileconfigUrl)).status).toBe(404);
  });

  it('refuses writes that ride on the cookie without the CSRF token', async () => {
    const cookie = `jk_session=${(await sessionCookie())?.value}`;
    const jmapCall = (headers: Record<string, string>, description = 'forged') => fetch(`${s.url}/api`, {
      method: 'POST', headers: { Cookie: cookie, 'Content-Type': 'application/json', ...headers },
      body: JSON.stringify({ using: USING, methodCalls: [['x:ApiKey/set', { create: { k: { description } } }, 'c']] }),
    });
    expect((await jmapCall({})).status).toBe(403);
    expect((await jmapCall({ 'X-CSRF-Token': 'wrong' })).status).toBe(403);
    const rest = await fetch(`${s.url}/api/smtp-credentials`, {
      method: 'POST', headers: { Cookie: cookie, 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'forged', scopes: ['smtp'] }),
    });
    expect(rest.status).toBe(403);
    expect(await rest.json()).toMatchObject({ error: 'forbidden' });
    // Reads need no token; the token the page holds makes writes work.
    expect((await fetch(`${s.url}/api/smtp-credentials`, { headers: { Cookie: cookie } })).status).toBe(200);
    const token = await page.locator('meta[name="csrf-token"]').getAttribute('content');
    expect((await jmapCall({ 'X-CSRF-Token': token ?? '' }, 'Cookie and token')).status).toBe(200);
    // From inside the page too: a script without the header is refused.
    const status = await page.evaluate(async () => (await fetch('/api/smtp-credentials', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'x', scopes: ['smtp'] }),
    })).status);
    expect(status).toBe(403);
    // Renewal needs the token too, and keeps it.
    expect((await fetch(`${s.url}/web/refresh`, { method: 'POST', headers: { Cookie: cookie } })).status).toBe(403);
    const renewed = await fetch(`${s.url}/web/refresh`, { method: 'POST', headers: { Cookie: cookie, 'X-CSRF-Token': token ?? '' } });
    expect(renewed.status).toBe(200);
    expect(renewed.headers.get('set-cookie')).toMatch(/^jk_session=[\w.-]+; Path=\/; HttpOnly; SameSite=Strict$/);
    // The sign-in form has its own token.
    const login = await fetch(`${s.url}/web/login`, {
      method: 'POST', redirect: 'manual', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: `login=${LOGIN}&password=${PASSWORD}`,
    });
    expect(login.status).toBe(403);
    expect(login.headers.get('set-cookie') ?? '').not.toContain('jk_session');
  });

  it('signs scripts in with JSON, and a password change ends the session', async () => {
    await createAccount(s, 'bob', 'bob-password-1');
    const res = await fetch(`${s.url}/web/login`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ login: 'bob', password: 'bob-password-1' }),
    });
    expect(res.status).toBe(200);
    const { csrfToken } = (await res.json()) as { csrfToken: string };
    const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const call = () => fetch(`${s.url}/api`, {
      method: 'POST', headers: { Cookie: cookie, 'X-CSRF-Token': csrfToken, 'Content-Type': 'application/json' },
      body: JSON.stringify({ using: USING, methodCalls: [['x:ApiKey/query', {}, 'c']] }),
    });
    expect((await call()).status).toBe(200);
    const account = await s.services.store.accountByLogin('bob');
    expect(account).toBeDefined();
    await s.services.store.setAccountPassword(account?.id ?? -1, await hashPassword('bob-password-2'));
    expect((await call()).status).toBe(401);
    const wrong = await fetch(`${s.url}/web/login`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ login: 'bob', password: 'bob-password-1' }),
    });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: 'unauthorized', message: 'Wrong login or password.' });
  });

  it('fits a phone screen', async () => {
    const phone = await newContext(PHONE);
    await phone.addCookies([{ ...(await sessionCookie())!, sameSite: 'Strict' }]);
    const p = await phone.newPage();
    const noSideScroll = () => p.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
    await p.goto(`${s.url}/web/#app-passwords`);
    await p.locator('#app-table tbody tr', { hasText: 'My iPhone' }).waitFor();
    await expect(noSideScroll()).resolves.toBe(true);
    await screenshot(p, '14-phone-app-passwords');
    await p.getByRole('tab', { name: 'API Keys' }).click();
    await p.locator('#key-status').filter({ hasText: /API keys?\./ }).waitFor();
    await p.getByRole('button', { name: 'Create API key' }).click();
    await p.locator('#cred-dialog').getByLabel('Description').fill('Phone key');
    await p.locator('#cred-dialog').getByText('only the permissions picked below').click();
    await p.getByLabel('Search permissions').fill('authenticate');
    await p.locator('#cred-dialog').getByLabel('authenticate', { exact: true }).check();
    await expect(noSideScroll()).resolves.toBe(true);
    await screenshot(p, '15-phone-create-dialog', { fullPage: false });
    await p.getByRole('button', { name: 'Create', exact: true }).click();
    await p.locator('#secret-dialog').waitFor();
    await screenshot(p, '16-phone-secret', { fullPage: false });
    await p.getByRole('button', { name: 'I have saved it' }).click();
    await p.locator('#key-table tbody tr', { hasText: 'Phone key' }).waitFor();
    await expect(noSideScroll()).resolves.toBe(true);
    await screenshot(p, '17-phone-api-keys');
    await p.emulateMedia({ colorScheme: 'dark' });
    await screenshot(p, '17-phone-api-keys-dark');
    await phone.close();
  });

  it('signs out, and the old cookie no longer works', async () => {
    const old = await sessionCookie();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You are signed out.').waitFor();
    expect(await sessionCookie()).toBeUndefined();
    await screenshot(page, '18-signed-out');
    const res = await fetch(`${s.url}/jmap/session`, { headers: { Cookie: `jk_session=${old?.value}` } });
    expect(res.status).toBe(401);
    // No Basic challenge for the page: the browser would show its own login box.
    expect(res.headers.get('www-authenticate')).not.toContain('Basic');
    await page.setViewportSize(PHONE);
    await screenshot(page, '19-phone-sign-in');
  });

  it('made no request outside this server, and broke no content security rule', () => {
    expect(requests.length).toBeGreaterThan(20);
    expect(requests.filter((u) => !u.startsWith(`${s.url}/`) && !u.startsWith('data:'))).toEqual([]);
    // The only console errors are the refusals the tests provoked on purpose (wrong password, bad input, CSRF).
    expect(consoleErrors.filter((e) => !e.startsWith('Failed to load resource: the server responded with a status of 4'))).toEqual([]);
  });
});
