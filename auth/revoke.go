package auth

import (
	"context"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/ttlmap"
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

// MemoryRevoker is the in-process Revoker: a ttlmap.Map from jti to expiry.
// Expired entries are ignored at once and dropped by a sweep of their shard,
// run by Revoke at most once per SweepInterval (no background goroutine), by
// a full shard before it refuses an entry, or by Sweep. The total number of
// entries never exceeds MaxEntries.
type MemoryRevoker struct {
	now func() time.Time
	m   *ttlmap.Map[time.Time]
}

const revokeShards = 16

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
	return &MemoryRevoker{now: opt.Now, m: ttlmap.New(expiry, ttlmap.Options{
		Shards: revokeShards, MaxEntries: opt.MaxEntries, SweepInterval: opt.SweepInterval, WhenFull: ttlmap.Refuse})}
}

func expiry(until time.Time) time.Time { return until }

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
	err := r.m.Update(jti, now, func(old time.Time, ok bool) (time.Time, bool) {
		if ok && !until.After(old) {
			return old, false
		}
		return until, true
	})
	if err == ttlmap.ErrFull {
		return ErrRevocationFull
	}
	return err
}

// IsRevoked implements Revoker; it never fails.
func (r *MemoryRevoker) IsRevoked(_ context.Context, jti string) (bool, error) {
	until, ok := r.m.Lookup(jti) // the clock is read only for a revoked jti
	return ok && r.now().Before(until), nil
}

// Sweep drops every expired entry now.
func (r *MemoryRevoker) Sweep() { r.m.Sweep(r.now()) }

// Len returns the number of entries held, expired ones not yet swept included.
func (r *MemoryRevoker) Len() int { return r.m.Len() }
