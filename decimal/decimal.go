// Package decimal is the platform's exact decimal number: money, quantities,
// prices and rates. It wraps github.com/cockroachdb/apd/v3 with the limits of
// DynamoDB's number type and an API that cannot alias mutable state.
//
// # Values
//
// A Decimal is an immutable value: copy it, compare it with Cmp or Equal (not
// ==), share it between goroutines. The zero value is 0. Every Decimal is
// finite and canonical: trailing zeros are removed ("1.50" and "1.5" are the
// same value with the same String), there is no negative zero, and
//
//   - it has at most MaxDigits (38) significant digits,
//   - it has at most MaxScale (60) fraction digits,
//   - Parse accepts magnitudes up to 9.99…E+125 (DynamoDB's range).
//
// The scale of the input text is not kept: DynamoDB trims trailing zeros
// too, so keeping it would make the two store engines disagree. Output a fixed
// number of places with StringFixed ("1000.00").
//
// # Text
//
// String returns plain decimal text ("-12.5", "0.00000001", "1000") for values
// below 1E+38, and scientific text ("1.2E+40") above; either is a valid JSON
// number, is accepted by Parse, and by store.N. Parse(d.String()) == d for every
// Decimal that Parse can return.
//
// # Arithmetic
//
// Add, Sub and Mul are exact whenever the exact result fits in 38 significant
// digits and 60 fraction digits; otherwise the result is rounded half-even
// once, to the nearest representable value (this never happens for validated
// domain values: amounts <= 1e6 with 2 places, quantities with 8). Quo and
// Round take an explicit number of places and a rounding mode. Arithmetic can
// produce magnitudes beyond Parse's range (only from operands far beyond any
// domain limit); MarshalJSON reports such a value as an error, so it never
// leaves the process silently.
//
// # JSON
//
// MarshalJSON writes a JSON string ("1000.5"). UnmarshalJSON accepts a JSON
// string or a JSON number and parses its exact text (never through float64);
// null is an error (use *Decimal for optional fields: encoding/json sets a nil
// pointer for null without calling UnmarshalJSON). Number is the variant that
// marshals as a JSON number.
package decimal

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"strconv"

	"github.com/cockroachdb/apd/v3"

	"github.com/orderprocessor/orderprocessor/apperr"
)

// Limits of a Decimal.
const (
	// MaxDigits is the largest number of significant digits (DynamoDB's precision).
	MaxDigits = 38
	// MaxScale is the largest number of fraction digits of a Decimal.
	MaxScale = 60
	// MaxExponent is the largest adjusted exponent Parse accepts: values are
	// below 1E+126, DynamoDB's limit.
	MaxExponent = 125
	// MaxTextLen is the longest text Parse and UnmarshalJSON accept (the
	// longest String of a parsed value is 64 bytes).
	MaxTextLen = 100
)

// ErrInvalid is wrapped by every error of Parse, UnmarshalJSON, FromApd and Quo
// (errors.Is(err, decimal.ErrInvalid)). The returned errors are *apperr.Error of
// kind apperr.Invalid whose message is safe to show to a client.
var ErrInvalid = errors.New("invalid decimal")

func invalid(format string, args ...any) error {
	return apperr.Wrap(apperr.Invalid, ErrInvalid, format, args...)
}

// Decimal is an exact, immutable decimal number. The zero value is 0.
type Decimal struct {
	// d is canonical (finite, reduced, no negative zero) and never mutated
	// after construction: its coefficient may point to a big.Int shared by
	// copies, so it is only ever read.
	d apd.Decimal
}

// Zero is the decimal 0 (the same as Decimal{}).
var Zero = Decimal{}

// exact is the context of exact arithmetic: precision 0 disables rounding for
// Add, Sub and Mul; the exponent limits are apd's own (far beyond ours).
var exact = apd.BaseContext

// Parse returns the decimal written in s.
//
// Accepted syntax (the JSON number grammar, plus leading zeros):
//
//	[-] digits [. digits] [(e|E) [+|-] digits]
//
// Rejected, with an error wrapping ErrInvalid: the empty string, whitespace
// anywhere, a leading '+', a lone or trailing '.', NaN and Infinity in any
// spelling, hexadecimal, digit separators, text longer than MaxTextLen, more
// than MaxDigits significant digits (leading zeros and trailing fraction
// zeros do not count: "0.10" has one), more than MaxScale fraction digits after
// removing trailing zeros, and magnitudes of 1E+126 or more. Parse never
// rounds: anything it cannot hold exactly is an error.
func Parse(s string) (Decimal, error) {
	if s == "" {
		return Decimal{}, invalid("invalid decimal: empty")
	}
	if len(s) > MaxTextLen {
		return Decimal{}, invalid("invalid decimal: longer than %d characters", MaxTextLen)
	}
	if !validSyntax(s) {
		return Decimal{}, invalid("invalid decimal: %q is not a decimal number", s)
	}
	if d, ok := parseSmall(s); ok {
		return d, nil
	}
	var a apd.Decimal
	if _, _, err := a.SetString(s); err != nil || a.Form != apd.Finite {
		// validSyntax admits only finite numbers; apd fails on exponents
		// beyond its own range, which are far beyond ours.
		return Decimal{}, invalid("invalid decimal: %q is out of range", s)
	}
	return fromExact(&a, s)
}

// parseSmall is Parse for a text of validSyntax with at most 18 digits and
// no exponent (amounts, prices and quantities as stored): the coefficient
// in an int64, trailing zeros removed as apd's Reduce does, without apd's
// text conversion. Anything else is declined (ok false).
func parseSmall(s string) (Decimal, bool) {
	var (
		c      int64
		digits int
		exp    int32
		frac   bool
	)
	neg := s[0] == '-'
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch == '-' && i == 0:
		case ch == '.':
			frac = true
		case isDigit(ch):
			if digits++; digits > 18 {
				return Decimal{}, false
			}
			c = c*10 + int64(ch-'0')
			if frac {
				exp--
			}
		default: // an exponent
			return Decimal{}, false
		}
	}
	if c == 0 {
		return Decimal{}, true
	}
	for c%10 == 0 {
		c /= 10
		exp++
	}
	if -exp > MaxScale { // unreachable with 18 digits, kept for Parse's rule
		return Decimal{}, false
	}
	if neg {
		c = -c
	}
	var d Decimal
	d.d.SetFinite(c, exp)
	return d, true
}

// fromExact checks the limits of an exact value and returns it canonical.
func fromExact(a *apd.Decimal, text string) (Decimal, error) {
	var r apd.Decimal
	r.Reduce(a)
	if r.IsZero() {
		return Decimal{}, nil
	}
	if r.NumDigits() > MaxDigits {
		return Decimal{}, invalid("invalid decimal: %q has more than %d significant digits", text, MaxDigits)
	}
	if -int64(r.Exponent) > MaxScale {
		return Decimal{}, invalid("invalid decimal: %q has more than %d decimal places", text, MaxScale)
	}
	if adjusted(&r) > MaxExponent {
		return Decimal{}, invalid("invalid decimal: %q is too large", text)
	}
	return Decimal{d: r}, nil
}

// validSyntax reports whether s matches [-]digits[.digits][(e|E)[+|-]digits].
func validSyntax(s string) bool {
	i, n := 0, len(s)
	if i < n && s[i] == '-' {
		i++
	}
	start := i
	for i < n && isDigit(s[i]) {
		i++
	}
	if i == start {
		return false
	}
	if i < n && s[i] == '.' {
		i++
		start = i
		for i < n && isDigit(s[i]) {
			i++
		}
		if i == start {
			return false
		}
	}
	if i < n && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < n && (s[i] == '+' || s[i] == '-') {
			i++
		}
		start = i
		for i < n && isDigit(s[i]) {
			i++
		}
		if i == start {
			return false
		}
	}
	return i == n
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// adjusted returns the exponent of d's most significant digit (d non-zero).
func adjusted(d *apd.Decimal) int64 {
	return int64(d.Exponent) + d.NumDigits() - 1
}

// MustParse is Parse for constants and tests; it panics on invalid text.
func MustParse(s string) Decimal {
	d, err := Parse(s)
	if err != nil {
		panic(fmt.Sprintf("decimal.MustParse(%q): %v", s, err))
	}
	return d
}

// FromInt returns n as a Decimal.
func FromInt(n int64) Decimal {
	var a apd.Decimal
	a.SetInt64(n)
	return finish(&a)
}

// New returns coeff × 10^exp, e.g. New(12345, -2) is 123.45. The result is
// rounded half-even if it needs more than MaxScale fraction digits.
func New(coeff int64, exp int32) Decimal {
	var a apd.Decimal
	a.SetFinite(coeff, exp)
	return finish(&a)
}

// FromApd returns a copy of a as a Decimal, with the same limits as Parse
// (a must be finite; it is not modified or retained).
func FromApd(a *apd.Decimal) (Decimal, error) {
	if a == nil || a.Form != apd.Finite {
		return Decimal{}, invalid("invalid decimal: not a finite number")
	}
	return fromExact(a, a.Text('G'))
}

// Apd returns a new apd.Decimal holding d; the caller may modify it freely.
func (d Decimal) Apd() *apd.Decimal {
	var a apd.Decimal
	a.Set(&d.d)
	return &a
}

// finish returns the canonical Decimal nearest to the exact value a: rounded
// half-even, once, to MaxDigits significant digits and MaxScale places.
func finish(a *apd.Decimal) Decimal {
	if a.Form != apd.Finite {
		panic("decimal: non-finite result") // unreachable: operands are finite
	}
	if a.IsZero() {
		return Decimal{}
	}
	target := max(int64(-MaxScale), adjusted(a)-(MaxDigits-1))
	var r apd.Decimal
	if int64(a.Exponent) < target {
		rounded := roundCoeff(a, int32(target), HalfEven)
		r.Reduce(rounded)
	} else {
		r.Reduce(a)
	}
	if r.IsZero() {
		return Decimal{}
	}
	return Decimal{d: r}
}

// String returns the canonical text of d: plain notation below 1E+38
// ("-1234.5", "0.000001", "100"), scientific at or above ("1.5E+40").
func (d Decimal) String() string {
	var buf [48]byte // the text of most values: one allocation, the string
	return string(d.appendText(buf[:0]))
}

// Append appends the canonical text of d (the text of String) to dst and
// returns the extended slice. Unlike MarshalJSON it writes no quotes and
// never fails: a value beyond Parse's range is written in scientific form.
func (d Decimal) Append(dst []byte) []byte {
	return d.appendText(dst)
}

func (d Decimal) appendText(buf []byte) []byte {
	if d.d.Exponent > 0 && adjusted(&d.d) >= MaxDigits {
		return d.d.Append(buf, 'E')
	}
	if d.d.Coeff.IsUint64() {
		return appendFixed(buf, d.d.Coeff.Uint64(), d.d.Negative, d.d.Exponent, max(-d.d.Exponent, 0))
	}
	return d.d.Append(buf, 'f')
}

// appendFixed appends c×10^exp, negative when neg, in positional notation
// with exactly places fraction digits, places >= -exp (no digit is dropped;
// the fraction is padded with zeros). It is apd's 'f' format for the
// coefficients of machine size, without its big-integer text conversion
// (one allocation per number instead of about six).
func appendFixed(buf []byte, c uint64, neg bool, exp, places int32) []byte {
	var tmp [20]byte
	digits := strconv.AppendUint(tmp[:0], c, 10)
	if neg {
		buf = append(buf, '-')
	}
	written := int32(0) // fraction digits written
	switch n := int(-exp); {
	case exp >= 0:
		buf = append(buf, digits...)
		for range exp {
			buf = append(buf, '0')
		}
	case len(digits) > n:
		buf = append(buf, digits[:len(digits)-n]...)
		buf = append(buf, '.')
		buf = append(buf, digits[len(digits)-n:]...)
		written = -exp
	default:
		buf = append(buf, '0', '.')
		for range n - len(digits) {
			buf = append(buf, '0')
		}
		buf = append(buf, digits...)
		written = -exp
	}
	if places > written && written == 0 {
		buf = append(buf, '.')
	}
	for range places - written {
		buf = append(buf, '0')
	}
	return buf
}

// StringFixed returns d with exactly places fraction digits (0 <= places <=
// MaxScale; out-of-range places are clamped), rounding half-even when d has
// more: FromInt(1000).StringFixed(2) == "1000.00". Round d first to choose
// another rounding mode. Values of 1E+38 or more use String's scientific form.
func (d Decimal) StringFixed(places int32) string {
	places = min(max(places, 0), MaxScale)
	r := d.Round(places, HalfEven)
	if r.d.Exponent > 0 && adjusted(&r.d) >= MaxDigits {
		return r.String()
	}
	if r.d.Coeff.IsUint64() { // r.d.Exponent >= -places after Round
		var buf [48]byte
		return string(appendFixed(buf[:0], r.d.Coeff.Uint64(), r.d.Negative, r.d.Exponent, places))
	}
	return stringFixedBig(&r.d, places)
}

// stringFixedBig is StringFixed's general path, for any coefficient.
func stringFixedBig(d *apd.Decimal, places int32) string {
	var a apd.Decimal
	a.Set(d)
	if a.Exponent > -places {
		// Scale the coefficient up so that exactly places digits follow the point.
		c := a.Coeff.MathBigInt()
		c.Mul(c, pow10(int64(a.Exponent)+int64(places)))
		a.Coeff.SetMathBigInt(c)
		a.Exponent = -places
	}
	return a.Text('f')
}

// Float64 returns the nearest float64 to d. For metrics and display only:
// never compute money with it.
func (d Decimal) Float64() float64 {
	f, _ := strconv.ParseFloat(d.String(), 64)
	return f
}

// Int64 returns d as an int64 and true if d is an integer in int64's range.
func (d Decimal) Int64() (int64, bool) {
	if d.Scale() > 0 {
		return 0, false
	}
	n, err := d.d.Int64()
	return n, err == nil
}

// Scale returns the number of fraction digits of d's canonical text: 0 for
// integers, 2 for 1.25, 1 for Parse("1.50"). Use it to check a limit on
// decimal places ("at most 2").
func (d Decimal) Scale() int32 {
	if d.d.Exponent >= 0 {
		return 0
	}
	return -d.d.Exponent
}

// Digits returns the number of significant digits of d (0 for zero).
func (d Decimal) Digits() int {
	if d.IsZero() {
		return 0
	}
	return int(d.d.NumDigits())
}

// Sign returns -1, 0 or +1.
func (d Decimal) Sign() int { return d.d.Sign() }

// IsZero reports whether d == 0.
func (d Decimal) IsZero() bool { return d.d.IsZero() }

// IsNegative reports whether d < 0.
func (d Decimal) IsNegative() bool { return d.Sign() < 0 }

// IsPositive reports whether d > 0.
func (d Decimal) IsPositive() bool { return d.Sign() > 0 }

// Cmp returns -1, 0 or +1 as d is less than, equal to or greater than o.
func (d Decimal) Cmp(o Decimal) int { return d.d.Cmp(&o.d) }

// Equal reports whether d and o are the same number.
func (d Decimal) Equal(o Decimal) bool { return d.Cmp(o) == 0 }

// LessThan reports whether d < o.
func (d Decimal) LessThan(o Decimal) bool { return d.Cmp(o) < 0 }

// GreaterThan reports whether d > o.
func (d Decimal) GreaterThan(o Decimal) bool { return d.Cmp(o) > 0 }

// Min returns the smaller of a and b.
func Min(a, b Decimal) Decimal {
	if b.LessThan(a) {
		return b
	}
	return a
}

// Max returns the larger of a and b.
func Max(a, b Decimal) Decimal {
	if b.GreaterThan(a) {
		return b
	}
	return a
}

// Neg returns -d.
func (d Decimal) Neg() Decimal {
	if d.IsZero() {
		return d
	}
	var r apd.Decimal
	r.Neg(&d.d)
	return Decimal{d: r}
}

// Abs returns |d|.
func (d Decimal) Abs() Decimal {
	var r apd.Decimal
	r.Abs(&d.d)
	return Decimal{d: r}
}

// Add returns d + o (see the package comment on rounding).
func (d Decimal) Add(o Decimal) Decimal {
	var r apd.Decimal
	mustOK(exact.Add(&r, &d.d, &o.d))
	return finish(&r)
}

// Sub returns d - o (see the package comment on rounding).
func (d Decimal) Sub(o Decimal) Decimal {
	var r apd.Decimal
	mustOK(exact.Sub(&r, &d.d, &o.d))
	return finish(&r)
}

// Mul returns d × o (see the package comment on rounding).
func (d Decimal) Mul(o Decimal) Decimal {
	var r apd.Decimal
	mustOK(exact.Mul(&r, &d.d, &o.d))
	return finish(&r)
}

// mustOK panics on an apd error. With precision 0 and apd's exponent limits
// (±100000) Add, Sub and Mul fail only for operands whose exponents are
// thousands of times beyond anything Parse accepts.
func mustOK(_ apd.Condition, err error) {
	if err != nil {
		panic(fmt.Sprintf("decimal: arithmetic out of range: %v", err))
	}
}

// Quo returns d / o rounded with mode to places fraction digits (places is
// clamped to [-MaxDigits, MaxScale]; a negative places rounds to tens,
// hundreds...). When the quotient at that many places would have more than
// MaxDigits significant digits it is rounded with mode to MaxDigits
// significant digits instead. The rounding happens once, on the exact
// quotient. Division by zero returns an error wrapping ErrInvalid.
func (d Decimal) Quo(o Decimal, places int32, mode Rounding) (Decimal, error) {
	if o.IsZero() {
		return Decimal{}, invalid("division by zero")
	}
	if !mode.valid() {
		return Decimal{}, invalid("unknown rounding mode %d", mode)
	}
	if d.IsZero() {
		return Decimal{}, nil
	}
	places = min(max(places, -MaxDigits), MaxScale)
	if q, ok := quo64(&d.d, &o.d, int64(-places), mode); ok {
		return q, nil
	}
	return quoBig(d, o, places, mode), nil
}

// quo64 is Quo at exponent t for the common case where it fits 64-bit
// arithmetic: both coefficients are uint64s, the scaled numerator fits
// 128 bits with its quotient in 64, and the scaled divisor fits 64 bits.
// A 64-bit quotient has at most 20 digits, so t needs no adjustment. It
// reports false when the operands do not fit; quoBig then gives the same
// result.
func quo64(d, o *apd.Decimal, t int64, mode Rounding) (Decimal, bool) {
	if !d.Coeff.IsUint64() || !o.Coeff.IsUint64() {
		return Decimal{}, false
	}
	num, den := d.Coeff.Uint64(), o.Coeff.Uint64()
	hi, lo := uint64(0), num
	switch k := int64(d.Exponent) - int64(o.Exponent) - t; {
	case k >= int64(len(pow10u)) || -k >= int64(len(pow10u)):
		return Decimal{}, false
	case k >= 0:
		hi, lo = bits.Mul64(num, pow10u[k])
	default:
		var over uint64
		over, den = bits.Mul64(den, pow10u[-k])
		if over != 0 {
			return Decimal{}, false
		}
	}
	if hi >= den {
		return Decimal{}, false // the quotient needs more than 64 bits
	}
	q, r := bits.Div64(hi, lo, den)
	neg := d.Negative != o.Negative
	if r != 0 {
		half := 0 // r compared with den - r: 2r against den, without overflow
		if r > den-r {
			half = 1
		} else if r < den-r {
			half = -1
		}
		if awayFromZero(mode, neg, half, q&1 == 1) {
			if q == math.MaxUint64 {
				return Decimal{}, false
			}
			q++
		}
	}
	var a apd.Decimal
	a.Coeff.SetUint64(q)
	a.Negative = neg && q != 0
	a.Exponent = int32(t)
	return finish(&a), true
}

// quoBig is Quo (after its checks) in math/big arithmetic.
func quoBig(d, o Decimal, places int32, mode Rounding) Decimal {
	num := d.d.Coeff.MathBigInt()
	if d.d.Negative {
		num.Neg(num)
	}
	den := o.d.Coeff.MathBigInt()
	if o.d.Negative { // keep den positive
		num.Neg(num)
	}
	// d/o = (num/den) × 10^(ed-eo); at exponent t the coefficient is
	// num × 10^(ed-eo-t) / den.
	shift := int64(d.d.Exponent) - int64(o.d.Exponent)
	quoAt := func(t int64, mode Rounding) *big.Int {
		n, q := new(big.Int).Set(num), new(big.Int).Set(den)
		if k := shift - t; k >= 0 {
			n.Mul(n, pow10(k))
		} else {
			q.Mul(q, pow10(-k))
		}
		return roundDiv(n, q, mode)
	}
	t := int64(-places)
	q := quoAt(t, Down)
	if nd := numDigits(q); nd > MaxDigits {
		t += int64(nd - MaxDigits)
	}
	q = quoAt(t, mode)
	var a apd.Decimal
	a.Negative = q.Sign() < 0 // den > 0: the quotient carries the sign
	a.Coeff.SetMathBigInt(q.Abs(q))
	a.Exponent = int32(t)
	return finish(&a)
}

func numDigits(x *big.Int) int {
	if x.Sign() == 0 {
		return 1
	}
	return len(new(big.Int).Abs(x).String())
}

var bigTen = big.NewInt(10)

func pow10(n int64) *big.Int {
	return new(big.Int).Exp(bigTen, big.NewInt(n), nil)
}

// Rounding selects how Round, Quo and RoundTo drop digits.
type Rounding uint8

// Rounding modes.
const (
	// HalfEven rounds to nearest, ties to the even neighbour (banker's rounding).
	HalfEven Rounding = iota
	// HalfUp rounds to nearest, ties away from zero (2.5 -> 3, -2.5 -> -3).
	HalfUp
	// Down truncates toward zero (2.9 -> 2, -2.9 -> -2).
	Down
	// Up rounds away from zero (2.1 -> 3, -2.1 -> -3).
	Up
	// Floor rounds toward negative infinity (2.9 -> 2, -2.1 -> -3).
	Floor
	// Ceiling rounds toward positive infinity (2.1 -> 3, -2.9 -> -2).
	Ceiling
)

func (m Rounding) valid() bool { return m <= Ceiling }

// String returns the mode's name ("half_even", "half_up", "down", "up",
// "floor", "ceiling").
func (m Rounding) String() string {
	switch m {
	case HalfEven:
		return "half_even"
	case HalfUp:
		return "half_up"
	case Down:
		return "down"
	case Up:
		return "up"
	case Floor:
		return "floor"
	case Ceiling:
		return "ceiling"
	}
	return "Rounding(" + strconv.Itoa(int(m)) + ")"
}

// roundDiv returns n/q rounded with mode (q != 0).
func roundDiv(n, q *big.Int, mode Rounding) *big.Int {
	z, r := new(big.Int).QuoRem(n, q, new(big.Int)) // truncated toward zero
	if r.Sign() == 0 {
		return z
	}
	neg := (n.Sign() < 0) != (q.Sign() < 0)
	r2 := new(big.Int).Abs(r)
	away := awayFromZero(mode, neg, r2.Lsh(r2, 1).Cmp(new(big.Int).Abs(q)), z.Bit(0) == 1)
	if away {
		if neg {
			z.Sub(z, big.NewInt(1))
		} else {
			z.Add(z, big.NewInt(1))
		}
	}
	return z
}

// awayFromZero reports whether mode rounds a quotient truncated toward zero
// away from zero, when the division left a remainder: neg is the sign of the
// exact quotient, half compares the remainder's magnitude with half the
// divisor's (-1, 0, 1), odd is whether the truncated quotient is odd.
func awayFromZero(mode Rounding, neg bool, half int, odd bool) bool {
	switch mode {
	case Up:
		return true
	case Floor:
		return neg
	case Ceiling:
		return !neg
	case HalfUp, HalfEven:
		return half > 0 || half == 0 && (mode == HalfUp || odd)
	}
	return false // Down
}

// roundCoeff returns a new apd.Decimal: a rounded with mode to exponent
// target (> a.Exponent).
func roundCoeff(a *apd.Decimal, target int32, mode Rounding) *apd.Decimal {
	if shift := int64(target) - int64(a.Exponent); shift < int64(len(pow10u)) && a.Coeff.IsUint64() {
		return roundCoeff64(a.Coeff.Uint64(), a.Negative, shift, target, mode)
	}
	return roundCoeffBig(a, target, mode)
}

// pow10u holds the powers of ten that fit a uint64.
var pow10u = [...]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

// roundCoeff64 is roundCoeff for a coefficient c (negated when neg) that
// fits a uint64, dropping shift (1..19) digits: the common case, in machine
// arithmetic.
func roundCoeff64(c uint64, neg bool, shift int64, target int32, mode Rounding) *apd.Decimal {
	q := pow10u[shift]
	z, rem := c/q, c%q // magnitudes of the quotient truncated toward zero and of the remainder
	// rem is compared with half of q as rem against q-rem (2*rem could overflow).
	away := rem != 0 && awayFromZero(mode, neg, cmp.Compare(rem, q-rem), z&1 == 1)
	if away {
		z++ // z <= c/10, so this cannot overflow
	}
	r := new(apd.Decimal)
	r.Negative = neg && z != 0
	r.Coeff.SetUint64(z)
	r.Exponent = target
	return r
}

// roundCoeffBig is roundCoeff in big integers, for any coefficient.
func roundCoeffBig(a *apd.Decimal, target int32, mode Rounding) *apd.Decimal {
	n := a.Coeff.MathBigInt()
	if a.Negative {
		n.Neg(n)
	}
	z := roundDiv(n, pow10(int64(target)-int64(a.Exponent)), mode)
	r := new(apd.Decimal)
	r.Negative = z.Sign() < 0
	r.Coeff.SetMathBigInt(z.Abs(z))
	r.Exponent = target
	return r
}

// Round returns d rounded with mode to places fraction digits (places is
// clamped to [-MaxDigits, MaxScale]; negative places round to tens,
// hundreds...). d is returned unchanged when it has no more digits than that.
// An unknown mode rounds half-even.
func (d Decimal) Round(places int32, mode Rounding) Decimal {
	places = min(max(places, -MaxDigits), MaxScale)
	if d.IsZero() || d.d.Exponent >= -places {
		return d
	}
	if !mode.valid() {
		mode = HalfEven
	}
	return finish(roundCoeff(&d.d, -places, mode))
}

// Truncate returns d with fraction digits beyond places dropped (Round with Down).
func (d Decimal) Truncate(places int32) Decimal { return d.Round(places, Down) }

// inRange reports whether d is within the limits of Parse (false only for
// results of arithmetic on huge operands).
func (d Decimal) inRange() bool {
	return d.IsZero() || adjusted(&d.d) <= MaxExponent
}
