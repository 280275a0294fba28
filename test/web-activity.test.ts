import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from './helpers/accounts.js';
import { chromiumPath, launchChromium, openPage, screenshot, signIn } from './helpers/browser.js';
import { basic, startTestServer, type TestServer } from './helpers/server.js';

const executable = chromiumPath();
const suite = executable || process.env.CI ? describe : describe.skip;

suite('web page: Activity (real Chromium against the real server)', () => {
  let s: TestServer;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];
  const alice = basic('alice', 'alice-password-1');

  beforeAll(async () => {
    s = await startTestServer();
    await createAccount(s, 'alice', 'alice-password-1');
    // Alice's history, made through the API: two keys, one renamed, one revoked.
    const made = await s.api(alice, [['x:ApiKey/set', { create: { a: { description: 'Backup script' }, b: { description: 'Old laptop' } } }, '0']]);
    const { a, b } = made.body.methodResponses[0][1].created;
    await s.api(alice, [['x:ApiKey/set', { update: { [a.id]: { description: 'Nightly backup' } }, destroy: [b.id] }, '0']]);
    browser = await launchChromium(executable as string);
    page = await openPage(browser);
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  });
  afterAll(async () => {
    await browser?.close();
    await s?.stop();
  });

  it('shows the account\'s audit trail, filters it by event, and per key from the key\'s row', async () => {
    await signIn(page, s.url, 'alice', 'alice-password-1');
    await page.getByRole('tab', { name: 'Activity' }).click();
    const rows = page.locator('#activity-table tbody tr');
    await expect.poll(() => rows.count()).toBe(5);
    // Newest first: the sign-in, then the revocation, the rename, the two creations.
    expect(await rows.locator('td[data-label=Event] .name').allTextContents())
      .toEqual(['Signed in', 'Credential revoked', 'Credential changed', 'Credential created', 'Credential created']);
    expect(await rows.nth(1).locator('td[data-label=Credential]').textContent()).toContain('Old laptop');
    expect(await rows.nth(2).locator('td[data-label=Event]').textContent()).toContain('description');
    expect(await rows.nth(0).locator('td[data-label=From]').textContent()).toBe('127.0.0.1');
    expect(await rows.nth(1).locator('td[data-label=Account]').textContent()).toBe('alice');
    expect(await rows.nth(1).locator('td[data-label=By]').textContent()).toBe('you (alice) · JMAP');
    expect(await page.locator('#activity-status').textContent()).toBe('5 events.');
    await screenshot(page, 'activity');

    await page.selectOption('#activity-type', 'credential.created');
    await page.click('#activity-filter button[type=submit]');
    await expect.poll(() => rows.count()).toBe(2);

    await page.getByRole('tab', { name: 'API Keys' }).click();
    await page.getByRole('button', { name: 'Activity of “Nightly backup”' }).click();
    await expect.poll(() => page.locator('#activity-status').textContent()).toBe('1 event for “Nightly backup”.');
    await page.click('#activity-all');
    await expect.poll(() => page.locator('#activity-status').textContent()).toBe('5 events.');
    await page.getByRole('tab', { name: 'API Keys' }).click();
    await page.getByRole('button', { name: 'Activity of “Nightly backup”' }).click();
    // With the type filter cleared, the key's whole story: created, then renamed.
    await expect.poll(() => rows.count()).toBe(2);
    expect(await rows.locator('td[data-label=Event] .name').allTextContents()).toEqual(['Credential changed', 'Credential created']);
    expect(page.url()).toContain('#activity');
    expect(consoleErrors).toEqual([]);
  });
});
