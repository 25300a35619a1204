package difftest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
)

// state returns the canonical text of w's state, read through the DAOs: the
// assets' prices, and per user (in order) the cash balances and holdings with
// every stored number, the orders by index with every field and their status
// history, and the ledger entries and asset movements as sorted lines
// (their ids are random, and a tick creates them concurrently). Numbers are
// canonical decimal text, times RFC 3339 from the injected clock, order ids
// their #index.
func (w *world) state(t *testing.T, ctx context.Context) string {
	t.Helper()
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	for _, a := range assets {
		as, err := w.d.Assets.Get(ctx, a.id)
		if err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
		line("asset %s price=%s updated=%s v=%d", as.AssetID, as.PriceUSD, as.LastUpdated, as.Version)
	}
	for _, u := range users {
		line("user %s", u)
		bals, err := w.d.Balances.ListStored(ctx, u)
		if err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
		for _, c := range bals {
			line("  cash %s current=%s held=%s available=%s deposits=%s withdrawals=%s v=%d updated=%s",
				c.Currency, c.CurrentBalance, c.HeldBalance, c.StoredAvailable, c.TotalDeposits, c.TotalWithdrawals, c.Version, c.UpdatedAt)
		}
		hs, err := w.d.Holdings.List(ctx, u)
		if err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
		for _, h := range hs {
			line("  holding %s quantity=%s held=%s available=%s cost_basis=%s average=%s buys=%d v=%d updated=%s",
				h.AssetID, h.Quantity, h.HeldQuantity, h.StoredAvailable, h.CostBasis, h.AverageCost, h.Buys, h.Version, h.UpdatedAt)
		}
		orders, err := w.d.Orders.AllByUser(ctx, u)
		if err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
		slices.SortFunc(orders, func(x, y *entity.Order) int { return w.index(x.OrderID) - w.index(y.OrderID) })
		for _, o := range orders {
			line("  %s", w.orderLine(o))
		}
		txs, err := w.d.Balances.AllTransactions(ctx, u)
		if err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
		var lines []string
		for _, x := range txs {
			lines = append(lines, fmt.Sprintf("  ledger %s %s %s %s %s ref=%s %q", x.CreatedAt, x.TransactionType, x.Currency,
				x.Amount, x.Status, w.ref(x.ReferenceID), x.Description))
		}
		moves, err := w.d.AssetTxs.All(ctx, u)
		if err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
		for _, m := range moves {
			lines = append(lines, fmt.Sprintf("  movement %s %s %s quantity=%s price=%s total=%s order=%s %s",
				m.Timestamp, m.TransactionType, m.AssetID, m.Quantity, m.Price, m.TotalAmount, w.ref(m.OrderID), m.Status))
		}
		slices.Sort(lines)
		for _, l := range lines {
			line("%s", l)
		}
	}
	return b.String()
}

// index returns the #index of an order id (-1 for an unknown id).
func (w *world) index(id string) int {
	if i, ok := w.idx[id]; ok {
		return i
	}
	return -1
}

// ref returns a reference id as an order's #index, "-" when empty, "?"
// for another id (a conversion's random reference).
func (w *world) ref(id string) string {
	switch i, ok := w.idx[id]; {
	case ok:
		return fmt.Sprintf("#%d", i)
	case id == "":
		return "-"
	}
	return "?"
}

func opt(d *decimal.Decimal) string {
	if d == nil {
		return "nil"
	}
	return d.String()
}

func (w *world) orderLine(o *entity.Order) string {
	var b strings.Builder
	exp := "nil"
	if o.ExpiresAt != nil {
		exp = o.ExpiresAt.String()
	}
	fmt.Fprintf(&b, "order #%d %s %s %s %s status=%s tif=%s expires=%s quantity=%s price=%s limit=%s stop=%s trail%%=%s trail=%s hwm=%s",
		w.index(o.OrderID), o.Username, o.OrderType, o.AssetID, o.Currency, o.Status, o.TimeInForce, exp, o.Quantity,
		opt(o.Price), opt(o.LimitPrice), opt(o.StopPrice), opt(o.TrailPercent), opt(o.TrailAmount), opt(o.HighWaterMark))
	fmt.Fprintf(&b, " executed=%s@%s total=%s fee=%s held_amount=%s held_quantity=%s oco=%s client=%q v=%d created=%s updated=%s history=",
		o.ExecutedQuantity, opt(o.ExecutedPrice), o.TotalAmount, o.Fee, o.HeldAmount, o.HeldQuantity, w.ref(o.OCOWith),
		o.ClientOrderID, o.Version, o.CreatedAt, o.UpdatedAt)
	for i, h := range o.StatusHistory {
		if i > 0 {
			b.WriteString(">")
		}
		fmt.Fprintf(&b, "%s@%s", h.Status, h.At.Format("15:04:05"))
		if h.Reason != "" {
			fmt.Fprintf(&b, "(%s)", w.mapIDs(h.Reason))
		}
	}
	return b.String()
}
