package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/orderprocessor/orderprocessor/store"
)

// Time to live, as DynamoDB has it: an item whose TTL attribute
// (Options.TTLAttribute) is an integer number of seconds since the Unix
// epoch is deleted once that second has passed, by DeleteExpired (which the
// platform calls every hour). Every such item has an entry in the expiry
// space, written in the batch that writes the item:
//
//	ttl:  0x04 expiry (8 bytes, big-endian, two's complement + 2^63) item key (without its space tag)
//
// An entry is not removed when its item is updated or deleted (that would
// need the item read before every write): DeleteExpired deletes an entry's
// item only while its TTL attribute still says it has expired, and drops
// the entries whose item is gone or has a later expiry.
//
// Bookkeeping: meta key 0x03 "ttl" holds the attribute the entries were
// built for; when it changes (or on a store written before this engine kept
// entries), Open drops them and the first DeleteExpired builds them from
// the items.
const spaceTTL byte = 0x04

// ttlBatch is the most items one DeleteExpired round deletes before it
// commits the removal of their entries.
const ttlBatch = 100

// ttlBuildChunk is the number of items buildTTL reads under one hold of
// the store (a variable for tests).
var ttlBuildChunk = 10_000

func ttlMetaKey() []byte { return append([]byte{spaceMeta}, "ttl"...) }

// ttlKey appends the expiry-space key of the item with Pebble key item
// (space tag included) and expiry sec.
func ttlKey(dst []byte, sec int64, item []byte) []byte {
	dst = append(dst, spaceTTL)
	dst = binary.BigEndian.AppendUint64(dst, uint64(sec)^1<<63) // negative seconds sort first
	return append(dst, item[1:]...)
}

// ttlOf returns item's expiry when its TTL attribute is an integer.
func (db *DB) ttlOf(item store.Item) (int64, bool) {
	if db.ttlAttr == "" {
		return 0, false
	}
	v, ok := item[db.ttlAttr]
	if !ok || v.Kind() != store.KindNumber {
		return 0, false
	}
	return v.Int64()
}

// writeTTLEntry adds to b the expiry entry of item, stored under key, if it
// has an expiry and old (the item it replaces, nil when new or not read)
// had another: an update that keeps the expiry (a counter's) has its entry.
func (db *DB) writeTTLEntry(b *pebble.Batch, key []byte, old, item store.Item) error {
	sec, ok := db.ttlOf(item)
	if !ok {
		return nil
	}
	if was, ok := db.ttlOf(old); ok && was == sec {
		return nil
	}
	var buf [160]byte
	return b.Set(ttlKey(buf[:0], sec, key), nil, nil)
}

// keyOfItem returns the store key of the Pebble item key k.
func keyOfItem(k []byte) (store.Key, bool) {
	rest := k[1:]
	i := bytes.IndexByte(rest, 0)
	if i < 0 {
		return store.Key{}, false
	}
	j := bytes.IndexByte(rest[i+1:], 0)
	if j < 0 {
		return store.Key{}, false
	}
	return store.Key{Table: string(rest[:i]), PK: string(rest[i+1 : i+1+j]), SK: string(rest[i+2+j:])}, true
}

// DeleteExpired deletes every item whose TTL attribute is a second before
// now's, with its index entries, and returns how many it deleted. It commits
// the deletions under store.DeferSync and syncs once at the end. An item
// rewritten meanwhile with a later expiry stays.
func (db *DB) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	if db.ttlAttr == "" {
		return 0, nil
	}
	nowUnix := now.Unix()
	if !db.ttlBuilt.Load() {
		if err := db.buildTTL(ctx); err != nil {
			return 0, err
		}
	}
	deferred := store.DeferSync(ctx)
	lower := []byte{spaceTTL}
	upper := ttlKey(nil, nowUnix, []byte{spaceItem}) // expiries before nowUnix
	n := 0
	for {
		entries, err := db.expiredEntries(ctx, lower, upper)
		if err != nil || len(entries) == 0 {
			if serr := db.Sync(ctx); err == nil {
				err = serr
			}
			return n, err
		}
		for _, e := range entries {
			k, ok := keyOfItem(append([]byte{spaceItem}, e[9:]...))
			if !ok {
				continue
			}
			err := db.Delete(deferred, store.Delete{Key: k, Cond: store.Lt(db.ttlAttr, store.Int(nowUnix))})
			switch {
			case err == nil:
				n++
			case errors.Is(err, store.ErrConditionFailed), errors.Is(err, store.ErrInvalidRequest):
				// Gone, a later expiry, or an undeclared table: the entry is stale.
			default:
				return n, fmt.Errorf("embedded: delete expired %s: %w", k, err)
			}
		}
		if err := db.commitMeta(ctx, pebble.NoSync, func(b *pebble.Batch) error { // synced at the end
			for _, e := range entries {
				if err := b.Delete(e, nil); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return n, fmt.Errorf("embedded: delete expired: %w", err)
		}
	}
}

// commitMeta commits the engine bookkeeping fill writes, unless the store
// is closed.
func (db *DB) commitMeta(ctx context.Context, opts *pebble.WriteOptions, fill func(*pebble.Batch) error) error {
	if err := db.enter(ctx); err != nil {
		return err
	}
	defer db.mu.RUnlock()
	b := db.pdb.NewBatch()
	defer b.Close()
	if err := fill(b); err != nil {
		return err
	}
	return db.commitBatch(b, opts)
}

// expiredEntries returns up to ttlBatch expiry entries in [lower, upper).
func (db *DB) expiredEntries(ctx context.Context, lower, upper []byte) ([][]byte, error) {
	if err := db.enter(ctx); err != nil {
		return nil, fmt.Errorf("embedded: delete expired: %w", err)
	}
	defer db.mu.RUnlock()
	iter, err := db.pdb.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, fmt.Errorf("embedded: delete expired: %w", err)
	}
	var out [][]byte
	for valid := iter.First(); valid && len(out) < ttlBatch; valid = iter.Next() {
		out = append(out, bytes.Clone(iter.Key()))
	}
	if err := errors.Join(iter.Error(), iter.Close()); err != nil {
		return nil, fmt.Errorf("embedded: delete expired: %w", err)
	}
	return out, nil
}

// prepareTTL runs in Open: when the expiry entries were built for another
// attribute (or none) it drops them, and DeleteExpired builds them again
// from the items before it deletes anything (a scan of the whole store: a
// minute for 7 million orders here, so not in Open).
func (db *DB) prepareTTL() error {
	built, closer, err := db.pdb.Get(ttlMetaKey())
	switch {
	case err == nil:
		same := string(built) == db.ttlAttr
		if cerr := closer.Close(); cerr != nil {
			return cerr
		}
		if same {
			db.ttlBuilt.Store(true)
			return nil
		}
	case !errors.Is(err, pebble.ErrNotFound):
		return fmt.Errorf("embedded: read ttl metadata: %w", err)
	}
	b := db.pdb.NewBatch()
	defer b.Close()
	if err := errors.Join(b.DeleteRange([]byte{spaceTTL}, []byte{spaceTTL + 1}, nil), b.Delete(ttlMetaKey(), nil)); err != nil {
		return err
	}
	if err := db.commitBatch(b, pebble.Sync); err != nil {
		return fmt.Errorf("embedded: drop ttl entries: %w", err)
	}
	return nil
}

// buildTTL writes the expiry entries of every item, ttlBuildChunk items at
// a time (Close waits for no more than that), and records the attribute they were
// built for. Items written meanwhile have their entries already.
func (db *DB) buildTTL(ctx context.Context) error {
	name := []byte(db.ttlAttr)
	from := []byte{spaceItem}
	total := 0
	for from != nil {
		n, next, err := db.buildTTLChunk(ctx, from, name)
		if err != nil {
			return fmt.Errorf("embedded: build ttl entries: %w", err)
		}
		total, from = total+n, next
	}
	if err := db.commitMeta(ctx, pebble.Sync, func(b *pebble.Batch) error { return b.Set(ttlMetaKey(), name, nil) }); err != nil {
		return fmt.Errorf("embedded: build ttl entries: %w", err)
	}
	db.ttlBuilt.Store(true)
	db.log.Info("embedded store: built ttl entries", "attribute", db.ttlAttr, "entries", total)
	return nil
}

// buildTTLChunk writes the expiry entries of up to ttlBuildChunk items from the
// item key from on, and returns how many it wrote and where the next chunk
// starts (nil: no more items).
func (db *DB) buildTTLChunk(ctx context.Context, from, name []byte) (int, []byte, error) {
	if err := db.enter(ctx); err != nil {
		return 0, nil, err
	}
	defer db.mu.RUnlock()
	iter, err := db.pdb.NewIter(&pebble.IterOptions{LowerBound: from, UpperBound: []byte{spaceItem + 1}})
	if err != nil {
		return 0, nil, err
	}
	b := db.pdb.NewBatch()
	defer b.Close()
	n, seen := 0, 0
	var next []byte
	for valid := iter.First(); valid; valid = iter.Next() {
		if seen == ttlBuildChunk {
			next = bytes.Clone(iter.Key())
			break
		}
		seen++
		if !bytes.Contains(iter.Value(), name) {
			continue // the encoding holds every attribute name as is
		}
		item, err := decodeItem(iter.Value())
		if err != nil {
			return 0, nil, errors.Join(err, iter.Close())
		}
		if sec, ok := db.ttlOf(item); ok {
			if err := b.Set(ttlKey(nil, sec, iter.Key()), nil, nil); err != nil {
				return 0, nil, errors.Join(err, iter.Close())
			}
			n++
		}
	}
	if err := errors.Join(iter.Error(), iter.Close()); err != nil {
		return 0, nil, err
	}
	if err := db.commitBatch(b, pebble.NoSync); err != nil { // synced with the meta key
		return 0, nil, err
	}
	return n, next, nil
}
