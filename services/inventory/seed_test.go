package inventory

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/orderprocessor/orderprocessor/catalog"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
)

func TestSeed(t *testing.T) {
	e := newEnv(t, false)
	ctx := context.Background()
	n, err := e.svc.Seed(ctx)
	if err != nil || n != len(catalog.Assets) {
		t.Fatalf("first Seed = %d, %v; want %d", n, err, len(catalog.Assets))
	}
	e.clock.Set(t0.AddDate(0, 0, 1))
	n, err = e.svc.Seed(ctx)
	if err != nil || n != 0 {
		t.Fatalf("second Seed = %d, %v; want 0, nil", n, err)
	}
	all, err := e.d.Assets.All(ctx)
	if err != nil || len(all) != len(catalog.Assets) {
		t.Fatalf("All: %d, %v", len(all), err)
	}
	for i, a := range all {
		sd := catalog.Assets[i]
		price := decimal.MustParse(sd.Price)
		switch {
		case a.AssetID != sd.ID || a.Name != sd.Name || a.Category != sd.Category || a.Description != sd.Description:
			t.Errorf("%d: %s %q %q", i, a.AssetID, a.Name, a.Category)
		case !a.PriceUSD.Equal(price) || a.PriceUSD.String() != price.String():
			t.Errorf("%s: price %s, want %s", a.AssetID, a.PriceUSD, sd.Price)
		case !a.IsActive || a.Symbol != strings.ToLower(sd.ID) || a.Image != "" || a.Version != 1:
			t.Errorf("%s: active %v symbol %q image %q version %d", a.AssetID, a.IsActive, a.Symbol, a.Image, a.Version)
		case a.MarketCapRank == nil || *a.MarketCapRank != sd.Rank:
			t.Errorf("%s: rank %v", a.AssetID, a.MarketCapRank)
		case !a.LastUpdated.Equal(t0) || !a.CreatedAt.Equal(t0):
			t.Errorf("%s: last_updated %s created %s", a.AssetID, a.LastUpdated, a.CreatedAt)
		case a.MarketCap.String() != decimal.MustParse(sd.MarketCap).String() || a.ATHDate == nil || a.ATLDate == nil:
			t.Errorf("%s: market cap %s, dates %v %v", a.AssetID, a.MarketCap, a.ATHDate, a.ATLDate)
		case (sd.Max == "") != (a.MaxSupply == nil):
			t.Errorf("%s: max supply %v for seed %q", a.AssetID, a.MaxSupply, sd.Max)
		}
	}
}

func TestSeedResumes(t *testing.T) {
	// A catalogue seeded in part (an interrupted first start) is completed;
	// existing assets keep their state.
	e := newEnv(t, false)
	ctx := context.Background()
	btc, err := SeedAsset(catalog.Assets[0], entity.At(t0))
	if err != nil {
		t.Fatal(err)
	}
	btc.PriceUSD = decimal.MustParse("1.5")
	btc.IsActive = false
	if err := e.d.Assets.Create(ctx, btc); err != nil {
		t.Fatal(err)
	}
	n, err := e.svc.Seed(ctx)
	if err != nil || n != len(catalog.Assets)-1 {
		t.Fatalf("Seed = %d, %v; want %d", n, err, len(catalog.Assets)-1)
	}
	got, err := e.d.Assets.Get(ctx, "BTC")
	if err != nil || got.PriceUSD.String() != "1.5" || got.IsActive {
		t.Fatalf("BTC after seed: %v %v", got, err)
	}
}

func TestSeedConcurrent(t *testing.T) {
	// Replicas seeding at once create each asset exactly once.
	e := newEnv(t, false)
	const replicas = 4
	var wg sync.WaitGroup
	counts := make([]int, replicas)
	errs := make([]error, replicas)
	start := make(chan struct{})
	for i := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			counts[i], errs[i] = e.svc.Seed(context.Background())
		}()
	}
	close(start)
	wg.Wait()
	total := 0
	for i := range replicas {
		if errs[i] != nil {
			t.Fatalf("replica %d: %v", i, errs[i])
		}
		total += counts[i]
	}
	if total != len(catalog.Assets) {
		t.Fatalf("created %d in total (%v), want %d", total, counts, len(catalog.Assets))
	}
}

func TestSeedAsset(t *testing.T) {
	now := entity.At(t0)
	ok := catalog.Assets[1] // ETH
	tests := []struct {
		name    string
		edit    func(*catalog.Seed)
		wantErr string
		check   func(t *testing.T, a *entity.Asset)
	}{
		{"ETH derived", func(*catalog.Seed) {}, "", func(t *testing.T, a *entity.Asset) {
			// 3480.5 × 0.85 / 100.85; (3480.5 − 4878.26) / 4878.26 × 100; (3480.5 − 0.432979) / 0.432979 × 100
			got := []string{a.PriceChange24h.String(), a.ATHChangePercentage.String(), a.ATLChangePercentage.String()}
			if want := []string{"29.33490332", "-28.65", "803749.61"}; strings.Join(got, " ") != strings.Join(want, " ") {
				t.Fatalf("derived %v, want %v", got, want)
			}
			if a.MaxSupply != nil || a.High24h != nil || a.Low24h != nil {
				t.Fatalf("unknowns set: %v %v %v", a.MaxSupply, a.High24h, a.Low24h)
			}
		}},
		{"SHIB tiny numbers", func(s *catalog.Seed) { *s = catalog.Assets[17] }, "", func(t *testing.T, a *entity.Asset) {
			got := []string{a.PriceUSD.String(), a.PriceChange24h.String(), a.ATLChangePercentage.String(), a.ATL.String()}
			if want := []string{"0.0000245", "0.00000096", "43465819.17", "0.000000000056366"}; strings.Join(got, " ") != strings.Join(want, " ") {
				t.Fatalf("got %v, want %v", got, want)
			}
		}},
		{"no rank", func(s *catalog.Seed) { s.Rank = 0 }, "", func(t *testing.T, a *entity.Asset) {
			if a.MarketCapRank != nil {
				t.Fatalf("rank %v", *a.MarketCapRank)
			}
		}},
		{"zero ath, no changes", func(s *catalog.Seed) { s.ATH, s.Change24hPct, s.ATL = "0", "", "" }, "", func(t *testing.T, a *entity.Asset) {
			if a.ATHChangePercentage != nil || a.PriceChange24h != nil || a.ATLChangePercentage != nil || a.ATH == nil {
				t.Fatalf("derived from unknowns: %v %v %v", a.ATHChangePercentage, a.PriceChange24h, a.ATLChangePercentage)
			}
		}},
		{"bad price", func(s *catalog.Seed) { s.Price = "3,480.50" }, `seed ETH: price "3,480.50"`, nil},
		{"bad number", func(s *catalog.Seed) { s.MarketCap = "1e" }, `seed ETH: market_cap "1e"`, nil},
		{"bad date", func(s *catalog.Seed) { s.ATHDate, s.ATLDate = "yesterday", "x" }, `seed ETH: ath_date "yesterday"`, nil},
		{"missing price", func(s *catalog.Seed) { s.Price = "" }, "seed ETH: price_usd: field required", nil},
		{"negative cap", func(s *catalog.Seed) { s.MarketCap = "-1" }, "seed ETH: market_cap: must not be negative", nil},
		{"bad id", func(s *catalog.Seed) { s.ID = "E-TH" }, "seed E-TH: asset_id: must be 1-10 letters or digits", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sd := ok
			tc.edit(&sd)
			a, err := SeedAsset(sd, now)
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want prefix %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, a)
		})
	}
}

func TestSeedStoreClosed(t *testing.T) {
	e := newEnv(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if n, err := e.svc.Seed(ctx); err == nil || n != 0 || !strings.HasPrefix(err.Error(), "seed catalogue: ") {
		t.Fatalf("Seed with a cancelled context = %d, %v", n, err)
	}
}
