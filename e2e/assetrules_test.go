package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/platform"
)

// lastReason returns the reason of the last status change of an order.
func lastReason(t *testing.T, d map[string]any) string {
	t.Helper()
	h := d["status_history"].([]any)
	r, _ := h[len(h)-1].(map[string]any)["reason"].(string)
	return r
}

// getOrder reads one order of u.
func (e *env) getOrder(t *testing.T, u *user, id string) map[string]any {
	t.Helper()
	return orderData(t, e.do(t, http.MethodGet, "/api/v1/orders/"+id, u.token, nil).want(t, http.StatusOK))
}

// wantHolding checks u's holding of asset.
func (e *env) wantHolding(t *testing.T, u *user, asset, quantity, held string) {
	t.Helper()
	h := e.do(t, http.MethodGet, "/api/v1/balance/asset/"+asset, u.token, nil).want(t, http.StatusOK).obj(t)
	if h["quantity"] != quantity || h["held_quantity"] != held {
		t.Fatalf("holding of %s: quantity %v held %v, want %s/%s", asset, h["quantity"], h["held_quantity"], quantity, held)
	}
}

// setPrice sets an asset's price through the admin route.
func (e *env) setPrice(t *testing.T, asset, price string) {
	t.Helper()
	e.do(t, http.MethodPut, "/api/v1/admin/assets/"+asset+"/price", e.admin, map[string]any{"price_usd": price}).want(t, http.StatusOK)
}

// engineSettled returns once the trigger engine has evaluated every price
// change made before the call: it moves the price of a sentinel asset
// through a resting limit buy twice and waits for each to execute (the
// engine evaluates changes one batch after another, so the second
// sentinel's change is in a batch after every earlier change).
func (e *env) engineSettled(t *testing.T) {
	t.Helper()
	u := e.newUser(t)
	e.deposit(t, u, "100")
	a := e.newAsset(t, "10")
	for _, p := range []string{"9", "8"} {
		o := orderData(t, e.order(t, u, map[string]any{"order_type": "limit_buy", "asset_id": a, "quantity": "1", "limit_price": p}).want(t, http.StatusCreated))
		e.setPrice(t, a, p)
		e.waitOrder(t, u, o["order_id"].(string), "completed")
	}
}

// restingOrders places on asset (priced 100, u holding 10 of it) one
// resting order of every kind and returns their ids by name: limit buys
// (gtc, day), a limit sell, a stop loss with a take profit linked to it
// (OCO) and a trailing stop. They hold 260.00 USD and 6 units.
func (e *env) restingOrders(t *testing.T, u *user, asset string) map[string]string {
	t.Helper()
	ids := map[string]string{}
	for _, o := range []struct {
		name string
		body map[string]any
	}{
		{"limit_buy", map[string]any{"order_type": "limit_buy", "asset_id": asset, "quantity": "2", "limit_price": "90"}},
		{"limit_buy_day", map[string]any{"order_type": "limit_buy", "asset_id": asset, "quantity": "1", "limit_price": "80", "time_in_force": "day"}},
		{"limit_sell", map[string]any{"order_type": "limit_sell", "asset_id": asset, "quantity": "2", "limit_price": "120"}},
		{"stop_loss", map[string]any{"order_type": "stop_loss", "asset_id": asset, "quantity": "2", "stop_price": "80"}},
		{"take_profit", map[string]any{"order_type": "take_profit", "asset_id": asset, "quantity": "2", "limit_price": "130"}},
		{"trailing_stop", map[string]any{"order_type": "trailing_stop", "asset_id": asset, "quantity": "2", "trail_amount": "10"}},
	} {
		if o.name == "take_profit" {
			o.body["oco_with"] = ids["stop_loss"]
		}
		d := orderData(t, e.order(t, u, o.body).want(t, http.StatusCreated))
		if d["status"] != "queued" {
			t.Fatalf("%s: %v", o.name, d)
		}
		ids[o.name] = d["order_id"].(string)
	}
	if cur, avail, held := e.balance(t, u); cur != "9000.00" || avail != "8740.00" || held != "260.00" {
		t.Fatalf("balance with holds %s/%s/%s", cur, avail, held)
	}
	e.wantHolding(t, u, asset, "10", "6")
	return ids
}

// holderWithOrders returns a user who bought 10 units of a new asset priced
// 100 and rests one order of every kind on it.
func (e *env) holderWithOrders(t *testing.T) (*user, string, map[string]string) {
	t.Helper()
	u := e.newUser(t)
	a := e.newAsset(t, "100")
	e.deposit(t, u, "10000")
	e.order(t, u, map[string]any{"order_type": "market_buy", "asset_id": a, "quantity": "10"}).want(t, http.StatusCreated)
	return u, a, e.restingOrders(t, u, a)
}

// wantAllCancelled checks that every order of ids is cancelled and holds
// nothing, with the reason of the deactivation (the OCO partner of the
// stop loss: the reason of the link), and that u's cash and holding are
// whole again.
func (e *env) wantAllCancelled(t *testing.T, u *user, asset string, ids map[string]string) {
	t.Helper()
	for name, id := range ids {
		d := e.getOrder(t, u, id)
		want := "asset " + asset + " is not active"
		if name == "take_profit" {
			want = "oco: " + ids["stop_loss"] + " cancelled"
		}
		if d["status"] != "cancelled" || d["held_amount"] != "0.00" || d["held_quantity"] != "0" || lastReason(t, d) != want {
			t.Fatalf("%s after deactivation: status %v held %v/%v reason %q, want cancelled 0.00/0 %q",
				name, d["status"], d["held_amount"], d["held_quantity"], lastReason(t, d), want)
		}
	}
	e.wantBalance(t, u, "9000.00")
	e.wantHolding(t, u, asset, "10", "0")
}

// TestDeactivationCancelsRestingOrders: deactivating an asset cancels every
// resting order of it (more than one page of the trigger index) and
// releases the holds; prices set on the inactive asset afterwards execute
// nothing.
func TestDeactivationCancelsRestingOrders(t *testing.T) {
	e := sharedEnv(t)
	u, a, ids := e.holderWithOrders(t)
	// A second user rests more orders than one page of the index holds.
	v := e.newUser(t)
	e.deposit(t, v, "1000")
	const many = 205
	res := e.burst(t, many, func(int) (string, string, string, any) {
		return http.MethodPost, "/api/v1/orders", v.token,
			map[string]any{"order_type": "limit_buy", "asset_id": a, "quantity": "0.01", "limit_price": "50"}
	})
	for i, r := range res {
		if r.Status != http.StatusCreated {
			t.Fatalf("order %d: %d %s", i, r.Status, r.Body)
		}
	}
	if _, _, held := e.balance(t, v); held != "102.50" {
		t.Fatalf("v holds %s", held)
	}

	start := time.Now()
	d := e.do(t, http.MethodPost, "/api/v1/admin/assets/"+a+"/deactivate", e.admin, nil).want(t, http.StatusOK).obj(t)["data"].(map[string]any)
	t.Logf("deactivation with %d resting orders: %v", many+len(ids), time.Since(start))
	if d["is_active"] != false {
		t.Fatalf("deactivated %v", d)
	}
	e.wantAllCancelled(t, u, a, ids)
	os, err := e.p.DAOs.Orders.AllByUser(context.Background(), v.name)
	if err != nil {
		t.Fatal(err)
	}
	if len(os) != many {
		t.Fatalf("v has %d orders", len(os))
	}
	for _, o := range os {
		if o.Status != entity.StatusCancelled {
			t.Fatalf("v's order %s is %s", o.OrderID, o.Status)
		}
	}
	e.wantBalance(t, v, "1000.00")
	e.verifyOK(t)

	// Prices that cross every level execute nothing.
	e.setPrice(t, a, "50")
	e.setPrice(t, a, "200")
	e.engineSettled(t)
	e.wantAllCancelled(t, u, a, ids)
	e.wantBalance(t, v, "1000.00")
	// New orders are refused.
	m := e.order(t, u, map[string]any{"order_type": "limit_buy", "asset_id": a, "quantity": "1", "limit_price": "90"}).
		serviceError(t, http.StatusUnprocessableEntity, "invalid")
	if locs := fieldLocs(t, m); len(locs) != 1 || locs[0] != "body.asset_id" {
		t.Fatalf("locs %v", locs)
	}
	e.verifyOK(t)
}

// TestDeactivationByUpdate: PUT is_active=false is a deactivation too.
func TestDeactivationByUpdate(t *testing.T) {
	e := sharedEnv(t)
	u, a, ids := e.holderWithOrders(t)
	e.do(t, http.MethodPut, "/api/v1/admin/assets/"+a, e.admin, map[string]any{"is_active": false, "price_usd": "50"}).want(t, http.StatusOK)
	e.wantAllCancelled(t, u, a, ids)
	e.engineSettled(t)
	e.wantAllCancelled(t, u, a, ids)
	e.verifyOK(t)
}

// deactivateQuietly marks asset inactive in the store without the
// deactivation's pass over its resting orders: the state of an order whose
// placement read the asset as active and committed after the pass.
func (e *env) deactivateQuietly(t *testing.T, asset string) {
	t.Helper()
	if _, err := e.p.DAOs.Assets.SetActive(context.Background(), asset, false, time.Now()); err != nil {
		t.Fatal(err)
	}
}

// TestInactiveAssetNeverExecutes: the trigger engine cancels, never
// executes, an order resting on an inactive asset, on the admin price path
// and on its periodic sweep.
func TestInactiveAssetNeverExecutes(t *testing.T) {
	t.Run("admin price", func(t *testing.T) {
		e := newEnv(t, func(c *platform.Config) { c.EngineInterval = time.Hour }) // no sweep
		u, a, ids := e.holderWithOrders(t)
		e.deactivateQuietly(t, a)
		e.setPrice(t, a, "50") // crosses the buys and the stops
		for name, id := range ids {
			if name != "take_profit" {
				e.waitOrder(t, u, id, "cancelled")
			}
		}
		e.wantAllCancelled(t, u, a, ids)
		e.verifyOK(t)
	})
	t.Run("sweep", func(t *testing.T) {
		e := newEnv(t, func(c *platform.Config) { c.EngineInterval = 50 * time.Millisecond })
		u, a, ids := e.holderWithOrders(t)
		e.deactivateQuietly(t, a)
		// The stored price crosses the buys and the stops, with no price event.
		if _, err := e.p.DAOs.Assets.SetPrice(context.Background(), a, dec(t, "50"), time.Now()); err != nil {
			t.Fatal(err)
		}
		for name, id := range ids {
			if name != "take_profit" {
				e.waitOrder(t, u, id, "cancelled")
			}
		}
		e.wantAllCancelled(t, u, a, ids)
		e.verifyOK(t)
	})
}

// TestDeactivationRacesPlacement: orders placed while the asset is being
// deactivated are refused or end cancelled (by the deactivation's pass, or
// by the engine's next sweep for one that committed after the pass); none
// rests on the inactive asset.
func TestDeactivationRacesPlacement(t *testing.T) {
	e := newEnv(t, func(c *platform.Config) { c.EngineInterval = 100 * time.Millisecond })
	u := e.newUser(t)
	a := e.newAsset(t, "100")
	e.deposit(t, u, "5000")
	var placed []string
	for range 3 {
		d := orderData(t, e.order(t, u, map[string]any{"order_type": "limit_buy", "asset_id": a, "quantity": "1", "limit_price": "50"}).want(t, http.StatusCreated))
		placed = append(placed, d["order_id"].(string))
	}
	const n = 40
	res := e.burst(t, n+1, func(i int) (string, string, string, any) {
		if i == n/2 {
			return http.MethodPost, "/api/v1/admin/assets/" + a + "/deactivate", e.admin, nil
		}
		return http.MethodPost, "/api/v1/orders", u.token,
			map[string]any{"order_type": "limit_buy", "asset_id": a, "quantity": "1", "limit_price": "50"}
	})
	refused := 0
	for i, r := range res {
		switch {
		case i == n/2:
			r.want(t, http.StatusOK)
		case r.Status == http.StatusCreated:
			placed = append(placed, orderData(t, r)["order_id"].(string))
		case r.Status == http.StatusUnprocessableEntity && strings.Contains(string(r.Body), "is not active"):
			refused++
		default:
			t.Fatalf("order %d: %d %s", i, r.Status, r.Body)
		}
	}
	t.Logf("%d placed, %d refused", len(placed), refused)
	for _, id := range placed {
		d := e.waitOrder(t, u, id, "cancelled")
		if want := fmt.Sprintf("asset %s is not active", a); lastReason(t, d) != want {
			t.Fatalf("reason %q, want %q", lastReason(t, d), want)
		}
	}
	e.wantBalance(t, u, "5000.00")
	e.verifyOK(t)
}
