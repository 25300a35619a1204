package embedded

import (
	"fmt"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// walFS is the file system the engine gives Pebble: fs, except that the
// write-ahead log's writes are gathered in memory and reach the file when the
// log is synced (or closed, or walFlushBytes have gathered).
//
// Pebble's log writer writes whatever commits have added to the log each time
// it wakes, also while it holds back the next sync (Options.MinSyncInterval):
// under load, written through, that is a write system call for every one or
// two commits against ~400 syncs a second. Gathered, the log costs one write
// per sync.
//
// A commit that waits for its sync returns after its bytes were written and
// synced, in log order. What a crash may lose is what was never synced, and a
// process crash loses it as a machine crash does (the bytes are not in the
// page cache yet): commits under store.DeferSync before their Sync, and the
// expiry sweep's deletes, which it syncs at its end. Neither is answered as
// durable.
//
// A log that cannot be written (a failed write, sync, creation or close: a
// full disk) fails the store (see fault), and Pebble is not told: the file
// then drops whatever is written to it and reports success. Pebble panics on
// such an error while it holds its commit pipeline's mutex, after which
// every commit waits for good (and when the error comes as it switches to a
// new log, the panic unwinds into an unlock of a mutex it does not hold,
// which ends the process); told nothing, it stays consistent, and the
// engine fails every write itself. No write is acknowledged for it: the
// failure is recorded before the failed call returns to Pebble, so before
// any commit waiting for that sync is released, and a commit checks the
// failure when Pebble returns.
type walFS struct {
	vfs.FS
	fault *fault
}

// walFlushBytes bounds the log bytes gathered before they are written
// without a sync (writes committed under DeferSync, say).
const walFlushBytes = 1 << 20

// isWAL reports whether name is a write-ahead log file (Pebble names them
// NNNNNN.log; no other file of a store ends so).
func isWAL(name string) bool { return strings.HasSuffix(name, ".log") }

func (fs walFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, category)
	if !isWAL(name) {
		return f, err
	}
	return fs.logFile(name, f, err), nil
}

func (fs walFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, category)
	if !isWAL(newname) {
		return f, err
	}
	return fs.logFile(newname, f, err), nil
}

// logFile returns the walFile of the log file f named name, whose creation
// returned err. When err is not nil the store fails, and the log is a file
// of a memory file system that is never written.
func (fs walFS) logFile(name string, f vfs.File, err error) *walFile {
	if err == nil {
		return &walFile{File: f, fault: fs.fault}
	}
	fs.fault.set(fmt.Errorf("create log %s: %w", name, err))
	mem := vfs.NewMem()
	f, merr := mem.Create(mem.PathBase(name), vfs.WriteCategoryUnspecified)
	if merr != nil {
		panic(merr) // a memory file system's Create does not fail
	}
	return &walFile{File: f, fault: fs.fault, failed: true}
}

// walFile is a log file being written: Write appends to buf, and every other
// operation first writes buf to the file, so that the file is as Pebble
// wrote it whenever it looks. Once a write, sync or close of the file failed,
// the store has failed and the file is failed: writes and syncs are dropped
// and report success (see walFS).
type walFile struct {
	vfs.File
	fault  *fault
	mu     sync.Mutex
	buf    []byte
	failed bool
}

// fail records err, of operation op, as the store's failure and fails the
// file. The caller holds mu.
func (f *walFile) fail(op string, err error) {
	f.fault.set(fmt.Errorf("%s log: %w", op, err))
	f.failed, f.buf = true, nil
}

// flush writes buf to the file, and reports whether the file is not failed.
// The caller holds mu.
func (f *walFile) flush() bool {
	if f.failed || len(f.buf) == 0 {
		return !f.failed
	}
	n, err := f.File.Write(f.buf)
	if err == nil && n < len(f.buf) {
		err = fmt.Errorf("short write: %d of %d bytes", n, len(f.buf))
	}
	if err != nil {
		f.fail("write", err)
		return false
	}
	f.buf = f.buf[:0]
	return true
}

func (f *walFile) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.failed {
		f.buf = append(f.buf, p...)
		if len(f.buf) >= walFlushBytes {
			f.flush()
		}
	}
	return len(p), nil
}

// synced runs op, a sync, after writing buf to the file; a failed op fails
// the file. A failed file is not synced.
func (f *walFile) synced(op func() error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.flush() {
		return nil
	}
	if err := op(); err != nil {
		f.fail("sync", err)
	}
	return nil
}

// flushed runs op, which does not write, after writing buf to the file.
func (f *walFile) flushed(op func() error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flush()
	return op()
}

func (f *walFile) Sync() error     { return f.synced(f.File.Sync) }
func (f *walFile) SyncData() error { return f.synced(f.File.SyncData) }

func (f *walFile) SyncTo(length int64) (fullSync bool, err error) {
	err = f.synced(func() (err error) { fullSync, err = f.File.SyncTo(length); return err })
	return fullSync, err
}

func (f *walFile) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flush()
	if err := f.File.Close(); err != nil && !f.failed {
		f.fail("close", err)
	}
	return nil
}

func (f *walFile) Stat() (info vfs.FileInfo, err error) {
	err = f.flushed(func() (err error) { info, err = f.File.Stat(); return err })
	return info, err
}

func (f *walFile) Read(p []byte) (n int, err error) {
	err = f.flushed(func() (err error) { n, err = f.File.Read(p); return err })
	return n, err
}

func (f *walFile) ReadAt(p []byte, off int64) (n int, err error) {
	err = f.flushed(func() (err error) { n, err = f.File.ReadAt(p, off); return err })
	return n, err
}

func (f *walFile) WriteAt(p []byte, off int64) (n int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.flush() {
		return len(p), nil
	}
	if n, err = f.File.WriteAt(p, off); err != nil {
		f.fail("write", err)
		return len(p), nil
	}
	return n, nil
}
