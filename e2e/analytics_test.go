package e2e

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/ids"
	"github.com/orderprocessor/orderprocessor/platform"
	"github.com/orderprocessor/orderprocessor/store"
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

// TestPnLAndPortfolioAgreeWithFee: with a 1% fee, buy 0.1 at 50,000 (paying
// 5,000 + 50 fee), the price moves to 60,000, sell 0.05 (receiving 3,000 - 30
// fee). Buy fees are part of the cost basis and sell fees reduce proceeds, in
// the portfolio, the P&L, the holding's average cost and the admin summary's
// notional (fees excluded) alike.
func TestPnLAndPortfolioAgreeWithFee(t *testing.T) {
	e := newEnv(t, func(c *platform.Config) { c.Trading.FeeRate = decimal.MustParse("0.01") })
	u := e.newUser(t)
	a := e.newAsset(t, "50000")
	e.deposit(t, u, "10000")
	e.order(t, u, map[string]any{"order_type": "market_buy", "asset_id": a, "quantity": "0.1"}).want(t, http.StatusCreated)
	e.do(t, http.MethodPut, "/api/v1/admin/assets/"+a+"/price", e.admin, map[string]any{"price_usd": "60000"}).want(t, http.StatusOK)

	type pnl struct {
		Assets []map[string]string `json:"assets"`
		TR     string              `json:"total_realized_pnl"`
		TU     string              `json:"total_unrealized_pnl"`
		TF     string              `json:"total_fees_paid"`
	}
	type portfolio struct {
		Assets []map[string]string `json:"assets"`
		TU     string              `json:"total_unrealized_pnl"`
	}
	check := func(step string, wantAsset map[string]string, wantTR, wantTU, wantTF string) {
		t.Helper()
		var p pnl
		e.do(t, http.MethodGet, "/api/v1/analytics/pnl", u.token, nil).want(t, http.StatusOK).into(t, &p)
		var pf portfolio
		e.do(t, http.MethodGet, "/api/v1/portfolio", u.token, nil).want(t, http.StatusOK).into(t, &pf)
		h := e.do(t, http.MethodGet, "/api/v1/balance/asset/"+a, u.token, nil).want(t, http.StatusOK).obj(t)
		if len(p.Assets) != 1 || len(pf.Assets) != 1 || p.TR != wantTR || p.TU != wantTU || p.TF != wantTF || pf.TU != wantTU {
			t.Fatalf("%s: pnl %+v\nportfolio %+v", step, p, pf)
		}
		for k, v := range wantAsset {
			if p.Assets[0][k] != v {
				t.Errorf("%s: pnl %s = %q, want %q", step, k, p.Assets[0][k], v)
			}
		}
		for _, k := range []string{"quantity", "cost_basis", "average_cost", "market_value", "unrealized_pnl"} {
			if pf.Assets[0][k] != wantAsset[k] {
				t.Errorf("%s: portfolio %s = %q, want %q (the P&L's)", step, k, pf.Assets[0][k], wantAsset[k])
			}
		}
		if h["average_cost"] != wantAsset["average_cost"] {
			t.Errorf("%s: holding average_cost = %v, want %q", step, h["average_cost"], wantAsset["average_cost"])
		}
	}
	check("after the buy", map[string]string{"asset_id": a, "quantity": "0.1", "cost_basis": "5050.00", "average_cost": "50500.00",
		"current_price": "60000.00", "market_value": "6000.00", "realized_pnl": "0.00", "unrealized_pnl": "950.00",
		"fees_paid": "50.00", "bought_quantity": "0.1", "sold_quantity": "0"}, "0.00", "950.00", "50.00")

	// Half sold: 2,525 of cost out, 2,970 in, realized 445.
	e.order(t, u, map[string]any{"order_type": "market_sell", "asset_id": a, "quantity": "0.05"}).want(t, http.StatusCreated)
	check("after the sale", map[string]string{"asset_id": a, "quantity": "0.05", "cost_basis": "2525.00", "average_cost": "50500.00",
		"current_price": "60000.00", "market_value": "3000.00", "realized_pnl": "445.00", "unrealized_pnl": "475.00",
		"fees_paid": "80.00", "bought_quantity": "0.1", "sold_quantity": "0.05"}, "445.00", "475.00", "80.00")

	var sum struct {
		Notional map[string]string `json:"completed_notional_by_asset"`
	}
	e.do(t, http.MethodGet, "/api/v1/admin/analytics/summary", e.admin, nil).want(t, http.StatusOK).into(t, &sum)
	if sum.Notional[a] != "8000.00" {
		t.Fatalf("completed notional %q, want 8000.00 (5,000 bought + 3,000 sold, fees excluded)", sum.Notional[a])
	}
	e.verifyOK(t)
}

// TestPnLAllocationBound: a P&L call reads one holding per asset held, so
// what it allocates does not grow with the caller's history. The fills are
// written through the DAOs (a ledger entry with its asset leg per fill, the
// holding's totals in the same transaction, as an execution writes them);
// the call goes through the platform's handler.
func TestPnLAllocationBound(t *testing.T) {
	e := newEnv(t, nil)
	u := e.newUser(t)
	a := e.newAsset(t, "100")
	d := e.p.DAOs
	ctx := context.Background()
	fills := 0
	addFills := func(n int) {
		t.Helper()
		for n > 0 {
			k := min(n, 99) // with the holding's write: 100 writes, a transaction's most
			ws := make([]store.Write, 0, k+1)
			for range k {
				ws = append(ws, d.Balances.TransactionWrite(&entity.BalanceTransaction{TransactionID: ids.New(),
					Username: u.name, TransactionType: entity.TxOrderPayment, Amount: decimal.MustParse("-101.00"),
					Currency: entity.USD, Status: entity.TxCompleted, ReferenceID: ids.New(), CreatedAt: entity.At(time.Now()),
					Description: "Buy 1 " + a + " at 100.00",
					Asset:       &entity.AssetLeg{AssetID: a, Quantity: decimal.MustParse("1"), Price: decimal.MustParse("100")}}))
			}
			kd := decimal.FromInt(int64(k))
			ws = append(ws, d.Holdings.BuyWrite(u.name, a, kd, kd.Mul(decimal.MustParse("101")), kd, time.Now()))
			if err := d.Transact(ctx, ws); err != nil {
				t.Fatal(err)
			}
			n -= k
			fills += k
		}
	}
	// allocated returns the fewest bytes one of five P&L calls allocated,
	// after checking the answer. The figure is the process's: the platform's
	// background jobs (lease renewals, sweeps, the rollup) allocate while
	// the call runs, some 100-400 KiB of it on DynamoDB.
	allocated := func() uint64 {
		t.Helper()
		best := uint64(math.MaxUint64)
		for range 5 {
			req := httptest.NewRequest(http.MethodGet, "/api/v1/analytics/pnl", nil)
			req.Header.Set("Authorization", "Bearer "+u.token)
			rec := httptest.NewRecorder()
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			e.p.Handler.ServeHTTP(rec, req)
			runtime.ReadMemStats(&after)
			var got struct {
				Assets []map[string]string `json:"assets"`
			}
			if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &got) != nil || len(got.Assets) != 1 ||
				got.Assets[0]["bought_quantity"] != strconv.Itoa(fills) || got.Assets[0]["cost_basis"] != strconv.Itoa(fills*101)+".00" {
				t.Fatalf("pnl after %d fills: %d %s", fills, rec.Code, rec.Body)
			}
			best = min(best, after.TotalAlloc-before.TotalAlloc)
		}
		return best
	}
	addFills(1000)
	small := allocated()
	addFills(19000)
	large := allocated()
	t.Logf("one P&L call allocates %d bytes with 1,000 fills, %d with 20,000", small, large)
	// Reading the history would allocate megabytes: counting 20,000 ledger
	// entries allocates some 23 MiB. The bounds leave room for the background's
	// noise and none for that.
	if large > 2<<20 {
		t.Errorf("one P&L call over 20,000 fills allocates %d bytes, want < 2 MiB", large)
	}
	if large > small+1<<20 {
		t.Errorf("one P&L call allocates %d bytes over 20,000 fills, %d over 1,000: it grows with the history", large, small)
	}
}

// TestTransactionCountBound: GET /balance/transactions counts the matching
// entries among the newest 5,000 only (it reads no more to count), whatever
// the length of the ledger; paging still reaches every entry.
func TestTransactionCountBound(t *testing.T) {
	e := newEnv(t, nil)
	u := e.newUser(t)
	d := e.p.DAOs
	for b := range 61 { // 6,100 deposits of 1.00
		ws := make([]store.Write, 0, 100)
		for range 100 {
			ws = append(ws, d.Balances.TransactionWrite(&entity.BalanceTransaction{TransactionID: ids.New(), Username: u.name,
				TransactionType: entity.TxDeposit, Amount: decimal.MustParse("1.00"), Currency: entity.USD,
				Status: entity.TxCompleted, CreatedAt: entity.At(time.Now()), Description: "Deposit " + strconv.Itoa(b)}))
		}
		if err := d.Transact(context.Background(), ws); err != nil {
			t.Fatal(err)
		}
	}
	var got struct {
		Transactions []map[string]any `json:"transactions"`
		TotalCount   int              `json:"total_count"`
		NextCursor   *string          `json:"next_cursor"`
	}
	e.do(t, http.MethodGet, "/api/v1/balance/transactions?limit=100", u.token, nil).want(t, http.StatusOK).into(t, &got)
	if len(got.Transactions) != 100 || got.TotalCount != 5000 || got.NextCursor == nil {
		t.Fatalf("first page: %d entries, total_count %d, next %v; want 100, 5000 and a cursor", len(got.Transactions), got.TotalCount, got.NextCursor)
	}
	e.do(t, http.MethodGet, "/api/v1/balance/transactions?limit=100&transaction_type=withdraw", u.token, nil).want(t, http.StatusOK).into(t, &got)
	if len(got.Transactions) != 0 || got.TotalCount != 0 {
		t.Fatalf("withdrawals: %d entries, total_count %d", len(got.Transactions), got.TotalCount)
	}
}
