package ids

import (
	"bytes"
	"crypto/rand"
	"io"
	"regexp"
	"sort"
	"sync"
	"testing"
	"time"
)

var orderIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{10,50}$`)

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func TestNewFormatAndTime(t *testing.T) {
	at := time.Date(2026, 11, 25, 21, 57, 29, 123456789, time.UTC)
	g := NewGenerator(fixedClock(at), nil)
	id := g.New()
	if len(id) != Len || Len != 26 {
		t.Fatalf("len(%q) = %d", id, len(id))
	}
	if !orderIDPattern.MatchString(id) || !Valid(id) {
		t.Fatalf("%q does not match the id patterns", id)
	}
	got, ok := Time(id)
	want := time.Date(2026, 11, 25, 21, 57, 29, 123000000, time.UTC)
	if !ok || !got.Equal(want) || got.Location() != time.UTC {
		t.Fatalf("Time(%q) = %v, %v; want %v", id, got, ok, want)
	}
	if id[:10] != MinAt(at)[:10] {
		t.Errorf("time prefix %q, MinAt prefix %q", id[:10], MinAt(at)[:10])
	}
}

func TestMonotonicSameMillisecond(t *testing.T) {
	g := NewGenerator(fixedClock(time.UnixMilli(1_700_000_000_000)), nil)
	prev := g.New()
	for range 10000 {
		id := g.New()
		if id <= prev {
			t.Fatalf("%q <= %q", id, prev)
		}
		prev = id
	}
}

func TestClockBackwards(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	g := NewGenerator(func() time.Time { return now }, nil)
	a := g.New()
	now = now.Add(-time.Hour)
	b := g.New()
	if b <= a {
		t.Fatalf("after the clock stepped back: %q <= %q", b, a)
	}
	ta, _ := Time(a)
	if tb, _ := Time(b); !tb.Equal(ta) {
		t.Errorf("Time(b) = %v, want the previous millisecond %v", tb, ta)
	}
	now = now.Add(2 * time.Hour)
	c := g.New()
	if tc, _ := Time(c); !tc.Equal(now.Truncate(time.Millisecond).UTC()) || c <= b {
		t.Errorf("c = %q at %v", c, tc)
	}
}

func TestClockRange(t *testing.T) {
	g := NewGenerator(fixedClock(time.Unix(-100, 0)), nil)
	id := g.New()
	if tm, ok := Time(id); !ok || tm.UnixMilli() != 0 {
		t.Errorf("pre-1970 clock: %q at %v", id, tm)
	}
	g = NewGenerator(fixedClock(time.Date(20000, 1, 1, 0, 0, 0, 0, time.UTC)), nil)
	if id := g.New(); id[:10] != "7ZZZZZZZZZ" {
		t.Errorf("far-future clock: %q", id)
	}
}

func TestEntropyOverflowBorrowsNextMillisecond(t *testing.T) {
	// The first 10 entropy bytes are all ones: the next id in the same
	// millisecond would overflow, so it moves to the next millisecond.
	src := io.MultiReader(bytes.NewReader(bytes.Repeat([]byte{0xFF}, 10)), rand.Reader)
	ms := int64(1_700_000_000_000)
	g := NewGenerator(fixedClock(time.UnixMilli(ms)), src)
	a, b := g.New(), g.New()
	if a[10:] != "ZZZZZZZZZZZZZZZZ" || b <= a {
		t.Fatalf("a=%q b=%q", a, b)
	}
	tb, _ := Time(b)
	if tb.UnixMilli() != ms+1 {
		t.Errorf("b time %d, want %d", tb.UnixMilli(), ms+1)
	}
	c := g.New() // the clock still says ms: never go back
	if c <= b {
		t.Errorf("c=%q <= b=%q", c, b)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

func TestEntropyFailurePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	NewGenerator(nil, failingReader{}).New()
}

func TestConcurrentUniqueAndOrdered(t *testing.T) {
	const workers, per = 8, 2000
	out := make([][]string, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids := make([]string, per)
			for i := range ids {
				ids[i] = New()
			}
			out[w] = ids
		}()
	}
	wg.Wait()
	seen := make(map[string]bool, workers*per)
	for _, ids := range out {
		if !sort.StringsAreSorted(ids) {
			t.Fatal("one goroutine's ids are not increasing")
		}
		for _, id := range ids {
			if seen[id] {
				t.Fatalf("duplicate %q", id)
			}
			seen[id] = true
		}
	}
}

func TestValidAndTimeReject(t *testing.T) {
	for _, s := range []string{"", "01ARZ3NDEKTSV4RRFFQ69G5FA", "01ARZ3NDEKTSV4RRFFQ69G5FAVX",
		"01arz3ndektsv4rrffq69g5fav", "01ARZ3NDEKTSV4RRFFQ69G5FA!", "81ARZ3NDEKTSV4RRFFQ69G5FAV",
		"01ARZ3NDEKTSV4RRFFQ69G5FAU"} {
		if Valid(s) {
			t.Errorf("Valid(%q) = true", s)
		}
		if _, ok := Time(s); ok {
			t.Errorf("Time(%q) ok", s)
		}
	}
	if !Valid("01ARZ3NDEKTSV4RRFFQ69G5FAV") {
		t.Error("Valid rejects a ULID")
	}
}

func TestMinMaxAt(t *testing.T) {
	at := time.UnixMilli(1_700_000_000_123)
	g := NewGenerator(fixedClock(at), nil)
	id := g.New()
	lo, hi := MinAt(at), MaxAt(at)
	if !(lo <= id && id <= hi) {
		t.Fatalf("%q not within [%q, %q]", id, lo, hi)
	}
	if lo[10:] != "0000000000000000" || hi[10:] != "ZZZZZZZZZZZZZZZZ" || lo[:10] != hi[:10] {
		t.Errorf("lo=%q hi=%q", lo, hi)
	}
	if MaxAt(at.Add(-time.Millisecond)) >= lo {
		t.Error("previous millisecond's max >= this millisecond's min")
	}
}
