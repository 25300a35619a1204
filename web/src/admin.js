// The admin console: assets (create, activate, deactivate, set price),
// users (deactivate, activate, cash adjustments), the platform summary and
// the ledger check (verify).
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, newKey } from './api.js';
import { CURRENCIES, Field, Message, fmtPrice, fmtTime, label } from './ui.js';

function Assets() {
  const [assets, setAssets] = useState(null);
  const [error, setError] = useState(null);
  const [ok, setOk] = useState('');
  const [priceFor, setPriceFor] = useState('');
  const load = () => api('GET', '/inventory/assets?active_only=false&limit=250').then((r) => setAssets(r.data), setError);
  useEffect(() => { load(); }, []);
  const act = async (a, what) => {
    setError(null); setOk('');
    try {
      await api('POST', `/admin/assets/${a.asset_id}/${what}`);
      setOk(`${a.asset_id} ${what}d.`);
      load();
    } catch (err) { setError(err); }
  };
  const setPrice = async (e, a) => {
    e.preventDefault();
    const f = Object.fromEntries(new FormData(e.target));
    setError(null); setOk('');
    try {
      await api('PUT', `/admin/assets/${a.asset_id}/price`, { price_usd: f.price_usd });
      setOk(`${a.asset_id} price set to ${f.price_usd}.`);
      setPriceFor('');
      load();
    } catch (err) { setError(err); }
  };
  const errs = error ? error.fields : {};
  return html`<section aria-labelledby="assets-h">
    <h2 id="assets-h">Assets</h2>
    <${Message} error=${error} ok=${ok} />
    <${CreateAsset} onDone=${(m) => { setOk(m); load(); }} />
    ${assets && html`<div class="table-wrap" tabindex="0" role="region" aria-label="Assets table"><table class="admin-assets">
      <thead><tr><th scope="col">Asset</th><th scope="col" class="num">Price (USD)</th><th scope="col">State</th><th scope="col">Actions</th></tr></thead>
      <tbody>${assets.map((a) => html`<tr key=${a.asset_id} data-asset=${a.asset_id}>
        <th scope="row">${a.asset_id} <span class="muted">${a.name}</span></th><td class="num">${fmtPrice(a.price_usd)}</td>
        <td>${a.is_active ? 'active' : 'inactive'}</td>
        <td class="actions">
          ${a.is_active ? html`<button type="button" class="danger" onClick=${() => act(a, 'deactivate')}>Deactivate<span class="sr-only"> ${a.asset_id}</span></button>`
            : html`<button type="button" onClick=${() => act(a, 'activate')}>Activate<span class="sr-only"> ${a.asset_id}</span></button>`}
          <button type="button" onClick=${() => setPriceFor(priceFor === a.asset_id ? '' : a.asset_id)} aria-expanded=${priceFor === a.asset_id}>Set price<span class="sr-only"> of ${a.asset_id}</span></button>
          ${priceFor === a.asset_id && html`<form class="inline" onSubmit=${(e) => setPrice(e, a)} aria-label=${'Set the price of ' + a.asset_id}>
            <${Field} label=${'New price of ' + a.asset_id + ' (USD)'} name="price_usd" idSuffix=${'-' + a.asset_id} inputmode="decimal" errors=${errs} required />
            <button type="submit" class="primary">Save price</button></form>`}
        </td></tr>`)}</tbody>
    </table></div>`}
  </section>`;
}

function CreateAsset({ onDone }) {
  const [error, setError] = useState(null);
  const [open, setOpen] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    const f = Object.fromEntries(new FormData(e.target));
    setError(null);
    try {
      await api('POST', '/admin/assets', { ...f, is_active: true });
      setOpen(false);
      onDone(`${f.asset_id.toUpperCase()} created.`);
    } catch (err) { setError(err); }
  };
  const errs = error ? error.fields : {};
  if (!open) return html`<button type="button" onClick=${() => setOpen(true)}>New asset</button>`;
  return html`<form class="card" onSubmit=${submit} aria-label="New asset">
    <h3>New asset</h3>
    <${Field} label="Asset id" name="asset_id" errors=${errs} required />
    <${Field} label="Name" name="name" errors=${errs} required />
    <${Field} label="Category" name="category" errors=${errs} />
    <${Field} label="Price (USD)" name="price_usd" inputmode="decimal" errors=${errs} required />
    <${Message} error=${error} />
    <button type="submit" class="primary">Create asset</button> <button type="button" onClick=${() => setOpen(false)}>Close</button>
  </form>`;
}

function Users() {
  const [error, setError] = useState(null);
  const [ok, setOk] = useState('');
  const [busy, setBusy] = useState(false);
  const key = useRef(newKey());
  const status = async (e, what) => {
    const form = e.target.form;
    const username = new FormData(form).get('username');
    setError(null); setOk('');
    try {
      const r = await api('POST', `/admin/users/${encodeURIComponent(username)}/${what}`);
      setOk(`${r.username} is ${r.is_active ? 'active' : 'deactivated'}.`);
    } catch (err) { setError(err); }
  };
  const adjust = async (e) => {
    e.preventDefault();
    const f = Object.fromEntries(new FormData(e.target));
    setBusy(true); setError(null); setOk('');
    try {
      const r = await api('POST', `/admin/users/${encodeURIComponent(f.username)}/adjustments`, { amount: f.amount, currency: f.currency, reason: f.reason }, { key: key.current });
      key.current = newKey();
      setOk(`Adjusted ${r.username} by ${r.amount} ${r.currency} (${r.transaction_id}).`);
    } catch (err) { setError(err); } finally { setBusy(false); }
  };
  const errs = error ? error.fields : {};
  return html`<section aria-labelledby="users-h">
    <h2 id="users-h">Users</h2>
    <${Message} error=${error} ok=${ok} />
    <form class="card" onSubmit=${adjust} aria-label="User account">
      <${Field} label="Username" name="username" idSuffix="-admin" errors=${errs} required />
      <div class="row">
        <button type="button" class="danger" onClick=${(e) => status(e, 'deactivate')}>Deactivate user</button>
        <button type="button" onClick=${(e) => status(e, 'activate')}>Activate user</button>
      </div>
      <h3>Cash adjustment</h3>
      <${Field} label="Amount (negative debits)" name="amount" idSuffix="-adj" inputmode="decimal" errors=${errs} />
      <${Field} label="Currency" name="currency" idSuffix="-adj" errors=${errs}>${CURRENCIES.map((c) => html`<option value=${c}>${c}</option>`)}<//>
      <${Field} label="Reason" name="reason" idSuffix="-adj" errors=${errs} />
      <button type="submit" class="primary" disabled=${busy}>Apply adjustment</button>
    </form>
  </section>`;
}

function Summary() {
  const [s, setS] = useState(null);
  const [error, setError] = useState(null);
  const load = () => { setError(null); api('GET', '/admin/analytics/summary').then(setS, setError); };
  useEffect(load, []);
  const kv = (o) => Object.entries(o || {}).map(([k, v]) => html`<li key=${k}>${label(k)}: ${typeof v === 'object' ? JSON.stringify(v) : v}</li>`);
  return html`<section aria-labelledby="sum-h">
    <h2 id="sum-h">Platform</h2>
    <${Message} error=${error} />
    <button type="button" onClick=${load}>Refresh</button>
    ${s && html`<dl class="figures">
      <div><dt>Users</dt><dd>${s.users}</dd></div><div><dt>Active in 24h</dt><dd>${s.active_users_24h}</dd></div>
      <div><dt>Orders</dt><dd>${s.orders}</dd></div><div><dt>Open orders</dt><dd>${s.open_orders}</dd></div>
    </dl>
    <div class="cols">
      <div><h3>Orders by type</h3><ul>${kv(s.orders_by_type)}</ul></div>
      <div><h3>Orders by status</h3><ul>${kv(s.orders_by_status)}</ul></div>
      <div><h3>Completed notional by asset</h3><ul>${kv(s.completed_notional_by_asset)}</ul></div>
    </div>
    <p class="muted">As of ${fmtTime(s.generated_at)}</p>`}
  </section>`;
}

function Verify() {
  const [r, setR] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const run = async () => {
    setBusy(true); setError(null);
    try { setR(await api('GET', '/admin/verify')); } catch (err) { setError(err); } finally { setBusy(false); }
  };
  return html`<section aria-labelledby="verify-h">
    <h2 id="verify-h">Ledger check</h2>
    <button type="button" class="primary" onClick=${run} disabled=${busy}>${busy ? 'Checking…' : 'Run verify'}</button>
    <${Message} error=${error} />
    ${r && html`<div class="card" role="status">
      <p data-testid="verify-result" class=${r.ok ? 'up' : 'down'}><strong>${r.ok ? 'All invariants hold.' : `${r.violations.length} violation(s).`}</strong></p>
      <p>Checked ${r.users} users, ${r.balances} balances, ${r.transactions} transactions, ${r.holdings} holdings, ${r.movements} movements, ${r.orders} orders.</p>
      ${r.violations.length > 0 && html`<ul>${r.violations.map((v) => html`<li>${v.username}: ${v.subject}: ${v.problem}</li>`)}</ul>`}
    </div>`}
  </section>`;
}

export function Admin() {
  return html`<div><h1>Admin console</h1><${Summary} /><${Verify} /><${Assets} /><${Users} /></div>`;
}
