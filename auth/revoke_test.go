package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
)

func TestMemoryRevoker(t *testing.T) {
	ctx := context.Background()
	clk := newFakeClock()
	r := NewMemoryRevoker(MemoryRevokerOptions{Now: clk.Now})
	check := func(jti string, want bool) {
		t.Helper()
		got, err := r.IsRevoked(ctx, jti)
		if err != nil || got != want {
			t.Fatalf("IsRevoked(%q) = %v, %v; want %v", jti, got, err, want)
		}
	}
	check("a", false)
	if err := r.Revoke(ctx, "a", clk.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	check("a", true)
	check("b", false)
	// An earlier until does not shorten an entry; a later one extends it.
	if err := r.Revoke(ctx, "a", clk.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	clk.Advance(30 * time.Second)
	check("a", true)
	if err := r.Revoke(ctx, "a", clk.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	clk.Advance(59 * time.Minute)
	check("a", true)
	clk.Advance(time.Minute)
	check("a", false)
	// A past until is a no-op.
	if err := r.Revoke(ctx, "c", clk.Now()); err != nil {
		t.Fatal(err)
	}
	check("c", false)
	if r.Len() != 1 {
		t.Fatalf("Len() = %d, want 1 (the expired, unswept entry)", r.Len())
	}
	r.Sweep()
	if r.Len() != 0 {
		t.Fatalf("Len() after Sweep = %d, want 0", r.Len())
	}
	for _, bad := range []string{"", strings.Repeat("x", MaxJTILen+1)} {
		if err := r.Revoke(ctx, bad, clk.Now().Add(time.Hour)); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("Revoke(%.10q) = %v, want invalid", bad, err)
		}
	}
}

func TestMemoryRevokerBoundedAndSweeps(t *testing.T) {
	ctx := context.Background()
	clk := newFakeClock()
	r := NewMemoryRevoker(MemoryRevokerOptions{Now: clk.Now, MaxEntries: revokeShards * 2, SweepInterval: time.Minute})
	full := 0
	for i := 0; i < 500; i++ {
		err := r.Revoke(ctx, fmt.Sprint("j", i), clk.Now().Add(10*time.Second))
		switch {
		case errors.Is(err, ErrRevocationFull):
			if apperr.KindOf(err) != apperr.Unavailable {
				t.Fatalf("kind %q", apperr.KindOf(err))
			}
			full++
		case err != nil:
			t.Fatal(err)
		}
	}
	if r.Len() != revokeShards*2 || full != 500-revokeShards*2 {
		t.Fatalf("Len() = %d, refused %d; want %d and %d", r.Len(), full, revokeShards*2, 500-revokeShards*2)
	}
	// Nothing accepted was forgotten.
	accepted := 0
	for i := 0; i < 500; i++ {
		if ok, _ := r.IsRevoked(ctx, fmt.Sprint("j", i)); ok {
			accepted++
		}
	}
	if accepted != revokeShards*2 {
		t.Fatalf("%d revoked, want %d", accepted, revokeShards*2)
	}
	// Once they expire, a full shard sweeps and accepts again.
	clk.Advance(10 * time.Second)
	for i := 0; i < 500; i++ {
		if err := r.Revoke(ctx, fmt.Sprint("k", i), clk.Now().Add(time.Second)); err != nil && !errors.Is(err, ErrRevocationFull) {
			t.Fatal(err)
		}
	}
	if r.Len() != revokeShards*2 {
		t.Fatalf("Len() = %d after refill", r.Len())
	}
	// The periodic sweep: after the interval, one Revoke sweeps its shard.
	clk.Advance(2 * time.Minute)
	if err := r.Revoke(ctx, "k0", clk.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := r.Len(); n != revokeShards*2-1 {
		t.Fatalf("Len() = %d after the sweep of the shard of k0, want %d", n, revokeShards*2-1)
	}
}

func TestMemoryRevokerConcurrent(t *testing.T) {
	ctx := context.Background()
	r := NewMemoryRevoker(MemoryRevokerOptions{})
	until := time.Now().Add(time.Hour)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := 0; i < 200; i++ {
				jti := fmt.Sprint(g, "-", i)
				if err := r.Revoke(ctx, jti, until); err != nil {
					t.Error(err)
					return
				}
				if ok, err := r.IsRevoked(ctx, jti); !ok || err != nil {
					t.Errorf("IsRevoked(%s) = %v, %v", jti, ok, err)
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	if r.Len() != 1600 {
		t.Fatalf("Len() = %d, want 1600", r.Len())
	}
}

// BenchmarkMemoryRevokerIsRevoked measures the in-process revocation check
// of a token that is not revoked.
func BenchmarkMemoryRevokerIsRevoked(b *testing.B) {
	r := NewMemoryRevoker(MemoryRevokerOptions{})
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if ok, _ := r.IsRevoked(ctx, "CGV4PC4R5WHRLU2PIPVLONQRNV"); ok {
				b.Fatal("revoked")
			}
		}
	})
}
