package inventory

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/catalog"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/pricing"
)

func TestPrices(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	for _, id := range []string{"USDT", "USDC"} {
		if _, err := e.d.Assets.SetActive(ctx, id, false, t0); err != nil {
			t.Fatal(err)
		}
	}
	prices, err := e.svc.Prices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(prices) != len(catalog.Assets)-2 {
		t.Fatalf("%d prices", len(prices))
	}
	for _, sd := range catalog.Assets {
		p, ok := prices[sd.ID]
		if inactive := sd.ID == "USDT" || sd.ID == "USDC"; ok == inactive {
			t.Fatalf("%s: present %v", sd.ID, ok)
		}
		if ok && p.String() != decimal.MustParse(sd.Price).String() {
			t.Fatalf("%s: %s, want %s", sd.ID, p, sd.Price)
		}
	}
}

func TestApplyTicks(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	e.clock.Set(t0.Add(time.Minute))
	d := decimal.MustParse
	err := e.svc.ApplyTicks(ctx, []pricing.Tick{
		{AssetID: "BTC", Price: d("68000.01")},
		{AssetID: "ETH", Price: d("3480.50")}, // unchanged: no write, no hook
		{AssetID: "NOPE", Price: d("1")},      // unknown
		{AssetID: "B-C", Price: d("1")},       // malformed
		{AssetID: "SOL", Price: d("0")},       // invalid price
		{AssetID: "ADA", Price: d("0.123456789")},
		{AssetID: "sol", Price: d("148.8")},
	})
	if err == nil {
		t.Fatal("no error for the bad ticks")
	}
	msg := err.Error()
	for _, w := range []string{"tick NOPE: asset NOPE not found", `malformed asset id "B-C"`,
		"tick SOL 0: price_usd: must be greater than 0", "tick ADA 0.123456789: price_usd: must have at most 8 decimal places"} {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q lacks %q", msg, w)
		}
	}
	want := []change{{"BTC", "67250", "68000.01"}, {"SOL", "148.75", "148.8"}}
	if got := e.rec.take(); !slices.Equal(got, want) {
		t.Fatalf("hooks %v, want %v", got, want)
	}
	status, body := e.do(anon, "GET", "/api/v1/inventory/assets/BTC", "")
	if status != http.StatusOK || !strings.Contains(body, `"price_usd":68000.01,`) ||
		!strings.Contains(body, `"last_updated":"2026-11-25T12:01:00.000000Z"`) {
		t.Fatalf("BTC: %d %s", status, body)
	}
	for id, v := range map[string]int64{"BTC": 2, "ETH": 1, "SOL": 2, "ADA": 1} {
		a, err := e.d.Assets.Get(ctx, id)
		if err != nil || a.Version != v {
			t.Fatalf("%s: version %v, %v; want %d", id, a, err, v)
		}
	}
	if err := e.svc.ApplyTicks(ctx, nil); err != nil {
		t.Fatalf("no ticks: %v", err)
	}
}

func TestApplyTicksCancelled(t *testing.T) {
	e := newEnv(t, true)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := e.svc.ApplyTicks(ctx, []pricing.Tick{{AssetID: "BTC", Price: decimal.FromInt(1)}, {AssetID: "ETH", Price: decimal.FromInt(2)}})
	if !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "ETH") {
		t.Fatalf("err %v: want context.Canceled from the first tick only", err)
	}
	if got := e.rec.take(); len(got) != 0 {
		t.Fatalf("hooks %v", got)
	}
}

// TestRunSimulatedFeed drives the real feed loop against the service until
// the hook has seen a full round of ticks, then checks that the hooks saw
// exactly the stored prices.
func TestRunSimulatedFeed(t *testing.T) {
	e := newEnv(t, true)
	var mu sync.Mutex
	last := map[string]change{}
	first := map[string]change{}
	done := make(chan struct{})
	var once sync.Once
	e.svc.OnPriceChange(func(_ context.Context, id string, old, new decimal.Decimal) {
		mu.Lock()
		defer mu.Unlock()
		if prev, ok := last[id]; ok && prev.New != old.String() {
			t.Errorf("%s: old %s, previous new %s", id, old, prev.New)
		}
		c := change{id, old.String(), new.String()}
		if _, ok := first[id]; !ok {
			first[id] = c
		}
		last[id] = c
		if len(last) >= 20 {
			once.Do(func() { close(done) })
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		pricing.Run(ctx, pricing.NewSimulated(7), e.svc, time.Millisecond, quietLogger())
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("no ticks")
	}
	cancel()
	<-stopped
	mu.Lock()
	defer mu.Unlock()
	seed := map[string]string{}
	for _, sd := range catalog.Assets {
		seed[sd.ID] = decimal.MustParse(sd.Price).String()
	}
	for id, c := range last {
		if first[id].Old != seed[id] {
			t.Errorf("%s: first old %s, seed %s", id, first[id].Old, seed[id])
		}
		a, err := e.d.Assets.Get(context.Background(), id)
		if err != nil || a.PriceUSD.String() != c.New {
			t.Errorf("%s: stored %v, last hook %s (%v)", id, a.PriceUSD, c.New, err)
		}
	}
}

func TestHookPanicRecovered(t *testing.T) {
	e := newEnv(t, true)
	var mu sync.Mutex // the hook runs in the server's goroutine
	var after []string
	e.svc.OnPriceChange(nil) // ignored
	e.svc.OnPriceChange(func(context.Context, string, decimal.Decimal, decimal.Decimal) { panic("boom") })
	e.svc.OnPriceChange(func(_ context.Context, id string, _, new decimal.Decimal) {
		mu.Lock()
		after = append(after, id+"="+new.String())
		mu.Unlock()
	})
	status, body := e.do(admin, "PUT", "/api/v1/admin/assets/XRP/price", `{"price_usd":"0.6"}`)
	if status != http.StatusOK || !strings.Contains(body, `"price_usd":0.6,`) {
		t.Fatalf("set price: %d %s", status, body)
	}
	if got := e.rec.take(); !slices.Equal(got, []change{{"XRP", "0.524", "0.6"}}) {
		t.Fatalf("first hook: %v", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(after, []string{"XRP=0.6"}) {
		t.Fatalf("hook after the panicking one: %v", after)
	}
}
