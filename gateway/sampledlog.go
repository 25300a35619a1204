package gateway

import (
	"sync"
	"time"
)

// FailureLogInterval is the shortest time between two logged failures of
// a dependency that fails on every request (the rate limit counter).
const FailureLogInterval = 10 * time.Second

// sampledLog decides which of a stream of repeated failures are logged: the
// first, then at most one per FailureLogInterval, each with the number not
// logged since the one before. The zero value is ready.
type sampledLog struct {
	mu      sync.Mutex
	last    time.Time
	skipped int64
}

// take reports whether a failure at now is logged, and how many were not
// logged since the last one that was.
func (l *sampledLog) take(now time.Time) (skipped int64, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < FailureLogInterval {
		l.skipped++
		return 0, false
	}
	skipped, l.last, l.skipped = l.skipped, now, 0
	return skipped, true
}
