package embedded

import (
	"hash/maphash"
	"sync"
)

// itemCache keeps the encodings of recently updated or read items in memory,
// so that the hot items of the order path (balances, holdings, assets) are
// read without a Pebble lookup: a Pebble Get searches the memtable skiplist,
// which on a busy store costs several microseconds of cache misses, and an
// order used to make six of them.
//
// Coherence rests on the stripe locks: an entry of key k is only filled or
// replaced while k's stripe is locked, and a commit removes the entries of
// the keys it writes before its Pebble commit and fills them after it, before
// unlocking. So an entry always holds the last committed value of its key; a
// reader that finds no entry while a commit is in flight takes the stripe
// lock (see DB.cachedRead), so it cannot see the old value after the new one.
//
// Entries are encodings ([]byte, no pointers for the GC to scan), bounded in
// bytes per shard; when a shard is full, arbitrary entries (Go's map
// iteration order) are evicted. Items created by a Put are not added: they
// are mostly written once (orders, ledger entries) and would only push the
// hot items out.
type itemCache struct {
	seed   maphash.Seed
	shards [cacheShards]cacheShard
	limit  int // bytes per shard
}

const cacheShards = 64

type cacheShard struct {
	mu    sync.Mutex
	m     map[string][]byte
	bytes int
}

// entryOverhead approximates the bytes of an entry beyond its key and value.
const entryOverhead = 64

func newItemCache(size int64) *itemCache {
	c := &itemCache{seed: maphash.MakeSeed(), limit: int(size / cacheShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[string][]byte)
	}
	return c
}

func (c *itemCache) shard(key []byte) *cacheShard {
	return &c.shards[maphash.Bytes(c.seed, key)%cacheShards]
}

// get returns the cached encoding of key. The caller must not modify it.
func (c *itemCache) get(key []byte) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	s := c.shard(key)
	s.mu.Lock()
	v, ok := s.m[string(key)]
	s.mu.Unlock()
	return v, ok
}

// set caches enc (which it keeps: the caller must not modify it afterwards)
// as key's value. The caller holds key's stripe.
func (c *itemCache) set(key, enc []byte) {
	if c == nil {
		return
	}
	size := len(key) + len(enc) + entryOverhead
	if size > c.limit/4 {
		c.remove(key)
		return
	}
	s := c.shard(key)
	s.mu.Lock()
	if old, ok := s.m[string(key)]; ok {
		s.bytes -= len(key) + len(old) + entryOverhead
	}
	for k, old := range s.m {
		if s.bytes+size <= c.limit {
			break
		}
		s.bytes -= len(k) + len(old) + entryOverhead
		delete(s.m, k)
	}
	s.m[string(key)] = enc
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
		s.bytes -= len(key) + len(old) + entryOverhead
		delete(s.m, string(key))
	}
	s.mu.Unlock()
	return ok
}
