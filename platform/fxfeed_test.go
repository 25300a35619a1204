package platform

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/pricing"
)

// TestHTTPFXFeed starts a platform on the http rate feed against a local
// fake provider of the frankfurter.app shape: the feed polls at start (the
// interval is an hour), one request per currency, and stores each
// answer's exact rate (rounded to 10 places) with the source "feed"; a
// currency whose answer fails keeps its rate.
func TestHTTPFXFeed(t *testing.T) {
	var mu sync.Mutex
	var asked []string
	prov := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		base, symbols := r.URL.Query().Get("base"), r.URL.Query().Get("symbols")
		mu.Lock()
		asked = append(asked, r.URL.Path+"?"+base+">"+symbols)
		mu.Unlock()
		switch base {
		case "EUR":
			_, _ = w.Write([]byte(`{"amount":1.0,"base":"EUR","date":"2026-12-04","rates":{"USD":1.08123456789}}`))
		case "GBP":
			_, _ = w.Write([]byte(`{"amount":1.0,"base":"GBP","date":"2026-12-04","rates":{"USD":"1.2650"}}`))
		case "JPY":
			_, _ = w.Write([]byte(`{"base":"USD","rates":{"USD":1}}`)) // another base: refused
		default:
			http.Error(w, "down", http.StatusBadGateway)
		}
	}))
	defer prov.Close()
	p, err := Open(context.Background(), Config{
		DataDir: t.TempDir(), PriceFeed: "static", FXFeed: "http", FXInterval: time.Hour, Logger: quiet(),
		PasswordParams: fastParams, FXHTTP: pricing.FXHTTPConfig{URL: prov.URL + "/"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	}()
	ctx := context.Background()
	waitFor(t, "the feed's GBP rate", func() bool {
		r, err := p.DAOs.FX.Get(ctx, entity.GBP)
		return err == nil && r.Source == "feed"
	})
	want := map[entity.Currency]string{entity.EUR: "1.0812345679 feed", entity.GBP: "1.265 feed", entity.JPY: "0.0067 seed",
		entity.CHF: "1.13 seed", entity.CAD: "0.73 seed", entity.AUD: "0.66 seed"}
	for c, w := range want {
		r, err := p.DAOs.FX.Get(ctx, c)
		if err != nil || r.Rate.String()+" "+r.Source != w {
			t.Errorf("%s: %+v %v, want %s", c, r, err, w)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(asked, " "); got != "/latest?AUD>USD /latest?CAD>USD /latest?CHF>USD /latest?EUR>USD /latest?GBP>USD /latest?JPY>USD" {
		t.Fatalf("requests %s", got)
	}
}

// TestFXFeedLease: of two inventory replicas on the simulated rate feed,
// only the holder of the fx-feed lease writes rates; its points name it.
func TestFXFeedLease(t *testing.T) {
	ps, d := openReplicas(t, RoleInventory, 2, func(c *Config) { c.FXFeed, c.FXInterval = "simulated", 20*time.Millisecond })
	ctx := context.Background()
	var src string
	waitFor(t, "a fed rate", func() bool {
		r, err := d.FX.Get(ctx, entity.EUR)
		if err == nil && strings.HasPrefix(r.Source, "feed:") {
			src = r.Source
			return true
		}
		return false
	})
	l, err := d.Leases.Get(ctx, FXFeedLease)
	if err != nil || "feed:"+l.Holder != src || (l.Holder != ps[0].Member && l.Holder != ps[1].Member) {
		t.Fatalf("lease %+v %v; the rate's source %s", l, err, src)
	}
	pts, _, err := d.FX.History(ctx, entity.EUR, time.Time{}, time.Now().Add(time.Hour), dao.MaxFXHistoryPage, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, pt := range pts {
		if pt.Source != src && pt.Source != "seed" {
			t.Fatalf("a point of %q while %s holds the lease", pt.Source, src)
		}
	}
}
