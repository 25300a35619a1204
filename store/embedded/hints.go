package embedded

import (
	"errors"
	"hash/maphash"
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"github.com/orderprocessor/orderprocessor/store"
)

// indexHints remembers, for the items that queries of an index returned
// lately, the key of the index entry each was read through and the entry's
// value (the item's encoding) as the query read it. A commit that reads an
// item it writes, and finds it in neither the item cache nor the hints,
// reads the item's own key; with a hint it uses the value the query read
// when the item has not been written since, and otherwise reads the index
// entry. That pays when the item is written soon after the query, as the
// trigger engine writes the orders a query of the trigger index returns:
// no read at all, where the items' own blocks, spread over the whole table,
// mostly miss the block cache.
//
// Whether the item was written since the query is known from write
// sequence numbers: every commit takes the next number after its batch is
// applied and stores it, under the stripes it holds, as the last write of
// each stripe it wrote (DB.stripeSeq); a query records the number current
// before it opened its iterator. A stripe whose last write is not after
// that number had no write the iterator could miss, so the value is the
// item's current encoding (stripes are shared by many keys: a write of
// another key of the stripe only costs the read).
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
	hintsPerShard = 512
	// hintMaxValue bounds the values the hints keep (a larger one is read
	// again through its entry).
	hintMaxValue = 4 << 10
)

type hintShard struct {
	mu sync.Mutex
	m  map[string]hint // by item key
}

// hint is an item's index entry key and, when kept, the entry's value as a
// query read it at write sequence seq.
type hint struct {
	entry []byte
	value string // "": not kept
	seq   uint64
}

func newIndexHints() *indexHints {
	h := &indexHints{seed: maphash.MakeSeed()}
	for i := range h.shards {
		h.shards[i].m = make(map[string]hint, hintsPerShard)
	}
	return h
}

func (h *indexHints) shard(key []byte) *hintShard {
	return &h.shards[maphash.Bytes(h.seed, key)%hintShards]
}

// add records that the item at key was read through the index entry at
// entry, whose value was value, by a query that started at write sequence
// seq. key and entry are copied; value is kept (the query's item is made
// of its substrings, so the two share it).
func (h *indexHints) add(key, entry []byte, value string, seq uint64) {
	if len(value) > hintMaxValue {
		value = ""
	}
	buf := make([]byte, len(key)+len(entry))
	copy(buf, key)
	copy(buf[len(key):], entry)
	hv := hint{entry: buf[len(key):], value: value, seq: seq}
	s := h.shard(key)
	s.mu.Lock()
	if len(s.m) >= hintsPerShard {
		clear(s.m)
	}
	s.m[string(buf[:len(key)])] = hv
	s.mu.Unlock()
}

// take returns and forgets the hint recorded for key.
func (h *indexHints) take(key []byte) (hint, bool) {
	s := h.shard(key)
	s.mu.Lock()
	hv, ok := s.m[string(key)]
	if ok {
		delete(s.m, string(key))
	}
	s.mu.Unlock()
	return hv, ok
}

// readForWrite is read (without filling the cache) for a commit, which
// holds key's stripe: from the item cache, else from the hint's value or
// through the index entry the hints name (see indexHints), else from key.
func (db *DB) readForWrite(key []byte) (it store.Item, cached bool, err error) {
	if it, ok := db.items.get(key); ok {
		return it, true, nil
	}
	if hv, ok := db.hints.take(key); ok {
		if hv.value != "" && db.stripeSeq[db.stripeOf(key)].Load() <= hv.seq {
			it, err := decodeText(hv.value)
			return it, false, err
		}
		v, closer, err := db.pdb.Get(hv.entry)
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
