package embedded

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/orderprocessor/orderprocessor/store"
)

// BenchmarkTransact2R3W measures the order-placement shape: read two items
// (Get), then one durable transaction of three conditional writes (debit a
// balance under balance >= amount, credit a holding that must exist, insert
// a ledger entry that must not), at 1 and 16 concurrent writers.
//
//	go test -run '^$' -bench Transact2R3W -benchtime 20000x ./store/embedded/
func BenchmarkTransact2R3W(b *testing.B) {
	for _, writers := range benchWriters() {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			benchTransact(b, writers)
		})
	}
}

func benchTransact(b *testing.B, writers int) {
	const users = 10000
	db, err := Open(b.TempDir(), []store.TableSchema{{Name: "users"}}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	balance := func(u int) store.Key {
		return store.Key{Table: "users", PK: fmt.Sprintf("USER#u%05d", u), SK: "BALANCE#USD"}
	}
	holding := func(u int) store.Key {
		return store.Key{Table: "users", PK: fmt.Sprintf("USER#u%05d", u), SK: "ASSET#BTC"}
	}
	for u := 0; u < users; u += 100 {
		var ws []store.Write
		for v := u; v < u+100; v++ {
			ws = append(ws,
				store.Write{Put: &store.Put{Key: balance(v), Item: store.Item{"current_balance": store.MustN("1000000.00"), "held_balance": store.Int(0), "currency": store.S("USD"), "version": store.Int(1)}}},
			)
		}
		if err := db.Transact(ctx, ws); err != nil {
			b.Fatal(err)
		}
		ws = ws[:0]
		for v := u; v < u+100; v++ {
			ws = append(ws, store.Write{Put: &store.Put{Key: holding(v), Item: store.Item{"quantity": store.Int(0), "asset_id": store.S("BTC")}}})
		}
		if err := db.Transact(ctx, ws); err != nil {
			b.Fatal(err)
		}
	}
	price := store.MustN("-12.34")
	qty := store.MustN("0.00012345")
	var next atomic.Int64
	var failures atomic.Int64
	syncs0, syncNanos0 := fsyncStats(b, db)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				u := int(i*7919) % users
				if _, err := db.Get(ctx, balance(u)); err != nil {
					failures.Add(1)
					continue
				}
				if _, err := db.Get(ctx, holding(u)); err != nil {
					failures.Add(1)
					continue
				}
				err := db.Transact(ctx, []store.Write{
					{Update: &store.Update{Key: balance(u), Cond: store.Ge("current_balance", store.MustN("12.34")),
						Actions: []store.Action{store.Add("current_balance", price), store.Add("version", store.Int(1))}}},
					{Update: &store.Update{Key: holding(u), Cond: store.ItemExists(),
						Actions: []store.Action{store.Add("quantity", qty)}}},
					{Put: &store.Put{Key: store.Key{Table: "users", PK: balance(u).PK, SK: fmt.Sprintf("TX#%012d", i)},
						Item: store.Item{"type": store.S("purchase"), "amount": price, "status": store.S("completed"), "asset": store.S("BTC")},
						Cond: store.ItemNotExists()}},
				})
				if err != nil {
					failures.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if f := failures.Load(); f > 0 {
		b.Fatalf("%d failed transactions", f)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "txns/s")
	if syncs, syncNanos := fsyncStats(b, db); syncs > syncs0 {
		n := float64(syncs - syncs0)
		b.ReportMetric(float64(b.N)/n, "txns/fsync")
		b.ReportMetric((syncNanos-syncNanos0)/n/1e3, "µs/fsync")
	}
}

// fsyncStats returns the number of WAL fsyncs so far and their total
// latency in nanoseconds.
func fsyncStats(b *testing.B, db *DB) (uint64, float64) {
	h := db.pdb.Metrics().LogWriter.FsyncLatency
	if h == nil {
		return 0, 0
	}
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		b.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()
}

// benchWriters returns the writer counts to measure: 1 and 16, or the list
// in EMBEDDED_BENCH_WRITERS (comma-separated).
func benchWriters() []int {
	v := os.Getenv("EMBEDDED_BENCH_WRITERS")
	if v == "" {
		return []int{1, 16}
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}
