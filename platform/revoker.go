package platform

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/store"
)

// Keys of revocation items, in the users table. Each revocation is two
// items, written in one transaction:
//
//   - PK "REVOKED#<jti>", SK "TOKEN": the one a process reads to learn
//     whether a jti is revoked (one partition per token, so the lookups of
//     many gateways spread over the table);
//   - PK "REVOCATIONS", SK "<until, Unix ms, 13 digits>#<jti>": the list a
//     process reads at start (entries still in force are the range after
//     now).
//
// Both carry "until_ms" (Unix milliseconds) and "expires_at" (Unix seconds,
// the time to live, a minute after until).
const (
	revokedPKPrefix = "REVOKED#"
	revokedSK       = "TOKEN"
	revocationsPK   = "REVOCATIONS"
)

// StoreRevoker is an auth.Revoker on the store: a logout outlives the
// process and reaches every process on the same store. Revocations are
// remembered in process (a revocation never ends before the token dies).
//
// In a process that is the store's only writer of revocations (the
// all-in-one role: StoreRevokerOptions.SoleWriter), the in-process set is
// the whole truth: Load fills it from the store at start and IsRevoked
// never reads the store. Otherwise (the microservice roles, where the user
// service writes and every process reads) a jti not known to be revoked
// costs one strongly consistent Get.
type StoreRevoker struct {
	db    store.Store
	table string
	now   func() time.Time
	sole  bool
	seen  *auth.MemoryRevoker
}

var _ auth.Revoker = (*StoreRevoker)(nil)

// StoreRevokerOptions configure a StoreRevoker.
type StoreRevokerOptions struct {
	// SoleWriter declares that no other process revokes tokens on this
	// store while this one runs: IsRevoked answers from memory (call Load
	// first).
	SoleWriter bool
	// MaxEntries bounds the revocations held in memory
	// (auth.DefaultMaxRevoked when 0).
	MaxEntries int
	Now        func() time.Time // time.Now when nil
}

// NewStoreRevoker returns a revoker on db's users table (tables.Users).
func NewStoreRevoker(db store.Store, tables dao.Tables, opt StoreRevokerOptions) *StoreRevoker {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &StoreRevoker{db: db, table: tables.Users, now: opt.Now, sole: opt.SoleWriter,
		seen: auth.NewMemoryRevoker(auth.MemoryRevokerOptions{Now: opt.Now, MaxEntries: opt.MaxEntries})}
}

func (r *StoreRevoker) key(jti string) store.Key {
	return store.Key{Table: r.table, PK: revokedPKPrefix + jti, SK: revokedSK}
}

func (r *StoreRevoker) listKey(jti string, until time.Time) store.Key {
	return store.Key{Table: r.table, PK: revocationsPK, SK: untilSK(until.UnixMilli()) + "#" + jti}
}

// untilSK is ms as 13 digits (sorting as text in time order until 2286).
func untilSK(ms int64) string {
	s := strconv.FormatInt(max(ms, 0), 10)
	for len(s) < 13 {
		s = "0" + s
	}
	return s
}

// Revoke records jti as revoked until the time until (a no-op for an until
// in the past). Revoking again overwrites the lookup entry with the new
// until. A sole writer records the revocation in memory first: if the
// store write then fails, the token is refused anyway and the error
// reported (the logout may be retried); a full memory set
// (auth.ErrRevocationFull) fails the logout before anything is written.
func (r *StoreRevoker) Revoke(ctx context.Context, jti string, until time.Time) error {
	if jti == "" || len(jti) > auth.MaxJTILen {
		return apperr.New(apperr.Invalid, "bad token id")
	}
	if !until.After(r.now()) {
		return nil
	}
	if r.sole {
		if err := r.seen.Revoke(ctx, jti, until); err != nil {
			return fmt.Errorf("revoke token: %w", err)
		}
	}
	item := func() store.Item {
		return store.Item{
			"until_ms":                store.Int(until.UnixMilli()),
			"jti":                     store.S(jti),
			store.DefaultTTLAttribute: store.Int(until.Add(time.Minute).Unix()),
		}
	}
	err := r.db.Transact(ctx, []store.Write{
		{Put: &store.Put{Key: r.key(jti), Item: item()}},
		{Put: &store.Put{Key: r.listKey(jti, until), Item: item()}},
	})
	if err != nil {
		return fmt.Errorf("store revocation: %w", err)
	}
	if !r.sole {
		_ = r.seen.Revoke(ctx, jti, until) // a full cache only costs a later read
	}
	return nil
}

// Load reads the revocations still in force from the store into memory
// and returns how many it read. A sole writer calls it before serving.
func (r *StoreRevoker) Load(ctx context.Context) (int, error) {
	n := 0
	err := r.each(ctx, func(jti string, until time.Time) error {
		if err := r.seen.Revoke(ctx, jti, until); err != nil {
			return fmt.Errorf("load revocation: %w", err)
		}
		n++
		return nil
	})
	return n, err
}

// each calls fn with every revocation still in force in the store.
func (r *StoreRevoker) each(ctx context.Context, fn func(jti string, until time.Time) error) error {
	q := store.Query{Table: r.table, PK: revocationsPK,
		SK: store.SortCond{Op: store.SortGt, Value: untilSK(r.now().UnixMilli())}}
	for {
		p, err := r.db.Query(ctx, q)
		if err != nil {
			return fmt.Errorf("read revocations: %w", err)
		}
		for _, it := range p.Items {
			if err := fn(it.Str("jti"), time.UnixMilli(it.Int("until_ms"))); err != nil {
				return err
			}
		}
		if p.Cursor == "" {
			return nil
		}
		q.Cursor = p.Cursor
	}
}

// IsRevoked reports whether jti is revoked now; an error when the store
// cannot say (callers fail closed).
func (r *StoreRevoker) IsRevoked(ctx context.Context, jti string) (bool, error) {
	if jti == "" || len(jti) > auth.MaxJTILen {
		return false, nil
	}
	if ok, _ := r.seen.IsRevoked(ctx, jti); ok || r.sole {
		return ok, nil
	}
	it, err := r.db.Get(ctx, r.key(jti))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read revocation: %w", err)
	}
	until := time.UnixMilli(it.Int("until_ms"))
	if !until.After(r.now()) {
		return false, nil
	}
	_ = r.seen.Revoke(ctx, jti, until) // a full cache only costs a later read
	return true, nil
}
