package dao

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/store"
)

// OrderDAO stores orders, partitioned by user (USER#<name> / ORDER#<id>), and
// the guards that keep client order ids unique per user. An order is a JSON
// document plus the attributes conditions, filters and the trigger index use.
type OrderDAO struct {
	base
	indexer Indexer
}

// ErrClientOrderIDTaken is returned when a client_order_id is already used
// by another request of the same user.
var ErrClientOrderIDTaken = apperr.New(apperr.Conflict, "client_order_id already used")

// OrderIndexKeys are the sparse index keys of an open order; empty pairs
// keep the order out of that index.
type OrderIndexKeys struct {
	TriggerPK, TriggerSK string // IndexOpenOrders
	TrailPK, TrailSK     string // IndexTrailing
	ExpiryPK, ExpirySK   string // IndexExpiry
}

// Indexer computes an open order's index keys. The trading layer owns the
// trigger rules, so it provides this (NewIndexed, trading.NewDAOs).
type Indexer func(o *entity.Order) OrderIndexKeys

// Indexed reports whether the DAO indexes open orders.
func (d *OrderDAO) Indexed() bool { return d.indexer != nil }

// SortablePrice encodes a non-negative price below 1E+16 with at most 8
// decimal places as fixed-width text whose byte order is numeric order.
func SortablePrice(p decimal.Decimal) string {
	s := p.StringFixed(8)
	intPart, frac, _ := strings.Cut(s, ".")
	if len(intPart) < 16 {
		intPart = strings.Repeat("0", 16-len(intPart)) + intPart
	}
	return intPart + "." + frac
}

// docBufs holds scratch buffers for order documents: AppendJSON grows its
// buffer to an upper bound first, the item keeps an exact copy.
var docBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

func (d *OrderDAO) item(o *entity.Order) (store.Item, error) {
	// AppendJSON writes encoding/json's bytes without reflection (and without
	// HTML escaping, which decodeDoc does not care about).
	bp := docBufs.Get().(*[]byte)
	doc, err := o.AppendJSON((*bp)[:0])
	if err != nil {
		docBufs.Put(bp)
		return nil, fmt.Errorf("encode document: %w", err)
	}
	docText := string(doc)
	*bp = doc[:0]
	docBufs.Put(bp)
	it := store.Item{
		"doc": store.S(docText), "order_id": store.S(o.OrderID), "status": store.S(string(o.Status)),
		"order_type": store.S(string(o.OrderType)), "asset_id": store.S(o.AssetID),
		"version": store.Int(o.Version),
	}
	if d.indexer != nil && o.Status.IsOpen() {
		k := d.indexer(o)
		for _, kv := range [...][4]string{
			{attrTrigPK, k.TriggerPK, attrTrigSK, k.TriggerSK},
			{attrHWMPK, k.TrailPK, attrHWMSK, k.TrailSK},
			{attrExpPK, k.ExpiryPK, attrExpSK, k.ExpirySK},
		} {
			if kv[1] != "" && kv[3] != "" {
				it[kv[0]], it[kv[2]] = store.S(kv[1]), store.S(kv[3])
			}
		}
	}
	return it, nil
}

func (d *OrderDAO) decode(it store.Item) (*entity.Order, error) {
	o, err := entity.DecodeOrder(it.Str("doc"))
	if err != nil {
		return nil, fmt.Errorf("decode %s/%s: %w", it.Str(store.AttrPK), it.Str(store.AttrSK), err)
	}
	o.Version = it.Int("version")
	return o, nil
}

// Decode decodes an order item (from a query of the trigger index).
func (d *OrderDAO) Decode(it store.Item) (*entity.Order, error) { return d.decode(it) }

// AddCreate adds to tx the writes that store a new order: the order
// (RoleOrder, must not exist) and, when it has a client order id, the guard
// that makes it unique for the user (RoleClientOrderID, holding reqHash, a
// digest of the request, for replays).
func (d *OrderDAO) AddCreate(tx *Tx, o *entity.Order, reqHash string) error {
	it, err := d.item(o)
	if err != nil {
		return err
	}
	tx.Add(RoleOrder, putFresh(d.t.orderKey(o.Username, o.OrderID), it))
	if o.ClientOrderID != "" {
		tx.Add(RoleClientOrderID, putNew(d.t.clientOrderIDKey(o.Username, o.ClientOrderID),
			store.Item{"order_id": store.S(o.OrderID), "req_hash": store.S(reqHash)}))
	}
	return nil
}

// CreateWrites returns the writes of AddCreate on their own.
func (d *OrderDAO) CreateWrites(o *entity.Order, reqHash string) ([]store.Write, error) {
	var tx Tx
	if err := d.AddCreate(&tx, o, reqHash); err != nil {
		return nil, err
	}
	return tx.Writes(), nil
}

// Create stores a new order on its own.
func (d *OrderDAO) Create(ctx context.Context, o *entity.Order) error {
	var tx Tx
	if err := d.AddCreate(&tx, o, ""); err != nil {
		return err
	}
	if err := d.s.Transact(ctx, tx.Writes()); err != nil {
		if r, _ := tx.Failed(err, RoleOrder, RoleClientOrderID); r == RoleClientOrderID {
			return ErrClientOrderIDTaken
		}
		return fmt.Errorf("create order: %w", err)
	}
	return nil
}

// ClientOrder returns the order id and request digest recorded for a client
// order id, or a not_found error.
func (d *OrderDAO) ClientOrder(ctx context.Context, username, clientOrderID string) (orderID, reqHash string, err error) {
	it, err := d.s.Get(ctx, d.t.clientOrderIDKey(username, clientOrderID))
	if err != nil {
		return "", "", notFound(err, "client order id not found")
	}
	return it.Str("order_id"), it.Str("req_hash"), nil
}

// Get returns the user's order, or not_found (also for another user's order:
// the key includes the owner).
func (d *OrderDAO) Get(ctx context.Context, username, orderID string) (*entity.Order, error) {
	it, err := d.s.Get(ctx, d.t.orderKey(username, orderID))
	if err != nil {
		return nil, notFound(err, "order not found")
	}
	return d.decode(it)
}

// Key returns the store key of an order.
func (d *OrderDAO) Key(username, orderID string) store.Key { return d.t.orderKey(username, orderID) }

// UpdateWrite returns the write that stores o (read at version read) with
// o.Version incremented by the caller; it requires that the stored order is
// still at version read and in status from.
func (d *OrderDAO) UpdateWrite(o *entity.Order, read int64, from entity.OrderStatus) (store.Write, error) {
	it, err := d.item(o)
	if err != nil {
		return store.Write{}, err
	}
	return store.Write{Put: &store.Put{Key: d.t.orderKey(o.Username, o.OrderID), Item: it,
		Cond: store.And(store.VersionIs(read), store.Eq("status", store.S(string(from))))}}, nil
}

// Update stores o if it is unchanged since read (o.Version), incrementing
// o.Version; a conflict error otherwise.
func (d *OrderDAO) Update(ctx context.Context, o *entity.Order, now time.Time) error {
	read, from := o.Version, o.Status
	o.Version++
	o.UpdatedAt = entity.At(now)
	w, err := d.UpdateWrite(o, read, from)
	if err != nil {
		return err
	}
	if err := d.s.Transact(ctx, []store.Write{w}); err != nil {
		o.Version = read
		if errors.Is(err, store.ErrConditionFailed) {
			return apperr.New(apperr.Conflict, "order %s changed concurrently", o.OrderID)
		}
		return fmt.Errorf("update order: %w", err)
	}
	return nil
}

// UpdateStatus moves o to status to, enforcing the status machine for actor
// and, with a conditional write, that nobody moved it first. o is updated in
// place; a conflict error when the transition is not allowed or lost a race.
func (d *OrderDAO) UpdateStatus(ctx context.Context, o *entity.Order, to entity.OrderStatus, actor entity.Actor, reason string, now time.Time) error {
	read, from := o.Version, o.Status
	snapshot := *o
	snapshot.StatusHistory = append([]entity.StatusChange(nil), o.StatusHistory...)
	if err := o.Transition(to, actor, entity.At(now), reason); err != nil {
		return err
	}
	o.Version = read + 1
	o.UpdatedAt = entity.At(now)
	w, err := d.UpdateWrite(o, read, from)
	if err != nil {
		*o = snapshot
		return err
	}
	if err := d.s.Transact(ctx, []store.Write{w}); err != nil {
		*o = snapshot
		if errors.Is(err, store.ErrConditionFailed) {
			return apperr.New(apperr.Conflict, "order %s is no longer %s", o.OrderID, from)
		}
		return fmt.Errorf("update order status: %w", err)
	}
	return nil
}

// OrderFilter selects a user's orders.
type OrderFilter struct {
	Status    entity.OrderStatus // "" for all
	OrderType entity.OrderType   // "" for all
	AssetID   string             // "" for all
	Limit     int
	Cursor    string
}

func (f OrderFilter) match(it store.Item) bool {
	return (f.Status == "" || it.Str("status") == string(f.Status)) &&
		(f.OrderType == "" || it.Str("order_type") == string(f.OrderType)) &&
		(f.AssetID == "" || it.Str("asset_id") == f.AssetID)
}

// ListByUser returns the user's orders newest first, filtered, and the next
// page's cursor ("" at the end).
func (d *OrderDAO) ListByUser(ctx context.Context, username string, f OrderFilter) ([]*entity.Order, string, error) {
	q := store.Query{Table: d.t.Orders, PK: userPK(username), Desc: true, Cursor: f.Cursor,
		SK: store.SortCond{Op: store.SortBeginsWith, Value: skOrder}}
	items, next, err := d.filterPage(ctx, q, max(f.Limit, 1), 5000, f.match)
	if err != nil {
		return nil, "", fmt.Errorf("list orders: %w", err)
	}
	out, err := decodeAll(items, d.decode)
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// ListByUserAndAsset is ListByUser filtered by asset.
func (d *OrderDAO) ListByUserAndAsset(ctx context.Context, username, assetID string, limit int, cursor string) ([]*entity.Order, string, error) {
	return d.ListByUser(ctx, username, OrderFilter{AssetID: assetID, Limit: limit, Cursor: cursor})
}

// ListByUserAndStatus is ListByUser filtered by status.
func (d *OrderDAO) ListByUserAndStatus(ctx context.Context, username string, s entity.OrderStatus, limit int, cursor string) ([]*entity.Order, string, error) {
	return d.ListByUser(ctx, username, OrderFilter{Status: s, Limit: limit, Cursor: cursor})
}

// Scan calls fn for every order of every user, a page of the orders table
// at a time (the table's other items, client order id guards, are skipped).
// It reads the whole table: admin analytics.
func (d *OrderDAO) Scan(ctx context.Context, fn func(*entity.Order) error) error {
	cursor := ""
	for {
		p, err := d.s.Scan(ctx, store.Scan{Table: d.t.Orders, Limit: 1000, Cursor: cursor})
		if err != nil {
			return fmt.Errorf("scan orders: %w", err)
		}
		for _, it := range p.Items {
			if !strings.HasPrefix(it.Str(store.AttrSK), skOrder) {
				continue
			}
			o, err := d.decode(it)
			if err != nil {
				return err
			}
			if err := fn(o); err != nil {
				return err
			}
		}
		if p.Cursor == "" {
			return nil
		}
		cursor = p.Cursor
	}
}

// AllByUser returns every order of the user (verify).
func (d *OrderDAO) AllByUser(ctx context.Context, username string) ([]*entity.Order, error) {
	items, err := d.userItems(ctx, d.t.Orders, username, skOrder, 1<<30)
	if err != nil {
		return nil, err
	}
	return decodeAll(items, d.decode)
}

// OpenIn returns open orders of one partition of an open-order index
// (IndexOpenOrders, IndexTrailing or IndexExpiry) whose index sort key
// satisfies sk, ascending, a page at a time.
func (d *OrderDAO) OpenIn(ctx context.Context, index, pk string, sk store.SortCond, limit int, cursor string) ([]*entity.Order, string, error) {
	p, err := d.s.Query(ctx, store.Query{Table: d.t.Orders, Index: index, PK: pk, SK: sk, Limit: limit, Cursor: cursor})
	if err != nil {
		return nil, "", fmt.Errorf("open orders of %s/%s: %w", index, pk, err)
	}
	out, err := decodeAll(p.Items, d.decode)
	if err != nil {
		return nil, "", err
	}
	return out, p.Cursor, nil
}

// UsernameOf returns the owner encoded in an order item's partition key.
func UsernameOf(it store.Item) string { return usernameFromPK(it.Str(store.AttrPK)) }
