package store

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/orderprocessor/orderprocessor/apperr"
)

func TestKeyValidate(t *testing.T) {
	long := strings.Repeat("x", MaxKeyLen+1)
	cases := []struct {
		k  Key
		ok bool
	}{
		{Key{"t", "p", "s"}, true},
		{Key{"t", strings.Repeat("x", MaxKeyLen), "s"}, true},
		{Key{"", "p", "s"}, false},
		{Key{"t", "", "s"}, false},
		{Key{"t", "p", ""}, false},
		{Key{"t", long, "s"}, false},
		{Key{"t", "p", "a\x00b"}, false},
		{Key{"t\x00", "p", "s"}, false},
	}
	for _, tc := range cases {
		err := tc.k.Validate()
		if (err == nil) != tc.ok || (err != nil && !apperr.Is(err, apperr.Invalid)) {
			t.Fatalf("%q: Validate = %v, want ok=%v", tc.k.String(), err, tc.ok)
		}
	}
	if s := (Key{"t", "p", "s"}).String(); s != "t/p/s" {
		t.Fatalf("String = %q", s)
	}
}

func TestWriteAccessorsAndValidate(t *testing.T) {
	k := Key{"t", "p", "s"}
	c := ItemExists()
	cases := []struct {
		name string
		w    Write
		cond *Cond
		ok   bool
	}{
		{"put", Write{Put: &Put{Key: k, Item: Item{}, Cond: c}}, c, true},
		{"update", Write{Update: &Update{Key: k, Actions: []Action{Set("a", Int(1))}, Cond: c}}, c, true},
		{"delete", Write{Delete: &Delete{Key: k, Cond: c}}, c, true},
		{"check", Write{Check: &Check{Key: k, Cond: c}}, c, true},
		{"put without cond", Write{Put: &Put{Key: k, Item: Item{}}}, nil, true},
		{"none", Write{}, nil, false},
		{"two", Write{Put: &Put{Key: k, Item: Item{}}, Delete: &Delete{Key: k}}, nil, false},
		{"bad key", Write{Delete: &Delete{Key: Key{"t", "", "s"}}}, nil, false},
		{"check without cond", Write{Check: &Check{Key: k}}, nil, false},
		{"put without item", Write{Put: &Put{Key: k}}, nil, false},
		{"bad action", Write{Update: &Update{Key: k, Actions: []Action{Remove(AttrSK)}}}, nil, false},
		{"bad cond", Write{Delete: &Delete{Key: k, Cond: And()}}, And(), false},
	}
	for _, tc := range cases {
		if tc.ok && tc.w.Key() != k {
			t.Fatalf("%s: Key = %v", tc.name, tc.w.Key())
		}
		if tc.ok && tc.w.Condition() != tc.cond {
			t.Fatalf("%s: Condition = %v", tc.name, tc.w.Condition())
		}
		err := tc.w.Validate()
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalidRequest)) {
			t.Fatalf("%s: Validate = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
	if (Write{}).Key() != (Key{}) || (Write{}).Condition() != nil {
		t.Fatal("empty write has a key or condition")
	}
}

func TestValidateTransaction(t *testing.T) {
	put := func(sk string) Write { return Write{Put: &Put{Key: Key{"t", "p", sk}, Item: Item{}}} }
	many := func(n int) []Write {
		ws := make([]Write, n)
		for i := range ws {
			ws[i] = put(fmt.Sprint(i))
		}
		return ws
	}
	cases := []struct {
		name string
		ws   []Write
		ok   bool
	}{
		{"one", many(1), true},
		{"max", many(MaxTransactItems), true},
		{"empty", nil, false},
		{"too many", many(MaxTransactItems + 1), false},
		{"twice", []Write{put("a"), {Delete: &Delete{Key: Key{"t", "p", "a"}}}}, false},
		{"same key other table", []Write{put("a"), {Delete: &Delete{Key: Key{"u", "p", "a"}}}}, true},
		{"invalid write", []Write{put("a"), {}}, false},
	}
	for _, tc := range cases {
		err := ValidateTransaction(tc.ws)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalidRequest)) {
			t.Fatalf("%s: %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestTxCanceledError(t *testing.T) {
	cond := fmt.Errorf("t/p/b: %w", ErrConditionFailed)
	e := &TxCanceledError{Reasons: []error{nil, cond, ErrTxConflict}}
	var err error = fmt.Errorf("transact: %w", e)
	if got := e.Error(); got != "transaction canceled: [None, t/p/b: condition failed, transaction conflict]" {
		t.Fatalf("Error = %q", got)
	}
	if !errors.Is(err, ErrConditionFailed) || !errors.Is(err, ErrTxConflict) {
		t.Fatal("errors.Is misses a reason")
	}
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalidRequest) {
		t.Fatal("errors.Is matches an absent reason")
	}
	var tx *TxCanceledError
	if !errors.As(err, &tx) || tx.FailedIndex() != 1 {
		t.Fatalf("As/FailedIndex: %v", tx)
	}
	if apperr.KindOf(err) != apperr.Conflict {
		t.Fatalf("kind %q", apperr.KindOf(err))
	}
	only := &TxCanceledError{Reasons: []error{nil, ErrTxConflict}}
	if only.FailedIndex() != -1 || errors.Is(only, ErrConditionFailed) {
		t.Fatal("a conflict counted as a condition failure")
	}
	if got := len(only.Unwrap()); got != 2 {
		t.Fatalf("Unwrap has %d errors", got)
	}
}

func TestActionConstructors(t *testing.T) {
	if a := Set("a", Int(1)); a.Op != ActSet || a.Attr != "a" || !a.Value.Equal(Int(1)) {
		t.Fatal("Set")
	}
	if a := Add("a", Int(2)); a.Op != ActAdd || a.validate() != nil {
		t.Fatal("Add")
	}
	if a := Remove("a"); a.Op != ActRemove || !a.Value.IsZero() || a.validate() != nil {
		t.Fatal("Remove")
	}
	if err := (Action{Op: ActSet}).validate(); !errors.Is(err, ErrInvalidRequest) {
		t.Fatal("action without attribute")
	}
}
