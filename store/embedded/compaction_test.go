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

// TestOptionalCompactionsWaitForIdle: 8,000 index entries deleted make
// tombstone-dense files; while commits flow, no tombstone-density
// compaction runs, and once they stop one runs (and drops the tombstones
// from L0).
func TestOptionalCompactionsWaitForIdle(t *testing.T) {
	db := openTest(t, t.TempDir(), storetest.Schemas())
	ctx := context.Background()
	const n = 8_000
	write := func(status string) {
		t.Helper()
		for i := 0; i < n; i += 100 {
			ws := make([]store.Write, 0, 100)
			for j := i; j < i+100; j++ {
				it := store.Item{"v": store.Int(int64(j))}
				if status != "" {
					it["status"] = store.S(status)
				}
				ws = append(ws, store.Write{Put: &store.Put{Key: store.Key{Table: storetest.TableItems, PK: "P", SK: fmt.Sprintf("%06d", j)}, Item: it}})
			}
			if err := db.Transact(ctx, ws); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.pdb.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	write("queued") // in the by_status index

	// Commits flow from here: the compaction of the tombstones waits.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := db.Put(ctx, store.Put{Key: store.Key{Table: storetest.TableLedger, PK: "busy", SK: "x"}, Item: store.Item{"i": store.Int(int64(i))}}); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	write("") // out of the index: a tombstone per entry
	density := func() int64 { return db.pdb.Metrics().Compact.TombstoneDensityCount }
	time.Sleep(2 * time.Second)
	held := density()
	close(stop)
	wg.Wait()
	if held != 0 {
		t.Fatalf("%d tombstone-density compactions while commits flowed, want 0", held)
	}
	// Idle: it runs.
	for deadline := time.Now().Add(20 * time.Second); density() == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no tombstone-density compaction 20 s after the commits stopped; L0 has %d files", db.pdb.Metrics().Levels[0].TablesCount)
		}
	}
}
