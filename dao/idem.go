package dao

import (
	"context"
	"fmt"
	"time"

	"github.com/orderprocessor/orderprocessor/store"
)

// IdempotencyDAO stores the first response of each request that carried an
// Idempotency-Key, in the same transaction as the request's effect.
type IdempotencyDAO struct{ base }

// IdemRecord is a stored response.
type IdemRecord struct {
	ReqHash string
	Status  int
	Body    []byte
}

// IdemTTL is how long idempotency records are kept (DynamoDB's TTL deletes
// them after expires_at).
const IdemTTL = 24 * time.Hour

// Write returns the write that records rec under key (fails if the key was
// used before: the caller then reads the record and replays or rejects).
func (d *IdempotencyDAO) Write(k store.Key, rec IdemRecord, now time.Time) store.Write {
	return putNew(k, store.Item{
		"req_hash": store.S(rec.ReqHash), "status": store.Int(int64(rec.Status)),
		"body": store.S(string(rec.Body)), store.DefaultTTLAttribute: store.Int(now.Add(IdemTTL).Unix()),
	})
}

// Get returns the record stored under k, or a not_found error.
func (d *IdempotencyDAO) Get(ctx context.Context, k store.Key) (*IdemRecord, error) {
	it, err := d.s.Get(ctx, k)
	if err != nil {
		return nil, notFound(err, "idempotency record not found")
	}
	return d.Decode(it), nil
}

// Decode returns the record of an item read with its key.
func (d *IdempotencyDAO) Decode(it store.Item) *IdemRecord {
	return &IdemRecord{ReqHash: it.Str("req_hash"), Status: int(it.Int("status")), Body: []byte(it.Str("body"))}
}

// ScanDAO reads whole tables: the verify command and admin analytics.
type ScanDAO struct{ base }

// Usernames calls fn for every registered username.
func (d *ScanDAO) Usernames(ctx context.Context, fn func(username string) error) error {
	cursor := ""
	for {
		p, err := d.s.Scan(ctx, store.Scan{Table: d.t.Users, Limit: 1000, Cursor: cursor})
		if err != nil {
			return fmt.Errorf("scan users: %w", err)
		}
		for _, it := range p.Items {
			if it.Str(store.AttrSK) == skProfile {
				if err := fn(usernameFromPK(it.Str(store.AttrPK))); err != nil {
					return err
				}
			}
		}
		if p.Cursor == "" {
			return nil
		}
		cursor = p.Cursor
	}
}
