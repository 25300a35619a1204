package trading_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/testenv"
	"github.com/orderprocessor/orderprocessor/testenv/fakeclock"
	"github.com/orderprocessor/orderprocessor/trading"
)

// hookStore runs a function armed by the test before its next Transact:
// another actor's write between a flow's reads and its transaction.
type hookStore struct {
	store.Store
	mu     sync.Mutex
	before func()
}

func (h *hookStore) arm(f func()) { h.mu.Lock(); h.before = f; h.mu.Unlock() }

func (h *hookStore) Transact(ctx context.Context, writes []store.Write) error {
	h.mu.Lock()
	f := h.before
	h.before = nil
	h.mu.Unlock()
	if f != nil {
		f()
	}
	return h.Store.Transact(ctx, writes)
}

// TestRefusalsInAnyOrder: every failed condition of a trading transaction
// maps to the same answer whatever the order in which its writes are
// built: insufficient funds, insufficient holdings, a used client order id,
// the daily limits, a replayed Idempotency-Key, an order another actor
// moved first.
func TestRefusalsInAnyOrder(t *testing.T) {
	testenv.InEveryTxOrder(t, 3, testRefusals)
}

func testRefusals(t *testing.T) {
	db, tables := testenv.Store(t)
	hs := &hookStore{Store: db}
	c := fakeclock.New(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	cfg := trading.Config{DepositDailyLimit: dec("100"), WithdrawDailyLimit: dec("50")}
	d := trading.NewDAOs(hs, tables)
	e := &env{t: t, ctx: context.Background(), d: d, clock: c, s: trading.New(d, cfg, trading.Options{Now: c.Now})}
	// other writes straight to the store, between e's reads and its transactions.
	other := trading.New(trading.NewDAOs(db, tables), cfg, trading.Options{Now: c.Now})
	if _, err := e.s.SeedRates(e.ctx); err != nil {
		t.Fatal(err)
	}
	now := entity.At(c.Now())
	if err := d.Assets.Create(e.ctx, &entity.Asset{AssetID: "XYZ", Name: "Xyz", PriceUSD: dec("100"), IsActive: true,
		LastUpdated: now, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	// fund creates user with cash, credited straight to the balance (the
	// daily deposit limit is the tests').
	fund := func(user, cash string) {
		t.Helper()
		e.user(user, "0")
		if err := db.Transact(e.ctx, []store.Write{d.Balances.ChangeWrite(dao.Change{Username: user, Currency: entity.USD, Current: dec(cash)}, c.Now())}); err != nil {
			t.Fatal(err)
		}
	}
	want := func(what string, err, want error) {
		t.Helper()
		if err == nil || err.Error() != want.Error() || apperr.KindOf(err) != apperr.KindOf(want) {
			t.Errorf("%s: %v (kind %s), want %v (kind %s)", what, err, apperr.KindOf(err), want, apperr.KindOf(want))
		}
	}
	place := func(user string, req entity.OrderCreate, reqHash string) (*trading.Placed, error) {
		p, _, err := e.s.PlaceOrder(e.ctx, user, req, reqHash, nil)
		return p, err
	}
	limitErr := func(kind, limit string) error {
		return apperr.Field("amount", "daily "+kind+" limit of "+limit+" USD exceeded (every currency counts at its USD value)", "value_error")
	}

	// Cash: the balance's condition.
	fund("alice", "50")
	_, err := place("alice", entity.OrderCreate{OrderType: entity.MarketBuy, AssetID: "XYZ", Quantity: decp("1")}, "")
	want("market buy over the cash", err, dao.ErrInsufficientFunds)
	_, err = place("alice", entity.OrderCreate{OrderType: entity.LimitBuy, AssetID: "XYZ", Quantity: decp("1"), LimitPrice: decp("60")}, "")
	want("limit buy holding more than the cash", err, dao.ErrInsufficientFunds)
	_, _, err = e.s.Convert(e.ctx, "alice", entity.ConvertRequest{FromCurrency: entity.USD, ToCurrency: "EUR", Amount: decp("51")}, nil)
	want("conversion of more than the cash", err, dao.ErrInsufficientFunds)

	// The client order id before the cash: a retried order is answered
	// with the order it placed, another one with the id taken.
	first, err := place("alice", entity.OrderCreate{OrderType: entity.MarketBuy, AssetID: "XYZ", Quantity: decp("0.1"), ClientOrderID: "c1"}, "h1")
	if err != nil {
		t.Fatal(err)
	}
	again, err := place("alice", entity.OrderCreate{OrderType: entity.MarketBuy, AssetID: "XYZ", Quantity: decp("0.1"), ClientOrderID: "c1"}, "h1")
	if err != nil || !again.Existing || again.Order.OrderID != first.Order.OrderID {
		t.Errorf("retried client order id: %+v, %v; want order %s again", again, err, first.Order.OrderID)
	}
	_, err = place("alice", entity.OrderCreate{OrderType: entity.MarketBuy, AssetID: "XYZ", Quantity: decp("1"), ClientOrderID: "c1"}, "h2")
	want("another order with a used client order id (and over the cash)", err, dao.ErrClientOrderIDTaken)
	e.cash("alice", "40", "0")
	_, _, err = e.s.Withdraw(e.ctx, "alice", entity.WithdrawRequest{Amount: decp("45")}, nil)
	want("withdrawal over the cash", err, dao.ErrInsufficientFunds)

	// The daily limits, and the cash before the withdrawal limit.
	fund("bobby1", "100")
	if _, _, err := e.s.Withdraw(e.ctx, "bobby1", entity.WithdrawRequest{Amount: decp("40")}, nil); err != nil {
		t.Fatal(err)
	}
	_, _, err = e.s.Withdraw(e.ctx, "bobby1", entity.WithdrawRequest{Amount: decp("20")}, nil)
	want("withdrawal over the daily limit", err, limitErr("withdraw", "50.00"))
	if _, _, err := e.s.Withdraw(e.ctx, "alice", entity.WithdrawRequest{Amount: decp("30")}, nil); err != nil {
		t.Fatal(err)
	}
	_, _, err = e.s.Withdraw(e.ctx, "alice", entity.WithdrawRequest{Amount: decp("25")}, nil)
	want("withdrawal over the cash and the daily limit", err, dao.ErrInsufficientFunds)
	e.cash("alice", "10", "0")
	if _, _, err := e.s.Deposit(e.ctx, "bobby1", entity.DepositRequest{Amount: decp("60")}, nil); err != nil {
		t.Fatal(err)
	}
	_, _, err = e.s.Deposit(e.ctx, "bobby1", entity.DepositRequest{Amount: decp("60")}, nil)
	want("deposit over the daily limit", err, limitErr("deposit", "100.00"))
	e.cash("bobby1", "120", "0")

	// An Idempotency-Key used by another request between the replay read
	// and the transaction: the stored response.
	render := func(any) (int, []byte, error) { return 201, []byte(`{"ok":1}`), nil }
	key := tables.IdemKey("bobby1", "deposit", "k1")
	c.Advance(24 * time.Hour) // a new day of deposits
	hs.arm(func() {
		if _, _, err := other.Deposit(e.ctx, "bobby1", entity.DepositRequest{Amount: decp("10")}, &trading.Idem{Key: key, ReqHash: "h", Render: render}); err != nil {
			t.Error(err)
		}
	})
	if _, rep, err := e.s.Deposit(e.ctx, "bobby1", entity.DepositRequest{Amount: decp("10")}, &trading.Idem{Key: key, ReqHash: "h", Render: render}); err != nil || rep == nil || string(rep.Body) != `{"ok":1}` {
		t.Errorf("deposit with a key used meanwhile: %+v, %v; want the stored response", rep, err)
	}
	e.cash("bobby1", "130", "0")

	// Holdings: a sale that another sale of the same holding overtakes.
	fund("carol1", "1000")
	e.place("carol1", entity.OrderCreate{OrderType: entity.MarketBuy, AssetID: "XYZ", Quantity: decp("3")})
	sellAll := func(qty string) func() {
		return func() {
			if _, _, err := other.PlaceOrder(e.ctx, "carol1", entity.OrderCreate{OrderType: entity.MarketSell, AssetID: "XYZ", Quantity: decp(qty)}, "", nil); err != nil {
				t.Error(err)
			}
		}
	}
	hs.arm(sellAll("2"))
	_, err = place("carol1", entity.OrderCreate{OrderType: entity.MarketSell, AssetID: "XYZ", Quantity: decp("2")}, "")
	want("market sell of a holding sold meanwhile", err, dao.ErrInsufficientHoldings)
	hs.arm(sellAll("1"))
	_, err = place("carol1", entity.OrderCreate{OrderType: entity.LimitSell, AssetID: "XYZ", Quantity: decp("1"), LimitPrice: decp("200")}, "")
	want("limit sell holding a holding sold meanwhile", err, dao.ErrInsufficientHoldings)
	e.holding("carol1", "0", "0")

	// Orders another actor moved first: a cancel of an order that executed,
	// an execution of an order that was cancelled.
	fund("dave01", "100")
	rest := e.place("dave01", entity.OrderCreate{OrderType: entity.LimitBuy, AssetID: "XYZ", Quantity: decp("1"), LimitPrice: decp("90")})
	stale := *rest
	if n := e.tick("85"); n != 1 {
		t.Fatalf("tick executed %d orders, want 1", n)
	}
	_, err = e.s.CancelOrder(e.ctx, &stale)
	want("cancel of an order that executed", err, apperr.New(apperr.Conflict, "order %s is already completed", rest.OrderID))

	fund("erin01", "100")
	rest = e.place("erin01", entity.OrderCreate{OrderType: entity.LimitBuy, AssetID: "XYZ", Quantity: decp("1"), LimitPrice: decp("80")})
	stale = *rest
	if _, err := e.s.CancelOrder(e.ctx, rest); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.s.Execute(e.ctx, &stale, dec("75")); ok || err != nil {
		t.Errorf("execution of a cancelled order: %v, %v; want false, nil", ok, err)
	}
	e.cash("erin01", "100", "0")
	if o := e.order("erin01", rest.OrderID); o.Status != entity.StatusCancelled {
		t.Errorf("erin01's order is %s, want cancelled", o.Status)
	}
}
