package dao_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/testenv"
)

// newDAOs opens a fresh store on the engine under test (testenv: embedded,
// or DynamoDB Local with STORE_ENGINE=dynamodb) and returns its DAOs.
func newDAOs(t *testing.T) *dao.DAOs {
	t.Helper()
	db, tables := testenv.Store(t)
	return dao.New(db, tables)
}

func dec(s string) decimal.Decimal { return decimal.MustParse(s) }

func decp(s string) *decimal.Decimal { d := dec(s); return &d }

// canceled returns a context that is already canceled: every store call
// made with it fails before doing I/O (the store contract), which reaches
// the DAOs' store-error paths.
func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// wantKind fails unless err has kind k.
func wantKind(t *testing.T, what string, err error, k apperr.Kind) {
	t.Helper()
	if !apperr.Is(err, k) {
		t.Fatalf("%s: error %v (kind %q), want kind %q", what, err, apperr.KindOf(err), k)
	}
}

// wantCanceled fails unless err is a store failure caused by a canceled
// context, wrapped with the DAO's context prefix.
func wantCanceled(t *testing.T, what string, err error, prefix string) {
	t.Helper()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("%s: error %v, want context.Canceled", what, err)
	}
	if !strings.HasPrefix(err.Error(), prefix) {
		t.Fatalf("%s: error %q, want prefix %q", what, err, prefix)
	}
}

// put writes a raw item straight through the store (corrupt values).
func put(t *testing.T, d *dao.DAOs, k store.Key, it store.Item) {
	t.Helper()
	if err := dao.StoreOf(d).Put(context.Background(), store.Put{Key: k, Item: it}); err != nil {
		t.Fatal(err)
	}
}
