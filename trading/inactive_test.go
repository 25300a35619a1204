package trading_test

import (
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/trading"
)

// deactivate stores XYZ as inactive without cancelling anything.
func (e *env) deactivate() {
	e.t.Helper()
	if _, err := e.d.Assets.SetActive(e.ctx, "XYZ", false, e.clock.Now()); err != nil {
		e.t.Fatal(err)
	}
}

// wantAllCancelled checks that every order of alice is cancelled for the
// inactive asset and holds nothing.
func (e *env) wantAllCancelled(n int) {
	e.t.Helper()
	os, err := e.d.Orders.AllByUser(e.ctx, "alice")
	if err != nil {
		e.t.Fatal(err)
	}
	if len(os) != n {
		e.t.Fatalf("%d orders, want %d", len(os), n)
	}
	for _, o := range os {
		last := o.StatusHistory[len(o.StatusHistory)-1]
		if o.Status != entity.StatusCancelled || !o.HeldAmount.IsZero() || last.Reason != trading.InactiveReason("XYZ") {
			e.t.Fatalf("order %s: %s held %s reason %q", o.OrderID, o.Status, o.HeldAmount, last.Reason)
		}
	}
}

// A price that crosses the resting orders of an inactive asset cancels them
// all (more than two pages of the index) instead of executing any.
func TestOnPriceCancelsInactiveAssetOrders(t *testing.T) {
	e := newEnv(t, "100", "100000")
	placeMany(e, 450)
	e.cash("alice", "100000", "27000")
	e.deactivate()
	if n := e.tick("50"); n != 0 {
		t.Fatalf("executed %d", n)
	}
	e.wantAllCancelled(450)
	e.cash("alice", "100000", "0")
	e.verify()
}

// The sweep's CancelInactive cancels the resting orders of every inactive
// asset and nothing else.
func TestCancelInactive(t *testing.T) {
	e := newEnv(t, "100", "1000")
	placeMany(e, 3)
	if n, err := e.s.CancelInactive(e.ctx); err != nil || n != 0 {
		t.Fatalf("active asset: cancelled %d, %v", n, err)
	}
	e.deactivate()
	if n, err := e.s.CancelInactive(e.ctx); err != nil || n != 3 {
		t.Fatalf("inactive asset: cancelled %d, %v", n, err)
	}
	e.wantAllCancelled(3)
	e.cash("alice", "1000", "0")
	if n, err := e.s.CancelInactive(e.ctx); err != nil || n != 0 {
		t.Fatalf("again: cancelled %d, %v", n, err)
	}
	e.verify()
}

// BenchmarkDeactivate1000 measures the cancellation of 1,000 resting
// orders of one asset (CancelAssetOrders, as a deactivation runs it).
func BenchmarkDeactivate1000(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := newEnv(b, "100", "100000")
		placeMany(e, 1000)
		e.deactivate()
		b.StartTimer()
		start := time.Now()
		n, err := e.s.CancelAssetOrders(e.ctx, "XYZ")
		if err != nil || n != 1000 {
			b.Fatalf("cancelled %d: %v", n, err)
		}
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms/deactivation")
	}
}
