package dao

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/store"
)

// PerfDAO keeps each user's daily buckets (docs/data-model.md): one item per
// user and UTC day, written by every transaction that moves the user's
// money or assets, in that transaction: the day's change of each cash
// balance and of each holding's quantity, its external cash flows
// (deposits, withdrawals, adjustments), its realized P&L, and its orders
// placed and fills. A user's performance over a range reads the range's
// buckets: O(days), whatever the history.
type PerfDAO struct {
	base
	day atomic.Pointer[dayKeys] // the sort key of the current day's buckets
}

const (
	skDay           = "DAY#"
	prefixCash      = "cash_"
	prefixQty       = "qty_"
	prefixFlow      = "flow_"
	attrDayRealized = "realized"
	attrFills       = "fills"
	attrFillValue   = "notional"
	attrDayPlaced   = "placed"
	attrPerfExists  = "day"
)

func (t Tables) dayKey(username string, day time.Time) store.Key {
	return store.Key{Table: t.Users, PK: userPK(username), SK: skDay + Day.label(day)}
}

// dayKeys is the sort key of the current day's buckets, built once a day.
type dayKeys struct {
	unix int64 // the day's start, Unix seconds
	sk   string
}

// attrNames caches attribute names made of a prefix and a currency or an
// asset id (bounded by the currencies and the catalogue).
var attrNames sync.Map

func attrName(prefix, id string) string {
	k := [2]string{prefix, id}
	if v, ok := attrNames.Load(k); ok {
		return v.(string)
	}
	n := prefix + id
	attrNames.Store(k, n)
	return n
}

func (d *PerfDAO) daySK(at time.Time) string {
	day := Day.Truncate(at)
	if k := d.day.Load(); k != nil && k.unix == day.Unix() {
		return k.sk
	}
	k := &dayKeys{unix: day.Unix(), sk: skDay + Day.label(day)}
	d.day.Store(k)
	return k.sk
}

// DayWrite returns the write that adds to username's bucket of the UTC day
// of at the effect of entries (the transaction's completed ledger entries)
// and c (the placement and fill it makes, if any): part of the transaction.
func (d *PerfDAO) DayWrite(username string, at time.Time, c Count, entries ...*entity.BalanceTransaction) store.Write {
	sk := d.daySK(at)
	acts := make([]store.Action, 0, 10)
	acts = append(acts, store.SetIfAbsent(attrPerfExists, store.S(sk[len(skDay):])))
	for _, e := range entries {
		if e.Status != entity.TxCompleted || e.TransactionType == entity.TxOrderHold {
			continue
		}
		cur := string(e.Currency)
		acts = append(acts, store.Add(attrName(prefixCash, cur), num(e.Amount)))
		switch e.TransactionType {
		case entity.TxDeposit, entity.TxWithdraw, entity.TxSystemAdjustment:
			acts = append(acts, store.Add(attrName(prefixFlow, cur), num(e.Amount)))
		}
		if q, ok := legEffect(e); ok {
			acts = append(acts, store.Add(attrName(prefixQty, e.Asset.AssetID), num(q)))
			if r := EntryRealized(e); !r.IsZero() {
				acts = append(acts, store.Add(attrDayRealized, num(r)))
			}
		}
	}
	if c.Fill {
		acts = append(acts, store.Add(attrFills, oneTrade), store.Add(attrFillValue, num(c.Notional)))
	}
	if c.Placed != "" {
		acts = append(acts, store.Add(attrDayPlaced, oneTrade), store.Add(typeAttr(c.Placed), oneTrade),
			store.Add(statusAttr(c.Status), oneTrade))
	}
	return store.Write{Update: &store.Update{Key: store.Key{Table: d.t.Users, PK: userPK(username), SK: sk}, Actions: acts}}
}

// legEffect returns the change of the holding that a completed entry with
// an asset leg makes (entity.BalanceTransaction.Movement's Effect), without
// building the movement.
func legEffect(e *entity.BalanceTransaction) (decimal.Decimal, bool) {
	if e.Asset == nil {
		return decimal.Zero, false
	}
	switch {
	case e.TransactionType == entity.TxOrderPayment:
		return e.Asset.Quantity, true
	case e.TransactionType == entity.TxOrderSale:
		return e.Asset.Quantity.Neg(), true
	case e.TransactionType == entity.TxOrderRefund && e.Amount.IsPositive(): // a buy reversed
		return e.Asset.Quantity.Neg(), true
	case e.TransactionType == entity.TxOrderRefund: // a sale reversed
		return e.Asset.Quantity, true
	}
	return decimal.Zero, false
}

// EntryRealized is the realized P&L, in USD, of a completed entry's asset
// leg (entity.Position): a sale's proceeds less its cost, a reversed buy's
// refund less the cost it takes out, a reversed sale's cost less its
// proceeds; an amount in another currency counts at the fill's rate; zero
// for other entries.
func EntryRealized(e *entity.BalanceTransaction) decimal.Decimal {
	if e.Asset == nil || e.Asset.SaleCost == nil || e.Status != entity.TxCompleted {
		return decimal.Zero
	}
	amount := e.Amount
	if e.Asset.FXRate != nil {
		amount = amount.Mul(*e.Asset.FXRate) // as the position counts it
	}
	switch e.TransactionType {
	case entity.TxOrderSale:
		return amount.Sub(*e.Asset.SaleCost)
	case entity.TxOrderRefund:
		if amount.IsPositive() { // a buy reversed: refund - cost out
			return amount.Sub(*e.Asset.SaleCost)
		}
		return e.Asset.SaleCost.Add(amount) // a sale reversed: cost - proceeds
	}
	return decimal.Zero
}

// DayFigures are one user's bucket of one UTC day.
type DayFigures struct {
	Day      time.Time
	Cash     map[string]decimal.Decimal // change of each currency's balance
	Quantity map[string]decimal.Decimal // change of each asset's holding
	Flows    map[string]decimal.Decimal // deposits, withdrawals and adjustments, by currency
	Realized decimal.Decimal
	Fills    int64
	Notional decimal.Decimal // of the fills, before fees
	Placed   int64
	ByType   map[string]int64 // orders placed by type
	ByStatus map[string]int64 // orders placed by status once placed
}

// Days returns username's buckets of the UTC days from first to last,
// oldest first (days without activity have none).
func (d *PerfDAO) Days(ctx context.Context, username string, first, last time.Time) ([]DayFigures, error) {
	items, err := d.queryAll(ctx, store.Query{Table: d.t.Users, PK: userPK(username),
		SK: store.SortCond{Op: store.SortBetween, Value: d.t.dayKey(username, first).SK, Value2: d.t.dayKey(username, last).SK}}, 1<<30)
	if err != nil {
		return nil, fmt.Errorf("read daily buckets of %s: %w", username, err)
	}
	out := make([]DayFigures, 0, len(items))
	for _, it := range items {
		day, err := time.Parse("2006-01-02", strings.TrimPrefix(it.Str(store.AttrSK), skDay))
		if err != nil {
			return nil, fmt.Errorf("daily bucket %s: %w", it.Str(store.AttrSK), err)
		}
		f := DayFigures{Day: day, Cash: map[string]decimal.Decimal{}, Quantity: map[string]decimal.Decimal{},
			Flows: map[string]decimal.Decimal{}, ByType: map[string]int64{}, ByStatus: map[string]int64{}}
		r := reader{it: it}
		for k := range it {
			switch {
			case strings.HasPrefix(k, prefixCash):
				f.Cash[strings.TrimPrefix(k, prefixCash)] = r.dec(k)
			case strings.HasPrefix(k, prefixQty):
				f.Quantity[strings.TrimPrefix(k, prefixQty)] = r.dec(k)
			case strings.HasPrefix(k, prefixFlow):
				f.Flows[strings.TrimPrefix(k, prefixFlow)] = r.dec(k)
			case strings.HasPrefix(k, prefixPlacedType):
				f.ByType[strings.TrimPrefix(k, prefixPlacedType)] = it.Int(k)
			case strings.HasPrefix(k, prefixPlacedStatus):
				f.ByStatus[strings.TrimPrefix(k, prefixPlacedStatus)] = it.Int(k)
			}
		}
		f.Realized, f.Notional = r.dec(attrDayRealized), r.dec(attrFillValue)
		f.Fills, f.Placed = it.Int(attrFills), it.Int(attrDayPlaced)
		if r.err != nil {
			return nil, r.err
		}
		out = append(out, f)
	}
	return out, nil
}

// PriceAt returns asset id's price in effect at t: its last price point at
// or before t; found is false when it has none.
func (d *AssetDAO) PriceAt(ctx context.Context, id string, t time.Time) (price decimal.Decimal, found bool, err error) {
	price, found, err = d.pointAt(ctx, pkAsset+id, skPrice, "price_usd", t)
	if err != nil {
		return decimal.Zero, false, fmt.Errorf("price of %s at %s: %w", id, t.Format(time.RFC3339), err)
	}
	return price, found, nil
}

// pointAt returns the decimal attribute attr of the newest history point
// of partition pk (sort keys prefix<at, TimeLayout>#...) at or before t;
// found is false when there is none.
func (b base) pointAt(ctx context.Context, pk, prefix, attr string, t time.Time) (v decimal.Decimal, found bool, err error) {
	p, err := b.s.Query(ctx, store.Query{Table: b.t.Inventory, PK: pk, Desc: true, Limit: 1,
		SK: store.SortCond{Op: store.SortBetween, Value: prefix, Value2: prefix + t.UTC().Format(TimeLayout) + "#~"}})
	if err != nil || len(p.Items) == 0 {
		return decimal.Zero, false, err
	}
	r := reader{it: p.Items[0]}
	v = r.dec(attr)
	return v, r.err == nil, r.err
}
