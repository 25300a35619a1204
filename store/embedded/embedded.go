// Package embedded is the embedded store engine: store.Store on Pebble
// (github.com/cockroachdb/pebble/v2), in one directory of the local disk.
//
// Durability: every write is one Pebble batch committed with pebble.Sync, so
// it is in the fsynced write-ahead log before the call returns; Pebble groups
// the syncs of concurrent commits, so disjoint writes proceed in parallel and
// share fsyncs. A batch is atomic across a crash: a transaction is whole or
// absent after kill -9. Under store.DeferSync a write is committed with
// pebble.NoSync: in the log, but not yet synced, when it returns; Sync then
// syncs the log once for all of them. The log is written and synced in
// commit order, so a synced write implies every write committed before it.
//
// Isolation: Pebble has atomic batches but no isolation, so the engine
// serialises conflicting writes itself. Every write locks the stripes of the
// items it addresses (a fixed array of mutexes indexed by a hash of the item
// key, acquired in ascending order so that transactions cannot deadlock),
// reads the current items, evaluates the conditions with store.Cond.Eval,
// applies updates with store.ApplyActions, writes items and their index
// entries in one batch, commits it and only then unlocks. Reads see the last
// committed state (a Query reads one consistent iterator); Get and BatchGet
// serve hot items from an in-memory cache kept coherent by the same locks
// (see itemCache), and take an item's lock only when it is not cached. The
// engine never returns store.ErrTxConflict: conflicting transactions wait
// for each other instead. A Put marked Fresh is written without reading its
// key (store.Put.Fresh).
//
// Indexes: every declared GSI is maintained in the same batch as its items; an
// index entry holds a copy of the item, so a Query reads one iterator. An
// item is in an index only when it has both index attributes as non-empty
// strings (sparse); an index attribute longer than store.MaxKeyLen is
// rejected. Indexes declared after items were written are built at Open.
package embedded

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/orderprocessor/orderprocessor/page"
	"github.com/orderprocessor/orderprocessor/store"
)

// Options tune an embedded store. The zero value is a good default. Writes
// are durable when they return (see store.DeferSync for the one exception,
// chosen per write by the caller); there is no option to relax that.
type Options struct {
	// TTLAttribute is the attribute of time to live, as on DynamoDB: an item
	// whose attribute is an integer number of seconds since the Unix epoch
	// is deleted by DeleteExpired once that second has passed ("":
	// store.DefaultTTLAttribute; "-": none). See ttl.go.
	TTLAttribute string
	// FS is the file system the store lives in (nil: the operating
	// system's). Tests use Pebble's crashable in-memory file system to
	// check what a crash keeps.
	FS vfs.FS
	// Logger receives Pebble's messages (nil: slog.Default()).
	Logger *slog.Logger
	// Cursors signs the pagination cursors of Query and Scan (nil: a key
	// of the process, so cursors die with it).
	Cursors *page.Codec
	// CacheSize is the block cache size in bytes (0: 256 MiB).
	CacheSize int64
	// MemTableSize is the size of one memtable in bytes (0: 64 MiB).
	MemTableSize uint64
	// LockStripes is the number of write-lock stripes, rounded up to a power
	// of two (0: 65536). More stripes mean fewer false conflicts.
	LockStripes int
	// ItemCacheSize bounds the in-memory cache of updated and read items, in
	// bytes (0: 32 MiB; negative: no cache). See itemCache.
	ItemCacheSize int64
	// MinSyncInterval is the shortest time between two syncs of the
	// write-ahead log while at least busyCommits commits are in flight (0:
	// 1 ms; negative: never). Under such load the commits arriving after a
	// sync wait for the interval, so one fsync covers more of them: fewer
	// fsyncs, less kernel CPU per write. It pays when the CPU is the limit
	// (market orders over HTTP) and costs up to the interval in latency when
	// it is not (closed-loop writers doing nothing but commits; see
	// docs/performance.md). A lightly loaded store
	// syncs at once, so a lone writer's latency is one fsync. Durability is
	// the same either way: a commit returns after its sync.
	MinSyncInterval time.Duration
}

// DB is an embedded store. It implements store.Store and is safe for
// concurrent use.
type DB struct {
	pdb    *pebble.DB
	cache  *pebble.Cache
	log    *slog.Logger
	tables map[string]*table
	cursor *page.Codec

	locks []sync.Mutex
	mask  uint64
	seed  maphash.Seed
	// stripeSeq[i] is the write sequence number of the last commit that
	// wrote an item of stripe i, and writeSeq the last number taken (see
	// indexHints).
	stripeSeq []atomic.Uint64
	writeSeq  atomic.Uint64
	items     *itemCache // nil when disabled
	hints     *indexHints

	// mu is held shared by every operation and exclusively by Close.
	mu     sync.RWMutex
	closed bool

	bufs sync.Pool // *[]byte scratch buffers for encoding

	ttlAttr  string      // "" when items do not expire
	ttlBuilt atomic.Bool // the expiry entries of the items written before Open exist

	// committing counts the commits waiting for Pebble (see MinSyncInterval).
	committing atomic.Int32
	// commits counts the commits made: the compaction scheduler holds
	// optional compactions while it moves (compaction.go).
	commits   atomic.Uint64
	syncEvery time.Duration

	fault *fault // the store's failure, if any
}

// syncDelay is Pebble's WALMinSyncInterval: asked after every sync of the
// log, it says how long to hold the next one.
func (db *DB) syncDelay() time.Duration {
	if db.committing.Load() >= busyCommits {
		return db.syncEvery
	}
	return 0
}

// busyCommits is the number of commits in flight from which syncs are
// spaced by Options.MinSyncInterval.
const busyCommits = 8

var _ store.Store = (*DB)(nil)

// table is a declared table and its indexes.
type table struct {
	name    string
	indexes []store.IndexSchema
}

func (t *table) index(name string) (store.IndexSchema, bool) {
	for _, ix := range t.indexes {
		if ix.Name == name {
			return ix, true
		}
	}
	return store.IndexSchema{}, false
}

// errClosed is returned by operations on a closed DB.
var errClosed = errors.New("embedded: store is closed")

// Cursors returns the codec of the store's pagination cursors (nil: the
// process's key).
func (db *DB) Cursors() *page.Codec { return db.cursor }

// Open opens (creating if needed) the store in dir with the given tables.
// Table and index names must be non-empty, unique and free of NUL bytes.
// Indexes that were not declared when the store was last open are built from
// the table's items before Open returns.
func Open(dir string, schemas []store.TableSchema, opts Options) (*DB, error) {
	tables, err := checkSchemas(schemas)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	cacheSize := opts.CacheSize
	if cacheSize <= 0 {
		cacheSize = 256 << 20
	}
	memTable := opts.MemTableSize
	if memTable == 0 {
		memTable = 64 << 20
	}
	stripes := 1 << 16
	if opts.LockStripes > 0 {
		stripes = 1
		for stripes < opts.LockStripes {
			stripes <<= 1
		}
	}
	cache := pebble.NewCache(cacheSize)
	popts := &pebble.Options{
		Cache:              cache,
		MemTableSize:       memTable,
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             pebbleLogger{log},
	}
	// A write-heavy shape: L0 collects up to 48 sublevels before it is
	// compacted into a 256 MiB base level. Every flush spans the whole key
	// space (new orders and ledger entries land at the end of each active
	// user's partition), so each L0 compaction rewrites most of the base
	// level: merging more L0 data per rewrite is what lowers the write
	// amplification. Hot items are read from the item cache and the bloom
	// filters keep point reads of absent keys off the extra files; range
	// reads (order and ledger lists) merge more files. docs/performance.md
	// has the measurements behind these settings.
	popts.L0CompactionThreshold = 48
	popts.L0CompactionFileThreshold = 2000
	popts.L0StopWritesThreshold = 192
	popts.LBaseMaxBytes = 256 << 20
	db := &DB{syncEvery: cmp.Or(opts.MinSyncInterval, time.Millisecond), ttlAttr: cmp.Or(opts.TTLAttribute, store.DefaultTTLAttribute),
		cursor: opts.Cursors}
	db.fault = newFault()
	popts.Experimental.CompactionScheduler = newBurstScheduler(&db.commits, &db.committing)
	popts.FS = walFS{FS: cmp.Or(opts.FS, vfs.Default), fault: db.fault}
	popts.EventListener = db.fault.listener(log)
	if db.ttlAttr == "-" {
		db.ttlAttr = ""
	}
	if db.syncEvery > 0 {
		popts.WALMinSyncInterval = db.syncDelay
	}
	// Bloom filters on every level: every write's condition reads its key
	// first, and most written keys are new (ledger entries, orders,
	// idempotency records), so without filters each such read searches the
	// data blocks of every level (the profile of the order path showed ~20%
	// of its CPU in those searches and their block reads).
	for i := range popts.Levels {
		popts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	pdb, err := openPebble(dir, popts, db.fault)
	if err != nil {
		cache.Unref()
		return nil, fmt.Errorf("embedded: open %s: %w", dir, cmp.Or(db.fault.cause(), err))
	}
	db.pdb, db.cache, db.log, db.tables = pdb, cache, log, tables
	db.locks, db.mask, db.seed = make([]sync.Mutex, stripes), uint64(stripes-1), maphash.MakeSeed()
	db.stripeSeq = make([]atomic.Uint64, stripes)
	switch {
	case opts.ItemCacheSize == 0:
		db.items = newItemCache(32 << 20)
	case opts.ItemCacheSize > 0:
		db.items = newItemCache(opts.ItemCacheSize)
	}
	db.hints = newIndexHints()
	db.bufs.New = func() any { b := make([]byte, 0, 1024); return &b }
	err = db.syncIndexes()
	if err == nil {
		err = db.prepareTTL()
	}
	if cause := db.fault.cause(); cause != nil {
		err = fmt.Errorf("embedded: open %s: %w", dir, cause)
	}
	if err != nil {
		_ = pdb.Close()
		cache.Unref()
		return nil, err
	}
	db.fault.log.Store(log)
	return db, nil
}

func checkSchemas(schemas []store.TableSchema) (map[string]*table, error) {
	bad := func(s string) bool { return s == "" || len(s) > store.MaxKeyLen || strings.IndexByte(s, 0) >= 0 }
	tables := make(map[string]*table, len(schemas))
	for _, s := range schemas {
		if bad(s.Name) {
			return nil, fmt.Errorf("embedded: table name %q: %w", s.Name, store.ErrInvalidRequest)
		}
		if _, dup := tables[s.Name]; dup {
			return nil, fmt.Errorf("embedded: table %q declared twice: %w", s.Name, store.ErrInvalidRequest)
		}
		t := &table{name: s.Name}
		for _, ix := range s.Indexes {
			if bad(ix.Name) || ix.PK == "" || ix.SK == "" {
				return nil, fmt.Errorf("embedded: index %q of table %q: %w", ix.Name, s.Name, store.ErrInvalidRequest)
			}
			if _, dup := t.index(ix.Name); dup {
				return nil, fmt.Errorf("embedded: index %q of table %q declared twice: %w", ix.Name, s.Name, store.ErrInvalidRequest)
			}
			t.indexes = append(t.indexes, ix)
		}
		tables[s.Name] = t
	}
	return tables, nil
}

// Close releases the store. Operations after Close fail; Close waits for
// operations in progress.
func (db *DB) Close() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return nil
	}
	db.closed = true
	err := db.pdb.Close()
	db.cache.Unref()
	if err != nil {
		return fmt.Errorf("embedded: close: %w", err)
	}
	return nil
}

// enter starts an operation: it checks ctx and takes the shared lock that
// Close waits for. The caller must call db.mu.RUnlock when enter succeeds.
func (db *DB) enter(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	db.mu.RLock()
	if db.closed {
		db.mu.RUnlock()
		return errClosed
	}
	if err := db.fault.get(); err != nil {
		db.mu.RUnlock()
		return err
	}
	return nil
}

// Sync makes every write that returned before it durable: it syncs the
// write-ahead log, through the writes committed under store.DeferSync.
func (db *DB) Sync(ctx context.Context) error {
	if err := db.enter(ctx); err != nil {
		return fmt.Errorf("embedded: sync: %w", err)
	}
	defer db.mu.RUnlock()
	// An empty log record committed with pebble.Sync: the log is synced in
	// order, so this covers every record before it.
	b := db.pdb.NewBatch()
	defer b.Close()
	if err := b.LogData(nil, nil); err != nil {
		return fmt.Errorf("embedded: sync: %w", err)
	}
	if err := db.commitBatch(b, pebble.Sync); err != nil {
		return fmt.Errorf("embedded: sync: %w", err)
	}
	return nil
}

// Ping reports whether the store can serve requests: it is open and a read
// of the underlying database succeeds.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.enter(ctx); err != nil {
		return fmt.Errorf("embedded: ping: %w", err)
	}
	defer db.mu.RUnlock()
	_, closer, err := db.pdb.Get([]byte{spaceMeta})
	switch {
	case err == nil:
		return closer.Close()
	case errors.Is(err, pebble.ErrNotFound):
		return nil
	}
	return fmt.Errorf("embedded: ping: %w", err)
}

func (db *DB) table(name string) (*table, error) {
	t, ok := db.tables[name]
	if !ok {
		return nil, fmt.Errorf("unknown table %q: %w", name, store.ErrInvalidRequest)
	}
	return t, nil
}

// read returns the item at key, nil when there is none. The caller holds
// key's stripe (the cache is only coherent under it) and must not modify the
// item: it may be the cache's. With fill, an item read from Pebble is cached.
func (db *DB) read(key []byte, fill bool) (store.Item, error) {
	it, _, err := db.readCached(key, fill)
	return it, err
}

// readCached is read that also reports whether the item came from the
// cache.
func (db *DB) readCached(key []byte, fill bool) (it store.Item, cached bool, err error) {
	if it, ok := db.items.get(key); ok {
		return it, true, nil
	}
	it, err = db.readPebble(key, fill)
	return it, false, err
}

// readPebble is read from Pebble, past the cache.
func (db *DB) readPebble(key []byte, fill bool) (store.Item, error) {
	v, closer, err := db.pdb.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	it, err := decodeItem(v)
	if err == nil && fill {
		db.items.set(key, it, len(v))
	}
	return it, err
}

// readUnlocked is read for callers that hold no stripe (Get, BatchGet), and
// returns an item of their own: a cached item is current; on a miss it takes
// key's stripe, so that it waits for a commit of key in flight, and caches
// what it reads.
func (db *DB) readUnlocked(key []byte) (store.Item, error) {
	if db.items == nil {
		return db.read(key, false)
	}
	if it, ok := db.items.get(key); ok {
		return maps.Clone(it), nil
	}
	m := db.stripe(key)
	m.Lock()
	it, err := db.read(key, true)
	m.Unlock()
	return maps.Clone(it), err
}

// stripe returns the lock of key's stripe.
func (db *DB) stripe(key []byte) *sync.Mutex {
	return &db.locks[db.stripeOf(key)]
}

// stripeOf returns the index of key's stripe.
func (db *DB) stripeOf(key []byte) uint64 {
	return maphash.Bytes(db.seed, key) & db.mask
}

// Get returns the item with key k, or an error wrapping store.ErrNotFound.
func (db *DB) Get(ctx context.Context, k store.Key) (store.Item, error) {
	if err := k.Validate(); err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	if _, err := db.table(k.Table); err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	if err := db.enter(ctx); err != nil {
		return nil, fmt.Errorf("get %s: %w", k, err)
	}
	defer db.mu.RUnlock()
	var kb [128]byte
	it, err := db.readUnlocked(itemKey(kb[:0], k))
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", k, err)
	}
	if it == nil {
		return nil, fmt.Errorf("get %s: %w", k, store.ErrNotFound)
	}
	return it, nil
}

// BatchGet returns the items for keys in the same order, nil for a missing
// item. It accepts at most store.MaxBatchGet keys.
func (db *DB) BatchGet(ctx context.Context, keys []store.Key) ([]store.Item, error) {
	if len(keys) > store.MaxBatchGet {
		return nil, fmt.Errorf("batch get of %d keys: %w", len(keys), store.ErrInvalidRequest)
	}
	for _, k := range keys {
		if err := k.Validate(); err != nil {
			return nil, fmt.Errorf("batch get: %w", err)
		}
		if _, err := db.table(k.Table); err != nil {
			return nil, fmt.Errorf("batch get: %w", err)
		}
	}
	if err := db.enter(ctx); err != nil {
		return nil, fmt.Errorf("batch get: %w", err)
	}
	defer db.mu.RUnlock()
	out := make([]store.Item, len(keys))
	var kb []byte
	for i, k := range keys {
		kb = itemKey(kb[:0], k)
		it, err := db.readUnlocked(kb)
		if err != nil {
			return nil, fmt.Errorf("batch get %s: %w", k, err)
		}
		out[i] = it
	}
	return out, nil
}

// Put writes a whole item if p.Cond holds, else returns an error wrapping
// store.ErrConditionFailed.
func (db *DB) Put(ctx context.Context, p store.Put) error {
	pp := p
	if _, err := db.single(ctx, store.Write{Put: &pp}, "put"); err != nil {
		return err
	}
	return nil
}

// Update applies u's actions to the item (creating it when absent) if u.Cond
// holds, and returns the item after the update. A failed condition returns an
// error wrapping store.ErrConditionFailed.
func (db *DB) Update(ctx context.Context, u store.Update) (store.Item, error) {
	uu := u
	return db.single(ctx, store.Write{Update: &uu}, "update")
}

// Delete removes the item if d.Cond holds, else returns an error wrapping
// store.ErrConditionFailed. Deleting a missing item without a condition
// succeeds.
func (db *DB) Delete(ctx context.Context, d store.Delete) error {
	dd := d
	if _, err := db.single(ctx, store.Write{Delete: &dd}, "delete"); err != nil {
		return err
	}
	return nil
}

func (db *DB) single(ctx context.Context, w store.Write, verb string) (store.Item, error) {
	if err := w.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", verb, err)
	}
	ws := [1]store.Write{w}
	var res [1]store.Item
	failed, err := db.commit(ctx, ws[:], res[:])
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", verb, w.Key(), err)
	}
	if failed != nil {
		return nil, fmt.Errorf("%s %s: %w", verb, w.Key(), store.ErrConditionFailed)
	}
	return res[0], nil
}

// Transact applies all writes atomically or none. When a condition fails it
// returns a *store.TxCanceledError with one reason per write (nil for the
// writes whose condition held). 1..store.MaxTransactItems writes, each item
// at most once; otherwise an error wrapping store.ErrInvalidRequest.
func (db *DB) Transact(ctx context.Context, writes []store.Write) error {
	if err := store.ValidateTransaction(writes); err != nil {
		return fmt.Errorf("transact: %w", err)
	}
	failed, err := db.commit(ctx, writes, nil)
	if err != nil {
		return fmt.Errorf("transact: %w", err)
	}
	if failed != nil {
		reasons := make([]error, len(writes))
		for i, f := range failed {
			if f {
				reasons[i] = fmt.Errorf("%s: %w", writes[i].Key(), store.ErrConditionFailed)
			}
		}
		return &store.TxCanceledError{Reasons: reasons}
	}
	return nil
}

// prepared is one write of a commit, with its table, encoded key and, for
// a Put, the offsets of its item's encoding in the commit's buffer of them.
type prepared struct {
	w          store.Write
	t          *table
	key        []byte
	encs, ence int
}

// commit applies validated writes atomically (see the package comment). It
// returns failed != nil (one flag per write) when a condition did not hold,
// and stores each Update's resulting item in results (when non-nil).
func (db *DB) commit(ctx context.Context, writes []store.Write, results []store.Item) (failed []bool, err error) {
	var one [1]prepared
	ps := one[:0]
	if len(writes) > 1 {
		ps = make([]prepared, 0, len(writes))
	}
	size := 0
	for _, w := range writes {
		size += len(w.Key().Table) + len(w.Key().PK) + len(w.Key().SK) + 3
	}
	keyBuf := make([]byte, 0, size)
	// encs holds the items' encodings: the puts' first, the updates'
	// appended once made (a put's is found by offsets, as encs may move).
	bufp := db.bufs.Get().(*[]byte)
	encs := (*bufp)[:0]
	defer func() {
		if cap(encs) <= 1<<20 { // a large transaction's is left to the GC
			*bufp = encs[:0]
		}
		db.bufs.Put(bufp)
	}()
	// Puts are encoded, and so validated, before any lock is taken; updates
	// once their item is known.
	for _, w := range writes {
		k := w.Key()
		t, err := db.table(k.Table)
		if err != nil {
			return nil, err
		}
		p := prepared{w: w, t: t}
		if w.Put != nil {
			p.encs = len(encs)
			if encs, err = appendItem(encs, w.Put.Item, k); err != nil {
				return nil, err
			}
			p.ence = len(encs)
		}
		start := len(keyBuf)
		keyBuf = itemKey(keyBuf, k)
		p.key = keyBuf[start:len(keyBuf):len(keyBuf)]
		ps = append(ps, p)
	}

	if err := db.enter(ctx); err != nil {
		return nil, err
	}
	defer db.mu.RUnlock()
	unlock := db.lock(ps)
	defer unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// Read what the conditions, updates and index maintenance need.
	olds := make([]store.Item, len(ps))
	var (
		hotArr [8]bool
		hot    []bool // hot[i]: olds[i] came from the item cache
	)
	if len(ps) <= len(hotArr) {
		hot = hotArr[:len(ps)]
	} else {
		hot = make([]bool, len(ps))
	}
	for i, p := range ps {
		if p.w.Condition() == nil && p.w.Update == nil && len(p.t.indexes) == 0 || p.w.Put != nil && p.w.Put.Fresh {
			continue
		}
		if olds[i], hot[i], err = db.readForWrite(p.key); err != nil {
			return nil, err
		}
	}
	for i, p := range ps {
		if !p.w.Condition().Eval(olds[i]) {
			if failed == nil {
				failed = make([]bool, len(ps))
			}
			failed[i] = true
		}
	}
	if failed != nil {
		return failed, nil
	}

	b := db.pdb.NewBatch()
	defer b.Close()
	// fills[i] is the item to cache for write i after the commit: items that
	// were updated, or replaced when cached (hot, mutable), not new ones.
	type fill struct {
		item   store.Item
		encLen int
	}
	var fills []fill
	if db.items != nil {
		fills = make([]fill, len(ps))
	}
	for i, p := range ps {
		k := p.w.Key()
		var (
			item store.Item
			enc  []byte
		)
		switch {
		case p.w.Put != nil:
			item, enc = p.w.Put.Item, encs[p.encs:p.ence]
		case p.w.Update != nil:
			if item, err = store.ApplyActions(k, olds[i], p.w.Update.Actions); err != nil {
				return nil, err
			}
			start := len(encs)
			if encs, err = appendItem(encs, item, k); err != nil {
				return nil, err
			}
			enc = encs[start:]
			if results != nil {
				results[i] = maps.Clone(item) // the caller's; item may be cached
			}
		case p.w.Delete != nil:
			if err := b.Delete(p.key, nil); err != nil {
				return nil, err
			}
			if err := db.deleteIndexEntries(b, p.t, k, olds[i]); err != nil {
				return nil, err
			}
			continue
		default: // Check: nothing to write
			continue
		}
		switch {
		case fills == nil:
		case p.w.Update != nil:
			fills[i] = fill{item, len(enc)} // made by ApplyActions: nobody else has it
		case hot[i]: // a replaced item that was cached: a copy of the caller's, keyed as encoded
			c := maps.Clone(item)
			c[store.AttrPK], c[store.AttrSK] = store.S(k.PK), store.S(k.SK)
			fills[i] = fill{c, len(enc)}
		}
		if err := b.Set(p.key, enc, nil); err != nil {
			return nil, err
		}
		if err := db.writeIndexEntries(b, p.t, k, olds[i], item, enc); err != nil {
			return nil, err
		}
		if err := db.writeTTLEntry(b, p.key, olds[i], item); err != nil {
			return nil, err
		}
	}
	if b.Empty() {
		return nil, nil
	}
	if db.items != nil {
		// No cached value of a written key from here until the commit is
		// done: readers that miss wait for the stripe (see itemCache).
		for _, p := range ps {
			if p.w.Put != nil || p.w.Update != nil || p.w.Delete != nil {
				db.items.remove(p.key)
			}
		}
	}
	sync := pebble.Sync
	if store.SyncDeferred(ctx) {
		sync = pebble.NoSync
	}
	db.committing.Add(1)
	err = db.commitBatch(b, sync)
	db.committing.Add(-1)
	if err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	db.commits.Add(1)
	seq := db.writeSeq.Add(1) // after the batch is applied: see indexHints
	for _, p := range ps {
		if p.w.Put != nil || p.w.Update != nil || p.w.Delete != nil {
			db.stripeSeq[db.stripeOf(p.key)].Store(seq)
		}
	}
	for i, f := range fills {
		if f.item != nil {
			db.items.set(ps[i].key, f.item, f.encLen)
		}
	}
	return nil, nil
}

// lock acquires the stripes of the writes' keys in ascending order (so that
// two transactions never wait for each other in a cycle) and returns the
// function that releases them.
func (db *DB) lock(ps []prepared) func() {
	if len(ps) == 1 {
		m := db.stripe(ps[0].key)
		m.Lock()
		return m.Unlock
	}
	idx := make([]uint32, len(ps))
	for i, p := range ps {
		idx[i] = uint32(maphash.Bytes(db.seed, p.key) & db.mask)
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	for _, i := range idx {
		db.locks[i].Lock()
	}
	return func() {
		for j := len(idx) - 1; j >= 0; j-- {
			db.locks[idx[j]].Unlock()
		}
	}
}

// indexValues returns the index partition and sort key of item in ix, and
// whether the item is in the index at all. Key attributes come from k.
func indexValues(ix store.IndexSchema, k store.Key, item store.Item) (ipk, isk string, ok bool, err error) {
	attr := func(name string) (string, bool) {
		switch name {
		case store.AttrPK:
			return k.PK, true
		case store.AttrSK:
			return k.SK, true
		}
		v := item[name]
		return v.Str(), v.Kind() == store.KindString && v.Str() != ""
	}
	ipk, ok1 := attr(ix.PK)
	isk, ok2 := attr(ix.SK)
	if !ok1 || !ok2 {
		return "", "", false, nil
	}
	if len(ipk) > store.MaxKeyLen || len(isk) > store.MaxKeyLen {
		return "", "", false, fmt.Errorf("index %q attribute longer than %d bytes: %w", ix.Name, store.MaxKeyLen, store.ErrInvalidRequest)
	}
	return ipk, isk, true, nil
}

// writeIndexEntries adds to b the index changes of replacing old (nil when
// absent) by item, whose encoding is enc.
func (db *DB) writeIndexEntries(b *pebble.Batch, t *table, k store.Key, old, item store.Item, enc []byte) error {
	var oldKey, newKey []byte
	for _, ix := range t.indexes {
		ipk, isk, in, err := indexValues(ix, k, item)
		if err != nil {
			return err
		}
		newKey = newKey[:0]
		if in {
			newKey = indexKey(newKey, t.name, ix.Name, ipk, isk, k)
		}
		if old != nil {
			if opk, osk, oin, _ := indexValues(ix, k, old); oin {
				oldKey = indexKey(oldKey[:0], t.name, ix.Name, opk, osk, k)
				if !in || !bytes.Equal(oldKey, newKey) {
					if err := b.Delete(oldKey, nil); err != nil {
						return err
					}
				}
			}
		}
		if in {
			if err := b.Set(newKey, enc, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// deleteIndexEntries adds to b the removal of old's index entries.
func (db *DB) deleteIndexEntries(b *pebble.Batch, t *table, k store.Key, old store.Item) error {
	if old == nil {
		return nil
	}
	var key []byte
	for _, ix := range t.indexes {
		if ipk, isk, in, _ := indexValues(ix, k, old); in {
			key = indexKey(key[:0], t.name, ix.Name, ipk, isk, k)
			if err := b.Delete(key, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// pebbleLogger adapts slog to Pebble's logger: its routine messages at
// debug level, errors at error level. Fatalf must not return (Pebble goes on
// as if nothing happened when it does): called by a commit or Open it panics
// with a fatalError, which the engine recovers into the store's failure
// (see fault); called elsewhere, in a background job of Pebble's, it logs
// and ends the process with status 1, as Pebble's own logger does.
type pebbleLogger struct{ log *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if !strings.HasPrefix(msg, "pebble: ") {
		msg = "pebble: " + msg
	}
	fe := fatalError{msg: msg}
	for _, a := range args {
		if err, ok := a.(error); ok {
			fe.err = err
			break
		}
	}
	if !recovering() {
		// A background job of Pebble's (a flush writing the MANIFEST, say):
		// nothing recovers a panic there, and Pebble must not go on. End
		// the process as Pebble's own logger does, with one line.
		l.log.Error(msg+"; exiting", "component", "pebble")
		exit(1)
	}
	panic(fe)
}

// exit is os.Exit, a variable for tests.
var exit = os.Exit
