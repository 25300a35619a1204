package auth

import (
	"context"
	"hash/maphash"
	"sync"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
)

// Revoker records revoked tokens by jti. Implementations are safe for
// concurrent use: the in-process MemoryRevoker for one replica, a shared one
// (Redis) when several gateways must agree.
type Revoker interface {
	// Revoke marks jti revoked until the time until (the token's expiry);
	// afterwards the entry may be forgotten. Revoking a revoked jti again
	// extends its entry if until is later. An until in the past is a no-op.
	Revoke(ctx context.Context, jti string, until time.Time) error
	// IsRevoked reports whether jti is revoked now. A non-nil error means the
	// answer is unknown; callers must then refuse the token (fail closed).
	IsRevoked(ctx context.Context, jti string) (bool, error)
}

// Limits and defaults of MemoryRevoker.
const (
	// DefaultMaxRevoked bounds the entries of a MemoryRevoker.
	DefaultMaxRevoked = 1 << 20
	// DefaultRevokeSweep is how often each shard drops expired entries.
	DefaultRevokeSweep = time.Minute
	// MaxJTILen bounds a jti given to Revoke.
	MaxJTILen = 256
)

// ErrRevocationFull is returned (wrapped) by MemoryRevoker.Revoke when the
// revocation list is full of unexpired entries. Its kind is Unavailable: the
// logout failed and may be retried; nothing was forgotten.
var ErrRevocationFull = apperr.New(apperr.Unavailable, "revocation list full")

// MemoryRevokerOptions configure a MemoryRevoker. Zero fields take defaults.
type MemoryRevokerOptions struct {
	MaxEntries    int              // DefaultMaxRevoked when 0
	SweepInterval time.Duration    // DefaultRevokeSweep when 0
	Now           func() time.Time // time.Now when nil
}

// MemoryRevoker is the in-process Revoker: sharded maps from jti to expiry.
// Expired entries are ignored at once and dropped by a sweep of their shard,
// run by Revoke at most once per SweepInterval (no background goroutine), by
// a full shard before it refuses an entry, or by Sweep. The total number of
// entries never exceeds MaxEntries.
type MemoryRevoker struct {
	seed     maphash.Seed
	perShard int
	sweep    time.Duration
	now      func() time.Time
	shards   [revokeShards]revokeShard
}

const revokeShards = 16

type revokeShard struct {
	mu        sync.RWMutex
	m         map[string]time.Time
	nextSweep time.Time
	_         [40]byte
}

var _ Revoker = (*MemoryRevoker)(nil)

// NewMemoryRevoker returns an empty MemoryRevoker.
func NewMemoryRevoker(opt MemoryRevokerOptions) *MemoryRevoker {
	if opt.MaxEntries <= 0 {
		opt.MaxEntries = DefaultMaxRevoked
	}
	if opt.SweepInterval <= 0 {
		opt.SweepInterval = DefaultRevokeSweep
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	r := &MemoryRevoker{
		seed:     maphash.MakeSeed(),
		perShard: max(1, opt.MaxEntries/revokeShards),
		sweep:    opt.SweepInterval,
		now:      opt.Now,
	}
	for i := range r.shards {
		r.shards[i].m = make(map[string]time.Time)
	}
	return r
}

func (r *MemoryRevoker) shard(jti string) *revokeShard {
	return &r.shards[maphash.String(r.seed, jti)%revokeShards]
}

// Revoke implements Revoker. It returns an Invalid error for an empty jti or
// one longer than MaxJTILen, and ErrRevocationFull when the jti's shard is
// full of unexpired entries.
func (r *MemoryRevoker) Revoke(_ context.Context, jti string, until time.Time) error {
	if jti == "" || len(jti) > MaxJTILen {
		return apperr.New(apperr.Invalid, "jti must be 1..%d characters", MaxJTILen)
	}
	now := r.now()
	if !now.Before(until) {
		return nil
	}
	s := r.shard(jti)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !now.Before(s.nextSweep) {
		s.sweepLocked(now)
		s.nextSweep = now.Add(r.sweep)
	}
	if old, ok := s.m[jti]; ok {
		if until.After(old) {
			s.m[jti] = until
		}
		return nil
	}
	if len(s.m) >= r.perShard {
		s.sweepLocked(now)
		if len(s.m) >= r.perShard {
			return ErrRevocationFull
		}
	}
	s.m[jti] = until
	return nil
}

// IsRevoked implements Revoker; it never fails.
func (r *MemoryRevoker) IsRevoked(_ context.Context, jti string) (bool, error) {
	s := r.shard(jti)
	s.mu.RLock()
	until, ok := s.m[jti]
	s.mu.RUnlock()
	return ok && r.now().Before(until), nil
}

// Sweep drops every expired entry now.
func (r *MemoryRevoker) Sweep() {
	now := r.now()
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		s.sweepLocked(now)
		s.mu.Unlock()
	}
}

// Len returns the number of entries held, expired ones not yet swept included.
func (r *MemoryRevoker) Len() int {
	n := 0
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

func (s *revokeShard) sweepLocked(now time.Time) {
	for k, until := range s.m {
		if !now.Before(until) {
			delete(s.m, k)
		}
	}
}
