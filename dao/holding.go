package dao

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/page"
	"github.com/orderprocessor/orderprocessor/store"
)

// HoldingDAO stores asset holdings. Like cash balances, a holding keeps
// quantity, held_quantity and available_quantity changed by ADD actions, and
// the running totals of entity.Position, also changed by ADD actions in the
// fill's transaction (so that a buy never needs a read): cost_basis (the cost
// of the quantity held, buy fees included; average cost = cost_basis /
// quantity), realized (realized P&L), fees (every fee paid) and sold (the
// quantity sold; the quantity bought is quantity + sold). A P&L or portfolio
// read is then one item per asset held, whatever the length of the history.
//
// A holding written before it kept these totals has no fees attribute, and
// its cost_basis leaves buy fees out. No fill writes such a holding (a buy's
// write requires the fees attribute or a new holding, a sale's the fees
// attribute): Upgrade first computes its totals once from its movements and
// writes them (see Current).
type HoldingDAO struct{ base }

// Holding attributes.
const (
	attrQty      = "quantity"
	attrHeldQty  = "held_quantity"
	attrAvailQty = "available_quantity"
	attrCost     = "cost_basis"
	attrBuys     = "buys"
	attrRealized = "realized"
	attrFees     = "fees"
	attrSold     = "sold"
)

// MaxHoldings bounds the holdings List reads: a user holds at most one per
// asset of the catalogue (MaxCatalogue).
const MaxHoldings = MaxCatalogue

// ErrInsufficientHoldings is returned when a sale or hold exceeds the
// available quantity of an asset.
var ErrInsufficientHoldings = apperr.New(apperr.InsufficientFunds, "insufficient holdings")

// HoldingRecord is a stored holding: the entity plus what a sale needs to write
// and the running totals of entity.Position.
type HoldingRecord struct {
	entity.Holding
	CostBasis decimal.Decimal
	Buys      int64
	// Realized, Fees, Bought and Sold are the position's realized P&L, fees
	// paid and quantities bought and sold (Bought is not stored: it is
	// Quantity + Sold).
	Realized, Fees, Bought, Sold decimal.Decimal
	// Current reports that the item keeps the totals (it has the fees
	// attribute); a holding written before it did must be upgraded
	// (HoldingDAO.Upgrade) before its totals, cost basis and average
	// cost are used or a fill writes it.
	Current bool
	// StoredAvailable is the stored available_quantity attribute, which
	// every holding write keeps equal to quantity - held_quantity (verify
	// checks it).
	StoredAvailable decimal.Decimal
}

func (d *HoldingDAO) decode(it store.Item) (*HoldingRecord, error) {
	r := reader{it: it}
	h := &HoldingRecord{Holding: entity.Holding{
		Username: r.str("username"), AssetID: r.str("asset_id"),
		Quantity: r.dec(attrQty), HeldQuantity: r.dec(attrHeldQty),
		CreatedAt: entity.At(r.time("created_at")), UpdatedAt: entity.At(r.time("updated_at")),
		Version: r.int("version"),
	}, CostBasis: r.dec(attrCost), Buys: r.int(attrBuys), StoredAvailable: r.dec(attrAvailQty),
		Realized: r.dec(attrRealized), Fees: r.dec(attrFees), Sold: r.dec(attrSold)}
	h.Bought = h.Quantity.Add(h.Sold)
	_, h.Current = it[attrFees]
	p := h.Position()
	h.AverageCost = p.AverageCost()
	return h, r.err
}

// Position returns the holding's running totals.
func (h *HoldingRecord) Position() entity.Position {
	return entity.Position{Quantity: h.Quantity, CostBasis: h.CostBasis, Realized: h.Realized,
		Fees: h.Fees, Bought: h.Bought, Sold: h.Sold}
}

// Key returns the store key of a holding (for batch reads).
func (d *HoldingDAO) Key(username, assetID string) store.Key {
	return d.t.holdingKey(username, assetID)
}

// Decode decodes a holding item read with Key.
func (d *HoldingDAO) Decode(it store.Item) (*HoldingRecord, error) { return d.decode(it) }

// Get returns the holding or a not_found error.
func (d *HoldingDAO) Get(ctx context.Context, username, assetID string) (*HoldingRecord, error) {
	it, err := d.s.Get(ctx, d.t.holdingKey(username, assetID))
	if err != nil {
		return nil, notFound(err, "no holding of %s", assetID)
	}
	return d.decode(it)
}

// List returns every holding of the user, by asset id (at most one per
// asset of the catalogue: see MaxHoldings).
func (d *HoldingDAO) List(ctx context.Context, username string) ([]*HoldingRecord, error) {
	items, err := d.userItems(ctx, d.t.Users, username, skHolding, MaxHoldings)
	if err != nil {
		return nil, fmt.Errorf("list holdings: %w", err)
	}
	return decodeAll(items, d.decode)
}

// ListCurrent is List with every holding Current: one written before
// holdings kept their totals is upgraded first (Upgrade).
func (d *HoldingDAO) ListCurrent(ctx context.Context, username string) ([]*HoldingRecord, error) {
	hs, err := d.List(ctx, username)
	if err != nil {
		return nil, err
	}
	for i, h := range hs {
		if !h.Current {
			if hs[i], err = d.Upgrade(ctx, username, h.AssetID); err != nil {
				return nil, err
			}
		}
	}
	return hs, nil
}

// GetCurrent is Get with the holding Current (Upgrade).
func (d *HoldingDAO) GetCurrent(ctx context.Context, username, assetID string) (*HoldingRecord, error) {
	h, err := d.Get(ctx, username, assetID)
	if err != nil || h.Current {
		return h, err
	}
	return d.Upgrade(ctx, username, assetID)
}

// upgradeAttempts bounds the attempts of Upgrade that another write of the
// holding overtakes.
const upgradeAttempts = 10

// Upgrade gives a holding written before holdings kept their totals its
// totals (entity.Position over its movements, oldest first, the cost basis
// with buy fees) in one conditional write, and returns it. It reads the
// holding's movements once, a page at a time, so its memory does not grow
// with the history; a holding already Current is returned as read. The write
// requires the version read before the movements, so that a write of the
// holding in between (a hold, a concurrent Upgrade, a fill by a binary that
// predates the totals) makes it start again.
func (d *HoldingDAO) Upgrade(ctx context.Context, username, assetID string) (*HoldingRecord, error) {
	moves := &AssetTransactionDAO{d.base}
	for range upgradeAttempts {
		h, err := d.Get(ctx, username, assetID)
		if err != nil || h.Current {
			return h, err
		}
		var p entity.Position
		if err := moves.Each(ctx, username, assetID, func(m *entity.AssetTransaction) error {
			p.Apply(m)
			return nil
		}); err != nil {
			return nil, fmt.Errorf("upgrade holding %s: %w", assetID, err)
		}
		w := store.Update{Key: d.t.holdingKey(username, assetID), Actions: []store.Action{
			store.Set(attrCost, num(p.CostBasis)), store.Set(attrRealized, num(p.Realized)),
			store.Set(attrFees, num(p.Fees)), store.Set(attrSold, num(p.Sold)),
		}, Cond: store.And(store.VersionIs(h.Version), store.AttrNotExists(attrFees))}
		switch err := d.s.Transact(ctx, []store.Write{{Update: &w}}); {
		case err == nil:
			h.CostBasis, h.Realized, h.Fees, h.Bought, h.Sold, h.Current = p.CostBasis, p.Realized, p.Fees, p.Bought, p.Sold, true
			h.AverageCost = p.AverageCost()
			return h, nil
		case !errors.Is(err, store.ErrConditionFailed):
			return nil, fmt.Errorf("upgrade holding %s: %w", assetID, err)
		}
	}
	return nil, apperr.New(apperr.Unavailable, "holding %s changes too often to upgrade; retry", assetID)
}

func holdingActs(username, assetID string, now time.Time) []store.Action {
	ts := tsv(now)
	acts := make([]store.Action, 0, 12) // room for the callers' actions
	return append(acts,
		store.Add("version", store.Int(1)), store.Set("updated_at", ts),
		store.SetIfAbsent("created_at", ts), store.SetIfAbsent("username", store.S(username)),
		store.SetIfAbsent("asset_id", store.S(assetID)), store.SetIfAbsent(attrHeldQty, num(decimal.Zero)))
}

// BuyWrite returns the write that adds qty bought for paid (fee included;
// fee is the fee paid) to the holding (creating it): entity.Position.Buy. It
// needs no read and conflicts only with a holding that is not Current (the
// caller upgrades it and retries).
func (d *HoldingDAO) BuyWrite(username, assetID string, qty, paid, fee decimal.Decimal, now time.Time) store.Write {
	q := num(qty)
	acts := append(holdingActs(username, assetID, now),
		store.Add(attrQty, q), store.Add(attrAvailQty, q),
		store.Add(attrCost, num(paid)), store.Add(attrBuys, store.Int(1)),
		store.Add(attrFees, num(fee)))
	return store.Write{Update: &store.Update{Key: d.t.holdingKey(username, assetID), Actions: acts, Cond: buyCond}}
}

// buyCond is the condition of every buy's write (conditions are not
// changed once built): a holding that keeps its totals, or a new one.
var buyCond = store.Or(store.AttrExists(attrFees), store.AttrNotExists(attrQty))

// SellWrite returns the write that removes qty sold for proceeds (net of
// fee; fee is the fee paid) from h (as read, Current), and the cost basis it
// takes out: entity.Position.Sell at entity.SaleCost of h. Held quantity,
// when fromHeld is set, is consumed instead of available quantity. The
// condition requires enough quantity, the totals, and no buy since h was
// read (a concurrent buy changes the average: the caller re-reads and
// retries).
func (d *HoldingDAO) SellWrite(h *HoldingRecord, qty, proceeds, fee decimal.Decimal, fromHeld bool, now time.Time) (store.Write, decimal.Decimal) {
	costOut := entity.SaleCost(h.CostBasis, h.Quantity, qty)
	neg := num(qty.Neg())
	acts := append(holdingActs(h.Username, h.AssetID, now),
		store.Add(attrQty, neg), store.Add(attrCost, num(costOut.Neg())),
		store.Add(attrRealized, num(proceeds.Sub(costOut))), store.Add(attrFees, num(fee)),
		store.Add(attrSold, num(qty)))
	guard := store.Ge(attrAvailQty, num(qty))
	if fromHeld {
		acts = append(acts, store.Add(attrHeldQty, neg))
		guard = store.Ge(attrHeldQty, num(qty))
	} else {
		acts = append(acts, store.Add(attrAvailQty, neg))
	}
	return store.Write{Update: &store.Update{Key: d.t.holdingKey(h.Username, h.AssetID), Actions: acts,
		Cond: store.And(guard, store.Eq(attrBuys, store.Int(h.Buys)), saleNeedsTotals)}}, costOut
}

// ReverseBuyWrite returns the write that takes qty of a reversed buy out
// of h (as read, Current) for the refund it paid back (fee included; fee is
// the buy's fee), and the cost basis it takes out at the average cost:
// entity.Position.ReverseBuy. The condition requires the quantity available
// (a holding never goes negative, and held quantity stays covered), the
// totals, and no buy since h was read.
func (d *HoldingDAO) ReverseBuyWrite(h *HoldingRecord, qty, refund, fee decimal.Decimal, now time.Time) (store.Write, decimal.Decimal) {
	costOut := entity.SaleCost(h.CostBasis, h.Quantity, qty)
	neg := num(qty.Neg())
	acts := append(holdingActs(h.Username, h.AssetID, now),
		store.Add(attrQty, neg), store.Add(attrAvailQty, neg), store.Add(attrCost, num(costOut.Neg())),
		store.Add(attrRealized, num(refund.Sub(costOut))), store.Add(attrFees, num(fee.Neg())))
	return store.Write{Update: &store.Update{Key: d.t.holdingKey(h.Username, h.AssetID), Actions: acts,
		Cond: store.And(store.Ge(attrAvailQty, num(qty)), store.Eq(attrBuys, store.Int(h.Buys)), saleNeedsTotals)}}, costOut
}

// ReverseSellWrite returns the write that puts qty of a reversed sale back
// into the holding with cost, the cost basis the sale took out, and takes
// back the sale's realized P&L (proceeds net of fee, minus cost), fee and
// sold quantity: entity.Position.ReverseSell. It counts as a buy (the
// average cost changes: a sale priced before it retries). It requires the
// totals.
func (d *HoldingDAO) ReverseSellWrite(username, assetID string, qty, proceeds, fee, cost decimal.Decimal, now time.Time) store.Write {
	q := num(qty)
	acts := append(holdingActs(username, assetID, now),
		store.Add(attrQty, q), store.Add(attrAvailQty, q), store.Add(attrCost, num(cost)),
		store.Add(attrRealized, num(cost.Sub(proceeds))), store.Add(attrFees, num(fee.Neg())),
		store.Add(attrSold, num(qty.Neg())), store.Add(attrBuys, store.Int(1)))
	return store.Write{Update: &store.Update{Key: d.t.holdingKey(username, assetID), Actions: acts, Cond: saleNeedsTotals}}
}

// saleNeedsTotals is part of every sale's condition: a holding that keeps
// its totals.
var saleNeedsTotals = store.AttrExists(attrFees)

// HoldWrite returns the write that moves qty from available to held (a
// sell-side order resting); a negative qty releases a hold.
func (d *HoldingDAO) HoldWrite(username, assetID string, qty decimal.Decimal, now time.Time) store.Write {
	acts := append(holdingActs(username, assetID, now),
		store.Add(attrHeldQty, num(qty)), store.Add(attrAvailQty, num(qty.Neg())))
	cond := store.Ge(attrAvailQty, num(qty))
	if qty.IsNegative() {
		cond = store.Ge(attrHeldQty, num(qty.Neg()))
	}
	return store.Write{Update: &store.Update{Key: d.t.holdingKey(username, assetID), Actions: acts, Cond: cond}}
}

// AssetTransactionDAO reads asset movements (BUY/SELL). A movement is the
// ledger entry of a fill: the order_payment or order_sale entry that an
// order's execution writes carries the asset leg (BalanceDAO.TransactionWrite
// with entity.BalanceTransaction.Asset), so one item records both the cash
// and the asset side of a fill. A store may also hold movements as items of
// their own (ATX#<asset>#<id>), for fill entries without an asset leg; they
// are read too, after the ledger's fills with their asset leg (see ledgerPage
// for where those end).
type AssetTransactionDAO struct{ base }

// movementScan bounds the ledger entries one page of movements reads, as for
// a filtered page of the ledger.
const movementScan = 5000

// Movement cursor phases: the ledger, then the movements of their own.
const (
	phaseLedger = 'L'
	phaseOwn    = 'A'
)

// decodeOwn decodes a movement of its own (ATX# item).
func (d *AssetTransactionDAO) decodeOwn(it store.Item) (*entity.AssetTransaction, error) {
	r := reader{it: it}
	t := &entity.AssetTransaction{
		TransactionID: r.str("transaction_id"), Username: r.str("username"), AssetID: r.str("asset_id"),
		TransactionType: entity.AssetTxType(r.str("transaction_type")), Quantity: r.dec("quantity"),
		Price: r.dec("price"), TotalAmount: r.dec("total_amount"), OrderID: r.str("order_id"),
		Status: entity.TransactionStatus(r.str("status")), Timestamp: entity.At(r.time("timestamp")),
	}
	return t, r.err
}

// isFill reports whether a ledger item is a fill's entry.
func isFill(it store.Item) bool {
	t := it.Str("transaction_type")
	return t == string(entity.TxOrderPayment) || t == string(entity.TxOrderSale)
}

// ledgerPage reads the ledger's movements of assetID ("" for any asset)
// newest first from the store cursor inner: up to limit of them, reading at
// most movementScan entries. It returns the cursor after the last entry
// read, "" when the ledger holds no more movements: at its end, or at the
// first fill entry without an asset leg. Such an entry was written before
// fills carried their movements, and so was every older one (the ledger is
// in time order); their movements are items of their own.
func (d *AssetTransactionDAO) ledgerPage(ctx context.Context, username, assetID string, limit int, inner string) ([]store.Item, string, error) {
	q := store.Query{Table: d.t.Users, PK: userPK(username), Desc: true, Cursor: inner,
		SK: store.SortCond{Op: store.SortBeginsWith, Value: skTx}}
	var out []store.Item
	scanned := 0
	for {
		q.Limit = min(limit-len(out), store.MaxQueryLimit)
		p, err := d.s.Query(ctx, q)
		if err != nil {
			return nil, "", err
		}
		for _, it := range p.Items {
			if !isFill(it) {
				continue
			}
			a, leg := it["asset_id"]
			if !leg {
				return out, "", nil
			}
			if assetID == "" || a.Str() == assetID {
				out = append(out, it)
			}
		}
		scanned += len(p.Items)
		if p.Cursor == "" || len(out) >= limit || scanned >= movementScan {
			return out, p.Cursor, nil
		}
		q.Cursor = p.Cursor
	}
}

// movements decodes ledger items that are movements.
func movements(items []store.Item) ([]*entity.AssetTransaction, error) {
	out := make([]*entity.AssetTransaction, 0, len(items))
	for _, it := range items {
		t, err := decodeTx(it)
		if err != nil {
			return nil, err
		}
		if m, ok := t.Movement(); ok {
			out = append(out, m)
		}
	}
	return out, nil
}

// List returns the user's movements of assetID ("" for all assets) newest
// first, and the next page's cursor. A page reads at most 5,000 ledger
// entries, so it may hold fewer than limit movements and still have a cursor;
// an asset the user has no holding of (never traded) is answered without
// reading the ledger. The movements of their own of an older store follow
// the ledger's (see ledgerPage), in key order descending (asset, then newest
// first).
func (d *AssetTransactionDAO) List(ctx context.Context, username, assetID string, limit int, cursor string) ([]*entity.AssetTransaction, string, error) {
	limit = max(limit, 1)
	phase, inner, err := d.decodeMovementCursor(cursor, assetID)
	if err != nil {
		return nil, "", err
	}
	var out []*entity.AssetTransaction
	if phase == phaseLedger && inner == "" && assetID != "" {
		// Every fill of an asset writes the user's holding of it, which is
		// never deleted: without one there is nothing to page the ledger for.
		switch _, err := d.s.Get(ctx, d.t.holdingKey(username, assetID)); {
		case errors.Is(err, store.ErrNotFound):
			return nil, "", nil
		case err != nil:
			return nil, "", fmt.Errorf("list asset transactions: %w", err)
		}
	}
	if phase == phaseLedger {
		items, next, err := d.ledgerPage(ctx, username, assetID, limit, inner)
		if err != nil {
			return nil, "", fmt.Errorf("list asset transactions: %w", err)
		}
		if out, err = movements(items); err != nil {
			return nil, "", err
		}
		if next != "" {
			return out, d.movementCursor(phaseLedger, assetID, next), nil
		}
		if len(out) == limit {
			// The ledger is read to its end; the next page starts with the
			// movements of their own (usually none).
			return out, d.movementCursor(phaseOwn, assetID, ""), nil
		}
		inner = ""
	}
	prefix := skAssetTx
	if assetID != "" {
		prefix += assetID + "#"
	}
	q := store.Query{Table: d.t.Users, PK: userPK(username), Desc: true, Cursor: inner, Limit: limit - len(out),
		SK: store.SortCond{Op: store.SortBeginsWith, Value: prefix}}
	p, err := d.s.Query(ctx, q)
	if err != nil {
		return nil, "", fmt.Errorf("list asset transactions: %w", err)
	}
	own, err := decodeAll(p.Items, d.decodeOwn)
	if err != nil {
		return nil, "", err
	}
	out = append(out, own...)
	if p.Cursor == "" {
		return out, "", nil
	}
	return out, d.movementCursor(phaseOwn, assetID, p.Cursor), nil
}

// movementCursor is the cursor of a page of movements: the phase, the asset
// it lists (a cursor is valid only for its asset) and the store's cursor.
func (d *AssetTransactionDAO) movementCursor(phase byte, assetID, inner string) string {
	return d.cursors.Encode([]byte(string(phase) + assetID + "\x00" + inner))
}

// decodeMovementCursor returns the phase and store cursor of a movement
// cursor made for assetID ("" starts with the ledger).
func (d *AssetTransactionDAO) decodeMovementCursor(cursor, assetID string) (phase byte, inner string, err error) {
	payload, err := d.cursors.Decode(cursor)
	if err != nil || payload == nil {
		return phaseLedger, "", err
	}
	rest, ok := strings.CutPrefix(string(payload[1:]), assetID+"\x00")
	if !ok || payload[0] != phaseLedger && payload[0] != phaseOwn {
		return 0, "", page.ErrInvalidCursor
	}
	return payload[0], rest, nil
}

// Each calls fn with every movement of assetID of the user, oldest first:
// the movements of their own of an older store, then the ledger's fills with
// their asset leg (see ledgerPage). It reads a page at a time and keeps
// none: its memory does not grow with the history (Upgrade).
func (d *AssetTransactionDAO) Each(ctx context.Context, username, assetID string, fn func(*entity.AssetTransaction) error) error {
	q := store.Query{Table: d.t.Users, PK: userPK(username), Limit: store.MaxQueryLimit,
		SK: store.SortCond{Op: store.SortBeginsWith, Value: skAssetTx + assetID + "#"}}
	for {
		p, err := d.s.Query(ctx, q)
		if err != nil {
			return err
		}
		for _, it := range p.Items {
			m, err := d.decodeOwn(it)
			if err != nil {
				return err
			}
			if err := fn(m); err != nil {
				return err
			}
		}
		if p.Cursor == "" {
			break
		}
		q.Cursor = p.Cursor
	}
	q.SK.Value, q.Cursor = skTx, ""
	for {
		p, err := d.s.Query(ctx, q)
		if err != nil {
			return err
		}
		for _, it := range p.Items {
			if !isFill(it) || it.Str("asset_id") != assetID {
				continue
			}
			t, err := decodeTx(it)
			if err != nil {
				return err
			}
			if m, ok := t.Movement(); ok {
				if err := fn(m); err != nil {
					return err
				}
			}
		}
		if p.Cursor == "" {
			return nil
		}
		q.Cursor = p.Cursor
	}
}

// All returns every movement of the user, by asset, then oldest first (verify).
func (d *AssetTransactionDAO) All(ctx context.Context, username string) ([]*entity.AssetTransaction, error) {
	items, err := d.userItems(ctx, d.t.Users, username, skTx, 1<<30)
	if err != nil {
		return nil, err
	}
	out, err := movements(items)
	if err != nil {
		return nil, err
	}
	if items, err = d.userItems(ctx, d.t.Users, username, skAssetTx, 1<<30); err != nil {
		return nil, err
	}
	own, err := decodeAll(items, d.decodeOwn)
	if err != nil {
		return nil, err
	}
	out = append(out, own...)
	slices.SortStableFunc(out, func(a, b *entity.AssetTransaction) int {
		return cmp.Or(strings.Compare(a.AssetID, b.AssetID), strings.Compare(a.TransactionID, b.TransactionID))
	})
	return out, nil
}
