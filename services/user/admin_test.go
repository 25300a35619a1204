package user_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/services/user"
	"github.com/orderprocessor/orderprocessor/trading"
)

// TestAdminSummaryAndVerify: the analytics summary counts users and orders
// by type and status, the completed notional per asset and the users active
// in the last 24 hours; the ledger verification finds the store sound; both
// are for admins only.
func TestAdminSummaryAndVerify(t *testing.T) {
	e, _ := newEnv(t, trading.Config{})
	e.User("admin", entity.RoleAdmin)
	e.User("alice_01", entity.RoleCustomer)
	e.User("bobby_01", entity.RoleCustomer)
	e.Asset("BTC", "100")
	e.Asset("ETH", "20")
	e.Deposit("alice_01", "1000", entity.USD)
	e.Deposit("bobby_01", "1000", entity.USD)
	e.Order("bobby_01", entity.MarketBuy, "ETH", "1", "") // more than a day before the summary
	e.Clock.Advance(25 * time.Hour)
	e.Order("alice_01", entity.MarketBuy, "BTC", "1.5", "")
	e.Order("alice_01", entity.MarketBuy, "ETH", "2", "")
	e.Order("alice_01", entity.LimitBuy, "BTC", "1", "50") // rests
	e.Order("alice_01", entity.MarketSell, "BTC", "0.5", "")
	admin, tok := e.Token("admin", entity.RoleAdmin), e.Token("alice_01", entity.RoleCustomer) // issued after the day passed

	for _, p := range []string{"/api/v1/admin/analytics/summary", "/api/v1/admin/verify"} {
		e.Do("GET", p, tok, "").WantError(t, http.StatusForbidden, "forbidden", "admin role required")
		e.Do("GET", p, "", "").WantError(t, http.StatusUnauthorized, "unauthorized", "")
	}
	var s user.SummaryResponse
	e.Do("GET", "/api/v1/admin/analytics/summary", admin, "").Want(t, http.StatusOK, &s)
	if s.Users != 3 || s.ActiveUsers24h != 1 || s.Orders != 5 || s.OpenOrders != 1 ||
		len(s.OrdersByType) != 3 || s.OrdersByType["market_buy"] != 3 || s.OrdersByType["limit_buy"] != 1 || s.OrdersByType["market_sell"] != 1 ||
		len(s.OrdersByStatus) != 2 || s.OrdersByStatus["completed"] != 4 || s.OrdersByStatus["queued"] != 1 ||
		len(s.NotionalByAsset) != 2 || s.NotionalByAsset["BTC"] != "200.00" || s.NotionalByAsset["ETH"] != "60.00" ||
		!s.Generated.Equal(e.Clock.Now()) {
		t.Fatalf("summary: %+v", s)
	}
	var v user.VerifyResponse
	e.Do("GET", "/api/v1/admin/verify", admin, "").Want(t, http.StatusOK, &v)
	if !v.OK || v.Users != 3 || v.Orders != 5 || len(v.Violations) != 0 {
		t.Fatalf("verify: %+v", v)
	}
}

// TestStoreDown: with the store down, every route that reads or writes it
// answers 500 with the stable internal error body.
func TestStoreDown(t *testing.T) {
	e, _ := newEnv(t, trading.Config{})
	admin := e.User("admin", entity.RoleAdmin)
	tok := e.User("alice_01", entity.RoleCustomer)
	// Both tokens are known to the account cache before the store goes down.
	e.Do("GET", "/api/v1/auth/profile", tok, "").Want(t, http.StatusOK, nil)
	e.Do("GET", "/api/v1/auth/profile", admin, "").Want(t, http.StatusOK, nil)
	e.CloseStore()
	for _, r := range []struct{ method, path, token, body string }{
		{"POST", registerP, "", registerBody("bobby_01", "bob@example.com")},
		{"POST", loginP, "", `{"username":"alice_01","password":"` + password + `"}`},
		{"GET", profileP, tok, ""},
		{"PUT", profileP, tok, `{"last_name":"Jones"}`},
		{"GET", "/api/v1/balance", tok, ""},
		{"GET", "/api/v1/balances", tok, ""},
		{"POST", "/api/v1/balance/deposit", tok, `{"amount":"1"}`},
		{"POST", "/api/v1/balance/withdraw", tok, `{"amount":"1"}`},
		{"POST", "/api/v1/balance/convert", tok, `{"from_currency":"USD","to_currency":"EUR","amount":"1"}`},
		{"GET", "/api/v1/balance/transactions", tok, ""},
		{"GET", "/api/v1/balance/asset/BTC", tok, ""},
		{"GET", "/api/v1/portfolio", tok, ""},
		{"GET", "/api/v1/analytics/pnl", tok, ""},
		{"GET", "/api/v1/admin/analytics/summary", admin, ""},
		{"GET", "/api/v1/admin/verify", admin, ""},
		{"POST", "/api/v1/admin/users/alice_01/deactivate", admin, ""},
	} {
		rep := e.Do(r.method, r.path, r.token, r.body)
		if rep.Status != http.StatusInternalServerError || rep.Body != `{"detail":"internal server error","code":"internal"}` {
			t.Errorf("%s %s with the store down: %d %s", r.method, r.path, rep.Status, rep.Body)
		}
	}
}
