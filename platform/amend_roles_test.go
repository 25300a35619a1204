package platform

import (
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/proxy"
)

// The amendment and the admin money routes pass through the gateway to the
// order and user services, with the If-Match and ETag headers.
func TestAmendAndAdjustThroughGateway(t *testing.T) {
	gw, _, _ := startRoles(t, proxy.BreakerConfig{FailureThreshold: 2, CoolDown: time.Hour})
	admin := login(t, gw, "admin", adminPassword)
	gw.do("POST", "/api/v1/admin/assets", admin, map[string]any{
		"asset_id": "ROLE2", "name": "Role asset", "category": "test", "price_usd": "100"}).Want(t, 201)
	gw.do("POST", "/api/v1/auth/register", "", map[string]any{"username": "role_user_2", "email": "role2@example.com",
		"password": userPassword, "first_name": "Role", "last_name": "User"}).Want(t, 201)
	tok := login(t, gw, "role_user_2", userPassword)

	// 500.00 credited by the admin, then a limit buy of 2 at 90 holds 180.00.
	adj := gw.do("POST", "/api/v1/admin/users/role_user_2/adjustments", admin, map[string]any{"amount": "500", "reason": "opening credit"},
		"Idempotency-Key", "adj-1").Want(t, 201)
	if adj["amount"] != "500.00" || adj["created_by"] != "admin" {
		t.Fatalf("adjustment %v", adj)
	}
	placed := gw.do("POST", "/api/v1/orders", tok, map[string]any{"order_type": "limit_buy", "asset_id": "ROLE2", "quantity": "2", "limit_price": "90"}).Want(t, 201)
	id := placed["data"].(map[string]any)["order_id"].(string)
	get := gw.do("GET", "/api/v1/orders/"+id, tok, nil)
	get.Want(t, 200)
	if get.Header.Get("ETag") != `"1"` {
		t.Fatalf("ETag %q", get.Header.Get("ETag"))
	}
	r := gw.do("PATCH", "/api/v1/orders/"+id, tok, map[string]any{"quantity": "3"}, "If-Match", `"1"`)
	if d := r.Want(t, 200)["data"].(map[string]any); d["held_amount"] != "270.00" || r.Header.Get("ETag") != `"2"` {
		t.Fatalf("amended %v, ETag %q", d["held_amount"], r.Header.Get("ETag"))
	}
	if r := gw.do("PATCH", "/api/v1/orders/"+id, tok, map[string]any{"quantity": "4"}, "If-Match", `"1"`); r.Status != 409 {
		t.Fatalf("stale If-Match: %d %s", r.Status, r.Body)
	}
	if b := gw.do("GET", "/api/v1/balance", tok, nil).Want(t, 200); b["current_balance"] != "500.00" || b["held_balance"] != "270.00" {
		t.Fatalf("balance %v", b)
	}
}
