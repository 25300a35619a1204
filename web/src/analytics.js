// Analytics: the trader's performance page (#/performance), an asset's
// trading volume as a histogram under its candlesticks, and the admin's
// platform figures per day.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { createChart, HistogramSeries, LineSeries } from 'lightweight-charts';
import { framed } from './charts.js';
import { api, query } from './api.js';
import { Field, Message, fmtNum, label, useEvents } from './ui.js';

const today = () => new Date().toISOString().slice(0, 10);
const daysAgo = (n) => new Date(Date.now() - n * 86400e3).toISOString().slice(0, 10);
const pct = (f) => fmtNum(Number(f) * 100, 2) + '%';
const toSeconds = (t) => Math.floor(Date.parse(t) / 1000);

// useChart makes a lightweight chart in el with one series of kind and
// returns the series, removed with the component.
function useChart(el, kind, seriesOpts, chartOpts) {
  const series = useRef(null);
  const chart = useRef(null);
  useEffect(() => {
    chart.current = createChart(el.current, framed(chartOpts));
    series.current = chart.current.addSeries(kind, seriesOpts);
    return () => chart.current.remove();
  }, []);
  return { series, chart };
}

const VOLUME = { minute: '1m', hour: '1h', day: '1d' };

// VolumeBars draws the asset's traded notional per bucket (GET
// /analytics/volume) for the candlesticks' interval and window, and reads
// it again when one of the user's orders of the asset completes.
export function VolumeBars({ id, interval, from }) {
  const el = useRef(null);
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [version, setVersion] = useState(0);
  const { series, chart } = useChart(el, HistogramSeries, { color: '#7b93b4', priceFormat: { type: 'volume' } },
    { timeScale: { timeVisible: interval !== 'day', secondsVisible: false } });
  useEffect(() => {
    api('GET', '/analytics/volume' + query({ asset_id: id, interval: VOLUME[interval], from })).then((r) => { setError(null); setData(r); }, setError);
  }, [id, interval, version]);
  useEvents((type, d) => { if (type === 'order' && d.asset_id === id && d.status === 'completed') setVersion((v) => v + 1); }, [id]);
  useEffect(() => {
    if (!data) return;
    series.current.setData(data.buckets.map((b) => ({ time: toSeconds(b.start), value: Number(b.notional) })));
    chart.current.timeScale().fitContent();
  }, [data]);
  return html`<figure class="chart">
    <div class="volume" ref=${el} aria-hidden="true"></div>
    <figcaption data-testid="volume-total">${data ? `Volume: ${data.total.notional} USD in ${data.total.trades} trades (${data.total.quantity} ${id}) in this range, one bar per ${interval}` : 'Volume'}</figcaption>
    <${Message} error=${error} />
  </figure>`;
}

function Counts({ title, counts }) {
  const entries = Object.entries(counts || {});
  return html`<div><h3>${title}</h3>${entries.length === 0 ? html`<p class="muted">None.</p>`
    : html`<ul class="counts">${entries.map(([k, v]) => html`<li key=${k} data-count=${k}>${label(k)}: <strong>${v}</strong></li>`)}</ul>`}</div>`;
}

// Performance is the trader's page: daily values, time-weighted return,
// realized and unrealized P&L, and order statistics over a range.
export function Performance() {
  const [range, setRange] = useState({ from: daysAgo(29), to: today() });
  const [p, setP] = useState(null);
  const [error, setError] = useState(null);
  const [version, setVersion] = useState(0);
  const el = useRef(null);
  const { series, chart } = useChart(el, LineSeries, { color: '#0b57d0', lineWidth: 2 }, {});
  useEffect(() => {
    api('GET', '/analytics/performance' + query(range)).then((r) => { setError(null); setP(r); }, setError);
  }, [range.from, range.to, version]);
  useEvents((type) => { if (type === 'balance' || type === 'reset') setVersion((v) => v + 1); }, []);
  useEffect(() => {
    if (!p) return;
    series.current.setData(p.days.map((d) => ({ time: d.date, value: Number(d.value) })));
    chart.current.timeScale().fitContent();
  }, [p]);
  const set = (k) => (e) => e.target.value && setRange({ ...range, [k]: e.target.value });
  const sign = (v) => (Number(v) >= 0 ? 'up' : 'down');
  const ccy = p ? p.currency : 'USD';
  return html`<section>
    <h1>Performance</h1>
    <div class="toolbar">
      <${Field} label="From" name="perf-from" type="date" value=${range.from} max=${range.to} onChange=${set('from')} />
      <${Field} label="To" name="perf-to" type="date" value=${range.to} min=${range.from} onChange=${set('to')} />
    </div>
    <${Message} error=${error} />
    ${p && html`<dl class="figures">
      <div><dt>Value at the end</dt><dd data-testid="perf-value">${p.days.length ? p.days[p.days.length - 1].value : p.start_value} ${ccy}</dd></div>
      <div><dt>Time-weighted return</dt><dd data-testid="perf-twr" class=${sign(p.time_weighted_return)}>${pct(p.time_weighted_return)}</dd></div>
      <div><dt>Realized P&L in the range</dt><dd data-testid="perf-realized" class=${sign(p.realized_pnl)}>${p.realized_pnl} ${ccy}</dd></div>
      <div><dt>Unrealized P&L now</dt><dd data-testid="perf-unrealized" class=${sign(p.unrealized_pnl)}>${p.unrealized_pnl} ${ccy}</dd></div>
      <div><dt>Realized P&L, all time</dt><dd data-testid="perf-total-realized">${p.total_realized_pnl} ${ccy}</dd></div>
    </dl>`}
    <h2>Daily value</h2>
    <div class="card"><figure class="chart"><div class="candles perf" ref=${el} aria-hidden="true"></div>
      <figcaption>The portfolio's value at the end of each day, in ${ccy} (the table below gives the figures). Charts by <a href="https://www.tradingview.com/" rel="noopener noreferrer" target="_blank">TradingView Lightweight Charts™</a>, © TradingView, Inc.</figcaption></figure></div>
    ${p && html`<h2>Orders</h2>
    <dl class="figures">
      <div><dt>Placed</dt><dd data-testid="perf-placed">${p.orders.placed}</dd></div>
      <div><dt>Fills</dt><dd data-testid="perf-fills">${p.orders.fills}</dd></div>
      <div><dt>Notional</dt><dd data-testid="perf-notional">${p.orders.notional} ${ccy}</dd></div>
    </dl>
    <div class="cols perf-counts"><${Counts} title="By type" counts=${p.orders.by_type} /><${Counts} title="By status" counts=${p.orders.by_status} /></div>
    <h2>Days</h2>
    <div class="table-wrap" tabindex="0" role="region" aria-label="Daily performance table"><table class="perf-days">
      <thead><tr><th scope="col">Date</th><th scope="col" class="num">Value</th><th scope="col" class="num">Net flow</th><th scope="col" class="num">Return</th><th scope="col" class="num">Realized P&L</th><th scope="col" class="num">Fills</th><th scope="col" class="num">Orders</th></tr></thead>
      <tbody>${p.days.slice().reverse().map((d) => html`<tr key=${d.date} data-date=${d.date}>
        <th scope="row">${d.date}</th><td class="num">${d.value}</td><td class="num">${d.net_flow}</td><td class=${'num ' + sign(d.return)}>${pct(d.return)}</td>
        <td class="num">${d.realized_pnl}</td><td class="num">${d.fills}</td><td class="num">${d.orders_placed}</td></tr>`)}</tbody>
    </table></div>`}
  </section>`;
}

const counts = (o) => Object.entries(o || {}).map(([k, v]) => `${label(k)} ${v}`).join(', ') || '–';

// AdminDaily is the platform's figures per UTC day.
export function AdminDaily() {
  const [range, setRange] = useState({ from: daysAgo(6), to: today() });
  const [d, setD] = useState(null);
  const [error, setError] = useState(null);
  const load = () => api('GET', '/admin/analytics/daily' + query(range)).then((r) => { setError(null); setD(r); }, setError);
  useEffect(() => { load(); }, [range.from, range.to]);
  const set = (k) => (e) => e.target.value && setRange({ ...range, [k]: e.target.value });
  return html`<section aria-labelledby="daily-h">
    <h2 id="daily-h">Platform by day</h2>
    <div class="toolbar">
      <${Field} label="From" name="daily-from" type="date" value=${range.from} max=${range.to} onChange=${set('from')} />
      <${Field} label="To" name="daily-to" type="date" value=${range.to} min=${range.from} onChange=${set('to')} />
      <button type="button" onClick=${load}>Refresh<span class="sr-only"> the daily figures</span></button>
    </div>
    <${Message} error=${error} />
    ${d && html`<div class="table-wrap" tabindex="0" role="region" aria-label="Daily platform figures table"><table class="daily">
      <thead><tr><th scope="col">Date</th><th scope="col" class="num">Notional (${d.currency})</th><th scope="col" class="num">Trades</th><th scope="col" class="num">Active users</th><th scope="col" class="num">Orders</th><th scope="col">By type</th><th scope="col">By status</th></tr></thead>
      <tbody>${d.days.slice().reverse().map((x) => html`<tr key=${x.date} data-date=${x.date}>
        <th scope="row">${x.date}</th><td class="num">${x.notional}</td><td class="num">${x.trades}</td><td class="num">${x.active_users}</td><td class="num">${x.orders}</td>
        <td>${counts(x.orders_by_type)}</td><td>${counts(x.orders_by_status)}</td></tr>`)}</tbody>
    </table></div>`}
  </section>`;
}
