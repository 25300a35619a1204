package pricing

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/decimal"
)

const testKey = "cg-secret-key-123"

// provider is a fake markets endpoint: it records the requests and answers
// with handle.
type provider struct {
	mu     sync.Mutex
	reqs   []*http.Request
	handle func(w http.ResponseWriter, r *http.Request)
	srv    *httptest.Server
}

func newProvider(t *testing.T, handle func(w http.ResponseWriter, r *http.Request)) *provider {
	t.Helper()
	p := &provider{handle: handle}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.reqs = append(p.reqs, r.Clone(context.Background()))
		p.mu.Unlock()
		p.handle(w, r)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *provider) requests() []*http.Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.reqs)
}

// canned answers body with status 200.
func canned(body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}
}

func newFeed(t *testing.T, cfg HTTPConfig) *HTTP {
	t.Helper()
	h, err := NewHTTP(cfg)
	if err != nil {
		t.Fatalf("NewHTTP: %v", err)
	}
	return h
}

// current is the active catalogue the feed is asked about.
func current() map[string]decimal.Decimal {
	m := map[string]decimal.Decimal{}
	for _, id := range []string{"BTC", "ETH", "SHIB", "ADA", "XRP", "DOGE", "MATIC", "SOL"} {
		m[id] = decimal.FromInt(1)
	}
	return m
}

// tickText renders ticks as "ID=price" plus market data, for exact comparison.
func tickText(ticks []Tick) []string {
	out := make([]string, 0, len(ticks))
	for _, t := range ticks {
		s := t.AssetID + "=" + t.Price.String()
		if m := t.Market; m != nil {
			f := func(d *decimal.Decimal) string {
				if d == nil {
					return "-"
				}
				return d.String()
			}
			s += fmt.Sprintf(" cap=%s vol=%s hi=%s lo=%s chg=%s pct=%s", f(m.MarketCap), f(m.TotalVolume24h),
				f(m.High24h), f(m.Low24h), f(m.PriceChange24h), f(m.PriceChangePercentage24h))
		}
		out = append(out, s)
	}
	return out
}

const marketsBody = `[
 {"id":"bitcoin","symbol":"btc","name":"Bitcoin","current_price":67250.12345678,"market_cap":1327000000000,
  "total_volume":28500000000.5,"high_24h":68000.1,"low_24h":66000,"price_change_24h":-120.123456789,
  "price_change_percentage_24h":-0.17823},
 {"id":"shiba-inu","symbol":"shib","current_price":1e-8,"market_cap":null,"high_24h":null},
 {"id":"ethereum","symbol":"eth","current_price":"3480.50","market_cap":-5,"total_volume":"12"},
 {"id":"cardano","symbol":"ada","current_price":0.123456789},
 {"id":"ripple","symbol":"xrp","current_price":0.000000125},
 {"id":"dogecoin","symbol":"doge","current_price":0.000000004},
 {"id":"matic-network","symbol":"pol","current_price":0.7150},
 {"id":"some-coin","symbol":"sol","current_price":150.5},
 {"id":"solana","symbol":"sol","current_price":148.75},
 {"id":"unknown-coin","symbol":"zzz","current_price":1},
 {"id":"tether","symbol":"usdt","current_price":1.0001},
 {"id":"bitcoin","symbol":"btc","current_price":1}
]`

func TestHTTPExactPrices(t *testing.T) {
	p := newProvider(t, canned(marketsBody))
	h := newFeed(t, HTTPConfig{URL: p.srv.URL + "/api/v3/", APIKey: testKey})
	ticks, err := h.Next(context.Background(), current())
	if err == nil || !strings.Contains(err.Error(), "DOGE: current_price 0.000000004: not positive") {
		t.Fatalf("err %v: want the DOGE row reported", err)
	}
	want := []string{
		"ADA=0.12345679",
		"BTC=67250.12345678 cap=1327000000000 vol=28500000000.5 hi=68000.1 lo=66000 chg=-120.123456789 pct=-0.17823",
		"ETH=3480.5 cap=- vol=12 hi=- lo=- chg=- pct=-", // a negative cap is dropped
		"MATIC=0.715", // by coin id, whatever the symbol
		"SHIB=0.00000001",
		"SOL=150.5",      // symbol fallback: the first row for SOL wins
		"XRP=0.00000012", // half-even
	}
	if got := tickText(ticks); !slices.Equal(got, want) {
		t.Fatalf("ticks\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	reqs := p.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	q := r.URL.Query()
	if r.Method != "GET" || r.URL.Path != "/api/v3/coins/markets" || q.Get("vs_currency") != "usd" ||
		q.Get("ids") != "bitcoin,cardano,dogecoin,ethereum,matic-network,ripple,shiba-inu,solana" ||
		q.Get("per_page") != "8" || q.Get("page") != "1" || r.Header.Get(DefaultAPIKeyHeader) != testKey {
		t.Fatalf("request %s %s %v", r.Method, r.URL, r.Header)
	}
}

func TestHTTPConfiguredHeaderAndIDs(t *testing.T) {
	p := newProvider(t, canned(`[{"id":"my-btc","symbol":"xbt","current_price":5},{"id":"bitcoin","symbol":"eth","current_price":7}]`))
	h := newFeed(t, HTTPConfig{URL: p.srv.URL, APIKey: testKey, APIKeyHeader: "X-Api-Key",
		IDs: map[string]string{"btc": " my-btc "}})
	ticks, err := h.Next(context.Background(), current())
	if err != nil {
		t.Fatal(err)
	}
	// "bitcoin" is not configured: its row goes by its symbol, ETH.
	if got := tickText(ticks); !slices.Equal(got, []string{"BTC=5", "ETH=7"}) {
		t.Fatalf("ticks %v", got)
	}
	r := p.requests()[0]
	if r.Header.Get("X-Api-Key") != testKey || r.Header.Get(DefaultAPIKeyHeader) != "" || r.URL.Query().Get("ids") != "my-btc" {
		t.Fatalf("request %s %v", r.URL, r.Header)
	}
	// No key configured: no key header.
	h = newFeed(t, HTTPConfig{URL: p.srv.URL})
	if _, err := h.Next(context.Background(), current()); err != nil {
		t.Fatal(err)
	}
	if r := p.requests()[1]; r.Header.Get(DefaultAPIKeyHeader) != "" {
		t.Fatalf("key header %q", r.Header.Get(DefaultAPIKeyHeader))
	}
}

func TestHTTPNothingToPoll(t *testing.T) {
	p := newProvider(t, canned(`[]`))
	h := newFeed(t, HTTPConfig{URL: p.srv.URL})
	for _, cur := range []map[string]decimal.Decimal{nil, {"NOPE": decimal.FromInt(1)}} {
		ticks, err := h.Next(context.Background(), cur)
		if ticks != nil || err != nil {
			t.Fatalf("Next(%v) = %v, %v", cur, ticks, err)
		}
	}
	if n := len(p.requests()); n != 0 {
		t.Fatalf("%d requests", n)
	}
}

func TestHTTPFailuresChangeNothing(t *testing.T) {
	huge := "[" + strings.Repeat(`{"id":"bitcoin","symbol":"btc","current_price":1},`, 40000) + `{}]`
	tests := []struct {
		name   string
		handle func(http.ResponseWriter, *http.Request)
		want   string
	}{
		{"server error", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) }, "status 500"},
		{"unauthorized", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "bad key", http.StatusUnauthorized) }, "status 401"},
		{"rate limited without Retry-After", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "slow down", http.StatusTooManyRequests) }, "status 429"},
		{"malformed", canned(`[{"id":"bitcoin","current_price":67250.1`), "not a JSON array"},
		{"object", canned(`{"error":"nope"}`), "not a JSON array"},
		{"html", canned(`<html>maintenance</html>`), "not a JSON array"},
		{"huge", canned(huge), "body larger than 1048576 bytes"},
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://127.0.0.1:1/steal", http.StatusFound)
		}, "status 302"},
		{"slow headers", func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}, "context deadline exceeded"},
		{"slow body", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`[{"id":"bitcoin","symbol":"btc",`))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}, "context deadline exceeded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newProvider(t, tc.handle)
			h := newFeed(t, HTTPConfig{URL: p.srv.URL, APIKey: testKey, Timeout: 200 * time.Millisecond, MaxBodyBytes: 1 << 20})
			ticks, err := h.Next(context.Background(), current())
			if len(ticks) != 0 {
				t.Fatalf("ticks %v", tickText(ticks))
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), testKey) {
				t.Fatalf("the error leaks the key: %v", err)
			}
		})
	}
}

func TestHTTPBadRowsSkipped(t *testing.T) {
	p := newProvider(t, canned(`[
		{"id":"bitcoin","symbol":"btc","current_price":"1e999"},
		{"id":"ethereum","symbol":"eth","current_price":null},
		{"id":"solana","symbol":42,"current_price":1},
		{"id":"cardano","symbol":"ada","current_price":-1},
		{"id":"ripple","symbol":"xrp","current_price":0.52,"high_24h":"x","low_24h":true},
		7
	]`))
	h := newFeed(t, HTTPConfig{URL: p.srv.URL})
	ticks, err := h.Next(context.Background(), current())
	if got := tickText(ticks); !slices.Equal(got, []string{"XRP=0.52"}) {
		t.Fatalf("ticks %v", got)
	}
	for _, w := range []string{"BTC: current_price \"1e999\": not a number", "ETH: current_price null: not a number",
		"ADA: current_price -1: not positive", "skipped a malformed row"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("err %v lacks %q", err, w)
		}
	}
}

func TestHTTPRetryAfterPauses(t *testing.T) {
	var mu sync.Mutex
	limited := true
	p := newProvider(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if limited {
			w.Header().Set("Retry-After", "120")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		canned(`[{"id":"bitcoin","symbol":"btc","current_price":1.5}]`)(w, r)
	})
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	h := newFeed(t, HTTPConfig{URL: p.srv.URL, Now: func() time.Time { return now }})
	ctx := context.Background()
	if _, err := h.Next(ctx, current()); !errors.Is(err, ErrPaused) || !strings.Contains(err.Error(), "retry after 2m0s") {
		t.Fatalf("first poll: %v", err)
	}
	mu.Lock()
	limited = false
	mu.Unlock()
	now = now.Add(119 * time.Second)
	if ticks, err := h.Next(ctx, current()); !errors.Is(err, ErrPaused) || ticks != nil {
		t.Fatalf("paused poll: %v, %v", ticks, err)
	}
	if n := len(p.requests()); n != 1 {
		t.Fatalf("%d requests while paused", n)
	}
	now = now.Add(time.Second)
	ticks, err := h.Next(ctx, current())
	if err != nil || !slices.Equal(tickText(ticks), []string{"BTC=1.5"}) {
		t.Fatalf("after the pause: %v, %v", tickText(ticks), err)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false}, {"0", 0, false}, {"-5", 0, false}, {"soon", 0, false},
		{"30", 30 * time.Second, true}, {" 7 ", 7 * time.Second, true},
		{"999999999999", MaxRetryAfter, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, false},
		{now.Add(48 * time.Hour).Format(http.TimeFormat), MaxRetryAfter, true},
	}
	for _, tc := range tests {
		d, ok := retryAfter(tc.in, now)
		if d != tc.want || ok != tc.ok {
			t.Errorf("retryAfter(%q) = %s, %v; want %s, %v", tc.in, d, ok, tc.want, tc.ok)
		}
	}
}

func TestHTTPChunksLargeCatalogues(t *testing.T) {
	p := newProvider(t, func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		b.WriteString("[")
		for i, id := range strings.Split(r.URL.Query().Get("ids"), ",") {
			if i > 0 {
				b.WriteString(",")
			}
			n, _ := strconv.Atoi(strings.TrimPrefix(id, "coin"))
			fmt.Fprintf(&b, `{"id":%q,"symbol":"x","current_price":%d.25}`, id, n)
		}
		b.WriteString("]")
		canned(b.String())(w, r)
	})
	ids := map[string]string{}
	cur := map[string]decimal.Decimal{}
	for i := range 600 {
		a := fmt.Sprintf("A%03d", i)
		ids[a] = fmt.Sprintf("coin%03d", i)
		cur[a] = decimal.FromInt(1)
	}
	h := newFeed(t, HTTPConfig{URL: p.srv.URL, IDs: ids})
	ticks, err := h.Next(context.Background(), cur)
	if err != nil || len(ticks) != 600 {
		t.Fatalf("%d ticks, %v", len(ticks), err)
	}
	for i, tk := range ticks {
		if want := fmt.Sprintf("A%03d=%d.25", i, i); tickText([]Tick{tk})[0] != want {
			t.Fatalf("tick %d = %s, want %s", i, tickText([]Tick{tk})[0], want)
		}
	}
	var pages []string
	for _, r := range p.requests() {
		pages = append(pages, r.URL.Query().Get("per_page"))
	}
	if !slices.Equal(pages, []string{"250", "250", "100"}) {
		t.Fatalf("per_page %v", pages)
	}
}

func TestNewHTTPRejectsBadConfig(t *testing.T) {
	for _, cfg := range []HTTPConfig{
		{}, {URL: "api.coingecko.com"}, {URL: "ftp://x/y"}, {URL: "https://x/api?key=1"}, {URL: "http://"},
		{URL: "https://x", IDs: map[string]string{"BTC": ""}},
		{URL: "https://x", IDs: map[string]string{"": "bitcoin"}},
		{URL: "https://x", IDs: map[string]string{"BTC": "a,b"}},
	} {
		if _, err := NewHTTP(cfg); err == nil {
			t.Errorf("NewHTTP(%+v) accepted", cfg)
		}
	}
	if ids := DefaultCoinGeckoIDs(); len(ids) != 24 || ids["BTC"] != "bitcoin" || ids["MATIC"] != "matic-network" {
		t.Fatalf("default ids %v", ids)
	}
}
