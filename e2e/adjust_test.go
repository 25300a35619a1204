package e2e

import (
	"net/http"
	"slices"
	"testing"
)

var adjustmentKeys = []string{"amount", "created_at", "created_by", "currency", "reason", "status", "transaction_id", "transaction_type", "username"}

func (e *env) adjust(t *testing.T, username string, body map[string]any, hdr ...string) response {
	t.Helper()
	return e.do(t, http.MethodPost, "/api/v1/admin/users/"+username+"/adjustments", e.admin, body, hdr...)
}

func TestAdminAdjustments(t *testing.T) {
	e := sharedEnv(t)
	u := e.newUser(t)
	e.deposit(t, u, "100")

	r := e.adjust(t, u.name, map[string]any{"amount": "25.50", "reason": "goodwill credit"}, "Idempotency-Key", "adj-1-"+u.name).want(t, http.StatusCreated)
	m := r.obj(t)
	if got := sortedKeys(m); !slices.Equal(got, adjustmentKeys) {
		t.Fatalf("keys %v", got)
	}
	for k, v := range map[string]any{"username": u.name, "transaction_type": "system_adjustment", "amount": "25.50", "currency": "USD",
		"reason": "goodwill credit", "created_by": "admin", "status": "completed"} {
		if m[k] != v {
			t.Errorf("%s = %#v, want %#v", k, m[k], v)
		}
	}
	e.wantBalance(t, u, "125.50")
	// The same key and body: the same answer, nothing more.
	again := e.adjust(t, u.name, map[string]any{"amount": "25.50", "reason": "goodwill credit"}, "Idempotency-Key", "adj-1-"+u.name).want(t, http.StatusCreated)
	if again.Header.Get("Idempotent-Replayed") != "true" || string(again.Body) != string(r.Body) {
		t.Fatalf("replay %q %s", again.Header.Get("Idempotent-Replayed"), again.Body)
	}
	e.adjust(t, u.name, map[string]any{"amount": "26", "reason": "goodwill credit"}, "Idempotency-Key", "adj-1-"+u.name).serviceError(t, http.StatusConflict, "conflict")
	e.wantBalance(t, u, "125.50")

	// A debit never drives the balance negative.
	e.adjust(t, u.name, map[string]any{"amount": "-125.51", "reason": "chargeback"}, "Idempotency-Key", "adj-2-"+u.name).
		serviceError(t, http.StatusUnprocessableEntity, "insufficient_funds")
	e.adjust(t, u.name, map[string]any{"amount": "-125.50", "reason": "chargeback"}, "Idempotency-Key", "adj-3-"+u.name).want(t, http.StatusCreated)
	e.wantBalance(t, u, "0.00")

	// The ledger lists both, in its compat shape.
	var txs struct {
		Transactions []map[string]any `json:"transactions"`
	}
	e.do(t, http.MethodGet, "/api/v1/balance/transactions?transaction_type=system_adjustment", u.token, nil).want(t, http.StatusOK).into(t, &txs)
	if len(txs.Transactions) != 2 || txs.Transactions[0]["amount"] != "-125.50" || txs.Transactions[1]["amount"] != "25.50" ||
		txs.Transactions[0]["description"] != "chargeback" {
		t.Fatalf("ledger %v", txs.Transactions)
	}
	if got := sortedKeys(txs.Transactions[0]); !slices.Equal(got, []string{"amount", "created_at", "currency", "description", "reference_id", "status", "transaction_id", "transaction_type"}) {
		t.Fatalf("ledger entry keys %v", got)
	}

	// Refusals.
	key := "Idempotency-Key"
	m = e.adjust(t, u.name, map[string]any{"amount": "1"}, key, "adj-4-"+u.name).serviceError(t, http.StatusUnprocessableEntity, "invalid")
	if locs := fieldLocs(t, m); !slices.Equal(locs, []string{"body.reason"}) {
		t.Fatalf("no reason: %v", locs)
	}
	m = e.adjust(t, u.name, map[string]any{"amount": "0", "reason": "x"}, key, "adj-5-"+u.name).serviceError(t, http.StatusUnprocessableEntity, "invalid")
	if locs := fieldLocs(t, m); !slices.Equal(locs, []string{"body.amount"}) {
		t.Fatalf("zero: %v", locs)
	}
	m = e.adjust(t, u.name, map[string]any{"amount": "1", "reason": "x"}).serviceError(t, http.StatusUnprocessableEntity, "invalid")
	if locs := fieldLocs(t, m); !slices.Equal(locs, []string{"header.Idempotency-Key"}) {
		t.Fatalf("no key: %v", locs)
	}
	e.adjust(t, "nobody_"+u.name, map[string]any{"amount": "1", "reason": "x"}, key, "adj-6-"+u.name).serviceError(t, http.StatusNotFound, "not_found")
	e.do(t, http.MethodPost, "/api/v1/admin/users/"+u.name+"/adjustments", u.token, map[string]any{"amount": "1000", "reason": "x"}, key, "adj-7").
		gatewayError(t, http.StatusForbidden, "FORBIDDEN")
	e.wantBalance(t, u, "0.00")
	e.verifyOK(t)
}

func (e *env) reverse(t *testing.T, u *user, orderID, reason string) response {
	t.Helper()
	return e.do(t, http.MethodPost, "/api/v1/admin/orders/"+orderID+"/reverse", e.admin, map[string]any{"username": u.name, "reason": reason})
}

func TestAdminReversals(t *testing.T) {
	e := sharedEnv(t)
	u := e.newUser(t)
	a := e.newAsset(t, "100")
	e.deposit(t, u, "1000")

	// A buy of 2 at 100 paid 200.00; its reversal gives it back.
	buy := orderData(t, e.order(t, u, map[string]any{"order_type": "market_buy", "asset_id": a, "quantity": "2"}).want(t, http.StatusCreated))
	e.wantBalance(t, u, "800.00")
	m := e.reverse(t, u, buy["order_id"].(string), "fill at a broken price").want(t, http.StatusCreated).obj(t)
	ref := m["refund"].(map[string]any)
	for k, v := range map[string]any{"transaction_type": "order_refund", "amount": "200.00", "currency": "USD", "asset_id": a,
		"quantity": "2", "price": "100.00", "created_by": "admin", "reference_id": buy["order_id"], "status": "completed"} {
		if ref[k] != v {
			t.Errorf("refund %s = %#v, want %#v", k, ref[k], v)
		}
	}
	o := m["order"].(map[string]any)
	if o["status"] != "completed" || lastHistoryReason(t, o) != "reversed by admin: fill at a broken price" {
		t.Fatalf("order %v %q", o["status"], lastHistoryReason(t, o))
	}
	e.wantBalance(t, u, "1000.00")
	e.wantHolding(t, u, a, "0", "0")
	e.reverse(t, u, buy["order_id"].(string), "again").serviceError(t, http.StatusConflict, "conflict")
	e.wantBalance(t, u, "1000.00")

	// A sale: buy 2 at 100 (200.00), sell 1 at 150 (150.00); reversing the
	// sale takes the 150.00 back and returns the 1.
	e.order(t, u, map[string]any{"order_type": "market_buy", "asset_id": a, "quantity": "2"}).want(t, http.StatusCreated)
	e.setPrice(t, a, "150")
	sale := orderData(t, e.order(t, u, map[string]any{"order_type": "market_sell", "asset_id": a, "quantity": "1"}).want(t, http.StatusCreated))
	e.wantBalance(t, u, "950.00")
	m = e.reverse(t, u, sale["order_id"].(string), "sold by mistake").want(t, http.StatusCreated).obj(t)
	if ref := m["refund"].(map[string]any); ref["amount"] != "-150.00" || ref["quantity"] != "1" || ref["price"] != "150.00" {
		t.Fatalf("sale refund %v", ref)
	}
	e.wantBalance(t, u, "800.00")
	e.wantHolding(t, u, a, "2", "0")

	// Refused: a holding that would go negative, an order still resting,
	// another user's order, a missing reason.
	sell := orderData(t, e.order(t, u, map[string]any{"order_type": "market_sell", "asset_id": a, "quantity": "2"}).want(t, http.StatusCreated))
	e.wantBalance(t, u, "1100.00")
	e.wantHolding(t, u, a, "0", "0")
	buys := e.do(t, http.MethodGet, "/api/v1/orders?order_type=market_buy", u.token, nil).want(t, http.StatusOK).obj(t)["data"].([]any)
	second := buys[0].(map[string]any)["order_id"].(string)
	e.reverse(t, u, second, "x").serviceError(t, http.StatusUnprocessableEntity, "insufficient_funds")
	rest := orderData(t, e.order(t, u, map[string]any{"order_type": "limit_buy", "asset_id": a, "quantity": "1", "limit_price": "10"}).want(t, http.StatusCreated))
	e.reverse(t, u, rest["order_id"].(string), "x").serviceError(t, http.StatusConflict, "conflict")
	other := e.newUser(t)
	e.reverse(t, other, sell["order_id"].(string), "x").serviceError(t, http.StatusNotFound, "not_found")
	m = e.do(t, http.MethodPost, "/api/v1/admin/orders/"+sell["order_id"].(string)+"/reverse", e.admin, map[string]any{"username": u.name}).
		serviceError(t, http.StatusUnprocessableEntity, "invalid")
	if locs := fieldLocs(t, m); !slices.Equal(locs, []string{"body.reason"}) {
		t.Fatalf("no reason: %v", locs)
	}
	e.do(t, http.MethodPost, "/api/v1/admin/orders/"+sell["order_id"].(string)+"/reverse", u.token, map[string]any{"username": u.name, "reason": "x"}).
		gatewayError(t, http.StatusForbidden, "FORBIDDEN")
	e.wantFunds(t, u, "1100.00", "1090.00", "10.00")
	e.verifyOK(t)
}
