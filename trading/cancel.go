package trading

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
)

// CancelOrder cancels an open order of its owner (actor user) and releases
// its hold, with its OCO partner, in one transaction. A terminal order is a
// conflict ("order ... is already completed"); so is losing a race with the
// trigger engine, which the caller sees as the order's new state on re-read.
func (s *Service) CancelOrder(ctx context.Context, o *entity.Order) (*entity.Order, error) {
	return s.end(ctx, nil, o, entity.ActorUser, "cancelled by user", entity.StatusCancelled)
}

// end moves an open order along path (ending in a terminal status:
// cancelled, expired, or triggered then failed) without executing it, and
// releases its hold, in one transaction. reason goes on the last step. The
// events of the orders it ends go to ev (see pending; nil: published after
// the commit). An expiry or a failure of an order that changed since the
// caller read it (an amendment) is a conflict: the caller decides again.
func (s *Service) end(ctx context.Context, ev *pending, o *entity.Order, actor entity.Actor, reason string, path ...entity.OrderStatus) (*entity.Order, error) {
	due := o.ExpiresAt // an expiry ends the order the caller found due at this time
	version := o.Version
	for attempt := 1; ; attempt++ {
		if o.Status.IsTerminal() {
			return nil, apperr.New(apperr.Conflict, "order %s is already %s", o.OrderID, o.Status)
		}
		switch path[len(path)-1] {
		case entity.StatusExpired:
			if o.ExpiresAt == nil || due == nil || !o.ExpiresAt.Equal(due.Time) {
				// Amended since it was found due: it expires at another time, or never.
				return nil, apperr.New(apperr.Conflict, "order %s is no longer due to expire", o.OrderID)
			}
		case entity.StatusFailed:
			if o.Version != version {
				// It changed since it was found unable to fill: the next
				// price decides again.
				return nil, apperr.New(apperr.Conflict, "order %s changed since it was triggered", o.OrderID)
			}
		}
		done, err := s.endOnce(ctx, ev, o, actor, reason, path)
		if err == nil {
			s.emit(ev, done)
			return done, nil
		}
		if !errors.Is(err, errRetry) || attempt == maxAttempts {
			return nil, err
		}
		// The order or its partner changed: read it again and decide again.
		if o, err = s.d.Orders.Get(ctx, o.Username, o.OrderID); err != nil {
			return nil, err
		}
	}
}

func (s *Service) endOnce(ctx context.Context, ev *pending, orig *entity.Order, actor entity.Actor, reason string, path []entity.OrderStatus) (*entity.Order, error) {
	now := s.now()
	o := cloneOrder(orig)
	read, from := o.Version, o.Status
	for i, st := range path {
		why := ""
		if i == len(path)-1 {
			why = reason
		}
		if err := o.Transition(st, actor, entity.At(now), why); err != nil {
			return nil, err
		}
	}
	to := o.Status
	var partner *entity.Order
	if o.OCOWith != "" {
		p, err := s.d.Orders.Get(ctx, o.Username, o.OCOWith)
		if err != nil && !apperr.Is(err, apperr.NotFound) {
			return nil, err
		}
		if err == nil && p.Status.IsOpen() {
			partner = p
		}
	}
	var tx dao.Tx
	s.releaseWrites(&tx, o, partner, now)
	o.HeldAmount, o.HeldQuantity = decimal.Zero, decimal.Zero
	o.Version++
	if err := s.endWrites(&tx, o, read, from, partner, string(to), now); err != nil {
		return nil, err
	}
	err := s.d.Transact(ctx, tx.Writes())
	if err == nil {
		s.emit(ev, partner)
		return o, nil
	}
	r, refused := tx.Failed(err, dao.RoleBalance, dao.RoleLedger, dao.RoleHolding, dao.RoleOrder, dao.RolePartner)
	if !refused {
		return nil, fmt.Errorf("end order %s: %w", o.OrderID, err)
	}
	if r == dao.RoleOrder {
		cur, gerr := s.d.Orders.Get(ctx, o.Username, o.OrderID)
		if gerr == nil && cur.Status.IsTerminal() {
			return nil, apperr.New(apperr.Conflict, "order %s is already %s", o.OrderID, cur.Status)
		}
	}
	return nil, errRetry
}

// releaseWrites adds to tx the writes that release the hold of o (and of
// its OCO partner, which shares one asset hold with it).
func (s *Service) releaseWrites(tx *dao.Tx, o, partner *entity.Order, now time.Time) {
	if o.HeldAmount.IsPositive() {
		tx.Add(dao.RoleBalance, s.d.Balances.ChangeWrite(dao.Change{Username: o.Username, Currency: o.Currency, Held: o.HeldAmount.Neg()}, now))
		tx.Add(dao.RoleLedger, s.d.Balances.TransactionStatusWrite(o.Username, o.OrderID, entity.TxPending, entity.TxCancelled))
	}
	qty := o.HeldQuantity
	if partner != nil {
		qty = qty.Add(partner.HeldQuantity)
	}
	if qty.IsPositive() {
		tx.Add(dao.RoleHolding, s.d.Holdings.HoldWrite(o.Username, o.AssetID, qty.Neg(), now))
	}
}

func cloneOrder(o *entity.Order) *entity.Order {
	c := *o
	c.StatusHistory = append([]entity.StatusChange(nil), o.StatusHistory...)
	return &c
}
