// End-to-end tests of the web app in a real browser: Debian's Chromium,
// driven by playwright-core, against a real server (the orderprocessor
// binary named by ORDERPROCESSOR_BIN, on a free loopback port, with a fresh
// store and the static price feed). Every page is checked with axe-core
// (0 serious or critical violations) at 1280x800 and at 390x844, and with
// no Content-Security-Policy violation and no script error. The tests take
// the screenshots in docs/ (web-*.png) when WEB_SCREENSHOTS=1.
//
//   ORDERPROCESSOR_BIN=/path/to/orderprocessor node --test web/e2e/
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as lib from './lib.mjs';
import { axe, client, fits, go, launch, shot, streamOpen, uiLogin, until } from './lib.mjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ADMIN_PASSWORD = 'Adm1n!Passw0rd-e2e';
const JWT_SECRET = 'web-e2e-secret-of-at-least-32-characters'; // tokens survive the restart
const USER = { username: 'trader_e2e', email: 'trader@example.com', first_name: 'Tess', last_name: 'Trader', password: 'Str0ng!Passw0rd' };

let server; let base; let call; let dataDir; let browser;
const problems = []; // CSP violations, script errors and missing files, from every page

// startServer starts the server on addr (a free port when absent) with the
// test's store, and resolves when it listens.
async function startServer(addr) {
  if (!dataDir) dataDir = mkdtempSync(join(tmpdir(), 'op-web-e2e-'));
  server = await lib.startServer({ dataDir, addr, args: ['--deposit-daily-limit', '0', '--register-limit', '1'],
    env: { ORDERPROCESSOR_ADMIN_PASSWORD: ADMIN_PASSWORD, ORDERPROCESSOR_JWT_SECRET: JWT_SECRET } });
  base = server.url;
  call = client(base);
}

async function stopServer() {
  const s = server;
  server = null;
  if (s) await s.stop();
}

const login = async (username, password) => (await call('POST', '/auth/login', { username, password })).access_token;

before(async () => {
  await startServer();
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  await stopServer();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const newPage = (viewport) => lib.newPage(browser, viewport, base, problems);

async function placeOrder(page, fields) {
  const t = page.getByRole('form', { name: 'Order ticket' });
  await t.getByLabel('Order type').selectOption(fields.type);
  await t.getByLabel(/^Quantity/).fill(fields.quantity);
  if (fields.limit) await t.getByLabel(/Limit price|Target price/).fill(fields.limit);
  if (fields.stop) await t.getByLabel('Stop price (USD)').fill(fields.stop);
  await t.getByRole('button', { name: 'Place order' }).click();
  const ok = t.locator('.msg.ok');
  await ok.waitFor();
  const text = await ok.textContent();
  const id = text.match(/^Order (\S+):/)[1];
  await t.getByLabel(/^Quantity/).fill('');
  return { id, text };
}

const rowOf = (page, table, attr, value) => page.locator(`table.${table} tr[data-${attr}="${value}"]`);
const cells = async (row) => (await row.locator('td').allTextContents()).map((s) => s.trim());

test('a trader signs up, trades every way and sees exact figures', async () => {
  const adminToken = await login('admin', ADMIN_PASSWORD);
  await call('PUT', '/admin/assets/BTC/price', { price_usd: '50000' }, adminToken);
  await call('PUT', '/admin/assets/ETH/price', { price_usd: '2000' }, adminToken);

  const page = await newPage({ width: 1280, height: 800 });
  await page.goto('/');
  await page.getByRole('heading', { name: 'Order Processor' }).waitFor();
  await axe(page, 'login');
  await shot(page, 'web-login.png');

  // Sign up.
  await page.getByRole('button', { name: 'Sign up' }).click();
  const form = page.getByRole('form', { name: 'Sign up' });
  for (const [label, v] of [['Username', USER.username], ['Email', USER.email], ['First name', USER.first_name], ['Last name', USER.last_name]]) {
    await form.getByLabel(label).fill(v);
  }
  await form.getByLabel('Password').fill('short');
  await form.getByRole('button', { name: 'Create account' }).click();
  await form.locator('#f-password-err').waitFor(); // the API's field error next to its field
  await form.getByLabel('Password').fill(USER.password);
  await form.getByRole('button', { name: 'Create account' }).click();
  await page.getByText('Account created.').waitFor();

  // A wrong password, then the right one.
  await page.getByLabel('Username').fill(USER.username);
  await page.getByLabel('Password').fill('Wr0ng!Passw0rd');
  await page.getByRole('form', { name: 'Log in' }).getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('alert').filter({ hasText: 'Wrong username or password.' }).waitFor();
  await page.getByLabel('Password').fill(USER.password);
  await page.getByRole('form', { name: 'Log in' }).getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Markets' }).waitFor();
  assert.equal(await page.evaluate(() => localStorage.length + sessionStorage.length + document.cookie.length), 0, 'nothing kept in storage');

  // Markets update live.
  await streamOpen(page);
  await page.getByTestId('price-BTC').filter({ hasText: '50,000.00' }).waitFor();
  await call('PUT', '/admin/assets/BTC/price', { price_usd: '50100' }, adminToken);
  await page.getByTestId('price-BTC').filter({ hasText: '50,100.00' }).waitFor();
  await call('PUT', '/admin/assets/BTC/price', { price_usd: '50000' }, adminToken);
  await page.getByTestId('price-BTC').filter({ hasText: '50,000.00' }).waitFor();
  await axe(page, 'markets');
  await shot(page, 'web-markets.png');

  // Deposit.
  await go(page, '#/account', 'Account');
  const dep = page.getByRole('form', { name: 'Deposit' });
  await dep.getByLabel('Amount').fill('10000');
  await dep.getByRole('button', { name: 'Deposit' }).click();
  await dep.getByText('Successfully deposited').waitFor();
  await rowOf(page, 'balances', 'currency', 'USD').locator('td').first().filter({ hasText: '10000' }).waitFor();

  // A market buy, from the asset page; the ticket shows the estimate first.
  await go(page, '#/asset/BTC', 'Bitcoin BTC');
  const ticket = page.getByRole('form', { name: 'Order ticket' });
  await ticket.getByLabel(/^Quantity/).fill('0.1');
  assert.equal(await page.getByTestId('estimate').textContent(), '5,000.00 USD');
  const buy = await placeOrder(page, { type: 'market_buy', quantity: '0.1' });
  assert.match(buy.text, /completed at 50000/);
  await page.locator('.candles canvas').first().waitFor();
  await axe(page, 'asset');
  await shot(page, 'web-asset.png');

  // Two resting limit buys; a stop loss.
  await go(page, '#/asset/ETH', 'Ethereum ETH');
  const rest = await placeOrder(page, { type: 'limit_buy', quantity: '1', limit: '1500' });
  assert.match(rest.text, /queued/);
  const other = await placeOrder(page, { type: 'limit_buy', quantity: '1', limit: '1000' });
  await go(page, '#/asset/BTC', 'Bitcoin BTC');
  const stop = await placeOrder(page, { type: 'stop_loss', quantity: '0.05', stop: '45000' });
  assert.match(stop.text, /queued/);

  // Open orders: amend one, cancel the other, then the price fills it and
  // the page updates by itself.
  await go(page, '#/orders', 'Orders');
  const row = rowOf(page, 'open-orders', 'order', rest.id);
  await row.getByRole('button', { name: 'Amend' }).click();
  await row.getByLabel('New quantity').fill('2');
  await row.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Order amended.').waitFor();
  assert.equal((await cells(rowOf(page, 'open-orders', 'order', rest.id)))[3], '2');
  await rowOf(page, 'open-orders', 'order', other.id).getByRole('button', { name: 'Cancel' }).click();
  await page.getByText(`Order ${other.id} is cancelled.`).waitFor();
  await rowOf(page, 'open-orders', 'order', other.id).waitFor({ state: 'detached' });
  await axe(page, 'orders');
  await shot(page, 'web-orders.png');
  await call('PUT', '/admin/assets/ETH/price', { price_usd: '1500' }, adminToken);
  await page.getByText(`Order ${rest.id} is completed.`).waitFor();
  await rowOf(page, 'open-orders', 'order', rest.id).waitFor({ state: 'detached' });
  await call('PUT', '/admin/assets/BTC/price', { price_usd: '45000' }, adminToken);
  await page.getByText(`Order ${stop.id} is completed.`).waitFor();

  // History: filter, and the status history of the amended order.
  const histRows = page.locator('table.history tbody tr');
  await page.getByLabel('Status').selectOption('cancelled');
  await until(async () => (await histRows.count()) === 1, 'the cancelled orders');
  assert.match(await histRows.first().textContent(), /limit buy.*ETH.*cancelled/);
  await page.getByLabel('Status').selectOption('');
  await page.getByLabel('Type').selectOption('limit_buy');
  await until(async () => (await histRows.count()) === 2, 'the limit buys');
  await page.locator('table.history tbody tr').filter({ hasText: 'completed' }).getByRole('button').click();
  await page.getByText(/amended: quantity 1 -> 2/).waitFor();

  // Convert 100 USD to EUR, the rate shown.
  await go(page, '#/account', 'Account');
  const conv = page.getByRole('form', { name: 'Convert' });
  await conv.getByLabel('From').selectOption('USD');
  await conv.getByLabel('To').selectOption('EUR');
  await conv.getByLabel('Amount').fill('100');
  await conv.getByRole('button', { name: 'Convert' }).click();
  const convText = await conv.locator('.msg.ok').textContent();
  assert.match(convText, /^Converted 100\.00 USD to \d+\.\d{2} EUR at the rate \d/);

  // Portfolio: 0.05 BTC at 45000, 2 ETH at 1500, cash 10000 - 5000 - 3000 + 2250 - 100.
  await go(page, '#/portfolio', 'Portfolio');
  await rowOf(page, 'holdings', 'asset', 'ETH').waitFor();
  const btc = await cells(rowOf(page, 'holdings', 'asset', 'BTC'));
  const eth = await cells(rowOf(page, 'holdings', 'asset', 'ETH'));
  assert.deepEqual(btc.slice(0, 3).map(Number), [0.05, 45000, 2250]);
  assert.deepEqual(eth.slice(0, 3).map(Number), [2, 1500, 3000]);
  assert.equal(Number((await cells(rowOf(page, 'holdings', 'asset', 'BTC')))[3]), 50000); // average cost
  assert.equal(Number((await cells(rowOf(page, 'cash', 'currency', 'USD')))[0]), 4150);
  const userToken = await login(USER.username, USER.password);
  const pf = await call('GET', '/portfolio', undefined, userToken);
  assert.equal(await page.getByTestId('total-value').textContent(), `${pf.total_value} ${pf.valuation_currency}`);
  assert.equal(await page.getByTestId('cash-value').textContent(), `${pf.cash_value} ${pf.valuation_currency}`);
  assert.equal(Number(pf.assets_value), 5250);
  // The EUR bought with 100 USD is worth 100 USD again at the static rates.
  assert.equal(await page.getByTestId('total-value').textContent(), '9500.00 USD');
  assert.equal(await page.getByTestId('cash-value').textContent(), '4250.00 USD');
  assert.equal(await page.getByTestId('total-pnl').textContent(), '-250.00 USD');
  await axe(page, 'portfolio');
  await shot(page, 'web-portfolio.png');

  // Ledger paging: 12 more deposits make at least two pages of 10.
  for (let i = 1; i <= 12; i++) await call('POST', '/balance/deposit', { amount: String(i) }, userToken, 'e2e-dep-' + i);
  await go(page, '#/account', 'Account');
  const ledgerRows = page.locator('table.ledger tbody tr');
  await ledgerRows.nth(9).waitFor();
  const first = await ledgerRows.allTextContents();
  assert.equal(first.length, 10);
  assert.match(first[0], /deposit12\.00 USD/);
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByText('Page 2').waitFor();
  const second = await ledgerRows.allTextContents();
  assert.ok(second.length >= 1 && second.every((r) => !first.includes(r)), 'page 2 differs from page 1');
  await page.getByLabel('Type').selectOption('currency_conversion');
  await page.getByText('Page 1').waitFor();
  await ledgerRows.first().filter({ hasText: 'currency conversion' }).waitFor();
  await axe(page, 'account');
  await shot(page, 'web-account.png');

  // The profile: a new last name stays in its field once saved.
  const prof = page.getByRole('form', { name: 'Profile' });
  await prof.getByLabel('Last name').fill('Trader-Smith');
  await prof.getByRole('button', { name: 'Save profile' }).click();
  await prof.getByText('Profile saved.').waitFor();
  assert.equal(await prof.getByLabel('Last name').inputValue(), 'Trader-Smith');
  assert.equal((await call('GET', '/auth/profile', undefined, userToken)).last_name, 'Trader-Smith');

  // Log out.
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByText('You are logged out.').waitFor();
  await page.context().close();
});

test('the ticket places trailing, good-till-date and one-cancels-other orders, and shows field errors', async () => {
  const page = await newPage({ width: 1280, height: 800 });
  await uiLogin(page, USER.username, USER.password);
  await go(page, '#/asset/ETH', 'Ethereum ETH');
  const t = page.getByRole('form', { name: 'Order ticket' });

  // The API's error under its field.
  await t.getByLabel('Order type').selectOption('market_buy');
  await t.getByLabel(/^Quantity/).fill('0.0001');
  await t.getByRole('button', { name: 'Place order' }).click();
  assert.equal(await t.locator('#f-quantity-err').textContent(), 'must be at least 0.001');
  assert.equal(await t.getByLabel(/^Quantity/).getAttribute('aria-invalid'), 'true');

  // A trailing stop by percent, good till a date.
  await t.getByLabel('Order type').selectOption('trailing_stop');
  await t.getByLabel(/^Quantity/).fill('0.5');
  await t.getByLabel('Trail by').selectOption('percent');
  await t.getByLabel('Trail percent').fill('10');
  await t.getByLabel('Time in force').selectOption('gtd');
  const tomorrow = new Date(Date.now() + 86400e3);
  const local = new Date(tomorrow.getTime() - tomorrow.getTimezoneOffset() * 60e3).toISOString().slice(0, 16);
  await t.getByLabel('Expires at (your time)').fill(local);
  await t.getByRole('button', { name: 'Place order' }).click();
  const trailText = await t.locator('.msg.ok').textContent();
  const trailId = trailText.match(/^Order (\S+):/)[1];
  assert.match(trailText, /trailing stop 0\.5 ETH, queued/);

  // A take profit, then a stop loss linked to it.
  const tp = await placeOrder(page, { type: 'take_profit', quantity: '1', limit: '3000' });
  await t.getByLabel('Order type').selectOption('stop_loss');
  await t.getByLabel(/^Quantity/).fill('1');
  await t.getByLabel('Stop price (USD)').fill('1000');
  await t.getByLabel('One cancels other: link with').selectOption(tp.id);
  await t.getByRole('button', { name: 'Place order' }).click();
  const slText = await t.locator('.msg.ok').filter({ hasText: 'stop loss' }).textContent();
  const slId = slText.match(/^Order (\S+):/)[1];

  const token = await login(USER.username, USER.password);
  // Two submissions in one task (before the button can be disabled)
  // place one order.
  await t.getByLabel('Order type').selectOption('market_buy');
  await t.getByLabel(/^Quantity/).fill('0.01');
  await t.evaluate((form) => { form.requestSubmit(); form.requestSubmit(); });
  await t.locator('.msg.ok').filter({ hasText: 'market buy 0.01 ETH' }).waitFor();
  const buys = (await call('GET', '/orders?order_type=market_buy&asset_id=ETH', undefined, token)).data;
  assert.equal(buys.length, 1, 'one market buy of ETH');

  const trail = (await call('GET', '/orders/' + trailId, undefined, token)).data;
  assert.deepEqual([trail.order_type, trail.trail_percent, trail.time_in_force, trail.status], ['trailing_stop', '10', 'gtd', 'queued']);
  assert.equal(Math.round(Date.parse(trail.expires_at) / 60e3), Math.round(Date.parse(local + ':00') / 60e3) , 'expires_at is the chosen minute');
  const sl = (await call('GET', '/orders/' + slId, undefined, token)).data;
  assert.deepEqual([sl.order_type, sl.stop_price, sl.oco_with], ['stop_loss', '1000.00', tp.id]);
  for (const id of [trailId, tp.id, slId]) {
    const o = (await call('GET', '/orders/' + id, undefined, token)).data;
    if (o.status === 'queued') await call('DELETE', '/orders/' + id, undefined, token);
  }
  await page.context().close();
});

test('an admin deactivates an asset and runs verify', async () => {
  const page = await newPage({ width: 1280, height: 800 });
  await uiLogin(page, 'admin', ADMIN_PASSWORD);
  await page.getByRole('link', { name: 'Admin' }).click();
  await page.getByRole('heading', { name: 'Admin console' }).waitFor();
  const ada = rowOf(page, 'admin-assets', 'asset', 'ADA');
  await ada.getByRole('button', { name: 'Deactivate' }).click();
  await page.getByText('ADA deactivated.').waitFor();
  assert.equal((await cells(ada))[1], 'inactive');

  // A cash adjustment, and a user deactivated (no login) then activated.
  const users = page.getByRole('form', { name: 'User account' });
  await users.getByLabel('Username').fill(USER.username);
  await users.getByLabel('Amount (negative debits)').fill('50');
  await users.getByLabel('Reason').fill('goodwill credit');
  await users.getByRole('button', { name: 'Apply adjustment' }).click();
  await page.getByText(/^Adjusted trader_e2e by 50\.00 USD/).waitFor();
  await users.getByRole('button', { name: 'Deactivate user' }).click();
  await page.getByText('trader_e2e is deactivated.').waitFor();
  const refused = await fetch(base + '/api/v1/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: USER.username, password: USER.password }) });
  assert.equal(refused.status, 403);
  await users.getByRole('button', { name: 'Activate user', exact: true }).click();
  await page.getByText('trader_e2e is active.').waitFor();
  const ledger = await call('GET', '/balance/transactions?transaction_type=system_adjustment', undefined, await login(USER.username, USER.password));
  assert.deepEqual(ledger.transactions.map((t) => [t.amount, t.description]), [['50.00', 'goodwill credit']]);

  await page.getByRole('button', { name: 'Run verify' }).click();
  assert.equal(await page.getByTestId('verify-result').textContent(), 'All invariants hold.');
  await axe(page, 'admin');
  await shot(page, 'web-admin.png');
  await page.setViewportSize({ width: 390, height: 844 });
  await axe(page, 'admin (phone)');
  await fits(page, 'admin (phone)');
  const token = await login('admin', ADMIN_PASSWORD);
  assert.equal((await call('GET', '/inventory/assets/ADA', undefined, token)).data.is_active, false);
  await page.context().close();
});

test('every page works at 390x844', async () => {
  const page = await newPage({ width: 390, height: 844 });
  await page.goto('/');
  await axe(page, 'login (phone)');
  await fits(page, 'login (phone)');
  await uiLogin(page, USER.username, USER.password);
  // A resting order, so that the orders page has its widest table.
  const token = await login(USER.username, USER.password);
  const resting = (await call('POST', '/orders', { order_type: 'limit_buy', asset_id: 'ETH', quantity: '0.01', limit_price: '100' }, token)).data;
  for (const [hash, heading, file] of [['#/markets', 'Markets', 'web-phone-markets.png'], ['#/asset/BTC', 'Bitcoin BTC', 'web-phone-asset.png'],
    ['#/orders', 'Orders'], ['#/portfolio', 'Portfolio'], ['#/account', 'Account']]) {
    await go(page, hash, heading);
    await page.waitForTimeout(500); // the page's data arrive
    await axe(page, heading + ' (phone)');
    await fits(page, heading + ' (phone)');
    if (file) await shot(page, file);
  }
  await call('DELETE', '/orders/' + resting.order_id, undefined, token);
  await page.context().close();
});

test('a 429 says when to retry; the keyboard alone logs in', async () => {
  const page = await newPage({ width: 1280, height: 800 });
  await page.goto('/');
  await page.getByRole('button', { name: 'Sign up' }).click();
  const form = page.getByRole('form', { name: 'Sign up' });
  for (const [label, v] of [['Username', 'second_user'], ['Email', 'second@example.com'], ['First name', 'Sam'], ['Last name', 'Second'], ['Password', USER.password]]) {
    await form.getByLabel(label).fill(v);
  }
  await form.getByRole('button', { name: 'Create account' }).click(); // over --register-limit 1
  const alert = form.getByRole('alert');
  await alert.waitFor();
  assert.match(await alert.textContent(), /Retry in \d+ s\.$/);

  await page.getByRole('button', { name: 'Log in' }).first().click();
  await page.getByLabel('Username').fill(''); // the sign-up form's value stays in the field
  await page.getByLabel('Username').focus();
  await page.keyboard.type(USER.username);
  await page.keyboard.press('Tab');
  await page.keyboard.type(USER.password);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Markets' }).waitFor();
  await page.keyboard.press('Tab'); // the skip link comes first
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to content');
  await page.context().close();
});

test('a dropped stream shows offline, reconnects with Last-Event-ID and updates again', async () => {
  const page = await newPage({ width: 1280, height: 800 });
  const streams = [];
  page.on('request', (r) => { if (r.url().endsWith('/api/v1/stream')) streams.push(r.headers()); });
  await uiLogin(page, USER.username, USER.password);
  await until(() => streams.length === 1, 'the stream');
  // An event through the stream first, so that the page holds an event id.
  const adminToken = await login('admin', ADMIN_PASSWORD);
  await call('PUT', '/admin/assets/SOL/price', { price_usd: '111.11' }, adminToken);
  await page.getByTestId('price-SOL').filter({ hasText: '111.11' }).waitFor();
  const addr = base.replace('http://', '');
  await stopServer();
  await page.getByText(/Live updates are offline/).waitFor();
  await startServer(addr);
  await page.getByText(/Live updates are offline/).waitFor({ state: 'detached', timeout: 15000 });
  const last = streams[streams.length - 1];
  assert.match(last['last-event-id'] || '', /^\d+/, 'the reconnect sends Last-Event-ID');
  await call('PUT', '/admin/assets/SOL/price', { price_usd: '123.45' }, adminToken);
  await page.getByTestId('price-SOL').filter({ hasText: '123.45' }).waitFor();
  await page.context().close();
});

test('no page broke the Content-Security-Policy, threw or missed a file', () => {
  assert.deepEqual(problems, []);
});
