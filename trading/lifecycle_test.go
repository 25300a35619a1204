package trading_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/testenv"
	"github.com/orderprocessor/orderprocessor/testenv/fakeclock"
	"github.com/orderprocessor/orderprocessor/trading"
	"github.com/orderprocessor/orderprocessor/verify"
)

type env struct {
	t     testing.TB
	ctx   context.Context
	d     *dao.DAOs
	s     *trading.Service
	clock *fakeclock.Clock
}

func dec(s string) decimal.Decimal { return decimal.MustParse(s) }

func decp(s string) *decimal.Decimal { d := dec(s); return &d }

// newEnv opens a store with one asset (XYZ at price) and one user with cash.
func newEnv(t testing.TB, price, cash string) *env {
	t.Helper()
	db, tables := testenv.Store(t)
	return newEnvOn(t, db, tables, price, cash)
}

// newEnvOn is newEnv on the store db with tables.
func newEnvOn(t testing.TB, db store.Store, tables dao.Tables, price, cash string) *env {
	t.Helper()
	c := fakeclock.New(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	d := trading.NewDAOs(db, tables)
	e := &env{t: t, ctx: context.Background(), d: d, clock: c,
		s: trading.New(d, trading.Config{}, trading.Options{Now: c.Now})}
	if _, err := e.s.SeedRates(e.ctx); err != nil {
		t.Fatal(err)
	}
	now := entity.At(c.Now())
	if err := d.Assets.Create(e.ctx, &entity.Asset{AssetID: "XYZ", Name: "Xyz", PriceUSD: dec(price), IsActive: true,
		LastUpdated: now, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	e.user("alice", cash)
	return e
}

func (e *env) user(name, cash string) {
	e.t.Helper()
	now := e.clock.Now()
	u := &entity.User{Username: name, Email: name + "@example.com", FirstName: "A", LastName: "B",
		Role: entity.RoleCustomer, IsActive: true, CreatedAt: entity.At(now), UpdatedAt: entity.At(now), Version: 1}
	if err := e.d.Users.Create(e.ctx, u, e.d.Balances.CreateWrite(name, entity.USD, now)); err != nil {
		e.t.Fatal(err)
	}
	if cash != "0" {
		if _, _, err := e.s.Deposit(e.ctx, name, entity.DepositRequest{Amount: decp(cash)}, nil); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *env) place(user string, req entity.OrderCreate) *entity.Order {
	e.t.Helper()
	p, _, err := e.s.PlaceOrder(e.ctx, user, req, "", nil)
	if err != nil {
		e.t.Fatalf("place %+v: %v", req, err)
	}
	return p.Order
}

// tick sets the asset's price and runs the trigger engine on it.
func (e *env) tick(price string) int {
	e.t.Helper()
	if _, err := e.d.Assets.SetPrice(e.ctx, "XYZ", dec(price), e.clock.Now()); err != nil {
		e.t.Fatal(err)
	}
	n, err := e.s.OnPrice(e.ctx, "XYZ", dec(price))
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) order(user, id string) *entity.Order {
	e.t.Helper()
	o, err := e.d.Orders.Get(e.ctx, user, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return o
}

// cash asserts the user's current and held USD balance.
func (e *env) cash(user, current, held string) {
	e.t.Helper()
	b, err := e.d.Balances.Get(e.ctx, user, entity.USD)
	if err != nil {
		e.t.Fatal(err)
	}
	if !b.CurrentBalance.Equal(dec(current)) || !b.HeldBalance.Equal(dec(held)) {
		e.t.Fatalf("%s cash = current %s held %s, want %s / %s", user, b.CurrentBalance, b.HeldBalance, current, held)
	}
}

// holding asserts the user's XYZ quantity and held quantity.
func (e *env) holding(user, qty, held string) {
	e.t.Helper()
	h, err := e.d.Holdings.Get(e.ctx, user, "XYZ")
	if apperr.Is(err, apperr.NotFound) && qty == "0" {
		return
	}
	if err != nil {
		e.t.Fatal(err)
	}
	if !h.Quantity.Equal(dec(qty)) || !h.HeldQuantity.Equal(dec(held)) {
		e.t.Fatalf("%s XYZ = %s held %s, want %s / %s", user, h.Quantity, h.HeldQuantity, qty, held)
	}
}

func (e *env) verify() {
	e.t.Helper()
	rep, err := verify.Run(e.ctx, e.d)
	if err != nil {
		e.t.Fatal(err)
	}
	if !rep.OK() {
		e.t.Fatalf("ledger invariants violated: %v", rep.Violations)
	}
}

func statuses(o *entity.Order) string {
	s := ""
	for i, h := range o.StatusHistory {
		if i > 0 {
			s += ">"
		}
		s += string(h.Status)
	}
	return s
}

const filled = "pending>confirmed>queued>triggered>processing>completed"

// buyHolding gives alice qty XYZ bought at the current price.
func (e *env) buyHolding(qty string) {
	e.t.Helper()
	e.place("alice", entity.OrderCreate{OrderType: entity.MarketBuy, AssetID: "XYZ", Quantity: decp(qty)})
}

func TestLimitBuyLifecycle(t *testing.T) {
	for _, tc := range []struct {
		name, tick, paid, current string
		fires                     bool
	}{
		{"above the limit", "100.01", "", "1000.00", false},
		{"at the limit", "100", "200.00", "800.00", true},
		{"below the limit", "95.5", "191.00", "809.00", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "110", "1000")
			o := e.place("alice", entity.OrderCreate{OrderType: entity.LimitBuy, AssetID: "XYZ", Quantity: decp("2"), LimitPrice: decp("100")})
			if o.Status != entity.StatusQueued || !o.HeldAmount.Equal(dec("200")) {
				t.Fatalf("placed: %s held %s", o.Status, o.HeldAmount)
			}
			e.cash("alice", "1000", "200")
			e.verify()
			n := e.tick(tc.tick)
			got := e.order("alice", o.OrderID)
			if !tc.fires {
				if n != 0 || got.Status != entity.StatusQueued {
					t.Fatalf("fired at %s: %d, %s", tc.tick, n, got.Status)
				}
				e.cash("alice", "1000", "200")
				e.verify()
				return
			}
			if n != 1 || statuses(got) != filled {
				t.Fatalf("at %s: n=%d history %s", tc.tick, n, statuses(got))
			}
			if !got.ExecutedPrice.Equal(dec(tc.tick)) || !got.TotalAmount.Equal(dec(tc.paid)) || !got.HeldAmount.IsZero() {
				t.Fatalf("executed at %s total %s held %s", got.ExecutedPrice, got.TotalAmount, got.HeldAmount)
			}
			e.cash("alice", tc.current, "0") // the unused hold is released, fee-free
			e.holding("alice", "2", "0")
			e.verify()
			if n := e.tick("90"); n != 0 {
				t.Fatalf("executed twice: %d", n)
			}
		})
	}
}

func TestSellSideTriggers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		req     entity.OrderCreate
		quiet   []string // prices that must not fire
		fire    string
		proceed string
	}{
		{"limit_sell", entity.OrderCreate{OrderType: entity.LimitSell, LimitPrice: decp("120")}, []string{"119.99", "100"}, "120", "240.00"},
		{"limit_sell above", entity.OrderCreate{OrderType: entity.LimitSell, LimitPrice: decp("120")}, []string{"119"}, "125.5", "251.00"},
		{"take_profit", entity.OrderCreate{OrderType: entity.TakeProfit, Price: decp("130")}, []string{"129.99"}, "130", "260.00"},
		{"stop_loss", entity.OrderCreate{OrderType: entity.StopLoss, StopPrice: decp("90")}, []string{"90.01", "150"}, "90", "180.00"},
		{"stop_loss gap", entity.OrderCreate{OrderType: entity.StopLoss, StopPrice: decp("90")}, []string{"95"}, "80.25", "160.50"},
		{"trailing_stop percent", entity.OrderCreate{OrderType: entity.TrailingStop, TrailPercent: decp("10")}, []string{"120", "108.01"}, "108", "216.00"},
		{"trailing_stop amount", entity.OrderCreate{OrderType: entity.TrailingStop, TrailAmount: decp("5")}, []string{"110", "105.01"}, "105", "210.00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "100", "1000")
			e.buyHolding("2") // pays 200.00
			req := tc.req
			req.AssetID, req.Quantity = "XYZ", decp("2")
			o := e.place("alice", req)
			if o.Status != entity.StatusQueued || !o.HeldQuantity.Equal(dec("2")) {
				t.Fatalf("placed: %s held %s", o.Status, o.HeldQuantity)
			}
			e.holding("alice", "2", "2")
			e.verify()
			for _, p := range tc.quiet {
				if n := e.tick(p); n != 0 {
					t.Fatalf("fired at %s", p)
				}
			}
			if n := e.tick(tc.fire); n != 1 {
				t.Fatalf("did not fire at %s", tc.fire)
			}
			got := e.order("alice", o.OrderID)
			if statuses(got) != filled || !got.ExecutedPrice.Equal(dec(tc.fire)) || !got.TotalAmount.Equal(dec(tc.proceed)) {
				t.Fatalf("history %s price %v total %s", statuses(got), got.ExecutedPrice, got.TotalAmount)
			}
			e.holding("alice", "0", "0")
			e.cash("alice", dec("800").Add(dec(tc.proceed)).String(), "0")
			e.verify()
		})
	}
}

func TestTrailingStopHighWaterMarkSurvivesRestart(t *testing.T) {
	e := newEnv(t, "100", "1000")
	e.buyHolding("1")
	o := e.place("alice", entity.OrderCreate{OrderType: entity.TrailingStop, AssetID: "XYZ", Quantity: decp("1"), TrailPercent: decp("10")})
	e.tick("150")
	// A second service on the same store (a restart) sees the stored mark.
	e.s = trading.New(e.d, trading.Config{}, trading.Options{Now: e.clock.Now})
	got := e.order("alice", o.OrderID)
	if got.HighWaterMark == nil || !got.HighWaterMark.Equal(dec("150")) {
		t.Fatalf("mark = %v", got.HighWaterMark)
	}
	if n := e.tick("136"); n != 0 {
		t.Fatal("fired above 135")
	}
	if n := e.tick("135"); n != 1 {
		t.Fatal("did not fire at 135")
	}
	e.verify()
}

func TestCancelReleasesHoldOnce(t *testing.T) {
	e := newEnv(t, "100", "1000")
	buy := e.place("alice", entity.OrderCreate{OrderType: entity.LimitBuy, AssetID: "XYZ", Quantity: decp("3"), LimitPrice: decp("50")})
	e.buyHolding("1")
	sell := e.place("alice", entity.OrderCreate{OrderType: entity.LimitSell, AssetID: "XYZ", Quantity: decp("1"), LimitPrice: decp("200")})
	e.cash("alice", "900", "150")
	e.holding("alice", "1", "1")
	for _, o := range []*entity.Order{buy, sell} {
		c, err := e.s.CancelOrder(e.ctx, o)
		if err != nil || c.Status != entity.StatusCancelled {
			t.Fatalf("cancel: %v %v", c, err)
		}
		if _, err := e.s.CancelOrder(e.ctx, e.order("alice", o.OrderID)); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("second cancel: %v", err)
		}
	}
	e.cash("alice", "900", "0")
	e.holding("alice", "1", "0")
	if n := e.tick("40"); n != 0 {
		t.Fatal("a cancelled order fired")
	}
	e.verify()
}

func TestExpiry(t *testing.T) {
	e := newEnv(t, "100", "1000")
	exp := entity.At(e.clock.Now().Add(2 * time.Hour))
	gtd := e.place("alice", entity.OrderCreate{OrderType: entity.LimitBuy, AssetID: "XYZ", Quantity: decp("1"), LimitPrice: decp("50"),
		TimeInForce: entity.GTD, ExpiresAt: &exp})
	day := e.place("alice", entity.OrderCreate{OrderType: entity.LimitBuy, AssetID: "XYZ", Quantity: decp("1"), LimitPrice: decp("60"), TimeInForce: entity.Day})
	gtc := e.place("alice", entity.OrderCreate{OrderType: entity.LimitBuy, AssetID: "XYZ", Quantity: decp("1"), LimitPrice: decp("70")})
	e.cash("alice", "1000", "180")
	if n, err := e.s.ExpireDue(e.ctx, e.clock.Now(), 2); err != nil || n != 0 {
		t.Fatalf("expired early: %d %v", n, err)
	}
	e.clock.Advance(2 * time.Hour)
	if n, err := e.s.ExpireDue(e.ctx, e.clock.Now(), 2); err != nil || n != 1 {
		t.Fatalf("gtd: %d %v", n, err)
	}
	if got := e.order("alice", gtd.OrderID); got.Status != entity.StatusExpired || statuses(got) != "pending>confirmed>queued>expired" {
		t.Fatalf("gtd %s", statuses(got))
	}
	e.cash("alice", "1000", "130")
	e.clock.Advance(12 * time.Hour) // past midnight UTC
	if n, err := e.s.ExpireDue(e.ctx, e.clock.Now(), 2); err != nil || n != 1 {
		t.Fatalf("day: %d %v", n, err)
	}
	if e.order("alice", day.OrderID).Status != entity.StatusExpired || e.order("alice", gtc.OrderID).Status != entity.StatusQueued {
		t.Fatal("wrong orders expired")
	}
	e.cash("alice", "1000", "70")
	e.verify()
}

func TestImmediateOrCancelAndFillOrKill(t *testing.T) {
	e := newEnv(t, "100", "1000")
	for _, tif := range []entity.TimeInForce{entity.IOC, entity.FOK} {
		miss := e.place("alice", entity.OrderCreate{OrderType: entity.LimitBuy, AssetID: "XYZ", Quantity: decp("1"), LimitPrice: decp("99"), TimeInForce: tif})
		if miss.Status != entity.StatusCancelled || !miss.HeldAmount.IsZero() || statuses(miss) != "pending>confirmed>cancelled" {
			t.Fatalf("%s not marketable: %s", tif, statuses(miss))
		}
		hit := e.place("alice", entity.OrderCreate{OrderType: entity.LimitBuy, AssetID: "XYZ", Quantity: decp("1"), LimitPrice: decp("101"), TimeInForce: tif})
		if hit.Status != entity.StatusCompleted || !hit.ExecutedPrice.Equal(dec("100")) {
			t.Fatalf("%s marketable: %s", tif, statuses(hit))
		}
	}
	e.cash("alice", "800", "0")
	e.verify()
}

func TestMarketableLimitExecutesAtPlacement(t *testing.T) {
	e := newEnv(t, "100", "1000")
	o := e.place("alice", entity.OrderCreate{OrderType: entity.LimitBuy, AssetID: "XYZ", Quantity: decp("1"), LimitPrice: decp("150")})
	if o.Status != entity.StatusCompleted || !o.TotalAmount.Equal(dec("100")) || statuses(o) != "pending>confirmed>processing>completed" {
		t.Fatalf("%s %s", statuses(o), o.TotalAmount)
	}
	e.cash("alice", "900", "0")
	e.verify()
}

func TestOneCancelsOther(t *testing.T) {
	e := newEnv(t, "100", "1000")
	e.buyHolding("2")
	tp := e.place("alice", entity.OrderCreate{OrderType: entity.TakeProfit, AssetID: "XYZ", Quantity: decp("2"), LimitPrice: decp("130")})
	sl := e.place("alice", entity.OrderCreate{OrderType: entity.StopLoss, AssetID: "XYZ", Quantity: decp("2"), StopPrice: decp("80"), OCOWith: tp.OrderID})
	e.holding("alice", "2", "2") // one shared hold
	if !sl.HeldQuantity.IsZero() || e.order("alice", tp.OrderID).OCOWith != sl.OrderID {
		t.Fatal("not linked")
	}
	e.verify()
	if n := e.tick("79"); n != 1 {
		t.Fatal("stop did not fire")
	}
	if got := e.order("alice", sl.OrderID); got.Status != entity.StatusCompleted {
		t.Fatalf("stop %s", got.Status)
	}
	if got := e.order("alice", tp.OrderID); got.Status != entity.StatusCancelled || !got.HeldQuantity.IsZero() {
		t.Fatalf("take profit %s held %s", got.Status, got.HeldQuantity)
	}
	e.holding("alice", "0", "0")
	e.cash("alice", "958.00", "0")
	e.verify()

	// A user cancel of one cancels both and releases the shared hold once.
	e.buyHolding("1")
	a := e.place("alice", entity.OrderCreate{OrderType: entity.TakeProfit, AssetID: "XYZ", Quantity: decp("1"), LimitPrice: decp("150")})
	b := e.place("alice", entity.OrderCreate{OrderType: entity.StopLoss, AssetID: "XYZ", Quantity: decp("1"), StopPrice: decp("50"), OCOWith: a.OrderID})
	if _, err := e.s.CancelOrder(e.ctx, e.order("alice", b.OrderID)); err != nil {
		t.Fatal(err)
	}
	if e.order("alice", a.OrderID).Status != entity.StatusCancelled {
		t.Fatal("partner not cancelled")
	}
	e.holding("alice", "1", "0")
	e.verify()
}

// TestOCOLegPastExpiry: a pair ends when its first leg expires, sweep or
// not. A trigger that meets the open leg, or the leg past its expiry,
// expires that leg and cancels the other: nothing fills, the shared hold is
// released once. An order past its expiry cannot be linked to (422 on
// oco_with, nothing changed).
func TestOCOLegPastExpiry(t *testing.T) {
	e := newEnv(t, "100", "1000")
	e.buyHolding("2") // 800 left
	// The stop loss expires in an hour; its partner, a take profit, never.
	stopLoss := func() entity.OrderCreate {
		return entity.OrderCreate{OrderType: entity.StopLoss, AssetID: "XYZ", Quantity: decp("2"), StopPrice: decp("80"),
			TimeInForce: entity.GTD, ExpiresAt: entity.TimePtr(e.clock.Now().Add(time.Hour))}
	}
	for _, c := range []struct{ name, tick string }{
		{"the engine meets the open leg", "130"},   // crosses the take profit only
		{"the engine meets the expired leg", "79"}, // crosses the stop loss only
	} {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			e.tick("100")
			exp := e.place("alice", stopLoss())
			open := e.place("alice", entity.OrderCreate{OrderType: entity.TakeProfit, AssetID: "XYZ", Quantity: decp("2"),
				LimitPrice: decp("130"), OCOWith: exp.OrderID})
			e.holding("alice", "2", "2")
			e.clock.Advance(2 * time.Hour) // no sweep
			if n := e.tick(c.tick); n != 0 {
				t.Fatalf("%d executed", n)
			}
			if got := e.order("alice", exp.OrderID); got.Status != entity.StatusExpired {
				t.Fatalf("leg past its expiry %s", statuses(got))
			}
			if got := e.order("alice", open.OrderID); got.Status != entity.StatusCancelled || !got.HeldQuantity.IsZero() {
				t.Fatalf("open leg %s, held %s", statuses(got), got.HeldQuantity)
			}
			e.holding("alice", "2", "0")
			e.cash("alice", "800", "0")
			e.verify()
		})
	}
	e.t = t

	e.tick("100")
	exp := e.place("alice", stopLoss())
	e.clock.Advance(2 * time.Hour)
	_, _, err := e.s.PlaceOrder(e.ctx, "alice", entity.OrderCreate{OrderType: entity.TakeProfit, AssetID: "XYZ", Quantity: decp("2"),
		LimitPrice: decp("130"), OCOWith: exp.OrderID}, "", nil)
	f := apperr.FieldsOf(err)
	if !apperr.Is(err, apperr.Invalid) || len(f) != 1 || f[0].Loc[len(f[0].Loc)-1] != "oco_with" ||
		f[0].Msg != fmt.Sprintf("order %s expired at %s", exp.OrderID, exp.ExpiresAt) {
		t.Fatalf("link to an order past its expiry: %v %+v", err, f)
	}
	if got := e.order("alice", exp.OrderID); got.Status != entity.StatusQueued || got.OCOWith != "" {
		t.Fatalf("the expired order changed: %s, linked to %q", statuses(got), got.OCOWith)
	}
	e.holding("alice", "2", "2")
	e.cash("alice", "800", "0")
	e.verify()
}

func TestPlacementRejections(t *testing.T) {
	e := newEnv(t, "100", "100")
	for name, req := range map[string]entity.OrderCreate{
		"hold beyond cash":   {OrderType: entity.LimitBuy, AssetID: "XYZ", Quantity: decp("2"), LimitPrice: decp("50.01")},
		"sell without asset": {OrderType: entity.StopLoss, AssetID: "XYZ", Quantity: decp("1"), StopPrice: decp("50")},
	} {
		_, _, err := e.s.PlaceOrder(e.ctx, "alice", req, "", nil)
		if !apperr.Is(err, apperr.InsufficientFunds) {
			t.Errorf("%s: %v", name, err)
		}
	}
	_, _, err := e.s.PlaceOrder(e.ctx, "alice", entity.OrderCreate{OrderType: entity.StopLoss, AssetID: "XYZ", Quantity: decp("1"), StopPrice: decp("50"), OCOWith: "01NOSUCHORDER0000000000000"}, "", nil)
	if !apperr.Is(err, apperr.Invalid) {
		t.Errorf("oco with a missing order: %v", err)
	}
	e.cash("alice", "100", "0")
	e.verify()
}

// A cancel racing a trigger: exactly one wins, the hold is released once.
func TestCancelRacesTrigger(t *testing.T) {
	e := newEnv(t, "100", "10000")
	for i := 0; i < 30; i++ {
		e.tick("100")
		o := e.place("alice", entity.OrderCreate{OrderType: entity.LimitBuy, AssetID: "XYZ", Quantity: decp("1"), LimitPrice: decp("90")})
		if _, err := e.d.Assets.SetPrice(e.ctx, "XYZ", dec("90"), e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var cancelErr error
		var fired int
		wg.Add(2)
		go func() { defer wg.Done(); _, cancelErr = e.s.CancelOrder(e.ctx, o) }()
		go func() { defer wg.Done(); fired, _ = e.s.OnPrice(e.ctx, "XYZ", dec("90")) }()
		wg.Wait()
		got := e.order("alice", o.OrderID)
		switch got.Status {
		case entity.StatusCancelled:
			if cancelErr != nil || fired != 0 {
				t.Fatalf("cancelled but cancel=%v fired=%d", cancelErr, fired)
			}
		case entity.StatusCompleted:
			if !apperr.Is(cancelErr, apperr.Conflict) || fired != 1 {
				t.Fatalf("completed but cancel=%v fired=%d", cancelErr, fired)
			}
		default:
			t.Fatalf("status %s", got.Status)
		}
	}
	e.verify()
}

// Two engines on one store: each order executes once.
func TestTwoEnginesExecuteEachOrderOnce(t *testing.T) {
	e := newEnv(t, "100", "10000")
	const n = 60
	for i := 0; i < n; i++ {
		e.place("alice", entity.OrderCreate{OrderType: entity.LimitBuy, AssetID: "XYZ", Quantity: decp("1"), LimitPrice: decp(fmt.Sprint(90 - i%5))})
	}
	if _, err := e.d.Assets.SetPrice(e.ctx, "XYZ", dec("80"), e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	other := trading.New(e.d, trading.Config{}, trading.Options{Now: e.clock.Now})
	var wg sync.WaitGroup
	counts := make([]int, 2)
	for i, s := range []*trading.Service{e.s, other} {
		wg.Add(1)
		go func(i int, s *trading.Service) {
			defer wg.Done()
			c, err := s.OnPrice(e.ctx, "XYZ", dec("80"))
			if err != nil {
				t.Error(err)
			}
			counts[i] = c
		}(i, s)
	}
	wg.Wait()
	if counts[0]+counts[1] != n {
		t.Fatalf("executions %v, want %d in all", counts, n)
	}
	e.cash("alice", "5200.00", "0") // 10000 - 60 x 80
	e.holding("alice", "60", "0")
	e.verify()
}

func TestTriggerManyRestingOrders(t *testing.T) {
	e := newEnv(t, "100", "100000")
	n := 1000
	if testenv.Engine() != "embedded" {
		n = 200 // the same paths; DynamoDB Local takes ~25 ms per order
	}
	placeMany(e, n)
	if got := e.tick("50"); got != n {
		t.Fatalf("executed %d of %d", got, n)
	}
	e.cash("alice", fmt.Sprint(100000-50*n), "0")
	e.verify()
}

func placeMany(e *env, n int) {
	for i := 0; i < n; i++ {
		e.place("alice", entity.OrderCreate{OrderType: entity.LimitBuy, AssetID: "XYZ", Quantity: decp("1"), LimitPrice: decp("60")})
	}
}

// BenchmarkTrigger1000 measures one tick executing 1,000 resting orders of one asset.
func BenchmarkTrigger1000(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := newEnv(b, "100", "100000")
		placeMany(e, 1000)
		b.StartTimer()
		start := time.Now()
		if _, err := e.d.Assets.SetPrice(e.ctx, "XYZ", dec("50"), e.clock.Now()); err != nil {
			b.Fatal(err)
		}
		got, err := e.s.OnPrice(e.ctx, "XYZ", dec("50"))
		if err != nil || got != 1000 {
			b.Fatalf("executed %d: %v", got, err)
		}
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms/tick")
	}
}

var _ = errors.Is

func TestConvertRecordsBothLegs(t *testing.T) {
	e := newEnv(t, "100", "1000")
	c, _, err := e.s.Convert(e.ctx, "alice", entity.ConvertRequest{FromCurrency: "usd", ToCurrency: "EUR", Amount: decp("108")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.From.Amount.Equal(dec("-108")) || !c.To.Amount.Equal(dec("100")) || c.From.ReferenceID != c.To.ReferenceID {
		t.Fatalf("legs %s / %s", c.From.Amount, c.To.Amount)
	}
	e.cash("alice", "892", "0")
	eur, err := e.d.Balances.Get(e.ctx, "alice", entity.EUR)
	if err != nil || !eur.CurrentBalance.Equal(dec("100")) {
		t.Fatalf("EUR %v %v", eur, err)
	}
	// 1 JPY is 0.0067 USD: 10 JPY buy 0.06 USD (rounded down, never up).
	if _, _, err := e.s.Convert(e.ctx, "alice", entity.ConvertRequest{FromCurrency: "EUR", ToCurrency: "JPY", Amount: decp("1")}, nil); err != nil {
		t.Fatal(err)
	}
	jpy, _ := e.d.Balances.Get(e.ctx, "alice", entity.JPY)
	if !jpy.CurrentBalance.Equal(dec("161")) { // 1.08 / 0.0067 = 161.19...
		t.Fatalf("JPY %s", jpy.CurrentBalance)
	}
	_, _, err = e.s.Convert(e.ctx, "alice", entity.ConvertRequest{FromCurrency: "USD", ToCurrency: "EUR", Amount: decp("893")}, nil)
	if !apperr.Is(err, apperr.InsufficientFunds) {
		t.Fatalf("over-convert: %v", err)
	}
	e.cash("alice", "892", "0")
	e.verify()
}

// A retried order with a client_order_id answers with the order it placed,
// even when the balance or holding no longer covers it.
func TestClientOrderIDRetryAfterExecution(t *testing.T) {
	e := newEnv(t, "100", "150")
	buy := entity.OrderCreate{OrderType: entity.MarketBuy, AssetID: "XYZ", Quantity: decp("1"), ClientOrderID: "buy-1"}
	first, _, err := e.s.PlaceOrder(e.ctx, "alice", buy, "hash-buy", nil)
	if err != nil {
		t.Fatal(err)
	}
	again, _, err := e.s.PlaceOrder(e.ctx, "alice", buy, "hash-buy", nil)
	if err != nil || !again.Existing || again.Order.OrderID != first.Order.OrderID {
		t.Fatalf("retry of an executed buy: %+v %v", again, err)
	}
	sell := entity.OrderCreate{OrderType: entity.MarketSell, AssetID: "XYZ", Quantity: decp("1"), ClientOrderID: "sell-1"}
	sold, _, err := e.s.PlaceOrder(e.ctx, "alice", sell, "hash-sell", nil)
	if err != nil {
		t.Fatal(err)
	}
	again, _, err = e.s.PlaceOrder(e.ctx, "alice", sell, "hash-sell", nil)
	if err != nil || !again.Existing || again.Order.OrderID != sold.Order.OrderID {
		t.Fatalf("retry of an executed sell: %+v %v", again, err)
	}
	if _, _, err := e.s.PlaceOrder(e.ctx, "alice", sell, "another-body", nil); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("same client_order_id, other request: %v", err)
	}
	e.cash("alice", "150", "0")
	e.verify()
}
