package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"
)

type dailyAnswer struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Currency string `json:"currency"`
	Days     []struct {
		Date           string           `json:"date"`
		Notional       string           `json:"notional"`
		Trades         int64            `json:"trades"`
		ActiveUsers    int64            `json:"active_users"`
		Orders         int64            `json:"orders"`
		OrdersByType   map[string]int64 `json:"orders_by_type"`
		OrdersByStatus map[string]int64 `json:"orders_by_status"`
	} `json:"days"`
}

// placedMetric returns the orderprocessor_orders_total counters with
// outcome "placed", by order type.
func placedMetric(t *testing.T, e *env) map[string]int64 {
	t.Helper()
	body := string(e.do(t, http.MethodGet, "/metrics", "", nil).want(t, http.StatusOK).Body)
	out := map[string]int64{}
	re := regexp.MustCompile(`(?m)^orderprocessor_orders_total\{order_type="([a-z_]+)",outcome="placed"\} (\d+)$`)
	for _, m := range re.FindAllStringSubmatch(body, -1) {
		n, err := strconv.ParseInt(m[2], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		out[m[1]] = n
	}
	return out
}

// fillMetrics returns the orderprocessor_fills_total counters by order
// type and the sum of orderprocessor_fill_notional_usd_total, to cents.
func fillMetrics(t *testing.T, e *env) (map[string]int64, string) {
	t.Helper()
	body := string(e.do(t, http.MethodGet, "/metrics", "", nil).want(t, http.StatusOK).Body)
	fills := map[string]int64{}
	for _, m := range regexp.MustCompile(`(?m)^orderprocessor_fills_total\{order_type="([a-z_]+)"\} (\d+)$`).FindAllStringSubmatch(body, -1) {
		n, err := strconv.ParseInt(m[2], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		fills[m[1]] = n
	}
	var notional float64
	for _, m := range regexp.MustCompile(`(?m)^orderprocessor_fill_notional_usd_total\{order_type="[a-z_]+"\} (\S+)$`).FindAllStringSubmatch(body, -1) {
		f, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			t.Fatal(err)
		}
		notional += f
	}
	return fills, strconv.FormatFloat(notional, 'f', 2, 64)
}

// TestAdminDaily: GET /admin/analytics/daily answers each day's notional and
// fills, the users who placed orders, and the orders placed by type and by
// status once placed; the placements by type are what the
// orderprocessor_orders_total metric counts as placed, and its fills and
// notional what orderprocessor_fills_total and
// orderprocessor_fill_notional_usd_total count, the engine's fills
// included. Admins only.
func TestAdminDaily(t *testing.T) {
	e := newEnv(t, nil)
	a := e.newAsset(t, "100")
	u1, u2, idle := e.newUser(t), e.newUser(t), e.newUser(t)
	e.deposit(t, u1, "1000")
	e.deposit(t, u2, "1000")
	e.deposit(t, idle, "1000")
	e.order(t, u1, map[string]any{"order_type": "market_buy", "asset_id": a, "quantity": "2"}).want(t, http.StatusCreated) // 200.00
	resting := orderData(t, e.order(t, u1, map[string]any{"order_type": "limit_buy", "asset_id": a, "quantity": "1", "limit_price": "50"}).
		want(t, http.StatusCreated))["order_id"].(string)
	e.order(t, u1, map[string]any{"order_type": "limit_buy", "asset_id": a, "quantity": "1", "limit_price": "50", "time_in_force": "ioc"}).want(t, http.StatusCreated)
	e.order(t, u2, map[string]any{"order_type": "market_buy", "asset_id": a, "quantity": "1"}).want(t, http.StatusCreated)              // 100.00
	e.order(t, u2, map[string]any{"order_type": "market_sell", "asset_id": a, "quantity": "0.5"}).want(t, http.StatusCreated)           // 50.00
	e.order(t, u2, map[string]any{"order_type": "market_sell", "asset_id": a, "quantity": "5"}).want(t, http.StatusUnprocessableEntity) // not placed
	e.order(t, idle, map[string]any{"order_type": "limit_sell", "asset_id": a, "quantity": "1", "limit_price": "500"}).want(t, http.StatusUnprocessableEntity)

	today := time.Now().UTC()
	var got dailyAnswer
	q := url.Values{"from": {today.Add(-24 * time.Hour).Format(time.DateOnly)}}
	e.do(t, http.MethodGet, "/api/v1/admin/analytics/daily?"+q.Encode(), e.admin, nil).want(t, http.StatusOK).into(t, &got)
	if got.Currency != "USD" || len(got.Days) != 2 && len(got.Days) != 3 || got.From != today.Add(-24*time.Hour).Format(time.DateOnly) {
		t.Fatalf("daily: %+v", got)
	}
	// The orders ran in the last day of the answer (or, around midnight, the one before).
	var notional []string
	var trades, active, orders int64
	byType, byStatus := map[string]int64{}, map[string]int64{}
	for _, d := range got.Days {
		if d.Trades > 0 {
			notional = append(notional, d.Notional)
		}
		trades, active, orders = trades+d.Trades, active+d.ActiveUsers, orders+d.Orders
		for k, n := range d.OrdersByType {
			byType[k] += n
		}
		for k, n := range d.OrdersByStatus {
			byStatus[k] += n
		}
	}
	if len(got.Days) == 2 && !slices.Equal(notional, []string{"350.00"}) || trades != 3 || active != 2 || orders != 5 ||
		fmt.Sprint(byType) != "map[limit_buy:2 market_buy:2 market_sell:1]" ||
		fmt.Sprint(byStatus) != "map[cancelled:1 completed:3 queued:1]" {
		t.Fatalf("daily figures: notional %v, trades %d, active %d, orders %d, by type %v, by status %v", notional, trades, active, orders, byType, byStatus)
	}
	if m := placedMetric(t, e); fmt.Sprint(m) != fmt.Sprint(byType) {
		t.Fatalf("orderprocessor_orders_total placed %v, the route's orders by type %v", m, byType)
	}
	if fills, n := fillMetrics(t, e); fmt.Sprint(fills) != "map[market_buy:2 market_sell:1]" || n != "350.00" {
		t.Fatalf("fill metrics %v, notional %s; want the route's 3 fills and 350.00", fills, n)
	}
	// The resting limit buy fills at 50 when the price falls there.
	e.do(t, http.MethodPut, "/api/v1/admin/assets/"+a+"/price", e.admin, map[string]any{"price_usd": "50"}).want(t, http.StatusOK)
	e.waitOrder(t, u1, resting, "completed")
	e.do(t, http.MethodGet, "/api/v1/admin/analytics/daily?"+q.Encode(), e.admin, nil).want(t, http.StatusOK).into(t, &got)
	trades, notional = 0, nil
	for _, d := range got.Days {
		if d.Trades > 0 {
			notional = append(notional, d.Notional)
		}
		trades += d.Trades
	}
	// The engine counts its fill when it publishes it, after the sync that
	// made it durable and visible: poll (a hang guard, not a timing
	// assertion).
	fills, n := fillMetrics(t, e)
	for deadline := time.Now().Add(15 * time.Second); (fills["limit_buy"] == 0 || n != "400.00") && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		fills, n = fillMetrics(t, e)
	}
	if fmt.Sprint(fills) != "map[limit_buy:1 market_buy:2 market_sell:1]" || trades != 4 ||
		len(got.Days) == 2 && (n != "400.00" || !slices.Equal(notional, []string{n})) {
		t.Fatalf("fill metrics %v, notional %s; the route's %d fills, notional %v", fills, n, trades, notional)
	}
	e.do(t, http.MethodGet, "/api/v1/admin/analytics/daily?from=2026-13-01", e.admin, nil).serviceError(t, http.StatusUnprocessableEntity, "invalid")
	e.do(t, http.MethodGet, "/api/v1/admin/analytics/daily", u1.token, nil).gatewayError(t, http.StatusForbidden, "FORBIDDEN")
	e.verifyOK(t)
}
