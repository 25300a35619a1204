// The API client: the bearer token lives in this module's memory only (never
// in localStorage, sessionStorage or a cookie), every call goes to the same
// origin under /api/v1, and every error becomes an ApiError that says what
// the user can do about it.

let token = null;
let onUnauthorized = () => {};

export function setToken(t) { token = t; }
export function hasToken() { return token !== null; }
export function setUnauthorizedHandler(f) { onUnauthorized = f; }

// ApiError is a failed call: status, code, a readable message, the field
// errors of a 422 (by field name) and the seconds to wait that a
// Retry-After gave (429, 503, a throttled login's 403).
export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    const fields = {};
    let msg = '';
    if (body && Array.isArray(body.detail)) {
      for (const d of body.detail) {
        const loc = Array.isArray(d.loc) ? d.loc[d.loc.length - 1] : '';
        fields[loc] = d.msg;
      }
      msg = body.detail.map((d) => (Array.isArray(d.loc) ? d.loc[d.loc.length - 1] + ': ' : '') + d.msg).join('; ');
    } else if (body) {
      msg = body.detail || body.message || '';
    }
    if (!msg) msg = `request failed (HTTP ${status})`;
    if (body && body.code === 'fx_rate_stale') { // a 503 of a flow that moves money at an exchange rate
      msg = `The exchange rate is out of date, so nothing was done (${msg.replace(/[.;\s]+$/, '')}). Retry once the rate is updated`;
    }
    if (retryAfter) { // a 429, a 503, or a login delayed by throttling (403)
      msg = `${msg.replace(/[.;\s]+$/, '')}. Retry in ${retryAfter} s.`;
    }
    super(msg);
    this.status = status;
    this.code = (body && body.code) || '';
    this.fields = fields;
    this.retryAfter = retryAfter;
  }
}

// newKey returns a fresh Idempotency-Key.
export function newKey() {
  return crypto.randomUUID();
}

// api calls the API: method, path under /api/v1, an optional JSON body and
// options {key: Idempotency-Key, auth: false to send no token}.
export async function api(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token && opts.auth !== false) headers.Authorization = 'Bearer ' + token;
  if (opts.key) headers['Idempotency-Key'] = opts.key;
  let res;
  try {
    res = await fetch('/api/v1' + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit', cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, { detail: 'the server cannot be reached; check the connection and retry' });
  }
  let data = null;
  const text = await res.text();
  if (text) {
    try { data = JSON.parse(text); } catch { data = { detail: text.slice(0, 200) }; }
  }
  if (!res.ok) {
    const err = new ApiError(res.status, data, Number(res.headers.get('Retry-After')) || 0);
    if (res.status === 401 && token && opts.auth !== false) onUnauthorized(err);
    throw err;
  }
  return data;
}

// query builds "?a=1&b=2" from the non-empty values of o.
export function query(o) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? '?' + s : '';
}

// Stream reads /api/v1/stream with fetch (EventSource cannot send the
// Authorization header), dispatches its events to listeners, and reconnects
// after a drop with Last-Event-ID, telling onState whether it is online.
export class Stream {
  constructor(onEvent, onState) {
    this.onEvent = onEvent;
    this.onState = onState;
    this.lastId = '';
    this.retry = 2000;
    this.stopped = false;
    this.ctrl = null;
  }

  start() { this.loop(); }

  stop() {
    this.stopped = true;
    if (this.ctrl) this.ctrl.abort();
  }

  async loop() {
    while (!this.stopped && token) {
      let wait = this.retry;
      try {
        this.ctrl = new AbortController();
        const headers = { Accept: 'text/event-stream', Authorization: 'Bearer ' + token };
        if (this.lastId) headers['Last-Event-ID'] = this.lastId;
        const res = await fetch('/api/v1/stream', { headers, signal: this.ctrl.signal, credentials: 'omit', cache: 'no-store' });
        if (!res.ok) {
          const ra = Number(res.headers.get('Retry-After')) || 0;
          if (ra) wait = ra * 1000;
          this.onState({ online: false, status: res.status, retryIn: Math.ceil(wait / 1000) });
          if (res.status === 401) { onUnauthorized(new ApiError(401, null, 0)); return; }
        } else {
          this.onState({ online: true, connected: true });
          await this.read(res.body);
          if (!this.stopped) this.onState({ online: false, retryIn: Math.ceil(wait / 1000) });
        }
      } catch (e) {
        if (this.stopped) return;
        this.onState({ online: false, retryIn: Math.ceil(wait / 1000) });
      }
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  async read(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value.replace(/\r\n?/g, '\n');
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        this.dispatch(block);
      }
    }
  }

  dispatch(block) {
    let event = 'message';
    const data = [];
    for (const line of block.split('\n')) {
      if (!line || line.startsWith(':')) continue;
      const c = line.indexOf(':');
      const field = c < 0 ? line : line.slice(0, c);
      let value = c < 0 ? '' : line.slice(c + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'id') this.lastId = value;
      else if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'retry' && /^\d+$/.test(value)) this.retry = Number(value);
    }
    if (!data.length) return;
    let parsed;
    try { parsed = JSON.parse(data.join('\n')); } catch { return; }
    this.onEvent(event, parsed);
  }
}
