package auth

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/ttlmap"
)

// Account is what the token check needs to know of a token's subject.
type Account struct {
	Exists bool // the user is stored
	Active bool // the user may log in and use tokens
	// ValidAfter is when the user's tokens start to count: a token issued
	// (iat) before it is refused. Zero: every token counts.
	ValidAfter time.Time
}

// Errors of AccountCache.Check, of kind Unauthorized; their messages are
// safe to show to clients.
var (
	ErrAccountDeactivated = apperr.New(apperr.Unauthorized, "account deactivated")
	ErrAccountUnknown     = apperr.New(apperr.Unauthorized, "unknown account")
)

// Limits and defaults of AccountCache.
const (
	// DefaultAccountTTL is how long a cached account is used before it is
	// read again: how late a change made by another process is seen.
	DefaultAccountTTL = 2 * time.Second
	// DefaultMaxAccounts bounds the entries of an AccountCache.
	DefaultMaxAccounts = 1 << 20
	// accountLoadTimeout bounds a background refresh.
	accountLoadTimeout = 10 * time.Second
)

// AccountLoader reads the account of username from the store of record. A
// user that does not exist is Account{} and no error.
type AccountLoader func(ctx context.Context, username string) (Account, error)

// AccountCacheOptions configure an AccountCache. Zero fields take defaults.
type AccountCacheOptions struct {
	TTL        time.Duration    // DefaultAccountTTL when 0
	MaxEntries int              // DefaultMaxAccounts when 0
	Now        func() time.Time // time.Now when nil
	Logger     *slog.Logger     // background refresh failures; slog.Default() when nil
}

// AccountCache checks that a token's subject exists, is active, and has not
// invalidated the token (Account.ValidAfter), from memory on the request
// path. An account read less than TTL ago is used as is. One read between
// TTL and twice TTL ago is used too, while a background read refreshes it
// (so a busy user never waits for the store); an older one, or none, is
// read before the check. A process that changes an account calls Set, so
// that the change applies in that process at once; other processes see it
// within TTL (plus a store read).
type AccountCache struct {
	load AccountLoader
	ttl  time.Duration
	now  func() time.Time
	log  *slog.Logger
	seq  atomic.Uint64
	m    *ttlmap.Map[*accountEntry]
}

const accountShards = 16

// accountEntry is immutable once stored, but for refreshing.
type accountEntry struct {
	acct       Account
	at         time.Time // when it was read (or set)
	seq        uint64    // AccountCache.seq when its read started (or it was set)
	refreshing atomic.Bool
}

// NewAccountCache returns an empty AccountCache reading accounts with load.
func NewAccountCache(load AccountLoader, opt AccountCacheOptions) *AccountCache {
	if opt.TTL <= 0 {
		opt.TTL = DefaultAccountTTL
	}
	if opt.MaxEntries <= 0 {
		opt.MaxEntries = DefaultMaxAccounts
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	c := &AccountCache{load: load, ttl: opt.TTL, now: opt.Now, log: opt.Logger}
	// An entry read twice TTL ago or more is not used: a full shard drops
	// those first, then everything.
	c.m = ttlmap.New(func(e *accountEntry) time.Time { return e.at.Add(2 * c.ttl) },
		ttlmap.Options{Shards: accountShards, MaxEntries: opt.MaxEntries, WhenFull: ttlmap.DropAll})
	return c
}

// TTL returns how long a cached account is used before it is read again.
func (c *AccountCache) TTL() time.Duration { return c.ttl }

// Check returns nil when the token of claims may be used: its subject
// exists and is active and the token was issued at or after the account's
// ValidAfter. Otherwise ErrAccountUnknown, ErrAccountDeactivated or
// ErrTokenRevoked (kind Unauthorized), or, when the account could not be
// read, an error of another kind (callers fail closed).
func (c *AccountCache) Check(ctx context.Context, cl Claims) error {
	now := c.now()
	e, ok := c.m.Lookup(cl.Username)
	switch {
	case ok && now.Sub(e.at) < c.ttl:
	case ok && now.Sub(e.at) < 2*c.ttl:
		if e.refreshing.CompareAndSwap(false, true) {
			// The sequence number is taken now, before any Set that the
			// read could miss.
			go c.refresh(context.WithoutCancel(ctx), cl.Username, c.seq.Add(1))
		}
	default:
		var err error
		if e, err = c.read(ctx, cl.Username, c.seq.Add(1)); err != nil {
			return err
		}
	}
	return e.acct.admits(cl)
}

func (a Account) admits(cl Claims) error {
	switch {
	case !a.Exists:
		return ErrAccountUnknown
	case !a.Active:
		return ErrAccountDeactivated
	case cl.IssuedAt.Before(a.ValidAfter):
		return ErrTokenRevoked
	}
	return nil
}

func (c *AccountCache) refresh(ctx context.Context, username string, seq uint64) {
	ctx, cancel := context.WithTimeout(ctx, accountLoadTimeout)
	defer cancel()
	if _, err := c.read(ctx, username, seq); err != nil {
		c.log.WarnContext(ctx, "account refresh failed; the cached account is used until it is read", "user", username, "err", err)
		// The entry stays marked: the next check past twice the TTL reads
		// it itself (and fails closed if the store still cannot answer).
	}
}

// read loads username's account and caches it, unless a newer one (Set
// after seq was taken) is there already; it returns the entry in force.
func (c *AccountCache) read(ctx context.Context, username string, seq uint64) (*accountEntry, error) {
	at := c.now()
	a, err := c.load(ctx, username)
	if err != nil {
		return nil, fmt.Errorf("read account %q: %w", username, err)
	}
	return c.put(username, &accountEntry{acct: a, at: at, seq: seq}), nil
}

// Set records username's account as changed now by this process (write
// through: its next check uses it).
func (c *AccountCache) Set(username string, a Account) {
	c.put(username, &accountEntry{acct: a, at: c.now(), seq: c.seq.Add(1)})
}

func (c *AccountCache) put(username string, e *accountEntry) *accountEntry {
	cur := e
	_ = c.m.Update(username, c.now(), func(old *accountEntry, ok bool) (*accountEntry, bool) {
		if ok && old.seq > e.seq {
			cur = old
			return old, false
		}
		return e, true
	})
	return cur
}

// Len returns the number of accounts cached.
func (c *AccountCache) Len() int { return c.m.Len() }
