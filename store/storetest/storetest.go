// Package storetest is the contract suite of store.Store: every engine runs
// it (store/embedded in its tests, store/dynamodb against DynamoDB Local), so
// that the DAOs written once against the contract behave the same on all.
//
// The suite tests only what the contract promises: results, errors (their
// sentinels and apperr kinds), atomicity and isolation under concurrency.
// It never looks inside an engine and never asserts timings.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/store"
)

// Tables and indexes of the suite's schema.
const (
	// TableItems has two indexes: IndexOwner (owner, created) and IndexStatus
	// (status, SK).
	TableItems = "items"
	// TableLedger has no index.
	TableLedger = "ledger"

	IndexOwner  = "by_owner"
	IndexStatus = "by_status"
)

// Schemas returns the tables every subtest opens.
func Schemas() []store.TableSchema {
	return []store.TableSchema{
		{Name: TableItems, Indexes: []store.IndexSchema{
			{Name: IndexOwner, PK: "owner", SK: "created"},
			{Name: IndexStatus, PK: "status", SK: store.AttrSK},
		}},
		{Name: TableLedger},
	}
}

// OpenFunc opens a fresh, empty store with the given tables. It registers
// the store's Close with t.Cleanup.
type OpenFunc func(t *testing.T, schemas []store.TableSchema) store.Store

// Run runs the whole contract suite against the engine that open makes,
// one fresh store per subtest.
func Run(t *testing.T, open func(t *testing.T, schemas []store.TableSchema) store.Store) {
	groups := []struct {
		name string
		run  func(t *testing.T, open OpenFunc)
	}{
		{"Get", testGet},
		{"BatchGet", testBatchGet},
		{"Put", testPut},
		{"Conditions", testConditions},
		{"Update", testUpdate},
		{"Delete", testDelete},
		{"Transact", testTransact},
		{"Query", testQuery},
		{"Scan", testScan},
		{"Index", testIndex},
		{"Ping", testPing},
		{"DeferSync", testDeferSync},
		{"Context", testContext},
		{"Concurrency", testConcurrency},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) { g.run(t, open) })
	}
}

// fresh opens a fresh store with the suite's schema.
func fresh(t *testing.T, open OpenFunc) store.Store {
	t.Helper()
	return open(t, Schemas())
}

func key(table, pk, sk string) store.Key { return store.Key{Table: table, PK: pk, SK: sk} }

func mustPut(t *testing.T, s store.Store, k store.Key, it store.Item) {
	t.Helper()
	if err := s.Put(context.Background(), store.Put{Key: k, Item: it}); err != nil {
		t.Fatalf("put %s: %v", k, err)
	}
}

func mustGet(t *testing.T, s store.Store, k store.Key) store.Item {
	t.Helper()
	it, err := s.Get(context.Background(), k)
	if err != nil {
		t.Fatalf("get %s: %v", k, err)
	}
	return it
}

// wantMissing fails unless k does not exist.
func wantMissing(t *testing.T, s store.Store, k store.Key) {
	t.Helper()
	it, err := s.Get(context.Background(), k)
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get %s = %v, %v; want ErrNotFound", k, it, err)
	}
}

// wantErr fails unless err wraps target and has apperr kind kind.
func wantErr(t *testing.T, err, target error, kind apperr.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", target)
	}
	if !errors.Is(err, target) {
		t.Fatalf("error %v does not wrap %v", err, target)
	}
	if got := apperr.KindOf(err); got != kind {
		t.Fatalf("error %v has kind %q, want %q", err, got, kind)
	}
}

// sameItem fails unless got and want have the same attributes with equal
// values (numbers compare numerically, as the contract's Equal does).
func sameItem(t *testing.T, got, want store.Item) {
	t.Helper()
	if diff := itemDiff(got, want); diff != "" {
		t.Fatalf("item differs: %s\n got: %v\nwant: %v", diff, got, want)
	}
}

func itemDiff(got, want store.Item) string {
	if (got == nil) != (want == nil) {
		return fmt.Sprintf("nil item: got %v, want %v", got == nil, want == nil)
	}
	names := map[string]bool{}
	for n := range got {
		names[n] = true
	}
	for n := range want {
		names[n] = true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	for _, n := range sorted {
		g, gok := got[n]
		w, wok := want[n]
		switch {
		case !gok:
			return fmt.Sprintf("attribute %q missing", n)
		case !wok:
			return fmt.Sprintf("unexpected attribute %q = %v", n, g)
		case !g.Equal(w):
			return fmt.Sprintf("attribute %q = %v, want %v", n, g, w)
		}
	}
	return ""
}

// withKey returns a copy of it with the key attributes of k.
func withKey(k store.Key, it store.Item) store.Item {
	out := it.Clone()
	if out == nil {
		out = store.Item{}
	}
	out[store.AttrPK] = store.S(k.PK)
	out[store.AttrSK] = store.S(k.SK)
	return out
}

func num(text string) store.Value { return store.MustN(text) }
