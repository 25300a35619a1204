// Exact decimal arithmetic for the figures the app computes before the
// server does (a conversion's credit, an order's estimate in another
// currency): BigInt units with a scale, never floats, rounded as the
// server rounds (down, up or half-even).

// dec parses a decimal string ("1.08", "-3", "0.002") into {v, s}: the
// value is v / 10^s.
export function dec(x) {
  const str = String(x).trim();
  const m = /^(-?)(\d*)(?:\.(\d*))?$/.exec(str);
  if (!m || (m[2] === '' && !m[3])) return null;
  const frac = m[3] || '';
  const v = BigInt((m[2] || '0') + frac);
  return { v: m[1] ? -v : v, s: frac.length };
}

const pow = (n) => 10n ** BigInt(n);

export function mul(a, b) { return { v: a.v * b.v, s: a.s + b.s }; }

export function sub(a, b) {
  const s = Math.max(a.s, b.s);
  return { v: a.v * pow(s - a.s) - b.v * pow(s - b.s), s };
}

// quo divides a by b to scale places, rounding 'down' (toward zero), 'up'
// (away from zero) or 'half-even'.
export function quo(a, b, scale, mode) {
  // a.v/10^a.s / (b.v/10^b.s) * 10^scale = a.v * 10^(b.s+scale) / (b.v * 10^a.s)
  let num = a.v * pow(b.s + scale);
  let den = b.v * pow(a.s);
  if (den < 0n) { num = -num; den = -den; }
  const neg = num < 0n;
  const n = neg ? -num : num;
  let q = n / den;
  const r = n % den;
  if (mode === 'half-even' && (2n * r > den || (2n * r === den && q % 2n === 1n))) q += 1n;
  if (mode === 'up' && r > 0n) q += 1n;
  return { v: neg ? -q : q, s: scale };
}

// fmt writes d with exactly its scale's places ("1000.00", "1000" for 0).
export function fmt(d) {
  const neg = d.v < 0n;
  let digits = (neg ? -d.v : d.v).toString().padStart(d.s + 1, '0');
  if (d.s > 0) digits = digits.slice(0, -d.s) + '.' + digits.slice(-d.s);
  return (neg ? '-' : '') + digits;
}

// trim drops the trailing zeros of the fraction ("1.0890000000" → "1.089"),
// as the server writes rates.
export function trim(str) {
  return str.includes('.') ? str.replace(/0+$/, '').replace(/\.$/, '') : str;
}

// PLACES is each currency's decimal places (JPY has none).
export const places = (c) => (c === 'JPY' ? 0 : 2);
