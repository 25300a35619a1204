package verify

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
)

// checkDays compares a user's daily buckets (dao.PerfDAO) from since's day
// on with the user's completed ledger entries and orders from since on:
// each day's change of each cash balance (Σ Effect), external flows
// (deposits, withdrawals, adjustments), change of each holding (Σ the
// movements' Effect), realized P&L (dao.EntryRealized), fills and their
// notional, and orders placed by type and by status once placed.
func checkDays(ctx context.Context, d *dao.DAOs, user string, since time.Time, recs *records) ([]Violation, int, error) {
	stored, err := d.Perf.Days(ctx, user, dao.Day.Truncate(since), time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC))
	if err != nil {
		return nil, 0, err
	}
	want := map[int64]*dao.DayFigures{}
	day := func(t time.Time) *dao.DayFigures {
		k := dao.Day.Truncate(t).Unix()
		if want[k] == nil {
			want[k] = &dao.DayFigures{Day: dao.Day.Truncate(t), Cash: map[string]decimal.Decimal{}, Quantity: map[string]decimal.Decimal{},
				Flows: map[string]decimal.Decimal{}, ByType: map[string]int64{}, ByStatus: map[string]int64{}}
		}
		return want[k]
	}
	for _, t := range recs.txs {
		if t.CreatedAt.Before(since) || t.Status != entity.TxCompleted || t.TransactionType == entity.TxOrderHold {
			continue
		}
		f, cur := day(t.CreatedAt.Time), string(t.Currency)
		f.Cash[cur] = f.Cash[cur].Add(t.Amount)
		switch t.TransactionType {
		case entity.TxDeposit, entity.TxWithdraw, entity.TxSystemAdjustment:
			f.Flows[cur] = f.Flows[cur].Add(t.Amount)
		}
		if m, ok := t.Movement(); ok {
			f.Quantity[m.AssetID] = f.Quantity[m.AssetID].Add(m.Effect())
			f.Realized = f.Realized.Add(dao.EntryRealized(t))
			if m.TransactionType == entity.AssetBuy || m.TransactionType == entity.AssetSell {
				f.Fills++
				f.Notional = f.Notional.Add(entity.FillNotional(m))
			}
		}
	}
	for _, o := range recs.orders {
		if o.CreatedAt.Before(since) {
			continue
		}
		f := day(o.CreatedAt.Time)
		f.Placed++
		f.ByType[string(o.OrderType)]++
		f.ByStatus[string(placedStatus(o))]++
	}
	var out []Violation
	got := map[int64]dao.DayFigures{}
	for _, s := range stored {
		got[s.Day.Unix()] = s
	}
	keys := slices.Sorted(maps.Keys(got))
	for k := range want {
		if _, ok := got[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		g, w := got[k], dao.DayFigures{}
		if p := want[k]; p != nil {
			w = *p
		}
		if a, b := dayText(g), dayText(w); a != b {
			out = append(out, Violation{Username: user, Subject: "day " + time.Unix(k, 0).UTC().Format(time.DateOnly),
				Problem: fmt.Sprintf("daily bucket holds %s, the ledger and the orders %s", a, b)})
		}
	}
	return out, len(stored), nil
}

// placedStatus is an order's status once placed: the first of queued,
// completed or cancelled in its history.
func placedStatus(o *entity.Order) entity.OrderStatus {
	for _, h := range o.StatusHistory {
		if h.Status == entity.StatusQueued || h.Status == entity.StatusCompleted || h.Status == entity.StatusCancelled {
			return h.Status
		}
	}
	return ""
}

// dayText renders a day's figures canonically (zeros left out).
func dayText(f dao.DayFigures) string {
	decs := func(m map[string]decimal.Decimal) string {
		s := ""
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if !m[k].IsZero() {
				s += " " + k + ":" + m[k].String()
			}
		}
		return "{" + s + " }"
	}
	ints := func(m map[string]int64) string {
		s := ""
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if m[k] != 0 {
				s += fmt.Sprintf(" %s:%d", k, m[k])
			}
		}
		return "{" + s + " }"
	}
	n := func(d decimal.Decimal) string {
		if d.IsZero() {
			return "0"
		}
		return d.String()
	}
	return fmt.Sprintf("cash %s flows %s quantity %s realized %s fills %d notional %s placed %d by type %s by status %s",
		decs(f.Cash), decs(f.Flows), decs(f.Quantity), n(f.Realized), f.Fills, n(f.Notional), f.Placed, ints(f.ByType), ints(f.ByStatus))
}
