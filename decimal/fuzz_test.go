package decimal

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/apd/v3"
)

var fuzzSeeds = []string{
	"0", "-0", "1", "1.50", "-12.345", "1e3", "1E+3", "1.5e-1", "0.00000001", "1e38", "1e126",
	"9.9999999999999999999999999999999999999E+125", "1e-60", "1e-61", "NaN", "Infinity", "+1", " 1",
	".5", "5.", "0x1", "1_0", "12345678901234567890123456789012345678",
	"123456789012345678901234567890123456789", "1e999999999999999999999", "007",
}

// checkParsed asserts the properties every accepted text must have.
func checkParsed(t *testing.T, s string, d Decimal) {
	t.Helper()
	text := d.String()
	again, err := Parse(text)
	if err != nil {
		t.Fatalf("Parse(%q) ok but Parse(String()=%q) failed: %v", s, text, err)
	}
	if again.String() != text || !again.Equal(d) {
		t.Fatalf("round trip %q -> %q -> %q", s, text, again.String())
	}
	// Exact: the accepted value equals the input read with unlimited precision.
	ref, _, err := apd.NewFromString(s)
	if err != nil {
		t.Fatalf("apd cannot read accepted %q: %v", s, err)
	}
	if ref.Cmp(d.Apd()) != 0 {
		t.Fatalf("Parse(%q) = %s, not exactly the input", s, text)
	}
	if d.Digits() > MaxDigits || d.Scale() > MaxScale || len(text) > 64 {
		t.Fatalf("Parse(%q) = %s outside limits", s, text)
	}
	if _, err := strconv.ParseFloat(text, 64); err != nil && !errors.Is(err, strconv.ErrRange) {
		t.Fatalf("String %q is not a number: %v", text, err)
	}
	// The JSON string and number forms decode to the same value.
	js, err := json.Marshal(d)
	if err != nil {
		t.Fatalf("Marshal(%s): %v", text, err)
	}
	var back Decimal
	if err := json.Unmarshal(js, &back); err != nil || !back.Equal(d) {
		t.Fatalf("JSON round trip of %s: %s, %v", text, back, err)
	}
	num, _ := json.Marshal(Num(d))
	if !json.Valid(num) {
		t.Fatalf("Number JSON %s invalid", num)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse(%q) error %v does not wrap ErrInvalid", s, err)
			}
			return
		}
		if strings.TrimSpace(s) != s || strings.HasPrefix(s, "+") {
			t.Fatalf("Parse accepted %q", s)
		}
		checkParsed(t, s, d)
		_ = d.Add(d).Mul(d).Sub(d).Round(2, HalfUp).StringFixed(4)
		if _, err := d.Quo(d, 8, HalfEven); err != nil && !d.IsZero() {
			t.Fatalf("%s/%s: %v", d, d, err)
		}
	})
}

// FuzzParseSmall: the fast path of Parse gives exactly apd's result, the
// same coefficient, exponent and sign.
func FuzzParseSmall(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Add("-0012.3400")
	f.Add("999999999999999999")
	f.Fuzz(func(t *testing.T, s string) {
		if s == "" || len(s) > MaxTextLen || !validSyntax(s) {
			return
		}
		got, ok := parseSmall(s)
		if !ok {
			return
		}
		var a apd.Decimal
		if _, _, err := a.SetString(s); err != nil {
			t.Fatalf("parseSmall(%q) = %s, apd: %v", s, got, err)
		}
		want, err := fromExact(&a, s)
		if err != nil || got.d.Coeff.Cmp(&want.d.Coeff) != 0 || got.d.Exponent != want.d.Exponent ||
			got.d.Negative != want.d.Negative || got.d.Form != want.d.Form {
			t.Fatalf("parseSmall(%q) = %+v, apd: %+v, %v", s, got.d, want.d, err)
		}
	})
}

func FuzzUnmarshalJSON(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
		f.Add([]byte(strconv.Quote(s)))
	}
	f.Add([]byte("null"))
	f.Add([]byte("true"))
	f.Add([]byte(`"\u0031"`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var d Decimal
		err := d.UnmarshalJSON(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("UnmarshalJSON(%q) error %v does not wrap ErrInvalid", data, err)
			}
			if !d.IsZero() {
				t.Fatalf("failed UnmarshalJSON changed the value")
			}
			return
		}
		if !json.Valid(data) {
			// Our own decoding is only ever given valid JSON by encoding/json, but
			// direct calls must still produce only values a valid text denotes.
			if data[0] == '"' {
				t.Fatalf("accepted invalid JSON string %q", data)
			}
		}
		s := string(data)
		if data[0] == '"' {
			if err := json.Unmarshal(data, &s); err != nil {
				t.Fatalf("accepted %q: %v", data, err)
			}
		}
		checkParsed(t, s, d)
	})
}

// FuzzRoundCoeff checks the machine-arithmetic rounding of small
// coefficients against the big-integer one, for every mode.
func FuzzRoundCoeff(f *testing.F) {
	for _, c := range []uint64{0, 1, 5, 15, 25, 99, 1234567, 1<<63 + 5, ^uint64(0), 5e18, 15e18} {
		for _, shift := range []uint8{1, 2, 18, 19} {
			f.Add(c, false, shift, uint8(HalfEven))
			f.Add(c, true, shift, uint8(HalfUp))
		}
	}
	f.Fuzz(func(t *testing.T, c uint64, neg bool, shift, mode uint8) {
		sh := int64(shift%19) + 1
		m := Rounding(mode % uint8(Ceiling+1))
		var a apd.Decimal
		a.Coeff.SetUint64(c)
		a.Negative = neg
		a.Exponent = -int32(sh) - 3
		got := roundCoeff64(c, neg, sh, -3, m)
		want := roundCoeffBig(&a, -3, m)
		if got.Cmp(want) != 0 || got.Negative != want.Negative || got.Exponent != want.Exponent {
			t.Fatalf("round %s (neg %v) dropping %d digits %v: %s, want %s", a.Coeff.String(), neg, sh, m, got, want)
		}
	})
}

// FuzzQuo checks the 64-bit division of Quo against the big-integer one,
// for every mode, sign and number of places.
func FuzzQuo(f *testing.F) {
	for _, c := range [][2]uint64{{1, 3}, {2, 3}, {5, 10}, {15, 10}, {^uint64(0), 1}, {^uint64(0), 7}, {1, ^uint64(0)}, {12345, 99}} {
		f.Add(c[0], c[1], int8(0), int8(0), int8(2), uint8(HalfEven), false, true)
		f.Add(c[0], c[1], int8(-8), int8(2), int8(10), uint8(Up), true, false)
	}
	f.Fuzz(func(t *testing.T, a, b uint64, ea, eb, places int8, mode uint8, na, nb bool) {
		if b == 0 {
			return
		}
		x, y := New(0, 0), New(0, 0)
		x.d.Coeff.SetUint64(a)
		x.d.Exponent, x.d.Negative = int32(ea%30), na && a != 0
		y.d.Coeff.SetUint64(b)
		y.d.Exponent, y.d.Negative = int32(eb%30), nb
		m := Rounding(mode % uint8(Ceiling+1))
		p := int32(places % 40)
		got, err := x.Quo(y, p, m)
		want := quoBig(x, y, min(max(p, -MaxDigits), MaxScale), m)
		if err != nil || got.String() != want.String() {
			t.Fatalf("%s.Quo(%s, %d, %s) = %s, %v; want %s", x, y, p, m, got, err, want)
		}
	})
}

// FuzzAppendFixed checks the text of machine-size coefficients against
// apd's 'f' format, and with padded places against StringFixed's
// big-integer path.
func FuzzAppendFixed(f *testing.F) {
	for _, c := range []uint64{0, 1, 7, 10, 123, 100000, 1234567890123, ^uint64(0)} {
		for _, exp := range []int8{-20, -8, -2, -1, 0, 1, 3} {
			f.Add(c, c%2 == 1, exp, uint8(2))
		}
	}
	f.Fuzz(func(t *testing.T, c uint64, neg bool, exp int8, extra uint8) {
		e := int32(exp % 40)
		if c == 0 {
			e = 0 // a zero Decimal is reduced: 0×10^0
		}
		var a apd.Decimal
		a.Coeff.SetUint64(c)
		a.Negative = neg && c != 0 // no negative zero, as in every Decimal
		a.Exponent = e
		if got, want := string(appendFixed(nil, c, a.Negative, e, max(-e, 0))), a.Text('f'); got != want {
			t.Fatalf("%d×10^%d (neg %v): %q, want %q", c, e, a.Negative, got, want)
		}
		places := max(-e, 0) + int32(extra%12)
		if got, want := string(appendFixed(nil, c, a.Negative, e, places)), stringFixedBig(&a, places); got != want {
			t.Fatalf("%d×10^%d (neg %v) with %d places: %q, want %q", c, e, a.Negative, places, got, want)
		}
	})
}
