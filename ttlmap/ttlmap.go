// Package ttlmap provides Map, a bounded in-memory map from string keys to
// values that expire, split into shards with a lock each so that concurrent
// use of different keys rarely contends. The gateway's rate limits and login
// blocks, the token revocation list and the account cache keep their entries
// in one.
package ttlmap

import (
	"errors"
	"hash/maphash"
	"sync"
	"time"
)

// WhenFull says what Update does when the shard of a new key is full of
// entries that have not expired.
type WhenFull int

// What a full shard does.
const (
	// Refuse stores nothing: Update returns ErrFull.
	Refuse WhenFull = iota
	// DropOne drops an arbitrary entry of the shard to make room.
	DropOne
	// DropAll empties the shard.
	DropAll
)

// ErrFull is returned by Update, with WhenFull Refuse, when the key's shard
// is full of entries that have not expired.
var ErrFull = errors.New("ttlmap: full")

// Options configure a Map.
type Options struct {
	// Shards is the number of shards, a power of two.
	Shards int
	// MaxEntries bounds the entries held: each shard holds at most
	// MaxEntries/Shards (at least one).
	MaxEntries int
	// SweepInterval is how often a write drops the expired entries of its
	// shard; 0: only when the shard is full.
	SweepInterval time.Duration
	// WhenFull is what a write of a new key to a full shard does.
	WhenFull WhenFull
}

// Map maps string keys to values of type V, each of which expires at the
// time its expiry function gives. An expired entry is ignored at once by
// Get and dropped by a sweep of its shard: run by Update at most once per
// SweepInterval (no background goroutine), by a shard full when a new key
// comes, or by Sweep. Map is safe for concurrent use.
type Map[V any] struct {
	seed     maphash.Seed
	mask     uint64
	perShard int
	sweep    time.Duration
	whenFull WhenFull
	expiry   func(V) time.Time
	shards   []shard[V]
}

type shard[V any] struct {
	mu        sync.RWMutex
	m         map[string]V
	nextSweep time.Time
	_         [8]byte // one shard per 64-byte cache line
}

// New returns an empty Map whose values expire at expiry(v). It panics when
// opt.Shards is not a power of two.
func New[V any](expiry func(V) time.Time, opt Options) *Map[V] {
	if opt.Shards <= 0 || opt.Shards&(opt.Shards-1) != 0 {
		panic("ttlmap: Shards must be a power of two")
	}
	m := &Map[V]{
		seed:     maphash.MakeSeed(),
		mask:     uint64(opt.Shards - 1),
		perShard: max(1, opt.MaxEntries/opt.Shards),
		sweep:    opt.SweepInterval,
		whenFull: opt.WhenFull,
		expiry:   expiry,
		shards:   make([]shard[V], opt.Shards),
	}
	for i := range m.shards {
		m.shards[i].m = make(map[string]V)
	}
	return m
}

func (m *Map[V]) shard(key string) *shard[V] {
	return &m.shards[maphash.String(m.seed, key)&m.mask]
}

// Get returns the value of key and true when key has one that has not
// expired at now.
func (m *Map[V]) Get(key string, now time.Time) (V, bool) {
	s := m.shard(key)
	s.mu.RLock()
	v, ok := s.m[key]
	s.mu.RUnlock()
	if !ok || !now.Before(m.expiry(v)) {
		var zero V
		return zero, false
	}
	return v, true
}

// Lookup returns the value of key, expired or not, and whether key has one.
func (m *Map[V]) Lookup(key string) (V, bool) {
	s := m.shard(key)
	s.mu.RLock()
	v, ok := s.m[key]
	s.mu.RUnlock()
	return v, ok
}

// Update calls f, under the lock of key's shard, with the value of key and
// whether key has one (expired or not), and when f returns true as well,
// stores the value f returns: as key's value when it has not expired at now,
// else by deleting key. Storing a new key in a full shard first sweeps it,
// then if it is still full does what WhenFull says; Update returns ErrFull
// when it refuses.
func (m *Map[V]) Update(key string, now time.Time, f func(v V, ok bool) (V, bool)) error {
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.m[key]
	v, keep := f(old, ok)
	if m.sweep > 0 && !now.Before(s.nextSweep) {
		m.sweepLocked(s, now)
		s.nextSweep = now.Add(m.sweep)
	}
	switch {
	case !keep:
		return nil
	case !now.Before(m.expiry(v)):
		delete(s.m, key)
		return nil
	}
	if len(s.m) >= m.perShard {
		if _, ok := s.m[key]; !ok {
			if err := m.makeRoomLocked(s, now); err != nil {
				return err
			}
		}
	}
	s.m[key] = v
	return nil
}

// makeRoomLocked makes room for one more entry in the full shard s.
func (m *Map[V]) makeRoomLocked(s *shard[V], now time.Time) error {
	m.sweepLocked(s, now)
	if len(s.m) < m.perShard {
		return nil
	}
	switch m.whenFull {
	case DropOne:
		for k := range s.m {
			delete(s.m, k)
			if len(s.m) < m.perShard {
				break
			}
		}
	case DropAll:
		clear(s.m)
	default:
		return ErrFull
	}
	return nil
}

// Delete removes key.
func (m *Map[V]) Delete(key string) {
	s := m.shard(key)
	s.mu.Lock()
	delete(s.m, key)
	s.mu.Unlock()
}

// Sweep drops every entry expired at now.
func (m *Map[V]) Sweep(now time.Time) {
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		m.sweepLocked(s, now)
		s.mu.Unlock()
	}
}

// Len returns the number of entries held, expired ones not yet swept
// included.
func (m *Map[V]) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

func (m *Map[V]) sweepLocked(s *shard[V], now time.Time) {
	for k, v := range s.m {
		if !now.Before(m.expiry(v)) {
			delete(s.m, k)
		}
	}
}
