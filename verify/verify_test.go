package verify_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/testenv"
	"github.com/orderprocessor/orderprocessor/trading"
	"github.com/orderprocessor/orderprocessor/verify"
)

var t0 = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)

func dec(s string) decimal.Decimal { return decimal.MustParse(s) }

// fixture is a store with a clean history written by the real trading layer:
//
//	alice: deposits 1000.00 USD, withdraws 100.50, buys 0.01 BTC (500.00),
//	       sells 0.004 BTC (200.00), deposits 50.00 EUR; places a limit buy
//	       of 0.0025 BTC at 40000 (resting, holding 100.00 USD) and a limit
//	       sell of 0.002 BTC at 60000 (resting, holding 0.002 BTC);
//	bob:   deposits 300.00 USD, buys 0.005 BTC (250.00);
//	carol: registered, nothing else.
//
// So alice's USD balance is current 599.50, held 100.00; her BTC holding is
// quantity 0.006, held 0.002; bob's USD is 50.00, his BTC 0.005.
type fixture struct {
	ctx context.Context
	db  store.Store
	d   *dao.DAOs
	svc *trading.Service

	aliceBuy, aliceSell, bobBuy *entity.Order // market orders
	restingBuy, restingSell     *entity.Order // queued limit orders
	holdTx                      *entity.BalanceTransaction
	aliceWithdraw, aliceEUR     *entity.BalanceTransaction
	bobPayment                  *entity.BalanceTransaction
	aliceBuyMove, bobMove       *entity.AssetTransaction
	extra                       *entity.Order // made by a test case
}

// testTables are the table names of the fixture's store (prefixed on DynamoDB).
var testTables = dao.DefaultTables

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	db, tables := testenv.Store(t)
	testTables = tables
	d := trading.NewDAOs(db, tables)
	f := &fixture{ctx: ctx, db: db, d: d,
		svc: trading.New(d, trading.DefaultConfig(), trading.Options{Now: func() time.Time { return t0 }})}
	if _, err := f.svc.SeedRates(ctx); err != nil {
		t.Fatal(err)
	}

	if err := d.Assets.Create(ctx, &entity.Asset{AssetID: "BTC", Name: "Bitcoin", PriceUSD: dec("50000"),
		IsActive: true, CreatedAt: entity.At(t0), UpdatedAt: entity.At(t0)}); err != nil {
		t.Fatalf("create asset: %v", err)
	}
	for _, u := range []string{"alice", "bob", "carol"} {
		user := &entity.User{Username: u, Email: u + "@example.com", Role: entity.RoleCustomer, IsActive: true,
			CreatedAt: entity.At(t0), UpdatedAt: entity.At(t0), Version: 1}
		if err := d.Users.Create(ctx, user, d.Balances.CreateWrite(u, entity.USD, t0)); err != nil {
			t.Fatalf("create user: %v", err)
		}
	}
	f.deposit(t, "alice", "1000.00", entity.USD)
	f.aliceWithdraw = f.withdraw(t, "alice", "100.50")
	f.aliceBuy = f.order(t, "alice", entity.MarketBuy, "0.01")
	f.aliceSell = f.order(t, "alice", entity.MarketSell, "0.004")
	f.aliceEUR = f.deposit(t, "alice", "50.00", entity.EUR)
	f.deposit(t, "bob", "300.00", entity.USD)
	f.bobBuy = f.order(t, "bob", entity.MarketBuy, "0.005")
	f.restingBuy = f.rest(t, "alice", entity.LimitBuy, "0.0025", "40000")
	f.restingSell = f.rest(t, "alice", entity.LimitSell, "0.002", "60000")
	f.holdTx = f.hold(t, "alice", f.restingBuy.OrderID)

	f.bobPayment = f.settlement(t, "bob", f.bobBuy.OrderID)
	f.aliceBuyMove = f.movement(t, "alice", f.aliceBuy.OrderID)
	f.bobMove = f.movement(t, "bob", f.bobBuy.OrderID)
	return f
}

func (f *fixture) deposit(t *testing.T, user, amount string, c entity.Currency) *entity.BalanceTransaction {
	t.Helper()
	a := dec(amount)
	tx, _, err := f.svc.Deposit(f.ctx, user, entity.DepositRequest{Amount: &a, Currency: c}, nil)
	if err != nil {
		t.Fatalf("deposit: %v", err)
	}
	return tx
}

func (f *fixture) withdraw(t *testing.T, user, amount string) *entity.BalanceTransaction {
	t.Helper()
	a := dec(amount)
	tx, _, err := f.svc.Withdraw(f.ctx, user, entity.WithdrawRequest{Amount: &a}, nil)
	if err != nil {
		t.Fatalf("withdraw: %v", err)
	}
	return tx
}

func (f *fixture) order(t *testing.T, user string, typ entity.OrderType, qty string) *entity.Order {
	t.Helper()
	q := dec(qty)
	p, _, err := f.svc.PlaceOrder(f.ctx, user, entity.OrderCreate{OrderType: typ, AssetID: "BTC", Quantity: &q}, "", nil)
	if err != nil {
		t.Fatalf("place %s: %v", typ, err)
	}
	return p.Order
}

// queued returns a limit order of user in status queued.
func (f *fixture) queued(user string, typ entity.OrderType, qty, limit string) *entity.Order {
	q, l := dec(qty), dec(limit)
	o := (&entity.OrderCreate{OrderType: typ, AssetID: "BTC", Quantity: &q, LimitPrice: &l,
		TimeInForce: entity.GTC, Currency: entity.USD}).Order(f.svc.NewID(), user, entity.At(t0))
	for _, s := range []entity.OrderStatus{entity.StatusConfirmed, entity.StatusQueued} {
		if err := o.Transition(s, entity.ActorSystem, entity.At(t0), ""); err != nil {
			panic(err)
		}
	}
	return o
}

// rest places a limit order that rests (the market is 50000).
func (f *fixture) rest(t *testing.T, user string, typ entity.OrderType, qty, limit string) *entity.Order {
	t.Helper()
	q, l := dec(qty), dec(limit)
	p, _, err := f.svc.PlaceOrder(f.ctx, user, entity.OrderCreate{OrderType: typ, AssetID: "BTC", Quantity: &q, LimitPrice: &l}, "", nil)
	if err != nil {
		t.Fatalf("place %s: %v", typ, err)
	}
	if p.Order.Status != entity.StatusQueued {
		t.Fatalf("%s is %s, want queued", typ, p.Order.Status)
	}
	return p.Order
}

func (f *fixture) hold(t *testing.T, user, orderID string) *entity.BalanceTransaction {
	t.Helper()
	txs, err := f.d.Balances.AllTransactions(f.ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	for _, tx := range txs {
		if tx.ReferenceID == orderID && tx.TransactionType == entity.TxOrderHold {
			return tx
		}
	}
	t.Fatalf("no hold of %s", orderID)
	return nil
}

func (f *fixture) settlement(t *testing.T, user, orderID string) *entity.BalanceTransaction {
	t.Helper()
	txs, err := f.d.Balances.AllTransactions(f.ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	for _, tx := range txs {
		if tx.ReferenceID == orderID && (tx.TransactionType == entity.TxOrderPayment || tx.TransactionType == entity.TxOrderSale) {
			return tx
		}
	}
	t.Fatalf("no settlement of %s", orderID)
	return nil
}

func (f *fixture) movement(t *testing.T, user, orderID string) *entity.AssetTransaction {
	t.Helper()
	ms, err := f.d.AssetTxs.All(f.ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.OrderID == orderID {
			return m
		}
	}
	t.Fatalf("no movement of %s", orderID)
	return nil
}

// Raw keys of the key design (docs/data-model.md), for corrupting the store.
func balanceKey(user, cur string) store.Key {
	return store.Key{Table: testTables.Users, PK: "USER#" + user, SK: "BALANCE#" + cur}
}
func txKey(user, id string) store.Key {
	return store.Key{Table: testTables.Users, PK: "USER#" + user, SK: "TX#" + id}
}
func holdingKey(user, asset string) store.Key {
	return store.Key{Table: testTables.Users, PK: "USER#" + user, SK: "ASSET#" + asset}
}

// moveKey is the key of the ledger entry that records m.
func moveKey(m *entity.AssetTransaction) store.Key {
	return store.Key{Table: testTables.Users, PK: "USER#" + m.Username, SK: "TX#" + m.TransactionID}
}
func orderKey(o *entity.Order) store.Key {
	return store.Key{Table: testTables.Orders, PK: "USER#" + o.Username, SK: "ORDER#" + o.OrderID}
}

func (f *fixture) update(t *testing.T, k store.Key, acts ...store.Action) {
	t.Helper()
	if _, err := f.db.Update(f.ctx, store.Update{Key: k, Actions: acts, Cond: store.ItemExists()}); err != nil {
		t.Fatalf("update %s: %v", k, err)
	}
}

func (f *fixture) add(t *testing.T, k store.Key, attrs ...string) {
	t.Helper()
	var acts []store.Action
	for i := 0; i < len(attrs); i += 2 {
		acts = append(acts, store.Add(attrs[i], store.MustN(attrs[i+1])))
	}
	f.update(t, k, acts...)
}

func (f *fixture) del(t *testing.T, k store.Key) {
	t.Helper()
	if err := f.db.Delete(f.ctx, store.Delete{Key: k, Cond: store.ItemExists()}); err != nil {
		t.Fatalf("delete %s: %v", k, err)
	}
}

// rewrite stores a changed copy of o (bypassing the status machine).
func (f *fixture) rewrite(t *testing.T, o *entity.Order, change func(o *entity.Order)) {
	t.Helper()
	cur, err := f.d.Orders.Get(f.ctx, o.Username, o.OrderID)
	if err != nil {
		t.Fatal(err)
	}
	read, from := cur.Version, cur.Status
	change(cur)
	cur.Version++
	w, err := f.d.Orders.UpdateWrite(cur, read, from)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.d.Transact(f.ctx, []store.Write{w}); err != nil {
		t.Fatalf("rewrite order: %v", err)
	}
}

func (f *fixture) putTx(t *testing.T, tx *entity.BalanceTransaction) {
	t.Helper()
	if err := f.d.Balances.CreateTransaction(f.ctx, tx); err != nil {
		t.Fatal(err)
	}
}

// putMove stores m as a movement of its own, as a store holds it for a fill
// entry without an asset leg (the DAO reads both).
func (f *fixture) putMove(t *testing.T, m *entity.AssetTransaction) {
	t.Helper()
	it := store.Item{"transaction_id": store.S(m.TransactionID), "username": store.S(m.Username),
		"asset_id": store.S(m.AssetID), "transaction_type": store.S(string(m.TransactionType)),
		"quantity": store.MustN(m.Quantity.String()), "price": store.MustN(m.Price.String()),
		"total_amount": store.MustN(m.TotalAmount.String()), "order_id": store.S(m.OrderID),
		"status": store.S(string(m.Status)), "timestamp": store.S(entity.FormatTime(m.Timestamp.Time))}
	k := store.Key{Table: testTables.Users, PK: "USER#" + m.Username, SK: "ATX#" + m.AssetID + "#" + m.TransactionID}
	if err := f.db.Put(f.ctx, store.Put{Key: k, Item: it}); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, f *fixture) verify.Report {
	t.Helper()
	rep, err := verify.Run(f.ctx, f.d)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return rep
}

func TestRunCleanHistory(t *testing.T) {
	f := newFixture(t)
	rep := run(t, f)
	want := verify.Report{Users: 3, Balances: 4, Transactions: 8, Holdings: 2, Movements: 3, Orders: 5,
		Violations: []verify.Violation{}}
	if !rep.OK() || !reflect.DeepEqual(rep, want) {
		t.Fatalf("Run = %+v, want %+v", rep, want)
	}
	// The fixture is what its comment says.
	b, err := f.d.Balances.Get(f.ctx, "alice", entity.USD)
	if err != nil {
		t.Fatal(err)
	}
	if !b.CurrentBalance.Equal(dec("599.50")) || !b.HeldBalance.Equal(dec("100")) {
		t.Fatalf("alice USD = %s held %s", b.CurrentBalance, b.HeldBalance)
	}
	h, err := f.d.Holdings.Get(f.ctx, "alice", "BTC")
	if err != nil {
		t.Fatal(err)
	}
	if !h.Quantity.Equal(dec("0.006")) || !h.HeldQuantity.Equal(dec("0.002")) || !h.StoredAvailable.Equal(dec("0.004")) {
		t.Fatalf("alice BTC = %s held %s available %s", h.Quantity, h.HeldQuantity, h.StoredAvailable)
	}
}

// TestRunAfterOrderLifecycles: cancels, triggered limit orders and a
// one-cancels-other pair, all through the trading layer, keep every invariant.
func TestRunAfterOrderLifecycles(t *testing.T) {
	f := newFixture(t)
	if _, err := f.svc.CancelOrder(f.ctx, f.restingBuy); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	bobLimit := f.rest(t, "bob", entity.LimitBuy, "0.001", "45000") // holds 45.00 of bob's 50.00
	q, stop := dec("0.002"), dec("40000")
	p, _, err := f.svc.PlaceOrder(f.ctx, "alice", entity.OrderCreate{OrderType: entity.StopLoss, AssetID: "BTC",
		Quantity: &q, StopPrice: &stop, OCOWith: f.restingSell.OrderID}, "", nil)
	if err != nil {
		t.Fatalf("place stop loss: %v", err)
	}
	if rep := run(t, f); !rep.OK() {
		t.Fatalf("with resting orders: %s", lines(rep.Violations))
	}
	for _, price := range []string{"44000", "39000"} {
		if n, err := f.svc.OnPrice(f.ctx, "BTC", dec(price)); err != nil || n != 1 {
			t.Fatalf("OnPrice(%s) = %d, %v; want 1 execution", price, n, err)
		}
	}
	for _, o := range []struct {
		user, id string
		want     entity.OrderStatus
	}{
		{"alice", f.restingBuy.OrderID, entity.StatusCancelled},
		{"bob", bobLimit.OrderID, entity.StatusCompleted},
		{"alice", p.Order.OrderID, entity.StatusCompleted},
		{"alice", f.restingSell.OrderID, entity.StatusCancelled},
	} {
		got, err := f.d.Orders.Get(f.ctx, o.user, o.id)
		if err != nil || got.Status != o.want {
			t.Fatalf("order %s: %v, %v; want %s", o.id, got, err, o.want)
		}
	}
	rep := run(t, f)
	want := verify.Report{Users: 3, Balances: 4, Transactions: 11, Holdings: 2, Movements: 5, Orders: 7,
		Violations: []verify.Violation{}}
	if !reflect.DeepEqual(rep, want) {
		t.Fatalf("Run = %+v, want %+v", rep, want)
	}
}

func TestRunEmptyStore(t *testing.T) {
	db, tables := testenv.Store(t)
	rep, err := verify.Run(context.Background(), dao.New(db, tables))
	if err != nil || !rep.OK() || rep.Users != 0 || rep.Violations == nil {
		t.Fatalf("Run = %+v, %v", rep, err)
	}
}

type vio = verify.Violation

func TestRunReportsEveryViolation(t *testing.T) {
	tests := []struct {
		name    string
		corrupt func(t *testing.T, f *fixture)
		want    func(f *fixture) []vio
	}{
		{
			name:    "current balance changed alone",
			corrupt: func(t *testing.T, f *fixture) { f.add(t, balanceKey("alice", "USD"), "current", "5") },
			want: func(f *fixture) []vio {
				return []vio{
					{"alice", "balance USD", "current_balance 604.50 != 599.50, the sum of its completed ledger entries"},
					{"alice", "balance USD", "stored available 499.50 != current_balance - held_balance = 504.50"},
				}
			},
		},
		{
			name: "current and available changed together",
			corrupt: func(t *testing.T, f *fixture) {
				f.add(t, balanceKey("bob", "USD"), "current", "-0.01", "available", "-0.01")
			},
			want: func(f *fixture) []vio {
				return []vio{{"bob", "balance USD", "current_balance 49.99 != 50.00, the sum of its completed ledger entries"}}
			},
		},
		{
			name:    "available attribute broken",
			corrupt: func(t *testing.T, f *fixture) { f.add(t, balanceKey("carol", "USD"), "available", "7") },
			want: func(f *fixture) []vio {
				return []vio{{"carol", "balance USD", "stored available 7.00 != current_balance - held_balance = 0.00"}}
			},
		},
		{
			name: "held beyond current: negative available",
			corrupt: func(t *testing.T, f *fixture) {
				f.add(t, balanceKey("alice", "USD"), "held", "1000", "available", "-1000")
			},
			want: func(f *fixture) []vio {
				return []vio{
					{"alice", "balance USD", "held_balance 1100.00 != 100.00, the sum of its pending order_hold entries"},
					{"alice", "balance USD", "held_balance 1100.00 != 100.00, the held_amount of its open buy orders"},
					{"alice", "balance USD", "available balance -500.50 (current 599.50 - held 1100.00) is negative"},
				}
			},
		},
		{
			name: "negative held",
			corrupt: func(t *testing.T, f *fixture) {
				f.add(t, balanceKey("alice", "USD"), "held", "-200", "available", "200")
			},
			want: func(f *fixture) []vio {
				return []vio{
					{"alice", "balance USD", "held_balance -100.00 != 100.00, the sum of its pending order_hold entries"},
					{"alice", "balance USD", "held_balance -100.00 != 100.00, the held_amount of its open buy orders"},
					{"alice", "balance USD", "held_balance -100.00 is negative"},
				}
			},
		},
		{
			name:    "ledger entry deleted",
			corrupt: func(t *testing.T, f *fixture) { f.del(t, txKey("alice", f.aliceWithdraw.TransactionID)) },
			want: func(f *fixture) []vio {
				return []vio{{"alice", "balance USD", "current_balance 599.50 != 700.00, the sum of its completed ledger entries"}}
			},
		},
		{
			// The payment entry is also the fill's movement.
			name:    "payment entry deleted",
			corrupt: func(t *testing.T, f *fixture) { f.del(t, txKey("bob", f.bobPayment.TransactionID)) },
			want: func(f *fixture) []vio {
				return []vio{
					{"bob", "balance USD", "current_balance 50.00 != 300.00, the sum of its completed ledger entries"},
					{"bob", "holding BTC", "quantity 0.005 != 0, bought minus sold in its completed movements"},
					{"bob", "holding BTC", "cost_basis 250 != 0, what its completed movements imply"},
					{"bob", "order " + f.bobBuy.OrderID, "completed order has no order_payment entry"},
					{"bob", "order " + f.bobBuy.OrderID, "completed order has no asset movement"},
				}
			},
		},
		{
			name: "payment entry duplicated",
			corrupt: func(t *testing.T, f *fixture) {
				dup := *f.bobPayment
				dup.TransactionID = f.svc.NewID()
				f.putTx(t, &dup)
			},
			want: func(f *fixture) []vio {
				ids := f.bobPayment.TransactionID
				txs, _ := f.d.Balances.AllTransactions(f.ctx, "bob")
				ids += ", " + txs[len(txs)-1].TransactionID
				return []vio{
					{"bob", "balance USD", "current_balance 50.00 != -200.00, the sum of its completed ledger entries"},
					{"bob", "holding BTC", "quantity 0.005 != 0.01, bought minus sold in its completed movements"},
					{"bob", "holding BTC", "cost_basis 250 != 500, what its completed movements imply"},
					{"bob", "order " + f.bobBuy.OrderID, "completed order has 2 settlement entries (" + ids + "), want one order_payment"},
					{"bob", "order " + f.bobBuy.OrderID, "completed order has 2 asset movements (" + ids + "), want one"},
				}
			},
		},
		{
			name: "payment amount changed",
			corrupt: func(t *testing.T, f *fixture) {
				f.update(t, txKey("bob", f.bobPayment.TransactionID), store.Set("amount", store.MustN("-240.00")))
			},
			want: func(f *fixture) []vio {
				return []vio{
					{"bob", "balance USD", "current_balance 50.00 != 60.00, the sum of its completed ledger entries"},
					{"bob", "holding BTC", "cost_basis 250 != 240, what its completed movements imply"},
					{"bob", "holding BTC", "fees 0 != -10, what its completed movements imply"},
					{"bob", "order " + f.bobBuy.OrderID, "order_payment entry " + f.bobPayment.TransactionID +
						" is order_payment -240.00 USD, want order_payment -250.00 USD"},
					{"bob", "order " + f.bobBuy.OrderID, "movement " + f.bobPayment.TransactionID + " fee -10.00 != fee 0.00"},
				}
			},
		},
		{
			name: "entry with the wrong sign",
			corrupt: func(t *testing.T, f *fixture) {
				f.update(t, txKey("alice", f.aliceEUR.TransactionID), store.Set("amount", store.MustN("-50.00")))
			},
			want: func(f *fixture) []vio {
				return []vio{
					{"alice", "transaction " + f.aliceEUR.TransactionID, "amount -50 has the wrong sign for deposit"},
					{"alice", "balance EUR", "current_balance 50.00 != -50.00, the sum of its completed ledger entries"},
				}
			},
		},
		{
			name: "entry with unknown status and currency",
			corrupt: func(t *testing.T, f *fixture) {
				f.update(t, txKey("alice", f.aliceEUR.TransactionID), store.Set("status", store.S("done")),
					store.Set("currency", store.S("XYZ")))
			},
			want: func(f *fixture) []vio {
				return []vio{
					{"alice", "transaction " + f.aliceEUR.TransactionID, `unknown status "done"`},
					{"alice", "transaction " + f.aliceEUR.TransactionID, `unknown currency "XYZ"`},
					{"alice", "balance EUR", "current_balance 50.00 != 0.00, the sum of its completed ledger entries"},
				}
			},
		},
		{
			name: "dangling movement",
			corrupt: func(t *testing.T, f *fixture) {
				m := *f.bobMove
				m.TransactionID, m.OrderID, m.Quantity = f.svc.NewID(), "01NOSUCHORDER00000000000000", dec("0.001")
				f.putMove(t, &m)
			},
			want: func(f *fixture) []vio {
				ms, _ := f.d.AssetTxs.All(f.ctx, "bob")
				return []vio{
					{"bob", "movement " + ms[1].TransactionID, "references order 01NOSUCHORDER00000000000000, which does not exist"},
					{"bob", "holding BTC", "quantity 0.005 != 0.006, bought minus sold in its completed movements"},
					{"bob", "holding BTC", "cost_basis 250 != 500, what its completed movements imply"},
					{"bob", "holding BTC", "fees 0 != 200, what its completed movements imply"},
				}
			},
		},
		{
			name: "movement of an open order, bad quantity",
			corrupt: func(t *testing.T, f *fixture) {
				m := *f.bobMove
				m.Username, m.TransactionID, m.OrderID, m.Quantity = "alice", f.svc.NewID(), f.restingBuy.OrderID, dec("0")
				f.putMove(t, &m)
			},
			want: func(f *fixture) []vio {
				ms, _ := f.d.AssetTxs.All(f.ctx, "alice")
				subj := "movement " + ms[2].TransactionID
				return []vio{
					{"alice", subj, "quantity 0 is not positive"},
					{"alice", subj, "references order " + f.restingBuy.OrderID + ", which is queued, not completed"},
					{"alice", "holding BTC", "cost_basis 300 != 550, what its completed movements imply"},
					{"alice", "holding BTC", "fees 0 != 250, what its completed movements imply"},
				}
			},
		},
		{
			name: "movement of the wrong side, asset and type",
			corrupt: func(t *testing.T, f *fixture) {
				m := *f.aliceBuyMove
				m.TransactionID, m.OrderID, m.Status = f.svc.NewID(), f.aliceSell.OrderID, entity.TxCancelled
				f.putMove(t, &m)
				m.TransactionID, m.AssetID = f.svc.NewID(), "ETH"
				f.putMove(t, &m)
				m.TransactionID, m.AssetID, m.TransactionType, m.Status = f.svc.NewID(), "BTC", "SWAP", "lost"
				f.putMove(t, &m)
			},
			want: func(f *fixture) []vio {
				ms, _ := f.d.AssetTxs.All(f.ctx, "alice") // BTC ones first (key order), ETH last
				return []vio{
					{"alice", "movement " + ms[2].TransactionID, "BUY movement references sell order " + f.aliceSell.OrderID},
					{"alice", "movement " + ms[3].TransactionID, `unknown transaction type "SWAP"`},
					{"alice", "movement " + ms[3].TransactionID, `unknown status "lost"`},
					{"alice", "movement " + ms[4].TransactionID, "BUY movement references sell order " + f.aliceSell.OrderID},
				}
			},
		},
		{
			name: "movement of another asset",
			corrupt: func(t *testing.T, f *fixture) {
				m := *f.aliceBuyMove
				m.TransactionID, m.AssetID = f.svc.NewID(), "ETH"
				f.putMove(t, &m)
			},
			want: func(f *fixture) []vio {
				ms, _ := f.d.AssetTxs.All(f.ctx, "alice")
				return []vio{
					{"alice", "movement " + ms[2].TransactionID, "movement of ETH references order " + f.aliceBuy.OrderID + " of BTC"},
					{"alice", "holding ETH", "missing, but its completed movements sum to 0.01 and its open sell orders hold 0"},
					{"alice", "order " + f.aliceBuy.OrderID, "completed order has 2 asset movements (" +
						ms[0].TransactionID + ", " + ms[2].TransactionID + "), want one"},
				}
			},
		},
		{
			name: "movement quantity changed",
			corrupt: func(t *testing.T, f *fixture) {
				f.update(t, moveKey(f.aliceBuyMove), store.Set("quantity", store.MustN("0.02")))
			},
			want: func(f *fixture) []vio {
				return []vio{
					{"alice", "holding BTC", "quantity 0.006 != 0.016, bought minus sold in its completed movements"},
					{"alice", "holding BTC", "fees 0 != -500, what its completed movements imply"},
					{"alice", "order " + f.aliceBuy.OrderID, "movement " + f.aliceBuyMove.TransactionID + " quantity 0.02 != executed_quantity 0.01"},
					{"alice", "order " + f.aliceBuy.OrderID, "movement " + f.aliceBuyMove.TransactionID + " fee -500.00 != fee 0.00"},
				}
			},
		},
		{
			// alice bought 0.01 for 500.00 and sold 0.004 for 200.00 at
			// a cost of 200: cost basis 300, realized 0, no fee.
			name: "holding totals tampered",
			corrupt: func(t *testing.T, f *fixture) {
				f.add(t, holdingKey("alice", "BTC"), "cost_basis", "1", "realized", "2", "fees", "0.5", "sold", "0.001")
			},
			want: func(f *fixture) []vio {
				return []vio{
					{"alice", "holding BTC", "cost_basis 301 != 300, what its completed movements imply"},
					{"alice", "holding BTC", "realized 2 != 0, what its completed movements imply"},
					{"alice", "holding BTC", "fees 0.5 != 0, what its completed movements imply"},
					{"alice", "holding BTC", "sold 0.005 != 0.004, what its completed movements imply"},
				}
			},
		},
		{
			name: "sale cost tampered",
			corrupt: func(t *testing.T, f *fixture) {
				sale := f.settlement(t, "alice", f.aliceSell.OrderID)
				f.update(t, txKey("alice", sale.TransactionID), store.Set("sale_cost", store.MustN("-1")))
			},
			want: func(f *fixture) []vio {
				var sale string
				txs, _ := f.d.Balances.AllTransactions(f.ctx, "alice")
				for _, tx := range txs {
					if tx.ReferenceID == f.aliceSell.OrderID {
						sale = tx.TransactionID
					}
				}
				return []vio{
					{"alice", "movement " + sale, "sale cost -1 is negative"},
					{"alice", "holding BTC", "cost_basis 300 != 501, what its completed movements imply"},
					{"alice", "holding BTC", "realized 0 != 201, what its completed movements imply"},
				}
			},
		},
		{
			name: "terminal order with a hold",
			corrupt: func(t *testing.T, f *fixture) {
				o := f.queued("bob", entity.LimitBuy, "0.001", "40000")
				if err := o.Transition(entity.StatusCancelled, entity.ActorUser, entity.At(t0), ""); err != nil {
					t.Fatal(err)
				}
				o.HeldAmount = dec("40.00")
				if err := f.d.Orders.Create(f.ctx, o); err != nil {
					t.Fatal(err)
				}
				f.extra = o
			},
			want: func(f *fixture) []vio {
				return []vio{{"bob", "order " + f.extra.OrderID, "cancelled order still holds held_amount 40.00 and held_quantity 0"}}
			},
		},
		{
			name: "open order's hold changed without its entry",
			corrupt: func(t *testing.T, f *fixture) {
				f.rewrite(t, f.restingBuy, func(o *entity.Order) { o.HeldAmount = dec("90.00") })
			},
			want: func(f *fixture) []vio {
				return []vio{
					{"alice", "balance USD", "held_balance 100.00 != 90.00, the held_amount of its open buy orders"},
					{"alice", "order " + f.restingBuy.OrderID, "held_amount 90.00 != 100.00, its pending order_hold entries"},
				}
			},
		},
		{
			name: "holds on the wrong side",
			corrupt: func(t *testing.T, f *fixture) {
				f.rewrite(t, f.restingBuy, func(o *entity.Order) { o.HeldQuantity = dec("0.001") })
				f.rewrite(t, f.restingSell, func(o *entity.Order) { o.HeldAmount = dec("1.00") })
			},
			want: func(f *fixture) []vio {
				return []vio{
					{"alice", "order " + f.restingBuy.OrderID, "buy order holds held_quantity 0.001"},
					{"alice", "order " + f.restingSell.OrderID, "sell order holds held_amount 1.00"},
				}
			},
		},
		{
			name: "negative holds of open orders",
			corrupt: func(t *testing.T, f *fixture) {
				f.rewrite(t, f.restingBuy, func(o *entity.Order) { o.HeldAmount = dec("-1.00") })
				f.rewrite(t, f.restingSell, func(o *entity.Order) { o.HeldQuantity = dec("-0.002") })
			},
			want: func(f *fixture) []vio {
				return []vio{
					{"alice", "balance USD", "held_balance 100.00 != -1.00, the held_amount of its open buy orders"},
					{"alice", "holding BTC", "held_quantity 0.002 != -0.002, the held_quantity of its open sell orders"},
					{"alice", "order " + f.restingBuy.OrderID, "held_amount -1.00 is negative"},
					{"alice", "order " + f.restingBuy.OrderID, "held_amount -1.00 != 100.00, its pending order_hold entries"},
					{"alice", "order " + f.restingSell.OrderID, "held_quantity -0.002 is negative"},
				}
			},
		},
		{
			name: "hold entry of a missing order",
			corrupt: func(t *testing.T, f *fixture) {
				f.putTx(t, &entity.BalanceTransaction{TransactionID: "01HOLD", Username: "bob", TransactionType: entity.TxOrderHold,
					Amount: dec("10.00"), Currency: entity.USD, Status: entity.TxPending, ReferenceID: "01GONE", CreatedAt: entity.At(t0)})
			},
			want: func(f *fixture) []vio {
				return []vio{
					{"bob", "transaction 01HOLD", `order_hold references order "01GONE", which does not exist`},
					{"bob", "balance USD", "held_balance 0.00 != 10.00, the sum of its pending order_hold entries"},
				}
			},
		},
		{
			name: "hold entries of the wrong order, currency and status",
			corrupt: func(t *testing.T, f *fixture) {
				hold := func(id, ref string, c entity.Currency, st entity.TransactionStatus) {
					f.putTx(t, &entity.BalanceTransaction{TransactionID: id, Username: "alice", TransactionType: entity.TxOrderHold,
						Amount: dec("1.00"), Currency: c, Status: st, ReferenceID: ref, CreatedAt: entity.At(t0)})
				}
				hold("01HOLDA", f.restingSell.OrderID, entity.USD, entity.TxCancelled)
				hold("01HOLDB", f.restingBuy.OrderID, entity.EUR, entity.TxCancelled)
				hold("01HOLDC", f.aliceBuy.OrderID, entity.USD, entity.TxPending)
			},
			want: func(f *fixture) []vio {
				return []vio{
					{"alice", "transaction 01HOLDA", "order_hold references sell order " + f.restingSell.OrderID + " (sell orders hold assets, not cash)"},
					{"alice", "transaction 01HOLDA", "order_hold is cancelled but order " + f.restingSell.OrderID + " is queued"},
					{"alice", "transaction 01HOLDB", "order_hold in EUR references order " + f.restingBuy.OrderID + " in USD"},
					{"alice", "transaction 01HOLDB", "order_hold is cancelled but order " + f.restingBuy.OrderID + " is queued"},
					{"alice", "transaction 01HOLDC", "order_hold is pending but order " + f.aliceBuy.OrderID + " is completed"},
					{"alice", "balance USD", "held_balance 100.00 != 101.00, the sum of its pending order_hold entries"},
				}
			},
		},
		{
			name: "hold released while the order is open",
			corrupt: func(t *testing.T, f *fixture) {
				f.update(t, txKey("alice", f.holdTx.TransactionID), store.Set("status", store.S("cancelled")))
			},
			want: func(f *fixture) []vio {
				return []vio{
					{"alice", "transaction " + f.holdTx.TransactionID, "order_hold is cancelled but order " + f.restingBuy.OrderID + " is queued"},
					{"alice", "balance USD", "held_balance 100.00 != 0.00, the sum of its pending order_hold entries"},
					{"alice", "order " + f.restingBuy.OrderID, "held_amount 100.00 != 0.00, its pending order_hold entries"},
				}
			},
		},
		{
			name: "settlements referencing wrong orders",
			corrupt: func(t *testing.T, f *fixture) {
				entry := func(id string, typ entity.TransactionType, amount, ref string) {
					f.putTx(t, &entity.BalanceTransaction{TransactionID: id, Username: "alice", TransactionType: typ,
						Amount: dec(amount), Currency: entity.GBP, Status: entity.TxFailed, ReferenceID: ref, CreatedAt: entity.At(t0)})
				}
				entry("01PAYA", entity.TxOrderPayment, "-1.00", "")
				entry("01PAYB", entity.TxOrderPayment, "-1.00", "01GONE")
				entry("01PAYC", entity.TxOrderPayment, "-1.00", f.aliceSell.OrderID)
				entry("01PAYD", entity.TxOrderPayment, "-1.00", f.restingBuy.OrderID)
				entry("01PAYE", entity.TxOrderSale, "1.00", f.aliceBuy.OrderID)
				entry("01PAYF", entity.TxOrderRefund, "1.00", "01GONE")
				entry("01PAYG", entity.TxOrderRefund, "1.00", f.aliceBuy.OrderID)
			},
			want: func(f *fixture) []vio {
				return []vio{
					{"alice", "transaction 01PAYA", "order_payment references no order"},
					{"alice", "transaction 01PAYB", "order_payment references order 01GONE, which does not exist"},
					{"alice", "transaction 01PAYC", "order_payment references sell order " + f.aliceSell.OrderID},
					{"alice", "transaction 01PAYD", "order_payment references order " + f.restingBuy.OrderID + ", which is queued, not completed"},
					{"alice", "transaction 01PAYE", "order_sale references buy order " + f.aliceBuy.OrderID},
					{"alice", "transaction 01PAYF", `order_refund references order "01GONE", which does not exist`},
				}
			},
		},
		{
			name: "settlement of the wrong currency",
			corrupt: func(t *testing.T, f *fixture) {
				f.update(t, txKey("bob", f.bobPayment.TransactionID), store.Set("currency", store.S("EUR")))
			},
			want: func(f *fixture) []vio {
				return []vio{
					{"bob", "balance USD", "current_balance 50.00 != 300.00, the sum of its completed ledger entries"},
					{"bob", "balance EUR", "missing, but its completed ledger entries sum to -250.00, its pending holds to 0.00 and its open buy orders hold 0.00"},
					{"bob", "order " + f.bobBuy.OrderID, "order_payment entry " + f.bobPayment.TransactionID +
						" is order_payment -250.00 EUR, want order_payment -250.00 USD"},
				}
			},
		},
		{
			name:    "balance deleted",
			corrupt: func(t *testing.T, f *fixture) { f.del(t, balanceKey("alice", "EUR")) },
			want: func(f *fixture) []vio {
				return []vio{{"alice", "balance EUR", "missing, but its completed ledger entries sum to 50.00, its pending holds to 0.00 and its open buy orders hold 0.00"}}
			},
		},
		{
			name: "balance of an unknown currency",
			corrupt: func(t *testing.T, f *fixture) {
				if err := f.d.Balances.Create(f.ctx, "carol", "XYZ", t0); err != nil {
					t.Fatal(err)
				}
			},
			want: func(f *fixture) []vio { return []vio{{"carol", "balance XYZ", "unknown currency"}} },
		},
		{
			name:    "holding deleted",
			corrupt: func(t *testing.T, f *fixture) { f.del(t, holdingKey("bob", "BTC")) },
			want: func(f *fixture) []vio {
				return []vio{{"bob", "holding BTC", "missing, but its completed movements sum to 0.005 and its open sell orders hold 0"}}
			},
		},
		{
			name:    "holding's available broken",
			corrupt: func(t *testing.T, f *fixture) { f.add(t, holdingKey("alice", "BTC"), "available_quantity", "1") },
			want: func(f *fixture) []vio {
				return []vio{{"alice", "holding BTC", "stored available_quantity 1.004 != quantity - held_quantity = 0.004"}}
			},
		},
		{
			name: "holding's held exceeds quantity",
			corrupt: func(t *testing.T, f *fixture) {
				f.add(t, holdingKey("alice", "BTC"), "held_quantity", "1", "available_quantity", "-1")
			},
			want: func(f *fixture) []vio {
				return []vio{
					{"alice", "holding BTC", "held_quantity 1.002 exceeds quantity 0.006"},
					{"alice", "holding BTC", "held_quantity 1.002 != 0.002, the held_quantity of its open sell orders"},
				}
			},
		},
		{
			name: "holding negative",
			corrupt: func(t *testing.T, f *fixture) {
				f.add(t, holdingKey("bob", "BTC"), "quantity", "-1", "held_quantity", "-0.5", "available_quantity", "-0.5")
			},
			want: func(f *fixture) []vio {
				return []vio{
					{"bob", "holding BTC", "quantity -0.995 != 0.005, bought minus sold in its completed movements"},
					{"bob", "holding BTC", "quantity -0.995 is negative"},
					{"bob", "holding BTC", "held_quantity -0.5 is negative"},
					{"bob", "holding BTC", "held_quantity -0.5 exceeds quantity -0.995"},
					{"bob", "holding BTC", "held_quantity -0.5 != 0, the held_quantity of its open sell orders"},
				}
			},
		},
		{
			name: "bad status history and status",
			corrupt: func(t *testing.T, f *fixture) {
				f.rewrite(t, f.bobBuy, func(o *entity.Order) {
					o.StatusHistory = []entity.StatusChange{{Status: entity.StatusPending}, {Status: entity.StatusCompleted}}
				})
				f.rewrite(t, f.aliceSell, func(o *entity.Order) { o.Status = "done" })
			},
			want: func(f *fixture) []vio {
				return []vio{
					{"alice", "transaction " + f.settlement(t, "alice", f.aliceSell.OrderID).TransactionID,
						"order_sale references order " + f.aliceSell.OrderID + ", which is done, not completed"},
					{"alice", "movement " + f.movement(t, "alice", f.aliceSell.OrderID).TransactionID,
						"references order " + f.aliceSell.OrderID + ", which is done, not completed"},
					{"alice", "order " + f.aliceSell.OrderID, `unknown status "done"`},
					{"alice", "order " + f.aliceSell.OrderID, "status history ends in completed but the order is done"},
					{"bob", "order " + f.bobBuy.OrderID, "status history moves from pending to completed, which the status machine forbids"},
				}
			},
		},
		{
			name:    "order deleted under its settlement",
			corrupt: func(t *testing.T, f *fixture) { f.del(t, orderKey(f.bobBuy)) },
			want: func(f *fixture) []vio {
				return []vio{
					{"bob", "transaction " + f.bobPayment.TransactionID, "order_payment references order " + f.bobBuy.OrderID + ", which does not exist"},
					{"bob", "movement " + f.bobMove.TransactionID, "references order " + f.bobBuy.OrderID + ", which does not exist"},
				}
			},
		},
		{
			name: "resting orders deleted: their holds outlive them",
			corrupt: func(t *testing.T, f *fixture) {
				f.del(t, orderKey(f.restingBuy))
				f.del(t, orderKey(f.restingSell))
			},
			want: func(f *fixture) []vio {
				return []vio{
					{"alice", "transaction " + f.holdTx.TransactionID, fmt.Sprintf("order_hold references order %q, which does not exist", f.restingBuy.OrderID)},
					{"alice", "balance USD", "held_balance 100.00 != 0.00, the held_amount of its open buy orders"},
					{"alice", "holding BTC", "held_quantity 0.002 != 0, the held_quantity of its open sell orders"},
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			tc.corrupt(t, f)
			rep := run(t, f)
			want := tc.want(f)
			if !slices.Equal(rep.Violations, want) {
				t.Errorf("violations:\n%s\nwant:\n%s", lines(rep.Violations), lines(want))
			}
			if rep.OK() {
				t.Error("OK() = true with violations")
			}
		})
	}
}

func lines(vs []vio) string {
	var b strings.Builder
	for _, v := range vs {
		b.WriteString("  " + v.String() + "\n")
	}
	return b.String()
}

func TestViolationString(t *testing.T) {
	v := vio{Username: "alice", Subject: "balance USD", Problem: "held_balance -1 is negative"}
	if got := v.String(); got != "alice: balance USD: held_balance -1 is negative" {
		t.Fatalf("String() = %q", got)
	}
}

func TestStatusHistoryProblems(t *testing.T) {
	h := func(ss ...entity.OrderStatus) []entity.StatusChange {
		out := []entity.StatusChange{}
		for _, s := range ss {
			out = append(out, entity.StatusChange{Status: s})
		}
		return out
	}
	tests := []struct {
		name    string
		history []entity.StatusChange
		want    []string
	}{
		{"valid", h("pending", "confirmed", "processing", "completed"), nil},
		{"empty", h(), []string{"status history is empty"}},
		{"starts elsewhere", h("confirmed", "processing", "completed"), []string{"status history starts with confirmed, not pending"}},
		{"leaves a terminal state", h("pending", "cancelled", "confirmed", "processing", "completed"),
			[]string{"status history moves from cancelled to confirmed, which the status machine forbids"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.rewrite(t, f.aliceBuy, func(o *entity.Order) { o.StatusHistory = tc.history })
			rep := run(t, f)
			var got []string
			for _, v := range rep.Violations {
				if v.Subject != "order "+f.aliceBuy.OrderID || v.Username != "alice" {
					t.Errorf("unexpected violation %s", v)
				}
				got = append(got, v.Problem)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("problems = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	t.Run("cancelled context", func(t *testing.T) {
		f := newFixture(t)
		ctx, cancel := context.WithCancel(f.ctx)
		cancel()
		if _, err := verify.Run(ctx, f.d); err == nil || !strings.Contains(err.Error(), "context canceled") {
			t.Fatalf("Run = %v, want context canceled", err)
		}
	})
	unreadable := []struct {
		name string
		key  func(f *fixture) store.Key
		attr string
		want string
	}{
		{"balance", func(*fixture) store.Key { return balanceKey("bob", "USD") }, "current", "verify user bob: "},
		{"ledger entry", func(f *fixture) store.Key { return txKey("bob", f.bobPayment.TransactionID) }, "amount", "verify user bob: read ledger: "},
		{"holding", func(*fixture) store.Key { return holdingKey("bob", "BTC") }, "quantity", "verify user bob: "},
		{"movement (its fill entry)", func(f *fixture) store.Key { return moveKey(f.bobMove) }, "quantity", "verify user bob: read ledger: "},
		{"order", func(f *fixture) store.Key { return orderKey(f.bobBuy) }, "doc", "verify user bob: read orders: "},
	}
	for _, tc := range unreadable {
		t.Run("unreadable "+tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.update(t, tc.key(f), store.Set(tc.attr, store.S("garbage")))
			_, err := verify.Run(f.ctx, f.d)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("Run = %v, want an error starting %q", err, tc.want)
			}
		})
	}
	t.Run("unreadable movement of its own", func(t *testing.T) {
		f := newFixture(t)
		m := *f.bobMove
		m.TransactionID = f.svc.NewID()
		f.putMove(t, &m)
		f.update(t, store.Key{Table: testTables.Users, PK: "USER#bob", SK: "ATX#" + m.AssetID + "#" + m.TransactionID},
			store.Set("quantity", store.S("garbage")))
		const want = "verify user bob: read asset movements: "
		if _, err := verify.Run(f.ctx, f.d); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Fatalf("Run = %v, want an error starting %q", err, want)
		}
	})
}

// TestUpgradedHoldings: a holding written before holdings kept their totals
// (no realized, fees or sold attribute; a cost basis without buy
// fees; sale entries without their cost) is upgraded once from its
// movements by the first fill or read that needs its totals: a market buy,
// a market sale, a triggered resting sale and the portfolio's read. Every
// step keeps the invariants and ends with the totals the fills imply.
func TestUpgradedHoldings(t *testing.T) {
	ctx := context.Background()
	db, tables := testenv.Store(t)
	testTables = tables
	d := trading.NewDAOs(db, tables)
	cfg := trading.DefaultConfig()
	cfg.FeeRate = dec("0.01")
	svc := trading.New(d, cfg, trading.Options{Now: func() time.Time { return t0 }})
	if _, err := svc.SeedRates(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Assets.Create(ctx, &entity.Asset{AssetID: "BTC", Name: "Bitcoin", PriceUSD: dec("50000"),
		IsActive: true, CreatedAt: entity.At(t0), UpdatedAt: entity.At(t0)}); err != nil {
		t.Fatal(err)
	}
	user := &entity.User{Username: "alice", Email: "alice@example.com", Role: entity.RoleCustomer, IsActive: true,
		CreatedAt: entity.At(t0), UpdatedAt: entity.At(t0), Version: 1}
	if err := d.Users.Create(ctx, user, d.Balances.CreateWrite("alice", entity.USD, t0)); err != nil {
		t.Fatal(err)
	}
	amount := dec("10000")
	if _, _, err := svc.Deposit(ctx, "alice", entity.DepositRequest{Amount: &amount, Currency: entity.USD}, nil); err != nil {
		t.Fatal(err)
	}
	place := func(typ entity.OrderType, qty, limit string) {
		t.Helper()
		q := dec(qty)
		req := entity.OrderCreate{OrderType: typ, AssetID: "BTC", Quantity: &q}
		if limit != "" {
			l := dec(limit)
			req.LimitPrice = &l
		}
		if _, _, err := svc.PlaceOrder(ctx, "alice", req, "", nil); err != nil {
			t.Fatalf("place %s %s: %v", typ, qty, err)
		}
	}
	// strip turns the holding back into one written before the totals; with
	// entries set, the sale entries lose their recorded cost too.
	strip := func(entries bool) {
		t.Helper()
		f := &fixture{ctx: ctx, db: db, d: d}
		f.update(t, holdingKey("alice", "BTC"), store.Remove("realized"), store.Remove("fees"),
			store.Remove("sold"), store.Set("cost_basis", store.MustN("1")))
		if h, err := d.Holdings.Get(ctx, "alice", "BTC"); err != nil || h.Current {
			t.Fatalf("stripped holding: %+v, %v", h, err)
		}
		if !entries {
			return
		}
		txs, err := d.Balances.AllTransactions(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		for _, tx := range txs {
			if tx.TransactionType == entity.TxOrderSale {
				f.update(t, txKey("alice", tx.TransactionID), store.Remove("sale_cost"))
			}
		}
	}
	// check wants the invariants, and the totals as the fills imply them.
	check := func(step, qty, cost, realized, fees, bought, sold string) {
		t.Helper()
		rep, err := verify.Run(ctx, d)
		if err != nil || !rep.OK() {
			t.Fatalf("%s: verify %v: %s", step, err, lines(rep.Violations))
		}
		h, err := d.Holdings.Get(ctx, "alice", "BTC")
		if err != nil {
			t.Fatal(err)
		}
		got := fmt.Sprintf("current=%v qty=%s cost=%s realized=%s fees=%s bought=%s sold=%s", h.Current, h.Quantity,
			h.CostBasis, h.Realized, h.Fees, h.Bought, h.Sold)
		want := fmt.Sprintf("current=true qty=%s cost=%s realized=%s fees=%s bought=%s sold=%s", dec(qty), dec(cost),
			dec(realized), dec(fees), dec(bought), dec(sold))
		if got != want {
			t.Fatalf("%s: %s\nwant %s", step, got, want)
		}
	}

	// Buy 0.1 at 50,000: 5,000 + 50 fee. Sell 0.03: 1,500 - 15 fee = 1,485
	// for a cost of 1,515, realized -30. A limit sale of 0.02 rests.
	place(entity.MarketBuy, "0.1", "")
	place(entity.MarketSell, "0.03", "")
	place(entity.LimitSell, "0.02", "60000")
	check("fills", "0.07", "3535", "-30", "65", "0.1", "0.03")

	// The portfolio's read upgrades (sale cost computed from the average).
	strip(true)
	if rep, err := verify.Run(ctx, d); err != nil || !rep.OK() {
		t.Fatalf("a holding without totals: verify %v: %s", err, lines(rep.Violations))
	}
	hs, err := d.Holdings.ListCurrent(ctx, "alice")
	if err != nil || len(hs) != 1 || !hs[0].Current || !hs[0].CostBasis.Equal(dec("3535")) || !hs[0].AverageCost.Equal(dec("50500")) {
		t.Fatalf("ListCurrent = %+v, %v", hs, err)
	}
	check("upgraded by a read", "0.07", "3535", "-30", "65", "0.1", "0.03")

	// A market buy of 0.01 (505 with its fee) upgrades.
	strip(false)
	place(entity.MarketBuy, "0.01", "")
	check("upgraded by a buy", "0.08", "4040", "-30", "70", "0.11", "0.03")

	// The resting sale triggers at 60,000: 1,200 - 12 = 1,188 for a cost of
	// 4,040 × 0.02 / 0.08 = 1,010, realized 178 more.
	strip(false)
	if n, err := svc.OnPrice(ctx, "BTC", dec("60000")); err != nil || n != 1 {
		t.Fatalf("OnPrice = %d, %v", n, err)
	}
	check("upgraded by a triggered sale", "0.06", "3030", "148", "82", "0.11", "0.05")

	// A market sale of 0.01 at 60,000: 600 - 6 = 594 for a cost of 505.
	if _, err := d.Assets.SetPrice(ctx, "BTC", dec("60000"), t0); err != nil {
		t.Fatal(err)
	}
	strip(false)
	place(entity.MarketSell, "0.01", "")
	check("upgraded by a sale", "0.05", "2525", "237", "88", "0.11", "0.06")

	// A resting limit buy of 0.01 triggers at 55,000: 550 + 5.50.
	place(entity.LimitBuy, "0.01", "55000")
	strip(false)
	if n, err := svc.OnPrice(ctx, "BTC", dec("55000")); err != nil || n != 1 {
		t.Fatalf("OnPrice = %d, %v", n, err)
	}
	check("upgraded by a triggered buy", "0.06", "3080.5", "237", "93.5", "0.12", "0.06")
}
