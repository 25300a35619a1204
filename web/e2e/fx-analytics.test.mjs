// End-to-end tests of the web app's exchange rates and analytics, in
// Debian's Chromium driven by playwright-core, against a real server of
// their own (the binary named by ORDERPROCESSOR_BIN, a free loopback port,
// a fresh store, the static price and rate feeds, a conversion spread of
// 0.2%). Every figure the page shows is computed here from the API's
// answers (exact decimals, BigInt) and compared with the page's text.
// Each page is checked with axe-core (0 serious or critical violations)
// at 1280x800 and 390x844; WEB_SCREENSHOTS=1 writes docs/web-*.png.
//
//   ORDERPROCESSOR_BIN=/path/to/orderprocessor node --test web/e2e/
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as lib from './lib.mjs';
import { axe, client, fits, go, launch, shot, uiLogin, until } from './lib.mjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ADMIN_PASSWORD = 'Adm1n!Passw0rd-fx';
const USER = { username: 'fx_trader', email: 'fx@example.com', first_name: 'Felix', last_name: 'Exchange', password: 'Str0ng!Passw0rd' };
const SPREAD = '0.002';

let server; let base; let call; let browser;
const dataDirs = []; let adminToken; let userToken;
const problems = []; // CSP violations, script errors and missing files, from every page

// startServer starts a server of the tests' own, with a fresh store, the
// static rate feed, the spread and the extra flags.
function startServer(extra = []) {
  const dataDir = mkdtempSync(join(tmpdir(), 'op-web-fx-'));
  dataDirs.push(dataDir);
  return lib.startServer({ dataDir, args: ['--fx-feed', 'static', '--fx-spread', SPREAD, '--deposit-daily-limit', '0',
    '--analytics-interval', '1s', ...extra], env: { ORDERPROCESSOR_ADMIN_PASSWORD: ADMIN_PASSWORD } });
}

const login = async (username, password, api = call) => (await api('POST', '/auth/login', { username, password })).access_token;

before(async () => {
  server = await startServer();
  base = server.url;
  call = client(base);
  browser = await launch();
  adminToken = await login('admin', ADMIN_PASSWORD);
  await call('POST', '/auth/register', USER);
  userToken = await login(USER.username, USER.password);
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
  for (const d of dataDirs) rmSync(d, { recursive: true, force: true });
});

const newPage = (viewport, url = base) => lib.newPage(browser, viewport, url, problems);

const text = async (page, id) => (await page.getByTestId(id).textContent()).trim();

// Exact decimals for the expected figures: a value is [units, places].
function num(s) {
  const [i, f = ''] = String(s).split('.');
  const neg = i.startsWith('-');
  const units = BigInt((neg ? i.slice(1) : i) + f);
  return [neg ? -units : units, f.length];
}
const times = (a, b) => [a[0] * b[0], a[1] + b[1]];
const plus = (a, b) => {
  const p = Math.max(a[1], b[1]);
  return [a[0] * 10n ** BigInt(p - a[1]) + b[0] * 10n ** BigInt(p - b[1]), p];
};
// over divides a by b to `places` decimals, rounding half-even or down,
// and writes the result with exactly those places.
function over(a, b, places, mode) {
  const n = a[0] * 10n ** BigInt(b[1] + places);
  const d = b[0] * 10n ** BigInt(a[1]);
  let q = n / d;
  const r = n % d;
  if (mode === 'half-even' && (2n * r > d || (2n * r === d && q % 2n === 1n))) q += 1n;
  const s = q.toString().padStart(places + 1, '0');
  return places ? s.slice(0, -places) + '.' + s.slice(-places) : s;
}
const dropZeros = (s) => (s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s);
const usdOf = (rates, c) => (c === 'USD' ? '1' : rates.rates.find((r) => r.currency === c).rate);
const usd = (n) => Number(n).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

test('a conversion shows its rate and credits exactly that; an EUR market buy shows its fx_rate; the portfolio in EUR', async () => {
  await call('PUT', '/admin/assets/BTC/price', { price_usd: '50000' }, adminToken);
  await call('PUT', '/admin/fx/rates/EUR-USD', { rate: '1.08' }, adminToken);
  await call('POST', '/balance/deposit', { amount: '10000', currency: 'USD' }, userToken);
  const page = await newPage({ width: 1280, height: 800 });
  await uiLogin(page, USER.username, USER.password);

  // The convert form: the rate, the spread and the credit before submitting.
  await go(page, '#/account', 'Account');
  const rates = await call('GET', '/fx/rates');
  assert.equal(rates.conversion_spread, SPREAD);
  const keep = plus(num('1'), times(num('-1'), num(SPREAD)));
  const eur = usdOf(rates, 'EUR');
  const credit = over(times(num('1000'), keep), num(eur), 2, 'down'); // 1000 × 0.998 / 1.08, rounded down
  const rate = dropZeros(over(keep, num(eur), 10, 'half-even'));
  assert.equal(credit, '924.07');
  const conv = page.getByRole('form', { name: 'Convert' });
  await conv.getByLabel('From').selectOption('USD');
  await conv.getByLabel('To').selectOption('EUR');
  await conv.getByLabel('Amount').fill('1000');
  assert.equal(await text(page, 'convert-rate'), `1 USD = ${rate} EUR`);
  assert.equal(await text(page, 'convert-credit'), `${credit} EUR`);
  assert.match(await conv.textContent(), /mid 0\.9259259259, spread 0\.2%/);
  await axe(page, 'account with the convert preview');
  await shot(page, 'web-convert.png', conv);
  await conv.getByRole('button', { name: 'Convert' }).click();
  assert.equal(await conv.locator('.msg.ok').textContent(), `Converted 1000.00 USD to ${credit} EUR at the rate ${rate} (mid 0.9259259259, spread ${SPREAD}).`);
  const eurBal = await call('GET', '/balance?currency=EUR', undefined, userToken);
  assert.equal(eurBal.current_balance, credit);

  // A market buy in EUR: the estimate in EUR at the current rate, then the
  // order's fx_rate in the ticket's answer and the history.
  await go(page, '#/asset/BTC', 'Bitcoin BTC');
  const ticket = page.getByRole('form', { name: 'Order ticket' });
  await ticket.getByLabel('Order type').selectOption('market_buy');
  await ticket.getByLabel('Currency').selectOption('EUR');
  await ticket.getByLabel(/^Quantity/).fill('0.01');
  // A buy settles at the rate less the spread (its euros count at
  // 1.08 × 0.998 = 1.07784 USD, rounded down to 10 places), its unit price
  // is the USD price / that rate (8 places, half-even), and its total that
  // times the quantity, rounded up to cents.
  const buyRate = dropZeros(over(times(num(eur), keep), num('1'), 10, 'down'));
  assert.equal(buyRate, '1.07784');
  const unit = over(num('50000'), num(buyRate), 8, 'half-even');
  const gross = times(num('0.01'), num(unit));
  const down = over(gross, num('1'), 2, 'down');
  const estimate = num(down)[0] * 10n ** BigInt(gross[1] - 2) === gross[0] ? down : over(plus(num(down), num('0.01')), num('1'), 2, 'down');
  assert.equal(estimate, '463.90'); // 0.01 × 46,389.07444519, rounded up
  assert.equal(await text(page, 'estimate-ccy'), `${estimate} EUR`);
  await ticket.getByRole('button', { name: 'Place order' }).click();
  const ok = await ticket.locator('.msg.ok').textContent();
  const id = ok.match(/^Order (\S+):/)[1];
  const order = (await call('GET', '/orders/' + id, undefined, userToken)).data;
  assert.equal(order.currency, 'EUR');
  assert.equal(order.fx_rate, buyRate);
  assert.equal(order.total_amount, estimate); // no fee on this server
  assert.equal(order.executed_price, dropZeros(unit));
  assert.equal(ok, `Order ${id}: market buy 0.01 BTC, completed at ${order.executed_price} EUR (1 EUR = ${buyRate} USD).`);
  await go(page, '#/orders', 'Orders');
  const row = page.locator('table.history tbody tr').filter({ hasText: 'market buy' }).first();
  assert.equal((await row.getByTestId('fx-rate').textContent()).trim(), `at 1 EUR = ${buyRate} USD`);
  assert.match(await row.textContent(), new RegExp(`${order.total_amount} EUR`));

  // The portfolio valued in EUR: every figure is the USD value at the
  // stored rate, half-even to cents, computed here from the API's answers.
  await go(page, '#/portfolio', 'Portfolio');
  await page.getByLabel('Valuation currency').selectOption('EUR');
  const pfUSD = await call('GET', '/portfolio', undefined, userToken);
  const now = await call('GET', '/fx/rates');
  const eurNow = usdOf(now, 'EUR');
  let assetsUSD = num('0');
  for (const a of pfUSD.assets) assetsUSD = plus(assetsUSD, times(num(a.quantity), num(a.current_price)));
  let cashUSD = num('0');
  for (const c of pfUSD.cash) cashUSD = plus(cashUSD, times(num(c.current_balance), num(usdOf(now, c.currency))));
  const want = {
    'total-value': over(plus(assetsUSD, cashUSD), num(eurNow), 2, 'half-even'),
    'assets-value': over(assetsUSD, num(eurNow), 2, 'half-even'),
    'cash-value': over(cashUSD, num(eurNow), 2, 'half-even'),
  };
  // 0.01 BTC at 50,000 USD; 9,000 USD and 924.07 − 463.90 EUR at 1.08.
  assert.deepEqual(want, { 'total-value': '9256.47', 'assets-value': '462.96', 'cash-value': '8793.50' });
  for (const [tid, v] of Object.entries(want)) await page.getByTestId(tid).filter({ hasText: `${v} EUR` }).waitFor();
  const pfEUR = await call('GET', '/portfolio?currency=EUR', undefined, userToken);
  assert.deepEqual([pfEUR.total_value, pfEUR.assets_value, pfEUR.cash_value, pfEUR.valuation_currency], [...Object.values(want), 'EUR']);
  const btc = (await page.locator('table.holdings tr[data-asset="BTC"] td').allTextContents()).map((s) => s.trim());
  assert.deepEqual(btc.slice(0, 3), ['0.01', dropZeros(over(num('50000'), num(eurNow), 8, 'half-even')), want['assets-value']]);
  await axe(page, 'portfolio in EUR');
  await shot(page, 'web-portfolio-eur.png');
  // The choice stays while the page is open.
  await go(page, '#/markets', 'Markets');
  await go(page, '#/portfolio', 'Portfolio');
  assert.equal(await page.getByLabel('Valuation currency').inputValue(), 'EUR');
  await page.getByTestId('total-value').filter({ hasText: `${want['total-value']} EUR` }).waitFor();
  await page.context().close();
});

test('an admin sets a rate and the rates page updates by itself; the admin console shows the platform by day', async () => {
  const page = await newPage({ width: 1280, height: 800 });
  await uiLogin(page, USER.username, USER.password);
  await go(page, '#/fx', 'Exchange rates');
  await page.getByTestId('rate-EUR').filter({ hasText: /^1\.08$/ }).waitFor();
  const hist = await call('GET', '/fx/rates/EUR-USD/history?limit=1000');
  const caption = page.locator('figcaption').filter({ hasText: 'EUR-USD:' });
  await caption.filter({ hasText: `${hist.points.length} stored rates` }).waitFor();
  await page.locator('.candles canvas').first().waitFor();
  await axe(page, 'rates');

  const admin = await newPage({ width: 1280, height: 800 });
  await uiLogin(admin, 'admin', ADMIN_PASSWORD);
  await go(admin, '#/admin', 'Admin console');
  const form = admin.getByRole('form', { name: 'Set an exchange rate' });
  await form.getByLabel('Pair').selectOption('EUR-USD');
  await form.getByLabel('New rate (USD per unit)').fill('1.1234567891234'); // too many places: the API's field error
  await form.getByRole('button', { name: 'Set rate' }).click();
  await form.locator('#f-rate-fx-err').waitFor();
  await form.getByLabel('New rate (USD per unit)').fill('1.1');
  await form.getByRole('button', { name: 'Set rate' }).click();
  await admin.getByText(/^EUR-USD set to 1\.1 \(version \d+\)\.$/).waitFor();
  const set = (await call('GET', '/fx/rates')).rates.find((r) => r.currency === 'EUR');
  assert.equal(await admin.getByText(/^EUR-USD set to/).textContent(), `EUR-USD set to 1.1 (version ${set.version}).`);

  // The trader's page follows through the stream: the rate and the chart.
  await page.getByTestId('rate-EUR').filter({ hasText: /^1\.1$/ }).waitFor();
  await caption.filter({ hasText: `${hist.points.length + 1} stored rates` }).waitFor();
  await shot(page, 'web-fx.png');

  // The platform by day: today's row as the API answers it.
  const today = new Date().toISOString().slice(0, 10);
  const daily = await call('GET', `/admin/analytics/daily?from=${today}&to=${today}`, undefined, adminToken);
  const d = daily.days[0];
  assert.equal(d.trades, 1); // the EUR market buy
  assert.deepEqual(d.orders_by_type, { market_buy: 1 });
  const cells = (await admin.locator(`table.daily tr[data-date="${today}"] td`).allTextContents()).map((s) => s.trim());
  assert.deepEqual(cells, [d.notional, '1', String(d.active_users), '1', 'market buy 1', 'completed 1']);
  await axe(admin, 'admin console');
  await shot(admin, 'web-admin-daily.png', admin.getByRole('heading', { name: 'Platform by day' }));
  await page.context().close();
  await admin.context().close();
});

test('the performance page after trades, the volume under the candlesticks, and the markets 24h figures', async () => {
  // A sale at a higher price realizes a profit.
  await call('PUT', '/admin/assets/BTC/price', { price_usd: '55000' }, adminToken);
  const sale = (await call('POST', '/orders', { order_type: 'market_sell', asset_id: 'BTC', quantity: '0.004' }, userToken)).data;
  assert.equal(sale.status, 'completed');

  const page = await newPage({ width: 1280, height: 800 });
  await uiLogin(page, USER.username, USER.password);
  await go(page, '#/performance', 'Performance');
  const from = await page.getByLabel('From').inputValue();
  const to = await page.getByLabel('To').inputValue();
  const p = await call('GET', `/analytics/performance?from=${from}&to=${to}`, undefined, userToken);
  assert.equal(p.orders.placed, 2);
  assert.equal(p.orders.fills, 2);
  assert.ok(Number(p.realized_pnl) > 0, `realized ${p.realized_pnl}`);
  const pct = (f) => (Number(f) * 100).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 }) + '%';
  await page.getByTestId('perf-realized').filter({ hasText: `${p.realized_pnl} USD` }).waitFor();
  assert.deepEqual(
    [await text(page, 'perf-value'), await text(page, 'perf-twr'), await text(page, 'perf-unrealized'), await text(page, 'perf-total-realized'),
      await text(page, 'perf-placed'), await text(page, 'perf-fills'), await text(page, 'perf-notional')],
    [`${p.days[p.days.length - 1].value} USD`, pct(p.time_weighted_return), `${p.unrealized_pnl} USD`, `${p.total_realized_pnl} USD`, '2', '2', `${p.orders.notional} USD`]);
  assert.deepEqual(await page.locator('.perf-counts li').allTextContents(), ['market buy: 1', 'market sell: 1', 'completed: 2']);
  const row = (await page.locator(`table.perf-days tr[data-date="${to}"] td`).allTextContents()).map((s) => s.trim());
  const last = p.days[p.days.length - 1];
  assert.deepEqual(row, [last.value, last.net_flow, pct(last.return), last.realized_pnl, '2', '2']);
  await page.locator('.candles.perf canvas').first().waitFor();
  await axe(page, 'performance');
  await shot(page, 'web-performance.png');

  // The asset's volume, a histogram under the candlesticks (hour bars of
  // the last 7 days: both fills).
  await go(page, '#/asset/BTC', 'Bitcoin BTC');
  const since = new Date(Date.now() - 7 * 86400e3).toISOString();
  const vol = await call('GET', `/analytics/volume?asset_id=BTC&interval=1h&from=${since}`, undefined, userToken);
  assert.equal(vol.total.trades, 2);
  assert.equal(Number(vol.total.quantity), 0.014);
  await page.getByTestId('volume-total').filter({ hasText: `Volume: ${vol.total.notional} USD in 2 trades (${vol.total.quantity} BTC) in this range, one bar per hour` }).waitFor();
  await page.locator('.volume canvas').first().waitFor();
  await axe(page, 'asset with volume');

  // The markets' 24h figures come from the platform's activity: the volume
  // once the analytics job has counted the fills (--analytics-interval 1s).
  const asset = await until(async () => {
    const a = (await call('GET', '/inventory/assets/BTC')).data;
    return a.total_volume_24h > 0 && a;
  }, 'the 24h volume of BTC');
  const compact = (n) => Number(n).toLocaleString('en-US', { notation: 'compact', maximumFractionDigits: 2 });
  assert.equal(asset.high_24h, 67250); // the seed's price when the window began
  assert.equal(asset.low_24h, 50000);
  assert.equal(asset.price_change_percentage_24h, -18.22); // 67,250 to 55,000
  await go(page, '#/portfolio', 'Portfolio');
  await go(page, '#/asset/BTC', 'Bitcoin BTC'); // the asset's page reads them afresh
  assert.equal(await text(page, 'asset-24h'), `24h high ${usd(asset.high_24h)} · low ${usd(asset.low_24h)} · volume ${compact(asset.total_volume_24h)} USD`);
  await go(page, '#/markets', 'Markets');
  await page.getByTestId('volume-BTC').filter({ hasText: compact(asset.total_volume_24h) }).waitFor();
  assert.equal(await text(page, 'change-BTC'), '-18.22%');
  await page.context().close();
});

test('the new pages work at 390x844', async () => {
  const page = await newPage({ width: 390, height: 844 });
  await uiLogin(page, USER.username, USER.password);
  for (const [hash, heading, file] of [['#/fx', 'Exchange rates', 'web-phone-fx.png'], ['#/performance', 'Performance', 'web-phone-performance.png'],
    ['#/portfolio', 'Portfolio'], ['#/account', 'Account'], ['#/asset/BTC', 'Bitcoin BTC']]) {
    await go(page, hash, heading);
    await page.waitForTimeout(500); // the page's data arrive
    await axe(page, heading + ' (phone)');
    await fits(page, heading + ' (phone)');
    if (file) await shot(page, file);
  }
  await page.context().close();
  const admin = await newPage({ width: 390, height: 844 });
  await uiLogin(admin, 'admin', ADMIN_PASSWORD);
  await go(admin, '#/admin', 'Admin console');
  await admin.locator('table.daily').waitFor();
  await axe(admin, 'admin console (phone)');
  await fits(admin, 'admin console (phone)');
  await admin.context().close();
});

test('a stale rate shows a clear message and moves no money', async () => {
  // A server of its own whose rates are stale after a second (the static
  // feed never refreshes them).
  const stale = await startServer(['--fx-max-age', '1s']);
  const url = stale.url;
  try {
    const api = client(url);
    await api('POST', '/auth/register', USER);
    const token = await login(USER.username, USER.password, api);
    await api('POST', '/balance/deposit', { amount: '100', currency: 'USD' }, token);
    await new Promise((r) => setTimeout(r, 1500));
    const page = await newPage({ width: 1280, height: 800 }, url);
    await uiLogin(page, USER.username, USER.password);
    await go(page, '#/account', 'Account');
    const conv = page.getByRole('form', { name: 'Convert' });
    await conv.getByLabel('Amount').fill('10');
    await conv.getByText('The EUR rate is out of date (older than the platform allows): this is refused until the rate is updated.').waitFor();
    await conv.getByRole('button', { name: 'Convert' }).click();
    const alert = conv.locator('.msg.error').filter({ hasText: 'The exchange rate is out of date, so nothing was done' });
    await alert.waitFor();
    assert.match(await alert.textContent(), /Retry once the rate is updated/);
    await go(page, '#/fx', 'Exchange rates');
    assert.equal(await page.locator('table.rates tr[data-pair="EUR-USD"] td').last().textContent(), 'out of date');
    await page.context().close();
  } finally {
    await stale.stop();
  }
});

test('no page broke the Content-Security-Policy, threw or missed a file', () => {
  assert.deepEqual(problems, []);
});
