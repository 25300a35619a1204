package auth

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"
)

// memLimiter is a weighted FIFO semaphore over a memory budget in KiB, with
// a bound on the computations running at once. Room is taken by running
// computations (inUse) and by the memory of finished ones that the garbage
// collector may not have reclaimed yet (garbage):
// argon2id allocates its memory afresh for every computation, and with a
// high GOGC the heap would otherwise grow several times past the budget
// before a collection. When garbage keeps a waiter out, the limiter runs
// runtime.GC (one at a time) and then counts that garbage as reclaimed.
type memLimiter struct {
	budget int64 // KiB
	wait   time.Duration
	procs  int // most computations at once; 0: GOMAXPROCS-1, at least 1

	mu         sync.Mutex
	running    int
	inUse      int64 // KiB held by running computations
	garbage    int64 // KiB released and not yet known to be reclaimed
	collecting bool
	queue      []*hashWaiter // FIFO
}

type hashWaiter struct {
	need    int64
	ready   chan struct{} // closed when granted
	granted bool
}

func newMemLimiter(budgetKiB int64, wait time.Duration, procs int) *memLimiter {
	return &memLimiter{budget: budgetKiB, wait: wait, procs: procs}
}

// maxRunning is the bound on computations at once.
func (l *memLimiter) maxRunning() int {
	if l.procs > 0 {
		return l.procs
	}
	return max(runtime.GOMAXPROCS(0)-1, 1)
}

// acquire takes need KiB (at most the budget) for one computation, waiting
// in line up to l.wait. It fails with ErrBusy after the wait, or with ctx's
// error when ctx ends first.
func (l *memLimiter) acquire(ctx context.Context, need int64) error {
	need = min(need, l.budget)
	l.mu.Lock()
	if len(l.queue) == 0 && l.fitsLocked(need) {
		l.inUse += need
		l.running++
		l.mu.Unlock()
		return nil
	}
	w := &hashWaiter{need: need, ready: make(chan struct{})}
	l.queue = append(l.queue, w)
	l.collectLocked()
	l.mu.Unlock()

	timer := time.NewTimer(l.wait)
	defer timer.Stop()
	var err error
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		err = fmt.Errorf("wait for password hashing: %w", ctx.Err())
	case <-timer.C:
		err = fmt.Errorf("waited %v: %w", l.wait, ErrBusy)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if w.granted { // granted while giving up: give the room back
		l.inUse -= w.need
		l.running--
	} else if i := slices.Index(l.queue, w); i >= 0 {
		l.queue = slices.Delete(l.queue, i, i+1)
	}
	l.grantLocked()
	l.collectLocked()
	return err
}

// release returns the room of a finished computation that needed need KiB;
// its memory counts as garbage until a collection.
func (l *memLimiter) release(need int64) {
	need = min(need, l.budget)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inUse -= need
	l.running--
	l.garbage += need
	l.grantLocked()
	l.collectLocked()
}

func (l *memLimiter) fitsLocked(need int64) bool {
	return l.inUse+l.garbage+need <= l.budget && l.running < l.maxRunning()
}

// grantLocked lets in the waiters at the head of the line that fit.
func (l *memLimiter) grantLocked() {
	for len(l.queue) > 0 && l.fitsLocked(l.queue[0].need) {
		w := l.queue[0]
		l.queue = l.queue[1:]
		l.inUse += w.need
		l.running++
		w.granted = true
		close(w.ready)
	}
}

// collectLocked starts a collection when garbage keeps a waiter out and is
// half the budget or more, or nothing runs (then only garbage keeps the
// head of the line out). Collections are batched that way: each one costs a
// mark of the whole heap.
func (l *memLimiter) collectLocked() {
	if l.collecting || len(l.queue) == 0 || l.garbage == 0 || (2*l.garbage < l.budget && l.inUse > 0) ||
		l.inUse+l.garbage+l.queue[0].need <= l.budget {
		return
	}
	l.collecting = true
	g := l.garbage
	go func() {
		runtime.GC() // the garbage counted so far is unreachable: this reclaims it
		l.mu.Lock()
		defer l.mu.Unlock()
		l.garbage -= g
		l.collecting = false
		l.grantLocked()
		l.collectLocked()
	}()
}
