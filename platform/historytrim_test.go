package platform

import (
	"context"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/dao"
)

// TestHistoryTrim: on the embedded store the platform deletes price points
// older than dao.PriceHistoryTTL, the first time at start (the boundary is
// tested in services/inventory). The catalogue seeded at t0 has one point
// per asset at t0; a restart just after t0 + TTL deletes them.
func TestHistoryTrim(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()
	open := func(now time.Time) *Platform {
		t.Helper()
		p, err := Open(ctx, Config{DataDir: dir, Logger: quiet(), Now: func() time.Time { return now },
			PasswordParams: auth.Params{MemoryKiB: 64, Iterations: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	points := func(p *Platform) int {
		t.Helper()
		pts, _, err := p.DAOs.Assets.PriceHistory(ctx, "BTC", t0.Add(-time.Hour), t0.Add(time.Hour), 10)
		if err != nil {
			t.Fatal(err)
		}
		return len(pts)
	}
	p := open(t0)
	n := points(p)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("seeded BTC has %d points, want 1", n)
	}
	p = open(t0.Add(dao.PriceHistoryTTL + time.Microsecond))
	defer p.Close()
	deadline := time.Now().Add(20 * time.Second)
	for points(p) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the point of t0 is still there 20 s after a start past its TTL")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
