package dao

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/page"
	"github.com/orderprocessor/orderprocessor/store"
)

// DAOs bundles every DAO over one store.
type DAOs struct {
	s         store.Store
	Tables    Tables
	Users     *UserDAO
	Balances  *BalanceDAO
	Holdings  *HoldingDAO
	AssetTxs  *AssetTransactionDAO
	Orders    *OrderDAO
	Assets    *AssetDAO
	Idem      *IdempotencyDAO
	Analytics *ScanDAO
	Leases    *LeaseDAO
	FX        *FXDAO
	Volume    *VolumeDAO
	Perf      *PerfDAO
	// Cache, when set, is a read-through cache over Store (package cache)
	// that Batch reads quotes from; nil: quotes come from Store.
	Cache store.Store
}

// New returns the DAOs over s with tables t, which index no open orders:
// enough to read a store (verification), not to write orders through. The
// cursors the DAOs make themselves are signed as the store's are, when s
// has a Cursors method (both engines do), else with the process's key.
func New(s store.Store, t Tables) *DAOs { return NewIndexed(s, t, nil) }

// NewIndexed returns the DAOs over s with tables t whose order DAO indexes
// open orders with ix (nil: in no index), as New does otherwise.
func NewIndexed(s store.Store, t Tables, ix Indexer) *DAOs {
	b := base{s: s, t: t}
	if c, ok := s.(interface{ Cursors() *page.Codec }); ok {
		b.cursors = c.Cursors()
	}
	return &DAOs{
		s: s, Tables: t,
		Users: &UserDAO{b}, Balances: &BalanceDAO{b}, Holdings: &HoldingDAO{b},
		AssetTxs: &AssetTransactionDAO{b}, Orders: &OrderDAO{base: b, indexer: ix}, Assets: &AssetDAO{b},
		Idem: &IdempotencyDAO{b}, Analytics: &ScanDAO{b}, Leases: &LeaseDAO{b}, FX: &FXDAO{b},
		Volume: &VolumeDAO{base: b}, Perf: &PerfDAO{base: b},
	}
}

// Transact applies writes (a dao.Tx's Writes) as one store transaction.
func (d *DAOs) Transact(ctx context.Context, writes []store.Write) error {
	return d.s.Transact(ctx, writes)
}

// Sync makes every write acknowledged so far durable (the writes committed
// under store.DeferSync).
func (d *DAOs) Sync(ctx context.Context) error { return d.s.Sync(ctx) }

type base struct {
	s       store.Store
	t       Tables
	cursors *page.Codec // signs the DAOs' own cursors
}

// Transact applies writes as one store transaction.
func (b base) Transact(ctx context.Context, writes []store.Write) error {
	return b.s.Transact(ctx, writes)
}

func putNew(k store.Key, it store.Item) store.Write {
	return store.Write{Put: &store.Put{Key: k, Item: it, Cond: store.ItemNotExists()}}
}

// putFresh is putNew for a key that embeds an id generated for this write
// (store.Put.Fresh): engines need not look the key up.
func putFresh(k store.Key, it store.Item) store.Write {
	return store.Write{Put: &store.Put{Key: k, Item: it, Cond: store.ItemNotExists(), Fresh: true}}
}

// docValue stores v as a JSON document attribute.
func docValue(v any) (store.Value, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return store.Value{}, fmt.Errorf("encode document: %w", err)
	}
	return store.S(string(b)), nil
}

func decodeDoc(it store.Item, v any) error {
	if err := json.Unmarshal([]byte(it.Str("doc")), v); err != nil {
		return fmt.Errorf("decode %s/%s: %w", it.Str(store.AttrPK), it.Str(store.AttrSK), err)
	}
	return nil
}

// notFound turns store.ErrNotFound into a not_found error naming what.
func notFound(err error, format string, args ...any) error {
	if errors.Is(err, store.ErrNotFound) {
		return apperr.New(apperr.NotFound, format, args...)
	}
	return err
}

// queryAll reads every item of a query (bounded by max items).
func (b base) queryAll(ctx context.Context, q store.Query, max int) ([]store.Item, error) {
	var out []store.Item
	for {
		p, err := b.s.Query(ctx, q)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Items...)
		if p.Cursor == "" || len(out) >= max {
			return out, nil
		}
		q.Cursor = p.Cursor
	}
}

// userItems reads the items of username's partition of table whose sort
// key starts with prefix, in sort-key order (at most max).
func (b base) userItems(ctx context.Context, table, username, prefix string, max int) ([]store.Item, error) {
	return b.queryAll(ctx, store.Query{Table: table, PK: userPK(username),
		SK: store.SortCond{Op: store.SortBeginsWith, Value: prefix}}, max)
}

// filterPage reads up to limit items of q that keep accepts, reading at most
// maxScan items, and returns them with the cursor after the last item read.
func (b base) filterPage(ctx context.Context, q store.Query, limit, maxScan int, keep func(store.Item) bool) ([]store.Item, string, error) {
	var out []store.Item
	scanned := 0
	for {
		q.Limit = min(limit-len(out), store.MaxQueryLimit)
		p, err := b.s.Query(ctx, q)
		if err != nil {
			return nil, "", err
		}
		scanned += len(p.Items)
		for _, it := range p.Items {
			if keep == nil || keep(it) {
				out = append(out, it)
			}
		}
		if p.Cursor == "" || len(out) >= limit || scanned >= maxScan {
			return out, p.Cursor, nil
		}
		q.Cursor = p.Cursor
	}
}

// decodeAll decodes items with decode, stopping at the first error.
func decodeAll[T any](items []store.Item, decode func(store.Item) (T, error)) ([]T, error) {
	out := make([]T, 0, len(items))
	for _, it := range items {
		v, err := decode(it)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
