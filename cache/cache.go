// Package cache is the shared read-through cache of store items in Redis
// that the DAOs run over when the platform has a Redis (serve --redis-url).
// It wraps a store.Store twice:
//
//   - Store: reads go to the store; every write, after it commits, updates
//     the cache (an asset is written through, a balance, holding or order
//     entry is invalidated). The trading layer's DAOs run on it, so no
//     balance, holding or order that decides whether money moves is ever
//     read from the cache.
//   - View: Store whose reads of cached kinds (Options.Group,
//     Options.QueryGroup) are answered from the cache and fill it on a miss.
//     The display reads (GET /balance, /portfolio, /orders/{id}) and the
//     quotes of order placement (dao.Batch.Quote) run on it.
//
// Two kinds of entry:
//
//   - Versioned (assets): the entry holds the item and its "version"
//     attribute, and is replaced only by an item of the same or a higher
//     version, so a fill from an older read never overwrites a newer
//     write-through. An in-process layer (Options.LocalTTL) holds them for a
//     moment in front of Redis.
//   - Invalidated (balances, holdings, orders, and the queries listing a
//     user's balances or holdings): each group of entries has a generation
//     counter in Redis. A reader takes the generation with its cache lookup
//     (one round trip), reads the store on a miss, and stores what it read
//     only if the generation has not moved since; a writer increments the
//     generation after its commit and before it answers. So an entry never
//     holds a value older than a write its writer has acknowledged: a client
//     reads its own writes, whichever process serves it.
//
// Every entry also carries the cache's epoch. When Redis fails, the process
// reads and writes the store only; if it could not invalidate or write
// through an entry meanwhile, it increments the epoch when Redis answers
// again, before using it, which retires every entry written before.
package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/page"
	"github.com/orderprocessor/orderprocessor/store"
)

// Defaults of Options.
const (
	DefaultPrefix        = "orderprocessor:cache:"
	DefaultTTL           = time.Minute
	DefaultLocalTTL      = 100 * time.Millisecond
	DefaultOpTimeout     = 250 * time.Millisecond
	DefaultProbeInterval = 500 * time.Millisecond
)

// Options configure a Cache. Zero fields take the defaults.
type Options struct {
	// Prefix starts every Redis key of the cache; DefaultPrefix when "".
	// Processes that share a store must share the prefix.
	Prefix string
	// TTL is how long Redis keeps an entry (DefaultTTL): the longest an
	// entry can outlive a write whose invalidation was lost with a process
	// that died between its commit and the invalidation.
	TTL time.Duration
	// LocalTTL is how long this process serves a versioned entry (an
	// asset) from memory before it asks Redis again (DefaultLocalTTL;
	// negative: no in-process layer): how late it sees another process's
	// price change or deactivation.
	LocalTTL time.Duration
	// OpTimeout bounds each Redis call (DefaultOpTimeout); a call that
	// fails or times out turns the cache off in this process until Redis
	// answers a probe (ProbeInterval, DefaultProbeInterval).
	OpTimeout     time.Duration
	ProbeInterval time.Duration
	// Group classifies an item key (dao.Tables.CacheGroup; required);
	// QueryGroup a query (dao.Tables.CacheQueryGroup; nil: no query is
	// cached).
	Group      func(store.Key) (group string, versioned, ok bool)
	QueryGroup func(store.Query) (group string, ok bool)
	Logger     *slog.Logger // slog.Default() when nil
}

// Cache is the Redis client, the in-process layer and the health state
// behind Store and View. It is safe for concurrent use.
type Cache struct {
	rdb    *redis.Client
	base   store.Store
	prefix string
	opt    Options
	log    *slog.Logger
	epoch  string // the epoch key

	down atomic.Bool // Redis failed: the store only until a probe succeeds
	lost atomic.Bool // an invalidation or write-through failed: bump the epoch before using Redis again

	mu    sync.RWMutex
	local map[store.Key]localEntry

	hits, misses, errs atomic.Int64

	stop chan struct{}
	wg   sync.WaitGroup
}

type localEntry struct {
	item    store.Item
	version int64
	until   time.Time
}

// Stats are counters of a Cache since it opened.
type Stats struct {
	Hits, Misses, Errors int64
	Down                 bool // Redis is not used at the moment
}

// Open connects to the Redis of url (as redisstate.New parses it) over
// base and checks that it answers PING. The caller closes the Cache (not
// base).
func Open(ctx context.Context, url string, base store.Store, opt Options) (*Cache, error) {
	if opt.Group == nil {
		return nil, errors.New("cache: Options.Group is required")
	}
	ropt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("cache: parse url: %w", err)
	}
	if opt.Prefix == "" {
		opt.Prefix = DefaultPrefix
	}
	if opt.TTL <= 0 {
		opt.TTL = DefaultTTL
	}
	if opt.LocalTTL == 0 {
		opt.LocalTTL = DefaultLocalTTL
	}
	if opt.OpTimeout <= 0 {
		opt.OpTimeout = DefaultOpTimeout
	}
	if opt.ProbeInterval <= 0 {
		opt.ProbeInterval = DefaultProbeInterval
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	// Fail fast: a failed call sends reads to the store, a retry would
	// only make the request wait.
	ropt.MaxRetries, ropt.DialerRetries = -1, 1
	ropt.ContextTimeoutEnabled = true
	c := &Cache{rdb: redis.NewClient(ropt), base: base, prefix: opt.Prefix, opt: opt, log: opt.Logger,
		epoch: opt.Prefix + "epoch", local: map[store.Key]localEntry{}, stop: make(chan struct{})}
	if err := c.rdb.Ping(ctx).Err(); err != nil {
		_ = c.rdb.Close()
		return nil, fmt.Errorf("cache: connect to %s: %w", ropt.Addr, err)
	}
	c.wg.Add(1)
	go c.probe()
	return c, nil
}

// Close stops the probe and closes the Redis connections (not the store).
func (c *Cache) Close() error {
	close(c.stop)
	c.wg.Wait()
	if err := c.rdb.Close(); err != nil {
		return fmt.Errorf("cache: close: %w", err)
	}
	return nil
}

// Ping is the readiness check of the cache: an error while the cache is
// off (the process serves from the store meanwhile).
func (c *Cache) Ping(ctx context.Context) error {
	if c.down.Load() {
		return apperr.New(apperr.Unavailable, "cache off: redis unavailable")
	}
	if err := c.rdb.Ping(ctx).Err(); err != nil {
		return apperr.Wrap(apperr.Unavailable, err, "cache: redis ping")
	}
	return nil
}

// Stats returns the cache's counters.
func (c *Cache) Stats() Stats {
	return Stats{Hits: c.hits.Load(), Misses: c.misses.Load(), Errors: c.errs.Load(), Down: c.down.Load()}
}

// Store returns the base store whose writes keep the cache current; its
// reads go to the store.
func (c *Cache) Store() store.Store { return writer{Store: c.base, c: c} }

// View returns Store with the reads of cached kinds answered by the cache.
func (c *Cache) View() store.Store { return view{writer{Store: c.base, c: c}} }

// fail records a failed Redis call: the cache is off until a probe
// succeeds; lost marks a write whose entries may now be stale.
func (c *Cache) fail(what string, err error, lost bool) {
	c.errs.Add(1)
	if lost {
		c.lost.Store(true)
	}
	if !c.down.Swap(true) {
		c.log.Warn("cache off: redis failed; reading the store", "op", what, "err", err)
	}
}

// probe turns the cache back on when Redis answers, first retiring every
// entry (a new epoch) if a write could not update it meanwhile.
func (c *Cache) probe() {
	defer c.wg.Done()
	t := time.NewTicker(c.opt.ProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		if !c.down.Load() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.opt.OpTimeout)
		err := c.rdb.Ping(ctx).Err()
		if err == nil && c.lost.Load() {
			c.lost.Store(false) // before the INCR: a write failing after it sets it again
			if err = c.rdb.Incr(ctx, c.epoch).Err(); err != nil {
				c.lost.Store(true)
			}
		}
		cancel()
		if err == nil {
			c.mu.Lock()
			clear(c.local)
			c.mu.Unlock()
			c.down.Store(false)
			c.log.Info("cache on: redis answers")
		}
	}
}

func (c *Cache) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), c.opt.OpTimeout)
}

func (c *Cache) valKey(entry string) string { return c.prefix + "v:" + entry }
func (c *Cache) genKey(group string) string { return c.prefix + "g:" + group }

func millis(d time.Duration) int64 { return max(int64(d/time.Millisecond), 1) }

// lookupScript returns, for each entry i (KEYS[2i], with its group's
// generation key KEYS[2i+1] when ARGV[i] is "g"; a versioned entry, "v",
// repeats its own key there), 1 and its value when it is current, else 0
// and the tag a fill must present. KEYS[1] is the epoch.
var lookupScript = redis.NewScript(`
local e = redis.call('GET', KEYS[1]) or '0'
local out = {}
for i = 1, #ARGV do
  local tag
  if ARGV[i] == 'v' then
    tag = e .. '.v'
  else
    tag = e .. '.' .. (redis.call('GET', KEYS[2*i+1]) or '0') .. '|'
  end
  local v = redis.call('GET', KEYS[2*i])
  if v and string.sub(v, 1, #tag) == tag then
    out[#out+1] = 1
    out[#out+1] = v
  else
    out[#out+1] = 0
    out[#out+1] = tag
  end
end
return out
`)

// fillScript stores ARGV[2] at KEYS[2] tagged ARGV[1] for ARGV[3] ms if
// the tag is still current (the epoch KEYS[1] and the generation KEYS[3]
// unchanged since the lookup), and keeps the generation for ARGV[4] ms. An
// entry stored under an older tag would be dead anyway (lookups compare
// tags): the check only saves writing it.
var fillScript = redis.NewScript(`
local g = redis.call('GET', KEYS[3])
if (redis.call('GET', KEYS[1]) or '0') .. '.' .. (g or '0') .. '|' ~= ARGV[1] then
  return 0
end
if g then
  redis.call('PEXPIRE', KEYS[3], ARGV[4])
else
  redis.call('SET', KEYS[3], '0', 'PX', ARGV[4])
end
redis.call('SET', KEYS[2], ARGV[1] .. ARGV[2], 'PX', ARGV[3])
return 1
`)

// versionScript stores the item ARGV[3] of version ARGV[2] at KEYS[2] for
// ARGV[4] ms unless the entry holds a higher version of the current epoch,
// or, for a fill (ARGV[1] not ""), the epoch moved since the lookup.
var versionScript = redis.NewScript(`
local e = redis.call('GET', KEYS[1]) or '0'
if ARGV[1] ~= '' and ARGV[1] ~= e .. '.v' then
  return 0
end
local cur = redis.call('GET', KEYS[2])
if cur then
  local ce, cv = string.match(cur, '^([^.]*)%.v(%d+)|')
  if ce == e and tonumber(cv) > tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('SET', KEYS[2], e .. '.v' .. ARGV[2] .. '|' .. ARGV[3], 'PX', ARGV[4])
return 1
`)

// invalidateScript increments the generation of each group KEYS[i] and
// keeps it for ARGV[1] ms.
var invalidateScript = redis.NewScript(`
for i = 1, #KEYS do
  redis.call('INCR', KEYS[i])
  redis.call('PEXPIRE', KEYS[i], ARGV[1])
end
return #KEYS
`)

// genTTL is how long a generation lives after its last use: longer than
// any entry tagged with it, so it never restarts under a live entry.
func (c *Cache) genTTL() int64 { return millis(2*c.opt.TTL + time.Second) }

// entry is one cache lookup: its Redis key, its group ("" for a versioned
// entry), and after lookup its data or the tag of its fill.
type entry struct {
	key   string
	group string
	vers  bool
	hit   bool
	data  string // the entry's data (hit) or the fill's tag (miss)
}

// lookup reads entries in one round trip; false when Redis is off or
// failed (the caller reads the store and fills nothing).
func (c *Cache) lookup(ctx context.Context, es []entry) bool {
	if c.down.Load() {
		return false
	}
	keys := make([]string, 1, 1+2*len(es))
	keys[0] = c.epoch
	args := make([]any, len(es))
	for i, e := range es {
		keys = append(keys, c.valKey(e.key))
		if e.vers {
			keys = append(keys, c.valKey(e.key)) // unused: same slot as the entry
			args[i] = "v"
		} else {
			keys = append(keys, c.genKey(e.group))
			args[i] = "g"
		}
	}
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	res, err := lookupScript.Run(ctx, c.rdb, keys, args...).Slice()
	if err == nil && len(res) != 2*len(es) {
		err = fmt.Errorf("lookup returned %d values for %d entries", len(res), len(es))
	}
	if err != nil {
		c.fail("lookup", err, false)
		return false
	}
	for i := range es {
		n, _ := res[2*i].(int64)
		s, _ := res[2*i+1].(string)
		es[i].hit = n == 1
		if es[i].hit {
			// Strip the tag: "<epoch>.<gen>|" or "<epoch>.v<version>|".
			j := 0
			for j < len(s) && s[j] != '|' {
				j++
			}
			if j == len(s) {
				es[i].hit = false
				s = ""
			} else {
				s = s[j+1:]
			}
		}
		es[i].data = s
	}
	return true
}

// fill stores data for e after a miss, if its tag is still current.
func (c *Cache) fill(ctx context.Context, e entry, data string, version int64) {
	if c.down.Load() {
		return
	}
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	var err error
	if e.vers {
		err = versionScript.Run(ctx, c.rdb, []string{c.epoch, c.valKey(e.key)}, e.data, version, data, millis(c.opt.TTL)).Err()
	} else {
		err = fillScript.Run(ctx, c.rdb, []string{c.epoch, c.valKey(e.key), c.genKey(e.group)},
			e.data, data, millis(c.opt.TTL), c.genTTL()).Err()
	}
	if err != nil {
		c.fail("fill", err, false)
	}
}

// written updates the cache after a write to the keys of ws that may have
// been applied (failed: the store's answer was an error, so it may not
// have been): it writes through the versioned items of puts (and of an
// update's returned item, updated), and invalidates the groups of the
// others. A versioned item written without its version, or by a write that
// failed, is removed, with the in-process copy.
func (c *Cache) written(ctx context.Context, ws []store.Write, updated store.Item, failed bool) {
	var groups []string
	for _, w := range ws {
		if w.Check != nil {
			continue
		}
		k := w.Key()
		group, vers, ok := c.opt.Group(k)
		if !ok {
			continue
		}
		if !vers {
			if !contains(groups, group) {
				groups = append(groups, group)
			}
			continue
		}
		it := updated
		if w.Put != nil && !failed {
			it = w.Put.Item.Clone()
			it[store.AttrPK], it[store.AttrSK] = store.S(k.PK), store.S(k.SK)
		}
		c.writeThrough(ctx, k, it)
	}
	if len(groups) == 0 {
		return
	}
	if c.down.Load() {
		c.lost.Store(true)
		return
	}
	keys := make([]string, len(groups))
	for i, g := range groups {
		keys[i] = c.genKey(g)
	}
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	if err := invalidateScript.Run(ctx, c.rdb, keys, c.genTTL()).Err(); err != nil {
		c.fail("invalidate", err, true)
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// writeThrough stores the versioned item it at k (nil: removes k's entry).
func (c *Cache) writeThrough(ctx context.Context, k store.Key, it store.Item) {
	version, ok := it["version"].Int64()
	if it == nil || !ok {
		c.mu.Lock()
		delete(c.local, k)
		c.mu.Unlock()
		if c.down.Load() {
			c.lost.Store(true)
			return
		}
		ctx, cancel := c.ctx(ctx)
		defer cancel()
		if err := c.rdb.Del(ctx, c.valKey("k|"+k.String())).Err(); err != nil {
			c.fail("remove", err, true)
		}
		return
	}
	c.putLocal(k, it, version)
	if c.down.Load() {
		c.lost.Store(true)
		return
	}
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	err := versionScript.Run(ctx, c.rdb, []string{c.epoch, c.valKey("k|" + k.String())}, "",
		strconv.FormatInt(version, 10), encodeItem(it), millis(c.opt.TTL)).Err()
	if err != nil {
		c.fail("write through", err, true)
	}
}

// getLocal returns the in-process copy of a versioned item (not to be
// modified).
func (c *Cache) getLocal(k store.Key) (store.Item, bool) {
	if c.opt.LocalTTL < 0 {
		return nil, false
	}
	c.mu.RLock()
	e, ok := c.local[k]
	c.mu.RUnlock()
	if !ok || time.Now().After(e.until) {
		return nil, false
	}
	return e.item, true
}

// putLocal keeps it (of version) in memory unless a higher version is there.
func (c *Cache) putLocal(k store.Key, it store.Item, version int64) {
	if c.opt.LocalTTL < 0 {
		return
	}
	until := time.Now().Add(c.opt.LocalTTL)
	c.mu.Lock()
	if e, ok := c.local[k]; !ok || e.version <= version || time.Now().After(e.until) {
		c.local[k] = localEntry{item: it, version: version, until: until}
	}
	c.mu.Unlock()
}

// writer is the base store whose writes keep the cache current.
type writer struct {
	store.Store
	c *Cache
}

// Cursors returns the base store's cursor codec (dao.NewIndexed signs the
// DAOs' own cursors with it), nil when it has none.
func (w writer) Cursors() *page.Codec {
	if cs, ok := w.Store.(interface{ Cursors() *page.Codec }); ok {
		return cs.Cursors()
	}
	return nil
}

// applied reports whether a write that returned err may have changed the
// store: only a refused condition or a conflict certainly did not.
func applied(err error) bool {
	return err == nil || !errors.Is(err, store.ErrConditionFailed) && !errors.Is(err, store.ErrTxConflict) &&
		!errors.Is(err, store.ErrInvalidRequest)
}

func (w writer) Put(ctx context.Context, p store.Put) error {
	err := w.Store.Put(ctx, p)
	if applied(err) {
		w.c.written(ctx, []store.Write{{Put: &p}}, nil, err != nil)
	}
	return err
}

func (w writer) Update(ctx context.Context, u store.Update) (store.Item, error) {
	it, err := w.Store.Update(ctx, u)
	if applied(err) {
		var after store.Item
		if err == nil {
			after = it.Clone()
		}
		w.c.written(ctx, []store.Write{{Update: &u}}, after, err != nil)
	}
	return it, err
}

func (w writer) Delete(ctx context.Context, d store.Delete) error {
	err := w.Store.Delete(ctx, d)
	if applied(err) {
		w.c.written(ctx, []store.Write{{Delete: &d}}, nil, err != nil)
	}
	return err
}

func (w writer) Transact(ctx context.Context, writes []store.Write) error {
	err := w.Store.Transact(ctx, writes)
	if applied(err) {
		w.c.written(ctx, writes, nil, err != nil)
	}
	return err
}

// view is writer with the reads of cached kinds answered by the cache.
type view struct{ writer }

func (v view) classify(k store.Key) (entry, bool) {
	group, vers, ok := v.c.opt.Group(k)
	if !ok {
		return entry{}, false
	}
	return entry{key: "k|" + k.String(), group: group, vers: vers}, true
}

func (v view) Get(ctx context.Context, k store.Key) (store.Item, error) {
	items, err := v.BatchGet(ctx, []store.Key{k})
	if err != nil {
		return nil, err
	}
	if items[0] == nil {
		return nil, fmt.Errorf("get %s: %w", k, store.ErrNotFound)
	}
	return items[0], nil
}

func (v view) BatchGet(ctx context.Context, keys []store.Key) ([]store.Item, error) {
	c := v.c
	out := make([]store.Item, len(keys))
	var es []entry
	pos := make([]int, len(keys)) // 1 + the index in es of a cached kind's key, 0 for others
	for i, k := range keys {
		if it, ok := c.getLocal(k); ok {
			out[i] = it.Clone()
			c.hits.Add(1)
			continue
		}
		if e, ok := v.classify(k); ok {
			es = append(es, e)
			pos[i] = len(es)
		}
	}
	looked := len(es) > 0 && c.lookup(ctx, es)
	var miss []store.Key
	var missAt []int
	for i, k := range keys {
		if out[i] != nil {
			continue
		}
		if p := pos[i]; p > 0 && looked && es[p-1].hit {
			it, err := decodeItem(es[p-1].data)
			if err == nil {
				c.hits.Add(1)
				if ver, ok := it["version"].Int64(); ok && es[p-1].vers {
					c.putLocal(k, it.Clone(), ver)
				}
				out[i] = it
				continue
			}
			c.log.Warn("cache: malformed entry; reading the store", "key", k.String(), "err", err)
			pos[i] = 0 // no fill: the tag was not returned
		}
		miss = append(miss, k)
		missAt = append(missAt, i)
	}
	if len(miss) == 0 {
		return out, nil
	}
	items, err := v.read(ctx, miss)
	if err != nil {
		return nil, err
	}
	for m, i := range missAt {
		out[i] = items[m]
		p := pos[i]
		if p == 0 {
			continue // not a cached kind
		}
		c.misses.Add(1)
		e := es[p-1]
		if !looked || items[m] == nil {
			continue
		}
		var version int64
		if e.vers {
			var ok bool
			if version, ok = items[m]["version"].Int64(); !ok {
				continue
			}
			c.putLocal(keys[i], items[m].Clone(), version)
		}
		c.fill(ctx, e, encodeItem(items[m]), version)
	}
	return out, nil
}

// read reads keys from the store: one Get for one key.
func (v view) read(ctx context.Context, keys []store.Key) ([]store.Item, error) {
	if len(keys) > 1 {
		return v.Store.BatchGet(ctx, keys)
	}
	it, err := v.Store.Get(ctx, keys[0])
	if errors.Is(err, store.ErrNotFound) {
		return []store.Item{nil}, nil
	}
	if err != nil {
		return nil, err
	}
	return []store.Item{it}, nil
}

func (v view) Query(ctx context.Context, q store.Query) (store.Page, error) {
	c := v.c
	if c.opt.QueryGroup == nil {
		return v.Store.Query(ctx, q)
	}
	group, ok := c.opt.QueryGroup(q)
	if !ok {
		return v.Store.Query(ctx, q)
	}
	es := []entry{{key: "q|" + queryKey(q), group: group}}
	looked := c.lookup(ctx, es)
	if looked && es[0].hit {
		if p, err := decodePage(es[0].data); err == nil {
			c.hits.Add(1)
			return p, nil
		}
	}
	c.misses.Add(1)
	p, err := v.Store.Query(ctx, q)
	if err == nil && looked {
		c.fill(ctx, es[0], encodePage(p), 0)
	}
	return p, err
}
