package dao_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/page"
	"github.com/orderprocessor/orderprocessor/store"
)

// holdingState renders a holding as
// "quantity/held/available cost=<cost_basis> avg=<average> buys=<n> v<version>".
func holdingState(h *dao.HoldingRecord) string {
	return fmt.Sprintf("%s/%s/%s cost=%s avg=%s buys=%d v%d", h.Quantity, h.HeldQuantity, h.StoredAvailable,
		h.CostBasis, h.AverageCost, h.Buys, h.Version)
}

// sellWrite is SellWrite of a sale for nothing, without a fee (the tests of
// quantities and cost basis).
func sellWrite(d *dao.DAOs, h *dao.HoldingRecord, qty decimal.Decimal, fromHeld bool, now time.Time) store.Write {
	w, _ := d.Holdings.SellWrite(h, qty, decimal.Zero, decimal.Zero, fromHeld, now)
	return w
}

func getHolding(t *testing.T, d *dao.DAOs, user, asset string) *dao.HoldingRecord {
	t.Helper()
	h, err := d.Holdings.Get(context.Background(), user, asset)
	if err != nil {
		t.Fatalf("Get holding %s/%s: %v", user, asset, err)
	}
	if !h.StoredAvailable.Equal(h.Available()) {
		t.Fatalf("stored available %s != %s - %s", h.StoredAvailable, h.Quantity, h.HeldQuantity)
	}
	return h
}

func transact(d *dao.DAOs, ws ...store.Write) error {
	return dao.StoreOf(d).Transact(context.Background(), ws)
}

func TestHoldingBuySellHold(t *testing.T) {
	d := newDAOs(t)
	ctx := context.Background()
	t1 := t0.Add(time.Minute)

	// A first buy creates the holding.
	if err := transact(d, d.Holdings.BuyWrite("alice", "BTC", dec("2"), dec("30000.50"), dec("0"), t0)); err != nil {
		t.Fatal(err)
	}
	h := getHolding(t, d, "alice", "BTC")
	want := &dao.HoldingRecord{Holding: entity.Holding{Username: "alice", AssetID: "BTC", Quantity: dec("2"),
		AverageCost: dec("15000.25"), CreatedAt: entity.At(t0), UpdatedAt: entity.At(t0), Version: 1},
		CostBasis: dec("30000.5"), Buys: 1, StoredAvailable: dec("2"), Bought: dec("2"), Fees: dec("0"), Current: true}
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("after buy %+v\nwant %+v", h, want)
	}
	steps := []struct {
		name string
		w    func(h *dao.HoldingRecord) store.Write
		ok   bool
		want string
	}{
		{"buy more", func(*dao.HoldingRecord) store.Write {
			return d.Holdings.BuyWrite("alice", "BTC", dec("1"), dec("10000"), dec("0"), t1)
		},
			true, "3/0/3 cost=40000.5 avg=13333.5 buys=2 v2"},
		// A sale takes cost out at the average: the average stays.
		{"sell 1", func(h *dao.HoldingRecord) store.Write { return sellWrite(d, h, dec("1"), false, t1) },
			true, "2/0/2 cost=26667 avg=13333.5 buys=2 v3"},
		{"sell beyond available", func(h *dao.HoldingRecord) store.Write { return sellWrite(d, h, dec("2.00000001"), false, t1) },
			false, "2/0/2 cost=26667 avg=13333.5 buys=2 v3"},
		{"hold", func(*dao.HoldingRecord) store.Write { return d.Holdings.HoldWrite("alice", "BTC", dec("1.5"), t1) },
			true, "2/1.5/0.5 cost=26667 avg=13333.5 buys=2 v4"},
		{"hold beyond available", func(*dao.HoldingRecord) store.Write {
			return d.Holdings.HoldWrite("alice", "BTC", dec("0.50000001"), t1)
		},
			false, "2/1.5/0.5 cost=26667 avg=13333.5 buys=2 v4"},
		{"sell available below held", func(h *dao.HoldingRecord) store.Write { return sellWrite(d, h, dec("0.6"), false, t1) },
			false, "2/1.5/0.5 cost=26667 avg=13333.5 buys=2 v4"},
		{"release beyond held", func(*dao.HoldingRecord) store.Write {
			return d.Holdings.HoldWrite("alice", "BTC", dec("-1.50000001"), t1)
		},
			false, "2/1.5/0.5 cost=26667 avg=13333.5 buys=2 v4"},
		{"release part", func(*dao.HoldingRecord) store.Write { return d.Holdings.HoldWrite("alice", "BTC", dec("-0.5"), t1) },
			true, "2/1/1 cost=26667 avg=13333.5 buys=2 v5"},
		// A sale from held consumes the hold, available unchanged.
		{"sell from held", func(h *dao.HoldingRecord) store.Write { return sellWrite(d, h, dec("0.5"), true, t1) },
			true, "1.5/0.5/1 cost=20000.25 avg=13333.5 buys=2 v6"},
		{"sell from held beyond held", func(h *dao.HoldingRecord) store.Write { return sellWrite(d, h, dec("0.6"), true, t1) },
			false, "1.5/0.5/1 cost=20000.25 avg=13333.5 buys=2 v6"},
		// Selling everything takes the whole cost basis.
		{"sell rest from held", func(h *dao.HoldingRecord) store.Write { return sellWrite(d, h, dec("0.5"), true, t1) },
			true, "1/0/1 cost=13333.5 avg=13333.5 buys=2 v7"},
		{"sell all", func(h *dao.HoldingRecord) store.Write { return sellWrite(d, h, dec("1"), false, t1) },
			true, "0/0/0 cost=0 avg=0 buys=2 v8"},
		{"sell from empty", func(h *dao.HoldingRecord) store.Write { return sellWrite(d, h, dec("0.00000001"), false, t1) },
			false, "0/0/0 cost=0 avg=0 buys=2 v8"},
		// A new buy after selling out starts a fresh average.
		{"buy again", func(*dao.HoldingRecord) store.Write {
			return d.Holdings.BuyWrite("alice", "BTC", dec("3"), dec("1"), dec("0"), t1)
		},
			true, "3/0/3 cost=1 avg=0.33333333 buys=3 v9"},
		// Pro rata at 10 places: 1 * 1/3 = 0.3333333333 out.
		{"sell a third", func(h *dao.HoldingRecord) store.Write { return sellWrite(d, h, dec("1"), false, t1) },
			true, "2/0/2 cost=0.6666666667 avg=0.33333333 buys=3 v10"},
	}
	for _, s := range steps {
		h := getHolding(t, d, "alice", "BTC")
		err := transact(d, s.w(h))
		if s.ok != (err == nil) {
			t.Fatalf("%s: %v, want ok=%v", s.name, err, s.ok)
		}
		if !s.ok && !errors.Is(err, store.ErrConditionFailed) {
			t.Fatalf("%s: %v, want a condition failure", s.name, err)
		}
		if got := holdingState(getHolding(t, d, "alice", "BTC")); got != s.want {
			t.Fatalf("%s: %s\nwant %s", s.name, got, s.want)
		}
	}
	if h := getHolding(t, d, "alice", "BTC"); !h.CreatedAt.Equal(t0) || !h.UpdatedAt.Equal(t1) {
		t.Fatalf("timestamps %v %v", h.CreatedAt, h.UpdatedAt)
	}

	// A sale written from a read older than a buy fails on the buys
	// counter, although the quantity is there; a re-read succeeds (1.5 of 3
	// takes 5.6666666667 * 1.5 / 3 = 2.83333333335 -> 2.8333333334 half-even).
	stale := getHolding(t, d, "alice", "BTC")
	if err := transact(d, d.Holdings.BuyWrite("alice", "BTC", dec("1"), dec("5"), dec("0"), t1)); err != nil {
		t.Fatal(err)
	}
	if err := transact(d, sellWrite(d, stale, dec("1"), false, t1)); !errors.Is(err, store.ErrConditionFailed) {
		t.Fatalf("sale after a concurrent buy: %v", err)
	}
	fresh := getHolding(t, d, "alice", "BTC")
	if got := holdingState(fresh); got != "3/0/3 cost=5.6666666667 avg=1.88888889 buys=4 v11" {
		t.Fatalf("after concurrent buy: %s", got)
	}
	if err := transact(d, sellWrite(d, fresh, dec("1.5"), false, t1)); err != nil {
		t.Fatal(err)
	}
	if got := holdingState(getHolding(t, d, "alice", "BTC")); got != "1.5/0/1.5 cost=2.8333333333 avg=1.88888889 buys=4 v12" {
		t.Fatalf("after re-read sale: %s", got)
	}

	// Holds and releases of a missing holding fail and create nothing.
	for _, q := range []string{"1", "-1"} {
		if err := transact(d, d.Holdings.HoldWrite("alice", "ETH", dec(q), t1)); !errors.Is(err, store.ErrConditionFailed) {
			t.Fatalf("hold %s of a missing holding: %v", q, err)
		}
	}
	_, err := d.Holdings.Get(ctx, "alice", "ETH")
	wantKind(t, "Get ETH", err, apperr.NotFound)
	if msg := apperr.MessageOf(err); msg != "no holding of ETH" {
		t.Fatalf("message %q", msg)
	}
	_, err = d.Holdings.Get(canceled(), "alice", "BTC")
	if !errors.Is(err, context.Canceled) || apperr.Is(err, apperr.NotFound) {
		t.Fatalf("Get canceled: %v", err)
	}
}

func TestHoldingListKeyDecode(t *testing.T) {
	d := newDAOs(t)
	ctx := context.Background()
	if err := transact(d,
		d.Holdings.BuyWrite("alice", "ETH", dec("4"), dec("10"), dec("0"), t0),
		d.Holdings.BuyWrite("alice", "BTC", dec("1"), dec("3"), dec("0"), t0),
		d.Holdings.BuyWrite("bobby1", "BTC", dec("9"), dec("9"), dec("0"), t0),
		d.Balances.CreateWrite("alice", entity.USD, t0),
		d.Balances.TransactionWrite(fillEntry(newAssetTx("01", "BTC", "BUY", "1", t0))),
	); err != nil {
		t.Fatal(err)
	}
	list, err := d.Holdings.List(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range list {
		got = append(got, h.AssetID+" "+holdingState(h))
	}
	if s := strings.Join(got, "; "); s != "BTC 1/0/1 cost=3 avg=3 buys=1 v1; ETH 4/0/4 cost=10 avg=2.5 buys=1 v1" {
		t.Fatalf("List = %s", s)
	}
	// Key and Decode: a batch read decodes to what Get returns.
	items, err := dao.StoreOf(d).BatchGet(ctx, []store.Key{d.Holdings.Key("alice", "ETH"), d.Holdings.Key("alice", "XRP"), d.Holdings.Key("bobby1", "BTC")})
	if err != nil {
		t.Fatal(err)
	}
	if items[1] != nil {
		t.Fatalf("XRP: %v", items[1])
	}
	for i, k := range [][2]string{{"alice", "ETH"}, {}, {"bobby1", "BTC"}} {
		if items[i] == nil {
			continue
		}
		h, err := d.Holdings.Decode(items[i])
		if err != nil || !reflect.DeepEqual(h, getHolding(t, d, k[0], k[1])) {
			t.Fatalf("Decode %v = %+v, %v", k, h, err)
		}
	}
	if list, err := d.Holdings.List(ctx, "nobody"); err != nil || len(list) != 0 {
		t.Fatalf("List(nobody) = %v, %v", list, err)
	}
	_, err = d.Holdings.List(canceled(), "alice")
	wantCanceled(t, "List", err, "list holdings: ")
}

func newAssetTx(id, asset, typ string, qty string, at time.Time) *entity.AssetTransaction {
	return &entity.AssetTransaction{TransactionID: id, Username: "alice", AssetID: asset, TransactionType: entity.AssetTxType(typ),
		Quantity: dec(qty), Price: dec("2.5"), TotalAmount: dec(qty).Mul(dec("2.5")), OrderID: "ORD-" + id,
		Status: entity.TxCompleted, Timestamp: entity.At(at)}
}

// fillEntry returns the ledger entry of the fill that moved m.
func fillEntry(m *entity.AssetTransaction) *entity.BalanceTransaction {
	typ, amount := entity.TxOrderPayment, m.TotalAmount.Neg()
	if m.TransactionType == entity.AssetSell {
		typ, amount = entity.TxOrderSale, m.TotalAmount
	}
	return &entity.BalanceTransaction{TransactionID: m.TransactionID, Username: m.Username, TransactionType: typ,
		Amount: amount, Currency: entity.USD, Status: m.Status, Description: "fill", ReferenceID: m.OrderID,
		CreatedAt: m.Timestamp, Asset: &entity.AssetLeg{AssetID: m.AssetID, Quantity: m.Quantity, Price: m.Price}}
}

// ownMovement is a movement item of its own, as a store holds it for a fill
// entry without an asset leg.
func ownMovement(m *entity.AssetTransaction) store.Item {
	return store.Item{"transaction_id": store.S(m.TransactionID), "username": store.S(m.Username),
		"asset_id": store.S(m.AssetID), "transaction_type": store.S(string(m.TransactionType)),
		"quantity": store.MustN(m.Quantity.String()), "price": store.MustN(m.Price.String()),
		"total_amount": store.MustN(m.TotalAmount.String()), "order_id": store.S(m.OrderID),
		"status": store.S(string(m.Status)), "timestamp": store.S(entity.FormatTime(m.Timestamp.Time))}
}

func TestAssetTransactions(t *testing.T) {
	d := newDAOs(t)
	ctx := context.Background()
	// Movements of their own of an older store (older ids than the ledger's).
	var oldBTC, oldETH []*entity.AssetTransaction
	for i, asset := range []string{"BTC", "ETH", "BTC"} {
		m := newAssetTx(fmt.Sprintf("00K%03d", i), asset, "BUY", "4", t0.Add(-time.Hour))
		put(t, d, store.Key{Table: d.Tables.Users, PK: "USER#alice", SK: "ATX#" + asset + "#" + m.TransactionID}, ownMovement(m))
		if asset == "BTC" {
			oldBTC = append(oldBTC, m)
		} else {
			oldETH = append(oldETH, m)
		}
	}
	// Fills in the ledger, between entries that are not movements.
	var btc, eth, fills []*entity.AssetTransaction
	other := func(id string, typ entity.TransactionType, asset *entity.AssetLeg) {
		t.Helper()
		if err := d.Balances.CreateTransaction(ctx, &entity.BalanceTransaction{TransactionID: id, Username: "alice",
			TransactionType: typ, Amount: dec("1"), Currency: entity.USD, Status: entity.TxCompleted, CreatedAt: entity.At(t0), Asset: asset}); err != nil {
			t.Fatal(err)
		}
	}
	other("01J000D", entity.TxDeposit, nil)
	for i := range 10 {
		m := newAssetTx(fmt.Sprintf("01J%03d", i), "BTC", []string{"BUY", "SELL"}[i%2], fmt.Sprint(i+1), t0.Add(time.Duration(i)*time.Second))
		if i >= 7 {
			m = newAssetTx(fmt.Sprintf("01J%03d", i), "ETH", "BUY", "0.5", t0)
			eth = append(eth, m)
		} else {
			btc = append(btc, m)
		}
		if err := transact(d, d.Balances.TransactionWrite(fillEntry(m))); err != nil {
			t.Fatal(err)
		}
		fills = append(fills, m)
		if i == 3 {
			// A hold and a refund naming an asset are not movements.
			other("01J003H", entity.TxOrderHold, nil)
			other("01J003R", entity.TxOrderRefund, &entity.AssetLeg{AssetID: "BTC", Quantity: dec("1"), Price: dec("1")})
		}
	}
	// Fills write the holdings (which are in the partition too, and are not
	// movements); the history of an asset without one is not read.
	if err := transact(d, d.Holdings.BuyWrite("alice", "BTC", dec("1"), dec("1"), dec("0"), t0),
		d.Holdings.BuyWrite("alice", "ETH", dec("1"), dec("1"), dec("0"), t0)); err != nil {
		t.Fatal(err)
	}
	// The ledger entry keeps its asset leg.
	if tx, err := d.Balances.GetTransaction(ctx, "alice", "01J001"); err != nil || !reflect.DeepEqual(tx, fillEntry(btc[1])) {
		t.Fatalf("GetTransaction = %+v, %v", tx, err)
	}

	reversed := func(txs ...[]*entity.AssetTransaction) []*entity.AssetTransaction {
		var out []*entity.AssetTransaction
		for _, l := range txs {
			for i := len(l) - 1; i >= 0; i-- {
				out = append(out, l[i])
			}
		}
		return out
	}
	tests := []struct {
		asset string
		limit int
		want  []*entity.AssetTransaction
	}{
		{"BTC", 3, reversed(btc, oldBTC)},
		{"BTC", 7, reversed(btc, oldBTC)},
		{"BTC", 9, reversed(btc, oldBTC)},
		{"BTC", 1, reversed(btc, oldBTC)},
		{"ETH", 2, reversed(eth, oldETH)},
		{"DOGE", 5, nil},
		// All assets: the ledger's newest first, then the older items in
		// key order, descending (asset, then id).
		{"", 4, reversed(fills, oldETH, oldBTC)},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%d", tc.asset, tc.limit), func(t *testing.T) {
			var got []*entity.AssetTransaction
			cursor := ""
			for pages := 0; ; pages++ {
				if pages > 20 {
					t.Fatal("paging does not end")
				}
				txs, next, err := d.AssetTxs.List(ctx, "alice", tc.asset, tc.limit, cursor)
				if err != nil {
					t.Fatal(err)
				}
				if len(txs) > tc.limit || (next != "" && len(txs) != tc.limit) {
					t.Fatalf("page of %d, limit %d, next %q", len(txs), tc.limit, next)
				}
				got = append(got, txs...)
				if cursor = next; cursor == "" {
					break
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %d movements, want %d: %+v", len(got), len(tc.want), got)
			}
		})
	}
	// Limit 0 reads one.
	if txs, next, err := d.AssetTxs.List(ctx, "alice", "BTC", 0, ""); err != nil || len(txs) != 1 || txs[0].TransactionID != "01J006" || next == "" {
		t.Fatalf("limit 0: %v %q %v", txs, next, err)
	}
	// A cursor is valid for its asset only, in either phase.
	_, next, _ := d.AssetTxs.List(ctx, "alice", "BTC", 2, "")
	_, ownNext, _ := d.AssetTxs.List(ctx, "alice", "BTC", 8, "")
	for _, c := range []string{next, ownNext, "not-a-cursor", dao.StoreOf(d).(interface{ Cursors() *page.Codec }).Cursors().Encode([]byte("XBTC\x00"))} {
		if _, _, err := d.AssetTxs.List(ctx, "alice", "ETH", 2, c); !errors.Is(err, page.ErrInvalidCursor) {
			t.Fatalf("cursor %q of another asset: %v", c, err)
		}
	}
	if txs, _, err := d.AssetTxs.List(ctx, "alice", "BTC", 5, ownNext); err != nil || !reflect.DeepEqual(txs, reversed(oldBTC)[1:]) {
		t.Fatalf("page of the older items = %+v, %v", txs, err)
	}
	// An upgraded store: the ledger's fill entries without an asset leg were
	// written before fills carried their movements, and so were the older
	// ones, which are not read (this one would fail the page).
	carol := func(m *entity.AssetTransaction) *entity.AssetTransaction { m.Username = "carol"; return m }
	oldMove, newMove := carol(newAssetTx("00K900", "BTC", "BUY", "1", t0)), carol(newAssetTx("01J900", "BTC", "BUY", "2", t0))
	legless := fillEntry(carol(newAssetTx("00Z900", "BTC", "BUY", "1", t0)))
	legless.Asset = nil
	put(t, d, store.Key{Table: d.Tables.Users, PK: "USER#carol", SK: "ATX#BTC#00K900"}, ownMovement(oldMove))
	put(t, d, store.Key{Table: d.Tables.Users, PK: "USER#carol", SK: "TX#00Y900"}, store.Item{"transaction_type": store.S("order_payment"),
		"asset_id": store.S("BTC"), "quantity": store.S("x")})
	if err := transact(d, d.Balances.TransactionWrite(legless), d.Balances.TransactionWrite(fillEntry(newMove)),
		d.Holdings.BuyWrite("carol", "BTC", dec("3"), dec("7.5"), dec("0"), t0)); err != nil {
		t.Fatal(err)
	}
	if txs, next, err := d.AssetTxs.List(ctx, "carol", "BTC", 5, ""); err != nil || next != "" ||
		!reflect.DeepEqual(txs, []*entity.AssetTransaction{newMove, oldMove}) {
		t.Fatalf("upgraded store: %+v, %q, %v", txs, next, err)
	}
	all, err := d.AssetTxs.All(ctx, "alice")
	if want := slices.Concat(oldBTC, btc, oldETH, eth); err != nil || !reflect.DeepEqual(all, want) {
		t.Fatalf("All = %d items, %v", len(all), err)
	}
	if all, err := d.AssetTxs.All(ctx, "bobby1"); err != nil || len(all) != 0 {
		t.Fatalf("All(bobby1) = %v, %v", all, err)
	}
	_, _, err = d.AssetTxs.List(canceled(), "alice", "BTC", 2, "")
	wantCanceled(t, "List", err, "list asset transactions: ")
	if _, err := d.AssetTxs.All(canceled(), "alice"); !errors.Is(err, context.Canceled) {
		t.Fatalf("All canceled: %v", err)
	}
}

func TestAssetTransactionsScanBound(t *testing.T) {
	d := newDAOs(t)
	ctx := context.Background()
	m := newAssetTx("01A000", "BTC", "BUY", "1", t0)
	m.Username = "dave"
	if err := transact(d, d.Balances.TransactionWrite(fillEntry(m)), d.Holdings.BuyWrite("dave", "BTC", dec("1"), dec("2.5"), dec("0"), t0)); err != nil {
		t.Fatal(err)
	}
	// 5,000 newer entries that are not fills: a page reads no further.
	for b := range 50 {
		ws := make([]store.Write, 0, 100)
		for i := range 100 {
			ws = append(ws, d.Balances.TransactionWrite(&entity.BalanceTransaction{TransactionID: fmt.Sprintf("01B%05d", b*100+i),
				Username: "dave", TransactionType: entity.TxDeposit, Amount: dec("1"), Currency: entity.USD,
				Status: entity.TxCompleted, CreatedAt: entity.At(t0)}))
		}
		if err := transact(d, ws...); err != nil {
			t.Fatal(err)
		}
	}
	txs, next, err := d.AssetTxs.List(ctx, "dave", "BTC", 10, "")
	if err != nil || len(txs) != 0 || next == "" {
		t.Fatalf("first page = %v, %q, %v: want none and a cursor", txs, next, err)
	}
	if txs, next, err = d.AssetTxs.List(ctx, "dave", "BTC", 10, next); err != nil || next != "" || !reflect.DeepEqual(txs, []*entity.AssetTransaction{m}) {
		t.Fatalf("second page = %+v, %q, %v", txs, next, err)
	}
}

// TestHoldingUpgrade: a holding written before holdings kept their totals
// gets them once from its movements, oldest first (the movements of their
// own, then the ledger's fills with an asset leg); until then no fill writes
// it.
func TestHoldingUpgrade(t *testing.T) {
	d := newDAOs(t)
	ctx := context.Background()
	move := func(id, typ, qty, price, total string) *entity.AssetTransaction {
		m := newAssetTx(id, "BTC", typ, qty, t0)
		m.Username, m.Price, m.TotalAmount = "erin", dec(price), dec(total)
		return m
	}
	// Buy 2 at 10 for 20.20 (fee 0.20), sell 1 at 12 for 11.88 (fee 0.12):
	// movements of their own. A fill entry without a leg (its movement is
	// one of those), a deposit, and another asset's fill are not movements
	// of BTC. Then buy 1 at 20 for 20.20 (fee 0.20) in the ledger.
	for _, m := range []*entity.AssetTransaction{move("00A001", "BUY", "2", "10", "20.20"), move("00A002", "SELL", "1", "12", "11.88")} {
		put(t, d, store.Key{Table: d.Tables.Users, PK: "USER#erin", SK: "ATX#BTC#" + m.TransactionID}, ownMovement(m))
	}
	legless := fillEntry(move("00B001", "BUY", "2", "10", "20.20"))
	legless.Asset = nil
	other := fillEntry(move("01A001", "BUY", "5", "1", "5.00"))
	other.Asset.AssetID = "ETH"
	deposit := &entity.BalanceTransaction{TransactionID: "01A002", Username: "erin", TransactionType: entity.TxDeposit,
		Amount: dec("100"), Currency: entity.USD, Status: entity.TxCompleted, CreatedAt: entity.At(t0)}
	if err := transact(d, d.Balances.TransactionWrite(legless), d.Balances.TransactionWrite(other), d.Balances.TransactionWrite(deposit),
		d.Balances.TransactionWrite(fillEntry(move("01A003", "BUY", "1", "20", "20.20")))); err != nil {
		t.Fatal(err)
	}
	// The holding as an older binary wrote it: a cost basis without fees.
	legacy := store.Item{"username": store.S("erin"), "asset_id": store.S("BTC"), "quantity": store.MustN("2"),
		"held_quantity": store.MustN("0"), "available_quantity": store.MustN("2"), "cost_basis": store.MustN("30"),
		"buys": store.MustN("2"), "version": store.MustN("3")}
	put(t, d, d.Holdings.Key("erin", "BTC"), legacy)
	h := getHolding(t, d, "erin", "BTC")
	if h.Current {
		t.Fatal("a holding without fees is Current")
	}
	// No fill writes it.
	if err := transact(d, d.Holdings.BuyWrite("erin", "BTC", dec("1"), dec("1"), dec("0"), t0)); !errors.Is(err, store.ErrConditionFailed) {
		t.Fatalf("buy into a holding without totals: %v", err)
	}
	if err := transact(d, sellWrite(d, h, dec("1"), false, t0)); !errors.Is(err, store.ErrConditionFailed) {
		t.Fatalf("sale from a holding without totals: %v", err)
	}
	want := "2/0/2 cost=30.3 avg=15.15 buys=2 v3 realized=1.78 fees=0.52 bought=3 sold=1 current=true"
	state := func(h *dao.HoldingRecord) string {
		return fmt.Sprintf("%s realized=%s fees=%s bought=%s sold=%s current=%v", holdingState(h), h.Realized, h.Fees, h.Bought, h.Sold, h.Current)
	}
	up, err := d.Holdings.Upgrade(ctx, "erin", "BTC")
	if err != nil || state(up) != want {
		t.Fatalf("Upgrade = %s, %v\nwant %s", state(up), err, want)
	}
	if got := state(getHolding(t, d, "erin", "BTC")); got != want {
		t.Fatalf("stored %s\nwant %s", got, want)
	}
	// Once is enough: a Current holding is returned as read, and fills
	// write it again.
	if again, err := d.Holdings.GetCurrent(ctx, "erin", "BTC"); err != nil || state(again) != want {
		t.Fatalf("GetCurrent = %s, %v", state(again), err)
	}
	if err := transact(d, d.Holdings.BuyWrite("erin", "BTC", dec("1"), dec("30.30"), dec("0.30"), t0)); err != nil {
		t.Fatal(err)
	}
	if got := state(getHolding(t, d, "erin", "BTC")); got != "3/0/3 cost=60.6 avg=20.2 buys=3 v4 realized=1.78 fees=0.82 bought=4 sold=1 current=true" {
		t.Fatalf("after a buy: %s", got)
	}
	if _, err := d.Holdings.Upgrade(ctx, "erin", "DOGE"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("Upgrade of no holding: %v", err)
	}
	legacy["asset_id"] = store.S("ETH")
	put(t, d, d.Holdings.Key("erin", "ETH"), legacy)
	if _, err := d.Holdings.Upgrade(canceled(), "erin", "ETH"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Upgrade canceled: %v", err)
	}
	if _, err := d.Holdings.ListCurrent(canceled(), "erin"); !errors.Is(err, context.Canceled) {
		t.Fatalf("ListCurrent canceled: %v", err)
	}
	// ListCurrent upgrades what needs it (ETH: the one fill of 5 for 5.00).
	list, err := d.Holdings.ListCurrent(ctx, "erin")
	if err != nil || len(list) != 2 || !list[1].Current || !list[1].CostBasis.Equal(dec("5")) || !list[1].Bought.Equal(dec("5")) {
		t.Fatalf("ListCurrent = %+v, %v", list, err)
	}
}
