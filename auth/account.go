package auth

import (
	"context"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
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
	load     AccountLoader
	ttl      time.Duration
	now      func() time.Time
	log      *slog.Logger
	seed     maphash.Seed
	perShard int
	seq      atomic.Uint64
	shards   [accountShards]accountShard
}

const accountShards = 16

type accountShard struct {
	mu sync.RWMutex
	m  map[string]*accountEntry
	_  [32]byte // one shard per 64-byte cache line
}

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
	c := &AccountCache{load: load, ttl: opt.TTL, now: opt.Now, log: opt.Logger,
		seed: maphash.MakeSeed(), perShard: max(1, opt.MaxEntries/accountShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[string]*accountEntry)
	}
	return c
}

// TTL returns how long a cached account is used before it is read again.
func (c *AccountCache) TTL() time.Duration { return c.ttl }

func (c *AccountCache) shard(username string) *accountShard {
	return &c.shards[maphash.String(c.seed, username)%accountShards]
}

// Check returns nil when the token of claims may be used: its subject
// exists and is active and the token was issued at or after the account's
// ValidAfter. Otherwise ErrAccountUnknown, ErrAccountDeactivated or
// ErrTokenRevoked (kind Unauthorized), or, when the account could not be
// read, an error of another kind (callers fail closed).
func (c *AccountCache) Check(ctx context.Context, cl Claims) error {
	now := c.now()
	s := c.shard(cl.Username)
	s.mu.RLock()
	e := s.m[cl.Username]
	s.mu.RUnlock()
	switch {
	case e != nil && now.Sub(e.at) < c.ttl:
	case e != nil && now.Sub(e.at) < 2*c.ttl:
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
	s := c.shard(username)
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.m[username]; old != nil {
		if old.seq > e.seq {
			return old
		}
	} else if len(s.m) >= c.perShard {
		now := c.now()
		for k, v := range s.m {
			if now.Sub(v.at) >= 2*c.ttl {
				delete(s.m, k)
			}
		}
		if len(s.m) >= c.perShard {
			clear(s.m)
		}
	}
	s.m[username] = e
	return e
}

// Len returns the number of accounts cached.
func (c *AccountCache) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
