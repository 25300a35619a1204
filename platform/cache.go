package platform

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/cache"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/redisstate"
	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/trading"
)

// openCache opens the shared cache of a process with a store and Redis
// (nil without either).
func openCache(ctx context.Context, cfg Config, db store.Store, tables dao.Tables, log *slog.Logger) (*cache.Cache, error) {
	if cfg.RedisURL == "" || db == nil {
		return nil, nil
	}
	prefix := cfg.RedisPrefix
	if prefix == "" {
		prefix = redisstate.DefaultPrefix
	}
	c, err := cache.Open(ctx, cfg.RedisURL, db, cache.Options{Prefix: prefix + "cache:", TTL: cfg.CacheTTL,
		LocalTTL: cfg.CacheLocalTTL, Group: tables.CacheGroup, QueryGroup: tables.CacheQueryGroup, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	return c, nil
}

// cacheMetrics registers c's counters with reg.
func cacheMetrics(reg prometheus.Registerer, c *cache.Cache) {
	counter := func(name, help string, v func(cache.Stats) int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v(c.Stats())) })
	}
	reg.MustRegister(
		counter("orderprocessor_cache_hits_total", "Reads answered by the shared cache.", func(s cache.Stats) int64 { return s.Hits }),
		counter("orderprocessor_cache_misses_total", "Reads of cached kinds that went to the store.", func(s cache.Stats) int64 { return s.Misses }),
		counter("orderprocessor_cache_errors_total", "Failed Redis calls of the shared cache.", func(s cache.Stats) int64 { return s.Errors }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "orderprocessor_cache_up",
			Help: "1 while the shared cache is in use, 0 while Redis fails and reads go to the store."},
			func() float64 {
				if c.Stats().Down {
					return 0
				}
				return 1
			}))
}

// daos returns the trading layer's DAOs over db and the DAOs of the
// services' display reads: with c, the former write through c (reads from
// the store, quotes from the cache) and the latter read through it.
func daos(db store.Store, tables dao.Tables, c *cache.Cache) (d, reads *dao.DAOs) {
	if c == nil {
		d = trading.NewDAOs(db, tables)
		return d, d
	}
	d = trading.NewDAOs(c.Store(), tables)
	d.Cache = c.View()
	return d, trading.NewDAOs(c.View(), tables)
}

// passRevoker is a gateway's revoker without a store: Redis, and when
// Redis fails, the token passes (logged), as with no revoker at all: the
// services behind the gateway check revocation on their store.
type passRevoker struct {
	*redisstate.Client
	log    *slog.Logger
	failed atomic.Bool
}

func (r *passRevoker) IsRevoked(ctx context.Context, jti string) (bool, error) {
	ok, err := r.Client.IsRevoked(ctx, jti)
	switch {
	case err != nil && !r.failed.Swap(true):
		r.log.Warn("revocations: redis failed; the services behind the gateway check them", "err", err)
	case err == nil && r.failed.Swap(false):
		r.log.Info("revocations: redis answers again")
	}
	return ok, nil
}

// fallbackRevoker keeps revocations in Redis and in the store. Checks ask
// Redis; when Redis fails they ask the store (one strongly consistent read
// per token not known to be revoked), until the revocations in force have
// been copied from the store into Redis again (a logout while Redis was
// down reached only the store).
type fallbackRevoker struct {
	redis   *redisstate.Client
	store   *StoreRevoker
	log     *slog.Logger
	stale   atomic.Bool // Redis may miss a revocation: ask the store
	copying sync.Mutex
	mu      sync.Mutex
	fails   int64 // Redis failures (mu)
}

var _ auth.Revoker = (*fallbackRevoker)(nil)

func (r *fallbackRevoker) Revoke(ctx context.Context, jti string, until time.Time) error {
	if err := r.store.Revoke(ctx, jti, until); err != nil {
		return err
	}
	if err := r.redis.Revoke(ctx, jti, until); err != nil {
		r.failed(err)
	}
	return nil
}

func (r *fallbackRevoker) IsRevoked(ctx context.Context, jti string) (bool, error) {
	if !r.stale.Load() {
		ok, err := r.redis.IsRevoked(ctx, jti)
		switch {
		case err == nil:
			return ok, nil
		case ctx.Err() != nil:
			return false, err // the request ended, not Redis
		}
		r.failed(err)
	}
	if r.copying.TryLock() {
		go r.recopy()
	}
	return r.store.IsRevoked(ctx, jti)
}

func (r *fallbackRevoker) failed(err error) {
	r.mu.Lock()
	r.fails++
	r.mu.Unlock()
	if !r.stale.Swap(true) {
		r.log.Warn("revocations: redis failed; checking the store", "err", err)
	}
}

// recopy copies the revocations in force from the store into Redis and
// then checks Redis again; it tries every half second for up to 10 s (the
// next check starts it again). The caller holds r.copying.
func (r *fallbackRevoker) recopy() {
	defer r.copying.Unlock()
	for range 20 {
		if !r.stale.Load() || r.copyOnce() {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// copyOnce is one attempt of recopy: whether Redis is current again.
func (r *fallbackRevoker) copyOnce() bool {
	r.mu.Lock()
	fails := r.fails
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.redis.Ping(ctx); err != nil {
		return false
	}
	err := r.store.each(ctx, func(jti string, until time.Time) error { return r.redis.Revoke(ctx, jti, until) })
	if err != nil {
		r.log.Warn("revocations: copy to redis", "err", err)
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fails != fails {
		return false // Redis failed again meanwhile: copy again
	}
	r.stale.Store(false)
	r.log.Info("revocations: redis answers again; revocations copied")
	return true
}
