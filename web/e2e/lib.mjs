// What both browser test files use: the server, the API client, the
// Chromium launch and its pages, axe-core, the layout and screenshot
// checks, logging in through the page, and polling.
// (Not a test file: node --test runs only *.test.mjs.)
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const docs = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs');
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const SHOTS = process.env.WEB_SCREENSHOTS === '1';

// startServer starts `orderprocessor serve` (the binary ORDERPROCESSOR_BIN)
// on addr (a free loopback port by default) with its store in dataDir, the
// static price feed and the extra flags args, and resolves once it listens
// to { url, stop }: stop ends it with SIGTERM and resolves when it exited.
export async function startServer({ dataDir, addr = '127.0.0.1:0', args = [], env = {} }) {
  const bin = process.env.ORDERPROCESSOR_BIN;
  assert.ok(bin, 'ORDERPROCESSOR_BIN must name the orderprocessor binary');
  const proc = spawn(bin, ['serve', '--addr', addr, '--data-dir', dataDir, '--price-feed', 'static', ...args], {
    env: { ...process.env, ORDERPROCESSOR_LOG_FORMAT: 'text', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the server did not start: ' + out)), 30000);
    const on = (b) => {
      out += b;
      const m = out.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    };
    proc.stdout.on('data', on);
    proc.stderr.on('data', on);
    proc.on('exit', (code) => reject(new Error(`the server exited (${code}): ${out}`)));
  });
  const stop = async () => {
    if (proc.exitCode !== null) return;
    const exited = new Promise((r) => proc.on('exit', r));
    proc.kill('SIGTERM');
    await exited;
  };
  return { url, stop };
}

// client returns call(method, path, body, token, key) for the API of the
// server at url: it sends body as JSON (with the Idempotency-Key key when
// given) and resolves to the answer's JSON, failing on any status but 2xx.
export function client(url) {
  return async (method, path, body, token, key) => {
    const headers = { 'Content-Type': 'application/json' };
    if (token) headers.Authorization = 'Bearer ' + token;
    if (key) headers['Idempotency-Key'] = key;
    const res = await fetch(url + '/api/v1' + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const data = await res.json();
    assert.ok(res.ok, `${method} ${path}: ${res.status} ${JSON.stringify(data)}`);
    return data;
  };
}

// newPage opens a page of its own browser context at viewport, on the
// server at url, and records in problems every Content-Security-Policy
// violation, script error and file that failed to load (not the API's
// answers: the tests check those).
export async function newPage(browser, viewport, url, problems) {
  const context = await browser.newContext({ viewport, baseURL: url, reducedMotion: 'reduce' });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (/Content.Security.Policy|Refused to/i.test(m.text())) problems.push(m.text());
    const u = m.location().url || '';
    if (m.text().startsWith('Failed to load resource') && !new URL(u, url).pathname.startsWith('/api/')) problems.push(`${m.text()}: ${u}`);
  });
  page.on('pageerror', (e) => problems.push('script error: ' + e.message));
  return page;
}

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
