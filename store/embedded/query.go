package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/cockroachdb/pebble/v2"

	"github.com/orderprocessor/orderprocessor/page"
	"github.com/orderprocessor/orderprocessor/store"
)

// Cursor payload: version, flags (bit 0: descending), an FNV-64a hash of
// the partition prefix (table, index and partition key), and the rest of the
// last returned key. DB.Cursors authenticates it; Query checks that it was
// made for the same partition, direction and key range.
const (
	cursorVersion byte = 1
	cursorDesc    byte = 1
	cursorHead         = 2 + 8
)

// Query reads one partition of a table or of one of its indexes in sort-key
// order (UTF-8 bytes), Limit items at a time. Page.Cursor continues it and is
// "" when there are no more items. An unknown table or index, an empty or
// malformed partition key, a Limit outside 0..store.MaxQueryLimit or a
// Between whose bounds are reversed is an error wrapping
// store.ErrInvalidRequest; a cursor made for another query wraps
// page.ErrInvalidCursor.
func (db *DB) Query(ctx context.Context, q store.Query) (store.Page, error) {
	lower, upper, pp, limit, err := db.plan(q)
	if err != nil {
		return store.Page{}, fmt.Errorf("query %s/%s: %w", q.Table, q.Index, err)
	}
	if q.Cursor != "" {
		payload, err := db.cursor.Decode(q.Cursor)
		if err != nil {
			return store.Page{}, fmt.Errorf("query %s/%s: %w", q.Table, q.Index, err)
		}
		last, ok := cursorKey(payload, pp, q.Desc)
		if !ok || bytes.Compare(last, lower) < 0 || (upper != nil && bytes.Compare(last, upper) >= 0) {
			return store.Page{}, fmt.Errorf("query %s/%s: cursor of another query: %w", q.Table, q.Index, page.ErrInvalidCursor)
		}
		if q.Desc {
			upper = last
		} else {
			lower = append(last, 0) // the smallest key after last
		}
	}

	if err := db.enter(ctx); err != nil {
		return store.Page{}, fmt.Errorf("query %s/%s: %w", q.Table, q.Index, err)
	}
	defer db.mu.RUnlock()
	seq := db.writeSeq.Load() // before the iterator: see indexHints
	iter, err := db.pdb.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return store.Page{}, fmt.Errorf("query %s/%s: %w", q.Table, q.Index, err)
	}
	defer iter.Close()

	var res store.Page
	var lastKey, key []byte
	step := iter.Next
	valid := iter.First()
	if q.Desc {
		step = iter.Prev
		valid = iter.Last()
	}
	for ; valid; valid = step() {
		if len(res.Items) == limit {
			res.Cursor = db.cursor.Encode(cursorPayload(lastKey, pp, q.Desc))
			break
		}
		v, err := iter.ValueAndErr()
		if err != nil {
			return store.Page{}, fmt.Errorf("query %s/%s: %w", q.Table, q.Index, err)
		}
		text := string(v) // the item's, and the hint's
		it, err := decodeText(text)
		if err != nil {
			return store.Page{}, fmt.Errorf("query %s/%s: %w", q.Table, q.Index, err)
		}
		res.Items = append(res.Items, it)
		lastKey = append(lastKey[:0], iter.Key()...)
		if q.Index != "" {
			key = itemKey(key[:0], store.Key{Table: q.Table, PK: it.Str(store.AttrPK), SK: it.Str(store.AttrSK)})
			db.hints.add(key, lastKey, text, seq)
		}
	}
	if err := iter.Error(); err != nil {
		return store.Page{}, fmt.Errorf("query %s/%s: %w", q.Table, q.Index, err)
	}
	return res, nil
}

// plan validates q and returns its key range, partition prefix and page size.
func (db *DB) plan(q store.Query) (lower, upper, pp []byte, limit int, err error) {
	t, err := db.table(q.Table)
	if err != nil {
		return nil, nil, nil, 0, err
	}
	if q.PK == "" || len(q.PK) > store.MaxKeyLen {
		return nil, nil, nil, 0, fmt.Errorf("partition key of %d bytes: %w", len(q.PK), store.ErrInvalidRequest)
	}
	switch {
	case q.Limit == 0:
		limit = store.MaxQueryLimit
	case q.Limit < 0 || q.Limit > store.MaxQueryLimit:
		return nil, nil, nil, 0, fmt.Errorf("limit %d: %w", q.Limit, store.ErrInvalidRequest)
	default:
		limit = q.Limit
	}
	if q.SK.Op > store.SortGe {
		return nil, nil, nil, 0, fmt.Errorf("sort condition %d: %w", q.SK.Op, store.ErrInvalidRequest)
	}
	if q.SK.Op == store.SortBetween && q.SK.Value > q.SK.Value2 {
		return nil, nil, nil, 0, fmt.Errorf("between %q and %q: %w", q.SK.Value, q.SK.Value2, store.ErrInvalidRequest)
	}
	escaped := q.Index != ""
	if escaped {
		if _, ok := t.index(q.Index); !ok {
			return nil, nil, nil, 0, fmt.Errorf("unknown index %q: %w", q.Index, store.ErrInvalidRequest)
		}
		pp = indexPartition(nil, q.Table, q.Index, q.PK)
	} else {
		if strings.IndexByte(q.PK, 0) >= 0 {
			return nil, nil, nil, 0, fmt.Errorf("partition key with NUL: %w", store.ErrInvalidRequest)
		}
		pp = itemPartition(nil, q.Table, q.PK)
	}
	lower, upper = skBounds(pp, q.SK, escaped)
	return lower, upper, pp, limit, nil
}

func partitionHash(pp []byte) uint64 {
	h := fnv.New64a()
	h.Write(pp)
	return h.Sum64()
}

// cursorPayload returns the cursor payload for the last key of a page.
func cursorPayload(last, pp []byte, desc bool) []byte {
	out := make([]byte, 0, cursorHead+len(last)-len(pp))
	flags := byte(0)
	if desc {
		flags = cursorDesc
	}
	out = append(out, cursorVersion, flags)
	out = binary.BigEndian.AppendUint64(out, partitionHash(pp))
	return append(out, last[len(pp):]...)
}

// cursorKey returns the key a cursor payload stands for, and whether the
// payload was made for partition pp in the same direction.
func cursorKey(payload, pp []byte, desc bool) ([]byte, bool) {
	if len(payload) < cursorHead || payload[0] != cursorVersion {
		return nil, false
	}
	if (payload[1] == cursorDesc) != desc || payload[1]&^cursorDesc != 0 {
		return nil, false
	}
	if binary.BigEndian.Uint64(payload[2:cursorHead]) != partitionHash(pp) {
		return nil, false
	}
	key := make([]byte, 0, len(pp)+len(payload)-cursorHead+1)
	key = append(key, pp...)
	return append(key, payload[cursorHead:]...), true
}
