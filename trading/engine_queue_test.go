package trading

import (
	"testing"

	"github.com/orderprocessor/orderprocessor/decimal"
)

// TestEngineSweepKeepsNewerPrice: a price change queued after the sweep
// read its prices is not replaced by the sweep's older price, so no price
// event is lost to a sweep that overlaps it.
func TestEngineSweepKeepsNewerPrice(t *testing.T) {
	e := &Engine{pending: map[string]decimal.Decimal{}, wake: make(chan struct{}, 1)}
	newer, older := decimal.MustParse("59000"), decimal.MustParse("67250")
	e.PriceChanged("BTC", newer)
	e.queue("BTC", older, false) // the sweep's read, older than the change
	e.queue("ETH", older, false)
	if got := e.pending["BTC"]; !got.Equal(newer) {
		t.Fatalf("BTC queued at %s, want the newer %s", got, newer)
	}
	if got := e.pending["ETH"]; !got.Equal(older) {
		t.Fatalf("ETH queued at %s, want the sweep's %s", got, older)
	}
	e.PriceChanged("BTC", older) // a change replaces what is queued
	if got := e.pending["BTC"]; !got.Equal(older) {
		t.Fatalf("BTC queued at %s after a change to %s", got, older)
	}
}
