package platform

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/store/embedded"
)

// openReplicas opens n platforms of role on one embedded store, with
// short lease terms.
func openReplicas(t *testing.T, role Role, n int, tweak ...func(*Config)) ([]*Platform, *dao.DAOs) {
	t.Helper()
	edb, err := embedded.Open(t.TempDir(), dao.DefaultTables.Schemas(), embedded.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = edb.Close() })
	var ps []*Platform
	for i := range n {
		cfg := Config{Store: sharedStore{edb}, Role: role, JWTSecret: []byte(testSecret),
			Logger: quiet(), PasswordParams: fastParams, PriceFeed: "simulated", PriceSeed: uint64(i + 1),
			PriceInterval: 20 * time.Millisecond, LeaseTTL: 300 * time.Millisecond}
		for _, f := range tweak {
			f(&cfg)
		}
		p, err := Open(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		ps = append(ps, p)
	}
	return ps, dao.New(edb, dao.DefaultTables)
}

// waitFor polls cond until it holds (or fails the test after 30 s).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// writers returns the writers of the points of every asset, each asset's in
// the order they were stored, and the time of each writer's first and last
// point.
func writers(t *testing.T, d *dao.DAOs) (map[string][]string, map[string][2]time.Time) {
	t.Helper()
	ctx := context.Background()
	assets, err := d.Assets.All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seq := map[string][]string{}
	span := map[string][2]time.Time{}
	for _, a := range assets {
		pts, _, err := d.Assets.PriceHistory(ctx, a.AssetID, time.Time{}, time.Now().Add(time.Hour), dao.MaxHistoryPage)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pts {
			if p.Writer == "" {
				continue // the seeded price
			}
			seq[a.AssetID] = append(seq[a.AssetID], p.Writer)
			s, ok := span[p.Writer]
			if !ok || p.At.Before(s[0]) {
				s[0] = p.At
			}
			if p.At.After(s[1]) {
				s[1] = p.At
			}
			span[p.Writer] = s
		}
	}
	return seq, span
}

// TestPriceFeedLease: of two inventory replicas, only the price feed
// lease's holder writes prices; when it stops, it releases the lease and
// the other replica writes from then on. Every point names its writer: per
// asset the writers never interleave, and the first writer's last point is
// older than the second's first.
func TestPriceFeedLease(t *testing.T) {
	ps, d := openReplicas(t, RoleInventory, 2)
	ctx := context.Background()
	var holder string
	waitFor(t, "a holder's price points", func() bool {
		seq, _ := writers(t, d)
		for _, w := range seq {
			holder = w[0]
			return true
		}
		return false
	})
	l, err := d.Leases.Get(ctx, PriceFeedLease)
	if err != nil || l.Holder != holder {
		t.Fatalf("lease %+v, %v; the points' writer is %s", l, err, holder)
	}
	first, second := ps[0], ps[1]
	if holder == second.Member {
		first, second = second, first
	} else if holder != first.Member {
		t.Fatalf("holder %q is neither replica (%s, %s)", holder, first.Member, second.Member)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the second replica's price points", func() bool {
		_, span := writers(t, d)
		_, ok := span[second.Member]
		return ok
	})
	if err := second.Close(); err != nil {
		t.Fatal(err)
	}
	seq, span := writers(t, d)
	for id, ws := range seq {
		if i := slices.Index(ws, second.Member); i >= 0 && slices.Contains(ws[i:], first.Member) {
			t.Fatalf("%s: writers interleave: %v", id, ws)
		}
		for _, w := range ws {
			if w != first.Member && w != second.Member {
				t.Fatalf("%s: a point of %q", id, w)
			}
		}
	}
	if !span[first.Member][1].Before(span[second.Member][0]) {
		t.Fatalf("the first writer's last point %v is not before the second's first %v", span[first.Member][1], span[second.Member][0])
	}
	if _, err := d.Leases.Get(ctx, PriceFeedLease); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the lease after both stopped: %v, want released", err)
	}
}

// TestOrderReplicasJoin: order replicas are members of the engine group
// from Open (so the first sweep has their share) until Close.
func TestOrderReplicasJoin(t *testing.T) {
	ps, d := openReplicas(t, RoleOrder, 2)
	ctx := context.Background()
	members := func() []string {
		ms, err := d.Leases.Members(ctx, EngineGroup, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return ms
	}
	if got, want := members(), slices.Sorted(slices.Values([]string{ps[0].Member, ps[1].Member})); !slices.Equal(got, want) {
		t.Fatalf("members %v, want %v", got, want)
	}
	if err := ps[0].Close(); err != nil {
		t.Fatal(err)
	}
	if got := members(); !slices.Equal(got, []string{ps[1].Member}) {
		t.Fatalf("members after one closed: %v", got)
	}
	// All-in-one needs neither a lease nor a group.
	all, d2 := openReplicas(t, RoleAll, 1)
	waitFor(t, "the all-in-one feed's price points", func() bool {
		for _, id := range []string{"BTC", "ETH"} {
			pts, _, err := d2.Assets.PriceHistory(ctx, id, time.Time{}, time.Now().Add(time.Hour), 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(pts) < 2 { // the seeded price and one of the feed
				return false
			}
		}
		return true
	})
	if err := all[0].Close(); err != nil {
		t.Fatal(err)
	}
	if ms, err := d2.Leases.Members(ctx, EngineGroup, time.Time{}); err != nil || len(ms) != 0 {
		t.Fatalf("all-in-one's group members %v, %v", ms, err)
	}
	if _, err := d2.Leases.Get(ctx, PriceFeedLease); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("all-in-one's feed lease: %v, want none", err)
	}
	seq, _ := writers(t, d2)
	if len(seq) != 0 {
		t.Fatalf("all-in-one's points carry writers: %v", seq)
	}
}
