package entity

import (
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/decimal"
)

// TestMarket24h: the hours of price changes give the 24-hour high, low and
// change, the window's start price being the close of the last hour before
// it (or, for a younger asset, its first price), and hours that leave the
// window are forgotten with their close kept.
func TestMarket24h(t *testing.T) {
	d := decimal.MustParse
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	a := &Asset{AssetID: "XYZ", PriceUSD: d("100")}
	if got := a.WithMarket24h(at("2026-12-05T08:30:00Z")); got.High24h != nil || got.PriceChange24h != nil {
		t.Fatalf("no recorded price: %+v", got.MarketData)
	}
	set := func(when, price string) {
		a.PriceUSD = d(price)
		a.PriceHours.NotePrice(at(when), a.PriceUSD)
	}
	set("2026-12-05T08:30:00Z", "100")
	set("2026-12-05T09:10:00Z", "120")
	set("2026-12-05T09:40:00Z", "90")
	want := func(now, high, low, change, pct string) {
		t.Helper()
		b := *a
		b.MarketData = MarketData{}
		got := b.WithMarket24h(at(now))
		if !got.High24h.Equal(d(high)) || !got.Low24h.Equal(d(low)) || !got.PriceChange24h.Equal(d(change)) ||
			!got.PriceChangePercentage24h.Equal(d(pct)) {
			t.Fatalf("at %s: high %s low %s change %s (%s%%), want %s %s %s (%s%%)", now, got.High24h, got.Low24h,
				got.PriceChange24h, got.PriceChangePercentage24h, high, low, change, pct)
		}
	}
	want("2026-12-05T20:00:00Z", "120", "90", "-10", "-10.00") // younger than the window: from its first price
	want("2026-12-06T08:59:59Z", "120", "90", "-10", "-10.00") // hour 08 left: its close (100) starts the window
	want("2026-12-06T09:00:00Z", "90", "90", "0", "0.00")      // hour 09 left too: its close (90)
	set("2026-12-06T10:15:00Z", "95")
	if len(a.PriceHours.Hours) != 1 || a.PriceHours.Before == nil || !a.PriceHours.Before.Equal(d("90")) {
		t.Fatalf("hours after the window moved: %+v", a.PriceHours)
	}
	h := a.PriceHours.Hours[0]
	if h.Hour != at("2026-12-06T10:00:00Z").Unix()/3600 || !h.High.Equal(d("95")) || !h.Low.Equal(d("90")) || !h.Close.Equal(d("95")) {
		t.Fatalf("hour 10: %+v", h)
	}
	want("2026-12-06T10:20:00Z", "95", "90", "5", "5.56") // 5 / 90 = 5.5555...%
}
