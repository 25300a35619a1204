package logbuf

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// sink is a goroutine-safe io.Writer that records what reaches it.
type sink struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
	fail   error
}

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return 0, s.fail
	}
	s.writes++
	return s.b.Write(p)
}

func (s *sink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestBuffersUntilFlush(t *testing.T) {
	out := &sink{}
	w := New(out, time.Hour, 1<<20)
	defer w.Close()
	for i := 0; i < 3; i++ {
		if n, err := fmt.Fprintf(w, "line %d\n", i); err != nil || n != 7 {
			t.Fatalf("write = %d, %v", n, err)
		}
	}
	if got := out.String(); got != "" {
		t.Fatalf("written before a flush: %q", got)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "line 0\nline 1\nline 2\n" || out.writes != 1 {
		t.Fatalf("after flush: %q in %d writes, want 3 lines in 1 write", got, out.writes)
	}
	fmt.Fprint(w, "last\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.HasSuffix(got, "line 2\nlast\n") {
		t.Fatalf("close did not flush: %q", got)
	}
}

func TestFlushesWhenFull(t *testing.T) {
	out := &sink{}
	w := New(out, time.Hour, 10)
	defer w.Close()
	fmt.Fprint(w, "12345\n")
	if out.String() != "" {
		t.Fatal("flushed below the limit")
	}
	fmt.Fprint(w, "67890\n")
	if got := out.String(); got != "12345\n67890\n" {
		t.Fatalf("at the limit: %q", got)
	}
}

func TestFlushesOnInterval(t *testing.T) {
	out := &sink{}
	w := New(out, 5*time.Millisecond, 1<<20)
	defer w.Close()
	fmt.Fprint(w, "tick\n")
	deadline := time.Now().Add(10 * time.Second)
	for out.String() != "tick\n" {
		if time.Now().After(deadline) {
			t.Fatalf("never flushed: %q", out.String())
		}
		time.Sleep(time.Millisecond)
	}
}

func TestHandlerFlushesAtLevel(t *testing.T) {
	out := &sink{}
	w := New(out, time.Hour, 1<<20)
	defer w.Close()
	log := slog.New(Handler(slog.NewTextHandler(w, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}), w, slog.LevelWarn)).With("svc", "t").WithGroup("g")
	log.Info("routine", "n", 1)
	if out.String() != "" {
		t.Fatalf("info flushed: %q", out.String())
	}
	log.Warn("careful", "n", 2)
	want := "level=INFO msg=routine svc=t g.n=1\nlevel=WARN msg=careful svc=t g.n=2\n"
	if got := out.String(); got != want {
		t.Fatalf("after a warning:\n%q\nwant\n%q", got, want)
	}
}

func TestWriteErrorSticks(t *testing.T) {
	boom := errors.New("disk full")
	out := &sink{fail: boom}
	w := New(out, time.Hour, 1<<20)
	defer w.Close()
	fmt.Fprint(w, "a\n")
	if err := w.Flush(); !errors.Is(err, boom) {
		t.Fatalf("flush = %v, want %v", err, boom)
	}
	if _, err := fmt.Fprint(w, "b\n"); !errors.Is(err, boom) {
		t.Fatalf("write after a failed flush = %v, want %v", err, boom)
	}
}

func TestConcurrentWritersKeepEveryLine(t *testing.T) {
	out := &sink{}
	w := New(out, time.Millisecond, 256)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				fmt.Fprintf(w, "g%d-%d\n", g, i)
			}
		}(g)
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	seen := map[string]bool{}
	for _, l := range lines {
		if seen[l] {
			t.Fatalf("line %q twice", l)
		}
		seen[l] = true
	}
	if len(seen) != 8*200 {
		t.Fatalf("%d lines, want %d", len(seen), 8*200)
	}
	// Each writer's lines stay in order.
	next := map[string]int{}
	for _, l := range lines {
		var g, i int
		fmt.Sscanf(l, "g%d-%d", &g, &i)
		k := fmt.Sprint(g)
		if i != next[k] {
			t.Fatalf("writer %d: line %d after %d", g, i, next[k]-1)
		}
		next[k] = i + 1
	}
}
