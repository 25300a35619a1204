// Shared pieces of the pages: the live store fed by the stream, form
// fields with their API errors, messages, and paging.
import { html } from 'htm/preact';
import { useEffect, useRef, useState, useCallback } from 'preact/hooks';

// bus delivers the stream's events to the pages that listen.
const listeners = new Set();
export function emit(type, data) { for (const l of listeners) l(type, data); }
export function useEvents(handler, deps) {
  const cb = useCallback(handler, deps);
  useEffect(() => {
    listeners.add(cb);
    return () => listeners.delete(cb);
  }, [cb]);
}

// Field is a labelled input, select or textarea with the API's error for
// its name shown under it.
export function Field({ label, name, errors, children, hint, ...props }) {
  const id = 'f-' + name + (props.idSuffix || '');
  const err = errors && errors[name];
  const described = [err ? id + '-err' : '', hint ? id + '-hint' : ''].filter(Boolean).join(' ') || undefined;
  delete props.idSuffix;
  const control = children
    ? html`<select id=${id} name=${name} aria-invalid=${err ? 'true' : undefined} aria-describedby=${described} ...${props}>${children}</select>`
    : html`<input id=${id} name=${name} aria-invalid=${err ? 'true' : undefined} aria-describedby=${described} ...${props} />`;
  return html`<div class="field">
    <label for=${id}>${label}</label>
    ${control}
    ${hint && html`<small id=${id + '-hint'} class="hint">${hint}</small>`}
    ${err && html`<small id=${id + '-err'} class="field-error" role="alert">${err}</small>`}
  </div>`;
}

// Message shows an error (role alert) or a success (role status).
export function Message({ error, ok }) {
  if (error) return html`<p class="msg error" role="alert">${error.message || String(error)}</p>`;
  if (ok) return html`<p class="msg ok" role="status">${ok}</p>`;
  return null;
}

// usePaged loads pages of a cursor-paged list: load(cursor) returns
// {items, next}; it keeps the cursors of the pages before for Previous.
// Only the answer of the latest request is shown: an earlier one that
// arrives late (a reload racing a filter change) is dropped.
export function usePaged(load, deps) {
  const [state, setState] = useState({ items: [], next: null, stack: [], cursor: '', loading: true, error: null });
  const latest = useRef(0);
  const fetchPage = async (cursor, stack) => {
    const seq = ++latest.current;
    setState((s) => ({ ...s, loading: true }));
    try {
      const { items, next } = await load(cursor);
      if (seq === latest.current) setState({ items, next, stack, cursor, loading: false, error: null });
    } catch (e) {
      if (seq === latest.current) setState((s) => ({ ...s, loading: false, error: e }));
    }
  };
  useEffect(() => { fetchPage('', []); }, deps);
  return {
    ...state,
    reload: () => fetchPage(state.cursor, state.stack),
    nextPage: () => state.next && fetchPage(state.next, [...state.stack, state.cursor]),
    prevPage: () => state.stack.length && fetchPage(state.stack[state.stack.length - 1], state.stack.slice(0, -1)),
    page: state.stack.length + 1,
  };
}

export function Pager({ p, label }) {
  return html`<nav class="pager" aria-label=${label + ' pages'}>
    <button type="button" onClick=${p.prevPage} disabled=${p.page === 1 || p.loading}>Previous</button>
    <span aria-live="polite">Page ${p.page}</span>
    <button type="button" onClick=${p.nextPage} disabled=${!p.next || p.loading}>Next</button>
  </nav>`;
}

export const fmtTime = (t) => (t ? new Date(t).toLocaleString('en-GB', { timeZone: 'UTC', dateStyle: 'short', timeStyle: 'medium' }) + ' UTC' : '');
export const fmtNum = (n, d = 2) => (n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }));
export const fmtPrice = (n) => (n === null || n === undefined ? '–' : Number(n) >= 1 ? fmtNum(n, 2) : fmtNum(n, 6));
export const fmtCompact = (n) => (n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US', { notation: 'compact', maximumFractionDigits: 2 }));
export const CURRENCIES = ['USD', 'EUR', 'GBP', 'JPY', 'CHF', 'CAD', 'AUD'];
export const label = (s) => (s || '').replace(/_/g, ' ');
