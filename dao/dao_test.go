package dao_test

import (
	"context"
	"errors"
	"testing"

	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/store"
)

// TestAssetGetQuote: the quote of a stored asset; found false for an
// unknown one; a store error is returned.
func TestAssetGetQuote(t *testing.T) {
	d := newDAOs(t)
	ctx := context.Background()
	if err := d.Assets.Create(ctx, newAsset("BTC", "65000.5", 1)); err != nil {
		t.Fatal(err)
	}
	q, found, err := d.Assets.GetQuote(ctx, "BTC")
	if want := (dao.Quote{AssetID: "BTC", PriceUSD: dec("65000.5"), IsActive: true}); err != nil || !found ||
		q.AssetID != want.AssetID || !q.PriceUSD.Equal(want.PriceUSD) || q.IsActive != want.IsActive {
		t.Fatalf("GetQuote(BTC) = %+v, %v, %v", q, found, err)
	}
	if q, found, err := d.Assets.GetQuote(ctx, "NONE"); err != nil || found || q != (dao.Quote{}) {
		t.Fatalf("GetQuote(NONE) = %+v, %v, %v", q, found, err)
	}
	if _, found, err := d.Assets.GetQuote(canceled(), "BTC"); err == nil || found {
		t.Fatalf("GetQuote with a canceled context = %v, %v", found, err)
	}
}

// TestDAOsTransactAndSync: DAOs.Transact applies a transaction's writes
// together or not at all; Sync succeeds on a live store.
func TestDAOsTransactAndSync(t *testing.T) {
	d := newDAOs(t)
	ctx := store.DeferSync(context.Background())
	if err := d.Transact(ctx, []store.Write{d.Balances.CreateWrite("alice", entity.USD, t0)}); err != nil {
		t.Fatal(err)
	}
	// The second write fails its condition: neither is applied.
	err := d.Transact(ctx, []store.Write{d.Balances.CreateWrite("alice", entity.EUR, t0), d.Balances.CreateWrite("alice", entity.USD, t0)})
	if !errors.Is(err, store.ErrConditionFailed) {
		t.Fatalf("Transact over an existing balance: %v", err)
	}
	if err := d.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if bs, err := d.Balances.List(context.Background(), "alice"); err != nil || len(bs) != 1 || bs[0].Currency != entity.USD {
		t.Fatalf("balances: %+v, %v", bs, err)
	}
}
