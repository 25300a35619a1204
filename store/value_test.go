package store

import (
	"errors"
	"strings"
	"testing"

	"github.com/cockroachdb/apd/v3"
)

func TestN(t *testing.T) {
	cases := []struct {
		in, text string // text "" means invalid
	}{
		{"0", "0"},
		{"1.50", "1.50"},
		{"-0.00000001", "-0.00000001"},
		{"1E+3", "1000"},
		{"1.5e-3", "0.0015"},
		{"12345678901234567890123456789012345678", "12345678901234567890123456789012345678"},
		{"0.12345678901234567890123456789012345678", "0.12345678901234567890123456789012345678"},
		{"123456789012345678901234567890123456789", ""}, // 39 digits
		{"NaN", ""},
		{"Infinity", ""},
		{"1,5", ""},
		{"", ""},
		{"abc", ""},
	}
	for _, tc := range cases {
		v, err := N(tc.in)
		if tc.text == "" {
			if !errors.Is(err, ErrInvalidRequest) || !v.IsZero() {
				t.Fatalf("N(%q) = %v, %v; want invalid", tc.in, v, err)
			}
			continue
		}
		if err != nil || v.Kind() != KindNumber || v.NumText() != tc.text {
			t.Fatalf("N(%q) = %q (%v), %v; want %q", tc.in, v.NumText(), v.Kind(), err, tc.text)
		}
	}
	defer func() {
		if recover() == nil {
			t.Fatal("MustN of garbage did not panic")
		}
	}()
	MustN("garbage")
}

func TestValueAccessors(t *testing.T) {
	s, n, b, none := S("x"), Int(-42), Bool(true), Value{}
	d, _, _ := apd.NewFromString("3.14")
	dec := Dec(d)
	cases := []struct {
		v                Value
		kind             Kind
		str, num, String string
		boolVal, zero    bool
	}{
		{s, KindString, "x", "", `"x"`, false, false},
		{n, KindNumber, "", "-42", "-42", false, false},
		{dec, KindNumber, "", "3.14", "3.14", false, false},
		{b, KindBool, "", "", "true", true, false},
		{Bool(false), KindBool, "", "", "false", false, false},
		{none, KindNone, "", "", "<none>", false, true},
	}
	for _, tc := range cases {
		if tc.v.Kind() != tc.kind || tc.v.Str() != tc.str || tc.v.NumText() != tc.num ||
			tc.v.String() != tc.String || tc.v.BoolVal() != tc.boolVal || tc.v.IsZero() != tc.zero {
			t.Fatalf("accessors of %v wrong", tc.v)
		}
	}
	if i, ok := n.Int64(); !ok || i != -42 {
		t.Fatalf("Int64 = %d %v", i, ok)
	}
	if _, ok := dec.Int64(); ok {
		t.Fatal("Int64 of 3.14 succeeded")
	}
	if _, ok := s.Int64(); ok {
		t.Fatal("Int64 of a string succeeded")
	}
	if got, err := dec.Decimal(); err != nil || got.Cmp(d) != 0 {
		t.Fatalf("Decimal = %v %v", got, err)
	}
	if _, err := s.Decimal(); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("Decimal of a string: %v", err)
	}
	if v := NumberText("7.25"); v.Kind() != KindNumber || !v.Equal(MustN("7.250")) {
		t.Fatalf("NumberText = %v", v)
	}
}

func TestCompare(t *testing.T) {
	cases := []struct {
		a, b Value
		c    int
		ok   bool
	}{
		{S("a"), S("b"), -1, true},
		{S("b"), S("a"), 1, true},
		{S("a"), S("a"), 0, true},
		{S("Z"), S("a"), -1, true},
		{S("a"), S("é"), -1, true},
		{S(""), S("a"), -1, true},
		{MustN("1.50"), MustN("1.5"), 0, true},
		{MustN("0.3"), MustN("0.30000000000000000000000000000000000001"), -1, true},
		{MustN("-1"), MustN("-2"), 1, true},
		{MustN("1E+30"), MustN("999999999999999999999999999999"), 1, true},
		{Int(5), Int(5), 0, true},
		{Bool(false), Bool(true), -1, true},
		{Bool(true), Bool(false), 1, true},
		{Bool(true), Bool(true), 0, true},
		{S("1"), Int(1), 0, false},
		{Value{}, Value{}, 0, false},
		{Int(1), Value{}, 0, false},
		{NumberText("x"), NumberText("y"), 0, false}, // corrupt numbers never compare
	}
	for _, tc := range cases {
		c, ok := Compare(tc.a, tc.b)
		if c != tc.c || ok != tc.ok {
			t.Fatalf("Compare(%v, %v) = %d %v, want %d %v", tc.a, tc.b, c, ok, tc.c, tc.ok)
		}
		if tc.a.Equal(tc.b) != (tc.ok && tc.c == 0) {
			t.Fatalf("Equal(%v, %v) disagrees with Compare", tc.a, tc.b)
		}
	}
	if (Value{kind: 9}).String() != "<none>" {
		t.Fatal("unknown kind String")
	}
	if c, ok := Compare(Value{kind: 9}, Value{kind: 9}); ok || c != 0 {
		t.Fatal("unknown kinds compared")
	}
}

func TestItemAccessors(t *testing.T) {
	it := Item{"s": S("x"), "n": MustN("2.5"), "i": Int(7), "b": Bool(true)}
	if it.Str("s") != "x" || it.Str("n") != "" || it.Str("missing") != "" {
		t.Fatal("Str")
	}
	if it.Int("i") != 7 || it.Int("n") != 0 || it.Int("missing") != 0 {
		t.Fatal("Int")
	}
	if !it.Bool("b") || it.Bool("s") || it.Bool("missing") {
		t.Fatal("Bool")
	}
	if d, err := it.Num("n"); err != nil || d.String() != "2.5" {
		t.Fatalf("Num = %v %v", d, err)
	}
	if _, err := it.Num("missing"); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("Num of missing: %v", err)
	}
	if _, err := it.Num("s"); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("Num of a string: %v", err)
	}
	c := it.Clone()
	c["s"] = S("changed")
	if it.Str("s") != "x" || len(c) != len(it) {
		t.Fatal("Clone shares the map")
	}
	if Item(nil).Clone() != nil {
		t.Fatal("Clone of nil")
	}
}

func TestApplyActions(t *testing.T) {
	k := Key{Table: "t", PK: "p", SK: "s"}
	nines := strings.Repeat("9", 38)
	cases := []struct {
		name    string
		old     Item
		actions []Action
		want    Item   // nil: error
		wantErr string // substring when want is nil
	}{
		{"create", nil, []Action{Set("a", S("x"))}, Item{"a": S("x")}, ""},
		{"no actions", nil, nil, Item{}, ""},
		{"set replaces", Item{"a": Int(1)}, []Action{Set("a", S("x"))}, Item{"a": S("x")}, ""},
		{"remove", Item{"a": Int(1), "b": Int(2)}, []Action{Remove("a"), Remove("zz")}, Item{"b": Int(2)}, ""},
		{"add missing", nil, []Action{Add("n", MustN("0.1"))}, Item{"n": MustN("0.1")}, ""},
		{"add exact", Item{"n": MustN("0.1")}, []Action{Add("n", MustN("0.2"))}, Item{"n": MustN("0.3")}, ""},
		{"add twice", nil, []Action{Add("n", Int(2)), Add("n", MustN("-2.5"))}, Item{"n": MustN("-0.5")}, ""},
		{"add 38 digits", Item{"n": MustN(nines[:37] + "8")}, []Action{Add("n", Int(1))}, Item{"n": MustN(nines)}, ""},
		{"keys from k", Item{AttrPK: S("old")}, nil, Item{}, ""},
		{"add to string", Item{"s": S("x")}, []Action{Add("s", Int(1))}, nil, "non-number"},
		{"add inexact", Item{"n": MustN(nines)}, []Action{Add("n", MustN("0.1"))}, nil, "add to"},
		{"add a string", nil, []Action{{Op: ActAdd, Attr: "n", Value: S("1")}}, nil, "non-number"},
		{"set PK", nil, []Action{Set(AttrPK, S("x"))}, nil, "action on attribute"},
		{"unknown op", nil, []Action{{Op: 9, Attr: "a"}}, nil, "unknown action"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var oldCopy Item
			if tc.old != nil {
				oldCopy = tc.old.Clone()
			}
			got, err := ApplyActions(k, tc.old, tc.actions)
			if tc.want == nil {
				if !errors.Is(err, ErrInvalidRequest) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want invalid containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.want[AttrPK], tc.want[AttrSK] = S("p"), S("s")
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for name, v := range tc.want {
				if !got[name].Equal(v) {
					t.Fatalf("%s = %v, want %v", name, got[name], v)
				}
			}
			for name, v := range oldCopy {
				if tc.old[name] != v {
					t.Fatal("ApplyActions changed the old item")
				}
			}
		})
	}
}

func TestItemValidate(t *testing.T) {
	big := strings.Repeat("1", 38)
	cases := []struct {
		name string
		it   Item
		ok   bool
	}{
		{"empty", Item{}, true},
		{"all kinds", Item{"s": S(""), "n": MustN("1.5"), "b": Bool(false)}, true},
		{"38 digits", Item{"n": MustN(big)}, true},
		{"trailing zeros do not count", Item{"n": MustN("1E+50")}, true},
		{"leading zeros do not count", Item{"n": MustN("0." + strings.Repeat("0", 30) + big)}, true},
		{"39 digits", Item{"n": NumberText(big + "1")}, false},
		{"corrupt number", Item{"n": NumberText(strings.Repeat("x1", 40))}, false},
		{"no value", Item{"a": {}}, false},
		{"empty name", Item{"": Int(1)}, false},
		{"long name", Item{strings.Repeat("a", MaxAttrNameLen+1): Int(1)}, false},
		{"at the size limit", Item{"a": S(strings.Repeat("x", MaxItemSize-1))}, true},
		{"over the size limit", Item{"ab": S(strings.Repeat("x", MaxItemSize-1))}, false},
	}
	for _, tc := range cases {
		err := ValidateItem(tc.it)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalidRequest)) {
			t.Fatalf("%s: ValidateItem = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
	if n := ItemSize(Item{"ab": S("xyz"), "n": MustN("12345"), "b": Bool(true)}); n != 2+3+1+3+1+1 {
		t.Fatalf("ItemSize = %d", n)
	}
}

// TestSmallNumberFastPaths checks that the int64 fast paths of Add and
// Compare agree with apd, text for text, on a grid of numbers.
func TestSmallNumberFastPaths(t *testing.T) {
	texts := []string{"0", "0.0", "0.00", "1", "-1", "0.1", "0.2", "-0.3", "10.50", "-10.5", "0.005",
		"123456789012345678", "-123456789012345678", "999999999999999999", "0.000000000000000001",
		"12345678.12345678", "-0.00000001", "1000000", "5.5", "-5.5", "1234567890123456789", "0.1234567890123456789"}
	ctx := apd.BaseContext.WithPrecision(38)
	for _, a := range texts {
		for _, b := range texts {
			va, vb := MustN(a), MustN(b)
			da, _ := va.Decimal()
			db, _ := vb.Decimal()
			if c, ok := compareSmall(va.s, vb.s); ok && c != da.Cmp(db) {
				t.Fatalf("compareSmall(%s, %s) = %d, apd says %d", a, b, c, da.Cmp(db))
			}
			var sum apd.Decimal
			if _, err := ctx.Add(&sum, da, db); err != nil {
				t.Fatal(err)
			}
			if got, ok := addSmall(va.s, vb.s); ok && got != sum.Text('f') {
				t.Fatalf("addSmall(%s, %s) = %s, apd says %s", a, b, got, sum.Text('f'))
			}
		}
	}
	for _, bad := range []string{"", "-", "1.", ".5", "1e5", "1.2.3", "x", "-", "1234567890123456789"} {
		if _, _, _, ok := parseSmall(bad); ok {
			t.Fatalf("parseSmall(%q) accepted", bad)
		}
	}
	if _, ok := addSmall("1", "x"); ok {
		t.Fatal("addSmall of garbage")
	}
	if _, ok := compareSmall("0.00000000000000001", "100000000000000000"); ok {
		t.Fatal("compareSmall outside the small range")
	}
}

// TestAddSmallAllocations: a sum allocates only its text, and a small
// count (below 100) nothing.
func TestAddSmallAllocations(t *testing.T) {
	for _, tc := range []struct {
		a, b   string
		allocs float64
	}{{"41", "1", 0}, {"12.5", "0.55", 1}, {"-0.001", "0.0005", 1}, {"999", "1", 1}} {
		if n := testing.AllocsPerRun(100, func() { _, _ = addSmall(tc.a, tc.b) }); n != tc.allocs {
			t.Errorf("addSmall(%s, %s): %v allocations, want %v", tc.a, tc.b, n, tc.allocs)
		}
	}
}
