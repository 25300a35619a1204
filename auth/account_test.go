package auth

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
)

// accountStore is a settable account table that counts its reads; a read
// may be held until released.
type accountStore struct {
	mu    sync.Mutex
	accts map[string]Account
	err   error
	reads atomic.Int64
	hold  chan struct{} // when set, each read waits until it is closed
}

func (s *accountStore) set(name string, a Account) {
	s.mu.Lock()
	s.accts[name] = a
	s.mu.Unlock()
}

func (s *accountStore) load(_ context.Context, name string) (Account, error) {
	s.mu.Lock()
	a, err, hold := s.accts[name], s.err, s.hold
	s.mu.Unlock()
	if hold != nil {
		<-hold
	}
	s.reads.Add(1)
	return a, err
}

func TestAccountCache(t *testing.T) {
	clk := newFakeClock()
	st := &accountStore{accts: map[string]Account{"alice_01": {Exists: true, Active: true}}}
	const ttl = 2 * time.Second
	c := NewAccountCache(st.load, AccountCacheOptions{TTL: ttl, Now: clk.Now, Logger: quietLog()})
	ctx := context.Background()
	tok := Claims{Username: "alice_01", IssuedAt: clk.Now().Add(-time.Minute)}

	// First sight reads; then the cache answers without reading.
	for range 3 {
		if err := c.Check(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := st.reads.Load(); n != 1 {
		t.Fatalf("reads %d, want 1", n)
	}

	// Another process deactivates: within the TTL the cache still admits.
	st.set("alice_01", Account{Exists: true, Active: false, ValidAfter: clk.Now()})
	clk.Advance(ttl - time.Millisecond)
	if err := c.Check(ctx, tok); err != nil {
		t.Fatalf("within the TTL: %v", err)
	}
	// Past the TTL: this check still uses the cached account and starts a
	// background read; once it is done the change applies.
	clk.Advance(time.Millisecond)
	_ = c.Check(ctx, tok)
	waitFor(t, func() bool { return errors.Is(c.Check(ctx, tok), ErrAccountDeactivated) })
	if n := st.reads.Load(); n != 2 {
		t.Fatalf("reads %d, want 2", n)
	}

	// Not used for twice the TTL: the check reads first.
	st.set("alice_01", Account{Exists: true, Active: true, ValidAfter: clk.Now()})
	clk.Advance(2 * ttl)
	if err := c.Check(ctx, tok); !errors.Is(err, ErrTokenRevoked) || apperr.MessageOf(err) != "token revoked" {
		t.Fatalf("token issued before ValidAfter: %v", err)
	}
	if err := c.Check(ctx, Claims{Username: "alice_01", IssuedAt: clk.Now()}); err != nil {
		t.Fatalf("token issued after ValidAfter: %v", err)
	}
	if err := c.Check(ctx, Claims{Username: "nobody_1", IssuedAt: clk.Now()}); !errors.Is(err, ErrAccountUnknown) {
		t.Fatalf("unknown user: %v", err)
	}

	// The store cannot answer: fail closed, with an error that is not
	// Unauthorized (the gateway answers 503).
	st.mu.Lock()
	st.err = errors.New("store down")
	st.mu.Unlock()
	clk.Advance(2 * ttl)
	if err := c.Check(ctx, tok); err == nil || apperr.KindOf(err) == apperr.Unauthorized {
		t.Fatalf("store down: %v", err)
	}
}

// TestAccountCacheSetWins: an account Set by this process while a read
// started earlier is in flight is not overwritten by that read's older
// answer.
func TestAccountCacheSetWins(t *testing.T) {
	clk := newFakeClock()
	st := &accountStore{accts: map[string]Account{"bob_0001": {Exists: true, Active: true}}}
	c := NewAccountCache(st.load, AccountCacheOptions{TTL: time.Second, Now: clk.Now, Logger: quietLog()})
	ctx := context.Background()
	tok := Claims{Username: "bob_0001", IssuedAt: clk.Now().Add(-time.Minute)}
	if err := c.Check(ctx, tok); err != nil {
		t.Fatal(err)
	}
	hold := make(chan struct{})
	st.mu.Lock()
	st.hold = hold
	st.mu.Unlock()
	clk.Advance(1500 * time.Millisecond)
	if err := c.Check(ctx, tok); err != nil { // starts a background read (held: it answers "active")
		t.Fatal(err)
	}
	c.Set("bob_0001", Account{Exists: true, Active: false})
	close(hold)
	waitFor(t, func() bool { return st.reads.Load() == 2 })
	time.Sleep(10 * time.Millisecond) // the read's result is stored after it returns
	if err := c.Check(ctx, tok); !errors.Is(err, ErrAccountDeactivated) {
		t.Fatalf("after a stale read finished: %v", err)
	}
}

func TestAccountCacheBounded(t *testing.T) {
	clk := newFakeClock()
	st := &accountStore{accts: map[string]Account{}}
	c := NewAccountCache(st.load, AccountCacheOptions{MaxEntries: 64, Now: clk.Now, Logger: quietLog()})
	for i := range 1000 {
		_ = c.Check(context.Background(), Claims{Username: "user_" + itoa(int64(i))})
	}
	if n := c.Len(); n > 64 {
		t.Fatalf("%d entries, bound 64", n)
	}
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// BenchmarkAccountCacheCheck measures the per-request account check of a
// warm cache, 64 users, from parallel goroutines.
func BenchmarkAccountCacheCheck(b *testing.B) {
	c := NewAccountCache(func(context.Context, string) (Account, error) {
		return Account{Exists: true, Active: true}, nil
	}, AccountCacheOptions{TTL: time.Hour})
	claims := make([]Claims, 64)
	for i := range claims {
		claims[i] = Claims{Username: "bench_user_" + itoa(int64(i)), IssuedAt: time.Now()}
	}
	ctx := context.Background()
	b.ReportAllocs()
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		i := int(n.Add(1))
		for pb.Next() {
			i++
			if err := c.Check(ctx, claims[i%len(claims)]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
