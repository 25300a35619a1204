package e2e

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"
)

type volumeFigures struct {
	Quantity string `json:"quantity"`
	Notional string `json:"notional"`
	Trades   int64  `json:"trades"`
}

type volumeAnswer struct {
	AssetID  string `json:"asset_id"`
	Interval string `json:"interval"`
	From     string `json:"from"`
	To       string `json:"to"`
	Buckets  []struct {
		Start string `json:"start"`
		volumeFigures
	} `json:"buckets"`
	Total    volumeFigures `json:"total"`
	Currency string        `json:"currency"`
}

// TestVolume: GET /analytics/volume answers every bucket of the range with
// the quantity, notional (before fees) and number of fills of the asset,
// buys and sales alike, and refuses malformed queries with 422 at the
// parameter.
func TestVolume(t *testing.T) {
	e := sharedEnv(t)
	u := e.newUser(t)
	a := e.newAsset(t, "100")
	e.deposit(t, u, "1000")
	e.order(t, u, map[string]any{"order_type": "market_buy", "asset_id": a, "quantity": "2"}).want(t, http.StatusCreated)           // 200.00
	e.order(t, u, map[string]any{"order_type": "market_sell", "asset_id": a, "quantity": "0.5"}).want(t, http.StatusCreated)        // 50.00
	e.do(t, http.MethodPut, "/api/v1/admin/assets/"+a+"/price", e.admin, map[string]any{"price_usd": "120"}).want(t, http.StatusOK) //
	e.order(t, u, map[string]any{"order_type": "market_buy", "asset_id": a, "quantity": "0.25"}).want(t, http.StatusCreated)        // 30.00
	// A resting order that never executes counts nothing.
	e.order(t, u, map[string]any{"order_type": "limit_buy", "asset_id": a, "quantity": "1", "limit_price": "50"}).want(t, http.StatusCreated)
	want := volumeFigures{Quantity: "2.75", Notional: "280.00", Trades: 3}

	get := func(q url.Values) volumeAnswer {
		t.Helper()
		var got volumeAnswer
		e.do(t, http.MethodGet, "/api/v1/analytics/volume?"+q.Encode(), u.token, nil).want(t, http.StatusOK).into(t, &got)
		return got
	}
	now := time.Now().UTC()
	for _, tc := range []struct {
		interval string
		buckets  []int // acceptable bucket counts (a bucket boundary may pass during the test)
	}{{"1m", []int{61, 62}}, {"1h", []int{25, 26}}, {"1d", []int{31, 32}}} {
		got := get(url.Values{"asset_id": {a}, "interval": {tc.interval}})
		if got.AssetID != a || got.Interval != tc.interval || got.Currency != "USD" || got.Total != want ||
			!slices.Contains(tc.buckets, len(got.Buckets)) {
			t.Fatalf("interval %s: %d buckets, %+v; want %v buckets, total %+v", tc.interval, len(got.Buckets), got, tc.buckets, want)
		}
		var sum int64
		for i, b := range got.Buckets {
			sum += b.Trades
			if i > 0 && b.Start <= got.Buckets[i-1].Start {
				t.Fatalf("interval %s: buckets out of order: %s after %s", tc.interval, b.Start, got.Buckets[i-1].Start)
			}
			if b.Trades == 0 && (b.Quantity != "0" || b.Notional != "0.00") {
				t.Fatalf("interval %s: empty bucket %+v", tc.interval, b)
			}
		}
		if sum != 3 {
			t.Fatalf("interval %s: %d trades in the buckets, want 3", tc.interval, sum)
		}
	}
	// One day, by date: one bucket.
	day := now.Format(time.DateOnly)
	got := get(url.Values{"asset_id": {a}, "interval": {"1d"}, "from": {day}, "to": {now.Format(time.RFC3339)}})
	if len(got.Buckets) != 1 || got.Buckets[0].Start != day+"T00:00:00.000000Z" || got.Buckets[0].volumeFigures != want {
		// Midnight may have passed between the orders and the query.
		if now.Hour() != 0 || now.Minute() > 1 {
			t.Fatalf("day %s: %+v, want one bucket %+v", day, got, want)
		}
	}
	// A range before the trades: zeros.
	got = get(url.Values{"asset_id": {a}, "interval": {"1h"}, "from": {"2020-01-01"}, "to": {"2020-01-01T05:30:00Z"}})
	if len(got.Buckets) != 6 || got.Total != (volumeFigures{Quantity: "0", Notional: "0.00"}) ||
		got.Buckets[5].Start != "2020-01-01T05:00:00.000000Z" || got.From != "2020-01-01T00:00:00.000000Z" {
		t.Fatalf("2020: %+v", got)
	}

	for _, tc := range []struct {
		query  url.Values
		status int
		loc    string
	}{
		{url.Values{"asset_id": {a}, "interval": {"5m"}}, http.StatusUnprocessableEntity, "query.interval"},
		{url.Values{"asset_id": {a}, "from": {"yesterday"}}, http.StatusUnprocessableEntity, "query.from"},
		{url.Values{"asset_id": {a}, "to": {"2026-13-01"}}, http.StatusUnprocessableEntity, "query.to"},
		{url.Values{"asset_id": {a}, "from": {"2026-01-02"}, "to": {"2026-01-01"}}, http.StatusUnprocessableEntity, "query.from"},
		{url.Values{"asset_id": {a}, "interval": {"1m"}, "from": {"2026-01-01"}, "to": {"2026-01-03"}}, http.StatusUnprocessableEntity, "query.from"},
		{url.Values{"asset_id": {"not-an-id!"}}, http.StatusUnprocessableEntity, "query.asset_id"},
		{url.Values{}, http.StatusUnprocessableEntity, "query.asset_id"},
		{url.Values{"asset_id": {"NOSUCH1"}}, http.StatusNotFound, ""},
	} {
		r := e.do(t, http.MethodGet, "/api/v1/analytics/volume?"+tc.query.Encode(), u.token, nil)
		if tc.status == http.StatusNotFound {
			r.serviceError(t, tc.status, "not_found")
			continue
		}
		m := r.serviceError(t, tc.status, "invalid")
		if locs := fieldLocs(t, m); !slices.Contains(locs, tc.loc) {
			t.Fatalf("query %s: locs %v, want %s", tc.query.Encode(), locs, tc.loc)
		}
	}
	e.do(t, http.MethodGet, "/api/v1/analytics/volume?asset_id="+a, "", nil).gatewayError(t, http.StatusUnauthorized, "UNAUTHORIZED")
	e.verifyOK(t)
}
