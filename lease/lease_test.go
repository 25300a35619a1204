package lease_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/lease"
	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/testenv"
	"github.com/orderprocessor/orderprocessor/testenv/fakeclock"
)

// These tests run on the engine under test (testenv: embedded, or DynamoDB
// Local with STORE_ENGINE=dynamodb).

var t0 = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

const (
	ttl   = 6 * time.Second
	renew = 2 * time.Second
)

func leases(t *testing.T) *dao.LeaseDAO {
	t.Helper()
	db, tables := testenv.Store(t)
	return dao.New(db, tables).Leases
}

// acquire calls l.Acquire and fails the test unless it answers held and
// other as given.
func acquire(t *testing.T, l *lease.Lease, wantHeld bool, wantOther string) {
	t.Helper()
	held, other, err := l.Acquire(context.Background())
	if err != nil {
		t.Fatalf("%s: acquire: %v", l.Holder(), err)
	}
	if held != wantHeld || other != wantOther {
		t.Fatalf("%s: acquire = held %v, other %q; want %v, %q", l.Holder(), held, other, wantHeld, wantOther)
	}
}

// TestLeaseTerms: the terms of a lease on the fake clock: the holder
// renews; another process is refused until the stored expiry has passed,
// then takes it over; the holder counts the lease as its own only until
// TTL - Renew after its last renewal began, never up to the stored expiry;
// a release frees the lease at once.
func TestLeaseTerms(t *testing.T) {
	d := leases(t)
	clock := fakeclock.New(t0)
	opts := lease.Options{TTL: ttl, Renew: renew, Now: clock.Now}
	a, b := lease.New(d, "feed", "a", opts), lease.New(d, "feed", "b", opts)
	ctx := context.Background()

	if a.Held() {
		t.Fatal("held before any acquisition")
	}
	acquire(t, a, true, "")
	if got, want := a.Deadline(), t0.Add(ttl-renew); !got.Equal(want) {
		t.Fatalf("deadline %v, want %v", got, want)
	}
	stored, err := d.Get(ctx, "feed")
	if err != nil || stored.Holder != "a" || !stored.Until.Equal(t0.Add(ttl)) {
		t.Fatalf("stored %+v, %v; want a until %v", stored, err, t0.Add(ttl))
	}
	acquire(t, b, false, "a")

	clock.Advance(renew) // a renews: its term starts again
	acquire(t, a, true, "")
	if got, want := a.Deadline(), t0.Add(renew+ttl-renew); !got.Equal(want) {
		t.Fatalf("renewed deadline %v, want %v", got, want)
	}

	// a dies here. Until its stored expiry (t0+renew+ttl) b is refused,
	// also at the very instant; a stopped counting it as held a Renew
	// earlier.
	clock.Set(t0.Add(ttl)) // a's deadline
	if a.Held() {
		t.Fatal("a holds the lease at its deadline")
	}
	acquire(t, b, false, "a")
	clock.Set(t0.Add(renew + ttl))
	acquire(t, b, false, "a")
	clock.Advance(time.Millisecond)
	acquire(t, b, true, "")
	if !b.Held() {
		t.Fatal("b does not hold the lease it took")
	}
	// a comes back: refused, and not held.
	acquire(t, a, false, "b")
	if a.Held() || !a.Deadline().IsZero() {
		t.Fatalf("a held %v, deadline %v after a refusal", a.Held(), a.Deadline())
	}

	// A release frees it at once; a release by a non-holder changes nothing.
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	acquire(t, a, false, "b")
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if b.Held() {
		t.Fatal("b holds the lease it released")
	}
	if _, err := d.Get(ctx, "feed"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("released lease read: %v, want not found", err)
	}
	acquire(t, a, true, "")
	// Leases of other names are independent.
	acquire(t, lease.New(d, "other", "b", opts), true, "")
}

// TestLeaseRace: holders racing for a free lease, and again for an expired
// one: exactly one wins each time, and every loser names the winner.
func TestLeaseRace(t *testing.T) {
	d := leases(t)
	clock := fakeclock.New(t0)
	opts := lease.Options{TTL: ttl, Renew: renew, Now: clock.Now}
	const n = 12
	claims := make([]*lease.Lease, n)
	for i := range claims {
		claims[i] = lease.New(d, "feed", fmt.Sprintf("holder-%02d", i), opts)
	}
	race := func(round string, racers []*lease.Lease) *lease.Lease {
		t.Helper()
		held := make([]bool, len(racers))
		others := make([]string, len(racers))
		errs := make([]error, len(racers))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, l := range racers {
			wg.Go(func() {
				<-start
				held[i], others[i], errs[i] = l.Acquire(context.Background())
			})
		}
		close(start)
		wg.Wait()
		var winner *lease.Lease
		for i, l := range racers {
			if errs[i] != nil {
				t.Fatalf("%s: %s: %v", round, l.Holder(), errs[i])
			}
			if held[i] {
				if winner != nil {
					t.Fatalf("%s: %s and %s both hold the lease", round, winner.Holder(), l.Holder())
				}
				winner = l
			}
		}
		if winner == nil {
			t.Fatalf("%s: no one holds the lease", round)
		}
		for i, l := range racers {
			if !held[i] && others[i] != winner.Holder() {
				t.Fatalf("%s: %s was refused by %q, want %q", round, l.Holder(), others[i], winner.Holder())
			}
		}
		return winner
	}
	first := race("free lease", claims)
	clock.Advance(ttl + time.Millisecond)
	var rest []*lease.Lease
	for _, l := range claims {
		if l != first {
			rest = append(rest, l)
		}
	}
	second := race("expired lease", rest)
	acquire(t, first, false, second.Holder())
}

// gate wraps a store so that a test can make its Updates (the lease's
// acquisitions) fail or hang.
type gate struct {
	store.Store
	mu   sync.Mutex
	fail error
	hold chan struct{} // Updates wait until it is closed
}

func (g *gate) set(fail error, hold chan struct{}) {
	g.mu.Lock()
	g.fail, g.hold = fail, hold
	g.mu.Unlock()
}

func (g *gate) Update(ctx context.Context, u store.Update) (store.Item, error) {
	g.mu.Lock()
	fail, hold := g.fail, g.hold
	g.mu.Unlock()
	if hold != nil {
		<-hold
	}
	if fail != nil {
		return nil, fail
	}
	return g.Store.Update(ctx, u)
}

// job records the runs of a lease's job: how many run at once across
// every process of the test, and each process's runs.
type job struct {
	running atomic.Int32
	overlap atomic.Bool
	mu      sync.Mutex
	started map[string]int
	ended   map[string]chan struct{}
}

func newJob() *job { return &job{started: map[string]int{}, ended: map[string]chan struct{}{}} }

func (j *job) run(holder string) func(context.Context) {
	return func(ctx context.Context) {
		if j.running.Add(1) > 1 {
			j.overlap.Store(true)
		}
		j.mu.Lock()
		j.started[holder]++
		ended := make(chan struct{})
		j.ended[holder] = ended
		j.mu.Unlock()
		<-ctx.Done()
		j.running.Add(-1)
		close(ended)
	}
}

// waitStarted waits until holder's job has started n times and returns the
// channel closed when that run ends.
func (j *job) waitStarted(t *testing.T, holder string, n int) chan struct{} {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		j.mu.Lock()
		s, ended := j.started[holder], j.ended[holder]
		j.mu.Unlock()
		if s >= n {
			return ended
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s's job did not start %d times", holder, n)
	return nil
}

func waitClosed(t *testing.T, what string, c chan struct{}) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not happen", what)
	}
}

// TestRunHandsOver: two processes run the same job under one lease on the
// real clock (short terms). One runs it; when it stops cleanly it releases
// the lease and the other runs it; a dead holder's lease (acquired, never
// renewed, never released) is taken over after its expiry. Never do two
// jobs run at once.
func TestRunHandsOver(t *testing.T) {
	d := leases(t)
	opts := lease.Options{TTL: 600 * time.Millisecond, Renew: 100 * time.Millisecond}
	j := newJob()
	ctxA, stopA := context.WithCancel(context.Background())
	ctxB, stopB := context.WithCancel(context.Background())
	defer stopB()
	var wg sync.WaitGroup
	a, b := lease.New(d, "feed", "a", opts), lease.New(d, "feed", "b", opts)
	acquire(t, a, true, "") // a first, deterministically
	wg.Go(func() { a.Run(ctxA, j.run("a")) })
	endedA := j.waitStarted(t, "a", 1)
	wg.Go(func() { b.Run(ctxB, j.run("b")) })
	stopA()
	waitClosed(t, "a's job ending", endedA)
	endedB := j.waitStarted(t, "b", 1)

	// b dies: its job ends, its lease stays in the store until it expires.
	stopB()
	wg.Wait()
	waitClosed(t, "b's job ending", endedB)
	now := time.Now()
	if _, ok, err := d.Acquire(context.Background(), "feed", "dead", now, now.Add(opts.TTL)); err != nil || !ok {
		t.Fatalf("the dead holder's acquisition: %v %v", ok, err)
	}
	c := lease.New(d, "feed", "c", opts)
	ctxC, stopC := context.WithCancel(context.Background())
	wg.Go(func() { c.Run(ctxC, j.run("c")) })
	j.waitStarted(t, "c", 1)
	if got := time.Since(now); got < opts.TTL-time.Millisecond { // until_ms is whole milliseconds
		t.Fatalf("c took the dead holder's lease after %v, before its expiry %v", got, opts.TTL)
	}
	stopC()
	wg.Wait()
	if j.overlap.Load() {
		t.Fatal("two jobs ran at once")
	}
	if _, err := d.Get(context.Background(), "feed"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("lease after c's clean stop: %v, want released", err)
	}
}

// TestRunStopsJob: the holder's job is canceled when a renewal is refused,
// when one fails, and when none has succeeded by the deadline (the renewal
// hangs); each time it starts again after a later successful acquisition.
func TestRunStopsJob(t *testing.T) {
	db, tables := testenv.Store(t)
	g := &gate{Store: db}
	d := dao.New(g, tables).Leases
	opts := lease.Options{TTL: 600 * time.Millisecond, Renew: 100 * time.Millisecond}
	j := newJob()
	l := lease.New(d, "feed", "a", opts)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx, j.run("a")) }()
	ended := j.waitStarted(t, "a", 1)

	// Refused: another process holds it (its clock was far ahead, say).
	now := time.Now()
	if err := db.Put(context.Background(), store.Put{Key: store.Key{Table: tables.Inventory, PK: "LEASE#feed", SK: "LEASE"},
		Item: store.Item{"holder": store.S("b"), "until_ms": store.Int(now.Add(300 * time.Millisecond).UnixMilli())}}); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, "the job ending at a refusal", ended)
	ended = j.waitStarted(t, "a", 2) // after b's term

	// Failed: the store answers an error.
	g.set(store.ErrUnavailable, nil)
	waitClosed(t, "the job ending at a failed renewal", ended)
	g.set(nil, nil)
	ended = j.waitStarted(t, "a", 3)

	// Late: the renewal hangs past the deadline.
	hold := make(chan struct{})
	g.set(nil, hold)
	waitClosed(t, "the job ending at its deadline", ended)
	if l.Held() {
		t.Fatal("held past the deadline")
	}
	g.set(nil, nil)
	close(hold)
	j.waitStarted(t, "a", 4)

	stop()
	waitClosed(t, "Run returning", done)
	if j.overlap.Load() {
		t.Fatal("two runs of the job at once")
	}
}

// TestGroup: members join by heartbeat and share keys by rendezvous
// hashing: every key falls to exactly one live member, the members' views
// agree, a member whose heartbeat has ended owns nothing, a dead member's
// keys fall to the others after its term, and a member that leaves is gone
// at once.
func TestGroup(t *testing.T) {
	d := leases(t)
	clock := fakeclock.New(t0)
	opts := lease.Options{TTL: ttl, Renew: renew, Now: clock.Now}
	ctx := context.Background()
	names := []string{"m1", "m2", "m3"}
	var gs []*lease.Group
	for _, n := range names {
		g := lease.NewGroup(d, "engine", n, opts)
		if g.Owns("BTC") || g.Members() != nil {
			t.Fatalf("%s owns keys before its first heartbeat", n)
		}
		gs = append(gs, g)
	}
	beat := func(gs ...*lease.Group) {
		t.Helper()
		for _, g := range gs {
			if err := g.Heartbeat(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	beat(gs...)
	beat(gs...) // the first members see the later ones
	keys := make([]string, 200)
	for i := range keys {
		keys[i] = fmt.Sprintf("ASSET%03d", i)
	}
	// owners checks that each key falls to exactly one of live, the owner
	// lease.Owner names.
	owners := func(live []*lease.Group) map[string]string {
		t.Helper()
		var liveNames []string
		for _, g := range live {
			liveNames = append(liveNames, g.Member())
		}
		for _, g := range live {
			if got := g.Members(); !slices.Equal(got, liveNames) {
				t.Fatalf("%s sees %v, want %v", g.Member(), got, liveNames)
			}
		}
		out := map[string]string{}
		count := map[string]int{}
		for _, k := range keys {
			var own []string
			for _, g := range live {
				if g.Owns(k) {
					own = append(own, g.Member())
				}
			}
			if len(own) != 1 || own[0] != lease.Owner(liveNames, k) {
				t.Fatalf("key %s owned by %v, want exactly %s", k, own, lease.Owner(liveNames, k))
			}
			out[k] = own[0]
			count[own[0]]++
		}
		for _, n := range liveNames {
			if count[n] < len(keys)/(2*len(live)) {
				t.Fatalf("uneven shares: %v", count)
			}
		}
		return out
	}
	for _, g := range gs {
		if got := g.Members(); !slices.Equal(got, names) {
			t.Fatalf("%s sees %v, want %v", g.Member(), got, names)
		}
	}
	all := owners(gs)

	// m3 dies. Until its term ends the others still count it; after it,
	// their next heartbeat drops it, and only m3's keys move.
	clock.Advance(renew)
	beat(gs[0], gs[1])
	if got := gs[0].Members(); !slices.Equal(got, names) {
		t.Fatalf("m3 gone before its term ended: %v", got)
	}
	clock.Set(t0.Add(ttl + time.Millisecond))
	if gs[2].Owns(keys[0]) || gs[2].Members() != nil {
		t.Fatal("m3 owns keys after its view ended")
	}
	beat(gs[0], gs[1])
	two := owners(gs[:2])
	for k, o := range all {
		if o != "m3" && two[k] != o {
			t.Fatalf("key %s moved from live %s to %s", k, o, two[k])
		}
	}
	// m2 leaves cleanly: gone at m1's next heartbeat.
	if err := d.Leave(ctx, "engine", "m2"); err != nil {
		t.Fatal(err)
	}
	beat(gs[0])
	if got := gs[0].Members(); !slices.Equal(got, []string{"m1"}) {
		t.Fatalf("m1 sees %v after m2 left", got)
	}
	owners(gs[:1])
}
