package platform

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/store"
)

// Keys of revocation items, in the users table: PK "REVOKED#<jti>", SK
// "TOKEN", with "until_ms" (Unix milliseconds) and "expires_at" (Unix
// seconds, DynamoDB's time to live, a minute after until).
const (
	revokedPKPrefix = "REVOKED#"
	revokedSK       = "TOKEN"
)

// StoreRevoker is an auth.Revoker on the store, so that every process of a
// microservice deployment sees a logout at once: the user service writes
// the revocation, the gateways read it. A revoked jti is remembered in
// process (a revocation never ends before the token dies), so only tokens
// that are not revoked cost a store read (one strongly consistent Get).
type StoreRevoker struct {
	db    store.Store
	table string
	now   func() time.Time
	seen  *auth.MemoryRevoker
}

var _ auth.Revoker = (*StoreRevoker)(nil)

// NewStoreRevoker returns a revoker on db's users table (tables.Users).
func NewStoreRevoker(db store.Store, tables dao.Tables, now func() time.Time) *StoreRevoker {
	if now == nil {
		now = time.Now
	}
	return &StoreRevoker{db: db, table: tables.Users, now: now,
		seen: auth.NewMemoryRevoker(auth.MemoryRevokerOptions{Now: now})}
}

func (r *StoreRevoker) key(jti string) store.Key {
	return store.Key{Table: r.table, PK: revokedPKPrefix + jti, SK: revokedSK}
}

// Revoke records jti as revoked until the time until (a no-op for an until
// in the past). Revoking again overwrites the entry with the new until.
func (r *StoreRevoker) Revoke(ctx context.Context, jti string, until time.Time) error {
	if jti == "" || len(jti) > auth.MaxJTILen {
		return apperr.New(apperr.Invalid, "bad token id")
	}
	if !until.After(r.now()) {
		return nil
	}
	err := r.db.Put(ctx, store.Put{Key: r.key(jti), Item: store.Item{
		"until_ms":                store.Int(until.UnixMilli()),
		store.DefaultTTLAttribute: store.Int(until.Add(time.Minute).Unix()),
	}})
	if err != nil {
		return fmt.Errorf("store revocation: %w", err)
	}
	return r.seen.Revoke(ctx, jti, until)
}

// IsRevoked reports whether jti is revoked now; an error when the store
// cannot say (callers fail closed).
func (r *StoreRevoker) IsRevoked(ctx context.Context, jti string) (bool, error) {
	if jti == "" || len(jti) > auth.MaxJTILen {
		return false, nil
	}
	if ok, _ := r.seen.IsRevoked(ctx, jti); ok {
		return true, nil
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
