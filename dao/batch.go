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
type Batch struct {
	d     *DAOs
	keys  []store.Key
	items []store.Item
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

// Quote registers the asset assetID, read as a Quote.
func (b *Batch) Quote(assetID string) Slot[Quote] {
	return register(b, b.d.Assets.Key(assetID), decodeQuote)
}

// Holding registers the holding of username in assetID.
func (b *Batch) Holding(username, assetID string) Slot[*HoldingRecord] {
	return register(b, b.d.Holdings.Key(username, assetID), decodeHolding)
}

// Order registers the order orderID of username.
func (b *Batch) Order(username, orderID string) Slot[*entity.Order] {
	return register(b, b.d.Orders.Key(username, orderID), decodeOrder)
}

// Idem registers the idempotency record at k.
func (b *Batch) Idem(k store.Key) Slot[*IdemRecord] {
	return register(b, k, decodeIdem)
}

func decodeQuote(d *DAOs, it store.Item) (Quote, error)            { return d.Assets.DecodeQuote(it) }
func decodeHolding(d *DAOs, it store.Item) (*HoldingRecord, error) { return d.Holdings.Decode(it) }
func decodeOrder(d *DAOs, it store.Item) (*entity.Order, error)    { return d.Orders.Decode(it) }
func decodeIdem(d *DAOs, it store.Item) (*IdemRecord, error)       { return d.Idem.Decode(it), nil }

// Len returns the number of keys registered.
func (b *Batch) Len() int { return len(b.keys) }

// Read reads every registered key in one store.BatchGet (none when no key
// is registered).
func (b *Batch) Read(ctx context.Context) error {
	if len(b.keys) == 0 {
		return nil
	}
	items, err := b.d.s.BatchGet(ctx, b.keys)
	if err != nil {
		return err
	}
	b.items = items
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
