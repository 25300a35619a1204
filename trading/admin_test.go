package trading_test

import (
	"slices"
	"sync"
	"testing"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/trading"
)

func adjustment(amount, reason string) entity.AdjustmentRequest {
	return entity.AdjustmentRequest{Amount: decp(amount), Reason: reason}
}

func TestAdjustCreditsAndDebits(t *testing.T) {
	e := newEnv(t, "100", "1000")
	t1, _, err := e.s.Adjust(e.ctx, "admin", "alice", adjustment("25.50", "goodwill credit"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if t1.TransactionType != entity.TxSystemAdjustment || !t1.Amount.Equal(dec("25.50")) || t1.CreatedBy != "admin" ||
		t1.Description != "goodwill credit" || t1.Status != entity.TxCompleted {
		t.Fatalf("entry %+v", t1)
	}
	stored, err := e.d.Balances.GetTransaction(e.ctx, "alice", t1.TransactionID)
	if err != nil || stored.CreatedBy != "admin" || stored.Description != "goodwill credit" {
		t.Fatalf("stored %+v %v", stored, err)
	}
	e.cash("alice", "1025.50", "0")

	// A limit buy holds 180: 845.50 is available.
	e.place("alice", entity.OrderCreate{OrderType: entity.LimitBuy, AssetID: "XYZ", Quantity: decp("2"), LimitPrice: decp("90")})
	if _, _, err := e.s.Adjust(e.ctx, "admin", "alice", adjustment("-845.51", "chargeback"), nil); !apperr.Is(err, apperr.InsufficientFunds) {
		t.Fatalf("debit past available: %v", err)
	}
	if _, _, err := e.s.Adjust(e.ctx, "admin", "alice", adjustment("-845.50", "chargeback"), nil); err != nil {
		t.Fatal(err)
	}
	e.cash("alice", "180", "180")
	e.verify()

	// A currency the user has no balance in: a credit creates it, a debit is refused.
	if _, _, err := e.s.Adjust(e.ctx, "admin", "alice", entity.AdjustmentRequest{Amount: decp("-1"), Currency: entity.EUR, Reason: "x"}, nil); !apperr.Is(err, apperr.InsufficientFunds) {
		t.Fatalf("debit of a missing balance: %v", err)
	}
	if _, _, err := e.s.Adjust(e.ctx, "admin", "alice", entity.AdjustmentRequest{Amount: decp("10"), Currency: entity.EUR, Reason: "x"}, nil); err != nil {
		t.Fatal(err)
	}
	if b, err := e.d.Balances.Get(e.ctx, "alice", entity.EUR); err != nil || !b.CurrentBalance.Equal(dec("10")) {
		t.Fatalf("EUR %v %v", b, err)
	}
	if _, _, err := e.s.Adjust(e.ctx, "admin", "nobody_here", adjustment("10", "x"), nil); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("unknown user: %v", err)
	}
	if _, err := e.d.Balances.Get(e.ctx, "nobody_here", entity.USD); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("a credit to an unknown user left a balance: %v", err)
	}
	if _, _, err := e.s.Adjust(e.ctx, "admin", "alice", entity.AdjustmentRequest{Amount: decp("10")}, nil); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("no reason: %v", err)
	}
	e.verify()
}

func TestAdjustIdempotent(t *testing.T) {
	e := newEnv(t, "100", "100")
	idem := func(hash string) *trading.Idem {
		return &trading.Idem{Key: e.d.Tables.IdemKey("admin", "adjustment", "adjustment#k1"), ReqHash: hash,
			Render: func(v any) (int, []byte, error) {
				return 201, []byte(v.(*entity.BalanceTransaction).TransactionID), nil
			}}
	}
	t1, _, err := e.s.Adjust(e.ctx, "admin", "alice", adjustment("-40", "fee correction"), idem("h"))
	if err != nil {
		t.Fatal(err)
	}
	_, rep, err := e.s.Adjust(e.ctx, "admin", "alice", adjustment("-40", "fee correction"), idem("h"))
	if err != nil || rep == nil || string(rep.Body) != t1.TransactionID {
		t.Fatalf("replay %+v %v", rep, err)
	}
	if _, _, err := e.s.Adjust(e.ctx, "admin", "alice", adjustment("-41", "fee correction"), idem("other")); err != trading.ErrIdemMismatch {
		t.Fatalf("other body: %v", err)
	}
	e.cash("alice", "60", "0")
	e.verify()
}

// 30 concurrent debits of 10 from 100: exactly 10 pass, the balance ends at 0.
func TestAdjustDebitsNeverOverdraw(t *testing.T) {
	e := newEnv(t, "100", "100")
	var mu sync.Mutex
	ok, refused := 0, 0
	race(30, func(int) {
		_, _, err := e.s.Adjust(e.ctx, "admin", "alice", adjustment("-10", "debit"), nil)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			ok++
		case apperr.Is(err, apperr.InsufficientFunds):
			refused++
		default:
			t.Errorf("debit: %v", err)
		}
	})
	if ok != 10 || refused != 20 {
		t.Fatalf("%d debits passed, %d refused; want 10 and 20", ok, refused)
	}
	e.cash("alice", "0", "0")
	e.verify()
}

// feeEnv is newEnv with a trading service that charges 1%.
func feeEnv(t *testing.T, price, cash string) *env {
	e := newEnv(t, price, cash)
	e.s = trading.New(e.d, trading.Config{FeeRate: dec("0.01")}, trading.Options{Now: e.clock.Now})
	return e
}

func reverse(user, reason string) entity.ReversalRequest {
	return entity.ReversalRequest{Username: user, Reason: reason}
}

// position asserts alice's XYZ holding totals.
func (e *env) position(qty, cost, realized, fees, sold string) {
	e.t.Helper()
	h, err := e.d.Holdings.Get(e.ctx, "alice", "XYZ")
	if err != nil {
		e.t.Fatal(err)
	}
	if !h.Quantity.Equal(dec(qty)) || !h.CostBasis.Equal(dec(cost)) || !h.Realized.Equal(dec(realized)) ||
		!h.Fees.Equal(dec(fees)) || !h.Sold.Equal(dec(sold)) {
		e.t.Fatalf("XYZ quantity %s cost %s realized %s fees %s sold %s, want %s %s %s %s %s",
			h.Quantity, h.CostBasis, h.Realized, h.Fees, h.Sold, qty, cost, realized, fees, sold)
	}
}

func TestReverseBuy(t *testing.T) {
	e := feeEnv(t, "100", "1000")
	// 2 × 100 = 200 + 1% fee 2.00: paid 202.00.
	o := e.place("alice", entity.OrderCreate{OrderType: entity.MarketBuy, AssetID: "XYZ", Quantity: decp("2")})
	e.cash("alice", "798", "0")
	e.position("2", "202", "0", "2", "0")

	r, _, err := e.s.ReverseOrder(e.ctx, "admin", o.OrderID, reverse("alice", "fill at a broken price"), nil)
	if err != nil {
		t.Fatal(err)
	}
	en := r.Entry
	if en.TransactionType != entity.TxOrderRefund || !en.Amount.Equal(dec("202")) || en.ReferenceID != o.OrderID || en.CreatedBy != "admin" ||
		en.Asset == nil || !en.Asset.Quantity.Equal(dec("2")) || !en.Asset.Price.Equal(dec("100")) || !en.Asset.SaleCost.Equal(dec("202")) {
		t.Fatalf("entry %+v leg %+v", en, en.Asset)
	}
	if en.Description != "Reversal of buy 2 XYZ at 100.00: fill at a broken price" {
		t.Fatalf("description %q", en.Description)
	}
	if r.Order.Status != entity.StatusCompleted || lastReason(r.Order) != "reversed by admin: fill at a broken price" || !r.Order.Reversed() {
		t.Fatalf("order %s %q", r.Order.Status, lastReason(r.Order))
	}
	e.cash("alice", "1000", "0")
	e.position("0", "0", "0", "0", "0")
	e.verify()

	if _, _, err := e.s.ReverseOrder(e.ctx, "admin", o.OrderID, reverse("alice", "again"), nil); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("second reversal: %v", err)
	}
	e.cash("alice", "1000", "0")
}

// A buy reversed after another buy takes its quantity out at the average
// cost: 1 at 100 (101.00) and 1 at 200 (202.00) cost 303.00; reversing the
// first refunds 101.00 and takes out 151.50, realizing -50.50.
func TestReverseBuyAtAverageCost(t *testing.T) {
	e := feeEnv(t, "100", "1000")
	first := e.place("alice", entity.OrderCreate{OrderType: entity.MarketBuy, AssetID: "XYZ", Quantity: decp("1")})
	e.tick("200")
	e.place("alice", entity.OrderCreate{OrderType: entity.MarketBuy, AssetID: "XYZ", Quantity: decp("1")})
	e.position("2", "303", "0", "3", "0")
	if _, _, err := e.s.ReverseOrder(e.ctx, "admin", first.OrderID, reverse("alice", "duplicate"), nil); err != nil {
		t.Fatal(err)
	}
	e.cash("alice", "798", "0") // 1,000 - 101 - 202 + 101
	e.position("1", "151.5", "-50.5", "2", "0")
	e.verify()
}

func TestReverseSale(t *testing.T) {
	e := feeEnv(t, "100", "1000")
	e.place("alice", entity.OrderCreate{OrderType: entity.MarketBuy, AssetID: "XYZ", Quantity: decp("2")}) // 202.00
	e.tick("150")
	// 1 × 150 = 150 - 1.50 fee = 148.50 for a cost of 101: realized 47.50.
	sale := e.place("alice", entity.OrderCreate{OrderType: entity.MarketSell, AssetID: "XYZ", Quantity: decp("1")})
	e.cash("alice", "946.5", "0")
	e.position("1", "101", "47.5", "3.5", "1")

	r, _, err := e.s.ReverseOrder(e.ctx, "admin", sale.OrderID, reverse("alice", "sold by mistake"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Entry.Amount.Equal(dec("-148.50")) || !r.Entry.Asset.SaleCost.Equal(dec("101")) {
		t.Fatalf("entry %s cost %v", r.Entry.Amount, r.Entry.Asset.SaleCost)
	}
	e.cash("alice", "798", "0")
	e.position("2", "202", "0", "2", "0")
	e.verify()

	// The holding works on: selling both at 150 now realizes 297 - 202.
	e.place("alice", entity.OrderCreate{OrderType: entity.MarketSell, AssetID: "XYZ", Quantity: decp("2")})
	e.position("0", "0", "95", "5", "2")
	e.verify()
}

func TestReverseRefusals(t *testing.T) {
	e := newEnv(t, "100", "1000")
	buy := e.place("alice", entity.OrderCreate{OrderType: entity.MarketBuy, AssetID: "XYZ", Quantity: decp("2")})
	// The quantity bought is held by a resting sell: the holding would go
	// below what is held.
	sl := e.place("alice", entity.OrderCreate{OrderType: entity.StopLoss, AssetID: "XYZ", Quantity: decp("1.5"), StopPrice: decp("50")})
	_, _, err := e.s.ReverseOrder(e.ctx, "admin", buy.OrderID, reverse("alice", "x"), nil)
	if !apperr.Is(err, apperr.InsufficientFunds) || apperr.MessageOf(err) != "insufficient holdings" {
		t.Fatalf("holding held: %v", err)
	}
	// Resting: not executed.
	if _, _, err := e.s.ReverseOrder(e.ctx, "admin", sl.OrderID, reverse("alice", "x"), nil); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("resting order: %v", err)
	}
	if _, _, err := e.s.ReverseOrder(e.ctx, "admin", buy.OrderID, reverse("bobby_1", "x"), nil); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("another user's order: %v", err)
	}
	if _, err := e.s.CancelOrder(e.ctx, sl); err != nil {
		t.Fatal(err)
	}
	// A sale whose proceeds were spent: the cash would go negative.
	sale := e.place("alice", entity.OrderCreate{OrderType: entity.MarketSell, AssetID: "XYZ", Quantity: decp("2")})
	if _, _, err := e.s.Withdraw(e.ctx, "alice", entity.WithdrawRequest{Amount: decp("950")}, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.s.ReverseOrder(e.ctx, "admin", sale.OrderID, reverse("alice", "x"), nil); !apperr.Is(err, apperr.InsufficientFunds) {
		t.Fatalf("cash short: %v", err)
	}
	// The buy's quantity was sold: nothing to take back.
	if _, _, err := e.s.ReverseOrder(e.ctx, "admin", buy.OrderID, reverse("alice", "x"), nil); !apperr.Is(err, apperr.InsufficientFunds) {
		t.Fatalf("holding sold: %v", err)
	}
	e.cash("alice", "50", "0")
	e.holding("alice", "0", "0")
	e.verify()
}

// 20 concurrent reversals of one order: exactly one wins.
func TestReverseOnce(t *testing.T) {
	e := newEnv(t, "100", "1000")
	o := e.place("alice", entity.OrderCreate{OrderType: entity.MarketBuy, AssetID: "XYZ", Quantity: decp("2")})
	var mu sync.Mutex
	won, conflicts := 0, 0
	race(20, func(int) {
		_, _, err := e.s.ReverseOrder(e.ctx, "admin", o.OrderID, reverse("alice", "race"), nil)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			won++
		case apperr.Is(err, apperr.Conflict):
			conflicts++
		default:
			t.Errorf("reverse: %v", err)
		}
	})
	if won != 1 || conflicts != 19 {
		t.Fatalf("%d won, %d conflicts", won, conflicts)
	}
	e.cash("alice", "1000", "0")
	e.holding("alice", "0", "0")
	e.verify()
	txs, err := e.d.Balances.AllTransactions(e.ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	refunds := 0
	for _, tx := range txs {
		if tx.TransactionType == entity.TxOrderRefund {
			refunds++
		}
	}
	if refunds != 1 {
		t.Fatalf("%d refund entries", refunds)
	}
}

// eventLog keeps the events a service publishes, as text.
type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (r *eventLog) Publish(e trading.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := e.Kind + " " + e.Username
	if e.Order != nil {
		s += " " + string(e.Order.Status)
	}
	if e.Currency != "" {
		s += " " + e.Currency
	}
	r.events = append(r.events, s)
}

func (r *eventLog) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.events
	r.events = nil
	return out
}

// Amendments, adjustments and reversals publish their order and balance
// events after they commit, and a refused one publishes nothing.
func TestNewFlowsPublishEvents(t *testing.T) {
	e := newEnv(t, "100", "1000")
	rec := &eventLog{}
	e.s = trading.New(e.d, trading.Config{}, trading.Options{Now: e.clock.Now, Notifier: rec})
	o := e.place("alice", entity.OrderCreate{OrderType: entity.LimitBuy, AssetID: "XYZ", Quantity: decp("1"), LimitPrice: decp("90")})
	rec.take()
	e.amend("alice", o.OrderID, entity.OrderUpdate{Quantity: decp("2")})
	if got := rec.take(); !slices.Equal(got, []string{"order alice queued", "balance alice USD"}) {
		t.Fatalf("amendment events %q", got)
	}
	if _, _, err := e.s.AmendOrder(e.ctx, "alice", o.OrderID, entity.OrderUpdate{Quantity: decp("20")}, nil); err == nil {
		t.Fatal("amendment past the funds passed")
	}
	if _, _, err := e.s.Adjust(e.ctx, "admin", "alice", adjustment("5", "x"), nil); err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); !slices.Equal(got, []string{"balance alice USD"}) {
		t.Fatalf("adjustment events %q", got)
	}
	buy := e.place("alice", entity.OrderCreate{OrderType: entity.MarketBuy, AssetID: "XYZ", Quantity: decp("1")})
	rec.take()
	if _, _, err := e.s.ReverseOrder(e.ctx, "admin", buy.OrderID, reverse("alice", "x"), nil); err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); !slices.Equal(got, []string{"order alice completed", "balance alice USD"}) {
		t.Fatalf("reversal events %q", got)
	}
}
