package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// batchResult is one entry of POST /api/v1/orders/batch's data.
type batchResult struct {
	Status int `json:"status"`
	Data   *struct {
		OrderID     string `json:"order_id"`
		Status      string `json:"status"`
		TotalAmount string `json:"total_amount"`
	} `json:"data"`
	Error *struct {
		Code string `json:"code"`
	} `json:"error"`
}

type batchResponse struct {
	Data      []batchResult `json:"data"`
	Succeeded int           `json:"succeeded"`
	Failed    int           `json:"failed"`
}

func (e *env) batch(t *testing.T, u *user, orders ...map[string]any) response {
	t.Helper()
	return e.do(t, http.MethodPost, "/api/v1/orders/batch", u.token, map[string]any{"orders": orders})
}

// TestBatchOrders: a batch applies its orders in order, each in its own
// transaction (a refused order changes nothing and does not undo the
// others), each with the status it would have had on its own; a retried
// batch with client_order_id places nothing twice; a batch of the wrong
// size is refused whole.
func TestBatchOrders(t *testing.T) {
	e := sharedEnv(t)
	u := e.newUser(t)
	asset := e.newAsset(t, "10")
	e.deposit(t, u, "100")

	buy := func(qty string) map[string]any {
		return map[string]any{"order_type": "market_buy", "asset_id": asset, "quantity": qty}
	}
	sell := map[string]any{"order_type": "market_sell", "asset_id": asset, "quantity": "3", "client_order_id": "batch-sell-1"}
	buy5 := buy("5")
	buy5["client_order_id"] = "batch-buy-5"
	var out batchResponse
	e.batch(t, u, buy("4"), buy5, buy("2"), map[string]any{"order_type": "no_such_type", "asset_id": asset, "quantity": "1"}, sell).
		want(t, http.StatusOK).into(t, &out)
	if out.Succeeded != 3 || out.Failed != 2 || len(out.Data) != 5 {
		t.Fatalf("succeeded %d failed %d results %d, want 3, 2, 5", out.Succeeded, out.Failed, len(out.Data))
	}
	// The third buy sees the first two: 100 - 40 - 50 leaves 10, not 20.
	for i, total := range map[int]string{0: "40.00", 1: "50.00", 4: "30.00"} {
		r := out.Data[i]
		if r.Status != http.StatusCreated || r.Data == nil || r.Error != nil || r.Data.Status != "completed" || r.Data.TotalAmount != total {
			t.Errorf("order %d: %+v, want 201, completed for %s", i, r, total)
		}
	}
	e.wantBalance(t, u, "40.00")
	// Each refusal is the one the order would have had on its own (with 40
	// left, a buy of 50 is refused like the third buy was with 10 left).
	refusals := map[int]struct {
		code  string
		alone map[string]any
	}{
		2: {"insufficient_funds", buy("5")},
		3: {"invalid", map[string]any{"order_type": "no_such_type", "asset_id": asset, "quantity": "1"}},
	}
	for i, want := range refusals {
		r := out.Data[i]
		if r.Status != http.StatusUnprocessableEntity || r.Data != nil || r.Error == nil || r.Error.Code != want.code {
			t.Errorf("order %d: %+v, want 422 %s", i, r, want.code)
			continue
		}
		e.order(t, u, want.alone).serviceError(t, http.StatusUnprocessableEntity, want.code)
	}
	e.wantBalance(t, u, "40.00")
	before := e.counts(t, u)

	// The batch retried (say, after a timeout): the orders with a
	// client_order_id are answered with the same orders, and nothing moves,
	// even for the buy the balance (40) could not pay again (50).
	var again batchResponse
	e.batch(t, u, buy5, sell).want(t, http.StatusOK).into(t, &again)
	for i, want := range []string{out.Data[1].Data.OrderID, out.Data[4].Data.OrderID} {
		if r := again.Data[i]; r.Status != http.StatusCreated || r.Data == nil || r.Data.OrderID != want {
			t.Errorf("retried order %d: %+v, want 201 with the order %s again", i, r, want)
		}
	}
	// The same order by the single-order route, lower-case asset id and all:
	// the same order again.
	single := map[string]any{"order_type": "market_sell", "asset_id": strings.ToLower(asset), "quantity": "3", "client_order_id": "batch-sell-1"}
	if d := orderData(t, e.order(t, u, single).want(t, http.StatusCreated)); d["order_id"] != out.Data[4].Data.OrderID {
		t.Errorf("the batch's sale by the single route: order %v, want %s", d["order_id"], out.Data[4].Data.OrderID)
	}
	e.wantBalance(t, u, "40.00")
	if got := e.counts(t, u); got != before {
		t.Errorf("records after the retried batch %+v, want %+v", got, before)
	}

	// Too few or too many orders: refused whole, nothing placed.
	e.batch(t, u).serviceError(t, http.StatusUnprocessableEntity, "invalid")
	many := make([]map[string]any, 101)
	for i := range many {
		many[i] = buy("0.1")
	}
	r := e.batch(t, u, many...).serviceError(t, http.StatusUnprocessableEntity, "invalid")
	if !strings.Contains(r["detail"].([]any)[0].(map[string]any)["msg"].(string), "1 to 100") {
		t.Errorf("101 orders: %v", r)
	}
	e.wantBalance(t, u, "40.00")
	if got := e.counts(t, u); got != before {
		t.Errorf("records after refused batches %+v, want %+v", got, before)
	}
	e.verifyOK(t)
}
