package dao

import (
	"context"

	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/store"
)

// Batch reads items of several kinds in one store round trip
// (store.BatchGet). Each key is registered with the method of its kind,
// which returns a Slot of the decoded type; after Read, each result is taken
// from its slot, by name, never by position. The zero value is unusable:
// start one with DAOs.Batch.
//
// With DAOs.Cache set, quotes come from the cache, and an idempotency
// record is read only when the batch reads the store anyway (see Idem): a
// market buy whose quote is cached reads nothing from the store.
type Batch struct {
	d     *DAOs
	keys  []store.Key
	items []store.Item
	// cached and optional flag keys by position (the first 64): read
	// through DAOs.Cache, and read only along with another key.
	cached, optional uint64
}

// Batch returns an empty batch read over d.
func (d *DAOs) Batch() Batch { return Batch{d: d} }

// Slot is a key registered in a Batch, whose item decodes to a T. The zero
// Slot was never registered: Get reports it as missing.
type Slot[T any] struct {
	b      *Batch
	i      int
	decode func(*DAOs, store.Item) (T, error)
}

func register[T any](b *Batch, k store.Key, decode func(*DAOs, store.Item) (T, error)) Slot[T] {
	b.keys = append(b.keys, k)
	return Slot[T]{b: b, i: len(b.keys) - 1, decode: decode}
}

// Quote registers the asset assetID, read as a Quote: from DAOs.Cache when
// set (its price and active flag may then be a moment old: never a
// condition of a write, only the price an order executes at).
func (b *Batch) Quote(assetID string) Slot[Quote] {
	s := register(b, b.d.Assets.Key(assetID), decodeQuote)
	b.flag(&b.cached, s.i)
	return s
}

// Holding registers the holding of username in assetID.
func (b *Batch) Holding(username, assetID string) Slot[*HoldingRecord] {
	return register(b, b.d.Holdings.Key(username, assetID), decodeHolding)
}

// Order registers the order orderID of username.
func (b *Batch) Order(username, orderID string) Slot[*entity.Order] {
	return register(b, b.d.Orders.Key(username, orderID), decodeOrder)
}

// Rate registers the stored exchange rate of currency c, read from the
// store (never from DAOs.Cache: a rate decides money only with its age).
func (b *Batch) Rate(c entity.Currency) Slot[*FXRate] {
	return register(b, b.d.FX.Key(c), decodeRate)
}

// Idem registers the idempotency record at k. It is read only when the
// batch reads another key from the store; otherwise its slot reports it
// missing, and the caller relies on the record's write in its transaction
// (IdempotencyDAO.Write: it fails when the key was used) to find a replay.
func (b *Batch) Idem(k store.Key) Slot[*IdemRecord] {
	s := register(b, k, decodeIdem)
	b.flag(&b.optional, s.i)
	return s
}

func (b *Batch) flag(set *uint64, i int) {
	if i < 64 {
		*set |= 1 << i
	}
}

func decodeQuote(d *DAOs, it store.Item) (Quote, error)            { return d.Assets.DecodeQuote(it) }
func decodeHolding(d *DAOs, it store.Item) (*HoldingRecord, error) { return d.Holdings.Decode(it) }
func decodeOrder(d *DAOs, it store.Item) (*entity.Order, error)    { return d.Orders.Decode(it) }
func decodeRate(d *DAOs, it store.Item) (*FXRate, error)           { return d.FX.Decode(it) }
func decodeIdem(d *DAOs, it store.Item) (*IdemRecord, error)       { return d.Idem.Decode(it), nil }

// Len returns the number of keys registered.
func (b *Batch) Len() int { return len(b.keys) }

// Read reads every registered key in one store.BatchGet (none when no key
// is registered).
func (b *Batch) Read(ctx context.Context) error {
	if len(b.keys) == 0 {
		return nil
	}
	if b.d.Cache != nil && b.cached != 0 {
		return b.readCached(ctx)
	}
	items, err := b.d.s.BatchGet(ctx, b.keys)
	if err != nil {
		return err
	}
	b.items = items
	return nil
}

// readCached is Read with DAOs.Cache: the cached keys through it, the
// others from the store, and the optional ones only when another key is
// read from the store.
func (b *Batch) readCached(ctx context.Context) error {
	b.items = make([]store.Item, len(b.keys))
	var cached, other []int
	required := false
	for i := range b.keys {
		bit := uint64(0)
		if i < 64 {
			bit = 1 << i
		}
		switch {
		case b.cached&bit != 0:
			cached = append(cached, i)
		default:
			other = append(other, i)
			required = required || b.optional&bit == 0
		}
	}
	for _, part := range [...]struct {
		s    store.Store
		idx  []int
		read bool
	}{{b.d.Cache, cached, true}, {b.d.s, other, required}} {
		if !part.read || len(part.idx) == 0 {
			continue
		}
		keys := make([]store.Key, len(part.idx))
		for j, i := range part.idx {
			keys[j] = b.keys[i]
		}
		items, err := part.s.BatchGet(ctx, keys)
		if err != nil {
			return err
		}
		for j, i := range part.idx {
			b.items[i] = items[j]
		}
	}
	return nil
}

// Get returns the decoded item of s after Read, and whether it exists
// (false, without error, for a missing item or a slot never registered);
// err is the decoding's.
func (s Slot[T]) Get() (v T, found bool, err error) {
	if s.b == nil || s.i >= len(s.b.items) || s.b.items[s.i] == nil {
		return v, false, nil
	}
	v, err = s.decode(s.b.d, s.b.items[s.i])
	return v, true, err
}
