package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/page"
	"github.com/orderprocessor/orderprocessor/store"
)

// scanAll reads every page of a scan of table with page size limit,
// checking each page, and returns the items in the order read.
func scanAll(t *testing.T, s store.Store, table string, limit int) []store.Item {
	t.Helper()
	sc := store.Scan{Table: table, Limit: limit}
	max := limit
	if max == 0 {
		max = store.MaxQueryLimit
	}
	return readPages(t, limit, max, func(cursor string) (store.Page, error) {
		sc.Cursor = cursor
		return s.Scan(context.Background(), sc)
	})
}

// testScan checks Scan: every item of the table exactly once, whole, with
// every page size; no item of another table and no index entry; the
// validation of limits, tables and cursors; context cancellation.
func testScan(t *testing.T, open OpenFunc) {
	t.Parallel()
	s := fresh(t, open)
	ctx := context.Background()

	t.Run("empty table", func(t *testing.T) {
		p, err := s.Scan(ctx, store.Scan{Table: TableLedger})
		if err != nil || len(p.Items) != 0 || p.Cursor != "" {
			t.Fatalf("scan of an empty table: %v %v", p, err)
		}
	})

	// 57 items in 7 partitions of TableItems, some of them in both indexes,
	// and 3 items of TableLedger with the same keys as some of them.
	want := map[store.Key]store.Item{}
	for i := 0; i < 57; i++ {
		k := key(TableItems, fmt.Sprintf("SCAN#%d", i%7), fmt.Sprintf("%02d", i))
		it := store.Item{"i": store.Int(int64(i)), "amount": num(fmt.Sprintf("%d.%02d", i, i))}
		if i%3 == 0 {
			it["owner"], it["created"] = store.S("o"), store.S(fmt.Sprintf("c%02d", i))
		}
		if i%4 == 0 {
			it["status"] = store.S("open")
		}
		mustPut(t, s, k, it)
		want[k] = withKey(k, it)
	}
	for i := 0; i < 3; i++ {
		mustPut(t, s, key(TableLedger, "SCAN#0", fmt.Sprintf("%02d", i*7)), store.Item{"ledger": store.Bool(true)})
	}

	for _, limit := range []int{1, 5, 56, 57, 58, 0} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			got := scanAll(t, s, TableItems, limit)
			if len(got) != len(want) {
				t.Fatalf("%d items, want %d", len(got), len(want))
			}
			seen := map[store.Key]bool{}
			for _, it := range got {
				k := key(TableItems, it.Str(store.AttrPK), it.Str(store.AttrSK))
				w, ok := want[k]
				if !ok {
					t.Fatalf("unexpected item %v", it)
				}
				if seen[k] {
					t.Fatalf("item %s twice", k)
				}
				seen[k] = true
				sameItem(t, it, w)
			}
		})
	}
	t.Run("other table", func(t *testing.T) {
		got := scanAll(t, s, TableLedger, 2)
		if len(got) != 3 {
			t.Fatalf("%d ledger items, want 3", len(got))
		}
		for _, it := range got {
			if !it.Bool("ledger") || it.Str(store.AttrPK) != "SCAN#0" {
				t.Fatalf("ledger scan returned %v", it)
			}
		}
	})
	t.Run("exact page", func(t *testing.T) {
		p, err := s.Scan(ctx, store.Scan{Table: TableItems, Limit: len(want)})
		if err != nil || len(p.Items) != len(want) || p.Cursor != "" {
			t.Fatalf("%d items, cursor %q, %v", len(p.Items), p.Cursor, err)
		}
	})
	t.Run("follows writes", func(t *testing.T) {
		k := key(TableLedger, "SCAN#new", "x")
		mustPut(t, s, k, store.Item{"ledger": store.Bool(true)})
		if got := scanAll(t, s, TableLedger, 0); len(got) != 4 {
			t.Fatalf("%d ledger items after a put, want 4", len(got))
		}
		if err := s.Delete(ctx, store.Delete{Key: k}); err != nil {
			t.Fatal(err)
		}
		if got := scanAll(t, s, TableLedger, 0); len(got) != 3 {
			t.Fatalf("%d ledger items after a delete, want 3", len(got))
		}
	})
	t.Run("invalid", func(t *testing.T) {
		for _, sc := range []store.Scan{
			{Table: "nope"},
			{},
			{Table: TableItems, Limit: -1},
			{Table: TableItems, Limit: store.MaxQueryLimit + 1},
		} {
			_, err := s.Scan(ctx, sc)
			wantErr(t, err, store.ErrInvalidRequest, apperr.Invalid)
		}
	})
	t.Run("cursor of another query", func(t *testing.T) {
		first := func(sc store.Scan) string {
			sc.Limit = 1
			p, err := s.Scan(ctx, sc)
			if err != nil || p.Cursor == "" {
				t.Fatalf("scan %+v: %v %v", sc, p, err)
			}
			return p.Cursor
		}
		qp, err := s.Query(ctx, store.Query{Table: TableItems, PK: "SCAN#0", Limit: 1})
		if err != nil || qp.Cursor == "" {
			t.Fatalf("query: %v %v", qp, err)
		}
		valid := first(store.Scan{Table: TableItems})
		tampered := []byte(valid)
		if tampered[3] == 'A' {
			tampered[3] = 'B'
		} else {
			tampered[3] = 'A'
		}
		cursors := map[string]string{
			"other table": first(store.Scan{Table: TableLedger}),
			"query":       qp.Cursor,
			"tampered":    string(tampered),
			"truncated":   valid[:len(valid)-2],
			"garbage":     "not a cursor!",
			"too long":    strings.Repeat("A", page.MaxCursorLen+1),
		}
		for name, c := range cursors {
			t.Run(name, func(t *testing.T) {
				_, err := s.Scan(ctx, store.Scan{Table: TableItems, Cursor: c})
				wantErr(t, err, page.ErrInvalidCursor, apperr.Invalid)
			})
		}
		// A scan cursor is no query cursor either.
		_, err = s.Query(ctx, store.Query{Table: TableItems, PK: "SCAN#0", Cursor: valid})
		wantErr(t, err, page.ErrInvalidCursor, apperr.Invalid)
		// The valid one continues after the first item.
		p, err := s.Scan(ctx, store.Scan{Table: TableItems, Cursor: valid})
		if err != nil || len(p.Items) != len(want)-1 || p.Cursor != "" {
			t.Fatalf("valid cursor: %d items, cursor %q, %v", len(p.Items), p.Cursor, err)
		}
	})
	t.Run("canceled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.Scan(cctx, store.Scan{Table: TableItems}); !errors.Is(err, context.Canceled) {
			t.Fatalf("scan with a canceled context: %v, want context.Canceled", err)
		}
	})
}
