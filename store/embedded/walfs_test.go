package embedded

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/orderprocessor/orderprocessor/store"
)

// TestWALFSGathersLogWrites: a log file's writes reach the file at its
// sync, its close, or once walFlushBytes have gathered, and whenever the file
// is read or stat'ed; other files are written through.
func TestWALFSGathersLogWrites(t *testing.T) {
	mem := vfs.NewMem()
	fs := walFS{FS: mem, fault: newFault()}
	size := func(name string) int64 {
		t.Helper()
		info, err := mem.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		return info.Size()
	}
	write := func(f vfs.File, p []byte) {
		t.Helper()
		if n, err := f.Write(p); err != nil || n != len(p) {
			t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(p))
		}
	}

	f, err := fs.Create("000001.log", vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	write(f, []byte("abc"))
	write(f, []byte("de"))
	if got := size("000001.log"); got != 0 {
		t.Fatalf("after two writes the file holds %d bytes, want 0 (gathered)", got)
	}
	if err := f.SyncData(); err != nil {
		t.Fatal(err)
	}
	if got := size("000001.log"); got != 5 {
		t.Fatalf("after SyncData the file holds %d bytes, want 5", got)
	}
	write(f, []byte("f"))
	if info, err := f.Stat(); err != nil || info.Size() != 6 {
		t.Fatalf("Stat through the log file = %v, %v; want 6 bytes", info, err)
	}
	write(f, []byte("g"))
	if _, err := f.SyncTo(7); err != nil {
		t.Fatal(err)
	}
	if got := size("000001.log"); got != 7 {
		t.Fatalf("after SyncTo the file holds %d bytes, want 7", got)
	}
	big := bytes.Repeat([]byte("x"), walFlushBytes)
	write(f, big)
	if got := size("000001.log"); got != 7+walFlushBytes {
		t.Fatalf("after %d bytes gathered the file holds %d bytes, want %d", walFlushBytes, got, 7+walFlushBytes)
	}
	write(f, []byte("h"))
	buf := make([]byte, 1)
	if n, err := f.ReadAt(buf, 7+walFlushBytes); err != nil || n != 1 || buf[0] != 'h' {
		t.Fatalf("ReadAt of the last byte = %d, %v, %q; want 1, nil, \"h\"", n, err, buf)
	}
	if n, err := f.WriteAt([]byte("H"), 7+walFlushBytes); err != nil || n != 1 {
		t.Fatalf("WriteAt = %d, %v; want 1, nil", n, err)
	}
	write(f, []byte("i"))
	if n, err := f.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("Read at the end = %d, %v; want 0, EOF", n, err)
	}
	if got := size("000001.log"); got != 9+walFlushBytes {
		t.Fatalf("after Read the file holds %d bytes, want %d", got, 9+walFlushBytes)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	rf, err := mem.Open("000001.log")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rf)
	if err != nil {
		t.Fatal(err)
	}
	rf.Close()
	want := append(append([]byte("abcdefg"), big...), "Hi"...)
	if !bytes.Equal(got, want) {
		t.Fatalf("the closed file holds %d bytes, want %d, in write order", len(got), len(want))
	}

	// A reused log file is gathered too; other files are written through.
	r, err := fs.ReuseForWrite("000001.log", "000002.log", vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.(*walFile); !ok {
		t.Errorf("ReuseForWrite of a log returned %T, want *walFile", r)
	}
	o, err := fs.Create("MANIFEST-000003", vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	write(o, []byte("m"))
	if got := size("MANIFEST-000003"); got != 1 {
		t.Fatalf("a manifest write left %d bytes in the file, want 1 (written through)", got)
	}
	for _, c := range []io.Closer{r, o} {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// wantFault fails the test unless f holds a failure wrapping
// store.ErrUnavailable and cause, with text.
func wantFault(t *testing.T, f *fault, cause error, text string) {
	t.Helper()
	err := f.get()
	if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, cause) || !strings.Contains(err.Error(), text) {
		t.Fatalf("the store's failure = %v, want one wrapping store.ErrUnavailable and %v, saying %q", err, cause, text)
	}
}

// TestWALFSWriteError: a gathered write that fails, when the sync writes
// it, fails the store; the sync and every later operation of the file
// report success to Pebble and never touch the file again (Pebble panics on
// a log error; the engine refuses the writes itself, see fault).
func TestWALFSWriteError(t *testing.T) {
	boom := errors.New("disk full")
	file := &failingFile{writeErr: boom}
	fa := newFault()
	f := &walFile{File: file, fault: fa}
	if _, err := f.Write([]byte("abc")); err != nil || fa.get() != nil {
		t.Fatalf("a gathered write failed at once: %v, %v", err, fa.get())
	}
	if err := f.SyncData(); err != nil {
		t.Fatalf("SyncData = %v, want nil (the failure is the store's)", err)
	}
	wantFault(t, fa, boom, "write log: disk full")
	if n, err := f.Write([]byte("d")); n != 1 || err != nil {
		t.Fatalf("Write after a failed write = %d, %v; want 1, nil (dropped)", n, err)
	}
	if n, err := f.WriteAt([]byte("d"), 0); n != 1 || err != nil {
		t.Fatalf("WriteAt after a failed write = %d, %v; want 1, nil (dropped)", n, err)
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("Sync after a failed write = %v, want nil", err)
	}
	if _, err := f.SyncTo(4); err != nil {
		t.Fatalf("SyncTo after a failed write = %v, want nil", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("Close after a failed write = %v, want nil", err)
	}
	if file.writes != 1 || file.syncs != 0 || !file.closed {
		t.Fatalf("the file saw %d writes and %d syncs (closed: %v); want the failed write only, then its close", file.writes, file.syncs, file.closed)
	}
	if err := fa.get(); !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("a later error replaced the first failure: %v", err)
	}
}

// TestWALFSSyncError: a failed sync fails the store, and is reported to
// Pebble as a success.
func TestWALFSSyncError(t *testing.T) {
	boom := errors.New("EIO")
	file := &failingFile{syncErr: boom}
	fa := newFault()
	f := &walFile{File: file, fault: fa}
	if _, err := f.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("Sync = %v, want nil (the failure is the store's)", err)
	}
	wantFault(t, fa, boom, "sync log: EIO")
	if _, err := f.Write([]byte("d")); err != nil {
		t.Fatal(err)
	}
	if err := f.SyncData(); err != nil {
		t.Fatal(err)
	}
	if file.writes != 1 || file.syncs != 1 {
		t.Fatalf("the file saw %d writes and %d syncs, want 1 and 1 (nothing after the failed sync)", file.writes, file.syncs)
	}
}

// TestWALFSFlushErrors: a write that reaches walFlushBytes fails the store
// at once when its flush fails, and a short write is a failure, not a
// silent hole.
func TestWALFSFlushErrors(t *testing.T) {
	boom := errors.New("disk full")
	fa := newFault()
	f := &walFile{File: &failingFile{writeErr: boom}, fault: fa}
	if n, err := f.Write(make([]byte, walFlushBytes)); n != walFlushBytes || err != nil {
		t.Fatalf("a write of walFlushBytes on a failing file = %d, %v; want all, nil", n, err)
	}
	wantFault(t, fa, boom, "write log: disk full")
	fa = newFault()
	short := &walFile{File: shortFile{}, fault: fa}
	if _, err := short.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	if err := short.SyncData(); err != nil || fa.get() == nil || !strings.Contains(fa.get().Error(), "short write: 1 of 3 bytes") {
		t.Fatalf("SyncData after a short write = %v, failure %v; want nil and a short-write failure", err, fa.get())
	}
}

// TestWALFSCreateError: a log that cannot be created fails the store, and
// Pebble gets a file that is never written (it panics on the error).
func TestWALFSCreateError(t *testing.T) {
	mem := vfs.NewMem()
	fa := newFault()
	fs := walFS{FS: mem, fault: fa}
	f, err := fs.Create("missing/000001.log", vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatalf("Create of a log in a missing directory = %v, want a failed file", err)
	}
	wantFault(t, fa, os.ErrNotExist, "create log missing/000001.log")
	if _, err := f.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if info, err := f.Stat(); err != nil || info.Size() != 0 {
		t.Fatalf("Stat of the failed log = %v, %v; want 0 bytes", info, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.ReuseForWrite("000009.log", "000010.log", vfs.WriteCategoryUnspecified); err != nil {
		t.Fatalf("ReuseForWrite of a missing log = %v, want a failed file", err)
	}
	if _, err := fs.Create("missing/MANIFEST-000001", vfs.WriteCategoryUnspecified); err == nil {
		t.Fatal("Create of another file in a missing directory succeeded")
	}
}

// shortFile is a file whose writes write one byte and report no error.
type shortFile struct{ vfs.File }

func (shortFile) Write([]byte) (int, error) { return 1, nil }
func (shortFile) SyncData() error           { return nil }

// failingFile is a file whose writes fail with writeErr and syncs with
// syncErr (when not nil), and that counts them.
type failingFile struct {
	vfs.File
	writeErr, syncErr error
	writes, syncs     int
	closed            bool
}

func (f *failingFile) Write(p []byte) (int, error) {
	f.writes++
	if f.writeErr != nil {
		return 0, f.writeErr
	}
	return len(p), nil
}

func (f *failingFile) Sync() error     { f.syncs++; return f.syncErr }
func (f *failingFile) SyncData() error { f.syncs++; return f.syncErr }
func (f *failingFile) Close() error    { f.closed = true; return nil }
