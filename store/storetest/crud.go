package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/store"
)

const big38 = "12345678901234567890123456789012345678" // 38 significant digits

// invalidKeys are malformed or unknown keys every operation rejects.
func invalidKeys() []struct {
	name string
	k    store.Key
} {
	long := strings.Repeat("x", store.MaxKeyLen+1)
	return []struct {
		name string
		k    store.Key
	}{
		{"empty table", key("", "p", "s")},
		{"empty pk", key(TableItems, "", "s")},
		{"empty sk", key(TableItems, "p", "")},
		{"nul in pk", key(TableItems, "p\x00q", "s")},
		{"nul in sk", key(TableItems, "p", "s\x00")},
		{"pk too long", key(TableItems, long, "s")},
		{"sk too long", key(TableItems, "p", long)},
		{"unknown table", key("no_such_table", "p", "s")},
	}
}

func testGet(t *testing.T, open OpenFunc) {
	t.Parallel()
	s := fresh(t, open)
	ctx := context.Background()
	k := key(TableItems, "USER#alice", "PROFILE")
	want := store.Item{
		"name":    store.S("Alice ünïcode €"),
		"empty":   store.S(""),
		"balance": num("1234.5600"),
		"neg":     num("-0.00000001"),
		"big":     num(big38),
		"small":   num("0.12345678901234567890123456789012345678"),
		"zero":    store.Int(0),
		"active":  store.Bool(true),
		"frozen":  store.Bool(false),
	}
	mustPut(t, s, k, want)

	t.Run("found", func(t *testing.T) {
		got, err := s.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		sameItem(t, got, withKey(k, want))
		if got.Str(store.AttrPK) != "USER#alice" || got.Str(store.AttrSK) != "PROFILE" {
			t.Fatalf("key attributes = %q %q", got.Str(store.AttrPK), got.Str(store.AttrSK))
		}
		if got["big"].NumText() != big38 {
			t.Fatalf("38-digit number came back as %q", got["big"].NumText())
		}
		if got["big"].Kind() != store.KindNumber || got["active"].Kind() != store.KindBool || got["empty"].Kind() != store.KindString {
			t.Fatalf("kinds changed: %v", got)
		}
	})
	t.Run("returned item is the caller's", func(t *testing.T) {
		got := mustGet(t, s, k)
		got["name"] = store.S("changed")
		sameItem(t, mustGet(t, s, k), withKey(k, want))
	})
	t.Run("not found", func(t *testing.T) {
		for _, k := range []store.Key{
			key(TableItems, "USER#alice", "PROFILE2"),
			key(TableItems, "USER#alic", "PROFILE"),
			key(TableLedger, "USER#alice", "PROFILE"), // same PK/SK, other table
		} {
			it, err := s.Get(ctx, k)
			wantErr(t, err, store.ErrNotFound, apperr.NotFound)
			if it != nil {
				t.Fatalf("get %s returned %v with the error", k, it)
			}
		}
	})
	t.Run("invalid key", func(t *testing.T) {
		for _, tc := range invalidKeys() {
			t.Run(tc.name, func(t *testing.T) {
				_, err := s.Get(ctx, tc.k)
				wantErr(t, err, store.ErrInvalidRequest, apperr.Invalid)
			})
		}
	})
}

func testBatchGet(t *testing.T, open OpenFunc) {
	t.Parallel()
	s := fresh(t, open)
	ctx := context.Background()
	a, b, c := key(TableItems, "P", "a"), key(TableLedger, "P", "b"), key(TableItems, "Q", "c")
	mustPut(t, s, a, store.Item{"n": store.Int(1)})
	mustPut(t, s, b, store.Item{"n": store.Int(2)})
	mustPut(t, s, c, store.Item{"n": store.Int(3)})

	t.Run("order and missing", func(t *testing.T) {
		keys := []store.Key{c, key(TableItems, "P", "zz"), a, b, key(TableLedger, "P", "a")}
		got, err := s.BatchGet(ctx, keys)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(keys) {
			t.Fatalf("got %d items for %d keys", len(got), len(keys))
		}
		wantN := []int64{3, -1, 1, 2, -1}
		for i, w := range wantN {
			if w < 0 {
				if got[i] != nil {
					t.Fatalf("item %d = %v, want nil", i, got[i])
				}
				continue
			}
			if got[i] == nil || got[i].Int("n") != w || got[i].Str(store.AttrSK) != keys[i].SK {
				t.Fatalf("item %d = %v, want n=%d", i, got[i], w)
			}
		}
	})
	t.Run("max keys", func(t *testing.T) {
		keys := make([]store.Key, store.MaxBatchGet)
		for i := range keys {
			keys[i] = key(TableItems, "P", strings.Repeat("k", i+1))
		}
		keys[57] = a
		got, err := s.BatchGet(ctx, keys)
		if err != nil {
			t.Fatal(err)
		}
		for i, it := range got {
			if (it != nil) != (i == 57) {
				t.Fatalf("item %d = %v", i, it)
			}
		}
	})
	t.Run("too many keys", func(t *testing.T) {
		keys := make([]store.Key, store.MaxBatchGet+1)
		for i := range keys {
			keys[i] = key(TableItems, "P", strings.Repeat("k", i+1))
		}
		_, err := s.BatchGet(ctx, keys)
		wantErr(t, err, store.ErrInvalidRequest, apperr.Invalid)
	})
	t.Run("invalid key", func(t *testing.T) {
		for _, tc := range invalidKeys() {
			_, err := s.BatchGet(ctx, []store.Key{a, tc.k})
			wantErr(t, err, store.ErrInvalidRequest, apperr.Invalid)
		}
	})
}

func testPut(t *testing.T, open OpenFunc) {
	t.Parallel()
	s := fresh(t, open)
	ctx := context.Background()
	k := key(TableItems, "P", "S")

	t.Run("replaces the whole item", func(t *testing.T) {
		mustPut(t, s, k, store.Item{"a": store.Int(1), "b": store.S("x")})
		mustPut(t, s, k, store.Item{"c": store.Bool(true)})
		sameItem(t, mustGet(t, s, k), withKey(k, store.Item{"c": store.Bool(true)}))
	})
	t.Run("key attributes come from the key", func(t *testing.T) {
		k2 := key(TableItems, "P", "S2")
		mustPut(t, s, k2, store.Item{store.AttrPK: store.S("other"), store.AttrSK: store.S("other"), "v": store.Int(7)})
		sameItem(t, mustGet(t, s, k2), withKey(k2, store.Item{"v": store.Int(7)}))
		wantMissing(t, s, key(TableItems, "other", "other"))
	})
	t.Run("caller's item is not changed", func(t *testing.T) {
		it := store.Item{"v": store.Int(1)}
		mustPut(t, s, key(TableItems, "P", "S3"), it)
		if len(it) != 1 {
			t.Fatalf("put changed the caller's item: %v", it)
		}
	})
	t.Run("large item", func(t *testing.T) {
		k3 := key(TableLedger, "P", "large")
		it := store.Item{"blob": store.S(strings.Repeat("z", 300*1024))}
		mustPut(t, s, k3, it)
		if got := mustGet(t, s, k3); got.Str("blob") != it.Str("blob") {
			t.Fatalf("large item came back with %d bytes", len(got.Str("blob")))
		}
	})
	t.Run("invalid", func(t *testing.T) {
		cases := []struct {
			name string
			p    store.Put
		}{
			{"nil item", store.Put{Key: k}},
			{"too large", store.Put{Key: k, Item: store.Item{"blob": store.S(strings.Repeat("z", store.MaxItemSize+1))}}},
			{"attribute without value", store.Put{Key: k, Item: store.Item{"a": {}}}},
			{"empty attribute name", store.Put{Key: k, Item: store.Item{"": store.Int(1)}}},
			{"malformed condition", store.Put{Key: k, Item: store.Item{"a": store.Int(1)}, Cond: &store.Cond{Op: store.CondEq}}},
		}
		for _, kc := range invalidKeys() {
			cases = append(cases, struct {
				name string
				p    store.Put
			}{kc.name, store.Put{Key: kc.k, Item: store.Item{"a": store.Int(1)}}})
		}
		before := mustGet(t, s, k)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				wantErr(t, s.Put(ctx, tc.p), store.ErrInvalidRequest, apperr.Invalid)
			})
		}
		sameItem(t, mustGet(t, s, k), before)
	})
	t.Run("fresh put", func(t *testing.T) {
		// A fresh put (a key with an id generated for the write) stores the
		// item and its index entries like any put that must not exist.
		fk := key(TableItems, "P", "FRESH#01")
		w := store.Write{Put: &store.Put{Key: fk, Item: store.Item{"owner": store.S("fresh-owner"), "created": store.S("c1")},
			Cond: store.ItemNotExists(), Fresh: true}}
		if err := s.Transact(ctx, []store.Write{w}); err != nil {
			t.Fatal(err)
		}
		sameItem(t, mustGet(t, s, fk), withKey(fk, store.Item{"owner": store.S("fresh-owner"), "created": store.S("c1")}))
		got := queryAll(t, s, store.Query{Table: TableItems, Index: IndexOwner, PK: "fresh-owner"}, 10)
		if len(got) != 1 || got[0].Str(store.AttrSK) != "FRESH#01" {
			t.Fatalf("index after a fresh put = %v", got)
		}
		// Without a condition too.
		fk2 := key(TableItems, "P", "FRESH#02")
		if err := s.Put(ctx, store.Put{Key: fk2, Item: store.Item{"v": store.Int(2)}, Fresh: true}); err != nil {
			t.Fatal(err)
		}
		sameItem(t, mustGet(t, s, fk2), withKey(fk2, store.Item{"v": store.Int(2)}))
		// Fresh promises absence, so any other condition is a caller error.
		err := s.Put(ctx, store.Put{Key: key(TableItems, "P", "FRESH#03"), Item: store.Item{"v": store.Int(3)},
			Cond: store.Eq("v", store.Int(1)), Fresh: true})
		wantErr(t, err, store.ErrInvalidRequest, apperr.Invalid)
		wantMissing(t, s, key(TableItems, "P", "FRESH#03"))
	})
	t.Run("condition failed leaves the item", func(t *testing.T) {
		before := mustGet(t, s, k)
		err := s.Put(ctx, store.Put{Key: k, Item: store.Item{"x": store.Int(1)}, Cond: store.ItemNotExists()})
		wantErr(t, err, store.ErrConditionFailed, apperr.Conflict)
		var tx *store.TxCanceledError
		if errors.As(err, &tx) {
			t.Fatalf("a single put returned a transaction error: %v", err)
		}
		sameItem(t, mustGet(t, s, k), before)
	})
}

func testUpdate(t *testing.T, open OpenFunc) {
	t.Parallel()
	s := fresh(t, open)
	ctx := context.Background()

	t.Run("set add remove", func(t *testing.T) {
		k := key(TableLedger, "U", "1")
		mustPut(t, s, k, store.Item{"a": store.S("x"), "n": num("10.25"), "gone": store.Bool(true)})
		got, err := s.Update(ctx, store.Update{Key: k, Actions: []store.Action{
			store.Set("a", store.S("y")),
			store.Set("new", store.Bool(false)),
			store.Add("n", num("-0.25")),
			store.Add("fresh", num("2.5")),
			store.Remove("gone"),
			store.Remove("never_there"),
		}})
		if err != nil {
			t.Fatal(err)
		}
		want := withKey(k, store.Item{"a": store.S("y"), "new": store.Bool(false), "n": num("10"), "fresh": num("2.5")})
		sameItem(t, got, want)
		sameItem(t, mustGet(t, s, k), want)
	})
	t.Run("creates a missing item", func(t *testing.T) {
		k := key(TableLedger, "U", "2")
		got, err := s.Update(ctx, store.Update{Key: k, Actions: []store.Action{store.Add("count", store.Int(1)), store.Set("s", store.S("v"))}})
		if err != nil {
			t.Fatal(err)
		}
		want := withKey(k, store.Item{"count": store.Int(1), "s": store.S("v")})
		sameItem(t, got, want)
		sameItem(t, mustGet(t, s, k), want)
	})
	t.Run("exact decimal arithmetic", func(t *testing.T) {
		cases := []struct {
			name  string
			start string // "" for a missing attribute
			adds  []string
			want  string
		}{
			{"0.1+0.2", "", []string{"0.1", "0.2"}, "0.3"},
			{"cents", "100.10", []string{"-0.01", "-0.09", "0.003"}, "100.003"},
			{"38 digits", "99999999999999999999999999999999999998", []string{"1"}, "99999999999999999999999999999999999999"},
			{"38 digit fraction", "0.1234567890123456789012345678901234567", []string{"0.0000000000000000000000000000000000001"}, "0.1234567890123456789012345678901234568"},
			{"to zero", "5.5", []string{"-5.5"}, "0"},
			{"negative", "1", []string{"-3.75"}, "-2.75"},
		}
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				k := key(TableLedger, "DEC", strings.Repeat("d", i+1))
				if tc.start != "" {
					mustPut(t, s, k, store.Item{"x": num(tc.start)})
				}
				var got store.Item
				for _, a := range tc.adds {
					var err error
					if got, err = s.Update(ctx, store.Update{Key: k, Actions: []store.Action{store.Add("x", num(a))}}); err != nil {
						t.Fatal(err)
					}
				}
				if !got["x"].Equal(num(tc.want)) {
					t.Fatalf("x = %v, want %s", got["x"], tc.want)
				}
				if !mustGet(t, s, k)["x"].Equal(num(tc.want)) {
					t.Fatalf("stored x = %v, want %s", mustGet(t, s, k)["x"], tc.want)
				}
				// The exact result satisfies an exact condition.
				if _, err := s.Update(ctx, store.Update{Key: k, Actions: []store.Action{store.Set("ok", store.Bool(true))}, Cond: store.Eq("x", num(tc.want))}); err != nil {
					t.Fatalf("condition x = %s: %v", tc.want, err)
				}
			})
		}
	})
	t.Run("condition failed", func(t *testing.T) {
		k := key(TableLedger, "U", "3")
		it, err := s.Update(ctx, store.Update{Key: k, Actions: []store.Action{store.Set("a", store.Int(1))}, Cond: store.ItemExists()})
		wantErr(t, err, store.ErrConditionFailed, apperr.Conflict)
		if it != nil {
			t.Fatalf("failed update returned %v", it)
		}
		wantMissing(t, s, k)
	})
	t.Run("invalid", func(t *testing.T) {
		k := key(TableLedger, "U", "4")
		nines := num("99999999999999999999999999999999999999")
		mustPut(t, s, k, store.Item{"str": store.S("x"), "n": store.Int(1), "m": nines})
		cases := []struct {
			name    string
			actions []store.Action
		}{
			{"add to a string", []store.Action{store.Add("str", store.Int(1))}},
			{"add a string", []store.Action{{Op: store.ActAdd, Attr: "n", Value: store.S("1")}}},
			{"set PK", []store.Action{store.Set(store.AttrPK, store.S("x"))}},
			{"remove SK", []store.Action{store.Remove(store.AttrSK)}},
			{"empty attribute", []store.Action{store.Set("", store.Int(1))}},
			{"unknown op", []store.Action{{Op: 99, Attr: "a", Value: store.Int(1)}}},
			{"inexact past 38 digits", []store.Action{store.Add("m", num("0.1"))}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := s.Update(ctx, store.Update{Key: k, Actions: tc.actions})
				if !apperr.Is(err, apperr.Invalid) {
					t.Fatalf("error %v, want kind invalid", err)
				}
			})
		}
		for _, kc := range invalidKeys() {
			_, err := s.Update(ctx, store.Update{Key: kc.k, Actions: []store.Action{store.Set("a", store.Int(1))}})
			wantErr(t, err, store.ErrInvalidRequest, apperr.Invalid)
		}
		sameItem(t, mustGet(t, s, k), withKey(k, store.Item{"str": store.S("x"), "n": store.Int(1), "m": nines}))
	})
	t.Run("past the item size", func(t *testing.T) {
		// Each action is valid; the item it makes is not: refused, nothing
		// written, alone and in a transaction.
		k := key(TableLedger, "U", "5")
		blob := store.Item{"blob": store.S(strings.Repeat("a", 300*1024))}
		mustPut(t, s, k, blob)
		u := store.Update{Key: k, Actions: []store.Action{store.Set("more", store.S(strings.Repeat("b", 150*1024)))}}
		_, err := s.Update(ctx, u)
		wantErr(t, err, store.ErrInvalidRequest, apperr.Invalid)
		other := key(TableLedger, "U", "6")
		err = s.Transact(ctx, []store.Write{{Update: &u}, {Put: &store.Put{Key: other, Item: store.Item{"a": store.Int(1)}}}})
		wantErr(t, err, store.ErrInvalidRequest, apperr.Invalid)
		sameItem(t, mustGet(t, s, k), withKey(k, blob))
		wantMissing(t, s, other)
	})
}

func testDelete(t *testing.T, open OpenFunc) {
	t.Parallel()
	s := fresh(t, open)
	ctx := context.Background()
	k := key(TableItems, "D", "1")
	mustPut(t, s, k, store.Item{"v": store.Int(1)})

	if err := s.Delete(ctx, store.Delete{Key: k, Cond: store.Eq("v", store.Int(2))}); err == nil {
		t.Fatal("delete with a false condition succeeded")
	} else {
		wantErr(t, err, store.ErrConditionFailed, apperr.Conflict)
	}
	mustGet(t, s, k)
	if err := s.Delete(ctx, store.Delete{Key: k, Cond: store.Eq("v", store.Int(1))}); err != nil {
		t.Fatal(err)
	}
	wantMissing(t, s, k)
	// Deleting a missing item without a condition succeeds; with ItemExists it fails.
	if err := s.Delete(ctx, store.Delete{Key: k}); err != nil {
		t.Fatalf("delete of a missing item: %v", err)
	}
	wantErr(t, s.Delete(ctx, store.Delete{Key: k, Cond: store.ItemExists()}), store.ErrConditionFailed, apperr.Conflict)
	for _, kc := range invalidKeys() {
		wantErr(t, s.Delete(ctx, store.Delete{Key: kc.k}), store.ErrInvalidRequest, apperr.Invalid)
	}
}

func testPing(t *testing.T, open OpenFunc) {
	t.Parallel()
	s := fresh(t, open)
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("ping: %v", err)
	}
}

// testDeferSync: writes under store.DeferSync behave like any other (their
// conditions, their visibility) and Sync succeeds. What a crash keeps is
// engine-specific (store/embedded tests it).
func testDeferSync(t *testing.T, open OpenFunc) {
	t.Parallel()
	s := fresh(t, open)
	ctx := store.DeferSync(context.Background())
	k := key(TableItems, "D", "1")
	if err := s.Put(ctx, store.Put{Key: k, Item: store.Item{"v": store.Int(1)}, Cond: store.ItemNotExists()}); err != nil {
		t.Fatalf("deferred put: %v", err)
	}
	sameItem(t, mustGet(t, s, k), withKey(k, store.Item{"v": store.Int(1)}))
	err := s.Transact(ctx, []store.Write{{Put: &store.Put{Key: k, Item: store.Item{"v": store.Int(2)}, Cond: store.ItemNotExists()}}})
	if !errors.Is(err, store.ErrConditionFailed) {
		t.Fatalf("deferred transact against a deferred put: %v, want ErrConditionFailed", err)
	}
	if _, err := s.Update(ctx, store.Update{Key: k, Actions: []store.Action{store.Set("v", store.Int(3))}}); err != nil {
		t.Fatalf("deferred update: %v", err)
	}
	if err := s.Sync(context.Background()); err != nil {
		t.Fatalf("sync: %v", err)
	}
	sameItem(t, mustGet(t, s, k), withKey(k, store.Item{"v": store.Int(3)}))
}

func testContext(t *testing.T, open OpenFunc) {
	t.Parallel()
	s := fresh(t, open)
	k := key(TableItems, "C", "1")
	mustPut(t, s, k, store.Item{"v": store.Int(1)})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	k2 := key(TableItems, "C", "2")
	calls := []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, err := s.Get(ctx, k); return err }},
		{"BatchGet", func() error { _, err := s.BatchGet(ctx, []store.Key{k}); return err }},
		{"Put", func() error { return s.Put(ctx, store.Put{Key: k2, Item: store.Item{"v": store.Int(1)}}) }},
		{"Update", func() error {
			_, err := s.Update(ctx, store.Update{Key: k, Actions: []store.Action{store.Set("v", store.Int(9))}})
			return err
		}},
		{"Delete", func() error { return s.Delete(ctx, store.Delete{Key: k}) }},
		{"Transact", func() error {
			return s.Transact(ctx, []store.Write{{Put: &store.Put{Key: k2, Item: store.Item{"v": store.Int(1)}}}})
		}},
		{"Query", func() error { _, err := s.Query(ctx, store.Query{Table: TableItems, PK: "C"}); return err }},
		{"Ping", func() error { return s.Ping(ctx) }},
		{"Sync", func() error { return s.Sync(ctx) }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			if err := c.call(); !errors.Is(err, context.Canceled) {
				t.Fatalf("%s with a canceled context: %v, want context.Canceled", c.name, err)
			}
		})
	}
	// Nothing was written.
	sameItem(t, mustGet(t, s, k), withKey(k, store.Item{"v": store.Int(1)}))
	wantMissing(t, s, k2)
}
