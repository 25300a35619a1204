package embedded

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestWALFSGathersLogWrites: a log file's writes reach the file at its
// sync, its close, or once walFlushBytes have gathered, and whenever the file
// is read or stat'ed; other files are written through.
func TestWALFSGathersLogWrites(t *testing.T) {
	mem := vfs.NewMem()
	fs := walFS{mem}
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

// TestWALFSWriteError: a gathered write that fails is reported by the sync
// that writes it, and by every later operation: the log never goes on past a
// hole.
func TestWALFSWriteError(t *testing.T) {
	boom := errors.New("disk full")
	f := &walFile{File: failingFile{err: boom}}
	if _, err := f.Write([]byte("abc")); err != nil {
		t.Fatalf("a gathered write failed at once: %v", err)
	}
	if err := f.SyncData(); !errors.Is(err, boom) {
		t.Fatalf("SyncData = %v, want the write's error", err)
	}
	if _, err := f.Write([]byte("d")); !errors.Is(err, boom) {
		t.Fatalf("Write after a failed write = %v, want the write's error", err)
	}
	if err := f.Sync(); !errors.Is(err, boom) {
		t.Fatalf("Sync after a failed write = %v, want the write's error", err)
	}
	if err := f.Close(); !errors.Is(err, boom) {
		t.Fatalf("Close after a failed write = %v, want the write's error", err)
	}
}

// TestWALFSFlushErrors: a write that reaches walFlushBytes fails at once
// when its flush fails, and a short write is an error, not a silent hole.
func TestWALFSFlushErrors(t *testing.T) {
	boom := errors.New("disk full")
	f := &walFile{File: failingFile{err: boom}}
	if _, err := f.Write(make([]byte, walFlushBytes)); !errors.Is(err, boom) {
		t.Fatalf("a write of walFlushBytes on a failing file = %v, want the write's error", err)
	}
	short := &walFile{File: shortFile{}}
	if _, err := short.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	if err := short.SyncData(); err == nil || !strings.Contains(err.Error(), "short write: 1 of 3 bytes") {
		t.Fatalf("SyncData after a short write = %v, want a short-write error", err)
	}
}

// shortFile is a file whose writes write one byte and report no error.
type shortFile struct{ vfs.File }

func (shortFile) Write([]byte) (int, error) { return 1, nil }
func (shortFile) SyncData() error           { return nil }

// failingFile is a file whose writes fail.
type failingFile struct {
	vfs.File
	err error
}

func (f failingFile) Write([]byte) (int, error) { return 0, f.err }
func (f failingFile) Sync() error               { return nil }
func (f failingFile) SyncData() error           { return nil }
func (f failingFile) Close() error              { return nil }
