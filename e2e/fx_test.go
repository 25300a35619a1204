package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/platform"
	"github.com/orderprocessor/orderprocessor/testenv"
	"github.com/orderprocessor/orderprocessor/testenv/fakeclock"
)

// fxEnv starts a platform of its own (its rates change) whose clock the
// test moves, with a conversion spread of 1% and rates stale after an hour.
func fxEnv(t *testing.T, tweak func(*platform.Config)) (*env, *fakeclock.Clock) {
	t.Helper()
	clock := fakeclock.New(time.Now().UTC().Truncate(time.Second))
	return newEnv(t, func(c *platform.Config) {
		c.Now = clock.Now
		c.TokenLifetime = 48 * time.Hour
		c.Trading.FXSpread = decimal.MustParse("0.01")
		c.Trading.FXMaxAge = time.Hour
		if tweak != nil {
			tweak(c)
		}
	}), clock
}

type fxRate struct {
	Pair, Currency, Rate, Inverse, Source string
	Version                               int64
	Stale                                 bool
}

func (e *env) fxRates(t *testing.T) map[string]fxRate {
	t.Helper()
	var body struct {
		Base          string   `json:"base"`
		Rates         []fxRate `json:"rates"`
		MaxAgeSeconds int64    `json:"max_age_seconds"`
		Spread        string   `json:"conversion_spread"`
	}
	e.do(t, http.MethodGet, "/api/v1/fx/rates", "", nil).want(t, http.StatusOK).into(t, &body)
	if body.Base != "USD" || body.MaxAgeSeconds != 3600 || body.Spread != "0.01" {
		t.Fatalf("base %q, max age %d, spread %q: want USD, 3600 and the platform's 0.01", body.Base, body.MaxAgeSeconds, body.Spread)
	}
	out := map[string]fxRate{}
	for _, r := range body.Rates {
		out[r.Pair] = r
	}
	return out
}

func (e *env) setRate(t *testing.T, pair, rate string) response {
	t.Helper()
	return e.do(t, http.MethodPut, "/api/v1/admin/fx/rates/"+pair, e.admin, map[string]any{"rate": rate})
}

// TestFXRatesStoredAndServed: the reference rates are stored at start; an
// admin sets one (with its history point); conversions use the stored rate
// less the spread; the history pages newest first.
func TestFXRatesStoredAndServed(t *testing.T) {
	e, clock := fxEnv(t, nil)
	rates := e.fxRates(t)
	want := map[string]string{"EUR-USD": "1.08", "GBP-USD": "1.27", "JPY-USD": "0.0067", "CHF-USD": "1.13", "CAD-USD": "0.73", "AUD-USD": "0.66"}
	if len(rates) != len(want) {
		t.Fatalf("rates %v", rates)
	}
	for pair, r := range want {
		got := rates[pair]
		if got.Rate != r || got.Source != "seed" || got.Version != 1 || got.Stale {
			t.Errorf("%s: %+v, want rate %s from the seed, version 1, fresh", pair, got, r)
		}
	}
	if rates["EUR-USD"].Inverse != "0.9259259259" { // 1 / 1.08, 10 places half-even
		t.Errorf("EUR inverse %s", rates["EUR-USD"].Inverse)
	}

	// Only an admin sets a rate; bad pairs and rates are 422.
	u := e.newUser(t)
	e.do(t, http.MethodPut, "/api/v1/admin/fx/rates/EUR-USD", u.token, map[string]any{"rate": "2"}).gatewayError(t, http.StatusForbidden, "FORBIDDEN")
	for _, c := range []struct{ pair, rate, loc string }{
		{"USD-EUR", "1.1", "path.pair"}, {"XXX-USD", "1.1", "path.pair"}, {"USD-USD", "1", "path.pair"},
		{"EUR-USD", "0", "body.rate"}, {"EUR-USD", "-1", "body.rate"}, {"EUR-USD", "1.12345678901", "body.rate"},
		{"EUR-USD", "1000000.01", "body.rate"},
	} {
		m := e.setRate(t, c.pair, c.rate).serviceError(t, http.StatusUnprocessableEntity, "invalid")
		if locs := fieldLocs(t, m); len(locs) != 1 || locs[0] != c.loc {
			t.Errorf("%s %s: locs %v, want %s", c.pair, c.rate, locs, c.loc)
		}
	}
	clock.Advance(time.Minute)
	var set fxRate
	e.setRate(t, "eur_usd", "1.10").want(t, http.StatusOK).into(t, &set)
	if set.Pair != "EUR-USD" || set.Rate != "1.1" || set.Version != 2 || set.Source != "admin:admin" || set.Stale {
		t.Fatalf("set %+v", set)
	}

	// 100 EUR at 1.10 USD less 1%: 108.90 USD; the rate applied 1.089.
	e.cash(t, u, "deposit", "100", "EUR").want(t, http.StatusCreated)
	c := e.do(t, http.MethodPost, "/api/v1/balance/convert", u.token, map[string]any{"from_currency": "EUR", "to_currency": "USD", "amount": "100"}).
		want(t, http.StatusCreated).obj(t)
	if c["rate"] != "1.089" || c["mid_rate"] != "1.1" || c["spread"] != "0.01" || c["credit"].(map[string]any)["amount"] != "108.90" {
		t.Fatalf("conversion %v", c)
	}
	// 108.90 USD to GBP at 1.27: 108.90 x 0.99 / 1.27 = 84.89 (84.8906..., rounded down).
	c = e.do(t, http.MethodPost, "/api/v1/balance/convert", u.token, map[string]any{"from_currency": "USD", "to_currency": "GBP", "amount": "108.90"}).
		want(t, http.StatusCreated).obj(t)
	if c["credit"].(map[string]any)["amount"] != "84.89" || c["rate"] != "0.7795275591" {
		t.Fatalf("conversion %v", c)
	}
	e.wantCash(t, u, "GBP", "84.89")

	// History: newest first, paged.
	for _, r := range []string{"1.11", "1.12"} {
		clock.Advance(time.Minute)
		e.setRate(t, "EURUSD", r).want(t, http.StatusOK)
	}
	type hist struct {
		Pair   string `json:"pair"`
		Points []struct {
			T      time.Time `json:"t"`
			Rate   string    `json:"rate"`
			Source string    `json:"source"`
		} `json:"points"`
		NextCursor *string `json:"next_cursor"`
	}
	var h1, h2 hist
	e.do(t, http.MethodGet, "/api/v1/fx/rates/EUR-USD/history?limit=2", "", nil).want(t, http.StatusOK).into(t, &h1)
	if h1.Pair != "EUR-USD" || len(h1.Points) != 2 || h1.Points[0].Rate != "1.12" || h1.Points[1].Rate != "1.11" || h1.NextCursor == nil ||
		!h1.Points[0].T.Equal(clock.Now()) {
		t.Fatalf("page 1 %+v", h1)
	}
	e.do(t, http.MethodGet, "/api/v1/fx/rates/eur-usd/history?limit=2&cursor="+url.QueryEscape(*h1.NextCursor), "", nil).want(t, http.StatusOK).into(t, &h2)
	if len(h2.Points) != 2 || h2.Points[0].Rate != "1.1" || h2.Points[0].Source != "admin:admin" ||
		h2.Points[1].Rate != "1.08" || h2.Points[1].Source != "seed" || h2.NextCursor != nil {
		t.Fatalf("page 2 %+v", h2)
	}
	// A cursor is the query's own.
	m := e.do(t, http.MethodGet, "/api/v1/fx/rates/GBP-USD/history?cursor="+url.QueryEscape(*h1.NextCursor), "", nil).
		serviceError(t, http.StatusUnprocessableEntity, "invalid")
	if locs := fieldLocs(t, m); locs[0] != "query.cursor" {
		t.Fatalf("locs %v", locs)
	}
	e.do(t, http.MethodGet, "/api/v1/fx/rates/USD-JPY/history", "", nil).serviceError(t, http.StatusUnprocessableEntity, "invalid")
	var h4 hist
	e.do(t, http.MethodGet, "/api/v1/fx/rates/eurusd/history?limit=1", "", nil).want(t, http.StatusOK).into(t, &h4)
	if h4.Pair != "EUR-USD" || len(h4.Points) != 1 || h4.Points[0].Rate != "1.12" {
		t.Fatalf("pair without a separator %+v", h4)
	}
	// A range: only the points within it.
	var h3 hist
	from := clock.Now().Add(-30 * time.Second).Format(time.RFC3339)
	e.do(t, http.MethodGet, "/api/v1/fx/rates/EUR-USD/history?from="+url.QueryEscape(from), "", nil).want(t, http.StatusOK).into(t, &h3)
	if len(h3.Points) != 1 || h3.Points[0].Rate != "1.12" {
		t.Fatalf("range %+v", h3)
	}
	e.verifyOK(t)
}

// TestFXStaleRates: a rate older than the bound refuses conversions and
// foreign-currency deposits under a daily limit with 503 fx_rate_stale,
// and changes nothing; a fresh rate lifts the refusal. USD needs no rate.
func TestFXStaleRates(t *testing.T) {
	e, clock := fxEnv(t, nil)
	u := e.newUser(t)
	e.deposit(t, u, "500")
	e.cash(t, u, "deposit", "100", "EUR").want(t, http.StatusCreated)
	clock.Advance(time.Hour + time.Second)
	before := e.counts(t, u)
	if r := e.fxRates(t)["EUR-USD"]; !r.Stale {
		t.Fatalf("EUR after an hour: %+v, want stale", r)
	}
	for _, body := range []map[string]any{
		{"from_currency": "EUR", "to_currency": "USD", "amount": "10"},
		{"from_currency": "USD", "to_currency": "GBP", "amount": "10"},
	} {
		m := e.do(t, http.MethodPost, "/api/v1/balance/convert", u.token, body).serviceError(t, http.StatusServiceUnavailable, "fx_rate_stale")
		if d, _ := m["detail"].(string); d == "" {
			t.Fatalf("detail %v", m)
		}
	}
	e.cash(t, u, "deposit", "10", "EUR").serviceError(t, http.StatusServiceUnavailable, "fx_rate_stale")
	e.cash(t, u, "withdraw", "10", "EUR").serviceError(t, http.StatusServiceUnavailable, "fx_rate_stale")
	e.cash(t, u, "deposit", "10", "USD").want(t, http.StatusCreated)
	if after := e.counts(t, u); after.txs != before.txs+1 || after.orders != before.orders {
		t.Fatalf("records %+v -> %+v, want only the USD deposit", before, after)
	}
	e.setRate(t, "EUR-USD", "1.08").want(t, http.StatusOK)
	e.do(t, http.MethodPost, "/api/v1/balance/convert", u.token, map[string]any{"from_currency": "EUR", "to_currency": "USD", "amount": "10"}).
		want(t, http.StatusCreated)
	e.wantCash(t, u, "EUR", "90.00")
	e.verifyOK(t)
}

// TestFXDailyLimitsAtStoredRate: the daily limits count a foreign-currency
// deposit at its USD value at the stored rate: at 1.25 USD a euro, 8,000
// EUR is exactly the 10,000 USD limit.
func TestFXDailyLimitsAtStoredRate(t *testing.T) {
	e, _ := fxEnv(t, nil)
	u := e.newUser(t)
	e.setRate(t, "EUR-USD", "1.25").want(t, http.StatusOK)
	wantLimitError(t, e.cash(t, u, "deposit", "8000.01", "EUR"), depositLimitMsg) // 10,000.0125 USD
	e.cash(t, u, "deposit", "8000", "EUR").want(t, http.StatusCreated)            // 10,000 USD
	wantLimitError(t, e.cash(t, u, "deposit", "0.01", "USD"), depositLimitMsg)
	e.wantCash(t, u, "EUR", "8000.00")
	e.verifyOK(t)
}

// TestFXRateOnTheStream: a rate an admin sets reaches the live stream as an
// fx event with the pair's new rate.
func TestFXRateOnTheStream(t *testing.T) {
	e, _ := fxEnv(t, nil)
	u := e.newUser(t)
	events := testenv.OpenStream(t, e.url, u.token, "")
	e.setRate(t, "GBP-USD", "1.2675").want(t, http.StatusOK)
	for {
		ev := testenv.NextEvent(t, events)
		if ev.Kind == "" {
			continue // the stream's starting position
		}
		var tick struct{ Pair, Currency, Rate, At string }
		if err := json.Unmarshal([]byte(ev.Data), &tick); err != nil {
			t.Fatal(err)
		}
		if ev.Kind != "fx" || tick.Pair != "GBP-USD" || tick.Currency != "GBP" || tick.Rate != "1.2675" || tick.At == "" {
			t.Fatalf("event %s %s", ev.Kind, ev.Data)
		}
		return
	}
}
