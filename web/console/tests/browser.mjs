// Debian's Chromium driven by playwright-core for the console's browser test: one
// browser context per person (their own storage and network, so one can go offline),
// the browser errors each page logged, side-by-side screenshots and the axe-core check.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
export const SHOTS = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'screenshots');
/** Generous: the test must pass on a slow, busy two-core machine. */
export const TIMEOUT = 20_000;

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    // Without the background-networking flags Chromium's own connections are refused on a closed network.
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/**
 * A person's window: a context of its own with one page opened at `url`. `errors`
 * collects the page's console errors and uncaught exceptions, except network errors
 * while `person.offline` is set (those are expected while the network is down).
 */
export async function openWindow(browser, label, url, { width = 1000, height = 680 } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, locale: 'en-GB', timezoneId: 'UTC' });
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  const person = { label, context, page, errors: [], offline: false };
  const expectedWhileOffline = /ERR_INTERNET_DISCONNECTED|ERR_NETWORK_CHANGED|ERR_CONNECTION|WebSocket connection to|Failed to fetch|net::ERR_/;
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    if (person.offline && expectedWhileOffline.test(text)) return;
    person.errors.push(`console.error: ${text}`);
  });
  page.on('pageerror', (err) => person.errors.push(`uncaught: ${err.message}`));
  await page.goto(url);
  return person;
}

/** Goes offline (or back); the network errors this causes are expected, not failures. */
export async function setOffline(person, offline) {
  if (offline) person.offline = true;
  await person.context.setOffline(offline);
}

/** Saves `name`.png: the pages of `people` side by side, each under its label. */
export async function screenshotSideBySide(browser, name, people) {
  mkdirSync(SHOTS, { recursive: true });
  const shots = [];
  for (const p of people) shots.push({ label: p.label, png: (await p.page.screenshot()).toString('base64') });
  const context = await browser.newContext({ viewport: { width: 400, height: 300 } });
  const page = await context.newPage();
  const cells = shots.map((s) => `<figure><figcaption>${s.label}</figcaption><img src="data:image/png;base64,${s.png}"></figure>`).join('');
  await page.setContent(`<!doctype html><style>
      body { margin: 0; background: #5b6470; font: 600 15px system-ui, sans-serif; color: #fff; }
      main { display: flex; gap: 12px; padding: 12px; width: max-content; }
      figure { margin: 0; } figcaption { padding: 0 0 6px 2px; }
      img { display: block; border-radius: 6px; }
    </style><main>${cells}</main>`);
  await page.waitForFunction(() => [...document.images].every((i) => i.complete && i.naturalWidth > 0));
  const path = join(SHOTS, `${name}.png`);
  writeFileSync(path, await page.locator('main').screenshot());
  await context.close();
  return path;
}

/**
 * axe-core's serious and critical violations on the page, described one per line. axe is
 * evaluated through the DevTools protocol rather than added as a <script>: the server's
 * CSP (rightly) blocks inline scripts, and addScriptTag inlines the file.
 */
export async function seriousA11yViolations(page) {
  await page.evaluate(readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8'));
  const result = await page.evaluate(() => globalThis.axe.run(document, { resultTypes: ['violations'] }));
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
}

/**
 * Polls `fn` until it returns a truthy value; fails saying `what` after `timeoutMs`. A
 * throw counts as "not yet" (an element re-rendered between two reads), and the last
 * one is reported.
 */
export async function eventually(fn, what, timeoutMs = TIMEOUT) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = `threw: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
