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
type walFS struct{ vfs.FS }

// walFlushBytes bounds the log bytes gathered before they are written
// without a sync (writes committed under DeferSync, say).
const walFlushBytes = 1 << 20

// isWAL reports whether name is a write-ahead log file (Pebble names them
// NNNNNN.log; no other file of a store ends so).
func isWAL(name string) bool { return strings.HasSuffix(name, ".log") }

func (fs walFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, category)
	if err != nil || !isWAL(name) {
		return f, err
	}
	return &walFile{File: f}, nil
}

func (fs walFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, category)
	if err != nil || !isWAL(newname) {
		return f, err
	}
	return &walFile{File: f}, nil
}

// walFile is a log file being written: Write appends to buf, and every other
// operation first writes buf to the file, so that the file is as Pebble
// wrote it whenever it looks.
type walFile struct {
	vfs.File
	mu  sync.Mutex
	buf []byte
	err error // the first failed write: every later operation fails with it
}

// flush writes buf to the file. The caller holds mu.
func (f *walFile) flush() error {
	if f.err != nil || len(f.buf) == 0 {
		return f.err
	}
	n, err := f.File.Write(f.buf)
	if err == nil && n < len(f.buf) {
		err = fmt.Errorf("short write: %d of %d bytes", n, len(f.buf))
	}
	if err != nil {
		f.err = fmt.Errorf("embedded: write log: %w", err)
		return f.err
	}
	f.buf = f.buf[:0]
	return nil
}

func (f *walFile) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return 0, f.err
	}
	f.buf = append(f.buf, p...)
	if len(f.buf) >= walFlushBytes {
		if err := f.flush(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// flushed runs op after writing buf to the file.
func (f *walFile) flushed(op func() error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.flush(); err != nil {
		return err
	}
	return op()
}

func (f *walFile) Sync() error     { return f.flushed(f.File.Sync) }
func (f *walFile) SyncData() error { return f.flushed(f.File.SyncData) }

func (f *walFile) SyncTo(length int64) (fullSync bool, err error) {
	err = f.flushed(func() (err error) { fullSync, err = f.File.SyncTo(length); return err })
	return fullSync, err
}

func (f *walFile) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	err := f.flush()
	if cerr := f.File.Close(); err == nil {
		err = cerr
	}
	return err
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
	err = f.flushed(func() (err error) { n, err = f.File.WriteAt(p, off); return err })
	return n, err
}
