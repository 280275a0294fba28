import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { startServer, type RunningServer } from '../src/server.js';
import { createAccount } from './helpers/accounts.js';
import { chromiumPath, launchChromium, openPage, screenshot, signIn } from './helpers/browser.js';
import { basic, bearer, startTestServer, USING, type TestServer } from './helpers/server.js';

const executable = chromiumPath();
const suite = executable || process.env.CI ? describe : describe.skip;

suite('web page: live updates and last use (real Chromium, changes made through another node)', () => {
  let s: TestServer;
  let other: RunningServer;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];
  const alice = basic('alice', 'alice-password-1');

  /** A JMAP call through the other node (same store). */
  const elsewhere = async (auth: string, call: unknown[]) => {
    const res = await fetch(`${other.url}/api`, { method: 'POST', headers: { Authorization: auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ using: USING, methodCalls: [call] }) });
    return (await res.json() as { methodResponses: [string, any, string][] }).methodResponses[0]![1]; // eslint-disable-line @typescript-eslint/no-explicit-any
  };

  beforeAll(async () => {
    s = await startTestServer();
    await createAccount(s, 'alice', 'alice-password-1');
    other = await startServer(loadConfig({ ...s.storeEnv, JMAP_KEYS_PORT: '0', JMAP_KEYS_LAST_USED_FLUSH_MS: '50' }));
    browser = await launchChromium(executable as string);
    page = await openPage(browser);
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  });
  afterAll(async () => {
    await browser?.close();
    await other?.close();
    await s?.stop();
  });

  it('shows keys created and revoked on another node without a reload, and where and how a key was last used', async () => {
    await signIn(page, s.url, 'alice', 'alice-password-1');
    const rows = page.locator('#key-table tbody tr[data-id]');
    await expect.poll(() => page.locator('#key-table tbody').textContent()).toContain('No API keys yet');

    const made = await elsewhere(alice, ['x:ApiKey/set', { create: { k: { description: 'Made on node B' } } }, 's']);
    const key = made.created.k;
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(1);
    expect(await rows.first().locator('.name').textContent()).toBe('Made on node B');
    expect(await rows.first().locator('td[data-label="Last used"]').textContent()).toBe('Never');

    // Used (through node B), then shown with its service and address on the next load of the list.
    expect((await elsewhere(bearer(key.secret), ['x:ApiKey/get', { ids: [] }, 'g'])).list).toEqual([]);
    await expect.poll(async () => (await s.api(alice, [['x:ApiKey/get', { ids: [key.id], properties: ['lastUsedService'] }, 'g']])).body.methodResponses[0][1].list[0].lastUsedService).toBe('jmap');
    await page.getByRole('tab', { name: 'App Passwords' }).click();
    await page.getByRole('tab', { name: 'API Keys' }).click();
    await expect.poll(() => rows.first().locator('td[data-label="Last used"] .last-use').textContent()).toMatch(/^JMAP API · from (127\.0\.0\.1|::1|::ffff:127\.0\.0\.1)$/);
    await screenshot(page, 'live-last-used');

    await elsewhere(alice, ['x:ApiKey/set', { destroy: [key.id] }, 'd']);
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(0);

    // The App Passwords tab follows its own type.
    await page.getByRole('tab', { name: 'App Passwords' }).click();
    const apps = page.locator('#app-table tbody tr[data-id]');
    await expect.poll(() => apps.count()).toBe(0);
    await elsewhere(alice, ['x:AppPassword/set', { create: { p: { description: 'Phone from node B' } } }, 's']);
    await expect.poll(() => apps.count(), { timeout: 10_000 }).toBe(1);
    expect(consoleErrors).toEqual([]);
  });
});
