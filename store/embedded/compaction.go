package embedded

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Compactions after bursts. Pebble asks the store's CompactionScheduler
// before every compaction. The ones that keep the LSM in shape (L0's depth,
// the levels' sizes, manual ones) start at once, up to Pebble's allowed
// concurrency, as with Pebble's own scheduler. The optional ones (Pebble's
// tombstone-density, elision-only, read-triggered and rewrite compactions)
// wait while commits flow, and start once the store has had no commit
// (made or waiting in Pebble, as during a write stall) for idleAfter, or
// after optionalMaxWait of waiting: a burst that deletes many
// entries (a cascade of trigger executions deletes an index entry per
// order) would otherwise compact its own tombstones while it runs, which
// merges most of L0 into the base level on the same cores. The work is
// the same; it moves after the burst.

const (
	// idleAfter is how long the store goes without a commit before it
	// counts as idle.
	idleAfter = 250 * time.Millisecond
	// optionalMaxWait bounds how long an optional compaction waits for an
	// idle store.
	optionalMaxWait = 30 * time.Second
	// grantEvery is how often the scheduler looks at the waiting compaction.
	grantEvery = 50 * time.Millisecond
)

// burstScheduler is the store's pebble.CompactionScheduler (see above). It
// serves one DB: Register is called once.
type burstScheduler struct {
	db         pebble.DBForCompaction
	commits    *atomic.Uint64 // the store's commit count: it moves while commits flow
	committing *atomic.Int32  // the commits waiting for Pebble
	stop       chan struct{}
	done       chan struct{}

	// busy is whether a commit happened in the last idleAfter, as the
	// granter last saw it; TrySchedule reads it under Pebble's mutex.
	busy atomic.Bool

	mu           sync.Mutex
	running      int  // compactions granted and not done
	unregistered bool // no grant after Unregister
	granting     bool // a goroutine is in grant (Done's or the granter's)
	grantDone    *sync.Cond
	heldSince    time.Time // when an optional compaction was first held back (zero: none is)
}

var _ pebble.CompactionScheduler = (*burstScheduler)(nil)

func newBurstScheduler(commits *atomic.Uint64, committing *atomic.Int32) *burstScheduler {
	s := &burstScheduler{commits: commits, committing: committing, stop: make(chan struct{}), done: make(chan struct{})}
	s.grantDone = sync.NewCond(&s.mu)
	return s
}

// Register starts the granter.
func (s *burstScheduler) Register(_ int, db pebble.DBForCompaction) {
	s.db = db
	go s.granter()
}

// Unregister stops the granter and waits for a grant in progress.
func (s *burstScheduler) Unregister() {
	if s.db != nil { // registered: the granter runs
		close(s.stop)
		<-s.done
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unregistered = true
	for s.granting {
		s.grantDone.Wait()
	}
}

// TrySchedule grants a compaction Pebble asks for while the store is idle
// and the concurrency allows it. While commits flow it refuses: Pebble then
// keeps the compaction waiting, and the granter starts it within grantEvery
// when it is required, or once it may run when it is optional. (Pebble
// calls this under its own mutex: it reads only Pebble's atomic allowance.)
func (s *burstScheduler) TrySchedule() (bool, pebble.CompactionGrantHandle) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unregistered || s.busy.Load() || s.running >= s.db.GetAllowedWithoutPermission() {
		return false, nil
	}
	s.running++
	return true, s
}

// UpdateGetAllowedWithoutPermission: the granter samples the allowance
// every grantEvery.
func (s *burstScheduler) UpdateGetAllowedWithoutPermission() {}

// Started, MeasureCPU and CumulativeStats: the scheduler does not pace a
// compaction once it started.
func (s *burstScheduler) Started()                                          {}
func (s *burstScheduler) MeasureCPU(pebble.CompactionGoroutineKind)         {}
func (s *burstScheduler) CumulativeStats(pebble.CompactionGrantHandleStats) {}

// Done ends a granted compaction and grants what may run next.
func (s *burstScheduler) Done() {
	s.mu.Lock()
	s.running--
	s.mu.Unlock()
	s.grant(time.Now())
}

// granter watches the commit count and grants waiting compactions.
func (s *burstScheduler) granter() {
	defer close(s.done)
	t := time.NewTicker(grantEvery)
	defer t.Stop()
	last, lastMoved := s.commits.Load(), time.Now()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			if n := s.commits.Load(); n != last || s.committing.Load() > 0 {
				last, lastMoved = n, now
			}
			s.busy.Store(now.Sub(lastMoved) < idleAfter)
			s.grant(now)
		}
	}
}

// grant starts waiting compactions while the concurrency allows: every
// required one, and an optional one when the store is idle or it has waited
// optionalMaxWait. Pebble's DB methods take Pebble's mutex, so they are
// called without s.mu; granting is serialised by s.granting.
func (s *burstScheduler) grant(now time.Time) {
	s.mu.Lock()
	for s.granting {
		s.grantDone.Wait()
	}
	if s.unregistered {
		s.mu.Unlock()
		return
	}
	s.granting = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.granting = false
		s.grantDone.Broadcast()
		s.mu.Unlock()
	}()
	for {
		s.mu.Lock()
		room := s.running < s.db.GetAllowedWithoutPermission()
		s.mu.Unlock()
		if !room {
			return
		}
		waiting, wc := s.db.GetWaitingCompaction()
		if !waiting {
			s.hold(time.Time{})
			return
		}
		if wc.Optional && s.busy.Load() {
			if since := s.hold(now); now.Sub(since) < optionalMaxWait {
				return
			}
		}
		if !s.db.Schedule(s) {
			return
		}
		s.hold(time.Time{})
		s.mu.Lock()
		s.running++
		s.mu.Unlock()
	}
}

// hold records that an optional compaction is held back since now (zero:
// none is) and returns since when one is.
func (s *burstScheduler) hold(now time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case now.IsZero():
		s.heldSince = time.Time{}
	case s.heldSince.IsZero():
		s.heldSince = now
	}
	return s.heldSince
}
