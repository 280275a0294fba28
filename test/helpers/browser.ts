import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core';

/** Where the end-to-end tests leave their screenshots (gitignored). */
export const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/web/', import.meta.url));

/** Debian's chromium package (what .ci/run installs), or CHROMIUM_PATH. Playwright's own browser downloads are not used. */
export function chromiumPath(): string | undefined {
  return [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p): p is string => !!p && existsSync(p));
}

/** A real headless Chromium; the flags keep it from calling home (the test machine may have no network). */
export function launchChromium(executablePath: string): Promise<Browser> {
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
    ],
  });
}

/** Saves a screenshot as test-artifacts/web/<name>.png: the whole page, or only the viewport (for modal dialogs). */
export async function screenshot(page: Page, name: string, { fullPage = true } = {}): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage });
  return path;
}

/** A page in a fresh context: UTC, British English, 5 s to find anything (the page answers in milliseconds). */
export async function openPage(browser: Browser, options: BrowserContextOptions = { viewport: { width: 1280, height: 860 } }): Promise<Page> {
  const context = await browser.newContext({ timezoneId: 'UTC', locale: 'en-GB', ...options });
  context.setDefaultTimeout(5000);
  return context.newPage();
}

/** Signs in through the page's own form, as a person does, and waits for the credentials view. */
export async function signIn(page: Page, serverUrl: string, login: string, password: string): Promise<void> {
  await page.goto(`${serverUrl}/web/`);
  await page.getByLabel('Login').fill(login);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'API Keys' }).waitFor();
}
