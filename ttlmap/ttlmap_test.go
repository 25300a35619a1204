package ttlmap

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func until(v time.Time) time.Time { return v }

func put(m *Map[time.Time], key string, now, v time.Time) error {
	return m.Update(key, now, func(time.Time, bool) (time.Time, bool) { return v, true })
}

func TestGetUpdateDelete(t *testing.T) {
	m := New(until, Options{Shards: 4, MaxEntries: 100})
	if _, ok := m.Get("a", t0); ok {
		t.Fatal("empty map has a")
	}
	if err := put(m, "a", t0, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if v, ok := m.Get("a", t0.Add(time.Minute-1)); !ok || !v.Equal(t0.Add(time.Minute)) {
		t.Fatalf("Get = %v, %v", v, ok)
	}
	if _, ok := m.Get("a", t0.Add(time.Minute)); ok {
		t.Fatal("a is there at its expiry")
	}
	// f sees the entry held, and may leave it as it is.
	err := m.Update("a", t0, func(v time.Time, ok bool) (time.Time, bool) {
		if !ok || !v.Equal(t0.Add(time.Minute)) {
			t.Errorf("f(%v, %v)", v, ok)
		}
		return t0.Add(time.Hour), false
	})
	if v, _ := m.Get("a", t0); err != nil || !v.Equal(t0.Add(time.Minute)) {
		t.Fatalf("a = %v after an Update that keeps nothing (%v)", v, err)
	}
	// A value expired when stored deletes the key.
	if err := put(m, "a", t0, t0); err != nil || m.Len() != 0 {
		t.Fatalf("Len() = %d after storing an expired value (%v)", m.Len(), err)
	}
	_ = put(m, "b", t0, t0.Add(time.Minute))
	m.Delete("b")
	if m.Len() != 0 {
		t.Fatalf("Len() = %d after Delete", m.Len())
	}
}

func TestWhenFull(t *testing.T) {
	for _, tc := range []struct {
		when     WhenFull
		err      error
		wantLen  int
		wantLast bool
	}{
		{Refuse, ErrFull, 2, false},
		{DropOne, nil, 2, true},
		{DropAll, nil, 1, true},
	} {
		t.Run(fmt.Sprint(tc.when), func(t *testing.T) {
			m := New(until, Options{Shards: 1, MaxEntries: 2, WhenFull: tc.when})
			_ = put(m, "a", t0, t0.Add(time.Minute))
			_ = put(m, "b", t0, t0.Add(time.Minute))
			if err := put(m, "c", t0, t0.Add(time.Minute)); !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if _, ok := m.Get("c", t0); ok != tc.wantLast || m.Len() != tc.wantLen {
				t.Fatalf("c held: %v, Len() = %d; want %v, %d", ok, m.Len(), tc.wantLast, tc.wantLen)
			}
			// A key held is replaced, full or not.
			if err := put(m, "c", t0, t0.Add(time.Hour)); tc.wantLast && err != nil {
				t.Fatal(err)
			}
			// Expired entries are swept before anything is refused or dropped.
			if err := put(m, "d", t0.Add(time.Minute), t0.Add(2*time.Minute)); err != nil {
				t.Fatal(err)
			}
			if _, ok := m.Get("d", t0.Add(time.Minute)); !ok {
				t.Fatal("d not stored")
			}
		})
	}
}

func TestSweeps(t *testing.T) {
	m := New(until, Options{Shards: 1, MaxEntries: 10, SweepInterval: time.Minute})
	_ = put(m, "a", t0, t0.Add(time.Second)) // the first write sweeps and sets the next sweep
	_ = put(m, "b", t0, t0.Add(time.Second))
	_ = put(m, "c", t0.Add(59*time.Second), t0.Add(time.Hour))
	if m.Len() != 3 {
		t.Fatalf("Len() = %d before the interval, want 3", m.Len())
	}
	// Any write after the interval sweeps, even one that stores nothing.
	_ = m.Update("c", t0.Add(time.Minute), func(v time.Time, _ bool) (time.Time, bool) { return v, false })
	if m.Len() != 1 {
		t.Fatalf("Len() = %d after the periodic sweep, want 1", m.Len())
	}
	_ = put(m, "d", t0.Add(time.Minute), t0.Add(time.Minute+time.Second))
	m.Sweep(t0.Add(time.Minute + time.Second))
	if m.Len() != 1 {
		t.Fatalf("Len() = %d after Sweep, want 1", m.Len())
	}

	// Without an interval, only a full shard sweeps.
	m = New(until, Options{Shards: 1, MaxEntries: 2})
	_ = put(m, "a", t0, t0.Add(time.Second))
	_ = put(m, "b", t0.Add(time.Hour), t0.Add(2*time.Hour))
	if m.Len() != 2 {
		t.Fatalf("Len() = %d, want 2", m.Len())
	}
}

func TestBounded(t *testing.T) {
	m := New(until, Options{Shards: 16, MaxEntries: 32, WhenFull: DropOne})
	for i := range 1000 {
		if err := put(m, fmt.Sprint("k", i), t0, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range m.shards {
		if n := len(m.shards[i].m); n > 2 {
			t.Fatalf("shard %d holds %d entries", i, n)
		}
	}
}

func TestNewPanics(t *testing.T) {
	for _, n := range []int{0, 3, -4} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New with %d shards did not panic", n)
				}
			}()
			New(until, Options{Shards: n})
		}()
	}
}

func TestConcurrent(t *testing.T) {
	m := New(until, Options{Shards: 4, MaxEntries: 1 << 10, SweepInterval: time.Millisecond})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				now := t0.Add(time.Duration(i) * time.Millisecond)
				_ = put(m, fmt.Sprint("k", (g+i)%50), now, now.Add(time.Second))
				m.Get(fmt.Sprint("k", i%50), now)
			}
		})
	}
	wg.Wait()
}
