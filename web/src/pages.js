// Orders (open orders live, amend, cancel; history with filters and status
// history), portfolio, and account (balances, deposit, withdraw, convert,
// ledger, profile).
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, newKey, query } from './api.js';
import { CURRENCIES, Field, Message, Pager, fmtTime, label, usePaged, useEvents } from './ui.js';

const OPEN = new Set(['pending', 'confirmed', 'queued', 'triggered', 'processing']);
const STATUSES = ['pending', 'confirmed', 'queued', 'triggered', 'processing', 'completed', 'cancelled', 'failed', 'expired'];
const ORDER_TYPES = ['market_buy', 'market_sell', 'limit_buy', 'limit_sell', 'stop_loss', 'take_profit', 'trailing_stop'];

function orderPrice(o) {
  if (o.limit_price) return 'limit ' + o.limit_price;
  if (o.stop_price) return 'stop ' + o.stop_price;
  if (o.trail_percent) return 'trail ' + o.trail_percent + '%';
  if (o.trail_amount) return 'trail ' + o.trail_amount;
  return 'market';
}

function Amend({ o, onDone }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const key = useRef(newKey());
  const submit = async (e) => {
    e.preventDefault();
    const f = Object.fromEntries(new FormData(e.target));
    const body = {};
    for (const [k, v] of Object.entries(f)) if (v !== '' && v !== o[k]) body[k] = v;
    setBusy(true); setError(null);
    try {
      await api('PATCH', '/orders/' + o.order_id, body, { key: key.current });
      onDone('Order amended.');
    } catch (err) {
      setError(err);
      key.current = newKey();
    } finally { setBusy(false); }
  };
  const errs = error ? error.fields : {};
  const sfx = '-' + o.order_id;
  return html`<form class="amend" onSubmit=${submit} aria-label=${'Amend order ' + o.order_id}>
    <${Field} label="New quantity" name="quantity" idSuffix=${sfx} inputmode="decimal" errors=${errs} defaultValue=${o.quantity} />
    ${o.limit_price && html`<${Field} label="New limit price" name="limit_price" idSuffix=${sfx} inputmode="decimal" errors=${errs} defaultValue=${o.limit_price} />`}
    ${o.stop_price && html`<${Field} label="New stop price" name="stop_price" idSuffix=${sfx} inputmode="decimal" errors=${errs} defaultValue=${o.stop_price} />`}
    ${o.trail_percent && html`<${Field} label="New trail percent" name="trail_percent" idSuffix=${sfx} inputmode="decimal" errors=${errs} defaultValue=${o.trail_percent} />`}
    ${o.trail_amount && html`<${Field} label="New trail amount" name="trail_amount" idSuffix=${sfx} inputmode="decimal" errors=${errs} defaultValue=${o.trail_amount} />`}
    <${Message} error=${error} />
    <button type="submit" class="primary" disabled=${busy}>Save</button>
    <button type="button" onClick=${() => onDone('')}>Close</button>
  </form>`;
}

function OpenOrders({ changed }) {
  const [orders, setOrders] = useState(null);
  const [error, setError] = useState(null);
  const [ok, setOk] = useState('');
  const [amending, setAmending] = useState('');
  // The resting orders (queued) are the open ones a reader sees for more
  // than a moment; the stream adds and removes the others as they pass.
  const load = () => api('GET', '/orders?status=queued&limit=100').then((r) => setOrders(r.data), setError);
  useEffect(() => { load(); }, []);
  useEvents((type, d) => {
    if (type === 'reset') { load(); return; }
    if (type !== 'order') return;
    setOrders((list) => {
      if (!list) return list;
      const rest = list.filter((o) => o.order_id !== d.order_id);
      return OPEN.has(d.status) ? [d, ...rest].sort((a, b) => (a.created_at < b.created_at ? 1 : -1)) : rest;
    });
    if (!OPEN.has(d.status)) setOk(`Order ${d.order_id} is ${d.status}.`);
    changed();
  }, []);
  const cancel = async (o) => {
    setError(null); setOk('');
    try {
      await api('DELETE', '/orders/' + o.order_id);
      setOk(`Order ${o.order_id} is cancelled.`); // the stream's event says the same
      load();
    } catch (err) { setError(err); }
  };
  return html`<section aria-labelledby="open-h">
    <h2 id="open-h">Open orders</h2>
    <${Message} error=${error} ok=${ok} />
    ${orders && orders.length === 0 && html`<p class="muted">No open orders.</p>`}
    ${orders && orders.length > 0 && html`<div class="table-wrap" tabindex="0" role="region" aria-label="Open orders table"><table class="open-orders">
      <thead><tr><th scope="col">Order</th><th scope="col">Type</th><th scope="col">Asset</th><th scope="col" class="num">Quantity</th><th scope="col">Price</th><th scope="col">Status</th><th scope="col">Actions</th></tr></thead>
      <tbody>${orders.map((o) => html`<tr key=${o.order_id} data-order=${o.order_id}>
        <td class="mono">${o.order_id.slice(-8)}</td><td>${label(o.order_type)}</td><td>${o.asset_id}</td>
        <td class="num">${o.quantity}</td><td>${orderPrice(o)}</td><td>${o.status}</td>
        <td class="actions">
          <button type="button" onClick=${() => setAmending(amending === o.order_id ? '' : o.order_id)} aria-expanded=${amending === o.order_id}>Amend<span class="sr-only"> order ${o.order_id}</span></button>
          <button type="button" class="danger" onClick=${() => cancel(o)}>Cancel<span class="sr-only"> order ${o.order_id}</span></button>
          ${amending === o.order_id && html`<${Amend} o=${o} onDone=${(m) => { setAmending(''); if (m) { setOk(m); load(); } }} />`}
        </td></tr>`)}</tbody>
    </table></div>`}
  </section>`;
}

function History({ version }) {
  const [filters, setFilters] = useState({ status: '', order_type: '', asset_id: '' });
  const [detail, setDetail] = useState(null);
  const p = usePaged(async (cursor) => {
    const r = await api('GET', '/orders' + query({ ...filters, limit: 10, cursor }));
    return { items: r.data, next: r.next_cursor };
  }, [filters.status, filters.order_type, filters.asset_id]);
  useEffect(() => { if (version) p.reload(); }, [version]);
  const set = (k) => (e) => setFilters({ ...filters, [k]: e.target.value });
  const open = async (id) => setDetail(detail && detail.order_id === id ? null : (await api('GET', '/orders/' + id)).data);
  return html`<section aria-labelledby="hist-h">
    <h2 id="hist-h">Order history</h2>
    <div class="toolbar">
      <${Field} label="Status" name="h-status" value=${filters.status} onChange=${set('status')}><option value="">All</option>${STATUSES.map((s) => html`<option value=${s}>${s}</option>`)}<//>
      <${Field} label="Type" name="h-type" value=${filters.order_type} onChange=${set('order_type')}><option value="">All</option>${ORDER_TYPES.map((s) => html`<option value=${s}>${label(s)}</option>`)}<//>
      <${Field} label="Asset" name="h-asset" value=${filters.asset_id} onChange=${set('asset_id')} placeholder="e.g. BTC" />
    </div>
    <${Message} error=${p.error} />
    <div class="table-wrap" tabindex="0" role="region" aria-label="Order history table"><table class="history">
      <thead><tr><th scope="col">Created</th><th scope="col">Type</th><th scope="col">Asset</th><th scope="col" class="num">Quantity</th><th scope="col" class="num">Executed price</th><th scope="col" class="num">Total</th><th scope="col">Status</th></tr></thead>
      <tbody>${p.items.map((o) => html`<tr key=${o.order_id}>
        <td><button type="button" class="link" onClick=${() => open(o.order_id)} aria-expanded=${detail && detail.order_id === o.order_id}>${fmtTime(o.created_at)}</button></td>
        <td>${label(o.order_type)}</td><td>${o.asset_id}</td><td class="num">${o.quantity}</td>
        <td class="num">${o.executed_price || '–'}</td><td class="num">${o.total_amount} ${o.currency}</td><td>${o.status}</td></tr>`)}</tbody>
    </table></div>
    ${p.items.length === 0 && !p.loading && html`<p class="muted">No orders match.</p>`}
    <${Pager} p=${p} label="Order history" />
    ${detail && html`<div class="card" aria-label="Status history">
      <h3>Order ${detail.order_id}</h3>
      <ol class="status-history">${(detail.status_history || []).map((s) => html`<li><strong>${s.status}</strong> ${fmtTime(s.at)}${s.reason ? ' — ' + s.reason : ''}</li>`)}</ol>
    </div>`}
  </section>`;
}

export function Orders() {
  const [version, setVersion] = useState(0);
  return html`<div><h1>Orders</h1><${OpenOrders} changed=${() => setVersion((v) => v + 1)} /><${History} version=${version} /></div>`;
}

export function Portfolio() {
  const [pf, setPf] = useState(null);
  const [error, setError] = useState(null);
  const load = () => api('GET', '/portfolio').then(setPf, setError);
  useEffect(() => { load(); }, []);
  useEvents((type) => { if (type === 'balance' || type === 'order' || type === 'reset') load(); }, []);
  if (!pf) return html`<section><h1>Portfolio</h1><${Message} error=${error} />${!error && html`<p>Loading…</p>`}</section>`;
  const ccy = pf.valuation_currency || 'USD';
  return html`<section>
    <h1>Portfolio</h1>
    <${Message} error=${error} />
    <dl class="figures">
      <div><dt>Total value</dt><dd data-testid="total-value">${pf.total_value} ${ccy}</dd></div>
      <div><dt>Assets</dt><dd data-testid="assets-value">${pf.assets_value} ${ccy}</dd></div>
      <div><dt>Cash</dt><dd data-testid="cash-value">${pf.cash_value} ${ccy}</dd></div>
      <div><dt>Unrealized P&L</dt><dd data-testid="total-pnl" class=${Number(pf.total_unrealized_pnl) >= 0 ? 'up' : 'down'}>${pf.total_unrealized_pnl} ${ccy}</dd></div>
    </dl>
    <h2>Holdings</h2>
    ${pf.assets.length === 0 ? html`<p class="muted">No holdings yet: buy on the Markets page.</p>` : html`<div class="table-wrap" tabindex="0" role="region" aria-label="Holdings table"><table class="holdings">
      <thead><tr><th scope="col">Asset</th><th scope="col" class="num">Quantity</th><th scope="col" class="num">Price</th><th scope="col" class="num">Value</th><th scope="col" class="num">Average cost</th><th scope="col" class="num">P&L</th></tr></thead>
      <tbody>${pf.assets.map((a) => html`<tr key=${a.asset_id} data-asset=${a.asset_id}>
        <th scope="row"><a href=${'#/asset/' + a.asset_id}>${a.asset_id}</a></th><td class="num">${a.quantity}</td><td class="num">${a.current_price}</td>
        <td class="num">${a.market_value}</td><td class="num">${a.average_cost}</td>
        <td class=${'num ' + (Number(a.unrealized_pnl) >= 0 ? 'up' : 'down')}>${a.unrealized_pnl}</td></tr>`)}</tbody>
    </table></div>`}
    <h2>Allocation</h2>
    <ul class="allocation">
      ${pf.assets.map((a) => html`<li key=${a.asset_id}><label for=${'alloc-' + a.asset_id}>${a.asset_id} ${a.percentage}%</label>
        <meter id=${'alloc-' + a.asset_id} min="0" max="100" value=${Number(a.percentage)}>${a.percentage}%</meter></li>`)}
      <li><label for="alloc-cash">Cash ${pf.total_value !== '0' && Number(pf.total_value) ? (Number(pf.cash_value) / Number(pf.total_value) * 100).toFixed(2) : '0.00'}%</label>
        <meter id="alloc-cash" min="0" max="100" value=${Number(pf.total_value) ? Number(pf.cash_value) / Number(pf.total_value) * 100 : 0}></meter></li>
    </ul>
    <h2>Cash</h2>
    <div class="table-wrap" tabindex="0" role="region" aria-label="Cash table"><table class="cash">
      <thead><tr><th scope="col">Currency</th><th scope="col" class="num">Balance</th><th scope="col" class="num">Available</th><th scope="col" class="num">Held</th></tr></thead>
      <tbody>${pf.cash.map((c) => html`<tr key=${c.currency} data-currency=${c.currency}><th scope="row">${c.currency}</th><td class="num">${c.current_balance}</td><td class="num">${c.available_balance}</td><td class="num">${c.held_balance}</td></tr>`)}</tbody>
    </table></div>
  </section>`;
}

function MoneyForm({ kind, onDone }) {
  const [error, setError] = useState(null);
  const [ok, setOk] = useState('');
  const [busy, setBusy] = useState(false);
  const key = useRef(newKey());
  const submit = async (e) => {
    e.preventDefault();
    const form = e.target;
    const f = Object.fromEntries(new FormData(form));
    setBusy(true); setError(null); setOk('');
    try {
      if (kind === 'convert') {
        const r = await api('POST', '/balance/convert', f, { key: key.current });
        setOk(`Converted ${r.debit.amount.replace('-', '')} ${r.from_currency} to ${r.credit.amount} ${r.to_currency} at the rate ${r.rate}.`);
      } else {
        const r = await api('POST', '/balance/' + kind, f, { key: key.current });
        setOk(r.message);
      }
      key.current = newKey();
      form.reset();
      onDone();
    } catch (err) { setError(err); } finally { setBusy(false); }
  };
  const errs = error ? error.fields : {};
  const title = { deposit: 'Deposit', withdraw: 'Withdraw', convert: 'Convert' }[kind];
  const sfx = '-' + kind;
  return html`<form class="card" onSubmit=${submit} aria-label=${title}>
    <h3>${title}</h3>
    ${kind === 'convert' ? html`
      <${Field} label="From" name="from_currency" idSuffix=${sfx} errors=${errs}>${CURRENCIES.map((c) => html`<option value=${c}>${c}</option>`)}<//>
      <${Field} label="To" name="to_currency" idSuffix=${sfx} errors=${errs}>${CURRENCIES.filter((c) => c !== 'USD').concat('USD').map((c) => html`<option value=${c}>${c}</option>`)}<//>`
    : html`<${Field} label="Currency" name="currency" idSuffix=${sfx} errors=${errs}>${CURRENCIES.map((c) => html`<option value=${c}>${c}</option>`)}<//>`}
    <${Field} label="Amount" name="amount" idSuffix=${sfx} inputmode="decimal" errors=${errs} required />
    <${Message} error=${error} ok=${ok} />
    <button type="submit" class="primary" disabled=${busy}>${title}</button>
  </form>`;
}

const TX_TYPES = ['deposit', 'withdraw', 'order_payment', 'order_sale', 'order_refund', 'order_hold', 'system_adjustment', 'currency_conversion'];

function Ledger({ version }) {
  const [filters, setFilters] = useState({ transaction_type: '', currency: '' });
  const p = usePaged(async (cursor) => {
    const r = await api('GET', '/balance/transactions' + query({ ...filters, limit: 10, cursor }));
    return { items: r.transactions, next: r.next_cursor };
  }, [filters.transaction_type, filters.currency, version]);
  const set = (k) => (e) => setFilters({ ...filters, [k]: e.target.value });
  return html`<section aria-labelledby="ledger-h">
    <h2 id="ledger-h">Ledger</h2>
    <div class="toolbar">
      <${Field} label="Type" name="l-type" value=${filters.transaction_type} onChange=${set('transaction_type')}><option value="">All</option>${TX_TYPES.map((s) => html`<option value=${s}>${label(s)}</option>`)}<//>
      <${Field} label="Currency" name="l-currency" value=${filters.currency} onChange=${set('currency')}><option value="">All</option>${CURRENCIES.map((s) => html`<option value=${s}>${s}</option>`)}<//>
    </div>
    <${Message} error=${p.error} />
    <div class="table-wrap" tabindex="0" role="region" aria-label="Ledger table"><table class="ledger">
      <thead><tr><th scope="col">When</th><th scope="col">Type</th><th scope="col" class="num">Amount</th><th scope="col">Status</th><th scope="col" class="hide-s">Description</th></tr></thead>
      <tbody>${p.items.map((t) => html`<tr key=${t.transaction_id}><td>${fmtTime(t.created_at)}</td><td>${label(t.transaction_type)}</td>
        <td class="num">${t.amount} ${t.currency}</td><td>${t.status}</td><td class="hide-s">${t.description}</td></tr>`)}</tbody>
    </table></div>
    ${p.items.length === 0 && !p.loading && html`<p class="muted">No entries match.</p>`}
    <${Pager} p=${p} label="Ledger" />
  </section>`;
}

function Profile({ user, onUser }) {
  const [error, setError] = useState(null);
  const [ok, setOk] = useState('');
  const [profile, setProfile] = useState(null);
  useEffect(() => { api('GET', '/auth/profile').then(setProfile, setError); }, []);
  const submit = async (e) => {
    e.preventDefault();
    const f = Object.fromEntries(new FormData(e.target));
    setError(null); setOk('');
    try {
      const r = await api('PUT', '/auth/profile', f);
      setOk('Profile saved.');
      setProfile(r.user);
      onUser(r.user);
    } catch (err) { setError(err); }
  };
  const errs = error ? error.fields : {};
  const p = profile || user;
  return html`<form class="card" onSubmit=${submit} aria-label="Profile" key=${profile ? 'loaded' : 'initial'}>
    <h2>Profile</h2>
    <p>${p.username} · ${p.email} · ${p.role}</p>
    <${Field} label="First name" name="first_name" errors=${errs} defaultValue=${p.first_name} autocomplete="given-name" />
    <${Field} label="Last name" name="last_name" errors=${errs} defaultValue=${p.last_name} autocomplete="family-name" />
    <${Field} label="Phone" name="phone" errors=${errs} defaultValue=${p.phone || ''} autocomplete="tel" />
    <${Message} error=${error} ok=${ok} />
    <button type="submit" class="primary">Save profile</button>
  </form>`;
}

export function Account({ user, onUser }) {
  const [balances, setBalances] = useState(null);
  const [error, setError] = useState(null);
  const [version, setVersion] = useState(0);
  const load = () => api('GET', '/balances').then((r) => setBalances(r.balances || r.data || []), setError);
  useEffect(() => { load(); }, [version]);
  useEvents((type) => { if (type === 'balance' || type === 'reset') load(); }, []);
  const done = () => setVersion((v) => v + 1);
  return html`<div>
    <h1>Account</h1>
    <${Message} error=${error} />
    <section aria-labelledby="bal-h"><h2 id="bal-h">Balances</h2>
      <div class="table-wrap" tabindex="0" role="region" aria-label="Balances table"><table class="balances">
        <thead><tr><th scope="col">Currency</th><th scope="col" class="num">Balance</th><th scope="col" class="num">Available</th><th scope="col" class="num">Held</th></tr></thead>
        <tbody>${(balances || []).map((b) => html`<tr key=${b.currency} data-currency=${b.currency}><th scope="row">${b.currency}</th><td class="num">${b.current_balance}</td><td class="num">${b.available_balance}</td><td class="num">${b.held_balance}</td></tr>`)}</tbody>
      </table></div>
    </section>
    <div class="forms"><${MoneyForm} kind="deposit" onDone=${done} /><${MoneyForm} kind="withdraw" onDone=${done} /><${MoneyForm} kind="convert" onDone=${done} /></div>
    <${Ledger} version=${version} />
    <${Profile} user=${user} onUser=${onUser} />
  </div>`;
}
