package embedded

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"

	"github.com/orderprocessor/orderprocessor/store"
)

// fault is the failure of a store: the first error after which Pebble can
// no longer be trusted to make writes durable. Those errors are
//   - a failed write, sync, creation or close of the write-ahead log (walFS
//     reports it: after a failed sync the state of the log file is
//     undefined, and Pebble itself panics on such errors while holding its
//     commit pipeline's mutex, which leaves every later commit waiting for
//     good);
//   - a failed flush of a memtable (a full disk, mostly): Pebble retries it,
//     but the writes that follow fill the memtables until writes stall,
//     waiting for a flush that does not come;
//   - a panic of Pebble's logger's Fatalf in a commit, or in Open.
//
// The failure is sticky: from then on every operation returns an error
// wrapping store.ErrUnavailable at once (enter checks it, one atomic load),
// and Ping reports it, until the process restarts. Reads fail too: Pebble's
// memtable may hold writes whose sync failed, which were answered as
// failures and may be gone after the restart. A restart recovers from the
// log, which holds every acknowledged write: a write is acknowledged only
// after its sync succeeded and the store was not failed by then (commit
// checks the failure after Pebble returns, and walFS records a failed sync
// before any of its waiters is released).
type fault struct {
	failure atomic.Pointer[failure]
	failed  chan struct{} // closed when failure is set
	// log receives the failure when it happens; nil while Open runs, which
	// returns the failure's cause.
	log atomic.Pointer[slog.Logger]
}

// newFault returns a store's fault state, without a failure.
func newFault() *fault { return &fault{failed: make(chan struct{})} }

// failure is a store's failure: err, wrapping store.ErrUnavailable and cause.
type failure struct{ err, cause error }

// set records cause as the store's failure, unless a failure is recorded
// already, and returns the recorded failure.
func (f *fault) set(cause error) error {
	fl := &failure{err: fmt.Errorf("embedded: %w: %w", store.ErrUnavailable, cause), cause: cause}
	if !f.failure.CompareAndSwap(nil, fl) {
		return f.failure.Load().err
	}
	close(f.failed)
	if log := f.log.Load(); log != nil {
		log.Error("embedded store failed: it refuses every operation until the process restarts",
			"component", "pebble", "err", cause)
	}
	return fl.err
}

// get returns the store's failure, nil while it has none.
func (f *fault) get() error {
	if fl := f.failure.Load(); fl != nil {
		return fl.err
	}
	return nil
}

// cause returns the cause of the store's failure, nil while it has none.
func (f *fault) cause() error {
	if fl := f.failure.Load(); fl != nil {
		return fl.cause
	}
	return nil
}

// recoverFatal, deferred, turns a panic (Pebble's Fatalf, see pebbleLogger,
// or a panic of Pebble's commit pipeline) into the store's failure, returned
// in *err.
func (f *fault) recoverFatal(err *error) {
	switch p := recover().(type) {
	case nil:
	case fatalError:
		*err = f.set(p)
	default:
		*err = f.set(fmt.Errorf("pebble panicked: %v", p))
	}
}

// fatalError is the panic of pebbleLogger.Fatalf: its message, and the
// first error among its arguments.
type fatalError struct {
	msg string
	err error
}

func (e fatalError) Error() string { return e.msg }
func (e fatalError) Unwrap() error { return e.err }

// errEmptyFlush is the message of the error Pebble reports in FlushEnd for
// a flush that wrote no table: not a failure.
const errEmptyFlush = "pebble: empty table"

// listener returns the Pebble event listener that records failed flushes
// as the store's failure, and logs Pebble's background errors to log: at
// error level while the store has not failed, then at debug level (Pebble
// retries a failed flush at once, again and again).
func (f *fault) listener(log *slog.Logger) *pebble.EventListener {
	return &pebble.EventListener{
		FlushEnd: func(info pebble.FlushInfo) {
			if info.Err != nil && info.Err.Error() != errEmptyFlush {
				f.set(fmt.Errorf("flush: %w", info.Err))
			}
		},
		BackgroundError: func(err error) {
			level := slog.LevelError
			if f.get() != nil {
				level = slog.LevelDebug
			}
			log.Log(context.Background(), level, "background error: "+err.Error(), "component", "pebble")
		},
	}
}

// openPebble is pebble.Open, with a panic (Pebble's Fatalf: a MANIFEST that
// cannot be written on a full disk, say) returned as an error, and which
// returns as soon as the store fails: Pebble's Open waits for the flush of
// the memtables it replayed from the log, and retries a failed flush for as
// long as it fails. Pebble's Open then goes on in the background, and the
// store it opens, if it ever does, is closed.
func openPebble(dir string, opts *pebble.Options, f *fault) (*pebble.DB, error) {
	type result struct {
		pdb *pebble.DB
		err error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() { done <- r }()
		defer f.recoverFatal(&r.err)
		r.pdb, r.err = pebble.Open(dir, opts)
	}()
	select {
	case r := <-done:
		return r.pdb, r.err
	case <-f.failed:
		go func() {
			if r := <-done; r.pdb != nil {
				_ = r.pdb.Close()
			}
		}()
		return nil, f.get()
	}
}

// recovering reports whether the calling goroutine runs one of the calls
// into Pebble that recover a fatalError (commitBatch, openPebble).
func recovering() bool {
	pcs := make([]uintptr, 256)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for {
		fr, more := frames.Next()
		if strings.HasPrefix(fr.Function, pkgPath+".(*DB).commitBatch") || strings.HasPrefix(fr.Function, pkgPath+".openPebble.") {
			return true
		}
		if !more {
			return false
		}
	}
}

// pkgPath is this package's import path, as function names begin.
const pkgPath = "github.com/orderprocessor/orderprocessor/store/embedded"

// commitBatch commits b with opts and returns the store's failure when it
// failed meanwhile (the batch is then not acknowledged: its sync may have
// failed).
func (db *DB) commitBatch(b *pebble.Batch, opts *pebble.WriteOptions) (err error) {
	defer db.fault.recoverFatal(&err)
	if err := b.Commit(opts); err != nil {
		return err
	}
	return db.fault.get()
}
