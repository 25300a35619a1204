package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/platform"
)

// TestMarket24h: an asset's high_24h, low_24h and price_change_24h follow
// its price changes at once, and its total_volume_24h follows its fills
// (the USD notional before fees) within an analytics job's period, on the
// asset route and in the catalogue list, as JSON numbers.
func TestMarket24h(t *testing.T) {
	e := newEnv(t, func(c *platform.Config) { c.AnalyticsInterval = 50 * time.Millisecond })
	u := e.newUser(t)
	e.deposit(t, u, "1000")
	a := e.newAsset(t, "100")
	detail := func() map[string]any {
		t.Helper()
		var body struct {
			Data map[string]any `json:"data"`
		}
		r := e.do(t, http.MethodGet, "/api/v1/inventory/assets/"+a, "", nil).want(t, http.StatusOK)
		jd := json.NewDecoder(bytes.NewReader(r.Body))
		jd.UseNumber()
		if err := jd.Decode(&body); err != nil {
			t.Fatal(err)
		}
		return body.Data
	}
	wantNum := func(m map[string]any, field, want string) {
		t.Helper()
		n, ok := m[field].(json.Number)
		if !ok || !dec(t, n.String()).Equal(dec(t, want)) {
			t.Fatalf("%s = %#v, want the number %s", field, m[field], want)
		}
	}
	got := detail()
	wantNum(got, "high_24h", "100")
	wantNum(got, "low_24h", "100")
	wantNum(got, "price_change_24h", "0")

	for _, p := range []string{"120", "90"} {
		e.do(t, http.MethodPut, "/api/v1/admin/assets/"+a+"/price", e.admin, map[string]any{"price_usd": p}).want(t, http.StatusOK)
	}
	got = detail()
	wantNum(got, "high_24h", "120")
	wantNum(got, "low_24h", "90")
	wantNum(got, "price_change_24h", "-10")
	wantNum(got, "price_change_percentage_24h", "-10")

	e.order(t, u, map[string]any{"order_type": "market_buy", "asset_id": a, "quantity": "2"}).want(t, http.StatusCreated)    // 180.00
	e.order(t, u, map[string]any{"order_type": "market_sell", "asset_id": a, "quantity": "0.5"}).want(t, http.StatusCreated) // 45.00
	deadline := time.Now().Add(20 * time.Second)
	for {
		got = detail()
		if n, ok := got["total_volume_24h"].(json.Number); ok && n.String() == "225" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("total_volume_24h %#v, want 225 within 20 s", got["total_volume_24h"])
		}
		time.Sleep(20 * time.Millisecond)
	}
	var list struct {
		Data []map[string]any `json:"data"`
	}
	r := e.do(t, http.MethodGet, "/api/v1/inventory/assets?limit=250", "", nil).want(t, http.StatusOK)
	jd := json.NewDecoder(bytes.NewReader(r.Body))
	jd.UseNumber()
	if err := jd.Decode(&list); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, it := range list.Data {
		if it["asset_id"] == a {
			found = true
			wantNum(it, "total_volume_24h", "225")
			wantNum(it, "price_change_percentage_24h", "-10")
		}
	}
	if !found {
		t.Fatalf("asset %s not in the list", a)
	}
	e.verifyOK(t)
}
