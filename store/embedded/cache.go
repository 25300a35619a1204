package embedded

import (
	"hash/maphash"
	"sync"

	"github.com/orderprocessor/orderprocessor/store"
)

// itemCache keeps the encodings of recently updated or read items in memory,
// so that the hot items of the order path (balances, holdings, assets) are
// read without a Pebble lookup: a Pebble Get searches the memtable skiplist,
// which on a busy store costs several microseconds of cache misses, and a
// market order would make six of them.
//
// Coherence rests on the stripe locks: an entry of key k is only filled or
// replaced while k's stripe is locked, and a commit removes the entries of
// the keys it writes before its Pebble commit and fills them after it, before
// unlocking. So an entry always holds the last committed value of its key; a
// reader that finds no entry while a commit is in flight takes the stripe
// lock (see DB.cachedRead), so it cannot see the old value after the new one.
//
// Entries are decoded items, shared and never modified: a commit reads its
// conditions' items from the cache without decoding them (and caches the
// item its update made, as it is), Get and BatchGet hand out copies. They
// are bounded in bytes per shard, charged by the size of their encoding
// (entrySize); when a shard is full, arbitrary entries (Go's map iteration
// order) are evicted. Items created by a Put are not added: they are mostly
// written once (orders, ledger entries) and would only push the hot items
// out. Nor are items a Put replaces unless they were cached: an order is
// replaced a few times in its life (executed, cancelled), and a cascade of
// executions would otherwise evict every balance and holding.
type itemCache struct {
	seed   maphash.Seed
	shards [cacheShards]cacheShard
	limit  int // bytes per shard
}

const cacheShards = 64

type cacheShard struct {
	mu    sync.Mutex
	m     map[string]cacheEntry
	bytes int
}

type cacheEntry struct {
	item store.Item // shared: never modified
	size int        // bytes charged for the entry
}

// entrySize is what an entry of key whose item encodes in encLen bytes is
// charged: the decoded item holds its encoding's text in one string, plus
// map slots and value headers (about as much again).
func entrySize(key []byte, encLen int) int {
	return len(key) + 2*encLen + 64
}

func newItemCache(size int64) *itemCache {
	c := &itemCache{seed: maphash.MakeSeed(), limit: int(size / cacheShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[string]cacheEntry)
	}
	return c
}

func (c *itemCache) shard(key []byte) *cacheShard {
	return &c.shards[maphash.Bytes(c.seed, key)%cacheShards]
}

// get returns the cached item of key. It is shared: nobody may modify it.
func (c *itemCache) get(key []byte) (store.Item, bool) {
	if c == nil {
		return nil, false
	}
	s := c.shard(key)
	s.mu.Lock()
	e, ok := s.m[string(key)]
	s.mu.Unlock()
	return e.item, ok
}

// set caches item, whose encoding is encLen bytes long, as key's value. It
// keeps item: nobody may modify it afterwards. The caller holds key's stripe.
func (c *itemCache) set(key []byte, item store.Item, encLen int) {
	if c == nil {
		return
	}
	size := entrySize(key, encLen)
	if size > c.limit/4 {
		c.remove(key)
		return
	}
	s := c.shard(key)
	s.mu.Lock()
	if old, ok := s.m[string(key)]; ok {
		s.bytes -= old.size
	}
	if s.bytes+size > c.limit {
		for k, old := range s.m {
			s.bytes -= old.size
			delete(s.m, k)
			if s.bytes+size <= c.limit {
				break
			}
		}
	}
	s.m[string(key)] = cacheEntry{item: item, size: size}
	s.bytes += size
	s.mu.Unlock()
}

// remove drops key's entry and reports whether there was one. The caller
// holds key's stripe.
func (c *itemCache) remove(key []byte) bool {
	if c == nil {
		return false
	}
	s := c.shard(key)
	s.mu.Lock()
	old, ok := s.m[string(key)]
	if ok {
		s.bytes -= old.size
		delete(s.m, string(key))
	}
	s.mu.Unlock()
	return ok
}
