package embedded

import (
	"context"
	"errors"
	"testing"

	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/store/storetest"
)

// A commit writing an item that an index query returned uses the value the
// query read when the item was not written since, else reads it through
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
	item := func(status string, version int64) store.Item {
		return store.Item{"status": store.S(status), "version": store.Int(version)}
	}
	put := func(status string, version, read int64) error {
		return db.Put(ctx, store.Put{Key: k, Item: item(status, version), Cond: store.VersionIs(read)})
	}
	statusQuery := func(status string) []store.Item {
		t.Helper()
		p, err := db.Query(ctx, store.Query{Table: storetest.TableItems, Index: storetest.IndexStatus, PK: status})
		if err != nil {
			t.Fatal(err)
		}
		return p.Items
	}
	if err := db.Put(ctx, store.Put{Key: k, Item: item("queued", 1)}); err != nil {
		t.Fatal(err)
	}
	if got := statusQuery("queued"); len(got) != 1 || got[0].Int("version") != 1 {
		t.Fatalf("queued = %v", got)
	}
	h, ok := db.hints.take(ik)
	if !ok || h.value == "" {
		t.Fatalf("the query left no hint with its value: %+v", h)
	}
	forged, err := appendItem(nil, item("forged", 1), k) // what the hint says, unlike the item
	if err != nil {
		t.Fatal(err)
	}

	// A value read after the item's last write is the item: the commit
	// uses it without a read (a forged one shows it: the index entry of
	// the status it names, not of the item's, is the one deleted).
	db.hints.add(ik, h.entry, string(forged), db.writeSeq.Load())
	if err := put("triggered", 2, 1); err != nil {
		t.Fatal(err)
	}
	if _, ok := db.hints.take(ik); ok {
		t.Fatal("the commit left the hint")
	}
	if got := statusQuery("queued"); len(got) != 1 {
		t.Fatalf("queued after a commit that trusted the hint = %v, want the entry it did not know of", got)
	}
	db.hints.take(ik) // that entry is stale (the forgery): no hint from it
	if err := put("triggered", 3, 2); err != nil {
		t.Fatal(err)
	}

	// A value older than the item's last write is not used: the commit
	// reads through the entry, and the condition and the index see the
	// current item.
	statusQuery("triggered")
	h, ok = db.hints.take(ik)
	if !ok {
		t.Fatal("the query left no hint")
	}
	if err := put("triggered", 4, 3); err != nil { // a write after the query
		t.Fatal(err)
	}
	db.hints.add(ik, h.entry, string(forged), h.seq)
	if err := put("processing", 5, 4); err != nil {
		t.Fatal(err)
	}
	if got := statusQuery("triggered"); len(got) != 0 {
		t.Fatalf("triggered after the move = %v", got)
	}
	if got := statusQuery("processing"); len(got) != 1 || got[0].Int("version") != 5 {
		t.Fatalf("processing = %v", got)
	}

	// A stale hint (its entry is gone): the item itself decides.
	db.hints.add(ik, h.entry, "", 0)
	if err := put("completed", 6, 4); !errors.Is(err, store.ErrConditionFailed) {
		t.Fatalf("put at a stale version: %v", err)
	}
	db.hints.add(ik, h.entry, "", 0)
	if err := put("completed", 6, 5); err != nil {
		t.Fatal(err)
	}
	if got := statusQuery("processing"); len(got) != 0 {
		t.Fatalf("processing after completion = %v", got)
	}
	if got, err := db.Get(ctx, k); err != nil || got.Str("status") != "completed" || got.Int("version") != 6 {
		t.Fatalf("item = %v, %v", got, err)
	}
}

// The hints stay bounded: a full shard is emptied.
func TestIndexHintsBounded(t *testing.T) {
	h := newIndexHints()
	for i := range 4 * hintShards * hintsPerShard {
		h.add([]byte{byte(i), byte(i >> 8), byte(i >> 16)}, []byte("entry"), "value", 1)
	}
	for i := range h.shards {
		if n := len(h.shards[i].m); n > hintsPerShard {
			t.Fatalf("shard %d holds %d hints", i, n)
		}
	}
}
