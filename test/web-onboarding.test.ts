import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from './helpers/accounts.js';
import { chromiumPath, launchChromium, openPage, screenshot, signIn } from './helpers/browser.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const executable = chromiumPath();
const suite = executable || process.env.CI ? describe : describe.skip;
const PHONE = { width: 375, height: 740 };

suite('web page on a phone: setting up a device (real Chromium)', () => {
  let s: TestServer;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    // POP3 on, so the page has a protocol to leave out for an imap+smtp password.
    s = await startTestServer({ JMAP_KEYS_POP3_ENABLED: 'true', JMAP_KEYS_REST_WRITES_PER_WINDOW: '1000' });
    await createAccount(s, 'alice', 'alice-password-1');
    browser = await launchChromium(executable as string);
    page = await openPage(browser, { viewport: PHONE, hasTouch: true });
    await signIn(page, s.url, 'alice', 'alice-password-1');
  });

  afterAll(async () => {
    await browser?.close();
    await s?.stop();
  });

  const addPhone = async (platform: string) => {
    await page.goto(`${s.url}/web/#app-passwords`);
    await page.getByRole('heading', { name: 'App Passwords' }).waitFor();
    await page.getByRole('button', { name: 'Add a phone or tablet' }).click();
    const dialog = page.locator('#mobile-dialog');
    await dialog.getByLabel('Name').fill(`my ${platform}`);
    await dialog.getByLabel('Platform').selectOption(platform);
    await dialog.getByLabel('Device identifier').fill(`${platform}-1`);
    await dialog.getByRole('button', { name: 'Create' }).click();
    await page.locator('#secret-dialog').waitFor();
    await page.locator('#qr-image').waitFor();
  };

  it('shows a tappable link beside the QR code, only the password\'s protocols, and says the link points at loopback', async () => {
    await addPhone('ios');
    const link = page.locator('#qr-link');
    await expect(link.isVisible()).resolves.toBe(true);
    const href = await link.getAttribute('href');
    expect(href).toMatch(new RegExp(`^${s.services.config.publicUrl}/api/mobileconfig/`));
    await expect(link.textContent()).resolves.toMatch(/Install the profile/);
    const settings = await page.locator('#secret-extra dl').textContent();
    expect(settings).toContain('IMAP');
    expect(settings).toContain('SMTP');
    expect(settings).not.toContain('POP3');
    await expect(page.locator('#qr-loopback').textContent()).resolves.toMatch(/points at 127\.0\.0\.1, which a phone cannot reach/);
    await screenshot(page, 'onboarding-phone-ios', { fullPage: false });
    // The page only showed the link: it still works, once.
    expect((await fetch(href as string)).status).toBe(200);
    expect((await fetch(href as string)).status).toBe(404);
    await page.getByRole('button', { name: 'I have saved it' }).click();
  });

  it('an Android phone gets a link to a settings page, which a tap opens', async () => {
    await addPhone('android');
    await expect(page.locator('#qr-link').textContent()).resolves.toMatch(/Open the settings/);
    await page.locator('#qr-link').click();
    await page.getByRole('heading', { name: /Mail settings for my android/ }).waitFor();
    await expect(page.locator('body').textContent()).resolves.toMatch(/rm_[0-9A-Za-z]{46}/);
    await screenshot(page, 'onboarding-phone-android-settings', { fullPage: false });
  });

  it('names every bad line of allowed IPs, before sending and after the server refuses', async () => {
    await page.goto(`${s.url}/web/#api-keys`);
    await page.getByRole('heading', { name: 'API Keys' }).waitFor();
    await page.getByRole('button', { name: 'Create API key' }).click();
    const dialog = page.locator('#cred-dialog');
    await dialog.getByLabel('Description').fill('office');
    await dialog.getByLabel('Allowed IPs').fill('192.0.2.1\nmy-office\n10.0.0.0/8\nhome router');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    const error = page.locator('#cred-allowedIps-error');
    await expect.poll(() => error.textContent()).toContain('line 2: “my-office” is not an IP address');
    await expect(error.textContent()).resolves.toContain('line 4: “home router” is not an IP address');
    // Plausible in shape, refused by the server: the page still says which lines.
    await dialog.getByLabel('Allowed IPs').fill('10.0.0.0/4\n192.0.2.1\n300.1.1.1');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await expect.poll(() => error.textContent()).toContain('line 1: “10.0.0.0/4”');
    await expect(error.textContent()).resolves.toContain('line 3: “300.1.1.1”');
    await expect(error.textContent()).resolves.not.toContain('192.0.2.1');
    await page.keyboard.press('Escape');
  });

  it('warns before creating a key that cannot work; presets fill the expiry; Esc on the secret asks first', async () => {
    await page.goto(`${s.url}/web/#api-keys`);
    await page.getByRole('heading', { name: 'API Keys' }).waitFor();
    await page.getByRole('button', { name: 'Create API key' }).click();
    const dialog = page.locator('#cred-dialog');
    await dialog.getByLabel('Description').fill('useless');
    await dialog.getByLabel('Expiration date').fill('2020-01-01T00:00');
    await dialog.getByText('only the permissions picked below').click();
    await page.getByLabel('Search permissions').fill('apikeyget');
    await dialog.getByLabel('sysApiKeyGet').check();
    await dialog.getByRole('button', { name: 'Create', exact: true }).click();
    const warning = page.locator('#cred-warning');
    await expect.poll(() => warning.textContent()).toContain('The expiration date is in the past');
    await expect(warning.textContent()).resolves.toContain('Replace without authenticate');
    const count = async () => (await s.api(`Basic ${Buffer.from('alice:alice-password-1').toString('base64')}`, [['x:ApiKey/query', {}, 'q']])).body.methodResponses[0][1].ids.length;
    expect(await count()).toBe(0);
    await screenshot(page, 'onboarding-create-warning', { fullPage: false });

    // Presets: 90 days from now, then never.
    await dialog.getByRole('button', { name: '90 days' }).click();
    const value = await dialog.getByLabel('Expiration date').inputValue();
    const days = (new Date(value).getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(89.9);
    expect(days).toBeLessThan(90.1);
    await dialog.getByRole('button', { name: 'Never' }).click();
    await expect(dialog.getByLabel('Expiration date').inputValue()).resolves.toBe('');
    await dialog.getByRole('button', { name: '30 days' }).click();

    // Still without authenticate: warned once for these values, created on the second press.
    await dialog.getByRole('button', { name: 'Create', exact: true }).click();
    await expect.poll(() => warning.textContent()).not.toContain('in the past');
    await dialog.getByRole('button', { name: 'Create', exact: true }).click();
    await page.locator('#secret-dialog').waitFor();
    expect(await count()).toBe(1);

    await page.keyboard.press('Escape');
    await expect(page.locator('#secret-leave').isVisible()).resolves.toBe(true);
    await expect(page.locator('#secret-dialog').isVisible()).resolves.toBe(true);
    await page.getByRole('button', { name: 'Keep it open' }).click();
    await expect(page.locator('#secret-leave').isVisible()).resolves.toBe(false);
    await page.keyboard.press('Escape');
    await page.getByRole('button', { name: 'Close anyway' }).click();
    await expect(page.locator('#secret-dialog').isVisible()).resolves.toBe(false);
  });

  it('groups the permission names by area with readable words and a select-all per group', async () => {
    await page.getByRole('button', { name: 'Create API key' }).click();
    const dialog = page.locator('#cred-dialog');
    await dialog.getByText('only the permissions picked below').click();
    const areas = await page.locator('#perm-list .perm-group > summary strong').allTextContents();
    expect(areas).toEqual(expect.arrayContaining(['Sign-in and account', 'IMAP', 'JMAP data (mail, calendars, contacts, files)', 'Server administration']));
    await page.getByLabel('Search permissions').fill('api key');
    const admin = page.locator('.perm-group[data-area="sys"]');
    await expect(admin.locator('.perm-words', { hasText: 'API key get' }).isVisible()).resolves.toBe(true);
    await admin.getByRole('button', { name: 'Select all in group' }).click();
    const picked = await dialog.locator('#perm-list input:checked').evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value));
    expect(picked.length).toBeGreaterThanOrEqual(5);
    expect(picked.every((n) => /^sys(ApiKey)/.test(n))).toBe(true);
    await expect(page.locator('#perm-count').textContent()).resolves.toBe(`${picked.length} selected`);
    await screenshot(page, 'onboarding-permission-groups', { fullPage: false });
    await admin.getByRole('button', { name: 'Clear group' }).click();
    await expect(page.locator('#perm-count').textContent()).resolves.toBe('0 selected');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
  });

  it('changes the account\'s own password on the page; the old one stops working, this sign-in goes on', async () => {
    const basicAuth = (p: string) => `Basic ${Buffer.from(`alice:${p}`).toString('base64')}`;
    await page.getByRole('button', { name: 'Change password' }).click();
    const dialog = page.locator('#password-dialog');
    await dialog.getByLabel('Current password').fill('wrong-password');
    await dialog.getByLabel('New password', { exact: true }).fill('alice-password-2');
    await dialog.getByLabel('New password again').fill('alice-password-2');
    await dialog.getByRole('button', { name: 'Change password' }).click();
    await expect.poll(() => page.locator('#password-currentPassword-error').textContent()).toBe('That is not your current password.');
    await dialog.getByLabel('Current password').fill('alice-password-1');
    await dialog.getByLabel('New password again').fill('something-else');
    await dialog.getByRole('button', { name: 'Change password' }).click();
    await expect.poll(() => page.locator('#password-repeat-error').textContent()).toBe('The two new passwords differ.');
    await dialog.getByLabel('New password again').fill('alice-password-2');
    await dialog.getByRole('button', { name: 'Change password' }).click();
    await page.locator('#page-flash').waitFor();
    expect((await s.api(basicAuth('alice-password-1'), [['x:ApiKey/query', {}, 'q']])).status).toBe(401);
    expect((await s.api(basicAuth('alice-password-2'), [['x:ApiKey/query', {}, 'q']])).status).toBe(200);
    // The page goes on with its new session: a write with the new CSRF token works.
    await page.goto(`${s.url}/web/#app-passwords`);
    await page.getByRole('button', { name: 'Create app password' }).click();
    await page.locator('#app-dialog').getByLabel('Name').fill('after the change');
    await page.locator('#app-dialog').getByRole('button', { name: 'Create' }).click();
    await page.locator('#secret-dialog').waitFor();
  });
});
