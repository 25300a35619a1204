package cache_test

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/cache"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/store/embedded"
)

// pausing is a store whose Get of one key, once armed, reads the item and
// then waits for release before it returns it: a reader that read an old
// value and is slow to put it in the cache.
type pausing struct {
	store.Store
	mu      sync.Mutex
	key     store.Key
	armed   bool
	read    chan struct{}
	release chan struct{}
}

func (p *pausing) arm(k store.Key) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.key, p.armed = k, true
	p.read, p.release = make(chan struct{}), make(chan struct{})
}

func (p *pausing) Get(ctx context.Context, k store.Key) (store.Item, error) {
	it, err := p.Store.Get(ctx, k)
	p.mu.Lock()
	wait := p.armed && k == p.key
	if wait {
		p.armed = false
	}
	p.mu.Unlock()
	if wait {
		close(p.read)
		<-p.release
	}
	return it, err
}

type env struct {
	db     *pausing
	tables dao.Tables
	prefix string
	url    string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	url := os.Getenv("REDIS_URL")
	if url == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("Redis required in CI: REDIS_URL is not set (scripts/redis start)")
		}
		t.Skip("REDIS_URL not set; run: eval \"$(scripts/redis start)\"")
	}
	db, err := embedded.Open(t.TempDir(), dao.DefaultTables.Schemas(), embedded.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return &env{db: &pausing{Store: db}, tables: dao.DefaultTables, url: url,
		prefix: "test:" + strings.ToLower(rand.Text()[:12]) + ":"}
}

// open opens one process's cache over the shared store.
func (e *env) open(t testing.TB, localTTL time.Duration) *cache.Cache {
	t.Helper()
	c, err := cache.Open(context.Background(), e.url, e.db, cache.Options{Prefix: e.prefix, LocalTTL: localTTL,
		Group: e.tables.CacheGroup, QueryGroup: e.tables.CacheQueryGroup, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

var (
	balanceKey = store.Key{Table: "users", PK: "USER#alice", SK: "BALANCE#USD"}
	assetKey   = store.Key{Table: "inventory", PK: "ASSET#XYZ", SK: "ASSET"}
)

func num(t *testing.T, it store.Item, attr string) string {
	t.Helper()
	if it == nil {
		t.Fatal("no item")
	}
	return it[attr].NumText()
}

// TestFillAfterInvalidationIsRefused: a reader that read a balance before
// a write committed, and puts it in the cache after the write's
// invalidation, does not leave the old value there: the next read, in any
// process, sees the write.
func TestFillAfterInvalidationIsRefused(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a, b := e.open(t, 0), e.open(t, 0)
	if err := a.Store().Put(ctx, store.Put{Key: balanceKey, Item: store.Item{"current": store.Int(1)}}); err != nil {
		t.Fatal(err)
	}
	e.db.arm(balanceKey)
	slow := make(chan store.Item)
	go func() {
		it, err := b.View().Get(ctx, balanceKey)
		if err != nil {
			t.Error(err)
		}
		slow <- it
	}()
	<-e.db.read // b read current=1 and has not filled the cache yet
	if _, err := a.Store().Update(ctx, store.Update{Key: balanceKey, Actions: []store.Action{store.Add("current", store.Int(1))}}); err != nil {
		t.Fatal(err)
	}
	close(e.db.release)
	if it := <-slow; num(t, it, "current") != "1" {
		t.Fatalf("the slow read: %v", it)
	}
	for _, c := range []*cache.Cache{a, b, a} {
		it, err := c.View().Get(ctx, balanceKey)
		if err != nil {
			t.Fatal(err)
		}
		if got := num(t, it, "current"); got != "2" {
			t.Fatalf("read after the acknowledged write: current %s, want 2", got)
		}
	}
	if s := a.Stats(); s.Hits == 0 {
		t.Fatalf("no read was answered by the cache: %+v", s)
	}
}

func asset(version int64, price string) store.Item {
	return store.Item{"version": store.Int(version), "price_usd": store.MustN(price), "is_active": store.Bool(true)}
}

// TestVersionedWriteThrough: an asset written through one process is what
// another process reads next (without an in-process layer), with no store
// read; a fill from a read older than the write never replaces it.
func TestVersionedWriteThrough(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a, b := e.open(t, 0), e.open(t, -1)
	if err := a.Store().Put(ctx, store.Put{Key: assetKey, Item: asset(1, "100")}); err != nil {
		t.Fatal(err)
	}
	if it, err := b.View().Get(ctx, assetKey); err != nil || num(t, it, "price_usd") != "100" || it.Str(store.AttrPK) != "ASSET#XYZ" {
		t.Fatalf("b reads %v, %v", it, err)
	}
	if s := b.Stats(); s.Hits != 1 || s.Misses != 0 {
		t.Fatalf("b's read was not a cache hit: %+v", s)
	}

	// c reads version 1 from the store and is slow to fill; version 2 is
	// written through meanwhile.
	if err := b.Store().Delete(ctx, store.Delete{Key: assetKey}); err != nil { // drops the entry
		t.Fatal(err)
	}
	if err := e.db.Put(ctx, store.Put{Key: assetKey, Item: asset(1, "100")}); err != nil { // behind the cache's back
		t.Fatal(err)
	}
	c := e.open(t, -1)
	e.db.arm(assetKey)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if it, err := c.View().Get(ctx, assetKey); err != nil || num(t, it, "price_usd") != "100" {
			t.Errorf("c's slow read %v, %v", it, err)
		}
	}()
	<-e.db.read
	if err := a.Store().Put(ctx, store.Put{Key: assetKey, Item: asset(2, "250")}); err != nil {
		t.Fatal(err)
	}
	// a's own in-process layer has the new version at once.
	if it, err := a.View().Get(ctx, assetKey); err != nil || num(t, it, "price_usd") != "250" {
		t.Fatalf("a reads %v, %v", it, err)
	}
	close(e.db.release)
	<-done
	for _, x := range []*cache.Cache{b, c} {
		if it, err := x.View().Get(ctx, assetKey); err != nil || num(t, it, "price_usd") != "250" {
			t.Fatalf("read after the write-through: %v, %v", it, err)
		}
	}
}

// TestRefusedWriteChangesNothing: a write whose condition fails neither
// invalidates nor writes through.
func TestRefusedWriteChangesNothing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := e.open(t, -1)
	if err := a.Store().Put(ctx, store.Put{Key: assetKey, Item: asset(3, "10")}); err != nil {
		t.Fatal(err)
	}
	err := a.Store().Put(ctx, store.Put{Key: assetKey, Item: asset(4, "99"), Cond: store.VersionIs(1)})
	if !errors.Is(err, store.ErrConditionFailed) {
		t.Fatalf("put: %v", err)
	}
	if it, err := a.View().Get(ctx, assetKey); err != nil || num(t, it, "price_usd") != "10" {
		t.Fatalf("read %v, %v", it, err)
	}
}

// BenchmarkQuoteRead reads an asset through the cache: from the in-process
// layer (local) and from Redis (redis, no in-process layer), the read of
// every market order's quote.
func BenchmarkQuoteRead(b *testing.B) {
	for _, bc := range []struct {
		name  string
		local time.Duration
	}{{"local", 0}, {"redis", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			e := newEnv(b)
			c := e.open(b, bc.local)
			ctx := context.Background()
			if err := c.Store().Put(ctx, store.Put{Key: assetKey, Item: asset(1, "100")}); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := c.View().Get(ctx, assetKey); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
