package embedded

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/store/storetest"
)

// The contract holds whatever the item cache does: with no cache, and with
// a cache so small (1 KiB a shard) that it evicts all the time.
func TestContractCacheSizes(t *testing.T) {
	for _, size := range []int64{-1, 64 << 10} {
		t.Run(fmt.Sprintf("cache=%d", size), func(t *testing.T) {
			storetest.Run(t, func(t *testing.T, schemas []store.TableSchema) store.Store {
				opts := testOptions
				opts.ItemCacheSize = size
				db, err := Open(t.TempDir(), schemas, opts)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = db.Close() })
				return db
			})
		})
	}
}

// Readers never see a cached value older than one they saw before, while a
// writer updates the item (the cache is refilled after every commit).
func TestCacheMonotonicReads(t *testing.T) {
	db := openTest(t, t.TempDir(), storetest.Schemas())
	ctx := context.Background()
	k := store.Key{Table: storetest.TableLedger, PK: "P", SK: "counter"}
	const updates = 300
	var wg sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, 8)
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			last := int64(-1)
			for {
				select {
				case <-done:
					return
				default:
				}
				var it store.Item
				var err error
				if r%2 == 0 {
					it, err = db.Get(ctx, k)
				} else {
					var its []store.Item
					its, err = db.BatchGet(ctx, []store.Key{k})
					if err == nil {
						it = its[0]
					}
				}
				if err != nil || it == nil {
					continue // not written yet
				}
				n := it.Int("n")
				if n < last {
					errs <- fmt.Errorf("reader %d saw n=%d after n=%d", r, n, last)
					return
				}
				last = n
			}
		}(r)
	}
	for i := 0; i < updates; i++ {
		if _, err := db.Update(ctx, store.Update{Key: k, Actions: []store.Action{store.Add("n", store.Int(1))}}); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got, err := db.Get(ctx, k); err != nil || got.Int("n") != updates {
		t.Fatalf("final item = %v, %v; want n=%d", got, err, updates)
	}
}

// A failed condition, a delete and a replacing put leave no stale entry.
func TestCacheFollowsWrites(t *testing.T) {
	db := openTest(t, t.TempDir(), storetest.Schemas())
	ctx := context.Background()
	k := store.Key{Table: storetest.TableItems, PK: "P", SK: "S"}
	if _, err := db.Update(ctx, store.Update{Key: k, Actions: []store.Action{store.Set("v", store.Int(1))}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := db.items.get(itemKey(nil, k)); !ok {
		t.Fatal("an updated item is not cached")
	}
	_, err := db.Update(ctx, store.Update{Key: k, Actions: []store.Action{store.Set("v", store.Int(2))}, Cond: store.Eq("v", store.Int(9))})
	if err == nil {
		t.Fatal("update with a false condition succeeded")
	}
	if got, _ := db.Get(ctx, k); got.Int("v") != 1 {
		t.Fatalf("after a failed update v = %d, want 1", got.Int("v"))
	}
	if err := db.Put(ctx, store.Put{Key: k, Item: store.Item{"v": store.Int(3)}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Get(ctx, k); got.Int("v") != 3 {
		t.Fatalf("after a put v = %d, want 3", got.Int("v"))
	}
	if err := db.Delete(ctx, store.Delete{Key: k}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Get(ctx, k); err == nil {
		t.Fatal("deleted item still readable")
	}
	if _, ok := db.items.get(itemKey(nil, k)); ok {
		t.Fatal("deleted item still cached")
	}
}

// A put over an item that is not cached, like an order replaced once at the
// end of its life, does not push the hot items out: it is not cached. A put
// over a cached item is.
func TestCacheReplacedItems(t *testing.T) {
	db := openTest(t, t.TempDir(), storetest.Schemas())
	ctx := context.Background()
	k := store.Key{Table: storetest.TableItems, PK: "P", SK: "S"}
	put := func(v int64) {
		t.Helper()
		if err := db.Put(ctx, store.Put{Key: k, Item: store.Item{"v": store.Int(v)}}); err != nil {
			t.Fatal(err)
		}
	}
	cached := func() bool { _, ok := db.items.get(itemKey(nil, k)); return ok }
	put(1)
	put(2)
	if cached() {
		t.Fatal("a put over an item that was not cached is cached")
	}
	if got, err := db.Get(ctx, k); err != nil || got.Int("v") != 2 || !cached() {
		t.Fatalf("Get = %v, %v, cached %v; want v=2, cached", got, err, cached())
	}
	put(3)
	if it, ok := db.items.get(itemKey(nil, k)); !ok || it.Int("v") != 3 {
		t.Fatalf("after a put over a cached item: cached %v %v, want v=3", it, ok)
	}
}

// The cache shares its items with nobody: changing what Get, BatchGet and
// Update returned, or the item given to Put, changes nothing stored.
func TestCacheItemsAreNotShared(t *testing.T) {
	db := openTest(t, t.TempDir(), storetest.Schemas())
	ctx := context.Background()
	k := store.Key{Table: storetest.TableItems, PK: "P", SK: "S"}
	put := store.Item{"v": store.Int(1)}
	if err := db.Put(ctx, store.Put{Key: k, Item: put}); err != nil {
		t.Fatal(err)
	}
	// A replacing put over a cached item is cached.
	if _, err := db.Get(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := db.Put(ctx, store.Put{Key: k, Item: put}); err != nil {
		t.Fatal(err)
	}
	put["v"] = store.Int(100)
	want := func(step string, v int64) {
		t.Helper()
		if _, ok := db.items.get(itemKey(nil, k)); !ok {
			t.Fatalf("%s: the item is not cached", step)
		}
		got, err := db.Get(ctx, k)
		if err != nil || got.Int("v") != v || got.Str(store.AttrPK) != "P" || got.Str(store.AttrSK) != "S" {
			t.Fatalf("%s: Get = %v, %v; want v=%d PK=P SK=S", step, got, err, v)
		}
	}
	want("after changing the put item", 1)
	got, _ := db.Get(ctx, k)
	got["v"] = store.Int(200)
	want("after changing what Get returned", 1)
	its, err := db.BatchGet(ctx, []store.Key{k})
	if err != nil {
		t.Fatal(err)
	}
	its[0]["v"] = store.Int(300)
	want("after changing what BatchGet returned", 1)
	upd, err := db.Update(ctx, store.Update{Key: k, Actions: []store.Action{store.Add("v", store.Int(1))}})
	if err != nil {
		t.Fatal(err)
	}
	upd["v"] = store.Int(400)
	want("after changing what Update returned", 2)
}

// Syncs are spaced only while enough commits are in flight.
func TestSyncDelay(t *testing.T) {
	db := openTest(t, t.TempDir(), storetest.Schemas())
	if db.syncEvery != time.Millisecond {
		t.Fatalf("default MinSyncInterval = %v, want 1ms", db.syncEvery)
	}
	for _, tc := range []struct {
		inFlight int32
		want     time.Duration
	}{{0, 0}, {1, 0}, {busyCommits - 1, 0}, {busyCommits, time.Millisecond}, {100, time.Millisecond}} {
		db.committing.Store(tc.inFlight)
		if got := db.syncDelay(); got != tc.want {
			t.Errorf("%d commits in flight: delay %v, want %v", tc.inFlight, got, tc.want)
		}
	}
	db.committing.Store(0)
	opts := testOptions
	opts.MinSyncInterval = -1
	off, err := Open(t.TempDir(), storetest.Schemas(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	if off.syncEvery >= 0 {
		t.Fatalf("MinSyncInterval -1 kept %v", off.syncEvery)
	}
}

// The cache stays within its bytes, keeps what it just stored, and refuses
// entries larger than a quarter of a shard.
func TestItemCacheBounds(t *testing.T) {
	c := newItemCache(cacheShards * 1024) // 1 KiB a shard
	for i := 0; i < 5000; i++ {
		k := []byte(fmt.Sprintf("key-%05d", i))
		c.set(k, store.Item{"n": store.Int(int64(i))}, 20)
		if got, ok := c.get(k); !ok || got["n"].NumText() != fmt.Sprint(i) {
			t.Fatalf("entry %d not cached right after set", i)
		}
	}
	entries := 0
	for i := range c.shards {
		s := &c.shards[i]
		if s.bytes > c.limit {
			t.Fatalf("shard %d holds %d bytes, limit %d", i, s.bytes, c.limit)
		}
		n := 0
		for k, e := range s.m {
			if e.size != entrySize([]byte(k), 20) {
				t.Fatalf("entry %q charged %d bytes, want %d", k, e.size, entrySize([]byte(k), 20))
			}
			n += e.size
		}
		if n != s.bytes {
			t.Fatalf("shard %d counts %d bytes, holds %d", i, s.bytes, n)
		}
		entries += len(s.m)
	}
	if entries == 0 || entries >= 5000 {
		t.Fatalf("%d entries after 5000 sets into a 64 KiB cache", entries)
	}
	big := []byte("big")
	c.set(big, store.Item{"n": store.Int(1)}, 120)
	if _, ok := c.get(big); ok {
		t.Fatal("an entry larger than a quarter of a shard was cached")
	}
	if !c.remove([]byte("key-04999")) || c.remove([]byte("key-04999")) {
		t.Fatal("remove of the last entry: want true once, then false")
	}
	var none *itemCache
	none.set(big, store.Item{"n": store.Int(1)}, 20)
	if _, ok := none.get(big); ok || none.remove(big) {
		t.Fatal("a nil cache stored something")
	}
}
