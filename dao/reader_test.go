package dao_test

import (
	"context"
	"strings"
	"testing"

	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/store"
)

// TestCorruptItems writes items with values the DAOs cannot decode straight
// through the store; every read path that meets one reports an error naming
// the item or attribute, instead of returning a zero value.
func TestCorruptItems(t *testing.T) {
	u := newDAOs(t)
	d := dao.NewIndexed(dao.StoreOf(u), u.Tables, testIndexer)
	ctx := context.Background()
	tb := d.Tables
	users := func(pk, sk string) store.Key { return store.Key{Table: tb.Users, PK: pk, SK: sk} }
	ts := store.S("2026-11-25T12:00:00.000000Z")
	tooSmall := store.MustN("1E-70") // a valid store number, beyond a Decimal's 60 places

	// Cash: a non-number balance, a bad timestamp, a bad stored available.
	put(t, d, users("USER#cash1", "BALANCE#USD"), store.Item{"username": store.S("cash1"), "currency": store.S("USD"),
		"current": store.S("lots"), "created_at": ts, "version": store.Int(1)})
	put(t, d, users("USER#cash2", "BALANCE#USD"), store.Item{"current": store.Int(1), "created_at": store.S("yesterday")})
	put(t, d, users("USER#cash3", "BALANCE#USD"), store.Item{"current": store.Int(1), "available": tooSmall})
	put(t, d, users("USER#cash1", "TX#01"), store.Item{"transaction_id": store.S("01"), "amount": tooSmall, "created_at": ts})
	put(t, d, users("USER#cash2", "TX#01"), store.Item{"transaction_id": store.S("01"), "amount": store.Int(1), "created_at": store.S("2026-13-01")})
	// Holdings and movements.
	put(t, d, users("USER#hold1", "ASSET#BTC"), store.Item{"quantity": store.Int(2), "cost_basis": store.S("x")})
	put(t, d, users("USER#hold1", "ATX#BTC#01"), store.Item{"quantity": store.Int(1), "price": store.S("x")})
	put(t, d, users("USER#hold2", "ATX#BTC#01"), store.Item{"quantity": store.Int(1), "timestamp": store.S("noon")})
	put(t, d, users("USER#hold3", "TX#01"), store.Item{"transaction_type": store.S("order_sale"), "amount": store.Int(1),
		"created_at": ts, "asset_id": store.S("BTC"), "quantity": store.S("x"), "price": store.Int(1)})
	put(t, d, users("USER#hold3", "ASSET#BTC"), store.Item{"quantity": store.Int(1)})
	// Documents.
	put(t, d, users("USER#doc1", "PROFILE"), store.Item{"doc": store.S("{not json"), "version": store.Int(1)})
	put(t, d, users("EMAIL#doc1@example.com", "EMAIL"), store.Item{"username": store.S("doc1")})
	put(t, d, store.Key{Table: tb.Orders, PK: "USER#doc1", SK: "ORDER#01"}, store.Item{"doc": store.S(`{"quantity":"abc"}`),
		"trig_pk": store.S("BTC#buy"), "trig_sk": store.S("x")})
	put(t, d, store.Key{Table: tb.Inventory, PK: "ASSET#BAD", SK: "ASSET"}, store.Item{"doc": store.S(`[]`),
		"rank_pk": store.S("ALL"), "rank_sk": store.S("0000000001#BAD"), "cat_pk": store.S("CAT#x"), "cat_sk": store.S("0000000001#BAD")})
	// Price points: a bad price, a bad time, a bad sequence number.
	inv := func(sk string) store.Key { return store.Key{Table: tb.Inventory, PK: "ASSET#PP", SK: sk} }
	put(t, d, inv("PRICE#2026-11-25T12:00:00.000000Z#0000000001"), store.Item{"price_usd": store.S("1"), "at": ts})
	put(t, d, inv("PRICE#2026-11-25T12:00:01.000000Z#0000000002"), store.Item{"price_usd": store.Int(1), "at": store.S("later")})
	put(t, d, inv("PRICE#2026-11-25T12:00:02.000000Z#seq"), store.Item{"price_usd": store.Int(1), "at": ts})

	all := store.SortCond{}
	tests := []struct {
		name string
		call func() error
		want string // in the error text
	}{
		{"Balances.Get", func() error { _, err := d.Balances.Get(ctx, "cash1", entity.USD); return err },
			"attribute current of USER#cash1/BALANCE#USD: invalid decimal"},
		{"Balances.Get time", func() error { _, err := d.Balances.Get(ctx, "cash2", entity.USD); return err },
			`attribute created_at: parsing time "yesterday"`},
		{"Balances.List", func() error { _, err := d.Balances.List(ctx, "cash1"); return err }, "attribute current"},
		{"Balances.ListStored", func() error { _, err := d.Balances.ListStored(ctx, "cash1"); return err }, "attribute current"},
		{"Balances.ListStored available", func() error { _, err := d.Balances.ListStored(ctx, "cash3"); return err },
			"attribute available of USER#cash3/BALANCE#USD: invalid decimal"},
		{"Balances.GetTransaction", func() error { _, err := d.Balances.GetTransaction(ctx, "cash1", "01"); return err },
			"attribute amount of USER#cash1/TX#01"},
		{"Balances.GetTransaction time", func() error { _, err := d.Balances.GetTransaction(ctx, "cash2", "01"); return err },
			"attribute created_at"},
		{"Balances.ListTransactions", func() error {
			_, _, err := d.Balances.ListTransactions(ctx, "cash1", dao.TxFilter{Limit: 5})
			return err
		}, "attribute amount"},
		{"Balances.AllTransactions", func() error { _, err := d.Balances.AllTransactions(ctx, "cash2"); return err }, "attribute created_at"},
		{"Holdings.Get", func() error { _, err := d.Holdings.Get(ctx, "hold1", "BTC"); return err },
			"attribute cost_basis of USER#hold1/ASSET#BTC"},
		{"Holdings.List", func() error { _, err := d.Holdings.List(ctx, "hold1"); return err }, "attribute cost_basis"},
		{"AssetTxs.List", func() error { _, _, err := d.AssetTxs.List(ctx, "hold1", "BTC", 5, ""); return err },
			"attribute price of USER#hold1/ATX#BTC#01"},
		{"AssetTxs.All", func() error { _, err := d.AssetTxs.All(ctx, "hold2"); return err }, "attribute timestamp"},
		{"AssetTxs.List fill", func() error { _, _, err := d.AssetTxs.List(ctx, "hold3", "BTC", 5, ""); return err },
			"attribute quantity of USER#hold3/TX#01"},
		{"AssetTxs.All fill", func() error { _, err := d.AssetTxs.All(ctx, "hold3"); return err }, "attribute quantity"},
		{"Balances.GetTransaction fill", func() error { _, err := d.Balances.GetTransaction(ctx, "hold3", "01"); return err },
			"attribute quantity"},
		{"Users.GetByUsername", func() error { _, err := d.Users.GetByUsername(ctx, "doc1"); return err }, "decode USER#doc1/PROFILE: "},
		{"Users.GetByEmail", func() error { _, err := d.Users.GetByEmail(ctx, "doc1@example.com"); return err }, "decode USER#doc1/PROFILE: "},
		{"Orders.Get", func() error { _, err := d.Orders.Get(ctx, "doc1", "01"); return err }, "decode USER#doc1/ORDER#01: "},
		{"Orders.ListByUser", func() error {
			_, _, err := d.Orders.ListByUser(ctx, "doc1", dao.OrderFilter{Limit: 5})
			return err
		}, "decode USER#doc1/ORDER#01: "},
		{"Orders.AllByUser", func() error { _, err := d.Orders.AllByUser(ctx, "doc1"); return err }, "decode USER#doc1/ORDER#01: "},
		{"Orders.OpenIn", func() error {
			_, _, err := d.Orders.OpenIn(ctx, dao.IndexOpenOrders, "BTC#buy", all, 5, "")
			return err
		}, "decode USER#doc1/ORDER#01: "},
		{"Assets.Get", func() error { _, err := d.Assets.Get(ctx, "BAD"); return err }, "decode ASSET#BAD/ASSET: "},
		{"Assets.Modify", func() error {
			_, err := d.Assets.Modify(ctx, "BAD", t0, func(*entity.Asset) error { return nil })
			return err
		}, "decode ASSET#BAD/ASSET: "},
		{"Assets.List", func() error { _, _, err := d.Assets.List(ctx, dao.AssetFilter{Limit: 5}); return err }, "decode ASSET#BAD/ASSET: "},
		{"Assets.List category", func() error {
			_, _, err := d.Assets.List(ctx, dao.AssetFilter{Category: "x", Limit: 5})
			return err
		}, "decode ASSET#BAD/ASSET: "},
		{"Assets.All", func() error { _, err := d.Assets.All(ctx); return err }, "decode ASSET#BAD/ASSET: "},
		{"PriceHistory price", func() error {
			_, _, err := d.Assets.PriceHistory(ctx, "PP", t0, t0, 10)
			return err
		}, "price history of PP: attribute price_usd"},
		{"PriceHistory time", func() error {
			_, _, err := d.Assets.PriceHistory(ctx, "PP", t0.Add(1e9), t0.Add(1e9), 10)
			return err
		}, "price history of PP: attribute at"},
		{"PriceHistory seq", func() error {
			_, _, err := d.Assets.PriceHistory(ctx, "PP", t0.Add(2e9), t0.Add(2e9), 10)
			return err
		}, `price history of PP: sort key "PRICE#2026-11-25T12:00:02.000000Z#seq"`},
	}
	for _, tc := range tests {
		err := tc.call()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	// Without a holding of the asset, its history does not read the ledger
	// (whose unreadable fill would fail it).
	if txs, next, err := d.AssetTxs.List(ctx, "hold3", "ETH", 5, ""); err != nil || txs != nil || next != "" {
		t.Errorf("AssetTxs.List without a holding = %v, %q, %v", txs, next, err)
	}
	// Decoders of raw items report the same.
	it, err := dao.StoreOf(d).Get(ctx, users("USER#hold1", "ASSET#BTC"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Holdings.Decode(it); err == nil || !strings.Contains(err.Error(), "attribute cost_basis") {
		t.Errorf("Holdings.Decode: %v", err)
	}
	if _, err := d.Orders.Decode(store.Item{"doc": store.S("")}); err == nil {
		t.Error("Orders.Decode of an empty document: no error")
	}
	if _, err := d.Assets.Decode(store.Item{}); err == nil {
		t.Error("Assets.Decode of an item without a document: no error")
	}
	// A store failure names the asset.
	if _, _, err := d.Assets.PriceHistory(canceled(), "PP", t0, t0, 10); err == nil || !strings.HasPrefix(err.Error(), "price history of PP: ") {
		t.Errorf("PriceHistory canceled: %v", err)
	}
}
