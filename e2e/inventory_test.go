package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

var listItemKeys = []string{"asset_id", "category", "description", "image", "is_active", "market_cap", "market_cap_rank",
	"name", "price_change_percentage_24h", "price_usd", "symbol", "total_volume_24h"}

var detailKeys = []string{"asset_id", "ath", "ath_change_percentage", "ath_date", "atl", "atl_change_percentage", "atl_date",
	"availability_status", "category", "circulating_supply", "description", "high_24h", "image", "is_active", "last_updated",
	"low_24h", "market_cap", "market_cap_rank", "max_supply", "name", "price_change_24h", "price_change_percentage_24h",
	"price_change_percentage_30d", "price_change_percentage_7d", "price_usd", "symbol", "total_supply", "total_volume_24h"}

// numberFields must be JSON numbers (or null) in inventory responses.
var numberFields = []string{"price_usd", "market_cap", "total_volume_24h", "price_change_percentage_24h", "price_change_24h",
	"price_change_percentage_7d", "price_change_percentage_30d", "high_24h", "low_24h", "circulating_supply", "total_supply",
	"max_supply", "ath", "ath_change_percentage", "atl", "atl_change_percentage"}

func checkNumbers(t *testing.T, item map[string]any) {
	t.Helper()
	for _, k := range numberFields {
		v, ok := item[k]
		if !ok {
			continue
		}
		if _, isNum := v.(json.Number); v != nil && !isNum {
			t.Errorf("%s: %s = %#v, want a JSON number or null", item["asset_id"], k, v)
		}
	}
	if r := item["market_cap_rank"]; r != nil {
		n, ok := r.(json.Number)
		if _, err := n.Int64(); !ok || err != nil {
			t.Errorf("%s: market_cap_rank %#v is not an integer", item["asset_id"], r)
		}
	}
}

type assetPage struct {
	Data        []map[string]any `json:"data"`
	TotalCount  int              `json:"total_count"`
	ActiveCount int              `json:"active_count"`
	NextCursor  *string          `json:"next_cursor"`
}

func (e *env) assetPage(t *testing.T, query string) assetPage {
	t.Helper()
	r := e.do(t, http.MethodGet, "/api/v1/inventory/assets"+query, "", nil).want(t, http.StatusOK)
	m := r.obj(t)
	if got := sortedKeys(m); !slices.Equal(got, []string{"active_count", "data", "next_cursor", "total_count"}) {
		t.Fatalf("list keys %v", got)
	}
	var p assetPage
	for _, it := range m["data"].([]any) {
		p.Data = append(p.Data, it.(map[string]any))
	}
	tc, _ := m["total_count"].(json.Number).Int64()
	ac, _ := m["active_count"].(json.Number).Int64()
	p.TotalCount, p.ActiveCount = int(tc), int(ac)
	if c, ok := m["next_cursor"].(string); ok {
		p.NextCursor = &c
	}
	return p
}

func TestInventoryList(t *testing.T) {
	e := newEnv(t, nil) // its own catalogue: counts are exact
	full := e.assetPage(t, "?limit=250")
	if full.TotalCount != 24 || full.ActiveCount != 24 || len(full.Data) != 24 || full.NextCursor != nil {
		t.Fatalf("total %d active %d len %d next %v", full.TotalCount, full.ActiveCount, len(full.Data), full.NextCursor)
	}
	prevRank := int64(0)
	for _, it := range full.Data {
		if got := sortedKeys(it); !slices.Equal(got, listItemKeys) {
			t.Fatalf("item keys %v", got)
		}
		checkNumbers(t, it)
		rank, _ := it["market_cap_rank"].(json.Number).Int64()
		if rank <= prevRank {
			t.Fatalf("not ordered by rank: %d after %d", rank, prevRank)
		}
		prevRank = rank
		if it["image"] != nil {
			t.Errorf("%s image %v, want null (unknown)", it["asset_id"], it["image"])
		}
	}
	btc := full.Data[0]
	if btc["asset_id"] != "BTC" || btc["name"] != "Bitcoin" || btc["price_usd"] != json.Number("67250") && btc["price_usd"] != json.Number("67250.00") ||
		btc["is_active"] != true || btc["symbol"] != "btc" || btc["category"] != "layer-1" || btc["market_cap_rank"] != json.Number("1") {
		t.Fatalf("BTC item %v", btc)
	}

	t.Run("default page", func(t *testing.T) {
		p := e.assetPage(t, "")
		if len(p.Data) != 24 || p.NextCursor != nil {
			t.Fatalf("len %d", len(p.Data))
		}
	})
	t.Run("cursor paging", func(t *testing.T) {
		for _, limit := range []int{1, 5, 7, 24} {
			var ids []any
			cursor := ""
			for pages := 0; pages < 30; pages++ {
				q := fmt.Sprintf("?limit=%d", limit)
				if cursor != "" {
					q += "&cursor=" + url.QueryEscape(cursor)
				}
				p := e.assetPage(t, q)
				if len(p.Data) > limit || p.TotalCount != 24 {
					t.Fatalf("limit %d: len %d total %d", limit, len(p.Data), p.TotalCount)
				}
				for _, it := range p.Data {
					ids = append(ids, it["asset_id"])
				}
				if p.NextCursor == nil {
					break
				}
				cursor = *p.NextCursor
			}
			var want []any
			for _, it := range full.Data {
				want = append(want, it["asset_id"])
			}
			if !slices.Equal(ids, want) {
				t.Fatalf("limit %d: %v, want %v", limit, ids, want)
			}
		}
	})
	t.Run("category", func(t *testing.T) {
		p := e.assetPage(t, "?category=Layer-1&limit=250")
		if len(p.Data) == 0 || p.TotalCount != len(p.Data) || p.Data[0]["asset_id"] != "BTC" {
			t.Fatalf("layer-1: %d of %d", len(p.Data), p.TotalCount)
		}
		for _, it := range p.Data {
			if it["category"] != "layer-1" {
				t.Fatalf("category %v", it["category"])
			}
		}
		if p := e.assetPage(t, "?category=nothing-here"); len(p.Data) != 0 || p.TotalCount != 0 || p.NextCursor != nil {
			t.Fatalf("unknown category %+v", p)
		}
	})
	t.Run("active_only", func(t *testing.T) {
		e.do(t, http.MethodPost, "/api/v1/admin/assets/ETH/deactivate", e.admin, nil).want(t, http.StatusOK)
		p := e.assetPage(t, "?limit=250")
		if len(p.Data) != 23 || p.TotalCount != 24 || p.ActiveCount != 23 {
			t.Fatalf("active only: len %d total %d active %d", len(p.Data), p.TotalCount, p.ActiveCount)
		}
		for _, it := range p.Data {
			if it["asset_id"] == "ETH" {
				t.Fatal("inactive ETH listed")
			}
		}
		p = e.assetPage(t, "?active_only=false&limit=250")
		if len(p.Data) != 24 || p.Data[1]["asset_id"] != "ETH" || p.Data[1]["is_active"] != false {
			t.Fatalf("active_only=false: len %d second %v", len(p.Data), p.Data[1])
		}
		d := e.do(t, http.MethodGet, "/api/v1/inventory/assets/eth", "", nil).want(t, http.StatusOK).obj(t)["data"].(map[string]any)
		if d["availability_status"] != "unavailable" || d["is_active"] != false {
			t.Fatalf("ETH %v", d)
		}
		e.do(t, http.MethodPost, "/api/v1/admin/assets/ETH/activate", e.admin, nil).want(t, http.StatusOK)
		if p := e.assetPage(t, "?limit=250"); len(p.Data) != 24 || p.ActiveCount != 24 {
			t.Fatalf("after activate: %d", len(p.Data))
		}
	})
	for _, q := range []string{"?limit=0", "?limit=251", "?limit=abc", "?cursor=garbage", "?active_only=maybe", "?limit=-1"} {
		t.Run("bad query "+q, func(t *testing.T) {
			e.do(t, http.MethodGet, "/api/v1/inventory/assets"+q, "", nil).serviceError(t, http.StatusUnprocessableEntity, "invalid")
		})
	}
}

func TestInventoryDetail(t *testing.T) {
	e := sharedEnv(t)
	r := e.do(t, http.MethodGet, "/api/v1/inventory/assets/btc", "", nil).want(t, http.StatusOK)
	m := r.obj(t)
	if got := sortedKeys(m); !slices.Equal(got, []string{"data"}) {
		t.Fatalf("keys %v", got)
	}
	d := m["data"].(map[string]any)
	if got := sortedKeys(d); !slices.Equal(got, detailKeys) {
		t.Fatalf("detail keys %v\nwant %v", got, detailKeys)
	}
	checkNumbers(t, d)
	if d["asset_id"] != "BTC" || d["availability_status"] != "available" || d["high_24h"] != d["price_usd"] || d["low_24h"] != d["price_usd"] ||
		d["image"] != nil || d["max_supply"] != json.Number("21000000") {
		t.Fatalf("BTC detail %v", d)
	}
	for _, k := range []string{"ath_date", "atl_date", "last_updated"} {
		if s, ok := d[k].(string); !ok || !strings.HasSuffix(s, "Z") {
			t.Errorf("%s = %#v, want an RFC 3339 UTC string", k, d[k])
		}
	}
	eth := e.do(t, http.MethodGet, "/api/v1/inventory/assets/ETH", "", nil).want(t, http.StatusOK).obj(t)["data"].(map[string]any)
	if eth["max_supply"] != nil {
		t.Fatalf("ETH max_supply %v, want null", eth["max_supply"])
	}
	for _, id := range []string{"BTC-USD", "ABCDEFGHIJK", "b%20c", "%C3%A9"} {
		e.do(t, http.MethodGet, "/api/v1/inventory/assets/"+id, "", nil).serviceError(t, http.StatusUnprocessableEntity, "invalid")
	}
	e.do(t, http.MethodGet, "/api/v1/inventory/assets/ZZZZ9", "", nil).serviceError(t, http.StatusNotFound, "not_found")
}

func TestAdminAssets(t *testing.T) {
	e := sharedEnv(t)
	cust := e.newUser(t)
	id := fmt.Sprintf("ADM%d", assetSeq.Add(1)%100000)
	body := map[string]any{"asset_id": strings.ToLower(id), "name": "Admin Coin", "description": "for tests", "category": "Test",
		"price_usd": "12.5", "market_cap_rank": 500, "market_cap": 1000000}

	t.Run("access", func(t *testing.T) {
		e.do(t, http.MethodPost, "/api/v1/admin/assets", "", body).gatewayError(t, http.StatusUnauthorized, "UNAUTHORIZED")
		e.do(t, http.MethodPost, "/api/v1/admin/assets", cust.token, body).gatewayError(t, http.StatusForbidden, "FORBIDDEN")
		e.do(t, http.MethodPut, "/api/v1/admin/assets/BTC/price", cust.token, map[string]any{"price_usd": 1}).gatewayError(t, http.StatusForbidden, "FORBIDDEN")
		e.do(t, http.MethodPut, "/api/v1/admin/assets/BTC", cust.token, map[string]any{"is_active": false}).gatewayError(t, http.StatusForbidden, "FORBIDDEN")
		e.do(t, http.MethodPost, "/api/v1/admin/assets/BTC/deactivate", cust.token, nil).gatewayError(t, http.StatusForbidden, "FORBIDDEN")
	})

	r := e.do(t, http.MethodPost, "/api/v1/admin/assets", e.admin, body).want(t, http.StatusCreated)
	d := r.obj(t)["data"].(map[string]any)
	if got := sortedKeys(d); !slices.Equal(got, detailKeys) {
		t.Fatalf("keys %v", got)
	}
	if d["asset_id"] != id || d["name"] != "Admin Coin" || d["category"] != "test" || d["price_usd"] != json.Number("12.5") ||
		d["is_active"] != true || d["market_cap_rank"] != json.Number("500") || d["availability_status"] != "available" {
		t.Fatalf("created %v", d)
	}
	e.do(t, http.MethodPost, "/api/v1/admin/assets", e.admin, body).serviceError(t, http.StatusConflict, "conflict")
	for _, bad := range []map[string]any{
		{"asset_id": "NEWX1", "name": "x", "price_usd": 0},
		{"asset_id": "NEWX1", "name": "x", "price_usd": "1.123456789"},
		{"asset_id": "NEW-X", "name": "x", "price_usd": 1},
		{"asset_id": "NEWX1", "name": "<script>x</script>", "price_usd": 1},
		{"asset_id": "NEWX1", "name": "x"},
		{"asset_id": "NEWX1", "name": "x", "price_usd": 1, "image": "javascript:alert(1)"},
	} {
		e.do(t, http.MethodPost, "/api/v1/admin/assets", e.admin, bad).serviceError(t, http.StatusUnprocessableEntity, "invalid")
	}
	e.do(t, http.MethodGet, "/api/v1/inventory/assets/NEWX1", "", nil).serviceError(t, http.StatusNotFound, "not_found")

	// Update, then the price endpoint: the next order uses the new price.
	u := e.newUser(t)
	e.deposit(t, u, "1000")
	d = e.do(t, http.MethodPut, "/api/v1/admin/assets/"+id, e.admin, map[string]any{"name": "Renamed Coin", "price_usd": "20"}).
		want(t, http.StatusOK).obj(t)["data"].(map[string]any)
	if d["name"] != "Renamed Coin" || d["price_usd"] != json.Number("20") || d["description"] != "for tests" {
		t.Fatalf("updated %v", d)
	}
	o := e.order(t, u, map[string]any{"order_type": "market_buy", "asset_id": id, "quantity": "1"}).want(t, http.StatusCreated).obj(t)["data"].(map[string]any)
	if o["total_amount"] != "20.00" || o["price"] != "20.00" {
		t.Fatalf("order at updated price: %v", o)
	}
	d = e.do(t, http.MethodPut, "/api/v1/admin/assets/"+strings.ToLower(id)+"/price", e.admin, map[string]any{"price_usd": 33.33}).
		want(t, http.StatusOK).obj(t)["data"].(map[string]any)
	if d["price_usd"] != json.Number("33.33") {
		t.Fatalf("price set %v", d)
	}
	o = e.order(t, u, map[string]any{"order_type": "market_buy", "asset_id": id, "quantity": "3"}).want(t, http.StatusCreated).obj(t)["data"].(map[string]any)
	if o["total_amount"] != "99.99" || o["price"] != "33.33" {
		t.Fatalf("order at set price: %v", o)
	}
	e.wantBalance(t, u, "880.01")
	e.do(t, http.MethodPut, "/api/v1/admin/assets/"+id+"/price", e.admin, map[string]any{"price_usd": -1}).serviceError(t, http.StatusUnprocessableEntity, "invalid")
	e.do(t, http.MethodPut, "/api/v1/admin/assets/"+id+"/price", e.admin, map[string]any{}).serviceError(t, http.StatusUnprocessableEntity, "invalid")
	e.do(t, http.MethodPut, "/api/v1/admin/assets/NOSUCH9/price", e.admin, map[string]any{"price_usd": 1}).serviceError(t, http.StatusNotFound, "not_found")
	e.do(t, http.MethodPut, "/api/v1/admin/assets/NOSUCH9", e.admin, map[string]any{"name": "x"}).serviceError(t, http.StatusNotFound, "not_found")

	// Deactivate: buying and selling it are 422; reactivate: buying works again.
	d = e.do(t, http.MethodPut, "/api/v1/admin/assets/"+id, e.admin, map[string]any{"is_active": false}).want(t, http.StatusOK).obj(t)["data"].(map[string]any)
	if d["is_active"] != false || d["availability_status"] != "unavailable" {
		t.Fatalf("deactivated %v", d)
	}
	before := e.counts(t, u)
	m := e.order(t, u, map[string]any{"order_type": "market_buy", "asset_id": id, "quantity": "1"}).serviceError(t, http.StatusUnprocessableEntity, "invalid")
	if locs := fieldLocs(t, m); !slices.Equal(locs, []string{"body.asset_id"}) {
		t.Fatalf("locs %v", locs)
	}
	e.order(t, u, map[string]any{"order_type": "market_sell", "asset_id": id, "quantity": "1"}).serviceError(t, http.StatusUnprocessableEntity, "invalid")
	if after := e.counts(t, u); after != before {
		t.Fatalf("rejected orders changed records: %+v -> %+v", before, after)
	}
	e.do(t, http.MethodPut, "/api/v1/admin/assets/"+id, e.admin, map[string]any{"is_active": true}).want(t, http.StatusOK)
	e.order(t, u, map[string]any{"order_type": "market_sell", "asset_id": id, "quantity": "4"}).want(t, http.StatusCreated)
	e.wantBalance(t, u, "1013.33")
	e.verifyOK(t)
}
