import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from './helpers/accounts.js';
import { chromiumPath, launchChromium, openPage, screenshot, signIn } from './helpers/browser.js';
import { basic, startTestServer, type ApiBody, type TestServer } from './helpers/server.js';

const executable = chromiumPath();
const suite = executable || process.env.CI ? describe : describe.skip;
const alice = basic('alice', 'alice-password-1');

suite('web page: rotation with a grace period and revoke all (real Chromium)', () => {
  let s: TestServer;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    s = await startTestServer({ JMAP_KEYS_REST_WRITES_PER_WINDOW: '1000', JMAP_KEYS_REST_READS_PER_WINDOW: '1000' });
    await createAccount(s, 'alice', 'alice-password-1');
    browser = await launchChromium(executable as string);
    page = await openPage(browser, { viewport: { width: 1200, height: 900 } });
    await signIn(page, s.url, 'alice', 'alice-password-1');
  });

  afterAll(async () => {
    await browser?.close();
    await s?.stop();
  });

  const mailLogin = async (secret: string) => (await s.services.authenticator.verifyToken(secret, '127.0.0.1', ['appPassword'], 'imap')).ok;
  const keyWorks = async (secret: string) => (await s.api(`Bearer ${secret}`, [['Core/echo', {}, 'e']])).status === 200;

  it('the rotate dialog offers how long the old password keeps working; with 1 hour both work', async () => {
    const res = await fetch(`${s.url}/api/smtp-credentials`, { method: 'POST', headers: { Authorization: alice, 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'Thunderbird', scopes: ['imap', 'smtp'] }) });
    const old = await res.json() as ApiBody;
    await page.goto(`${s.url}/web/#app-passwords`);
    await page.getByRole('heading', { name: 'App Passwords' }).waitFor();
    await page.locator('#app-table tbody tr', { hasText: 'Thunderbird' }).getByRole('button', { name: 'Rotate' }).click();
    const dialog = page.locator('#confirm-dialog');
    const grace = dialog.getByLabel('The old secret keeps working');
    await expect(grace.inputValue()).resolves.toBe('0');
    await expect(grace.locator('option').allTextContents()).resolves.toEqual(['No: stop it now', 'For 1 hour', 'For 1 day', 'For 7 days']);
    await grace.selectOption({ label: 'For 1 hour' });
    await screenshot(page, 'lifecycle-rotate-grace');
    await dialog.getByRole('button', { name: 'Rotate' }).click();
    await page.locator('#secret-dialog').waitFor();
    const rotated = await page.locator('#secret-value').inputValue();
    expect(rotated).toMatch(/^rm_/);
    await page.getByRole('button', { name: 'I have saved it' }).click();
    await page.getByText(/App password “Thunderbird” rotated\. The old one works until/).waitFor();
    expect(await mailLogin(old.apiKey)).toBe(true);
    expect(await mailLogin(rotated)).toBe(true);
    const oldNow = await (await fetch(`${s.url}/api/smtp-credentials/${old.id}`, { headers: { Authorization: alice } })).json() as ApiBody;
    const left = Date.parse(oldNow.expiresAt) - Date.now();
    expect(left).toBeGreaterThan(3500_000);
    expect(left).toBeLessThanOrEqual(3600_000);

    // An API key rotates from its row too, here without a grace: the old one stops at once.
    const made = await s.api(alice, [['x:ApiKey/set', { create: { k: { description: 'Deploy' } } }, 's']]);
    const key = made.body.methodResponses[0][1].created.k as { id: string; secret: string };
    await page.goto(`${s.url}/web/#api-keys`);
    await page.locator('#key-table tbody tr', { hasText: 'Deploy' }).getByRole('button', { name: 'Rotate' }).click();
    await expect(dialog.getByLabel('The old secret keeps working').isVisible()).resolves.toBe(true);
    await dialog.getByRole('button', { name: 'Rotate' }).click();
    await page.locator('#secret-dialog').waitFor();
    const newKey = await page.locator('#secret-value').inputValue();
    await page.getByRole('button', { name: 'I have saved it' }).click();
    await page.getByText('API key “Deploy” rotated. The old one no longer works.').waitFor();
    expect(await keyWorks(key.secret)).toBe(false);
    expect(await keyWorks(newKey)).toBe(true);
  });

  it('"Revoke all" on the API Keys tab revokes every key after a confirmation; the page keeps working', async () => {
    await s.api(alice, [['x:ApiKey/set', { create: { a: { description: 'CI one' }, b: { description: 'CI two' } } }, 's']]);
    const before = await s.api(alice, [['x:ApiKey/query', {}, 'q']]);
    const count = (before.body.methodResponses[0][1].ids as string[]).length;
    expect(count).toBe(3);
    await page.goto(`${s.url}/web/#api-keys`);
    await page.reload();
    await page.locator('#key-table tbody tr', { hasText: 'CI two' }).waitFor();
    await page.locator('#panel-keys').getByRole('button', { name: 'Revoke all' }).click();
    const dialog = page.locator('#confirm-dialog');
    await expect(dialog.getByRole('heading').textContent()).resolves.toBe('Revoke all API keys?');
    // Revocation offers no grace choice.
    await expect(dialog.locator('#confirm-grace-field').isVisible()).resolves.toBe(false);
    await screenshot(page, 'lifecycle-revoke-all');
    await dialog.getByRole('button', { name: 'Revoke all API keys' }).click();
    await page.getByText('Revoked 3 API keys.').waitFor();
    await page.getByText('No API keys yet.').waitFor();
    expect((await s.api(alice, [['x:ApiKey/query', {}, 'q']])).body.methodResponses[0][1].ids).toEqual([]);

    // The App Passwords tab has its own button; its passwords were untouched so far.
    await page.goto(`${s.url}/web/#app-passwords`);
    await page.locator('#app-table tbody tr', { hasText: 'Thunderbird' }).first().waitFor();
    await page.locator('#panel-apps').getByRole('button', { name: 'Revoke all' }).click();
    await page.locator('#confirm-dialog').getByRole('button', { name: 'Revoke all app passwords' }).click();
    await page.getByText('Revoked 2 app passwords.').waitFor();
    await page.getByText('No app passwords yet.').waitFor();
  });
});
