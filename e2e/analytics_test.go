package e2e

import (
	"net/http"
	"testing"
)

// TestAnalyticsPnL: average-cost P&L from the caller's own movements.
func TestAnalyticsPnL(t *testing.T) {
	e := sharedEnv(t)
	u := e.newUser(t)
	a := e.newAsset(t, "100")
	e.deposit(t, u, "1000")
	e.order(t, u, map[string]any{"order_type": "market_buy", "asset_id": a, "quantity": "2"}).want(t, http.StatusCreated)
	e.do(t, http.MethodPut, "/api/v1/admin/assets/"+a+"/price", e.admin, map[string]any{"price_usd": "130"}).want(t, http.StatusOK)
	e.order(t, u, map[string]any{"order_type": "market_buy", "asset_id": a, "quantity": "1"}).want(t, http.StatusCreated)
	// Cost 330 for 3 (average 110); sell 1 at 130: realized 20; 2 left, cost 220, worth 260.
	e.order(t, u, map[string]any{"order_type": "market_sell", "asset_id": a, "quantity": "1"}).want(t, http.StatusCreated)
	var got struct {
		Assets []map[string]string `json:"assets"`
		TR     string              `json:"total_realized_pnl"`
		TU     string              `json:"total_unrealized_pnl"`
	}
	e.do(t, http.MethodGet, "/api/v1/analytics/pnl", u.token, nil).want(t, http.StatusOK).into(t, &got)
	if len(got.Assets) != 1 || got.TR != "20.00" || got.TU != "40.00" {
		t.Fatalf("pnl %+v", got)
	}
	want := map[string]string{"asset_id": a, "quantity": "2", "cost_basis": "220.00", "average_cost": "110.00",
		"current_price": "130.00", "market_value": "260.00", "realized_pnl": "20.00", "unrealized_pnl": "40.00",
		"bought_quantity": "3", "sold_quantity": "1"}
	for k, v := range want {
		if got.Assets[0][k] != v {
			t.Errorf("%s = %q, want %q", k, got.Assets[0][k], v)
		}
	}
	// Another user's P&L is their own (empty).
	other := e.newUser(t)
	e.do(t, http.MethodGet, "/api/v1/analytics/pnl", other.token, nil).want(t, http.StatusOK).into(t, &got)
	if len(got.Assets) != 0 || got.TR != "0.00" {
		t.Fatalf("other user's pnl %+v", got)
	}
	e.do(t, http.MethodGet, "/api/v1/analytics/pnl", "", nil).gatewayError(t, http.StatusUnauthorized, "UNAUTHORIZED")
	e.verifyOK(t)
}

// TestAdminSummary counts orders by type and status for admins only.
func TestAdminSummary(t *testing.T) {
	e := newEnv(t, nil)
	u := e.newUser(t)
	a := e.newAsset(t, "10")
	e.deposit(t, u, "100")
	e.order(t, u, map[string]any{"order_type": "market_buy", "asset_id": a, "quantity": "2"}).want(t, http.StatusCreated)
	e.order(t, u, map[string]any{"order_type": "limit_buy", "asset_id": a, "quantity": "1", "limit_price": "5"}).want(t, http.StatusCreated)
	var got struct {
		Users    int               `json:"users"`
		Active   int               `json:"active_users_24h"`
		Orders   int               `json:"orders"`
		ByType   map[string]int    `json:"orders_by_type"`
		ByStatus map[string]int    `json:"orders_by_status"`
		Notional map[string]string `json:"completed_notional_by_asset"`
		Open     int               `json:"open_orders"`
	}
	e.do(t, http.MethodGet, "/api/v1/admin/analytics/summary", e.admin, nil).want(t, http.StatusOK).into(t, &got)
	if got.Users != 2 || got.Active != 1 || got.Orders != 2 || got.Open != 1 || got.ByType["market_buy"] != 1 ||
		got.ByType["limit_buy"] != 1 || got.ByStatus["completed"] != 1 || got.ByStatus["queued"] != 1 || got.Notional[a] != "20.00" {
		t.Fatalf("summary %+v", got)
	}
	e.do(t, http.MethodGet, "/api/v1/admin/analytics/summary", u.token, nil).gatewayError(t, http.StatusForbidden, "FORBIDDEN")
}
