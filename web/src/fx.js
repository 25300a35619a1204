// Exchange rates: the rates every page shares (GET /fx/rates, kept up to
// date by the stream's fx events), what a conversion will credit before it
// is made, an order's estimate in another currency, the rates page with a
// pair's history chart, and the admin's form that sets a rate.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { createChart, LineSeries } from 'lightweight-charts';
import { framed } from './charts.js';
import { api, query } from './api.js';
import { dec, fmt, mul, places, quo, sub, trim } from './dec.js';
import { CURRENCIES, Field, Message, fmtTime, useEvents } from './ui.js';

// The shared rates: {rates: [{pair, currency, rate, inverse, updated_at,
// source, stale}], spread, maxAge} once loaded.
let shared = { rates: null, spread: '0', maxAge: 0 };
const subscribers = new Set();
function publish(next) {
  shared = next;
  for (const f of subscribers) f(shared);
}
function loadRates() {
  return api('GET', '/fx/rates').then((r) => publish({ rates: r.rates, spread: r.conversion_spread || '0', maxAge: r.max_age_seconds || 0 }));
}

// applyEvent stores a stream fx event ({pair, currency, rate, at}): the
// rate was just stored, so it is fresh.
function applyEvent(d) {
  if (!shared.rates) return;
  const inv = fmt(quo(dec('1'), dec(d.rate), 10, 'half-even'));
  publish({ ...shared, rates: shared.rates.map((r) => (r.currency === d.currency ? { ...r, rate: d.rate, inverse: inv, updated_at: d.at, stale: false, source: r.source } : r)) });
}

// useRates returns the shared rates (read afresh when a page that shows
// them opens, then moved by the stream) and the error of the last read.
export function useRates() {
  const [s, setS] = useState(shared);
  const [error, setError] = useState(null);
  useEffect(() => {
    subscribers.add(setS);
    loadRates().then(() => setError(null), setError);
    return () => subscribers.delete(setS);
  }, []);
  useEvents((type, d) => {
    if (type === 'fx') applyEvent(d);
    else if (type === 'reset') loadRates().catch(setError);
  }, []);
  return { ...s, error };
}

// isStale: the server said so, or the rate has aged past the bound since.
export function isStale(fx, r) {
  return !!r && (r.stale || (fx.maxAge > 0 && Date.now() - Date.parse(r.updated_at) > fx.maxAge * 1000));
}

const rateOf = (fx, c) => (fx.rates || []).find((r) => r.currency === c);
// usd is the USD value of one unit of c as a string, null when unknown.
export function usd(fx, c) {
  if (c === 'USD') return '1';
  const r = rateOf(fx, c);
  return r ? r.rate : null;
}

// quote computes a conversion as the server does: the credit is amount ×
// from's USD value × (1 − spread) / to's USD value, rounded down to the
// target currency's places; the rate is the same for one unit, 10 places,
// half-even.
export function quote(fx, from, to, amount) {
  const a = dec(amount);
  const f = usd(fx, from);
  const t = usd(fx, to);
  if (!a || a.v <= 0n || !f || !t || from === to) return null;
  const keep = sub(dec('1'), dec(fx.spread));
  return {
    mid: trim(fmt(quo(dec(f), dec(t), 10, 'half-even'))),
    rate: trim(fmt(quo(mul(dec(f), keep), dec(t), 10, 'half-even'))),
    credit: fmt(quo(mul(mul(a, dec(f)), keep), dec(t), places(to), 'down')),
    spreadPct: trim(fmt(mul(dec(fx.spread), dec('100')))),
  };
}

// StaleNote says which rates are out of date for a flow that moves money.
function StaleNote({ fx, currencies }) {
  const stale = currencies.filter((c) => c !== 'USD' && isStale(fx, rateOf(fx, c)));
  if (!stale.length) return null;
  return html`<p class="msg error" role="alert">The ${stale.join(' and ')} rate is out of date (older than the platform allows): this is refused until the rate is updated.</p>`;
}

// ConvertPreview shows the rate, the spread and the credit of a
// conversion before it is submitted.
export function ConvertPreview({ from, to, amount }) {
  const fx = useRates();
  if (fx.error) return html`<${Message} error=${fx.error} />`;
  if (!fx.rates) return html`<p class="muted">Loading the rates…</p>`;
  if (from === to) return html`<p class="muted">Choose two different currencies.</p>`;
  const q = quote(fx, from, to, amount);
  const unit = quote(fx, from, to, '1');
  return html`<div class="estimate" aria-live="polite">
    ${unit && html`<p>Rate: <strong data-testid="convert-rate">1 ${from} = ${unit.rate} ${to}</strong> <span class="muted">(mid ${unit.mid}, spread ${unit.spreadPct}%)</span></p>`}
    ${q ? html`<p>You receive: <strong data-testid="convert-credit">${q.credit} ${to}</strong></p>` : html`<p class="muted">Enter an amount to see what you receive.</p>`}
    <${StaleNote} fx=${fx} currencies=${[from, to]} />
  </div>`;
}

// orderRate is the USD value of one unit of currency that an order of
// that side settles at, as the server computes it: the rate moved by the
// conversion spread against the order (a buy's currency counts at
// rate × (1 − spread), rounded down to 10 places; a sale is paid at
// rate / (1 − spread), rounded up). Null when the rate is unknown.
export function orderRate(fx, currency, buy) {
  const r = usd(fx, currency);
  if (!r || currency === 'USD') return r;
  const keep = sub(dec('1'), dec(fx.spread));
  if (keep.v === 10n ** BigInt(keep.s)) return r;
  return trim(fmt(buy ? quo(mul(dec(r), keep), dec('1'), 10, 'down') : quo(dec(r), keep, 10, 'up')));
}

// orderValue is what an order of quantity at a USD price comes to in
// currency at its current order rate, as a fill settles it: the unit price
// is the USD price / the rate (8 places, half-even), and quantity times it
// is rounded up for a buy and down for a sale to the currency's places
// (fees aside). Null when a figure is missing or malformed.
export function orderValue(fx, quantity, priceUSD, buy, currency) {
  const r = orderRate(fx, currency, buy);
  const q = dec(quantity);
  const p = dec(priceUSD);
  if (!r || !q || !p || q.v <= 0n) return null;
  const unit = quo(p, dec(r), 8, 'half-even');
  const gross = mul(q, unit);
  const down = quo(gross, dec('1'), places(currency), 'down');
  const exact = down.v * 10n ** BigInt(gross.s - down.s) === gross.v;
  return fmt(buy && !exact ? { v: down.v + 1n, s: down.s } : down);
}

// OrderEstimate shows an order's estimate in the order's currency at the
// current order rate (the order settles at the USD price / its order rate
// at execution).
export function OrderEstimate({ quantity, price, buy, currency }) {
  const fx = useRates();
  if (currency === 'USD') return null;
  const r = orderRate(fx, currency, buy);
  const v = orderValue(fx, quantity, price, buy, currency);
  if (!r || v === null) return html`<p class="muted">Loading the ${currency} rate…</p>`;
  const spread = fx.spread && Number(fx.spread) > 0 ? `, the rate with the ${trim(fmt(mul(dec(fx.spread), dec('100'))))}% spread against the order` : '';
  return html`<p>In ${currency}: <strong data-testid="estimate-ccy">${v} ${currency}</strong> <span class="muted">at 1 ${currency} = ${r} USD${spread}; settled at the rate when it executes</span></p>
    <${StaleNote} fx=${fx} currencies=${[currency]} />`;
}

const toSeconds = (t) => Math.floor(Date.parse(t) / 1000);

// RateChart draws a pair's history ([{t, rate}], oldest first) as a line.
function RateChart({ points, label }) {
  const el = useRef(null);
  const chart = useRef(null);
  const series = useRef(null);
  useEffect(() => {
    chart.current = createChart(el.current, framed({
      timeScale: { timeVisible: true, secondsVisible: true },
      localization: { priceFormatter: (p) => p.toFixed(4) },
    }));
    series.current = chart.current.addSeries(LineSeries, { color: '#0b57d0', lineWidth: 2 });
    return () => chart.current.remove();
  }, []);
  useEffect(() => {
    const byTime = new Map(); // one point a second, the last one
    for (const p of points) byTime.set(toSeconds(p.t), Number(p.rate));
    series.current.setData([...byTime].sort((a, b) => a[0] - b[0]).map(([time, value]) => ({ time, value })));
    chart.current.timeScale().fitContent();
  }, [points]);
  return html`<figure class="chart">
    <div class="candles" ref=${el} aria-hidden="true"></div>
    <figcaption>${label}. Charts by <a href="https://www.tradingview.com/" rel="noopener noreferrer" target="_blank">TradingView Lightweight Charts™</a>, © TradingView, Inc.</figcaption>
  </figure>`;
}

// FxRates is the rates page (#/fx): every rate, live, and the history of
// the chosen pair.
export function FxRates() {
  const fx = useRates();
  const [pair, setPair] = useState('EUR-USD');
  const [points, setPoints] = useState([]);
  const [error, setError] = useState(null);
  useEffect(() => {
    setPoints([]);
    api('GET', `/fx/rates/${pair}/history` + query({ limit: 1000 })).then((r) => { setError(null); setPoints(r.points.slice().reverse()); }, setError);
  }, [pair]);
  useEvents((type, d) => {
    if (type === 'fx' && d.pair === pair) setPoints((p) => [...p, { t: d.at, rate: d.rate }]);
  }, [pair]);
  return html`<section>
    <h1>Exchange rates</h1>
    <p class="muted">The USD value of one unit of each currency. Conversions keep a spread of ${trim(fmt(mul(dec(fx.spread || '0'), dec('100'))))}%${fx.maxAge ? html`; a rate older than ${fx.maxAge} s is out of date and moves no money` : ''}.</p>
    <${Message} error=${fx.error} />
    ${fx.rates && html`<div class="table-wrap" tabindex="0" role="region" aria-label="Rates table"><table class="rates">
      <thead><tr><th scope="col">Pair</th><th scope="col" class="num">Rate (USD)</th><th scope="col" class="num">Per USD</th><th scope="col" class="hide-s">Updated</th><th scope="col" class="hide-s">Source</th><th scope="col">State</th></tr></thead>
      <tbody>${fx.rates.map((r) => html`<tr key=${r.pair} data-pair=${r.pair}>
        <th scope="row"><button type="button" class="link" aria-pressed=${pair === r.pair} onClick=${() => setPair(r.pair)}>${r.pair}<span class="sr-only">: show its history</span></button></th>
        <td class="num" data-testid=${'rate-' + r.currency}>${r.rate}</td><td class="num">${r.inverse}</td>
        <td class="hide-s">${fmtTime(r.updated_at)}</td><td class="hide-s">${r.source}</td>
        <td>${isStale(fx, r) ? html`<strong class="down">out of date</strong>` : 'current'}</td></tr>`)}</tbody>
    </table></div>`}
    <h2>${pair} history</h2>
    <${Message} error=${error} />
    <div class="card"><${RateChart} points=${points} label=${`${pair}: the USD value of one ${pair.slice(0, 3)}, ${points.length} stored rates`} /></div>
  </section>`;
}

// AdminFx is the admin's form that sets a rate now.
export function AdminFx() {
  const fx = useRates();
  const [error, setError] = useState(null);
  const [ok, setOk] = useState('');
  const submit = async (e) => {
    e.preventDefault();
    const f = Object.fromEntries(new FormData(e.target));
    setError(null); setOk('');
    try {
      const r = await api('PUT', `/admin/fx/rates/${f.pair}`, { rate: f.rate });
      setOk(`${r.pair} set to ${r.rate} (version ${r.version}).`);
      e.target.reset();
    } catch (err) { setError(err); }
  };
  const errs = error ? error.fields : {};
  return html`<section aria-labelledby="fx-h">
    <h2 id="fx-h">Exchange rates</h2>
    <form class="card inline" onSubmit=${submit} aria-label="Set an exchange rate">
      <${Field} label="Pair" name="pair" idSuffix="-fx" errors=${errs}>${CURRENCIES.filter((c) => c !== 'USD').map((c) => html`<option value=${c + '-USD'}>${c}-USD</option>`)}<//>
      <${Field} label="New rate (USD per unit)" name="rate" idSuffix="-fx" inputmode="decimal" errors=${errs} required />
      <button type="submit" class="primary">Set rate</button>
    </form>
    <${Message} error=${error} ok=${ok} />
    ${fx.rates && html`<p class="muted">Current: ${fx.rates.map((r) => `${r.pair} ${r.rate}${isStale(fx, r) ? ' (out of date)' : ''}`).join(' · ')}. <a href="#/fx">Rates and history</a></p>`}
  </section>`;
}
