package embedded

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/store/storetest"
)

// diskFull is an errorfs injector: once armed, every write and sync of the
// files whose names contain match fails with ENOSPC, as on a full disk.
type diskFull struct {
	match string
	armed atomic.Bool
	hits  atomic.Int64
}

func (d *diskFull) String() string { return "disk full on *" + d.match + "*" }

func (d *diskFull) MaybeError(op errorfs.Op) error {
	if !d.armed.Load() || !strings.Contains(op.Path, d.match) {
		return nil
	}
	switch op.Kind {
	case errorfs.OpFileWrite, errorfs.OpFileWriteAt, errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo:
		d.hits.Add(1)
		return fmt.Errorf("injected: %w", syscall.ENOSPC)
	}
	return nil
}

// What within returns for an operation that panicked or hung (the test
// has failed).
var (
	errPanicked = errors.New("panicked")
	errHung     = errors.New("hung")
)

// within runs op and returns its error; an op that panics or does not
// return within d (a hang) fails the test (t.Errorf: within runs in
// goroutines too) and returns errPanicked or errHung.
func within(t *testing.T, d time.Duration, what string, op func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("panic: %v", p)
			}
		}()
		done <- op()
	}()
	select {
	case err := <-done:
		if err != nil && strings.HasPrefix(err.Error(), "panic: ") {
			t.Errorf("%s panicked: %v", what, err)
			return errPanicked
		}
		return err
	case <-time.After(d):
		t.Errorf("%s did not return within %v", what, d)
		return errHung
	}
}

// wantUnavailable fails the test unless err is the store's failure.
func wantUnavailable(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrUnavailable) || apperr.KindOf(err) != apperr.StoreUnavailable {
		t.Errorf("%s: %v, want an error wrapping store.ErrUnavailable", what, err)
	}
}

// A write-ahead log that can no longer be written (ENOSPC on its write or
// sync) fails the store for good: the writes waiting for that sync and every
// later operation return store.ErrUnavailable at once, none hangs, Ping
// reports the failure, and Close works. Reopened on the real file system,
// the store holds every write that was acknowledged.
func TestLogWriteFailureFailsStore(t *testing.T) {
	for _, defer_ := range []bool{false, true} {
		t.Run(fmt.Sprintf("DeferSync=%v", defer_), func(t *testing.T) {
			testLogWriteFailure(t, defer_)
		})
	}
}

func testLogWriteFailure(t *testing.T, deferSync bool) {
	const limit = 10 * time.Second
	dir := t.TempDir()
	inj := &diskFull{match: ".log"}
	opts := testOptions
	opts.FS = errorfs.Wrap(vfs.Default, inj)
	db, err := Open(dir, storetest.Schemas(), opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	key := func(w, i int) store.Key {
		return store.Key{Table: storetest.TableItems, PK: fmt.Sprintf("W%d", w), SK: fmt.Sprintf("%06d", i)}
	}
	put := func(ctx context.Context, k store.Key) error {
		return db.Put(ctx, store.Put{Key: k, Item: store.Item{"owner": store.S(k.PK), "created": store.S(k.SK)}})
	}
	const workers = 8
	var (
		mu    sync.Mutex
		acked []store.Key
	)
	// Acknowledged writes from concurrent writers (commits share syncs).
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				wctx := ctx
				if deferSync {
					wctx = store.DeferSync(ctx)
				}
				if err := put(wctx, key(w, i)); err != nil {
					t.Errorf("put before the fault: %v", err)
					return
				}
				if deferSync && i%10 == 9 {
					if err := db.Sync(ctx); err != nil {
						t.Errorf("sync before the fault: %v", err)
						return
					}
				}
				mu.Lock()
				acked = append(acked, key(w, i))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if deferSync {
		if err := db.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if t.Failed() {
		return
	}

	// The disk fills: every writer in the group of the failing sync gets
	// the error, none is acknowledged.
	inj.armed.Store(true)
	errs := make([]error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[w] = within(t, limit, "a write during the fault", func() error {
				if deferSync {
					if err := put(store.DeferSync(ctx), key(w, 1000)); err != nil {
						return err
					}
					return db.Sync(ctx)
				}
				return put(ctx, key(w, 1000))
			})
		}()
	}
	wg.Wait()
	if inj.hits.Load() == 0 {
		t.Fatal("no log write or sync reached the injected fault")
	}
	for w, err := range errs {
		wantUnavailable(t, fmt.Sprintf("writer %d during the fault", w), err)
	}

	// Later writes fail at once, also once the log's blocks would have
	// filled up, and although the disk has room again.
	big := strings.Repeat("x", 8<<10)
	for i := range 64 {
		err := within(t, limit, "a large put after the fault", func() error {
			return db.Put(ctx, store.Put{Key: key(2, 2000+i), Item: store.Item{"pad": store.S(big)}})
		})
		wantUnavailable(t, "a large put after the fault", err)
		if err == errHung {
			break
		}
	}
	inj.armed.Store(false)
	start := time.Now()
	wantUnavailable(t, "put after the fault", within(t, limit, "put after the fault", func() error { return put(ctx, key(0, 2000)) }))
	wantUnavailable(t, "transact after the fault", within(t, limit, "transact after the fault", func() error {
		return db.Transact(ctx, []store.Write{{Put: &store.Put{Key: key(1, 2000), Item: store.Item{}}}, {Delete: &store.Delete{Key: acked[0]}}})
	}))
	wantUnavailable(t, "update after the fault", within(t, limit, "update after the fault", func() error {
		_, err := db.Update(ctx, store.Update{Key: acked[1], Actions: []store.Action{store.Set("n", store.MustN("1"))}})
		return err
	}))
	wantUnavailable(t, "sync after the fault", within(t, limit, "sync after the fault", func() error { return db.Sync(ctx) }))
	// Reads fail at once too: the memtable may hold writes that were never
	// acknowledged and may be gone after a restart.
	wantUnavailable(t, "get after the fault", within(t, limit, "get after the fault", func() error { _, err := db.Get(ctx, acked[2]); return err }))
	wantUnavailable(t, "query after the fault", within(t, limit, "query after the fault", func() error {
		_, err := db.Query(ctx, store.Query{Table: storetest.TableItems, Index: storetest.IndexOwner, PK: "W0"})
		return err
	}))
	wantUnavailable(t, "ping after the fault", within(t, limit, "ping after the fault", func() error { return db.Ping(ctx) }))
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("operations after the fault took %v, want them to fail at once", d)
	}
	if err := within(t, limit, "close after the fault", db.Close); err == errHung {
		t.FailNow()
	}

	// A restart recovers from the log: every acknowledged write is there.
	db = openTest(t, dir, storetest.Schemas())
	got, missing := 0, 0
	for _, k := range acked {
		if _, err := db.Get(ctx, k); err != nil {
			missing++
			if missing <= 3 {
				t.Errorf("acknowledged %s after reopen: %v", k, err)
			}
			continue
		}
		got++
	}
	if missing > 0 || got != workers*50 {
		t.Fatalf("after reopen: %d of %d acknowledged writes, %d missing", got, workers*50, missing)
	}
	if err := put(ctx, key(0, 3000)); err != nil {
		t.Fatalf("put after reopen: %v", err)
	}
}

// Open on a full disk returns an error with the cause, and neither panics
// nor hangs: Pebble calls Fatalf (see pebbleLogger) on the MANIFEST of a
// new store it cannot write, and retries for good the flush of the log it
// replays when the flush's table cannot be written.
func TestOpenOnFullDiskFails(t *testing.T) {
	ctx := context.Background()
	k := store.Key{Table: storetest.TableItems, PK: "P", SK: "S"}
	for _, tc := range []struct {
		name, match string
		data        bool
	}{
		{"new store, manifest", "MANIFEST", false},
		{"store with a log to replay, table", ".sst", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.data {
				db := openTest(t, dir, storetest.Schemas())
				if err := db.Put(ctx, store.Put{Key: k, Item: store.Item{"n": store.S("1")}}); err != nil {
					t.Fatal(err)
				}
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
			}
			full := &diskFull{match: tc.match}
			full.armed.Store(true)
			opts := testOptions
			opts.FS = errorfs.Wrap(vfs.Default, full)
			err := within(t, 10*time.Second, "open", func() error {
				db, err := Open(dir, storetest.Schemas(), opts)
				if err == nil {
					db.Close()
				}
				return err
			})
			if err == errHung || err == errPanicked {
				t.FailNow()
			}
			if err == nil || !errors.Is(err, syscall.ENOSPC) || !strings.HasPrefix(err.Error(), "embedded: open "+dir+": ") {
				t.Fatalf("open on a full disk = %v, want embedded: open %s: ...: ENOSPC", err, dir)
			}
			if full.hits.Load() == 0 {
				t.Fatal("no write reached the injected fault")
			}
			if !tc.data {
				return
			}
			// Pebble's Open goes on in the background, retrying the flush,
			// and closes the store once the disk has room.
			full.armed.Store(false)
			deadline := time.Now().Add(10 * time.Second)
			for {
				db, err := Open(dir, storetest.Schemas(), testOptions)
				if err == nil {
					t.Cleanup(func() { db.Close() })
					if _, err := db.Get(ctx, k); err != nil {
						t.Fatalf("after the failed open: %v", err)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("reopen once the disk has room: %v", err)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// A MANIFEST that a background job of Pebble's cannot write (the flush of
// the log Open replays, here) ends the process with status 1 and one line
// (no panic, no goroutine dump, no hang).
func TestBackgroundFatalExits(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := openTest(t, dir, storetest.Schemas())
	if err := db.Put(ctx, store.Put{Key: store.Key{Table: storetest.TableItems, PK: "P", SK: "S"}, Item: store.Item{}}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan int, 1)
	exit = func(code int) {
		exited <- code
		select {} // as if the process had ended: this goroutine holds Pebble's mutex
	}
	t.Cleanup(func() { exit = os.Exit })
	full := &diskFull{match: "MANIFEST"}
	full.armed.Store(true)
	var logs bytes.Buffer
	opts := testOptions
	opts.FS = errorfs.Wrap(vfs.Default, full)
	opts.Logger = slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))
	go func() {
		if db, err := Open(dir, storetest.Schemas(), opts); err == nil {
			db.Close()
		}
	}()
	select {
	case code := <-exited:
		if code != 1 {
			t.Fatalf("exit(%d), want exit(1)", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit within 10s")
	}
	if got := logs.String(); !strings.Contains(got, "MANIFEST") || !strings.Contains(got, "exiting") {
		t.Fatalf("logs before the exit: %q", got)
	}
}

// syncWriter serialises writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// A memtable that cannot be flushed (its table cannot be written) fails the
// store: writes fail at once instead of filling the memtables until they
// stall for good.
func TestFlushFailureFailsStore(t *testing.T) {
	ctx := context.Background()
	inj := &diskFull{match: ".sst"}
	opts := testOptions
	opts.MemTableSize = 1 << 20
	opts.FS = errorfs.Wrap(vfs.Default, inj)
	dir := t.TempDir()
	db, err := Open(dir, storetest.Schemas(), opts)
	if err != nil {
		t.Fatal(err)
	}
	inj.armed.Store(true)
	big := strings.Repeat("x", 8<<10)
	var acked []store.Key
	var last error
	for i := 0; i < 4000 && last == nil; i++ { // 32 MiB: memtables of 1 MiB stall long before
		k := store.Key{Table: storetest.TableItems, PK: "P", SK: fmt.Sprintf("%06d", i)}
		last = within(t, 10*time.Second, "a put while flushes fail", func() error {
			return db.Put(ctx, store.Put{Key: k, Item: store.Item{"pad": store.S(big)}})
		})
		if last == nil {
			acked = append(acked, k)
		}
	}
	if last == errHung || last == errPanicked {
		t.FailNow()
	}
	wantUnavailable(t, "a put while flushes fail", last)
	if inj.hits.Load() == 0 {
		t.Fatal("no table write reached the injected fault")
	}
	wantUnavailable(t, "ping", within(t, 10*time.Second, "ping", func() error { return db.Ping(ctx) }))
	inj.armed.Store(false)
	if err := within(t, 10*time.Second, "close", db.Close); err == errHung {
		t.FailNow()
	}
	db = openTest(t, dir, storetest.Schemas())
	for _, k := range acked {
		if _, err := db.Get(ctx, k); err != nil {
			t.Fatalf("acknowledged %s after reopen: %v", k, err)
		}
	}
	t.Logf("%d writes acknowledged before the failed flush failed the store", len(acked))
}

// A flush that writes no table (Pebble reports it with an error in
// FlushEnd) does not fail the store.
func TestEmptyFlushKeepsStore(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, t.TempDir(), storetest.Schemas())
	for range 2 {
		if err := db.pdb.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("ping after empty flushes: %v", err)
	}
	k := store.Key{Table: storetest.TableItems, PK: "P", SK: "S"}
	if err := db.Put(ctx, store.Put{Key: k, Item: store.Item{}}); err != nil {
		t.Fatal(err)
	}
	if err := db.pdb.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Get(ctx, k); err != nil {
		t.Fatalf("get after a flush: %v", err)
	}
}
