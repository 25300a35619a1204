package embedded

import (
	"errors"
	"hash/maphash"
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"github.com/orderprocessor/orderprocessor/store"
)

// indexHints remembers, for the items that queries of an index returned
// lately, the key of the index entry each was read through. A commit that
// reads an item it writes, and finds it in neither the item cache nor the
// hints, reads the item's own key; with a hint it reads the index entry
// instead. That pays when the item is written soon after the query, as the
// trigger engine writes the orders a query of the trigger index returns:
// the query has just brought the entry's block into the block cache, while
// the blocks of the items themselves, spread over the whole table, mostly
// miss it.
//
// Reading the entry instead of the item is exact under the item's stripe:
// every write of an item sets its index entries (to the item's encoding)
// and deletes the ones it no longer has in the same batch, under that
// stripe, so an entry that exists holds the item's current encoding. A
// hint whose entry is gone (the item left the index or moved in it) is a
// miss: the item is read from its key.
//
// The hints are bounded: a shard that is full is emptied. A commit takes
// the hint of each key it reads.
type indexHints struct {
	seed   maphash.Seed
	shards [hintShards]hintShard
}

const (
	hintShards    = 16
	hintsPerShard = 1024
)

type hintShard struct {
	mu sync.Mutex
	m  map[string][]byte // item key -> index entry key
}

func newIndexHints() *indexHints {
	h := &indexHints{seed: maphash.MakeSeed()}
	for i := range h.shards {
		h.shards[i].m = make(map[string][]byte, hintsPerShard)
	}
	return h
}

func (h *indexHints) shard(key []byte) *hintShard {
	return &h.shards[maphash.Bytes(h.seed, key)%hintShards]
}

// add records that the item at key was read through the index entry at
// entry. Both are copied.
func (h *indexHints) add(key, entry []byte) {
	buf := make([]byte, len(key)+len(entry))
	copy(buf, key)
	copy(buf[len(key):], entry)
	s := h.shard(key)
	s.mu.Lock()
	if len(s.m) >= hintsPerShard {
		clear(s.m)
	}
	s.m[string(buf[:len(key)])] = buf[len(key):]
	s.mu.Unlock()
}

// take returns and forgets the index entry key recorded for key.
func (h *indexHints) take(key []byte) ([]byte, bool) {
	s := h.shard(key)
	s.mu.Lock()
	entry, ok := s.m[string(key)]
	if ok {
		delete(s.m, string(key))
	}
	s.mu.Unlock()
	return entry, ok
}

// readForWrite is read (without filling the cache) for a commit, which
// holds key's stripe: from the item cache, else through the index entry
// the hints name (see indexHints), else from key.
func (db *DB) readForWrite(key []byte) (it store.Item, cached bool, err error) {
	if it, ok := db.items.get(key); ok {
		return it, true, nil
	}
	if entry, ok := db.hints.take(key); ok {
		v, closer, err := db.pdb.Get(entry)
		switch {
		case err == nil:
			defer closer.Close()
			it, err := decodeItem(v)
			return it, false, err
		case !errors.Is(err, pebble.ErrNotFound):
			return nil, false, err
		}
	}
	it, err = db.readPebble(key, false)
	return it, false, err
}
