package platform

import (
	"fmt"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/testenv"
)

// With the Redis cache, an amendment made through one platform is what
// the others answer at once: the order (its ETag and hold) and the balance.
func TestCacheReadsAmendment(t *testing.T) {
	urls := cachedPlatforms(t, 2, testenv.RedisURL(t))
	a, b := urls[0], urls[1]
	tok := newUser(t, a, fmt.Sprintf("cache_amend_%d", time.Now().UnixNano()%1e6))
	mustCall(t, 201, "POST", a+"/api/v1/balance/deposit", tok, map[string]any{"amount": "100"})
	// 100 DOGE at 0.05 holds 5.00; both platforms read the order once.
	o := mustCall(t, 201, "POST", a+"/api/v1/orders", tok, map[string]any{"order_type": "limit_buy", "asset_id": "DOGE",
		"quantity": "100", "limit_price": "0.05"})["data"].(map[string]any)
	id := o["order_id"].(string)
	for _, base := range urls {
		mustCall(t, 200, "GET", base+"/api/v1/orders/"+id, tok, nil)
		mustCall(t, 200, "GET", base+"/api/v1/balance", tok, nil)
	}
	// 200 at 0.05 holds 10.00.
	mustCall(t, 200, "PATCH", a+"/api/v1/orders/"+id, tok, map[string]any{"quantity": "200", "expected_version": 1})
	if d := mustCall(t, 200, "GET", b+"/api/v1/orders/"+id, tok, nil)["data"].(map[string]any); d["quantity"] != "200" || d["held_amount"] != "10.00" {
		t.Fatalf("order through the other platform: %v held %v", d["quantity"], d["held_amount"])
	}
	if m := mustCall(t, 200, "GET", b+"/api/v1/balance", tok, nil); m["held_balance"] != "10.00" || m["available_balance"] != "90.00" {
		t.Fatalf("balance through the other platform: %v", m)
	}
	// The next amendment through the other platform needs the new version.
	mustCall(t, 409, "PATCH", b+"/api/v1/orders/"+id, tok, map[string]any{"quantity": "300", "expected_version": 1})
	mustCall(t, 200, "PATCH", b+"/api/v1/orders/"+id, tok, map[string]any{"quantity": "300", "expected_version": 2})
}
