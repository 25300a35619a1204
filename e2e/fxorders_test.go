package e2e

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/platform"
	"github.com/orderprocessor/orderprocessor/testenv/fakeclock"
)

// fxOrderKeys are the keys of an order in another currency than USD: a
// USD order's (orderKeys) and its fx_rate.
var fxOrderKeys = func() []string {
	k := append(slices.Clone(orderKeys), "fx_rate")
	slices.Sort(k)
	return k
}()

// fxOrderData is orderData for an order in another currency: fx_rate is
// present once it executed.
func fxOrderData(t *testing.T, r response) map[string]any {
	t.Helper()
	d := r.obj(t)["data"].(map[string]any)
	want := orderKeys
	if _, ok := d["fx_rate"]; ok {
		want = fxOrderKeys
	}
	if got := sortedKeys(d); !slices.Equal(got, want) {
		t.Fatalf("order keys %v", got)
	}
	return d
}

func (e *env) waitFXOrder(t *testing.T, u *user, id, status string) map[string]any {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		d := fxOrderData(t, e.do(t, http.MethodGet, "/api/v1/orders/"+id, u.token, nil).want(t, http.StatusOK))
		if d["status"] == status {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %s is %v, never reached %s", id, d["status"], status)
		}
	}
}

// fxOrderEnv is fxEnv without a conversion spread, so that the figures of
// the tests of orders in other currencies are the rates' alone
// (TestForeignOrdersPayTheSpread has the spread).
func fxOrderEnv(t *testing.T, tweak func(*platform.Config)) (*env, *fakeclock.Clock) {
	t.Helper()
	return fxEnv(t, func(c *platform.Config) {
		c.Trading.FXSpread = decimal.Zero
		if tweak != nil {
			tweak(c)
		}
	})
}

// TestForeignOrdersPayTheSpread: an order in another currency settles at
// the stored rate moved by the conversion spread (1%) against it, so that
// no order is a cheaper conversion: a buy of 10.80 USD costs what
// converting that much would, a sale pays what converting its proceeds
// would, and a resting buy holds and fills at that rate.
func TestForeignOrdersPayTheSpread(t *testing.T) {
	e, _ := fxEnv(t, nil)
	u := e.newUser(t)
	a := e.newAsset(t, "10.80")
	e.setRate(t, "EUR-USD", "1.08").want(t, http.StatusOK)
	e.cash(t, u, "deposit", "100", "EUR").want(t, http.StatusCreated)

	// A buy pays in euros counted at 1.08 x 0.99 = 1.0692 USD: 10.80 /
	// 1.0692 = 10.1010101 EUR, rounded up to 10.11 EUR, which would
	// convert to 10.11 x 1.0692 = 10.81 USD.
	d := fxOrderData(t, e.order(t, u, map[string]any{"order_type": "market_buy", "asset_id": a, "quantity": "1", "currency": "EUR"}).want(t, http.StatusCreated))
	wantOrder(t, "market buy", d, map[string]any{"status": "completed", "fx_rate": "1.0692", "executed_price": "10.1010101", "total_amount": "10.11"})
	e.wantCash(t, u, "EUR", "89.89")
	// A sale is paid in euros at 1.08 / 0.99 = 1.090909091 USD (rounded
	// up): 10.80 USD of proceeds are 9.90 EUR, what converting them pays.
	d = fxOrderData(t, e.order(t, u, map[string]any{"order_type": "market_sell", "asset_id": a, "quantity": "1", "currency": "EUR"}).want(t, http.StatusCreated))
	wantOrder(t, "market sell", d, map[string]any{"status": "completed", "fx_rate": "1.090909091", "executed_price": "9.90", "total_amount": "9.90"})
	e.wantCash(t, u, "EUR", "99.79")
	// A resting buy holds at that rate (10.00 / 1.0692 = 9.35278714 EUR
	// a unit, rounded up), and fills at it when the engine executes it:
	// 9.72 / 1.0692 = 9.09090909, 9.10 EUR.
	d = fxOrderData(t, e.order(t, u, map[string]any{"order_type": "limit_buy", "asset_id": a, "quantity": "1", "limit_price": "10.00", "currency": "EUR"}).
		want(t, http.StatusCreated))
	wantOrder(t, "limit buy", d, map[string]any{"status": "queued", "held_amount": "9.36"})
	e.setPrice(t, a, "9.72")
	d = e.waitFXOrder(t, u, d["order_id"].(string), "completed")
	wantOrder(t, "limit buy executed", d, map[string]any{"fx_rate": "1.0692", "executed_price": "9.09090909", "total_amount": "9.10", "held_amount": "0.00"})
	e.wantCash(t, u, "EUR", "90.69")
	e.deposit(t, u, "10.80")
	conv := e.do(t, http.MethodPost, "/api/v1/balance/convert", u.token, map[string]any{"from_currency": "USD", "to_currency": "EUR", "amount": "10.80"}).
		want(t, http.StatusCreated).obj(t)
	if credit, _ := conv["credit"].(map[string]any); credit["amount"] != "9.90" || credit["currency"] != "EUR" {
		t.Fatalf("converting 10.80 USD credits %v, want the sale's 9.90 EUR", conv["credit"])
	}
	e.verifyOK(t)
}

// wantOrder checks fields of an order.
func wantOrder(t *testing.T, what string, d map[string]any, want map[string]any) {
	t.Helper()
	for k, v := range want {
		if d[k] != v {
			t.Fatalf("%s: %s = %v, want %v (order %v)", what, k, d[k], v, d)
		}
	}
}

// TestForeignCurrencyOrders: orders in EUR and GBP settle against those
// balances at the asset's USD price / the stored rate at execution, record
// the rate, hold a resting buy in its own currency, and count in USD in the
// holding; the portfolio and P&L value everything in an asked currency.
// Fee rate 1%. Every figure is computed by hand in the comments.
func TestForeignCurrencyOrders(t *testing.T) {
	e, clock := fxOrderEnv(t, func(c *platform.Config) { c.Trading.FeeRate = decimal.MustParse("0.01") })
	u := e.newUser(t)
	a := e.newAsset(t, "10.80")
	e.cash(t, u, "deposit", "100", "EUR").want(t, http.StatusCreated)

	// 1 at 10.80 USD, 1 EUR = 1.08 USD: 10.00 EUR, fee 0.10, total 10.10 EUR.
	d := fxOrderData(t, e.order(t, u, map[string]any{"order_type": "market_buy", "asset_id": a, "quantity": "1", "currency": "eur"}).want(t, http.StatusCreated))
	wantOrder(t, "market buy", d, map[string]any{"status": "completed", "currency": "EUR", "fx_rate": "1.08", "price": "10.80",
		"executed_price": "10.00", "total_amount": "10.10", "fee": "0.10"})
	e.wantCash(t, u, "EUR", "89.90")

	// A limit buy of 2 at 9.72 USD rests holding 2 x 9.72/1.08 = 18.00 + 0.18 = 18.18 EUR.
	d = fxOrderData(t, e.order(t, u, map[string]any{"order_type": "limit_buy", "asset_id": a, "quantity": "2", "limit_price": "9.72", "currency": "EUR"}).
		want(t, http.StatusCreated))
	wantOrder(t, "limit buy", d, map[string]any{"status": "queued", "currency": "EUR", "held_amount": "18.18"})
	limitID := d["order_id"].(string)
	b := e.do(t, http.MethodGet, "/api/v1/balance?currency=EUR", u.token, nil).want(t, http.StatusOK).obj(t)
	if b["current_balance"] != "89.90" || b["held_balance"] != "18.18" || b["available_balance"] != "71.72" {
		t.Fatalf("EUR balance %v", b)
	}
	// The euro rises to 1.20 USD, the asset falls to 9.60 USD: the limit
	// buy executes at 9.60/1.20 = 8.00 EUR: 16.00 + 0.16 = 16.16 EUR, and
	// releases the rest of its hold.
	clock.Advance(time.Minute)
	e.setRate(t, "EUR-USD", "1.20").want(t, http.StatusOK)
	e.setPrice(t, a, "9.60")
	d = e.waitFXOrder(t, u, limitID, "completed")
	wantOrder(t, "limit buy executed", d, map[string]any{"fx_rate": "1.2", "executed_price": "8.00", "total_amount": "16.16",
		"fee": "0.16", "held_amount": "0.00"})
	e.wantCash(t, u, "EUR", "73.74") // 89.90 - 16.16

	// A sale of 1 in GBP at 9.60 USD, 1 GBP = 1.27 USD: 7.55905512 GBP a
	// unit, 7.55 gross, fee 0.08, 7.47 GBP received.
	d = fxOrderData(t, e.order(t, u, map[string]any{"order_type": "market_sell", "asset_id": a, "quantity": "1", "currency": "GBP"}).want(t, http.StatusCreated))
	wantOrder(t, "market sell", d, map[string]any{"status": "completed", "currency": "GBP", "fx_rate": "1.27", "executed_price": "7.55905512",
		"total_amount": "7.47", "fee": "0.08"})
	e.wantCash(t, u, "GBP", "7.47")

	// The holding counts in USD: cost 10.10 x 1.08 + 16.16 x 1.20 = 30.30
	// for 3; the sale took out 10.10 and realized 7.47 x 1.27 - 10.10 = -0.6131.
	h := e.do(t, http.MethodGet, "/api/v1/balance/asset/"+a, u.token, nil).want(t, http.StatusOK).obj(t)
	if h["quantity"] != "2" || h["average_cost"] != "10.10" {
		t.Fatalf("holding %v", h)
	}

	// The portfolio in EUR at 1.20: 2 x 9.60 = 19.20 USD = 16.00 EUR of
	// the asset, cost 20.20 USD = 16.83 EUR, unrealized -1.00 USD = -0.83
	// EUR; cash 73.74 x 1.20 + 7.47 x 1.27 = 97.9749 USD = 81.65 EUR; total
	// 117.1749 USD = 97.65 EUR; the asset is 16.39% of it.
	p := e.do(t, http.MethodGet, "/api/v1/portfolio?currency=eur", u.token, nil).want(t, http.StatusOK).obj(t)
	pa := p["assets"].([]any)[0].(map[string]any)
	if p["valuation_currency"] != "EUR" || p["total_value"] != "97.65" || p["assets_value"] != "16.00" || p["cash_value"] != "81.65" ||
		p["total_unrealized_pnl"] != "-0.83" || pa["current_price"] != "8.00" || pa["market_value"] != "16.00" || pa["cost_basis"] != "16.83" ||
		pa["average_cost"] != "8.41666667" || pa["unrealized_pnl"] != "-0.83" || pa["percentage"] != "16.39" {
		t.Fatalf("portfolio in EUR %v", p)
	}
	p = e.do(t, http.MethodGet, "/api/v1/portfolio", u.token, nil).want(t, http.StatusOK).obj(t)
	if p["valuation_currency"] != "USD" || p["total_value"] != "117.17" || p["assets"].([]any)[0].(map[string]any)["cost_basis"] != "20.20" {
		t.Fatalf("portfolio in USD %v", p)
	}
	// P&L in EUR: realized -0.6131 USD = -0.51 EUR; fees 0.10 x 1.08 +
	// 0.16 x 1.20 + 0.08 x 1.27 = 0.4016 USD = 0.33 EUR.
	pnl := e.do(t, http.MethodGet, "/api/v1/analytics/pnl?currency=EUR", u.token, nil).want(t, http.StatusOK).obj(t)
	if pnl["currency"] != "EUR" || pnl["total_realized_pnl"] != "-0.51" || pnl["total_fees_paid"] != "0.33" || pnl["total_unrealized_pnl"] != "-0.83" {
		t.Fatalf("P&L in EUR %v", pnl)
	}
	for _, path := range []string{"/api/v1/portfolio?currency=XXX", "/api/v1/analytics/pnl?currency=btc", "/api/v1/portfolio?currency=EURO"} {
		m := e.do(t, http.MethodGet, path, u.token, nil).serviceError(t, http.StatusUnprocessableEntity, "invalid")
		if locs := fieldLocs(t, m); locs[0] != "query.currency" {
			t.Fatalf("%s: locs %v", path, locs)
		}
	}
	e.verifyOK(t)

	// An hour later every rate is stale: orders in EUR are refused and
	// change nothing; USD orders need no rate.
	clock.Advance(time.Hour + time.Second)
	before := e.counts(t, u)
	e.order(t, u, map[string]any{"order_type": "market_buy", "asset_id": a, "quantity": "1", "currency": "EUR"}).
		serviceError(t, http.StatusServiceUnavailable, "fx_rate_stale")
	e.order(t, u, map[string]any{"order_type": "limit_buy", "asset_id": a, "quantity": "1", "limit_price": "5", "currency": "EUR"}).
		serviceError(t, http.StatusServiceUnavailable, "fx_rate_stale")
	if after := e.counts(t, u); after != before {
		t.Fatalf("records %+v -> %+v", before, after)
	}
	e.deposit(t, u, "20")
	e.order(t, u, map[string]any{"order_type": "market_buy", "asset_id": a, "quantity": "1"}).want(t, http.StatusCreated)
	e.verifyOK(t)
}

// TestForeignLimitBuyRateMoves: a resting EUR buy holds its cost at the
// rate of placement; when the euro falls before it executes, the fill takes
// the difference from the available balance, or fails and releases the
// hold when the balance lacks it.
func TestForeignLimitBuyRateMoves(t *testing.T) {
	e, _ := fxOrderEnv(t, nil)
	a := e.newAsset(t, "12")
	rich, poor := e.newUser(t), e.newUser(t)
	e.cash(t, rich, "deposit", "20", "EUR").want(t, http.StatusCreated)
	e.cash(t, poor, "deposit", "10", "EUR").want(t, http.StatusCreated)
	e.setRate(t, "EUR-USD", "1.2").want(t, http.StatusOK)
	// 1 at 10.80 USD = 9.00 EUR at 1.20: each holds 9.00 EUR.
	ids := map[*user]string{}
	for _, u := range []*user{rich, poor} {
		d := fxOrderData(t, e.order(t, u, map[string]any{"order_type": "limit_buy", "asset_id": a, "quantity": "1", "limit_price": "10.80", "currency": "EUR"}).
			want(t, http.StatusCreated))
		wantOrder(t, "limit buy", d, map[string]any{"status": "queued", "held_amount": "9.00"})
		ids[u] = d["order_id"].(string)
	}
	// The euro falls to 0.90 USD: at 10.80 USD the unit costs 12.00 EUR.
	e.setRate(t, "EUR-USD", "0.9").want(t, http.StatusOK)
	e.setPrice(t, a, "10.80")
	d := e.waitFXOrder(t, rich, ids[rich], "completed")
	wantOrder(t, "rich", d, map[string]any{"fx_rate": "0.9", "executed_price": "12.00", "total_amount": "12.00", "held_amount": "0.00"})
	e.wantCash(t, rich, "EUR", "8.00")
	d = e.waitFXOrder(t, poor, ids[poor], "failed")
	if d["held_amount"] != "0.00" || d["fx_rate"] != nil {
		t.Fatalf("failed order %v", d)
	}
	e.wantCash(t, poor, "EUR", "10.00")
	e.verifyOK(t)
}

// TestForeignCurrencyEveryOrderType: every order type settles in its
// currency: protective sells, a trailing stop, an OCO pair, a batch, and
// amendments move a resting EUR buy's hold in EUR.
func TestForeignCurrencyEveryOrderType(t *testing.T) {
	e, _ := fxOrderEnv(t, nil)
	u := e.newUser(t)
	a := e.newAsset(t, "100")
	e.cash(t, u, "deposit", "2000", "EUR").want(t, http.StatusCreated)
	// A batch of two market buys: 4 at 100 USD in EUR (1.08) cost
	// 4 x 92.59259259 = 370.37037036, 370.38 EUR; 1 in CHF (1.13) costs
	// 88.50 CHF, which the user does not have: refused, the first stays.
	var br struct {
		Data []struct {
			Status int            `json:"status"`
			Data   map[string]any `json:"data"`
			Error  *struct {
				Code string `json:"code"`
			} `json:"error"`
		} `json:"data"`
	}
	e.batch(t, u, map[string]any{"order_type": "market_buy", "asset_id": a, "quantity": "4", "currency": "EUR"},
		map[string]any{"order_type": "market_buy", "asset_id": a, "quantity": "1", "currency": "CHF"}).want(t, http.StatusOK).into(t, &br)
	if len(br.Data) != 2 || br.Data[0].Status != http.StatusCreated || br.Data[1].Status != http.StatusUnprocessableEntity ||
		br.Data[1].Error == nil || br.Data[1].Error.Code != "insufficient_funds" {
		t.Fatalf("batch %+v", br)
	}
	wantOrder(t, "batch EUR order", br.Data[0].Data, map[string]any{"total_amount": "370.38", "fx_rate": "1.08", "executed_price": "92.59259259"})
	e.wantCash(t, u, "EUR", "1629.62") // 2000 - 370.38

	// Protective sells and a trailing stop rest in EUR on the 4 units.
	sl := fxOrderData(t, e.order(t, u, map[string]any{"order_type": "stop_loss", "asset_id": a, "quantity": "1", "stop_price": "90", "currency": "EUR"}).want(t, http.StatusCreated))
	tp := fxOrderData(t, e.order(t, u, map[string]any{"order_type": "take_profit", "asset_id": a, "quantity": "1", "limit_price": "130", "currency": "EUR",
		"oco_with": sl["order_id"]}).want(t, http.StatusCreated))
	ts := fxOrderData(t, e.order(t, u, map[string]any{"order_type": "trailing_stop", "asset_id": a, "quantity": "1", "trail_amount": "5", "currency": "EUR"}).want(t, http.StatusCreated))
	lb := fxOrderData(t, e.order(t, u, map[string]any{"order_type": "limit_buy", "asset_id": a, "quantity": "1", "limit_price": "54", "currency": "EUR"}).want(t, http.StatusCreated))
	wantOrder(t, "limit buy", lb, map[string]any{"held_amount": "50.00"}) // 54 / 1.08
	// Amending its quantity to 2 holds 100.00 EUR.
	am := e.do(t, http.MethodPatch, "/api/v1/orders/"+lb["order_id"].(string), u.token, map[string]any{"quantity": "2"}).want(t, http.StatusOK)
	wantOrder(t, "amended", fxOrderData(t, am), map[string]any{"held_amount": "100.00", "currency": "EUR"})
	b := e.do(t, http.MethodGet, "/api/v1/balance?currency=EUR", u.token, nil).want(t, http.StatusOK).obj(t)
	if b["held_balance"] != "100.00" || b["current_balance"] != "1629.62" {
		t.Fatalf("EUR balance %v", b)
	}
	// Up to 130: the take profit executes (its OCO stop loss is cancelled)
	// at 130/1.08 = 120.37037037 EUR: 120.37 EUR received; the trailing
	// stop's mark rises to 130.
	e.setPrice(t, a, "130")
	d := e.waitFXOrder(t, u, tp["order_id"].(string), "completed")
	wantOrder(t, "take profit", d, map[string]any{"fx_rate": "1.08", "executed_price": "120.37037037", "total_amount": "120.37"})
	e.waitFXOrder(t, u, sl["order_id"].(string), "cancelled")
	// Down to 124: the trailing stop (130 - 5 = 125) executes at
	// 124/1.08 = 114.81481481: 114.81 EUR.
	e.setPrice(t, a, "124")
	d = e.waitFXOrder(t, u, ts["order_id"].(string), "completed")
	wantOrder(t, "trailing stop", d, map[string]any{"fx_rate": "1.08", "executed_price": "114.81481481", "total_amount": "114.81"})
	b = e.do(t, http.MethodGet, "/api/v1/balance?currency=EUR", u.token, nil).want(t, http.StatusOK).obj(t)
	if b["current_balance"] != "1864.80" || b["held_balance"] != "100.00" { // 1629.62 + 120.37 + 114.81
		t.Fatalf("EUR balance %v", b)
	}
	// Cancelling the limit buy releases its 100.00 EUR.
	e.do(t, http.MethodDelete, "/api/v1/orders/"+lb["order_id"].(string), u.token, nil).want(t, http.StatusOK)
	e.wantCash(t, u, "EUR", "1864.80")
	e.verifyOK(t)
}

// TestForeignOrderWaitsForFreshRate: a resting EUR sale whose trigger fires
// while the euro's rate is stale does not execute; it stays queued with its
// hold, and executes at the next price event once the rate is fresh.
func TestForeignOrderWaitsForFreshRate(t *testing.T) {
	e, clock := fxOrderEnv(t, nil)
	u := e.newUser(t)
	a := e.newAsset(t, "100")
	e.deposit(t, u, "200")
	e.order(t, u, map[string]any{"order_type": "market_buy", "asset_id": a, "quantity": "1"}).want(t, http.StatusCreated)
	tp := fxOrderData(t, e.order(t, u, map[string]any{"order_type": "take_profit", "asset_id": a, "quantity": "1", "limit_price": "108", "currency": "EUR"}).
		want(t, http.StatusCreated))
	clock.Advance(time.Hour + time.Second)
	e.setPrice(t, a, "108")
	e.engineSettled(t)
	d := e.waitFXOrder(t, u, tp["order_id"].(string), "queued")
	if d["held_quantity"] != "1" {
		t.Fatalf("order %v", d)
	}
	e.wantHolding(t, u, a, "1", "1")
	// A fresh rate of 1.08: the next price event sells at 108/1.08 = 100 EUR.
	e.setRate(t, "EUR-USD", "1.08").want(t, http.StatusOK)
	e.setPrice(t, a, "108.00000001")
	d = e.waitFXOrder(t, u, tp["order_id"].(string), "completed")
	wantOrder(t, "take profit", d, map[string]any{"fx_rate": "1.08", "executed_price": "100.00000001", "total_amount": "100.00"})
	e.wantCash(t, u, "EUR", "100.00")
	e.verifyOK(t)
}
