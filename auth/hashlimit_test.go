package auth

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
)

func TestMemLimiterBoundsRoomAndQueuesInOrder(t *testing.T) {
	l := newMemLimiter(4, time.Hour, 100)
	for i := 0; i < 3; i++ {
		if err := l.acquire(ctx, 1); err != nil {
			t.Fatalf("acquire %d: %v", i, err)
		}
	}
	// A needs 2 (no room); B needs 1, which would fit, but waits behind A.
	got := make(chan string, 2)
	for _, w := range []struct {
		name string
		need int64
		pos  int
	}{{"A", 2, 1}, {"B", 1, 2}} {
		go func() {
			if err := l.acquire(ctx, w.need); err != nil {
				t.Errorf("waiter %s: %v", w.name, err)
			}
			got <- w.name
		}()
		waitFor(t, func() bool { l.mu.Lock(); defer l.mu.Unlock(); return len(l.queue) == w.pos })
	}
	select {
	case name := <-got:
		t.Fatalf("waiter %s got room ahead of its turn", name)
	case <-time.After(20 * time.Millisecond):
	}
	// Released room is garbage: a collection runs once garbage reaches half
	// the budget (after the second release), and then both waiters fit.
	l.release(1)
	l.release(1)
	if first, second := <-got, <-got; first+second != "AB" && first+second != "BA" {
		t.Fatalf("granted %s, %s", first, second)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inUse != 4 || len(l.queue) != 0 {
		t.Fatalf("inUse %d, queue %d; want 4, 0", l.inUse, len(l.queue))
	}
}

func TestMemLimiterCollectsGarbage(t *testing.T) {
	l := newMemLimiter(2, time.Hour, 100)
	for i := 0; i < 4; i++ { // every second acquire finds the budget full of garbage
		if err := l.acquire(ctx, 1); err != nil {
			t.Fatal(err)
		}
		l.release(1)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.NumGC
	if err := l.acquire(ctx, 1); err != nil { // garbage 2 of 2: waits for a collection
		t.Fatal(err)
	}
	runtime.ReadMemStats(&ms)
	if ms.NumGC == before {
		t.Fatalf("no collection ran for the waiter")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inUse != 1 || l.garbage != 0 || l.collecting {
		t.Fatalf("inUse %d, garbage %d, collecting %v; want 1, 0, false", l.inUse, l.garbage, l.collecting)
	}
}

func TestMemLimiterBoundsRunning(t *testing.T) {
	l := newMemLimiter(1<<20, 30*time.Millisecond, 2)
	for i := 0; i < 2; i++ {
		if err := l.acquire(ctx, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.acquire(ctx, 1); !errors.Is(err, ErrBusy) {
		t.Fatalf("third computation with room for two = %v, want ErrBusy", err)
	}
	l.release(1)
	if err := l.acquire(ctx, 1); err != nil {
		t.Fatalf("after a release: %v", err)
	}
	if n := newMemLimiter(1, 0, 0).maxRunning(); n != max(runtime.GOMAXPROCS(0)-1, 1) {
		t.Fatalf("default bound %d, want GOMAXPROCS-1 (at least 1)", n)
	}
}

func TestMemLimiterWaitEnds(t *testing.T) {
	l := newMemLimiter(1, 30*time.Millisecond, 100)
	if err := l.acquire(ctx, 1); err != nil {
		t.Fatal(err)
	}
	err := l.acquire(ctx, 1)
	if !errors.Is(err, ErrBusy) || apperr.KindOf(err) != apperr.Unavailable {
		t.Fatalf("acquire on a full budget = %v, want ErrBusy (unavailable)", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := l.acquire(cctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("acquire with a cancelled context = %v, want context.Canceled", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inUse != 1 || len(l.queue) != 0 {
		t.Fatalf("inUse %d, queue %d after the failed waits; want 1, 0", l.inUse, len(l.queue))
	}
}

func TestLimitedHasher(t *testing.T) {
	p := Params{MemoryKiB: 1024, Iterations: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	h, err := NewLimitedHasher(p, HashLimit{Memory: 3 << 20, Wait: time.Minute, Concurrency: 8})
	if err != nil {
		t.Fatal(err)
	}
	if n := h.MaxConcurrent(); n != 3 {
		t.Fatalf("MaxConcurrent = %d, want 3", n)
	}
	if d := h.RetryAfter(); d != time.Minute {
		t.Fatalf("RetryAfter = %v, want 1m", d)
	}
	// A stored hash that needs more than the whole budget runs alone.
	big, err := NewHasher(Params{MemoryKiB: 8 << 10, Iterations: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	if err != nil {
		t.Fatal(err)
	}
	bigHash, err := big.HashPassword(ctx, "pw")
	if err != nil {
		t.Fatal(err)
	}
	before := h.Computations()
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Go(func() {
			var err error
			switch i % 4 {
			case 0:
				_, err = h.HashPassword(ctx, "pw")
			case 1:
				err = h.DummyVerify(ctx, "pw")
			case 2:
				var ok bool
				if ok, err = h.VerifyPassword(ctx, bigHash, "pw"); err == nil && !ok {
					t.Errorf("big hash did not verify")
				}
			default:
				_, err = h.VerifyPassword(ctx, h.dummy, "other")
			}
			if err != nil {
				t.Errorf("computation %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if n := h.Computations() - before; n != 40 {
		t.Fatalf("%d computations, want 40", n)
	}
	h.lim.mu.Lock()
	defer h.lim.mu.Unlock()
	if h.lim.inUse != 0 || len(h.lim.queue) != 0 || h.lim.garbage > h.lim.budget {
		t.Fatalf("after the run: inUse %d, queue %d, garbage %d of %d", h.lim.inUse, len(h.lim.queue), h.lim.garbage, h.lim.budget)
	}
	if _, err := NewLimitedHasher(p, HashLimit{Memory: -1}); apperr.KindOf(err) != apperr.Invalid {
		t.Fatalf("negative budget: %v, want invalid", err)
	}
	if unlimited := newCheapHasher(t); unlimited.MaxConcurrent() != 0 || unlimited.RetryAfter() != 0 {
		t.Fatalf("unlimited hasher: MaxConcurrent %d, RetryAfter %v", unlimited.MaxConcurrent(), unlimited.RetryAfter())
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}
