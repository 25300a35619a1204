package platform

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/pricing"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestHTTPPriceFeed starts a platform on the http feed against a local fake
// provider: the feed polls at start (the interval is an hour), so the
// provider's exact price arrives without waiting an interval.
func TestHTTPPriceFeed(t *testing.T) {
	keys := make(chan string, 10)
	prov := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case keys <- r.Header.Get("X-Key"):
		default:
		}
		_, _ = w.Write([]byte(`[{"id":"bitcoin","symbol":"btc","current_price":70123.45678901}]`))
	}))
	defer prov.Close()
	p, err := Open(context.Background(), Config{
		DataDir: t.TempDir(), PriceFeed: "http", PriceInterval: time.Hour, Logger: quiet(),
		PasswordParams: auth.Params{MemoryKiB: 64, Iterations: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		PriceHTTP:      pricing.HTTPConfig{URL: prov.URL, APIKey: "k-1", APIKeyHeader: "X-Key"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	}()
	select {
	case k := <-keys:
		if k != "k-1" {
			t.Fatalf("key header %q", k)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the feed did not poll at start")
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		a, err := p.DAOs.Assets.Get(context.Background(), "BTC")
		if err != nil {
			t.Fatal(err)
		}
		if a.PriceUSD.String() == "70123.45678901" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("BTC still at %s", a.PriceUSD)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestUnknownOrBadPriceFeed(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{PriceFeed: "random"}, `unknown price feed "random" (static, simulated or http)`},
		{Config{PriceFeed: "http"}, `price feed URL "": want an absolute http(s) URL without query`},
	} {
		tc.cfg.DataDir, tc.cfg.Logger = t.TempDir(), quiet()
		tc.cfg.PasswordParams = auth.Params{MemoryKiB: 64, Iterations: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
		if p, err := Open(context.Background(), tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			if p != nil {
				_ = p.Close()
			}
			t.Errorf("Open(%q) = %v, want %q", tc.cfg.PriceFeed, err, tc.want)
		}
	}
}
