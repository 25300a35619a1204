package gateway

import (
	"context"
	"time"

	"github.com/orderprocessor/orderprocessor/ttlmap"
)

// Counter counts events per key in fixed windows. The gateway uses it for
// rate limits and login failures; the in-process MemoryCounter serves one
// replica, a shared implementation (Redis: INCR + PEXPIRE NX) several.
type Counter interface {
	// Incr adds one to key's count in its current window and returns the new
	// count and the end of the window. A window starts with the first Incr
	// of a key whose previous window has ended (or that has none) and lasts
	// window.
	Incr(ctx context.Context, key string, window time.Duration) (count int64, resetAt time.Time, err error)
	// Decr takes one back from key's count in its current window (an
	// attempt counted ahead that is not to count). It does nothing when
	// key's window has ended or its count is 0.
	Decr(ctx context.Context, key string) error
	// Reset ends key's current window: the next Incr starts a new one.
	Reset(ctx context.Context, key string) error
}

// Marker holds expiring marks, the gateway's login blocks.
type Marker interface {
	// Mark sets key until now+ttl (replacing an earlier mark).
	Mark(ctx context.Context, key string, ttl time.Duration) error
	// Marked reports whether key is marked now, and until when.
	Marked(ctx context.Context, key string) (until time.Time, ok bool, err error)
}

// Defaults of MemoryCounter.
const (
	DefaultMaxKeys       = 1 << 20
	DefaultSweepInterval = time.Minute
)

// MemoryCounterOptions configure a MemoryCounter. Zero fields take defaults.
type MemoryCounterOptions struct {
	MaxKeys       int              // bound on keys with a count or a mark; DefaultMaxKeys when 0
	SweepInterval time.Duration    // how often a shard drops ended windows and marks; DefaultSweepInterval when 0
	Now           func() time.Time // time.Now when nil
}

// MemoryCounter is the in-process Counter and Marker: a ttlmap.Map from key
// to its count and mark, split into shards with a lock each, so concurrent
// requests for different keys rarely contend. Ended windows and marks are
// dropped by a sweep of their shard, run by a write at most once per
// SweepInterval (no background goroutine). A shard never holds more than its
// share of MaxKeys: when full it sweeps, and if still full it drops an
// arbitrary key (under a flood of distinct keys a limit can then restart
// early; it never blocks a key).
type MemoryCounter struct {
	now func() time.Time
	m   *ttlmap.Map[counterEntry]
}

const counterShards = 64

// counterEntry is a key's count in its window, and its mark.
type counterEntry struct {
	count   int64
	resetAt time.Time // the end of the count's window; zero: no count
	marked  time.Time // the end of the mark; zero: no mark
}

// expiry is when e ends: with its window or its mark, the later.
func (e counterEntry) expiry() time.Time {
	if e.marked.After(e.resetAt) {
		return e.marked
	}
	return e.resetAt
}

var (
	_ Counter = (*MemoryCounter)(nil)
	_ Marker  = (*MemoryCounter)(nil)
)

// NewMemoryCounter returns an empty MemoryCounter.
func NewMemoryCounter(opt MemoryCounterOptions) *MemoryCounter {
	if opt.MaxKeys <= 0 {
		opt.MaxKeys = DefaultMaxKeys
	}
	if opt.SweepInterval <= 0 {
		opt.SweepInterval = DefaultSweepInterval
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &MemoryCounter{now: opt.Now, m: ttlmap.New(counterEntry.expiry, ttlmap.Options{
		Shards: counterShards, MaxEntries: opt.MaxKeys, SweepInterval: opt.SweepInterval, WhenFull: ttlmap.DropOne})}
}

// Incr implements Counter; it never fails.
func (c *MemoryCounter) Incr(_ context.Context, key string, win time.Duration) (int64, time.Time, error) {
	now := c.now()
	var w counterEntry
	err := c.m.Update(key, now, func(e counterEntry, _ bool) (counterEntry, bool) {
		if !now.Before(e.resetAt) {
			e.count, e.resetAt = 0, now.Add(win)
		}
		e.count++
		w = e
		return e, true
	})
	return w.count, w.resetAt, err
}

// Decr implements Counter; it never fails.
func (c *MemoryCounter) Decr(_ context.Context, key string) error {
	now := c.now()
	return c.m.Update(key, now, func(e counterEntry, ok bool) (counterEntry, bool) {
		if !ok || !now.Before(e.resetAt) || e.count <= 0 {
			return e, false
		}
		e.count--
		return e, true
	})
}

// Reset implements Counter; it never fails.
func (c *MemoryCounter) Reset(_ context.Context, key string) error {
	return c.m.Update(key, c.now(), func(e counterEntry, ok bool) (counterEntry, bool) {
		e.count, e.resetAt = 0, time.Time{}
		return e, ok
	})
}

// Mark implements Marker; it never fails.
func (c *MemoryCounter) Mark(_ context.Context, key string, ttl time.Duration) error {
	now := c.now()
	return c.m.Update(key, now, func(e counterEntry, _ bool) (counterEntry, bool) {
		e.marked = now.Add(ttl)
		return e, true
	})
}

// Marked implements Marker; it never fails.
func (c *MemoryCounter) Marked(_ context.Context, key string) (time.Time, bool, error) {
	now := c.now()
	e, ok := c.m.Get(key, now)
	if !ok || !now.Before(e.marked) {
		return time.Time{}, false, nil
	}
	return e.marked, true, nil
}

// Len returns the number of keys held, ended ones not yet swept included.
func (c *MemoryCounter) Len() int { return c.m.Len() }
