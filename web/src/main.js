// The web app: a single page whose views are chosen by the URL's hash
// (#/markets, #/asset/BTC, #/orders, #/portfolio, #/performance, #/fx,
// #/account, #/admin).
import { html } from 'htm/preact';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, setToken, setUnauthorizedHandler, Stream } from './api.js';
import { emit, Field, Message } from './ui.js';
import { Markets, AssetPage } from './markets.js';
import { Orders, Portfolio, Account } from './pages.js';
import { Admin } from './admin.js';
import { FxRates } from './fx.js';
import { Performance } from './analytics.js';

function useHash() {
  const [hash, setHash] = useState(location.hash || '#/markets');
  useEffect(() => {
    const on = () => setHash(location.hash || '#/markets');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function Login({ onLogin, notice }) {
  const [mode, setMode] = useState('login');
  const [error, setError] = useState(null);
  const [ok, setOk] = useState(notice || '');
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    const f = Object.fromEntries(new FormData(e.target));
    setBusy(true); setError(null); setOk('');
    try {
      if (mode === 'register') {
        await api('POST', '/auth/register', f, { auth: false });
        setMode('login');
        setOk('Account created. Log in with your username and password.');
      } else {
        const r = await api('POST', '/auth/login', { username: f.username, password: f.password }, { auth: false });
        onLogin(r);
      }
    } catch (err) {
      if (mode === 'login' && err.status === 401) err.message = 'Wrong username or password.';
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const errs = error ? error.fields : {};
  return html`<main class="login" id="main">
    <h1>Order Processor</h1>
    <div class="tabs" role="group" aria-label="Log in or sign up">
      <button type="button" aria-pressed=${mode === 'login'} onClick=${() => { setMode('login'); setError(null); }}>Log in</button>
      <button type="button" aria-pressed=${mode === 'register'} onClick=${() => { setMode('register'); setError(null); setOk(''); }}>Sign up</button>
    </div>
    <form onSubmit=${submit} class="card" aria-label=${mode === 'login' ? 'Log in' : 'Sign up'}>
      <${Field} label="Username" name="username" errors=${errs} autocomplete="username" required />
      ${mode === 'register' && html`
        <${Field} label="Email" name="email" type="email" errors=${errs} autocomplete="email" required />
        <${Field} label="First name" name="first_name" errors=${errs} autocomplete="given-name" required />
        <${Field} label="Last name" name="last_name" errors=${errs} autocomplete="family-name" required />`}
      <${Field} label="Password" name="password" type="password" errors=${errs}
        autocomplete=${mode === 'login' ? 'current-password' : 'new-password'} required
        hint=${mode === 'register' ? '12–20 characters with upper and lower case, a digit and one of !@#$%^&*()-_=+' : undefined} />
      <${Message} error=${error} ok=${ok} />
      <button type="submit" class="primary" disabled=${busy}>${mode === 'login' ? 'Log in' : 'Create account'}</button>
    </form>
  </main>`;
}

function Footer() {
  return html`<footer class="foot"><a href="/app/licenses.txt">Third-party licences</a> · <a href="/docs">API reference</a></footer>`;
}

const NAV = [['#/markets', 'Markets'], ['#/orders', 'Orders'], ['#/portfolio', 'Portfolio'], ['#/performance', 'Performance'], ['#/fx', 'Rates'], ['#/account', 'Account']];

function Shell({ user, online, onLogout, hash, children }) {
  const links = user.role === 'admin' ? [...NAV, ['#/admin', 'Admin']] : NAV;
  const current = '#/' + hash.slice(2).split('/')[0];
  return html`<div class="shell" data-stream=${online.connected ? 'connected' : 'connecting'}>
    <a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById('main').focus(); }}>Skip to content</a>
    <header class="top">
      <span class="brand">Order Processor</span>
      <nav aria-label="Main">
        ${links.map(([href, text]) => html`<a href=${href} aria-current=${current === href || (href === '#/markets' && current === '#/asset') ? 'page' : undefined}>${text}</a>`)}
      </nav>
      <span class="who">${user.username}</span>
      <button type="button" onClick=${onLogout}>Log out</button>
    </header>
    ${!online.online && html`<p class="offline" role="status">Live updates are offline${online.status === 429 ? ' (too many open streams)' : ''}: reconnecting in ${online.retryIn || 2} s. Figures may be stale.</p>`}
    <main id="main" tabindex="-1">${children}</main>
    <${Footer} />
  </div>`;
}

function App() {
  const hash = useHash();
  const [session, setSession] = useState(null);
  const [notice, setNotice] = useState('');
  const [online, setOnline] = useState({ online: true });

  useEffect(() => {
    setUnauthorizedHandler(() => {
      setToken(null);
      setSession(null);
      setNotice('Your session has ended. Log in again.');
    });
  }, []);

  useEffect(() => {
    if (!session) return undefined;
    const s = new Stream((type, data) => emit(type, data), setOnline);
    s.start();
    return () => s.stop();
  }, [session]);

  const login = (r) => {
    setToken(r.access_token);
    setNotice('');
    setSession({ user: r.user });
    if (!location.hash || location.hash === '#/') location.hash = '#/markets';
  };
  const logout = async () => {
    try { await api('POST', '/auth/logout', {}); } catch { /* the token is dropped whatever the answer */ }
    setToken(null);
    setSession(null);
    setNotice('You are logged out.');
  };

  useEffect(() => {
    const h1 = document.querySelector('main h1');
    document.title = (h1 ? h1.textContent + ' · ' : '') + 'Order Processor';
  });

  if (!session) return html`<${Login} onLogin=${login} notice=${notice} /><${Footer} />`;
  const [, page, arg] = hash.split('/');
  let view;
  switch (page) {
    case 'asset': view = html`<${AssetPage} id=${decodeURIComponent(arg || '')} key=${arg} />`; break;
    case 'orders': view = html`<${Orders} />`; break;
    case 'portfolio': view = html`<${Portfolio} />`; break;
    case 'performance': view = html`<${Performance} />`; break;
    case 'fx': view = html`<${FxRates} />`; break;
    case 'account': view = html`<${Account} user=${session.user} onUser=${(u) => setSession({ user: { ...session.user, ...u } })} />`; break;
    case 'admin': view = session.user.role === 'admin' ? html`<${Admin} />` : html`<h1>Not allowed</h1>`; break;
    default: view = html`<${Markets} />`;
  }
  return html`<${Shell} user=${session.user} online=${online} onLogout=${logout} hash=${hash}>${view}<//>`;
}

const root = document.getElementById('root');
root.textContent = ''; // the loading notice
render(html`<${App} />`, root);
