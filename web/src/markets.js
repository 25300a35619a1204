// Markets (the live asset list) and an asset's page (candlesticks and the
// order ticket).
import { html } from 'htm/preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, newKey, query } from './api.js';
import { Candles, Sparkline } from './charts.js';
import { CURRENCIES, Field, Message, fmtCompact, fmtNum, fmtPrice, label, useEvents } from './ui.js';

function Change({ pct }) {
  if (pct === null || pct === undefined) return html`<span>–</span>`;
  const n = Number(pct);
  return html`<span class=${n >= 0 ? 'up' : 'down'}>${n >= 0 ? '+' : ''}${fmtNum(n, 2)}%</span>`;
}

function Spark({ id }) {
  const [points, setPoints] = useState(null);
  useEffect(() => {
    api('GET', `/inventory/assets/${id}/history?interval=raw`).then((r) => setPoints(r.points), () => setPoints([]));
  }, [id]);
  if (!points || points.length < 2) return html`<span class="spark-empty">–</span>`;
  return html`<${Sparkline} points=${points} label=${`${id}: its last ${points.length} prices`} />`;
}

export function Markets() {
  const [assets, setAssets] = useState(null);
  const [error, setError] = useState(null);
  const [filter, setFilter] = useState('');
  useEffect(() => {
    api('GET', '/inventory/assets?limit=250').then((r) => setAssets(r.data), setError);
  }, []);
  useEvents((type, d) => {
    if (type !== 'price') return;
    setAssets((list) => list && list.map((a) => (a.asset_id === d.asset_id ? { ...a, price_usd: Number(d.price_usd) } : a)));
  }, []);
  const shown = (assets || []).filter((a) => !filter || (a.asset_id + ' ' + a.name).toLowerCase().includes(filter.toLowerCase()));
  return html`<section>
    <h1>Markets</h1>
    <${Message} error=${error} />
    <div class="toolbar"><${Field} label="Search" name="market-search" type="search" value=${filter} onInput=${(e) => setFilter(e.target.value)} /></div>
    ${!assets && !error && html`<p>Loading markets…</p>`}
    ${assets && html`<div class="table-wrap" tabindex="0" role="region" aria-label="Markets table"><table class="markets">
      <caption class="sr-only">Assets with their live prices</caption>
      <thead><tr><th scope="col">Asset</th><th scope="col" class="num">Price (USD)</th><th scope="col" class="num">24h</th><th scope="col" class="num hide-s">Volume 24h</th><th scope="col" class="hide-s">Recent trend</th></tr></thead>
      <tbody>${shown.map((a) => html`<tr key=${a.asset_id}>
        <th scope="row"><a href=${'#/asset/' + a.asset_id}><strong>${a.asset_id}</strong> <span class="muted">${a.name}</span></a></th>
        <td class="num" data-testid=${'price-' + a.asset_id}>${fmtPrice(a.price_usd)}</td>
        <td class="num"><${Change} pct=${a.price_change_percentage_24h} /></td>
        <td class="num hide-s">${fmtCompact(a.total_volume_24h)}</td>
        <td class="hide-s"><${Spark} id=${a.asset_id} /></td>
      </tr>`)}</tbody>
    </table></div>`}
  </section>`;
}

const INTERVALS = [['minute', 'Minute'], ['hour', 'Hour'], ['day', 'Day']];
const WINDOW = { minute: 6 * 3600e3, hour: 7 * 86400e3, day: 180 * 86400e3 };
const BUCKET = { minute: 60e3, hour: 3600e3, day: 86400e3 };

export function AssetPage({ id }) {
  const [asset, setAsset] = useState(null);
  const [error, setError] = useState(null);
  const [interval, setInterval] = useState('hour');
  const [points, setPoints] = useState([]);
  useEffect(() => {
    api('GET', `/inventory/assets/${encodeURIComponent(id)}`).then((r) => setAsset(r.data), setError);
  }, [id]);
  useEffect(() => {
    const from = new Date(Date.now() - WINDOW[interval]).toISOString();
    api('GET', `/inventory/assets/${encodeURIComponent(id)}/history` + query({ interval, from })).then((r) => setPoints(r.points), setError);
  }, [id, interval]);
  useEvents((type, d) => {
    if (type !== 'price' || d.asset_id !== id) return;
    const price = Number(d.price_usd);
    setAsset((a) => a && { ...a, price_usd: price });
    // The live price moves the last candle, or opens the next one.
    setPoints((pts) => {
      const size = BUCKET[interval];
      const t = new Date(Math.floor(Date.parse(d.at) / size) * size).toISOString();
      const last = pts[pts.length - 1];
      if (last && Date.parse(last.t) === Date.parse(t)) {
        return [...pts.slice(0, -1), { ...last, high: Math.max(last.high, price), low: Math.min(last.low, price), close: price }];
      }
      if (last && Date.parse(last.t) > Date.parse(t)) return pts;
      return [...pts, { t, open: price, high: price, low: price, close: price }];
    });
  }, [id, interval]);
  if (error && !asset) return html`<section><h1>${id}</h1><${Message} error=${error} /></section>`;
  if (!asset) return html`<section><h1>${id}</h1><p>Loading…</p></section>`;
  return html`<section>
    <h1>${asset.name} <span class="muted">${asset.asset_id}</span></h1>
    <p class="headline"><span data-testid="asset-price">${fmtPrice(asset.price_usd)} USD</span> <${Change} pct=${asset.price_change_percentage_24h} />
      ${!asset.is_active && html` <strong class="down">Inactive: not tradable</strong>`}</p>
    <div class="asset-grid">
      <div class="card">
        <div class="toolbar" role="group" aria-label="Chart interval">
          ${INTERVALS.map(([v, t]) => html`<button type="button" aria-pressed=${interval === v} onClick=${() => setInterval(v)}>${t}</button>`)}
        </div>
        <${Candles} points=${points} label=${`${asset.asset_id} candlestick chart, one candle per ${interval}`} />
        ${points.length === 0 && html`<p class="muted">No price changes in this range yet.</p>`}
      </div>
      <${Ticket} asset=${asset} />
    </div>
  </section>`;
}

const TYPES = [
  ['market_buy', 'Market buy'], ['market_sell', 'Market sell'], ['limit_buy', 'Limit buy'], ['limit_sell', 'Limit sell'],
  ['stop_loss', 'Stop loss'], ['take_profit', 'Take profit'], ['trailing_stop', 'Trailing stop'],
];
const BUYS = new Set(['market_buy', 'limit_buy']);
const OCO_TYPES = new Set(['limit_sell', 'stop_loss', 'take_profit', 'trailing_stop']);

export function Ticket({ asset }) {
  const [f, setF] = useState({ order_type: 'market_buy', quantity: '', limit_price: '', stop_price: '', trail: 'percent', trail_value: '', time_in_force: 'gtc', expires_at: '', currency: 'USD', oco_with: '' });
  const [error, setError] = useState(null);
  const [ok, setOk] = useState('');
  const [busy, setBusy] = useState(false);
  const [linkable, setLinkable] = useState([]);
  const key = useRef(newKey());
  const set = (k) => (e) => { key.current = newKey(); setF({ ...f, [k]: e.target.value }); };
  const t = f.order_type;
  const needsLimit = t === 'limit_buy' || t === 'limit_sell' || t === 'take_profit';
  useEffect(() => {
    api('GET', '/orders' + query({ asset_id: asset.asset_id, status: 'queued', limit: 100 }))
      .then((r) => setLinkable(r.data.filter((o) => OCO_TYPES.has(o.order_type) && !o.oco_with)), () => setLinkable([]));
  }, [asset.asset_id, ok]);

  const estimate = useMemo(() => {
    const q = Number(f.quantity);
    if (!(q > 0)) return null;
    let ref = Number(asset.price_usd);
    if (needsLimit && Number(f.limit_price) > 0) ref = Number(f.limit_price);
    if (t === 'stop_loss' && Number(f.stop_price) > 0) ref = Number(f.stop_price);
    const value = q * ref;
    const buy = BUYS.has(t);
    return {
      value: fmtNum(value, 2),
      hold: buy ? (t === 'market_buy' ? `${fmtNum(value, 2)} USD charged at once` : `${fmtNum(value, 2)} USD held until it fills or is cancelled`)
        : t === 'market_sell' ? `${q} ${asset.asset_id} sold at once` : `${q} ${asset.asset_id} held until it fills or is cancelled`,
    };
  }, [f, asset.price_usd]);

  const inFlight = useRef(false); // set at once: a second click comes before the re-render
  const submit = async (e) => {
    e.preventDefault();
    if (inFlight.current) return;
    inFlight.current = true;
    const body = { order_type: t, asset_id: asset.asset_id, quantity: f.quantity, currency: f.currency };
    if (needsLimit) body.limit_price = f.limit_price;
    if (t === 'stop_loss') body.stop_price = f.stop_price;
    if (t === 'trailing_stop') body[f.trail === 'percent' ? 'trail_percent' : 'trail_amount'] = f.trail_value;
    if (!t.startsWith('market_')) {
      body.time_in_force = f.time_in_force;
      if (f.time_in_force === 'gtd') body.expires_at = f.expires_at ? new Date(f.expires_at).toISOString() : '';
    } else if (f.time_in_force === 'ioc' || f.time_in_force === 'fok') {
      body.time_in_force = f.time_in_force;
    }
    if (OCO_TYPES.has(t) && f.oco_with) body.oco_with = f.oco_with;
    setBusy(true); setError(null); setOk('');
    try {
      const r = await api('POST', '/orders', body, { key: key.current });
      const o = r.data;
      key.current = newKey();
      setOk(`Order ${o.order_id}: ${label(o.order_type)} ${o.quantity} ${o.asset_id}, ${o.status}${o.executed_price ? ' at ' + o.executed_price : ''}.`);
    } catch (err) {
      setError(err);
    } finally {
      inFlight.current = false;
      setBusy(false);
    }
  };
  const errs = error ? error.fields : {};
  const tifs = t.startsWith('market_') ? ['gtc', 'ioc', 'fok'] : ['gtc', 'day', 'gtd', 'ioc', 'fok'];
  return html`<form class="card ticket" onSubmit=${submit} aria-label="Order ticket">
    <h2>Order ticket</h2>
    <${Field} label="Order type" name="order_type" errors=${errs} value=${t} onChange=${set('order_type')}>
      ${TYPES.map(([v, l]) => html`<option value=${v}>${l}</option>`)}
    <//>
    <${Field} label=${`Quantity (${asset.asset_id})`} name="quantity" inputmode="decimal" errors=${errs} value=${f.quantity} onInput=${set('quantity')} required />
    ${needsLimit && html`<${Field} label=${t === 'take_profit' ? 'Target price (USD)' : 'Limit price (USD)'} name="limit_price" inputmode="decimal" errors=${errs} value=${f.limit_price} onInput=${set('limit_price')} required />`}
    ${t === 'stop_loss' && html`<${Field} label="Stop price (USD)" name="stop_price" inputmode="decimal" errors=${errs} value=${f.stop_price} onInput=${set('stop_price')} required />`}
    ${t === 'trailing_stop' && html`
      <${Field} label="Trail by" name="trail" value=${f.trail} onChange=${set('trail')}>
        <option value="percent">Percent</option><option value="amount">Amount (USD)</option>
      <//>
      <${Field} label=${f.trail === 'percent' ? 'Trail percent' : 'Trail amount (USD)'} name=${f.trail === 'percent' ? 'trail_percent' : 'trail_amount'} inputmode="decimal" errors=${errs} value=${f.trail_value} onInput=${set('trail_value')} required />`}
    <${Field} label="Time in force" name="time_in_force" errors=${errs} value=${f.time_in_force} onChange=${set('time_in_force')}>
      ${tifs.map((v) => html`<option value=${v}>${{ gtc: 'Good till cancelled', day: 'Day', gtd: 'Good till date', ioc: 'Immediate or cancel', fok: 'Fill or kill' }[v]}</option>`)}
    <//>
    ${f.time_in_force === 'gtd' && html`<${Field} label="Expires at (your time)" name="expires_at" type="datetime-local" errors=${errs} value=${f.expires_at} onInput=${set('expires_at')} required />`}
    <${Field} label="Currency" name="currency" errors=${errs} value=${f.currency} onChange=${set('currency')}>
      ${CURRENCIES.map((c) => html`<option value=${c}>${c}</option>`)}
    <//>
    ${OCO_TYPES.has(t) && html`<${Field} label="One cancels other: link with" name="oco_with" errors=${errs} value=${f.oco_with} onChange=${set('oco_with')}>
      <option value="">No link</option>
      ${linkable.map((o) => html`<option value=${o.order_id}>${label(o.order_type)} ${o.quantity} @ ${o.limit_price || o.stop_price || o.trail_percent || o.trail_amount} (${o.order_id.slice(-8)})</option>`)}
    <//>`}
    <div class="estimate" aria-live="polite">
      ${estimate ? html`<p>Estimated value: <strong data-testid="estimate">${estimate.value} USD</strong>${f.currency !== 'USD' ? html` <span class="muted">(charged in ${f.currency} at the server's rate)</span>` : ''}</p><p>${estimate.hold}</p>`
        : html`<p class="muted">Enter a quantity to see the estimated cost and hold.</p>`}
    </div>
    <${Message} error=${error} ok=${ok} />
    <button type="submit" class="primary" disabled=${busy || !asset.is_active}>${busy ? 'Placing…' : 'Place order'}</button>
  </form>`;
}
