package pricing

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/decimal"
)

func TestParseFXAnswer(t *testing.T) {
	for _, tc := range []struct{ body, want, err string }{
		{`{"amount":1.0,"base":"EUR","date":"2026-12-04","rates":{"USD":1.0812}}`, "1.0812", ""},
		{`{"base":"eur","rates":{"USD":"1.081234567891"}}`, "1.0812345679", ""}, // 10 places, half-even
		{`{"base":"EUR","rates":{"USD":1e0}}`, "1", ""},
		{`{"base":"USD","rates":{"USD":1}}`, "", `answer for base "USD"`},
		{`{"base":"EUR","rates":{"GBP":0.85}}`, "", "no USD rate"},
		{`{"base":"EUR","rates":{"USD":0}}`, "", "not positive"},
		{`{"base":"EUR","rates":{"USD":-1.2}}`, "", "not positive"},
		{`{"base":"EUR","rates":{"USD":"x"}}`, "", "not a number"},
		{`[1,2]`, "", "not a JSON object"},
	} {
		got, err := ParseFXAnswer("EUR", []byte(tc.body))
		switch {
		case tc.err == "" && (err != nil || got.String() != tc.want):
			t.Errorf("%s: %s %v, want %s", tc.body, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: %v, want an error with %q", tc.body, err, tc.err)
		}
	}
}

// FuzzParseFXAnswer: whatever a provider answers, a rate is positive with
// at most FXRatePlaces places, or an error.
func FuzzParseFXAnswer(f *testing.F) {
	f.Add(`{"base":"EUR","rates":{"USD":1.0812}}`)
	f.Add(`{"base":"EUR","rates":{"USD":"1e-30"}}`)
	f.Add(`{"base":"EUR","rates":{"USD":99999999999999999999999999999999999999}}`)
	f.Fuzz(func(t *testing.T, body string) {
		r, err := ParseFXAnswer("EUR", []byte(body))
		if err == nil && (!r.IsPositive() || r.Scale() > FXRatePlaces) {
			t.Fatalf("%q: rate %s", body, r)
		}
	})
}

// TestFXHTTPFeed: one request per currency but USD, in code order; a
// failed currency is an error and no tick, the others tick.
func TestFXHTTPFeed(t *testing.T) {
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.RequestURI())
		if r.URL.Query().Get("base") == "GBP" {
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		_, _ = w.Write([]byte(`{"base":"` + r.URL.Query().Get("base") + `","rates":{"USD":2.5}}`))
	}))
	defer srv.Close()
	h, err := NewFXHTTP(FXHTTPConfig{URL: srv.URL + "/v1", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	one := decimal.FromInt(1)
	ticks, err := h.Next(context.Background(), map[string]decimal.Decimal{"USD": one, "GBP": one, "EUR": one})
	if err == nil || !strings.Contains(err.Error(), "GBP") || !strings.Contains(err.Error(), "status 429") {
		t.Fatalf("error %v", err)
	}
	if len(ticks) != 1 || ticks[0].AssetID != "EUR" || ticks[0].Price.String() != "2.5" {
		t.Fatalf("ticks %+v", ticks)
	}
	if got := strings.Join(paths, " "); got != "/v1/latest?base=EUR&symbols=USD /v1/latest?base=GBP&symbols=USD" {
		t.Fatalf("requests %s", got)
	}
	if _, err := NewFXHTTP(FXHTTPConfig{URL: "ftp://x"}); err == nil {
		t.Fatal("an ftp URL was accepted")
	}
}
