package decimal

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/apd/v3"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/store"
)

func TestParseValid(t *testing.T) {
	tests := []struct {
		in, want string
		scale    int32
	}{
		{"0", "0", 0},
		{"-0", "0", 0},
		{"0.000", "0", 0},
		{"-0.00e5", "0", 0},
		{"1", "1", 0},
		{"1.50", "1.5", 1},
		{"1000.00", "1000", 0},
		{"-12.345", "-12.345", 3},
		{"007.10", "7.1", 1},
		{"1e3", "1000", 0},
		{"1E+3", "1000", 0},
		{"1.5e-1", "0.15", 2},
		{"25e-3", "0.025", 3},
		{"0.00000001", "0.00000001", 8},
		{"12345678901234567890123456789012345678", "12345678901234567890123456789012345678", 0},
		{"1.2345678901234567890123456789012345678", "1.2345678901234567890123456789012345678", 37},
		{"0.10000000000000000000000000000000000000000000", "0.1", 1}, // trailing zeros are not significant
		{"1" + strings.Repeat("0", 40), "1E+40", 0},
		{"1e38", "1E+38", 0},
		{"99999999999999999999999999999999999999", "99999999999999999999999999999999999999", 0},
		{"1.5e40", "1.5E+40", 0},
		{"9.9999999999999999999999999999999999999E+125", "9.9999999999999999999999999999999999999E+125", 0},
		{"1e-60", "0." + strings.Repeat("0", 59) + "1", 60},
		{"-1e-60", "-0." + strings.Repeat("0", 59) + "1", 60},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			d, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got := d.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			if got := d.Scale(); got != tt.scale {
				t.Errorf("Scale() = %d, want %d", got, tt.scale)
			}
			again, err := Parse(d.String())
			if err != nil || !again.Equal(d) || again.String() != d.String() {
				t.Errorf("round trip of %q: %v %v", d.String(), again, err)
			}
			if _, err := store.N(d.String()); err != nil {
				t.Errorf("store.N(%q): %v", d.String(), err)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []string{
		"", " ", " 1", "1 ", "1\n", "+1", "--1", "-", ".", ".5", "5.", "1.2.3", "1e", "1e+", "e5",
		"NaN", "nan", "-NaN", "sNaN", "Inf", "Infinity", "-Infinity", "inf", "0x10", "1_000", "1,5",
		"١", "1e400", "1e126", "-1e126", "1e-61", "1e-400", "1.5e-60",
		"123456789012345678901234567890123456789",  // 39 digits
		"1.23456789012345678901234567890123456789", // 39 significant digits
		"1e999999999999999999999",                  // apd cannot even read the exponent
		strings.Repeat("1", 101),                   // too long
		"0." + strings.Repeat("0", 98) + "1",       // 101 chars
	}
	for _, in := range tests {
		t.Run(in, func(t *testing.T) {
			d, err := Parse(in)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want error", in, d)
			}
			if !errors.Is(err, ErrInvalid) || !apperr.Is(err, apperr.Invalid) {
				t.Errorf("error %v is not ErrInvalid of kind invalid", err)
			}
		})
	}
}

func TestMustParse(t *testing.T) {
	if got := MustParse("2.50").String(); got != "2.5" {
		t.Errorf("MustParse = %q", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("MustParse(x) did not panic")
		}
	}()
	MustParse("x")
}

func TestConstructors(t *testing.T) {
	tests := []struct {
		got  Decimal
		want string
	}{
		{Zero, "0"},
		{Decimal{}, "0"},
		{FromInt(0), "0"},
		{FromInt(-42), "-42"},
		{FromInt(1000), "1000"},
		{FromInt(-9223372036854775808), "-9223372036854775808"},
		{New(12345, -2), "123.45"},
		{New(100, -2), "1"},
		{New(5, 3), "5000"},
		{New(15, -61), "0." + strings.Repeat("0", 59) + "2"}, // 1.5e-60 -> half-even to 2e-60
		{New(-5, -61), "0"},
	}
	for _, tt := range tests {
		if s := tt.got.String(); s != tt.want {
			t.Errorf("got %q, want %q", s, tt.want)
		}
	}
}

func TestApd(t *testing.T) {
	d := MustParse("123456789012345678901234567890.5")
	a := d.Apd()
	a.Neg(a) // modifying the copy must not change d
	a.Coeff.SetInt64(7)
	if d.String() != "123456789012345678901234567890.5" {
		t.Fatalf("Apd aliased d: %s", d)
	}
	b, err := FromApd(d.Apd())
	if err != nil || !b.Equal(d) {
		t.Fatalf("FromApd = %v, %v", b, err)
	}
	x, _, _ := apd.NewFromString("2.500")
	y, err := FromApd(x)
	if err != nil || y.String() != "2.5" || x.Text('f') != "2.500" {
		t.Fatalf("FromApd(2.500) = %v, %v; input now %s", y, err, x.Text('f'))
	}
	for _, s := range []string{"NaN", "Infinity", "1e200"} {
		x, _, _ := apd.NewFromString(s)
		if _, err := FromApd(x); !errors.Is(err, ErrInvalid) {
			t.Errorf("FromApd(%s) err = %v", s, err)
		}
	}
	if _, err := FromApd(nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("FromApd(nil) err = %v", err)
	}
}

func TestArithmetic(t *testing.T) {
	tests := []struct {
		name string
		got  Decimal
		want string
	}{
		{"add", MustParse("0.1").Add(MustParse("0.2")), "0.3"},
		{"add neg", MustParse("1.05").Add(MustParse("-1.05")), "0"},
		{"add mixed scale", MustParse("1000").Add(MustParse("0.00000001")), "1000.00000001"},
		{"sub", MustParse("100").Sub(MustParse("0.01")), "99.99"},
		{"sub neg", MustParse("-1").Sub(MustParse("2.5")), "-3.5"},
		{"mul", MustParse("0.1").Mul(MustParse("65000.50")), "6500.05"},
		{"mul qty price", MustParse("0.12345678").Mul(MustParse("43210.99")), "5334.6896860122"},
		{"mul neg", MustParse("-2").Mul(MustParse("3.5")), "-7"},
		{"mul zero", MustParse("-2").Mul(Zero), "0"},
		// 39 significant digits: rounded half-even to 38 (…5 is a tie -> even)
		{"add rounds", MustParse("99999999999999999999999999999999999999").Add(MustParse("0.5")),
			"1E+38"},
		{"add tie even", MustParse("10000000000000000000000000000000000002").Add(MustParse("0.5")),
			"10000000000000000000000000000000000002"},
		{"add tie even up", MustParse("10000000000000000000000000000000000003").Add(MustParse("0.5")),
			"10000000000000000000000000000000000004"},
		{"mul scale cap", MustParse("1e-40").Mul(MustParse("1e-30")), "0"},
		{"mul scale cap round", MustParse("0.5e-30").Mul(MustParse("3e-30")),
			"0." + strings.Repeat("0", 59) + "2"},
		{"mul big", MustParse("1e100").Mul(MustParse("1e100")), "1E+200"},
		{"neg", MustParse("1.5").Neg(), "-1.5"},
		{"neg neg", MustParse("-1.5").Neg(), "1.5"},
		{"neg zero", Zero.Neg(), "0"},
		{"abs", MustParse("-1.5").Abs(), "1.5"},
		{"abs pos", MustParse("1.5").Abs(), "1.5"},
		{"min", Min(MustParse("2"), MustParse("-3")), "-3"},
		{"min first", Min(MustParse("-3"), MustParse("2")), "-3"},
		{"max", Max(MustParse("2"), MustParse("-3")), "2"},
		{"max second", Max(MustParse("-3"), MustParse("2")), "2"},
	}
	for _, tt := range tests {
		if got := tt.got.String(); got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestCompare(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1", "1.000", 0},
		{"-0", "0", 0},
		{"1.01", "1.1", -1},
		{"-1", "-2", 1},
		{"1E+40", "99999999999999999999999999999999999999", 1},
	}
	for _, tt := range tests {
		a, b := MustParse(tt.a), MustParse(tt.b)
		if got := a.Cmp(b); got != tt.want {
			t.Errorf("Cmp(%s,%s) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if a.Equal(b) != (tt.want == 0) || a.LessThan(b) != (tt.want < 0) || a.GreaterThan(b) != (tt.want > 0) {
			t.Errorf("Equal/LessThan/GreaterThan disagree with Cmp for %s,%s", tt.a, tt.b)
		}
	}
	for _, tt := range []struct {
		s                   string
		sign                int
		zero, negative, pos bool
	}{
		{"0", 0, true, false, false},
		{"-0.001", -1, false, true, false},
		{"0.001", 1, false, false, true},
	} {
		d := MustParse(tt.s)
		if d.Sign() != tt.sign || d.IsZero() != tt.zero || d.IsNegative() != tt.negative || d.IsPositive() != tt.pos {
			t.Errorf("%s: Sign=%d IsZero=%v IsNegative=%v IsPositive=%v", tt.s, d.Sign(), d.IsZero(), d.IsNegative(), d.IsPositive())
		}
	}
}

func TestQuo(t *testing.T) {
	tests := []struct {
		a, b   string
		places int32
		mode   Rounding
		want   string
	}{
		{"1", "3", 2, HalfEven, "0.33"},
		{"2", "3", 2, HalfEven, "0.67"},
		{"2", "3", 2, Down, "0.66"},
		{"1", "3", 2, Up, "0.34"},
		{"-1", "3", 2, Up, "-0.34"},
		{"-1", "3", 2, Floor, "-0.34"},
		{"-1", "3", 2, Ceiling, "-0.33"},
		{"1", "-3", 2, Floor, "-0.34"},
		{"-1", "-3", 2, HalfEven, "0.33"},
		{"1", "8", 2, HalfEven, "0.12"},   // 0.125 tie -> even
		{"3", "8", 2, HalfEven, "0.38"},   // 0.375 tie -> even
		{"1", "8", 2, HalfUp, "0.13"},     // tie away from zero
		{"-1", "8", 2, HalfUp, "-0.13"},   // tie away from zero
		{"-1", "8", 2, HalfEven, "-0.12"}, // tie -> even
		{"10", "4", 0, HalfEven, "2"},
		{"10", "4", 0, HalfUp, "3"},
		{"100", "7", 8, HalfEven, "14.28571429"},
		{"1", "3", 60, HalfEven, "0.33333333333333333333333333333333333333"}, // capped at 38 digits
		{"2", "3", 60, Down, "0.66666666666666666666666666666666666666"},
		{"1e37", "3", 5, HalfEven, "3333333333333333333333333333333333333.3"},
		{"1", "3000", 100, HalfEven, "0.00033333333333333333333333333333333333333"},
		{"12345", "1", -2, HalfEven, "12300"},
		{"0", "7", 2, HalfEven, "0"},
		{"1", "3000", 2, HalfEven, "0"},
		{"1", "3000", 2, Up, "0.01"},
		{"0.05", "0.0001", 2, HalfEven, "500"},
		{"1e-60", "1e60", 60, HalfEven, "0"},
		{"9.99", "0.001", 2, HalfEven, "9990"},
	}
	for _, tt := range tests {
		got, err := MustParse(tt.a).Quo(MustParse(tt.b), tt.places, tt.mode)
		if err != nil {
			t.Errorf("%s/%s: %v", tt.a, tt.b, err)
			continue
		}
		if got.String() != tt.want {
			t.Errorf("%s/%s places %d %v = %s, want %s", tt.a, tt.b, tt.places, tt.mode, got, tt.want)
		}
	}
	if _, err := FromInt(1).Quo(Zero, 2, HalfEven); !errors.Is(err, ErrInvalid) {
		t.Errorf("division by zero err = %v", err)
	}
	if _, err := FromInt(1).Quo(FromInt(3), 2, Rounding(99)); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad mode err = %v", err)
	}
}

func TestRound(t *testing.T) {
	tests := []struct {
		in     string
		places int32
		mode   Rounding
		want   string
	}{
		{"2.345", 2, HalfEven, "2.34"},
		{"2.355", 2, HalfEven, "2.36"},
		{"2.345", 2, HalfUp, "2.35"},
		{"-2.345", 2, HalfUp, "-2.35"},
		{"2.3451", 2, HalfEven, "2.35"},
		{"2.349", 2, Down, "2.34"},
		{"-2.349", 2, Down, "-2.34"},
		{"2.341", 2, Up, "2.35"},
		{"-2.341", 2, Up, "-2.35"},
		{"-2.341", 2, Floor, "-2.35"},
		{"2.349", 2, Floor, "2.34"},
		{"2.341", 2, Ceiling, "2.35"},
		{"-2.349", 2, Ceiling, "-2.34"},
		{"2.3", 2, Up, "2.3"},
		{"0.004", 2, HalfEven, "0"},
		{"-0.004", 2, HalfEven, "0"},
		{"9.999", 2, HalfUp, "10"},
		{"1250", -2, HalfEven, "1200"},
		{"1350", -2, HalfEven, "1400"},
		{"1.5", 0, HalfEven, "2"},
		{"2.5", 0, HalfEven, "2"},
		{"2.5", 0, Rounding(77), "2"}, // unknown mode -> half-even
		{"1e-60", 100, Down, "0." + strings.Repeat("0", 59) + "1"},
	}
	for _, tt := range tests {
		got := MustParse(tt.in).Round(tt.places, tt.mode)
		if got.String() != tt.want {
			t.Errorf("Round(%s, %d, %v) = %s, want %s", tt.in, tt.places, tt.mode, got, tt.want)
		}
	}
	if got := MustParse("1.999").Truncate(2).String(); got != "1.99" {
		t.Errorf("Truncate = %s", got)
	}
}

func TestRoundingString(t *testing.T) {
	want := map[Rounding]string{HalfEven: "half_even", HalfUp: "half_up", Down: "down", Up: "up",
		Floor: "floor", Ceiling: "ceiling", Rounding(9): "Rounding(9)"}
	for m, s := range want {
		if m.String() != s {
			t.Errorf("%d.String() = %q, want %q", m, m.String(), s)
		}
	}
}

func TestStringFixed(t *testing.T) {
	tests := []struct {
		in     string
		places int32
		want   string
	}{
		{"1000", 2, "1000.00"},
		{"0", 2, "0.00"},
		{"-1.5", 2, "-1.50"},
		{"1.005", 2, "1.00"},
		{"1.015", 2, "1.02"},
		{"1.999", 2, "2.00"},
		{"-0.001", 2, "0.00"},
		{"1.5", 0, "2"},
		{"1.23", -1, "1"},
		{"0.12345678", 8, "0.12345678"},
		{"3", 8, "3.00000000"},
		{"1e3", 2, "1000.00"},
		{"1.5E+40", 2, "1.5E+40"},
	}
	for _, tt := range tests {
		if got := MustParse(tt.in).StringFixed(tt.places); got != tt.want {
			t.Errorf("StringFixed(%s, %d) = %q, want %q", tt.in, tt.places, got, tt.want)
		}
	}
}

func TestConversions(t *testing.T) {
	if f := MustParse("1234.5").Float64(); f != 1234.5 {
		t.Errorf("Float64 = %v", f)
	}
	for _, tt := range []struct {
		in   string
		n    int64
		ok   bool
		digs int
	}{
		{"42", 42, true, 2},
		{"-1e3", -1000, true, 1},
		{"4.2", 0, false, 2},
		{"1e30", 0, false, 1},
		{"0", 0, true, 0},
	} {
		n, ok := MustParse(tt.in).Int64()
		if n != tt.n || ok != tt.ok {
			t.Errorf("Int64(%s) = %d, %v", tt.in, n, ok)
		}
		if d := MustParse(tt.in).Digits(); d != tt.digs {
			t.Errorf("Digits(%s) = %d, want %d", tt.in, d, tt.digs)
		}
	}
}

func TestImmutableConcurrent(t *testing.T) {
	// A value whose coefficient lives in a heap big.Int, shared by copies.
	big := MustParse("123456789012345678901234567890.12345678")
	want := big.String()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				c := big
				_ = c.Add(FromInt(int64(i))).Mul(MustParse("1.5")).Neg().Abs().Round(2, HalfUp)
				_, _ = c.Quo(FromInt(int64(i+1)), 8, Down)
				_ = c.StringFixed(10)
				_ = c.Apd()
			}
		}()
	}
	wg.Wait()
	if big.String() != want {
		t.Fatalf("shared value changed: %s", big)
	}
}

func TestJSON(t *testing.T) {
	type body struct {
		Amount Decimal  `json:"amount"`
		Fee    *Decimal `json:"fee,omitempty"`
		Price  *Number  `json:"price"`
	}
	tests := []struct {
		in      string
		amount  string
		fee     string // "" = nil
		price   string // "" = nil
		wantErr bool
	}{
		{in: `{"amount":"100.50","price":null}`, amount: "100.5"},
		{in: `{"amount":100.50,"price":1.25}`, amount: "100.5", price: "1.25"},
		{in: `{"amount":0.1,"fee":"0.30000000000000004"}`, amount: "0.1", fee: "0.30000000000000004"},
		{in: `{"amount":1e2,"fee":null}`, amount: "100"},
		{in: `{"amount":"\u0031\u002e5"}`, amount: "1.5"},
		{in: `{"amount":12345678901234567890.123456789012345678}`, amount: "12345678901234567890.123456789012345678"},
		{in: `{"amount":null}`, wantErr: true},
		{in: `{"amount":1e400}`, wantErr: true},
		{in: `{"amount":1e-400}`, wantErr: true},
		{in: `{"amount":"NaN"}`, wantErr: true},
		{in: `{"amount":"Infinity"}`, wantErr: true},
		{in: `{"amount":"-Infinity"}`, wantErr: true},
		{in: `{"amount":" 1"}`, wantErr: true},
		{in: `{"amount":"+1"}`, wantErr: true},
		{in: `{"amount":""}`, wantErr: true},
		{in: `{"amount":true}`, wantErr: true},
		{in: `{"amount":[1]}`, wantErr: true},
		{in: `{"amount":{"v":1}}`, wantErr: true},
		{in: `{"amount":"` + strings.Repeat("1", 101) + `"}`, wantErr: true},
		{in: `{"amount":` + strings.Repeat("1", 101) + `}`, wantErr: true},
		{in: `{"amount":1234567890123456789012345678901234567890}`, wantErr: true},
	}
	for _, tt := range tests {
		var b body
		err := json.Unmarshal([]byte(tt.in), &b)
		if tt.wantErr {
			if err == nil {
				t.Errorf("%s: no error, got %+v", tt.in, b)
			} else if !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: error %v does not wrap ErrInvalid", tt.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		if b.Amount.String() != tt.amount {
			t.Errorf("%s: amount %s, want %s", tt.in, b.Amount, tt.amount)
		}
		if got := ptrString(b.Fee); got != tt.fee {
			t.Errorf("%s: fee %q, want %q", tt.in, got, tt.fee)
		}
		var price string
		if b.Price != nil {
			price = b.Price.String()
		}
		if price != tt.price {
			t.Errorf("%s: price %q, want %q", tt.in, price, tt.price)
		}
	}
}

func ptrString(d *Decimal) string {
	if d == nil {
		return ""
	}
	return d.String()
}

func TestUnmarshalLeavesValueOnError(t *testing.T) {
	d := MustParse("5")
	for _, in := range []string{`null`, ``, `"x"`, `x`, `"\"`} {
		if err := d.UnmarshalJSON([]byte(in)); err == nil {
			t.Errorf("UnmarshalJSON(%s) accepted", in)
		}
	}
	if d.String() != "5" {
		t.Errorf("value changed to %s", d)
	}
}

func TestMarshalJSON(t *testing.T) {
	type out struct {
		A  Decimal  `json:"a"`
		B  *Decimal `json:"b"`
		N  Number   `json:"n"`
		NP *Number  `json:"np"`
		NN *Number  `json:"nn"`
	}
	b := MustParse("-0.50")
	v := out{A: MustParse("1000.00"), B: &b, N: Num(MustParse("65000.123456789")),
		NP: NumPtr(&b), NN: NumPtr(nil)}
	got, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a":"1000","b":"-0.5","n":65000.123456789,"np":-0.5,"nn":null}`
	if string(got) != want {
		t.Errorf("Marshal = %s, want %s", got, want)
	}
	var back out
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	if !back.A.Equal(v.A) || !back.B.Equal(*v.B) || !back.N.Equal(v.N.Decimal) || !back.NP.Equal(b) || back.NN != nil {
		t.Errorf("round trip = %+v", back)
	}
	huge := MustParse("1e100").Mul(MustParse("1e100"))
	if _, err := json.Marshal(huge); err == nil {
		t.Error("Marshal of 1E+200 succeeded")
	}
	if _, err := json.Marshal(Num(huge)); err == nil {
		t.Error("Marshal of Number 1E+200 succeeded")
	}
	big, err := json.Marshal(Num(MustParse("1.5e40")))
	if err != nil || string(big) != "1.5E+40" {
		t.Errorf("Number 1.5e40 = %s, %v", big, err)
	}
}

func TestJSONSchema(t *testing.T) {
	s := Decimal{}.JSONSchema()
	if s["pattern"] != Pattern || s["format"] != "decimal" {
		t.Errorf("schema = %v", s)
	}
	types, ok := s["type"].([]any)
	if !ok || len(types) != 2 || types[0] != "string" || types[1] != "number" {
		t.Errorf("type = %v", s["type"])
	}
	if n := (Number{}).JSONSchema(); n["type"] != "number" {
		t.Errorf("Number schema = %v", n)
	}
}

func TestAppend(t *testing.T) {
	huge := MustParse("1e100").Mul(MustParse("1e100"))
	tests := []struct {
		d    Decimal
		want string
	}{
		{Zero, "0"},
		{MustParse("1000.00"), "1000"},
		{MustParse("-0.50"), "-0.5"},
		{MustParse("0.00000001"), "0.00000001"},
		{MustParse("65000.12345678"), "65000.12345678"},
		{MustParse("1.5e40"), "1.5E+40"},
		{huge, "1E+200"},
	}
	for _, tt := range tests {
		got := tt.d.Append([]byte("x="))
		if string(got) != "x="+tt.want {
			t.Errorf("Append(%s) = %q, want %q", tt.want, got, "x="+tt.want)
		}
		if s := tt.d.String(); s != tt.want {
			t.Errorf("String() = %q, want %q", s, tt.want)
		}
	}
	// Append reuses dst's capacity: no allocation for a fitting buffer.
	d, buf := MustParse("65000.12345678"), make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { _ = d.Append(buf[:0]) }); n != 0 {
		t.Errorf("Append allocates %v times", n)
	}
}

// TestQuoFastPath checks that the 64-bit division gives quoBig's result for
// operands around its limits, every rounding mode and sign.
func TestQuoFastPath(t *testing.T) {
	operands := []string{"1", "3", "7", "0.1", "2.5", "99.99", "1000", "123456789.123456789",
		"18446744073709551615", "18446744073709551616", "0.0000000001", "9999999999.9999999999",
		"4294967296", "1e-18", "1e19", "12345678901234567890123"}
	n := 0
	for _, a := range operands {
		for _, b := range operands {
			for _, places := range []int32{-3, 0, 2, 8, 10, 18, 30} {
				for mode := HalfEven; mode <= Ceiling; mode++ {
					for _, neg := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
						x, y := MustParse(a), MustParse(b)
						if neg[0] {
							x = x.Neg()
						}
						if neg[1] {
							y = y.Neg()
						}
						want := quoBig(x, y, places, mode)
						got, err := x.Quo(y, places, mode)
						if err != nil || !got.Equal(want) || got.String() != want.String() {
							t.Fatalf("%s.Quo(%s, %d, %s) = %s, %v; want %s", x, y, places, mode, got, err, want)
						}
						if _, ok := quo64(&x.d, &y.d, int64(-places), mode); ok {
							n++
						}
					}
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no case took the 64-bit path")
	}
}
