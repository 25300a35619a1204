package trading

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
)

// ErrVersionMismatch is the error of an amendment whose expected version
// (If-Match or expected_version) is not the order's: the client's copy is
// stale, and it is answered 409 like every other lost race on an order.
func errVersionMismatch(o *entity.Order, want int64) error {
	return apperr.New(apperr.Conflict, "order %s is at version %d, not %d", o.OrderID, o.Version, want)
}

// AmendOrder amends the resting (queued) order orderID of username with u,
// in ONE transaction conditional on the order's version:
//
//   - the order as amended (entity.OrderUpdate.Apply) with an "amended: ..."
//     entry in its status history naming each change;
//   - the hold moves by the difference: a buy's cash hold (quantity × limit
//     rounded up to the cent plus the largest fee, as at placement) takes
//     the increase from the available balance (insufficient_funds when it is
//     short) or releases the decrease, and its pending order_hold entry
//     takes the new amount; a sale's asset hold moves by the change of
//     quantity (insufficient holdings when the available quantity is short);
//   - an order linked one-cancels-other shares one asset hold with its
//     partner, and both cover the same quantity: a change of quantity
//     applies to both legs (the partner's history records it too), a change
//     of price, time in force or expiry to the addressed leg only.
//
// A trailing stop keeps its high-water mark: a new trail moves its trigger
// level from that mark. An amendment that would make the order marketable
// at the asset's current price is refused (422, on the field that does it):
// the order would have to execute at once, which a new order does. An
// executed, cancelled or expired order is a conflict (409), and so is a
// stale u.ExpectedVersion: an order changes version with every write (an
// amendment, a trailing stop's new high-water mark, any transition). Without
// an expected version, an amendment that loses a race with another write
// of the order reads it again and applies to what it finds, when that is
// still queued.
//
// idem, when not nil, stores the response for Idempotency-Key replays. The
// order and balance events are published after the commit.
func (s *Service) AmendOrder(ctx context.Context, username, orderID string, u entity.OrderUpdate, idem *Idem) (*entity.Order, *Replay, error) {
	for attempt := 1; ; attempt++ {
		o, partner, rep, err := s.amendOnce(ctx, username, orderID, &u, idem)
		switch {
		case rep != nil:
			return nil, rep, nil
		case err == nil:
			s.notifyOrder(o)
			s.notifyOrder(partner)
			return o, nil, nil
		case !errors.Is(err, errRetry):
			return nil, nil, err
		case attempt == maxAttempts:
			return nil, nil, apperr.New(apperr.Unavailable, "order %s: too much contention; retry", orderID)
		}
	}
}

func (s *Service) amendOnce(ctx context.Context, username, orderID string, u *entity.OrderUpdate, idem *Idem) (o, partner *entity.Order, rep *Replay, err error) {
	b := s.d.Batch()
	orderSlot := b.Order(username, orderID)
	var stored dao.Slot[*Replay]
	if idem != nil {
		stored = b.Idem(idem.Key)
	}
	if err := b.Read(ctx); err != nil {
		return nil, nil, nil, fmt.Errorf("read order: %w", err)
	}
	rec, _, _ := stored.Get()
	if rep, err := s.replayOf(idem, rec); rep != nil || err != nil {
		return nil, nil, rep, err
	}
	cur, found, err := orderSlot.Get()
	if err != nil {
		return nil, nil, nil, err
	}
	if !found {
		return nil, nil, nil, apperr.New(apperr.NotFound, "order not found")
	}
	now := s.now()
	if err := u.Validate(cur, now); err != nil {
		return nil, nil, nil, err
	}
	if u.ExpectedVersion != nil && *u.ExpectedVersion != cur.Version {
		return nil, nil, nil, errVersionMismatch(cur, *u.ExpectedVersion)
	}

	// The asset's price and, for a sale, the partner of an OCO pair.
	b = s.d.Batch()
	quote := b.Quote(cur.AssetID)
	var partnerSlot dao.Slot[*entity.Order]
	if cur.OCOWith != "" {
		partnerSlot = b.Order(username, cur.OCOWith)
	}
	if err := b.Read(ctx); err != nil {
		return nil, nil, nil, fmt.Errorf("read asset: %w", err)
	}
	q, found, err := quote.Get()
	if err != nil {
		return nil, nil, nil, err
	}
	if !found || !q.IsActive {
		return nil, nil, nil, apperr.New(apperr.Conflict, "asset %s is not active: its resting orders are cancelled", cur.AssetID)
	}
	if partner, _, err = partnerSlot.Get(); err != nil {
		return nil, nil, nil, err
	}
	if partner != nil && partner.Status != entity.StatusQueued {
		return nil, nil, nil, errRetry // the pair is ending: the next read finds this leg ended too
	}

	o = cloneOrder(cur)
	read := o.Version
	u.Apply(o, now)
	if o.ShouldTrigger(q.PriceUSD) {
		return nil, nil, nil, apperr.Field(marketableField(o, u), fmt.Sprintf(
			"the amended order is marketable at the current price %s; place a new order to execute now", entity.FormatPrice(q.PriceUSD)), "value_error")
	}
	var tx dao.Tx
	changes := amendChanges(cur, o)
	if o.Side() == entity.Buy {
		var fx decimal.Decimal
		if o.Currency != entity.USD {
			// The hold of an order in another currency moves at the current
			// rate.
			if fx, err = s.usdRate(ctx, o.Currency); err != nil {
				return nil, nil, nil, err
			}
			if fx, err = s.orderRate(fx, o.Side()); err != nil {
				return nil, nil, nil, err
			}
		}
		hold, err := s.buyHold(o, fx)
		if err != nil {
			return nil, nil, nil, err
		}
		if delta := hold.Sub(cur.HeldAmount); !delta.IsZero() {
			tx.Add(dao.RoleBalance, s.d.Balances.ChangeWrite(dao.Change{Username: username, Currency: o.Currency, Held: delta}, now))
			tx.Add(dao.RoleLedger, s.d.Balances.HoldAmountWrite(username, o.OrderID, cur.HeldAmount, hold, holdDescription(o)))
			changes = append(changes, "held_amount "+o.Currency.Format(cur.HeldAmount)+" -> "+o.Currency.Format(hold))
		}
		o.HeldAmount = hold
	} else if delta := o.Quantity.Sub(cur.Quantity); !delta.IsZero() {
		tx.Add(dao.RoleHolding, s.d.Holdings.HoldWrite(username, o.AssetID, delta, now))
		switch {
		case partner == nil || cur.HeldQuantity.IsPositive():
			o.HeldQuantity = o.Quantity // this leg holds the quantity
		default:
			partner.HeldQuantity = o.Quantity
		}
	}
	at := entity.At(now)
	o.Note(at, entity.ReasonAmended+": "+strings.Join(changes, ", "))
	o.Version = read + 1
	w, err := s.d.Orders.UpdateWrite(o, read, entity.StatusQueued)
	if err != nil {
		return nil, nil, nil, err
	}
	tx.Add(dao.RoleOrder, w)
	if partner != nil && !partner.Quantity.Equal(o.Quantity) {
		pread := partner.Version
		partner.Note(at, fmt.Sprintf("%s: quantity %s -> %s with its OCO partner %s", entity.ReasonAmended, partner.Quantity, o.Quantity, o.OrderID))
		partner.Quantity = o.Quantity
		partner.Version = pread + 1
		pw, err := s.d.Orders.UpdateWrite(partner, pread, entity.StatusQueued)
		if err != nil {
			return nil, nil, nil, err
		}
		tx.Add(dao.RolePartner, pw)
	} else {
		partner = nil // unchanged: nothing to publish
	}

	rep, refused, err := s.commit(ctx, &tx, idem, o)
	switch {
	case rep != nil:
		return nil, nil, rep, nil
	case !refused && err != nil:
		return nil, nil, nil, fmt.Errorf("amend order %s: %w", orderID, err)
	case !refused:
		return o, partner, nil, nil
	}
	r, _ := tx.Failed(err, dao.RoleOrder, dao.RolePartner, dao.RoleBalance, dao.RoleHolding, dao.RoleLedger)
	switch r {
	case dao.RoleOrder:
		if u.ExpectedVersion != nil {
			// Another write of the order won: the client's version is stale.
			if now, gerr := s.d.Orders.Get(ctx, username, orderID); gerr == nil && now.Status == entity.StatusQueued {
				return nil, nil, nil, errVersionMismatch(now, *u.ExpectedVersion)
			}
		}
		return nil, nil, nil, errRetry // read again: Validate answers an ended order
	case dao.RoleBalance:
		return nil, nil, nil, dao.ErrInsufficientFunds
	case dao.RoleHolding:
		return nil, nil, nil, dao.ErrInsufficientHoldings
	}
	return nil, nil, nil, errRetry // the partner or the hold entry changed
}

// buyHold returns the cash a resting buy o holds: quantity × limit rounded
// up to the cent, plus the fee on it rounded up (the largest the fill can
// charge at the rate of the hold). For an order in another currency than
// USD, fx is the USD value of one unit of it: the limit (a USD price) is
// converted at fx (PriceScale places, rounded up) and the hold is in the
// order's currency, rounded up to its places.
func (s *Service) buyHold(o *entity.Order, fx decimal.Decimal) (decimal.Decimal, error) {
	cur := o.Currency
	limit := *o.LimitPrice
	if cur != entity.USD {
		if !fx.IsPositive() {
			return decimal.Zero, errNoRate(cur)
		}
		l, err := limit.Quo(fx, entity.PriceScale, decimal.Up)
		if err != nil {
			return decimal.Zero, fmt.Errorf("limit of %s in %s: %w", o.AssetID, cur, err)
		}
		limit = l
	}
	gross := cur.Round(o.Quantity.Mul(limit), decimal.Up)
	if gross.LessThan(MinNotional) {
		return decimal.Zero, ErrNotionalTooSmall
	}
	return gross.Add(cur.Round(gross.Mul(s.cfg.FeeRate), decimal.Up)), nil
}

func holdDescription(o *entity.Order) string {
	return fmt.Sprintf("Hold for %s %s %s at %s", o.OrderType, o.Quantity, o.AssetID, entity.FormatPrice(*o.LimitPrice))
}

// marketableField names the field of u that makes the amended o marketable:
// its trigger (the one given, else the type's).
func marketableField(o *entity.Order, u *entity.OrderUpdate) string {
	switch o.OrderType {
	case entity.StopLoss:
		return "stop_price"
	case entity.TrailingStop:
		if u.TrailAmount != nil {
			return "trail_amount"
		}
		return "trail_percent"
	}
	return "limit_price"
}

// amendChanges describes what changed from a to b ("quantity 1 -> 2").
func amendChanges(a, b *entity.Order) []string {
	var out []string
	if !a.Quantity.Equal(b.Quantity) {
		out = append(out, fmt.Sprintf("quantity %s -> %s", a.Quantity, b.Quantity))
	}
	price := func(name string, x, y *decimal.Decimal, format func(decimal.Decimal) string) {
		switch {
		case x == nil && y == nil, x != nil && y != nil && x.Equal(*y):
		default:
			out = append(out, name+" "+optional(x, format)+" -> "+optional(y, format))
		}
	}
	price("limit_price", a.LimitPrice, b.LimitPrice, entity.FormatPrice)
	price("stop_price", a.StopPrice, b.StopPrice, entity.FormatPrice)
	price("trail_percent", a.TrailPercent, b.TrailPercent, decimal.Decimal.String)
	price("trail_amount", a.TrailAmount, b.TrailAmount, entity.FormatPrice)
	if a.TimeInForce != b.TimeInForce {
		out = append(out, fmt.Sprintf("time_in_force %s -> %s", a.TimeInForce, b.TimeInForce))
	}
	switch ea, eb := a.ExpiresAt, b.ExpiresAt; {
	case ea == nil && eb == nil, ea != nil && eb != nil && ea.Equal(eb.Time):
	default:
		out = append(out, "expires_at "+optionalTime(ea)+" -> "+optionalTime(eb))
	}
	if len(out) == 0 {
		out = append(out, "no change")
	}
	return out
}

func optional(d *decimal.Decimal, format func(decimal.Decimal) string) string {
	if d == nil {
		return "none"
	}
	return format(*d)
}

func optionalTime(t *entity.Time) string {
	if t == nil {
		return "none"
	}
	return t.UTC().Format(time.RFC3339)
}
