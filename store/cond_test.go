package store

import (
	"errors"
	"testing"
)

func TestCondEval(t *testing.T) {
	it := Item{"s": S("bob"), "n": MustN("10.50"), "b": Bool(true), "version": Int(3)}
	cases := []struct {
		name         string
		c            *Cond
		onIt, onNone bool
	}{
		{"nil", nil, true, true},
		{"item exists", ItemExists(), true, false},
		{"item not exists", ItemNotExists(), false, true},
		{"attr exists", AttrExists("s"), true, false},
		{"attr exists missing", AttrExists("x"), false, false},
		{"attr not exists", AttrNotExists("x"), true, true},
		{"attr not exists present", AttrNotExists("s"), false, true},
		{"eq", Eq("n", MustN("10.5")), true, false},
		{"eq kind mismatch", Eq("n", S("10.5")), false, false},
		{"ne", Ne("s", S("al")), true, true},
		{"ne equal", Ne("s", S("bob")), false, true},
		{"ne kind mismatch", Ne("n", S("x")), true, true},
		{"lt", Lt("n", Int(11)), true, false},
		{"lt equal", Lt("n", MustN("10.5")), false, false},
		{"le", Le("n", MustN("10.5")), true, false},
		{"gt", Gt("s", S("bo")), true, false},
		{"gt equal", Gt("s", S("bob")), false, false},
		{"ge", Ge("s", S("bob")), true, false},
		{"ge missing", Ge("x", Int(0)), false, false},
		{"lt kind mismatch", Lt("s", Int(0)), false, false},
		{"bool", Eq("b", Bool(true)), true, false},
		{"version", VersionIs(3), true, false},
		{"version other", VersionIs(4), false, false},
		{"and", And(ItemExists(), nil, VersionIs(3)), true, false},
		{"and false", And(VersionIs(3), Eq("s", S("x"))), false, false},
		{"or", Or(nil, Eq("s", S("x")), VersionIs(3)), true, false},
		{"or false", Or(Eq("s", S("x")), VersionIs(9)), false, false},
		{"or none", Or(ItemNotExists(), VersionIs(3)), true, true},
		{"not", Not(ItemExists()), false, true},
		{"unknown op", &Cond{Op: 99, Attr: "s", Value: S("bob")}, false, false},
	}
	for _, tc := range cases {
		if got := tc.c.Eval(it); got != tc.onIt {
			t.Fatalf("%s on item = %v, want %v", tc.name, got, tc.onIt)
		}
		if got := tc.c.Eval(nil); got != tc.onNone {
			t.Fatalf("%s on missing item = %v, want %v", tc.name, got, tc.onNone)
		}
	}
}

func TestCondValidate(t *testing.T) {
	cases := []struct {
		name string
		c    *Cond
		ok   bool
	}{
		{"nil", nil, true},
		{"exists", ItemExists(), true},
		{"comparison", Lt("a", Int(1)), true},
		{"nested", And(Or(ItemExists(), Not(AttrExists("a"))), Ge("a", Int(0))), true},
		{"no attribute", Eq("", Int(1)), false},
		{"no value", Eq("a", Value{}), false},
		{"empty and", And(), false},
		{"empty or", Or(nil), false},
		{"not of two", &Cond{Op: CondNot, Sub: []*Cond{ItemExists(), ItemExists()}}, false},
		{"unknown", &Cond{Op: 42}, false},
		{"bad nested", Not(And(Eq("a", Value{}))), false},
	}
	for _, tc := range cases {
		err := tc.c.Validate()
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalidRequest)) {
			t.Fatalf("%s: Validate = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
