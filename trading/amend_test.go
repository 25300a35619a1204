package trading_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/testenv"
	"github.com/orderprocessor/orderprocessor/trading"
)

func (e *env) amend(user, id string, u entity.OrderUpdate) *entity.Order {
	e.t.Helper()
	o, _, err := e.s.AmendOrder(e.ctx, user, id, u, nil)
	if err != nil {
		e.t.Fatalf("amend %s %+v: %v", id, u, err)
	}
	return o
}

func version(v int64) *int64 { return &v }

// lastReason returns the reason of o's last status-history entry.
func lastReason(o *entity.Order) string { return o.StatusHistory[len(o.StatusHistory)-1].Reason }

// holdEntry returns the amount and status of the order_hold entry of o.
func (e *env) holdEntry(user, orderID string) (string, entity.TransactionStatus) {
	e.t.Helper()
	t, err := e.d.Balances.GetTransaction(e.ctx, user, orderID)
	if err != nil {
		e.t.Fatal(err)
	}
	return entity.USD.Format(t.Amount), t.Status
}

func TestAmendLimitBuyMovesTheHold(t *testing.T) {
	e := newEnv(t, "110", "1000")
	o := e.place("alice", entity.OrderCreate{OrderType: entity.LimitBuy, AssetID: "XYZ", Quantity: decp("2"), LimitPrice: decp("100")})
	e.cash("alice", "1000", "200")

	// 3 × 100 = 300: the hold grows by 100 out of the available 800.
	a := e.amend("alice", o.OrderID, entity.OrderUpdate{Quantity: decp("3"), ExpectedVersion: version(o.Version)})
	if a.Status != entity.StatusQueued || !a.HeldAmount.Equal(dec("300")) || a.Version != o.Version+1 {
		t.Fatalf("amended: %s held %s version %d", a.Status, a.HeldAmount, a.Version)
	}
	if got := lastReason(a); got != "amended: quantity 2 -> 3, held_amount 200.00 -> 300.00" {
		t.Fatalf("history reason %q", got)
	}
	if got := statuses(a); got != "pending>confirmed>queued>queued" {
		t.Fatalf("history %s", got)
	}
	e.cash("alice", "1000", "300")
	if amt, st := e.holdEntry("alice", o.OrderID); amt != "300.00" || st != entity.TxPending {
		t.Fatalf("hold entry %s %s", amt, st)
	}
	e.verify()

	// 3 × 90 = 270: 30 released.
	a = e.amend("alice", o.OrderID, entity.OrderUpdate{LimitPrice: decp("90")})
	e.cash("alice", "1000", "270")
	if got := lastReason(a); got != "amended: limit_price 100.00 -> 90.00, held_amount 300.00 -> 270.00" {
		t.Fatalf("history reason %q", got)
	}
	e.verify()

	// 20 × 90 = 1,800 > 1,000: refused, nothing changes.
	_, _, err := e.s.AmendOrder(e.ctx, "alice", o.OrderID, entity.OrderUpdate{Quantity: decp("20")}, nil)
	if !apperr.Is(err, apperr.InsufficientFunds) {
		t.Fatalf("over-amend: %v", err)
	}
	if got := e.order("alice", o.OrderID); !got.Quantity.Equal(dec("3")) || got.Version != a.Version {
		t.Fatalf("refused amendment changed the order: %s v%d", got.Quantity, got.Version)
	}
	e.cash("alice", "1000", "270")

	// The amended order executes at its new limit: 3 at 90 = 270.
	if n := e.tick("95"); n != 0 {
		t.Fatalf("fired above the amended limit: %d", n)
	}
	if n := e.tick("90"); n != 1 {
		t.Fatalf("amended order did not fire at 90: %d", n)
	}
	e.cash("alice", "730", "0")
	e.holding("alice", "3", "0")
	if amt, st := e.holdEntry("alice", o.OrderID); amt != "270.00" || st != entity.TxCompleted {
		t.Fatalf("hold entry %s %s", amt, st)
	}
	e.verify()

	// Executed: 409.
	if _, _, err := e.s.AmendOrder(e.ctx, "alice", o.OrderID, entity.OrderUpdate{Quantity: decp("1")}, nil); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("amend executed: %v", err)
	}
}

func TestAmendLimitBuyWithFee(t *testing.T) {
	e := newEnv(t, "110", "1000")
	s := trading.New(e.d, trading.Config{FeeRate: dec("0.001")}, trading.Options{Now: e.clock.Now})
	p, _, err := s.PlaceOrder(e.ctx, "alice", entity.OrderCreate{OrderType: entity.LimitBuy, AssetID: "XYZ", Quantity: decp("0.5"), LimitPrice: decp("99.99")}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	// 0.5 × 99.99 = 49.995 -> 50.00, fee 0.05: 50.05.
	e.cash("alice", "1000", "50.05")
	// 0.75 × 99.99 = 74.9925 -> 75.00, fee 0.075 -> 0.08: 75.08.
	a, _, err := s.AmendOrder(e.ctx, "alice", p.Order.OrderID, entity.OrderUpdate{Quantity: decp("0.75")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !a.HeldAmount.Equal(dec("75.08")) {
		t.Fatalf("held %s", a.HeldAmount)
	}
	e.cash("alice", "1000", "75.08")
	e.verify()
}

func TestAmendSellMovesTheAssetHold(t *testing.T) {
	e := newEnv(t, "100", "1000")
	e.buyHolding("5")
	o := e.place("alice", entity.OrderCreate{OrderType: entity.LimitSell, AssetID: "XYZ", Quantity: decp("2"), LimitPrice: decp("150")})
	e.holding("alice", "5", "2")

	a := e.amend("alice", o.OrderID, entity.OrderUpdate{Quantity: decp("4")})
	if !a.HeldQuantity.Equal(dec("4")) || lastReason(a) != "amended: quantity 2 -> 4" {
		t.Fatalf("amended: held %s reason %q", a.HeldQuantity, lastReason(a))
	}
	e.holding("alice", "5", "4")
	e.verify()

	if _, _, err := e.s.AmendOrder(e.ctx, "alice", o.OrderID, entity.OrderUpdate{Quantity: decp("6")}, nil); !apperr.Is(err, apperr.InsufficientFunds) {
		t.Fatalf("amend past the holding: %v", err)
	}
	e.holding("alice", "5", "4")

	e.amend("alice", o.OrderID, entity.OrderUpdate{Quantity: decp("1.5"), LimitPrice: decp("140")})
	e.holding("alice", "5", "1.5")
	e.verify()
	if n := e.tick("140"); n != 1 {
		t.Fatalf("amended sell did not fire at 140: %d", n)
	}
	e.holding("alice", "3.5", "0")
	e.cash("alice", "710", "0") // 1,000 - 500 + 1.5 × 140
	e.verify()
}

func TestAmendRules(t *testing.T) {
	e := newEnv(t, "100", "1000")
	o := e.place("alice", entity.OrderCreate{OrderType: entity.LimitBuy, AssetID: "XYZ", Quantity: decp("1"), LimitPrice: decp("90")})
	for _, tc := range []struct {
		name  string
		u     entity.OrderUpdate
		kind  apperr.Kind
		field string
	}{
		{"stop on a limit", entity.OrderUpdate{StopPrice: decp("80")}, apperr.Invalid, "stop_price"},
		{"nothing", entity.OrderUpdate{}, apperr.Invalid, "quantity"},
		{"too precise", entity.OrderUpdate{Quantity: decp("0.123456789")}, apperr.Invalid, "quantity"},
		{"ioc", entity.OrderUpdate{TimeInForce: entity.IOC}, apperr.Invalid, "time_in_force"},
		{"marketable", entity.OrderUpdate{LimitPrice: decp("100")}, apperr.Invalid, "limit_price"},
		{"stale version", entity.OrderUpdate{Quantity: decp("2"), ExpectedVersion: version(o.Version + 1)}, apperr.Conflict, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := e.s.AmendOrder(e.ctx, "alice", o.OrderID, tc.u, nil)
			if !apperr.Is(err, tc.kind) {
				t.Fatalf("err %v, want %s", err, tc.kind)
			}
			if tc.field != "" {
				fs := apperr.FieldsOf(err)
				if len(fs) == 0 || fs[0].Loc[len(fs[0].Loc)-1] != tc.field {
					t.Fatalf("fields %+v, want %s", fs, tc.field)
				}
			}
		})
	}
	if got := e.order("alice", o.OrderID); got.Version != o.Version || len(got.StatusHistory) != len(o.StatusHistory) {
		t.Fatalf("refused amendments changed the order: v%d", got.Version)
	}
	if _, _, err := e.s.AmendOrder(e.ctx, "alice", "01JDQ8Z3V6W5N2T8K4M0R7P9XA", entity.OrderUpdate{Quantity: decp("2")}, nil); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("unknown order: %v", err)
	}
	e.user("bob", "0")
	if _, _, err := e.s.AmendOrder(e.ctx, "bob", o.OrderID, entity.OrderUpdate{Quantity: decp("2")}, nil); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("another user's order: %v", err)
	}
	if _, err := e.s.CancelOrder(e.ctx, o); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.s.AmendOrder(e.ctx, "alice", o.OrderID, entity.OrderUpdate{Quantity: decp("2")}, nil); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("amend cancelled: %v", err)
	}
	e.verify()
}

// A time in force of gtd puts the order in the expiry index, gtc takes it
// out again: the expiry sweep follows the amended order.
func TestAmendExpiry(t *testing.T) {
	e := newEnv(t, "100", "1000")
	o := e.place("alice", entity.OrderCreate{OrderType: entity.LimitBuy, AssetID: "XYZ", Quantity: decp("1"), LimitPrice: decp("90")})
	now := e.clock.Now()
	in1h := entity.TimePtr(now.Add(time.Hour))
	a := e.amend("alice", o.OrderID, entity.OrderUpdate{TimeInForce: entity.GTD, ExpiresAt: in1h})
	if a.TimeInForce != entity.GTD || !a.ExpiresAt.Equal(in1h.Time) {
		t.Fatalf("gtd: %s %v", a.TimeInForce, a.ExpiresAt)
	}
	if want := "amended: time_in_force gtc -> gtd, expires_at none -> 2026-11-25T13:00:00Z"; lastReason(a) != want {
		t.Fatalf("reason %q, want %q", lastReason(a), want)
	}
	e.amend("alice", o.OrderID, entity.OrderUpdate{TimeInForce: entity.GTC})
	if n, err := e.s.ExpireDue(e.ctx, now.Add(2*time.Hour), 1); err != nil || n != 0 {
		t.Fatalf("a gtc order expired: %d %v", n, err)
	}
	e.amend("alice", o.OrderID, entity.OrderUpdate{TimeInForce: entity.GTD, ExpiresAt: in1h})
	if n, err := e.s.ExpireDue(e.ctx, now.Add(2*time.Hour), 1); err != nil || n != 1 {
		t.Fatalf("the gtd order did not expire: %d %v", n, err)
	}
	got := e.order("alice", o.OrderID)
	if got.Status != entity.StatusExpired || statuses(got) != "pending>confirmed>queued>queued>queued>queued>expired" {
		t.Fatalf("expired: %s %s", got.Status, statuses(got))
	}
	e.cash("alice", "1000", "0")
	e.verify()
}

// An OCO pair shares one asset hold and covers one quantity: a change of
// quantity of either leg applies to both, a change of price to one.
func TestAmendOCOLeg(t *testing.T) {
	e := newEnv(t, "100", "1000")
	e.buyHolding("5")
	sl := e.place("alice", entity.OrderCreate{OrderType: entity.StopLoss, AssetID: "XYZ", Quantity: decp("2"), StopPrice: decp("80")})
	tp := e.place("alice", entity.OrderCreate{OrderType: entity.TakeProfit, AssetID: "XYZ", Quantity: decp("2"), LimitPrice: decp("150"), OCOWith: sl.OrderID})
	e.holding("alice", "5", "2")

	// The take-profit leg holds nothing: the stop holds for both.
	a := e.amend("alice", tp.OrderID, entity.OrderUpdate{Quantity: decp("3")})
	s := e.order("alice", sl.OrderID)
	if !a.Quantity.Equal(dec("3")) || !a.HeldQuantity.IsZero() || !s.Quantity.Equal(dec("3")) || !s.HeldQuantity.Equal(dec("3")) {
		t.Fatalf("pair: tp %s/%s, sl %s/%s", a.Quantity, a.HeldQuantity, s.Quantity, s.HeldQuantity)
	}
	if want := "amended: quantity 2 -> 3 with its OCO partner " + tp.OrderID; lastReason(s) != want {
		t.Fatalf("partner reason %q", lastReason(s))
	}
	e.holding("alice", "5", "3")
	e.verify()

	// A price change moves one leg only.
	sv := s.Version
	e.amend("alice", tp.OrderID, entity.OrderUpdate{LimitPrice: decp("160")})
	if got := e.order("alice", sl.OrderID); got.Version != sv {
		t.Fatalf("price change of one leg wrote the other: v%d -> v%d", sv, got.Version)
	}
	// Through the stop leg, the quantity again moves both.
	e.amend("alice", sl.OrderID, entity.OrderUpdate{Quantity: decp("2.5")})
	if got := e.order("alice", tp.OrderID); !got.Quantity.Equal(dec("2.5")) {
		t.Fatalf("tp quantity %s", got.Quantity)
	}
	e.holding("alice", "5", "2.5")
	e.verify()

	if n := e.tick("150"); n != 0 {
		t.Fatalf("fired at the old target: %d", n)
	}
	if n := e.tick("160"); n != 1 {
		t.Fatalf("amended target did not fire: %d", n)
	}
	if got := e.order("alice", sl.OrderID); got.Status != entity.StatusCancelled {
		t.Fatalf("stop leg %s", got.Status)
	}
	e.holding("alice", "2.5", "0")
	e.cash("alice", "900", "0") // 1,000 - 500 + 2.5 × 160
	e.verify()
}

// A trailing stop keeps its high-water mark: a new trail moves its level
// from the mark, and a trail that puts the level at or above the price is
// refused.
func TestAmendTrailingStop(t *testing.T) {
	e := newEnv(t, "100", "1000")
	e.buyHolding("1")
	o := e.place("alice", entity.OrderCreate{OrderType: entity.TrailingStop, AssetID: "XYZ", Quantity: decp("1"), TrailPercent: decp("10")})
	e.tick("120") // mark 120, level 108
	e.tick("112")
	_, _, err := e.s.AmendOrder(e.ctx, "alice", o.OrderID, entity.OrderUpdate{TrailAmount: decp("5")}, nil)
	if fs := apperr.FieldsOf(err); !apperr.Is(err, apperr.Invalid) || len(fs) != 1 || fs[0].Loc[1] != "trail_amount" {
		t.Fatalf("level 115 at price 112: %v", err)
	}
	a := e.amend("alice", o.OrderID, entity.OrderUpdate{TrailAmount: decp("9")}) // level 111
	if a.TrailPercent != nil || !a.TrailAmount.Equal(dec("9")) || !a.HighWaterMark.Equal(dec("120")) {
		t.Fatalf("trail %v %v mark %v", a.TrailPercent, a.TrailAmount, a.HighWaterMark)
	}
	if want := "amended: trail_percent 10 -> none, trail_amount none -> 9.00"; lastReason(a) != want {
		t.Fatalf("reason %q", lastReason(a))
	}
	if n := e.tick("111.5"); n != 0 {
		t.Fatalf("fired above the level: %d", n)
	}
	if n := e.tick("111"); n != 1 {
		t.Fatalf("did not fire at the amended level: %d", n)
	}
	e.holding("alice", "0", "0")
	e.verify()
}

func TestAmendIdempotent(t *testing.T) {
	e := newEnv(t, "100", "1000")
	o := e.place("alice", entity.OrderCreate{OrderType: entity.LimitBuy, AssetID: "XYZ", Quantity: decp("1"), LimitPrice: decp("90")})
	idem := func(hash string) *trading.Idem {
		return &trading.Idem{Key: e.d.Tables.IdemKey("alice", "amend", "amend#k1"), ReqHash: hash,
			Render: func(v any) (int, []byte, error) { return 200, []byte(v.(*entity.Order).Quantity.String()), nil }}
	}
	a, rep, err := e.s.AmendOrder(e.ctx, "alice", o.OrderID, entity.OrderUpdate{Quantity: decp("2")}, idem("h1"))
	if err != nil || rep != nil || !a.Quantity.Equal(dec("2")) {
		t.Fatalf("first: %v %v", rep, err)
	}
	_, rep, err = e.s.AmendOrder(e.ctx, "alice", o.OrderID, entity.OrderUpdate{Quantity: decp("2")}, idem("h1"))
	if err != nil || rep == nil || string(rep.Body) != "2" {
		t.Fatalf("replay: %+v %v", rep, err)
	}
	if _, _, err = e.s.AmendOrder(e.ctx, "alice", o.OrderID, entity.OrderUpdate{Quantity: decp("3")}, idem("h2")); err != trading.ErrIdemMismatch {
		t.Fatalf("other body: %v", err)
	}
	if got := e.order("alice", o.OrderID); got.Version != o.Version+1 {
		t.Fatalf("version %d: amended more than once", got.Version)
	}
	e.cash("alice", "1000", "180")
	e.verify()
}

// 50 goroutines race for one resting order read at one version: half amend
// it (each to another quantity and a limit of 80, If-Match that version),
// half execute it at 90 as the trigger engine does. Exactly one wins: an
// execution that loses to an amendment reads the order again and finds it
// out of reach of 90. The balances equal the sum of the ledger (verify).
func TestAmendRacesTrigger(t *testing.T) {
	for round := range 3 {
		e := newEnv(t, "100", "10000")
		o := e.place("alice", entity.OrderCreate{OrderType: entity.LimitBuy, AssetID: "XYZ", Quantity: decp("10"), LimitPrice: decp("90")})
		var mu sync.Mutex
		amended, executed := 0, 0
		var amendedQty string
		race(50, func(i int) {
			if i%2 == 0 {
				qty := dec("1").Add(dec(string(rune('0' + i%10)))) // 1..10
				a, _, err := e.s.AmendOrder(e.ctx, "alice", o.OrderID, entity.OrderUpdate{Quantity: &qty, LimitPrice: decp("80"),
					ExpectedVersion: version(o.Version)}, nil)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					amended++
					amendedQty = a.Quantity.String()
				case !apperr.Is(err, apperr.Conflict):
					t.Errorf("amend: %v", err)
				}
				return
			}
			ok, err := e.s.Execute(e.ctx, o, dec("90"))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("execute: %v", err)
			}
			if ok {
				executed++
			}
		})
		if amended+executed != 1 {
			t.Fatalf("round %d: %d amendments and %d executions won, want one winner", round, amended, executed)
		}
		got := e.order("alice", o.OrderID)
		if executed == 1 {
			if got.Status != entity.StatusCompleted || strings.Contains(statuses(got), "queued>queued") {
				t.Fatalf("executed: %s", statuses(got))
			}
			e.cash("alice", "9100", "0")
			e.holding("alice", "10", "0")
		} else {
			if got.Status != entity.StatusQueued || got.Quantity.String() != amendedQty || got.Version != o.Version+1 {
				t.Fatalf("amended: %s %s v%d", got.Status, got.Quantity, got.Version)
			}
			q := dec(amendedQty)
			e.cash("alice", "10000", q.Mul(dec("80")).StringFixed(2))
		}
		e.verify()
	}
}

// 50 goroutines: 25 amend one resting sell (If-Match its version), 25
// cancel it. The first write wins: either the cancel (no amendment
// succeeds) or one amendment, after which one cancel still ends the order
// (a cancel applies to the order as it is). Exactly one cancel succeeds
// and the hold is released exactly once.
func TestAmendRacesCancel(t *testing.T) {
	e := newEnv(t, "100", "1000")
	e.buyHolding("5")
	o := e.place("alice", entity.OrderCreate{OrderType: entity.StopLoss, AssetID: "XYZ", Quantity: decp("2"), StopPrice: decp("80")})
	var mu sync.Mutex
	amended, cancelled := 0, 0
	race(50, func(i int) {
		if i%2 == 0 {
			_, _, err := e.s.AmendOrder(e.ctx, "alice", o.OrderID, entity.OrderUpdate{Quantity: decp("3"), ExpectedVersion: version(o.Version)}, nil)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				amended++
			case !apperr.Is(err, apperr.Conflict):
				t.Errorf("amend: %v", err)
			}
			return
		}
		_, err := e.s.CancelOrder(e.ctx, o)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			cancelled++
		case !apperr.Is(err, apperr.Conflict):
			t.Errorf("cancel: %v", err)
		}
	})
	got := e.order("alice", o.OrderID)
	want := "pending>confirmed>queued>cancelled"
	if amended == 1 {
		want = "pending>confirmed>queued>queued>cancelled"
	}
	if cancelled != 1 || amended > 1 || statuses(got) != want {
		t.Fatalf("%d cancels and %d amendments won; history %s", cancelled, amended, statuses(got))
	}
	e.holding("alice", "5", "0")
	e.verify()
}

// Every refusal of an amendment's transaction maps to its error whatever
// the order of its writes: cash short, holding short, a stale version.
func TestAmendRefusalsInEveryTxOrder(t *testing.T) {
	testenv.InEveryTxOrder(t, 7, func(t *testing.T) {
		e := newEnv(t, "100", "100")
		e.buyHolding("0.5")
		b := e.place("alice", entity.OrderCreate{OrderType: entity.LimitBuy, AssetID: "XYZ", Quantity: decp("0.5"), LimitPrice: decp("90")})
		if _, _, err := e.s.AmendOrder(e.ctx, "alice", b.OrderID, entity.OrderUpdate{Quantity: decp("1")}, nil); !apperr.Is(err, apperr.InsufficientFunds) {
			t.Fatalf("cash short: %v", err)
		}
		sl := e.place("alice", entity.OrderCreate{OrderType: entity.StopLoss, AssetID: "XYZ", Quantity: decp("0.5"), StopPrice: decp("80")})
		_, _, err := e.s.AmendOrder(e.ctx, "alice", sl.OrderID, entity.OrderUpdate{Quantity: decp("0.6")}, nil)
		if !apperr.Is(err, apperr.InsufficientFunds) || apperr.MessageOf(err) != "insufficient holdings" {
			t.Fatalf("holding short: %v", err)
		}
		e.verify()
	})
}
