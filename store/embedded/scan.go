package embedded

import (
	"bytes"
	"context"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/orderprocessor/orderprocessor/page"
	"github.com/orderprocessor/orderprocessor/store"
)

// Scan reads every item of a table in key order (partition, then sort key),
// s.Limit items at a time. A cursor is the last key read, prefixed by the
// table's hash so that it cannot be used with another table.
func (db *DB) Scan(ctx context.Context, s store.Scan) (store.Page, error) {
	if _, err := db.table(s.Table); err != nil {
		return store.Page{}, fmt.Errorf("scan %s: %w", s.Table, err)
	}
	limit := s.Limit
	switch {
	case limit == 0:
		limit = store.MaxQueryLimit
	case limit < 0 || limit > store.MaxQueryLimit:
		return store.Page{}, fmt.Errorf("scan %s: limit %d: %w", s.Table, limit, store.ErrInvalidRequest)
	}
	tp := append([]byte{spaceItem}, s.Table...)
	tp = append(tp, 0)
	lower, upper := clone(tp), prefixEnd(tp)
	if s.Cursor != "" {
		payload, err := db.cursor.Decode(s.Cursor)
		if err != nil {
			return store.Page{}, fmt.Errorf("scan %s: %w", s.Table, err)
		}
		last, ok := cursorKey(payload, tp, false)
		if !ok || bytes.Compare(last, lower) < 0 || bytes.Compare(last, upper) >= 0 {
			return store.Page{}, fmt.Errorf("scan %s: cursor of another query: %w", s.Table, page.ErrInvalidCursor)
		}
		lower = append(last, 0)
	}
	if err := db.enter(ctx); err != nil {
		return store.Page{}, fmt.Errorf("scan %s: %w", s.Table, err)
	}
	defer db.mu.RUnlock()
	iter, err := db.pdb.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return store.Page{}, fmt.Errorf("scan %s: %w", s.Table, err)
	}
	defer iter.Close()
	var res store.Page
	var lastKey []byte
	for valid := iter.First(); valid; valid = iter.Next() {
		if len(res.Items) == limit {
			res.Cursor = db.cursor.Encode(cursorPayload(lastKey, tp, false))
			break
		}
		v, err := iter.ValueAndErr()
		if err != nil {
			return store.Page{}, fmt.Errorf("scan %s: %w", s.Table, err)
		}
		it, err := decodeItem(v)
		if err != nil {
			return store.Page{}, fmt.Errorf("scan %s: %w", s.Table, err)
		}
		res.Items = append(res.Items, it)
		lastKey = append(lastKey[:0], iter.Key()...)
	}
	if err := iter.Error(); err != nil {
		return store.Page{}, fmt.Errorf("scan %s: %w", s.Table, err)
	}
	return res, nil
}
