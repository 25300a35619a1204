package e2e

import (
	"net/http"
	"reflect"
	"slices"
	"testing"
)

// lastHistoryReason returns the reason of an order's last status change.
func lastHistoryReason(t *testing.T, d map[string]any) string {
	t.Helper()
	h := d["status_history"].([]any)
	r, _ := h[len(h)-1].(map[string]any)["reason"].(string)
	return r
}

func (e *env) patchOrder(t *testing.T, u *user, id string, body map[string]any, hdr ...string) response {
	t.Helper()
	return e.do(t, http.MethodPatch, "/api/v1/orders/"+id, u.token, body, hdr...)
}

func (e *env) wantFunds(t *testing.T, u *user, current, available, held string) {
	t.Helper()
	c, a, h := e.balance(t, u)
	if c != current || a != available || h != held {
		t.Fatalf("balance current %s available %s held %s, want %s/%s/%s", c, a, h, current, available, held)
	}
}

func TestAmendOrder(t *testing.T) {
	e := sharedEnv(t)
	u := e.newUser(t)
	a := e.newAsset(t, "100")
	e.deposit(t, u, "1000")
	placed := orderData(t, e.order(t, u, map[string]any{"order_type": "limit_buy", "asset_id": a, "quantity": "2", "limit_price": "90"}).want(t, http.StatusCreated))
	id := placed["order_id"].(string)
	e.wantFunds(t, u, "1000.00", "820.00", "180.00") // 2 × 90

	// GET gives the order's version as its ETag; the body keeps its shape.
	g := e.do(t, http.MethodGet, "/api/v1/orders/"+id, u.token, nil).want(t, http.StatusOK)
	orderData(t, g)
	etag := g.Header.Get("ETag")
	if etag != `"1"` {
		t.Fatalf("ETag %q", etag)
	}

	// 3 × 90 = 270: 90 more held.
	r := e.patchOrder(t, u, id, map[string]any{"quantity": "3"}, "If-Match", etag).want(t, http.StatusOK)
	d := orderData(t, r)
	for k, v := range map[string]any{"status": "queued", "quantity": "3", "held_amount": "270.00", "limit_price": "90.00"} {
		if d[k] != v {
			t.Errorf("amended %s = %#v, want %#v", k, d[k], v)
		}
	}
	if hs := historyStatuses(t, d); !slices.Equal(hs, []string{"pending", "confirmed", "queued", "queued"}) {
		t.Fatalf("history %v", hs)
	}
	if got := lastHistoryReason(t, d); got != "amended: quantity 2 -> 3, held_amount 180.00 -> 270.00" {
		t.Fatalf("reason %q", got)
	}
	if got := r.Header.Get("ETag"); got != `"2"` {
		t.Fatalf("ETag after the amendment %q", got)
	}
	e.wantFunds(t, u, "1000.00", "730.00", "270.00")

	// A lost update is refused: the old ETag, or a stale expected_version.
	e.patchOrder(t, u, id, map[string]any{"quantity": "4"}, "If-Match", etag).serviceError(t, http.StatusConflict, "conflict")
	e.patchOrder(t, u, id, map[string]any{"quantity": "4", "expected_version": 1}).serviceError(t, http.StatusConflict, "conflict")
	e.patchOrder(t, u, id, map[string]any{"quantity": "4", "expected_version": 1}, "If-Match", `"2"`).serviceError(t, http.StatusUnprocessableEntity, "invalid")
	m := e.patchOrder(t, u, id, map[string]any{"quantity": "4"}, "If-Match", "v2").serviceError(t, http.StatusUnprocessableEntity, "invalid")
	if locs := fieldLocs(t, m); !slices.Equal(locs, []string{"header.If-Match"}) {
		t.Fatalf("malformed If-Match: %v", locs)
	}
	if got := e.do(t, http.MethodGet, "/api/v1/orders/"+id, u.token, nil).want(t, http.StatusOK).Header.Get("ETag"); got != `"2"` {
		t.Fatalf("ETag of GET after the amendment %q", got)
	}

	// Invalid changes: 422 with the field.
	for _, tc := range []struct {
		body map[string]any
		loc  string
	}{
		{map[string]any{"stop_price": "80"}, "body.stop_price"},
		{map[string]any{}, "body.quantity"},
		{map[string]any{"limit_price": "100"}, "body.limit_price"}, // marketable at 100
		{map[string]any{"quantity": "0.0001"}, "body.quantity"},
		{map[string]any{"time_in_force": "fok"}, "body.time_in_force"},
		{map[string]any{"quantity": "x"}, "body.quantity"},
	} {
		m := e.patchOrder(t, u, id, tc.body).serviceError(t, http.StatusUnprocessableEntity, "invalid")
		if locs := fieldLocs(t, m); !slices.Contains(locs, tc.loc) {
			t.Errorf("%v: locs %v, want %s", tc.body, locs, tc.loc)
		}
	}
	// 20 × 90 = 1,800 > 1,000.
	e.patchOrder(t, u, id, map[string]any{"quantity": "20"}).serviceError(t, http.StatusUnprocessableEntity, "insufficient_funds")
	e.wantFunds(t, u, "1000.00", "730.00", "270.00")

	// Idempotency-Key: the same request answers the same; another body 409.
	r = e.patchOrder(t, u, id, map[string]any{"limit_price": "80"}, "Idempotency-Key", "amend-"+id).want(t, http.StatusOK)
	if d := orderData(t, r); d["held_amount"] != "240.00" || d["limit_price"] != "80.00" {
		t.Fatalf("amended to 80: %v %v", d["held_amount"], d["limit_price"])
	}
	again := e.patchOrder(t, u, id, map[string]any{"limit_price": "80"}, "Idempotency-Key", "amend-"+id).want(t, http.StatusOK)
	if again.Header.Get("Idempotent-Replayed") != "true" || !reflect.DeepEqual(again.obj(t), r.obj(t)) {
		t.Fatalf("replay: %q %s", again.Header.Get("Idempotent-Replayed"), again.Body)
	}
	e.patchOrder(t, u, id, map[string]any{"limit_price": "70"}, "Idempotency-Key", "amend-"+id).serviceError(t, http.StatusConflict, "conflict")
	e.wantFunds(t, u, "1000.00", "760.00", "240.00")

	// Another user's order is not found.
	other := e.newUser(t)
	e.patchOrder(t, other, id, map[string]any{"quantity": "1"}).serviceError(t, http.StatusNotFound, "not_found")

	// The amended order executes at its new limit: 3 × 80 = 240.
	e.setPrice(t, a, "85")
	e.setPrice(t, a, "80")
	done := e.waitOrder(t, u, id, "completed")
	if done["total_amount"] != "240.00" || done["executed_price"] != "80.00" {
		t.Fatalf("executed %v at %v", done["total_amount"], done["executed_price"])
	}
	e.wantBalance(t, u, "760.00")
	e.patchOrder(t, u, id, map[string]any{"quantity": "1"}).serviceError(t, http.StatusConflict, "conflict")
	e.verifyOK(t)
}

// Both legs of an OCO pair cover one quantity: amending one leg's quantity
// amends the other's, with one asset hold.
func TestAmendOCOPair(t *testing.T) {
	e := sharedEnv(t)
	u := e.newUser(t)
	a := e.newAsset(t, "100")
	e.deposit(t, u, "1000")
	e.order(t, u, map[string]any{"order_type": "market_buy", "asset_id": a, "quantity": "5"}).want(t, http.StatusCreated)
	sl := orderData(t, e.order(t, u, map[string]any{"order_type": "stop_loss", "asset_id": a, "quantity": "2", "stop_price": "80"}).want(t, http.StatusCreated))
	tp := orderData(t, e.order(t, u, map[string]any{"order_type": "take_profit", "asset_id": a, "quantity": "2", "limit_price": "150",
		"oco_with": sl["order_id"]}).want(t, http.StatusCreated))
	e.wantHolding(t, u, a, "5", "2")

	d := orderData(t, e.patchOrder(t, u, tp["order_id"].(string), map[string]any{"quantity": "3"}).want(t, http.StatusOK))
	if d["quantity"] != "3" || d["held_quantity"] != "0" {
		t.Fatalf("take profit %v held %v", d["quantity"], d["held_quantity"])
	}
	s := orderData(t, e.do(t, http.MethodGet, "/api/v1/orders/"+sl["order_id"].(string), u.token, nil).want(t, http.StatusOK))
	if s["quantity"] != "3" || s["held_quantity"] != "3" || lastHistoryReason(t, s) != "amended: quantity 2 -> 3 with its OCO partner "+tp["order_id"].(string) {
		t.Fatalf("stop loss %v held %v reason %q", s["quantity"], s["held_quantity"], lastHistoryReason(t, s))
	}
	e.wantHolding(t, u, a, "5", "3")
	// More than the holding: refused, for the pair.
	e.patchOrder(t, u, sl["order_id"].(string), map[string]any{"quantity": "5.5"}).serviceError(t, http.StatusUnprocessableEntity, "insufficient_funds")
	e.wantHolding(t, u, a, "5", "3")
	e.verifyOK(t)
}
