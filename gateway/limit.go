package gateway

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
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
	MaxKeys       int              // bound on counters plus marks; DefaultMaxKeys when 0
	SweepInterval time.Duration    // how often a shard drops ended windows; DefaultSweepInterval when 0
	Now           func() time.Time // time.Now when nil
}

// MemoryCounter is the in-process Counter and Marker: maps split into
// shards, each with its own mutex, so concurrent requests for different keys
// rarely contend. Ended windows and marks are dropped by a sweep of their
// shard, run by a write at most once per SweepInterval (no background
// goroutine). A shard never holds more than its share of MaxKeys: when full
// it sweeps, and if still full it drops an arbitrary entry (under a flood of
// distinct keys a limit can then restart early; it never blocks a key).
type MemoryCounter struct {
	seed     maphash.Seed
	perShard int
	sweep    time.Duration
	now      func() time.Time
	shards   [counterShards]counterShard
}

const counterShards = 64

type window struct {
	count   int64
	resetAt time.Time
}

type counterShard struct {
	mu        sync.Mutex
	counts    map[string]window
	marks     map[string]time.Time
	nextSweep time.Time
	_         [32]byte
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
	c := &MemoryCounter{
		seed:     maphash.MakeSeed(),
		perShard: max(1, opt.MaxKeys/counterShards),
		sweep:    opt.SweepInterval,
		now:      opt.Now,
	}
	for i := range c.shards {
		c.shards[i].counts = make(map[string]window)
		c.shards[i].marks = make(map[string]time.Time)
	}
	return c
}

func (c *MemoryCounter) shard(key string) *counterShard {
	return &c.shards[maphash.String(c.seed, key)%counterShards]
}

// Incr implements Counter; it never fails.
func (c *MemoryCounter) Incr(_ context.Context, key string, win time.Duration) (int64, time.Time, error) {
	now := c.now()
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.counts[key]
	if !ok || !now.Before(w.resetAt) {
		if !ok {
			c.makeRoomLocked(s, now)
		}
		w = window{resetAt: now.Add(win)}
	}
	w.count++
	s.counts[key] = w
	return w.count, w.resetAt, nil
}

// Decr implements Counter; it never fails.
func (c *MemoryCounter) Decr(_ context.Context, key string) error {
	now := c.now()
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if w, ok := s.counts[key]; ok && now.Before(w.resetAt) && w.count > 0 {
		w.count--
		s.counts[key] = w
	}
	return nil
}

// Reset implements Counter; it never fails.
func (c *MemoryCounter) Reset(_ context.Context, key string) error {
	s := c.shard(key)
	s.mu.Lock()
	delete(s.counts, key)
	s.mu.Unlock()
	return nil
}

// Mark implements Marker; it never fails.
func (c *MemoryCounter) Mark(_ context.Context, key string, ttl time.Duration) error {
	now := c.now()
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.marks[key]; !ok {
		c.makeRoomLocked(s, now)
	}
	s.marks[key] = now.Add(ttl)
	return nil
}

// Marked implements Marker; it never fails.
func (c *MemoryCounter) Marked(_ context.Context, key string) (time.Time, bool, error) {
	now := c.now()
	s := c.shard(key)
	s.mu.Lock()
	until, ok := s.marks[key]
	s.mu.Unlock()
	if !ok || !now.Before(until) {
		return time.Time{}, false, nil
	}
	return until, true, nil
}

// Len returns the number of counters and marks held, ended ones not yet
// swept included.
func (c *MemoryCounter) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.counts) + len(s.marks)
		s.mu.Unlock()
	}
	return n
}

// makeRoomLocked runs the periodic sweep when due and makes room for one
// new entry in s.
func (c *MemoryCounter) makeRoomLocked(s *counterShard, now time.Time) {
	if !now.Before(s.nextSweep) {
		s.sweepLocked(now)
		s.nextSweep = now.Add(c.sweep)
	}
	if len(s.counts)+len(s.marks) < c.perShard {
		return
	}
	s.sweepLocked(now)
	for len(s.counts)+len(s.marks) >= c.perShard {
		for k := range s.counts {
			delete(s.counts, k)
			break
		}
		if len(s.counts)+len(s.marks) < c.perShard {
			break
		}
		for k := range s.marks {
			delete(s.marks, k)
			break
		}
	}
}

func (s *counterShard) sweepLocked(now time.Time) {
	for k, w := range s.counts {
		if !now.Before(w.resetAt) {
			delete(s.counts, k)
		}
	}
	for k, until := range s.marks {
		if !now.Before(until) {
			delete(s.marks, k)
		}
	}
}
