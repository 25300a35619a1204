package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/store"
)

// condCases are conditions with their expected result against condBase and
// against a missing item.
func condCases() []struct {
	name           string
	cond           *store.Cond
	onItem, onNone bool
} {
	return []struct {
		name           string
		cond           *store.Cond
		onItem, onNone bool
	}{
		{"item exists", store.ItemExists(), true, false},
		{"item not exists", store.ItemNotExists(), false, true},
		{"attr exists", store.AttrExists("name"), true, false},
		{"attr exists missing", store.AttrExists("nope"), false, false},
		{"attr not exists", store.AttrNotExists("nope"), true, true},
		{"attr not exists present", store.AttrNotExists("name"), false, true},
		{"eq string", store.Eq("name", store.S("bob")), true, false},
		{"eq string case", store.Eq("name", store.S("Bob")), false, false},
		{"eq number other text", store.Eq("balance", num("10.5")), true, false},
		{"eq number", store.Eq("balance", num("10.50")), true, false},
		{"eq number vs string", store.Eq("balance", store.S("10.50")), false, false},
		{"eq 38 digits", store.Eq("big", num(big38)), true, false},
		{"eq 38 digits off by one", store.Eq("big", num("12345678901234567890123456789012345679")), false, false},
		{"eq 0.3", store.Eq("sum", num("0.3")), true, false},
		{"eq missing", store.Eq("nope", store.Int(1)), false, false},
		{"ne string", store.Ne("name", store.S("Bob")), true, true},
		{"ne same", store.Ne("name", store.S("bob")), false, true},
		{"ne missing", store.Ne("nope", store.Int(1)), true, true},
		{"ne other kind", store.Ne("balance", store.S("10.5")), true, true},
		{"lt number", store.Lt("balance", num("10.51")), true, false},
		{"lt number equal", store.Lt("balance", num("10.5")), false, false},
		{"le number", store.Le("balance", num("10.5")), true, false},
		{"le number below", store.Le("balance", num("10.49")), false, false},
		{"gt number", store.Gt("balance", num("10.49")), true, false},
		{"gt number equal", store.Gt("balance", num("10.50")), false, false},
		{"ge number", store.Ge("balance", num("10.5")), true, false},
		{"ge number above", store.Ge("balance", num("10.500001")), false, false},
		{"ge negative", store.Ge("balance", num("-11")), true, false},
		{"gt 38 digits", store.Gt("big", num("12345678901234567890123456789012345677")), true, false},
		{"lt 38 digits", store.Lt("big", num("12345678901234567890123456789012345679")), true, false},
		{"lt string", store.Lt("name", store.S("boc")), true, false},
		{"lt string prefix", store.Lt("name", store.S("bo")), false, false},
		{"gt string prefix", store.Gt("name", store.S("bo")), true, false},
		{"le string", store.Le("name", store.S("bob")), true, false},
		{"ge string utf8", store.Ge("name", store.S("é")), false, false},
		{"lt missing", store.Lt("nope", store.Int(1)), false, false},
		{"lt other kind", store.Lt("name", store.Int(1)), false, false},
		{"bool true", store.Eq("active", store.Bool(true)), true, false},
		{"bool false", store.Eq("active", store.Bool(false)), false, false},
		{"bool ne", store.Ne("active", store.Bool(false)), true, true},
		{"version is", store.VersionIs(3), true, false},
		{"version is not", store.VersionIs(2), false, false},
		{"and true", store.And(store.ItemExists(), store.Eq("name", store.S("bob")), store.Ge("balance", store.Int(10))), true, false},
		{"and false", store.And(store.ItemExists(), store.Eq("name", store.S("al"))), false, false},
		{"or true", store.Or(store.Eq("name", store.S("al")), store.VersionIs(3)), true, false},
		{"or false", store.Or(store.Eq("name", store.S("al")), store.VersionIs(4)), false, false},
		{"or not exists", store.Or(store.ItemNotExists(), store.VersionIs(3)), true, true},
		{"not", store.Not(store.AttrExists("nope")), true, true},
		{"not item exists", store.Not(store.ItemExists()), false, true},
		{"nested", store.And(store.Or(store.Lt("balance", store.Int(0)), store.Eq("active", store.Bool(true))), store.Not(store.VersionIs(4))), true, false},
	}
}

// condBase is the item the conditions are evaluated against.
func condBase() store.Item {
	return store.Item{
		"name":    store.S("bob"),
		"balance": num("10.50"),
		"big":     num(big38),
		"sum":     num("0.3"),
		"active":  store.Bool(true),
		"version": store.Int(3),
	}
}

// testConditions checks every condition kind the same way through Put,
// Update, Delete and a transaction's Check, against an item and a missing one.
func testConditions(t *testing.T, open OpenFunc) {
	t.Parallel()
	s := fresh(t, open)
	ctx := context.Background()
	base := condBase()
	ops := []struct {
		name string
		run  func(k store.Key, c *store.Cond) error
	}{
		{"put", func(k store.Key, c *store.Cond) error {
			return s.Put(ctx, store.Put{Key: k, Item: store.Item{"written": store.Bool(true)}, Cond: c})
		}},
		{"update", func(k store.Key, c *store.Cond) error {
			_, err := s.Update(ctx, store.Update{Key: k, Actions: []store.Action{store.Set("written", store.Bool(true))}, Cond: c})
			return err
		}},
		{"delete", func(k store.Key, c *store.Cond) error { return s.Delete(ctx, store.Delete{Key: k, Cond: c}) }},
		{"check", func(k store.Key, c *store.Cond) error {
			marker := store.Key{Table: TableLedger, PK: k.PK, SK: k.SK}
			return s.Transact(ctx, []store.Write{
				{Check: &store.Check{Key: k, Cond: c}},
				{Put: &store.Put{Key: marker, Item: store.Item{"written": store.Bool(true)}}},
			})
		}},
	}
	for i, tc := range condCases() {
		for _, op := range ops {
			for _, exists := range []bool{true, false} {
				name := fmt.Sprintf("%s/%s/exists=%v", tc.name, op.name, exists)
				k := key(TableItems, fmt.Sprintf("COND#%d", i), fmt.Sprintf("%s#%v", op.name, exists))
				if exists {
					mustPut(t, s, k, base)
				}
				want := tc.onNone
				if exists {
					want = tc.onItem
				}
				err := op.run(k, tc.cond)
				if want && err != nil {
					t.Fatalf("%s: condition should hold: %v", name, err)
				}
				if !want {
					if !errors.Is(err, store.ErrConditionFailed) || !apperr.Is(err, apperr.Conflict) {
						t.Fatalf("%s: error %v, want ErrConditionFailed", name, err)
					}
				}
				// The write happened exactly when the condition held.
				got, gerr := s.Get(ctx, k)
				switch {
				case op.name == "check":
					_, merr := s.Get(ctx, store.Key{Table: TableLedger, PK: k.PK, SK: k.SK})
					if (merr == nil) != want {
						t.Fatalf("%s: transaction applied = %v, want %v", name, merr == nil, want)
					}
				case op.name == "delete" && want:
					if !errors.Is(gerr, store.ErrNotFound) {
						t.Fatalf("%s: item still there: %v %v", name, got, gerr)
					}
				case want:
					if !got.Bool("written") {
						t.Fatalf("%s: item not written: %v %v", name, got, gerr)
					}
				case exists:
					sameItem(t, got, withKey(k, base))
				default:
					if !errors.Is(gerr, store.ErrNotFound) {
						t.Fatalf("%s: item created by a failed write: %v", name, got)
					}
				}
			}
		}
	}
	t.Run("malformed", func(t *testing.T) {
		k := key(TableItems, "COND", "bad")
		for _, c := range []*store.Cond{
			{Op: store.CondEq, Attr: "a"},                      // no value
			{Op: store.CondLt, Value: store.Int(1)},            // no attribute
			{Op: store.CondAnd},                                // empty and
			{Op: store.CondNot},                                // not without a condition
			{Op: 77},                                           // unknown op
			store.And(store.ItemExists(), &store.Cond{Op: 77}), // nested
		} {
			wantErr(t, s.Put(ctx, store.Put{Key: k, Item: store.Item{"a": store.Int(1)}, Cond: c}), store.ErrInvalidRequest, apperr.Invalid)
		}
		wantMissing(t, s, k)
	})
}

func put(k store.Key, it store.Item, c *store.Cond) store.Write {
	return store.Write{Put: &store.Put{Key: k, Item: it, Cond: c}}
}

func update(k store.Key, c *store.Cond, actions ...store.Action) store.Write {
	return store.Write{Update: &store.Update{Key: k, Actions: actions, Cond: c}}
}

func del(k store.Key, c *store.Cond) store.Write {
	return store.Write{Delete: &store.Delete{Key: k, Cond: c}}
}

func check(k store.Key, c *store.Cond) store.Write {
	return store.Write{Check: &store.Check{Key: k, Cond: c}}
}

func testTransact(t *testing.T, open OpenFunc) {
	t.Parallel()
	s := fresh(t, open)
	ctx := context.Background()
	acct := key(TableItems, "USER#a", "BALANCE#USD")
	gone := key(TableItems, "USER#a", "OLD")
	entry := key(TableLedger, "USER#a", "TX#1")
	mustPut(t, s, acct, store.Item{"balance": num("100.00"), "version": store.Int(1)})
	mustPut(t, s, gone, store.Item{"v": store.Int(1)})

	t.Run("all or nothing", func(t *testing.T) {
		err := s.Transact(ctx, []store.Write{
			update(acct, store.Ge("balance", num("30")), store.Add("balance", num("-30")), store.Add("version", store.Int(1))),
			put(entry, store.Item{"amount": num("-30")}, store.ItemNotExists()),
			del(gone, nil),
			check(key(TableLedger, "USER#a", "LIMITS"), store.VersionIs(7)), // fails: missing
		})
		wantErr(t, err, store.ErrConditionFailed, apperr.Conflict)
		var tx *store.TxCanceledError
		if !errors.As(err, &tx) {
			t.Fatalf("error %T %v is not a *TxCanceledError", err, err)
		}
		if len(tx.Reasons) != 4 || tx.FailedIndex() != 3 {
			t.Fatalf("reasons %v, failed index %d", tx.Reasons, tx.FailedIndex())
		}
		for i, r := range tx.Reasons[:3] {
			if r != nil {
				t.Fatalf("reason %d = %v, want nil", i, r)
			}
		}
		if !errors.Is(tx.Reasons[3], store.ErrConditionFailed) {
			t.Fatalf("reason 3 = %v", tx.Reasons[3])
		}
		sameItem(t, mustGet(t, s, acct), withKey(acct, store.Item{"balance": num("100"), "version": store.Int(1)}))
		wantMissing(t, s, entry)
		mustGet(t, s, gone)
	})
	t.Run("several reasons", func(t *testing.T) {
		err := s.Transact(ctx, []store.Write{
			put(entry, store.Item{"a": store.Int(1)}, store.ItemExists()), // fails: missing
			update(acct, store.VersionIs(1), store.Set("x", store.Int(1))),
			del(gone, store.Eq("v", store.Int(2))), // fails
		})
		var tx *store.TxCanceledError
		if !errors.As(err, &tx) || len(tx.Reasons) != 3 {
			t.Fatalf("error %v", err)
		}
		if !errors.Is(tx.Reasons[0], store.ErrConditionFailed) || tx.Reasons[1] != nil || !errors.Is(tx.Reasons[2], store.ErrConditionFailed) {
			t.Fatalf("reasons %v", tx.Reasons)
		}
		if tx.FailedIndex() != 0 {
			t.Fatalf("failed index %d", tx.FailedIndex())
		}
		if mustGet(t, s, acct).Int("x") != 0 {
			t.Fatal("update of a canceled transaction applied")
		}
	})
	t.Run("commits across tables", func(t *testing.T) {
		err := s.Transact(ctx, []store.Write{
			update(acct, store.And(store.VersionIs(1), store.Ge("balance", num("30"))), store.Add("balance", num("-30.01")), store.Add("version", store.Int(1))),
			put(entry, store.Item{"amount": num("-30.01")}, store.ItemNotExists()),
			del(gone, store.ItemExists()),
			check(key(TableLedger, "USER#a", "TX#0"), store.ItemNotExists()),
		})
		if err != nil {
			t.Fatal(err)
		}
		sameItem(t, mustGet(t, s, acct), withKey(acct, store.Item{"balance": num("69.99"), "version": store.Int(2)}))
		sameItem(t, mustGet(t, s, entry), withKey(entry, store.Item{"amount": num("-30.01")}))
		wantMissing(t, s, gone)
		wantMissing(t, s, key(TableLedger, "USER#a", "TX#0"))
	})
	t.Run("same key in two tables", func(t *testing.T) {
		a, b := key(TableItems, "SAME", "K"), key(TableLedger, "SAME", "K")
		if err := s.Transact(ctx, []store.Write{put(a, store.Item{"t": store.S("items")}, nil), put(b, store.Item{"t": store.S("ledger")}, nil)}); err != nil {
			t.Fatal(err)
		}
		if mustGet(t, s, a).Str("t") != "items" || mustGet(t, s, b).Str("t") != "ledger" {
			t.Fatal("items of two tables mixed up")
		}
	})
	t.Run("max items", func(t *testing.T) {
		ws := make([]store.Write, store.MaxTransactItems)
		for i := range ws {
			tbl := TableItems
			if i%2 == 1 {
				tbl = TableLedger
			}
			ws[i] = put(key(tbl, "MAX", fmt.Sprintf("%03d", i)), store.Item{"i": store.Int(int64(i))}, store.ItemNotExists())
		}
		if err := s.Transact(ctx, ws); err != nil {
			t.Fatal(err)
		}
		for i := range ws {
			if got := mustGet(t, s, ws[i].Key()); got.Int("i") != int64(i) {
				t.Fatalf("item %d = %v", i, got)
			}
		}
		// The same 100 again: every condition fails, every reason says so.
		err := s.Transact(ctx, ws)
		var tx *store.TxCanceledError
		if !errors.As(err, &tx) || len(tx.Reasons) != store.MaxTransactItems {
			t.Fatalf("error %v", err)
		}
		for i, r := range tx.Reasons {
			if !errors.Is(r, store.ErrConditionFailed) {
				t.Fatalf("reason %d = %v", i, r)
			}
		}
	})
	t.Run("invalid", func(t *testing.T) {
		k := key(TableItems, "INV", "1")
		tooMany := make([]store.Write, store.MaxTransactItems+1)
		for i := range tooMany {
			tooMany[i] = put(key(TableItems, "INV", fmt.Sprintf("%03d", i)), store.Item{"i": store.Int(1)}, nil)
		}
		cases := []struct {
			name   string
			writes []store.Write
		}{
			{"empty", nil},
			{"101 items", tooMany},
			{"same item twice", []store.Write{put(k, store.Item{"a": store.Int(1)}, nil), update(k, nil, store.Set("b", store.Int(1)))}},
			{"same item put and check", []store.Write{check(k, store.ItemNotExists()), put(k, store.Item{"a": store.Int(1)}, nil)}},
			{"no operation", []store.Write{{}}},
			{"two operations", []store.Write{{Put: &store.Put{Key: k, Item: store.Item{}}, Delete: &store.Delete{Key: k}}}},
			{"check without condition", []store.Write{{Check: &store.Check{Key: k}}}},
			{"put without item", []store.Write{{Put: &store.Put{Key: k}}}},
			{"invalid key", []store.Write{put(key(TableItems, "", "x"), store.Item{"a": store.Int(1)}, nil)}},
			{"unknown table", []store.Write{put(k, store.Item{"a": store.Int(1)}, nil), put(key("nope", "a", "b"), store.Item{"a": store.Int(1)}, nil)}},
			{"malformed condition", []store.Write{put(k, store.Item{"a": store.Int(1)}, &store.Cond{Op: store.CondGt})}},
			{"bad action", []store.Write{update(k, nil, store.Set(store.AttrPK, store.S("x")))}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				wantErr(t, s.Transact(ctx, tc.writes), store.ErrInvalidRequest, apperr.Invalid)
			})
		}
		wantMissing(t, s, k)
		wantMissing(t, s, key(TableItems, "INV", "000"))
	})
}
