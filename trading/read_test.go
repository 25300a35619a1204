package trading_test

import (
	"testing"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/trading"
)

// TestReads: the reads the services answer with return what the flows
// wrote, and not_found for what does not exist.
func TestReads(t *testing.T) {
	e := newEnv(t, "10", "1000")
	buy := e.place("alice", entity.OrderCreate{OrderType: entity.MarketBuy, AssetID: "XYZ", Quantity: decp("3")})
	rest := e.place("alice", entity.OrderCreate{OrderType: entity.LimitBuy, AssetID: "XYZ", Quantity: decp("1"), LimitPrice: decp("5")})

	if o, err := e.s.Order(e.ctx, "alice", buy.OrderID); err != nil || o.Status != entity.StatusCompleted {
		t.Fatalf("Order: %+v, %v", o, err)
	}
	if _, err := e.s.Order(e.ctx, "bobby", buy.OrderID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("another user's order: %v", err)
	}
	os, next, err := e.s.Orders(e.ctx, "alice", dao.OrderFilter{Limit: 10})
	if err != nil || len(os) != 2 || os[0].OrderID != rest.OrderID || os[1].OrderID != buy.OrderID || next != "" {
		t.Fatalf("Orders: %d %q %v", len(os), next, err)
	}
	scanned := 0
	if err := e.s.ScanOrders(e.ctx, func(*entity.Order) error { scanned++; return nil }); err != nil || scanned != 2 {
		t.Fatalf("ScanOrders: %d, %v", scanned, err)
	}
	var users []string
	if err := e.s.Usernames(e.ctx, func(u string) error { users = append(users, u); return nil }); err != nil || len(users) != 1 || users[0] != "alice" {
		t.Fatalf("Usernames: %v, %v", users, err)
	}
	moves, _, err := e.s.AssetMovements(e.ctx, "alice", "XYZ", 10, "")
	if err != nil || len(moves) != 1 || moves[0].OrderID != buy.OrderID || !moves[0].Quantity.Equal(dec("3")) {
		t.Fatalf("AssetMovements: %+v, %v", moves, err)
	}
	if b, err := e.s.Balance(e.ctx, "alice", entity.USD); err != nil || !b.CurrentBalance.Equal(dec("970")) || !b.HeldBalance.Equal(dec("5")) {
		t.Fatalf("Balance: %+v, %v", b, err)
	}
	if _, err := e.s.Balance(e.ctx, "alice", entity.EUR); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("an unused currency: %v", err)
	}
	if bs, err := e.s.Balances(e.ctx, "alice"); err != nil || len(bs) != 1 {
		t.Fatalf("Balances: %+v, %v", bs, err)
	}
	txs, _, err := e.s.Transactions(e.ctx, "alice", dao.TxFilter{Limit: 10})
	if err != nil || len(txs) != 3 || txs[0].TransactionType != entity.TxOrderHold {
		t.Fatalf("Transactions: %+v, %v", txs, err)
	}
	if n, err := e.s.CountTransactions(e.ctx, "alice", dao.TxFilter{Type: entity.TxDeposit}, 100); err != nil || n != 1 {
		t.Fatalf("CountTransactions: %d, %v", n, err)
	}
	if h, err := e.s.Holding(e.ctx, "alice", "XYZ"); err != nil || !h.Quantity.Equal(dec("3")) {
		t.Fatalf("Holding: %+v, %v", h, err)
	}
	if hs, err := e.s.Holdings(e.ctx, "alice"); err != nil || len(hs) != 1 || hs[0].AssetID != "XYZ" {
		t.Fatalf("Holdings: %+v, %v", hs, err)
	}
	if a, err := e.s.Asset(e.ctx, "XYZ"); err != nil || !a.PriceUSD.Equal(dec("10")) {
		t.Fatalf("Asset: %+v, %v", a, err)
	}
	if rep, err := e.s.Verify(e.ctx); err != nil || !rep.OK() || rep.Users != 1 || rep.Orders != 2 {
		t.Fatalf("Verify: %+v, %v", rep, err)
	}
}

// TestIdemKey: an Idempotency-Key names one record per caller (or, without
// one, per operation) and operation, under the caller's items; no key, no
// record.
func TestIdemKey(t *testing.T) {
	e := newEnv(t, "10", "0")
	render := func(any) (int, []byte, error) { return 201, nil, nil }
	req := &trading.IdemRequest{Key: "k1", Hash: "h", Render: render}
	for _, c := range []struct {
		user, scope string
		want        string
	}{
		{"alice", "order", "USER#alice/IDEM#order#k1"},
		{"alice", "deposit", "USER#alice/IDEM#deposit#k1"},
		{"", "register", "ANON#register/IDEM#register#k1"},
	} {
		idem := e.s.Idem(c.user, c.scope, req)
		if got := idem.Key.PK + "/" + idem.Key.SK; got != c.want || idem.Key.Table != e.d.Tables.Users || idem.ReqHash != "h" {
			t.Errorf("Idem(%q, %q) = %+v, want %s", c.user, c.scope, idem, c.want)
		}
	}
	if e.s.Idem("alice", "order", nil) != nil {
		t.Error("Idem without a key is not nil")
	}
}
