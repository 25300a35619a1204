package embedded

import (
	"context"
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/orderprocessor/orderprocessor/store"
)

// TestSyncDurability checks, on Pebble's crashable in-memory file system,
// what a crash at a given moment keeps: a write is durable when it returns;
// one made under store.DeferSync is not, until Sync or a later durable write
// (the log is synced in commit order).
func TestSyncDurability(t *testing.T) {
	fs := vfs.NewCrashableMem()
	opts := testOptions
	opts.FS = fs
	db, err := Open("db", crashSchemas, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	deferred := store.DeferSync(ctx)
	key := func(sk string) store.Key { return store.Key{Table: crashTable, PK: "P", SK: sk} }
	put := func(ctx context.Context, sk string) {
		t.Helper()
		if err := db.Put(ctx, store.Put{Key: key(sk), Item: store.Item{"v": store.S(sk)}}); err != nil {
			t.Fatal(err)
		}
		// Written or not, the item is visible at once.
		if _, err := db.Get(context.Background(), key(sk)); err != nil {
			t.Fatalf("get %s right after its put: %v", sk, err)
		}
	}
	// afterCrash reports which of sks a crash now would keep: it opens a
	// copy of the store holding only what was synced.
	afterCrash := func(sks ...string) map[string]bool {
		t.Helper()
		o := testOptions
		o.FS = fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
		c, err := Open("db", crashSchemas, o)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		kept := map[string]bool{}
		for _, sk := range sks {
			_, err := c.Get(ctx, key(sk))
			switch {
			case err == nil:
				kept[sk] = true
			case !errors.Is(err, store.ErrNotFound):
				t.Fatal(err)
			}
		}
		return kept
	}
	check := func(step string, got map[string]bool, want ...string) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s: a crash keeps %v, want exactly %v", step, got, want)
			return
		}
		for _, sk := range want {
			if !got[sk] {
				t.Errorf("%s: a crash keeps %v, want exactly %v", step, got, want)
				return
			}
		}
	}

	put(ctx, "a")
	put(deferred, "b")
	check("a durable write, then a deferred one", afterCrash("a", "b"), "a")

	put(deferred, "c")
	put(ctx, "d")
	check("a durable write after deferred ones", afterCrash("a", "b", "c", "d"), "a", "b", "c", "d")

	put(deferred, "e")
	put(deferred, "f")
	check("deferred writes", afterCrash("e", "f"))
	if err := db.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	check("deferred writes, then Sync", afterCrash("e", "f"), "e", "f")

	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Sync(ctx); err == nil {
		t.Error("Sync of a closed store succeeded")
	}
}
