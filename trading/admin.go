package trading

import (
	"context"
	"errors"
	"fmt"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/store"
)

// ErrUserNotFound answers an admin operation on a user who does not exist.
var ErrUserNotFound = apperr.New(apperr.NotFound, "user not found")

// Adjust credits (a positive req.Amount) or debits (a negative one) the
// cash of username on behalf of admin, in ONE transaction: the balance
// change and a completed system_adjustment entry whose description is the
// reason and which records admin (CreatedBy). A debit is guarded like a
// withdrawal (available >= amount): it never drives a balance negative
// (insufficient_funds). The daily deposit and withdrawal limits do not
// apply. A user that does not exist is not_found (checked in the same
// transaction). idem, when not nil, stores the response for replays.
func (s *Service) Adjust(ctx context.Context, admin, username string, req entity.AdjustmentRequest, idem *Idem) (*entity.BalanceTransaction, *Replay, error) {
	if err := req.Validate(); err != nil {
		return nil, nil, err
	}
	if rep, err := s.Replay(ctx, idem); rep != nil || err != nil {
		return nil, rep, err
	}
	now := s.now()
	amount := *req.Amount
	entry := &entity.BalanceTransaction{
		TransactionID: s.ids.New(), Username: username, TransactionType: entity.TxSystemAdjustment, Amount: amount,
		Currency: req.Currency, Status: entity.TxCompleted, Description: req.Reason, CreatedBy: admin,
		CreatedAt: entity.At(now),
	}
	var tx dao.Tx
	tx.Add(dao.RoleProfile, s.d.Users.ExistsCheck(username))
	tx.Add(dao.RoleBalance, s.d.Balances.ChangeWrite(dao.Change{Username: username, Currency: req.Currency, Current: amount}, now))
	tx.Add(dao.RoleLedger, s.d.Balances.TransactionWrite(entry))
	tx.Add(dao.RoleNone, s.d.Perf.DayWrite(username, now, dao.Count{}, entry))
	rep, err := s.Commit(ctx, &tx, idem, entry,
		dao.Refusal{Role: dao.RoleProfile, Err: ErrUserNotFound}, dao.Refusal{Role: dao.RoleBalance, Err: dao.ErrInsufficientFunds})
	if err != nil || rep != nil {
		return nil, rep, err
	}
	s.publish(Event{Kind: EventBalance, Username: username, Currency: string(req.Currency)})
	return entry, nil, nil
}

// Reversal is the result of ReverseOrder: the order with its reversal
// recorded, and the order_refund entry.
type Reversal struct {
	Order *entity.Order
	Entry *entity.BalanceTransaction
}

// ReverseOrder reverses the executed (completed) order orderID of
// req.Username on behalf of admin, in ONE transaction:
//
//   - a buy: its payment (total_amount, fee included) comes back to the
//     cash balance, and its executed quantity leaves the holding, taking
//     out the cost basis of that quantity at the average cost (a sale's
//     rule), so the refund less that cost is realized and the fee is no
//     longer counted as paid;
//   - a sale: its proceeds (total_amount) leave the cash balance and its
//     quantity comes back to the holding with the cost basis the sale took
//     out (recorded on its entry): the sale's realized P&L, fee and sold
//     quantity are taken back;
//   - one order_refund entry (positive for a buy, negative for a sale) that
//     carries the asset leg (the executed quantity at the executed price)
//     and records admin (CreatedBy), and a "reversed by <admin>: <reason>"
//     entry in the order's status history (the order stays completed).
//
// A reversal that would make the holding or the cash balance negative is
// refused (insufficient_funds: a buy's quantity must still be available,
// a sale's proceeds available cash). An order that is not completed, or is
// reversed already, is a conflict (409): an order is reversed at most once
// (the order's write is conditional on its version). idem, when not nil,
// stores the response for replays.
func (s *Service) ReverseOrder(ctx context.Context, admin, orderID string, req entity.ReversalRequest, idem *Idem) (*Reversal, *Replay, error) {
	if err := req.Validate(); err != nil {
		return nil, nil, err
	}
	for attempt := 1; ; attempt++ {
		r, rep, err := s.reverseOnce(ctx, admin, orderID, &req, idem)
		if apperr.Is(err, apperr.InsufficientFunds) {
			// The order read before the holding or the balance may be stale:
			// a reversal that won meanwhile is the answer, not the shortfall.
			if o, gerr := s.d.Orders.Get(ctx, req.Username, orderID); gerr == nil && o.Reversed() {
				err = apperr.New(apperr.Conflict, "order %s is reversed already", orderID)
			}
		}
		switch {
		case rep != nil:
			return nil, rep, nil
		case err == nil:
			s.notifyOrder(r.Order)
			return r, nil, nil
		case !errors.Is(err, errRetry):
			return nil, nil, err
		case attempt == maxAttempts:
			return nil, nil, apperr.New(apperr.Unavailable, "order %s: too much contention; retry", orderID)
		}
	}
}

func (s *Service) reverseOnce(ctx context.Context, admin, orderID string, req *entity.ReversalRequest, idem *Idem) (*Reversal, *Replay, error) {
	username := req.Username
	b := s.d.Batch()
	orderSlot := b.Order(username, orderID)
	var stored dao.Slot[*Replay]
	if idem != nil {
		stored = b.Idem(idem.Key)
	}
	if err := b.Read(ctx); err != nil {
		return nil, nil, fmt.Errorf("read order: %w", err)
	}
	rec, _, _ := stored.Get()
	if rep, err := s.replayOf(idem, rec); rep != nil || err != nil {
		return nil, rep, err
	}
	cur, found, err := orderSlot.Get()
	if err != nil {
		return nil, nil, err
	}
	switch {
	case !found:
		return nil, nil, apperr.New(apperr.NotFound, "order not found")
	case cur.Status != entity.StatusCompleted:
		return nil, nil, apperr.New(apperr.Conflict, "order %s is %s: only an executed order can be reversed", orderID, cur.Status)
	case cur.Reversed():
		return nil, nil, apperr.New(apperr.Conflict, "order %s is reversed already", orderID)
	case cur.ExecutedPrice == nil:
		return nil, nil, apperr.New(apperr.Conflict, "order %s has no executed price", orderID)
	}
	h, err := s.d.Holdings.Get(ctx, username, cur.AssetID)
	switch {
	case apperr.Is(err, apperr.NotFound):
		return nil, nil, dao.ErrInsufficientHoldings
	case err != nil:
		return nil, nil, err
	case !h.Current:
		return nil, nil, s.upgrade(ctx, username, cur.AssetID)
	}
	now := s.now()
	o := cloneOrder(cur)
	read := o.Version
	qty, total, ccy := o.ExecutedQuantity, o.TotalAmount, o.Currency
	// An order in another currency is reversed in it, at the rate it
	// settled at: the holding's totals (in USD) take it back at that rate.
	leg := &entity.AssetLeg{AssetID: o.AssetID, Quantity: qty, Price: *o.ExecutedPrice, FXRate: o.FXRate}
	entry := &entity.BalanceTransaction{
		TransactionID: s.ids.New(), Username: username, TransactionType: entity.TxOrderRefund,
		Currency: ccy, Status: entity.TxCompleted, ReferenceID: o.OrderID, CreatedBy: admin,
		CreatedAt: entity.At(now), Asset: leg,
	}
	var (
		tx      dao.Tx
		holding store.Write
		change  = dao.Change{Username: username, Currency: ccy}
	)
	if o.Side() == entity.Buy {
		if h.Available().LessThan(qty) {
			return nil, nil, dao.ErrInsufficientHoldings
		}
		w, costOut := s.d.Holdings.ReverseBuyWrite(h, qty, usdOf(total, o.FXRate), usdOf(o.Fee, o.FXRate), now)
		holding = w
		leg.SaleCost = &costOut
		entry.Amount, change.Current = total, total
		entry.Description = "Reversal of buy " + qty.String() + " " + o.AssetID + " at " + entity.FormatPrice(leg.Price) + ": " + req.Reason
	} else {
		sale, err := s.d.Balances.Settlement(ctx, username, o.OrderID, completedAt(o).Time)
		if err != nil {
			return nil, nil, err
		}
		if sale.Asset == nil || sale.Asset.SaleCost == nil {
			return nil, nil, apperr.New(apperr.Conflict, "order %s: its sale entry records no cost basis to put back", orderID)
		}
		cost := *sale.Asset.SaleCost
		leg.SaleCost = &cost
		holding = s.d.Holdings.ReverseSellWrite(username, o.AssetID, qty, usdOf(total, o.FXRate), usdOf(o.Fee, o.FXRate), cost, now)
		entry.Amount, change.Current = total.Neg(), total.Neg()
		entry.Description = "Reversal of sale " + qty.String() + " " + o.AssetID + " at " + entity.FormatPrice(leg.Price) + ": " + req.Reason
	}
	tx.Add(dao.RoleBalance, s.d.Balances.ChangeWrite(change, now))
	tx.Add(dao.RoleHolding, holding)
	tx.Add(dao.RoleLedger, s.d.Balances.TransactionWrite(entry))
	tx.Add(dao.RoleNone, s.d.Perf.DayWrite(username, now, dao.Count{}, entry))
	o.Note(entity.At(now), entity.ReasonReversed+" by "+admin+": "+req.Reason)
	o.Version = read + 1
	w, err := s.d.Orders.UpdateWrite(o, read, entity.StatusCompleted)
	if err != nil {
		return nil, nil, err
	}
	tx.Add(dao.RoleOrder, w)
	result := &Reversal{Order: o, Entry: entry}
	rep, refused, err := s.commit(ctx, &tx, idem, result)
	switch {
	case rep != nil:
		return nil, rep, nil
	case !refused && err != nil:
		return nil, nil, fmt.Errorf("reverse order %s: %w", orderID, err)
	case !refused:
		return result, nil, nil
	}
	r, _ := tx.Failed(err, dao.RoleOrder, dao.RoleBalance, dao.RoleHolding, dao.RoleLedger)
	switch r {
	case dao.RoleBalance:
		return nil, nil, dao.ErrInsufficientFunds
	case dao.RoleHolding:
		if o.Side() == entity.Buy {
			// The quantity is gone, or a buy changed the average cost.
			if h, herr := s.d.Holdings.Get(ctx, username, o.AssetID); herr == nil && h.Current && h.Available().LessThan(qty) {
				return nil, nil, dao.ErrInsufficientHoldings
			}
		}
		return nil, nil, errRetry
	}
	return nil, nil, errRetry // the order changed (reversed meanwhile): read it again
}

// completedAt returns when o completed: the time of its completed entry.
func completedAt(o *entity.Order) entity.Time {
	for _, c := range o.StatusHistory {
		if c.Status == entity.StatusCompleted {
			return c.At
		}
	}
	return o.UpdatedAt
}
