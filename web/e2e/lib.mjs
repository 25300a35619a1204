// What both browser test files use: the Chromium launch, axe-core, the
// layout and screenshot checks, logging in through the page, and polling.
// (Not a test file: node --test runs only *.test.mjs.)
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const docs = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs');
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const SHOTS = process.env.WEB_SCREENSHOTS === '1';

// launch starts Debian's Chromium (or $CHROMIUM) headless, with the flags
// this closed network needs.
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

// axe runs axe-core in the page (evaluated through the DevTools protocol,
// which the page's CSP does not govern) and fails on any serious or
// critical violation.
export async function axe(page, name) {
  await page.evaluate(axeSource + '\n;0');
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
  });
  assert.deepEqual(result, [], `axe on ${name}`);
}

// fits checks that the page needs no horizontal scrolling.
export async function fits(page, name) {
  const [scroll, width, wide] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth,
    [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > window.innerWidth && !(e.parentElement && e.parentElement.closest('.table-wrap')))
      .slice(0, 3).map((e) => `${e.tagName.toLowerCase()}.${e.className} (${Math.round(e.getBoundingClientRect().right)}px)`)]);
  assert.ok(scroll <= width, `${name}: the page is ${scroll}px wide in a ${width}px window: ${wide.join(', ')}`);
}

// shot writes docs/<file> with WEB_SCREENSHOTS=1: the top of the page, or
// the part that shows locator.
export async function shot(page, file, locator) {
  if (!SHOTS) return;
  await page.mouse.move(0, 0); // no crosshair or hover in the picture
  if (locator) {
    await locator.scrollIntoViewIfNeeded();
  } else {
    await page.evaluate(() => window.scrollTo(0, 0));
  }
  await page.screenshot({ path: join(docs, file) });
}

// streamOpen waits until the page's live stream is connected, so that an
// event sent from then on reaches it.
export async function streamOpen(page) {
  await page.locator('.shell[data-stream="connected"]').waitFor();
}

export async function uiLogin(page, username, password) {
  await page.goto('/');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in', exact: true }).last().click();
  await page.getByRole('heading', { name: 'Markets' }).waitFor();
  await streamOpen(page);
}

export async function go(page, hash, heading) {
  await page.goto('/' + hash);
  await page.getByRole('heading', { name: heading, exact: true }).first().waitFor();
}

// until polls f until it returns a truthy value (ms, 10 s by default, at
// most) and returns it; the page updates by itself, so a check waits for it.
export async function until(f, what, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) assert.fail('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 100));
  }
}
