package embedded

import (
	"fmt"
	"log/slog"
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
	err atomic.Pointer[error]
	log *slog.Logger
}

// set records cause as the store's failure, unless a failure is recorded
// already, and returns the recorded failure.
func (f *fault) set(cause error) error {
	err := fmt.Errorf("embedded: %w: %w", store.ErrUnavailable, cause)
	if f.err.CompareAndSwap(nil, &err) {
		f.log.Error("embedded store failed: it refuses every operation until the process restarts",
			"component", "pebble", "err", cause)
		return err
	}
	return *f.err.Load()
}

// get returns the store's failure, nil while it has none.
func (f *fault) get() error {
	if p := f.err.Load(); p != nil {
		return *p
	}
	return nil
}

// recoverFatal, deferred, turns a panic (Pebble's Fatalf, see pebbleLogger,
// or a panic of Pebble's commit pipeline) into the store's failure, returned
// in *err.
func (f *fault) recoverFatal(err *error) {
	if p := recover(); p != nil {
		*err = f.set(fmt.Errorf("pebble: %v", p))
	}
}

// errEmptyFlush is the message of the error Pebble reports in FlushEnd for
// a flush that wrote no table: not a failure.
const errEmptyFlush = "pebble: empty table"

// listener returns the Pebble event listener that records failed flushes
// as the store's failure.
func (f *fault) listener() *pebble.EventListener {
	return &pebble.EventListener{
		FlushEnd: func(info pebble.FlushInfo) {
			if info.Err != nil && info.Err.Error() != errEmptyFlush {
				f.set(fmt.Errorf("flush: %w", info.Err))
			}
		},
	}
}

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
