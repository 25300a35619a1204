package gateway

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/testenv/fakeclock"
)

func TestMemoryCounterWindows(t *testing.T) {
	ctx := context.Background()
	clk := fakeclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	c := NewMemoryCounter(MemoryCounterOptions{Now: clk.Now})
	t0 := clk.Now()
	for i := int64(1); i <= 3; i++ {
		n, reset, err := c.Incr(ctx, "k", time.Minute)
		if err != nil || n != i || !reset.Equal(t0.Add(time.Minute)) {
			t.Fatalf("Incr %d = %d, %v, %v", i, n, reset, err)
		}
	}
	if n, _, _ := c.Incr(ctx, "other", time.Minute); n != 1 {
		t.Fatalf("other key: %d", n)
	}
	clk.Advance(time.Minute - time.Nanosecond)
	if n, _, _ := c.Incr(ctx, "k", time.Minute); n != 4 {
		t.Fatalf("before window end: %d", n)
	}
	clk.Advance(time.Nanosecond)
	n, reset, _ := c.Incr(ctx, "k", time.Minute)
	if n != 1 || !reset.Equal(clk.Now().Add(time.Minute)) {
		t.Fatalf("new window: %d %v", n, reset)
	}
}

func TestMemoryCounterMarks(t *testing.T) {
	ctx := context.Background()
	clk := fakeclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	c := NewMemoryCounter(MemoryCounterOptions{Now: clk.Now})
	if _, ok, err := c.Marked(ctx, "b"); ok || err != nil {
		t.Fatalf("unmarked: %v %v", ok, err)
	}
	if err := c.Mark(ctx, "b", time.Minute); err != nil {
		t.Fatal(err)
	}
	until, ok, err := c.Marked(ctx, "b")
	if !ok || err != nil || !until.Equal(clk.Now().Add(time.Minute)) {
		t.Fatalf("marked: %v %v %v", until, ok, err)
	}
	clk.Advance(time.Minute)
	if _, ok, _ := c.Marked(ctx, "b"); ok {
		t.Fatalf("mark outlived its ttl")
	}
}

func TestMemoryCounterBounded(t *testing.T) {
	ctx := context.Background()
	clk := fakeclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	c := NewMemoryCounter(MemoryCounterOptions{Now: clk.Now, MaxKeys: counterShards * 2, SweepInterval: time.Hour})
	for i := 0; i < 1000; i++ {
		if _, _, err := c.Incr(ctx, fmt.Sprint("k", i), time.Minute); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			if err := c.Mark(ctx, fmt.Sprint("m", i), time.Minute); err != nil {
				t.Fatal(err)
			}
		}
	}
	if c.Len() != counterShards*2 {
		t.Fatalf("Len() = %d, want %d", c.Len(), counterShards*2)
	}
	// Ended entries are swept before anything live is dropped: the shard of
	// fresh holds it alone.
	clk.Advance(time.Minute)
	if _, _, err := c.Incr(ctx, "fresh", time.Minute); err != nil {
		t.Fatal(err)
	}
	if c.Len() != counterShards*2-1 {
		t.Fatalf("Len() = %d after the sweep of the shard of fresh, want %d", c.Len(), counterShards*2-1)
	}
}

func TestMemoryCounterConcurrent(t *testing.T) {
	ctx := context.Background()
	c := NewMemoryCounter(MemoryCounterOptions{})
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := 0; i < 500; i++ {
				if _, _, err := c.Incr(ctx, fmt.Sprint("k", i%10), time.Hour); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	for i := 0; i < 10; i++ {
		n, _, _ := c.Incr(ctx, fmt.Sprint("k", i), time.Hour)
		if n != 401 {
			t.Fatalf("k%d counted %d, want 401", i, n)
		}
	}
}
