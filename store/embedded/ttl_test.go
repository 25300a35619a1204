package embedded

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/store/storetest"
)

// TestDeleteExpired: DeleteExpired deletes exactly the items whose TTL
// attribute is an integer second before now, with their index entries, and
// keeps the items without one, with a later one (also one rewritten later
// since its entry was written), or with one that is not an integer; an
// item updated since, with its expiry unchanged, goes; entries of items
// deleted since are dropped quietly.
func TestDeleteExpired(t *testing.T) {
	db := openTest(t, t.TempDir(), storetest.Schemas())
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 500_000_000) // deletes expiries up to 1_799_999_999
	key := func(table, sk string) store.Key { return store.Key{Table: table, PK: "P", SK: sk} }
	put := func(k store.Key, it store.Item) {
		t.Helper()
		if err := db.Put(ctx, store.Put{Key: k, Item: it}); err != nil {
			t.Fatal(err)
		}
	}
	exp := func(sec int64) store.Item {
		return store.Item{"expires_at": store.Int(sec), "owner": store.S("o"), "created": store.S("c"), "status": store.S("s")}
	}
	put(key(storetest.TableItems, "past"), exp(1_799_999_999))
	put(key(storetest.TableItems, "long-past"), exp(-5))
	put(key(storetest.TableLedger, "past-ledger"), store.Item{"expires_at": store.Int(1)})
	put(key(storetest.TableItems, "now"), exp(1_800_000_000))
	put(key(storetest.TableItems, "future"), exp(1_900_000_000))
	put(key(storetest.TableItems, "none"), store.Item{"owner": store.S("o"), "created": store.S("c")})
	put(key(storetest.TableItems, "text"), store.Item{"expires_at": store.S("1")})
	frac, err := store.N("1.5")
	if err != nil {
		t.Fatal(err)
	}
	put(key(storetest.TableItems, "fraction"), store.Item{"expires_at": frac})
	put(key(storetest.TableItems, "renewed"), exp(100))
	if _, err := db.Update(ctx, store.Update{Key: key(storetest.TableItems, "renewed"),
		Actions: []store.Action{store.Set("expires_at", store.Int(1_900_000_000))}}); err != nil {
		t.Fatal(err)
	}
	// A counter updated after it was written keeps its expiry: the updates
	// write no entry of their own, and the first one's stands.
	put(key(storetest.TableItems, "counter"), exp(1_799_999_999))
	for range 3 {
		if _, err := db.Update(ctx, store.Update{Key: key(storetest.TableItems, "counter"),
			Actions: []store.Action{store.Add("n", store.Int(1))}}); err != nil {
			t.Fatal(err)
		}
	}
	put(key(storetest.TableItems, "deleted"), exp(100))
	if err := db.Delete(ctx, store.Delete{Key: key(storetest.TableItems, "deleted")}); err != nil {
		t.Fatal(err)
	}

	n, err := db.DeleteExpired(ctx, now)
	if err != nil || n != 4 {
		t.Fatalf("DeleteExpired: %d, %v; want 4", n, err)
	}
	for _, sk := range []string{"past", "long-past", "counter"} {
		if _, err := db.Get(ctx, key(storetest.TableItems, sk)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s after DeleteExpired: %v, want not found", sk, err)
		}
	}
	if _, err := db.Get(ctx, key(storetest.TableLedger, "past-ledger")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("past-ledger after DeleteExpired: %v, want not found", err)
	}
	var kept []string
	page, err := db.Query(ctx, store.Query{Table: storetest.TableItems, PK: "P"})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range page.Items {
		kept = append(kept, it.Str(store.AttrSK))
	}
	if want := []string{"fraction", "future", "none", "now", "renewed", "text"}; !slices.Equal(kept, want) {
		t.Errorf("items kept %v, want %v", kept, want)
	}
	// The index entries of the deleted items went with them.
	ix, err := db.Query(ctx, store.Query{Table: storetest.TableItems, Index: storetest.IndexOwner, PK: "o"})
	if err != nil {
		t.Fatal(err)
	}
	var indexed []string
	for _, it := range ix.Items {
		indexed = append(indexed, it.Str(store.AttrSK))
	}
	slices.Sort(indexed)
	if want := []string{"future", "none", "now", "renewed"}; !slices.Equal(indexed, want) {
		t.Errorf("index by_owner holds %v, want %v", indexed, want)
	}
	if n, err := db.DeleteExpired(ctx, now); err != nil || n != 0 {
		t.Errorf("second DeleteExpired: %d, %v; want 0", n, err)
	}
	if n, err := db.DeleteExpired(ctx, time.Unix(1_800_000_001, 0)); err != nil || n != 1 {
		t.Errorf("DeleteExpired a second later: %d, %v; want 1 (now)", n, err)
	}
}

// TestTTLEntriesBuilt: on a store written without expiry entries (a TTL
// attribute of "-", or an engine from before them) the first DeleteExpired
// builds them from the items (a few at a time here, across chunks) for the
// attribute of this Open: none for another attribute.
func TestTTLEntriesBuilt(t *testing.T) {
	defer func(n int) { ttlBuildChunk = n }(ttlBuildChunk)
	ttlBuildChunk = 7
	dir := t.TempDir()
	ctx := context.Background()
	opts := testOptions
	opts.TTLAttribute = "-"
	db, err := Open(dir, storetest.Schemas(), opts)
	if err != nil {
		t.Fatal(err)
	}
	var ws []store.Write
	for i := range 40 { // every third expired
		it := store.Item{"v": store.Int(int64(i))}
		if i%3 == 0 {
			it["expires_at"] = store.Int(10)
		}
		ws = append(ws, store.Write{Put: &store.Put{Key: store.Key{Table: storetest.TableLedger, PK: "P", SK: fmt.Sprintf("%02d", i)}, Item: it}})
	}
	if err := db.Transact(ctx, ws); err != nil {
		t.Fatal(err)
	}
	if n, err := db.DeleteExpired(ctx, time.Unix(100, 0)); err != nil || n != 0 {
		t.Fatalf("DeleteExpired without a TTL attribute: %d, %v; want 0", n, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		attr string
		want int
	}{{"other", 0}, {"", 14}, {"", 0}} {
		opts.TTLAttribute = step.attr
		db, err := Open(dir, storetest.Schemas(), opts)
		if err != nil {
			t.Fatal(err)
		}
		n, err := db.DeleteExpired(ctx, time.Unix(100, 0))
		if err == nil {
			var page store.Page
			page, err = db.Query(ctx, store.Query{Table: storetest.TableLedger, PK: "P"})
			if left := 40 - 14; step.attr == "" && len(page.Items) != left {
				t.Errorf("TTL attribute %q: %d items left, want %d", step.attr, len(page.Items), left)
			}
		}
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		if err != nil || n != step.want {
			t.Fatalf("TTL attribute %q: DeleteExpired %d, %v; want %d", step.attr, n, err, step.want)
		}
	}
}
