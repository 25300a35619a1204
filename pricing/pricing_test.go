package pricing

import (
	"context"
	"testing"

	"github.com/orderprocessor/orderprocessor/decimal"
)

func prices() map[string]decimal.Decimal {
	return map[string]decimal.Decimal{
		"BTC":  decimal.MustParse("67250.00"),
		"SHIB": decimal.MustParse("0.00002450"),
		"ZERO": decimal.Zero,
	}
}

func TestSimulatedIsReproducibleAndBounded(t *testing.T) {
	a, b := NewSimulated(42), NewSimulated(42)
	pa, pb := prices(), prices()
	for step := 0; step < 2000; step++ {
		ta, tb := next(t, a, pa), next(t, b, pb)
		if len(ta) != len(tb) {
			t.Fatalf("step %d: %d vs %d ticks", step, len(ta), len(tb))
		}
		for i := range ta {
			if ta[i].AssetID != tb[i].AssetID || !ta[i].Price.Equal(tb[i].Price) {
				t.Fatalf("step %d: %v vs %v", step, ta[i], tb[i])
			}
			if ta[i].AssetID == "ZERO" {
				t.Fatal("a zero price moved")
			}
			pa[ta[i].AssetID], pb[tb[i].AssetID] = ta[i].Price, tb[i].Price
		}
	}
	lo, hi := decimal.MustParse("33625"), decimal.MustParse("134500")
	if btc := pa["BTC"]; btc.LessThan(lo) || btc.GreaterThan(hi) || btc.Scale() > 2 {
		t.Fatalf("BTC walked to %s", btc)
	}
	if shib := pa["SHIB"]; !shib.IsPositive() || shib.Scale() > 8 {
		t.Fatalf("SHIB walked to %s", shib)
	}
	if pa["BTC"].Equal(decimal.MustParse("67250.00")) {
		t.Fatal("BTC never moved")
	}
}

func TestSimulatedStepIsAtMostMaxStep(t *testing.T) {
	s := NewSimulated(7)
	p := prices()
	for step := 0; step < 500; step++ {
		for _, tk := range next(t, s, p) {
			old := p[tk.AssetID]
			// |new - old| <= old * 0.005 plus one unit of rounding.
			diff := tk.Price.Sub(old).Abs()
			limit := old.Mul(decimal.MustParse("0.005")).Add(decimal.New(1, -old.Scale()))
			if diff.GreaterThan(limit) {
				t.Fatalf("%s moved %s -> %s", tk.AssetID, old, tk.Price)
			}
			p[tk.AssetID] = tk.Price
		}
	}
}

func TestStaticNeverMoves(t *testing.T) {
	if ticks, err := (Static{}).Next(context.Background(), prices()); ticks != nil || err != nil {
		t.Fatalf("static feed ticked: %v, %v", ticks, err)
	}
}

// next calls f.Next and fails the test on an error.
func next(t *testing.T, f Feed, current map[string]decimal.Decimal) []Tick {
	t.Helper()
	ticks, err := f.Next(context.Background(), current)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return ticks
}
