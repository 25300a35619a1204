package embedded

import (
	"context"
	"errors"
	"testing"

	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/store/storetest"
)

// A commit writing an item that an index query returned reads it through
// the index entry, and a hint whose entry is gone falls back to the item:
// conditions and index maintenance see the current item either way.
func TestIndexHints(t *testing.T) {
	opts := testOptions
	opts.ItemCacheSize = -1 // every read goes to Pebble
	db, err := Open(t.TempDir(), storetest.Schemas(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	ctx := context.Background()
	k := store.Key{Table: storetest.TableItems, PK: "P", SK: "a"}
	ik := itemKey(nil, k)
	put := func(status string, version, read int64) error {
		return db.Put(ctx, store.Put{Key: k, Item: store.Item{"status": store.S(status), "version": store.Int(version)},
			Cond: store.VersionIs(read)})
	}
	statusQuery := func(status string) []store.Item {
		t.Helper()
		p, err := db.Query(ctx, store.Query{Table: storetest.TableItems, Index: storetest.IndexStatus, PK: status})
		if err != nil {
			t.Fatal(err)
		}
		return p.Items
	}
	if err := db.Put(ctx, store.Put{Key: k, Item: store.Item{"status": store.S("queued"), "version": store.Int(1)}}); err != nil {
		t.Fatal(err)
	}
	if got := statusQuery("queued"); len(got) != 1 || got[0].Int("version") != 1 {
		t.Fatalf("queued = %v", got)
	}
	entry, ok := db.hints.take(ik)
	if !ok {
		t.Fatal("the query left no hint")
	}
	db.hints.add(ik, entry)

	// Through the hint: the condition holds, and the old entry is deleted.
	if err := put("triggered", 2, 1); err != nil {
		t.Fatal(err)
	}
	if _, ok := db.hints.take(ik); ok {
		t.Fatal("the commit left the hint")
	}
	if got := statusQuery("queued"); len(got) != 0 {
		t.Fatalf("queued after the move = %v", got)
	}
	if got := statusQuery("triggered"); len(got) != 1 || got[0].Int("version") != 2 {
		t.Fatalf("triggered = %v", got)
	}

	// A stale hint (its entry is gone): the item itself decides.
	db.hints.add(ik, entry)
	if err := put("completed", 3, 1); !errors.Is(err, store.ErrConditionFailed) {
		t.Fatalf("put at a stale version: %v", err)
	}
	db.hints.add(ik, entry)
	if err := put("completed", 3, 2); err != nil {
		t.Fatal(err)
	}
	if got := statusQuery("triggered"); len(got) != 0 {
		t.Fatalf("triggered after completion = %v", got)
	}
	if got, err := db.Get(ctx, k); err != nil || got.Str("status") != "completed" || got.Int("version") != 3 {
		t.Fatalf("item = %v, %v", got, err)
	}
}

// The hints stay bounded: a full shard is emptied.
func TestIndexHintsBounded(t *testing.T) {
	h := newIndexHints()
	for i := range 4 * hintShards * hintsPerShard {
		h.add([]byte{byte(i), byte(i >> 8), byte(i >> 16)}, []byte("entry"))
	}
	for i := range h.shards {
		if n := len(h.shards[i].m); n > hintsPerShard {
			t.Fatalf("shard %d holds %d hints", i, n)
		}
	}
}
