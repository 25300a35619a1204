package platform

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/store"
)

// TestDeleteExpired: on the embedded store the platform deletes expired
// items, as DynamoDB's time to live does, the first time at start (the
// engine's rules are tested in store/embedded). The catalogue seeded at t0
// has one price point per asset at t0, kept for dao.PriceHistoryTTL; an
// idempotency record of t0 is kept for dao.IdemTTL. A restart a second
// after a record's expiry deletes it.
func TestDeleteExpired(t *testing.T) {
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
	idemKey := dao.DefaultTables.IdemKey("alice", "order", "k1")
	// state says whether BTC's point of t0 and the idempotency record exist.
	state := func(p *Platform) (point, record bool) {
		t.Helper()
		pts, _, err := p.DAOs.Assets.PriceHistory(ctx, "BTC", t0.Add(-time.Hour), t0.Add(time.Hour), 10)
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Store.Get(ctx, idemKey)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		return len(pts) == 1, err == nil
	}
	p := open(t0)
	if err := p.Store.Transact(ctx, []store.Write{p.DAOs.Idem.Write(idemKey, dao.IdemRecord{ReqHash: "h", Status: 201, Body: []byte("{}")}, t0)}); err != nil {
		t.Fatal(err)
	}
	point, record := state(p)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if !point || !record {
		t.Fatalf("at t0: point %v, record %v; want both", point, record)
	}
	for _, step := range []struct {
		now           time.Time
		point, record bool
	}{
		{t0.Add(dao.IdemTTL + time.Second), true, false},
		{t0.Add(dao.PriceHistoryTTL + time.Second), false, false},
	} {
		p := open(step.now)
		deadline := time.Now().Add(20 * time.Second)
		for {
			point, record := state(p)
			if point == step.point && record == step.record {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("at %v: point %v, record %v 20 s after the start; want %v, %v", step.now, point, record, step.point, step.record)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
