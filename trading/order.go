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
	"github.com/orderprocessor/orderprocessor/store"
)

// MinNotional is the smallest order value: one cent.
var MinNotional = decimal.MustParse("0.01")

// maxAttempts bounds the retries of a sale that raced a buy of the same
// holding (the buy changes the average cost the sale reduces the basis by).
const maxAttempts = 20

// Errors of order placement.
var (
	ErrNotionalTooSmall = apperr.Field("quantity", "order value must be at least 0.01", "value_error")
	errRetry            = errors.New("retry")
)

// Placed is the result of PlaceOrder.
type Placed struct {
	Order *entity.Order
	// Existing is true when client_order_id matched an earlier identical
	// order, which is returned instead of placing a new one.
	Existing bool
}

// PlaceOrder validates req and places it for username, in ONE transaction:
//   - market orders, and limit or protective orders that are marketable at
//     once, execute at the asset's current price: order + ledger entry
//     (with the asset movement) + balance + holding;
//   - ioc/fok orders that are not marketable are cancelled (nothing held);
//   - other orders rest (status queued) with their hold: cash for buys (an
//     order_hold ledger entry), asset quantity for sells.
//
// An order in another currency than USD reads that currency's stored rate
// with the asset (refused with fx_rate_stale when older than
// Config.FXMaxAge) and settles in it at the asset's USD price / the rate
// (fillWrites); a resting buy holds its currency (buyHold).
//
// reqHash identifies the request for client_order_id replays; idem, when not
// nil, stores the response for Idempotency-Key replays.
func (s *Service) PlaceOrder(ctx context.Context, username string, req entity.OrderCreate, reqHash string, idem *Idem) (*Placed, *Replay, error) {
	p, rep, err := s.placeOrder(ctx, username, req, reqHash, idem)
	if err == nil && rep == nil {
		s.notifyOrder(p.Order)
	}
	return p, rep, err
}

// placeOrder is PlaceOrder without the events.
func (s *Service) placeOrder(ctx context.Context, username string, req entity.OrderCreate, reqHash string, idem *Idem) (*Placed, *Replay, error) {
	if err := req.Validate(s.now()); err != nil {
		return nil, nil, err
	}
	for attempt := 1; ; attempt++ {
		p, rep, err := s.place(ctx, username, &req, reqHash, idem)
		if err != nil && !errors.Is(err, errRetry) {
			p, rep, err = s.settle(ctx, username, &req, reqHash, idem, err)
		}
		if !errors.Is(err, errRetry) {
			return p, rep, err
		}
		if attempt == maxAttempts {
			return nil, nil, apperr.New(apperr.Unavailable, "too much contention on this holding; retry")
		}
	}
}

// placement is what place reads before it writes, in one round trip.
type placement struct {
	replay  *Replay // the stored response of an earlier request with the same key
	asset   dao.Quote
	holding *dao.HoldingRecord
	partner *entity.Order // the open order of oco_with
	// fx is the USD value of one unit of the order's currency at which it
	// settles (orderRate; zero for a USD order).
	fx decimal.Decimal
}

func (s *Service) readPlacement(ctx context.Context, username string, req *entity.OrderCreate, idem *Idem) (*placement, error) {
	b := s.d.Batch()
	asset := b.Quote(req.AssetID)
	var holding dao.Slot[*dao.HoldingRecord]
	if req.OrderType.Side() == entity.Sell {
		holding = b.Holding(username, req.AssetID)
	}
	var partner dao.Slot[*entity.Order]
	if req.OCOWith != "" {
		partner = b.Order(username, req.OCOWith)
	}
	var stored dao.Slot[*Replay]
	if idem != nil {
		stored = b.Idem(idem.Key)
	}
	var rate dao.Slot[*dao.FXRate]
	if req.Currency != entity.USD {
		rate = b.Rate(req.Currency)
	}
	if err := b.Read(ctx); err != nil {
		return nil, fmt.Errorf("read asset: %w", err)
	}
	// A replayed request answers before anything else is checked again.
	rec, _, _ := stored.Get()
	if rep, err := s.replayOf(idem, rec); rep != nil || err != nil {
		return &placement{replay: rep}, err
	}
	q, found, err := asset.Get()
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, apperr.Field("asset_id", fmt.Sprintf("asset %s not found", req.AssetID), "value_error")
	}
	pl := &placement{asset: q}
	if !pl.asset.IsActive {
		return nil, apperr.Field("asset_id", fmt.Sprintf("asset %s is not active", req.AssetID), "value_error")
	}
	if req.Currency != entity.USD {
		r, found, err := rate.Get()
		if err != nil {
			return nil, err
		}
		mid, err := s.fresh(req.Currency, r, found, s.now())
		if err != nil {
			return nil, err
		}
		if pl.fx, err = s.orderRate(mid, req.OrderType.Side()); err != nil {
			return nil, err
		}
	}
	if pl.holding, _, err = holding.Get(); err != nil {
		return nil, err
	}
	if req.OCOWith != "" {
		if pl.partner, found, err = partner.Get(); err != nil {
			return nil, err
		}
		if !found {
			return nil, apperr.Field("oco_with", "no such order", "value_error")
		}
		p := pl.partner
		switch {
		case p.Status != entity.StatusQueued:
			return nil, apperr.Field("oco_with", fmt.Sprintf("order %s is %s, not open", p.OrderID, p.Status), "value_error")
		case p.PastExpiry(s.now()):
			return nil, apperr.Field("oco_with", fmt.Sprintf("order %s expired at %s", p.OrderID, p.ExpiresAt), "value_error")
		case p.OCOWith != "":
			return nil, apperr.Field("oco_with", fmt.Sprintf("order %s is already linked", p.OrderID), "value_error")
		case p.AssetID != req.AssetID || p.Side() != entity.Sell || !p.Quantity.Equal(*req.Quantity):
			return nil, apperr.Field("oco_with", "the linked order must be an open sell-side order of the same asset and quantity", "value_error")
		}
	}
	return pl, nil
}

func (s *Service) place(ctx context.Context, username string, req *entity.OrderCreate, reqHash string, idem *Idem) (*Placed, *Replay, error) {
	pl, err := s.readPlacement(ctx, username, req, idem)
	if err != nil {
		return nil, nil, err
	}
	if pl.replay != nil {
		return nil, pl.replay, nil
	}
	now := s.now()
	at := entity.At(now)
	price := pl.asset.PriceUSD
	o := req.Order(s.ids.New(), username, at)
	if err := o.Transition(entity.StatusConfirmed, entity.ActorSystem, at, ""); err != nil {
		return nil, nil, err
	}
	if o.OrderType == entity.TrailingStop {
		o.HighWaterMark = &price
	}

	var tx dao.Tx
	// The placement counts in its minute's volume shard, with the fill when
	// it executes, and the user's first placement of the day as active.
	count := dao.Count{Placed: o.OrderType, Status: entity.StatusCompleted, Active: !s.isActive(username, now)}
	switch {
	case o.OrderType.IsMarket() || o.ShouldTrigger(price):
		// Executes now: a market order, or a resting type already marketable.
		if o.Side() == entity.Sell && (pl.holding == nil || pl.partner == nil && pl.holding.Available().LessThan(o.Quantity)) {
			return nil, nil, dao.ErrInsufficientHoldings
		}
		if o.Side() == entity.Sell && !pl.holding.Current {
			return nil, nil, s.upgrade(ctx, username, o.AssetID)
		}
		if o.OrderType.IsMarket() {
			o.Price = &price
		}
		for _, st := range []entity.OrderStatus{entity.StatusProcessing, entity.StatusCompleted} {
			if err := o.Transition(st, entity.ActorSystem, at, ""); err != nil {
				return nil, nil, err
			}
		}
		if err := s.fillWrites(&tx, o, price, pl.holding, pl.partner != nil, pl.fx, count, now); err != nil {
			return nil, nil, err
		}
		if pl.partner != nil {
			w, err := s.cancelPartnerWrite(pl.partner, "oco: "+o.OrderID+" executed", now)
			if err != nil {
				return nil, nil, err
			}
			tx.Add(dao.RolePartner, w)
		}
	case o.TimeInForce == entity.IOC || o.TimeInForce == entity.FOK:
		reason := fmt.Sprintf("%s: not marketable at %s", o.TimeInForce, entity.FormatPrice(price))
		if err := o.Transition(entity.StatusCancelled, entity.ActorSystem, at, reason); err != nil {
			return nil, nil, err
		}
	default:
		if err := o.Transition(entity.StatusQueued, entity.ActorSystem, at, ""); err != nil {
			return nil, nil, err
		}
		if err := s.holdWrites(&tx, o, pl, now); err != nil {
			return nil, nil, err
		}
	}

	if o.Status != entity.StatusCompleted {
		count.Status = o.Status
		tx.Add(dao.RoleNone, s.d.Volume.CountWrite(o.AssetID, username, now, count))
		tx.Add(dao.RoleNone, s.d.Perf.DayWrite(username, now, count))
	}
	if count.Active {
		tx.Add(dao.RoleActive, s.d.Volume.ActiveWrite(username, now))
	}
	if err := s.d.Orders.AddCreate(&tx, o, reqHash); err != nil {
		return nil, nil, err
	}
	rep, refused, err := s.commit(ctx, &tx, idem, o)
	switch {
	case rep != nil:
		return nil, rep, nil
	case !refused && err != nil:
		return nil, nil, err
	case !refused:
		if count.Active {
			s.markActive(username, now)
		}
		return &Placed{Order: o}, nil, nil
	}
	// The client order id first: a retried order that executed before is
	// answered with that order, whatever its effect on balances since.
	r, _ := tx.Failed(err, dao.RoleClientOrderID, dao.RolePartner, dao.RoleBalance, dao.RoleHolding, dao.RoleActive)
	switch {
	case r == dao.RoleActive:
		s.markActive(username, now) // counted by an earlier placement today (another process's, or before a restart)
		return nil, nil, errRetry
	case r == dao.RoleClientOrderID:
		p, err := s.existingClientOrder(ctx, username, o.ClientOrderID, reqHash)
		return p, nil, err
	case r == dao.RolePartner:
		return nil, nil, errRetry // the OCO partner changed since it was read
	case r == dao.RoleBalance:
		return nil, nil, dao.ErrInsufficientFunds
	case r == dao.RoleHolding && o.Status == entity.StatusCompleted && o.Side() == entity.Buy:
		// Only a holding written before holdings kept their totals refuses a buy.
		return nil, nil, s.upgrade(ctx, username, o.AssetID)
	case r == dao.RoleHolding:
		if o.Status == entity.StatusCompleted && o.Side() == entity.Sell {
			// Either the quantity is gone or a buy changed the average cost.
			h, herr := s.d.Holdings.Get(ctx, username, o.AssetID)
			if herr == nil && (pl.partner != nil || !h.Available().LessThan(o.Quantity)) {
				return nil, nil, errRetry
			}
		}
		return nil, nil, dao.ErrInsufficientHoldings
	}
	return nil, nil, err
}

// upgrade upgrades the holding of a fill that a holding written before
// holdings kept their totals refused (dao.HoldingDAO.Upgrade), and
// returns errRetry for the fill to start again.
func (s *Service) upgrade(ctx context.Context, username, assetID string) error {
	if _, err := s.d.Holdings.Upgrade(ctx, username, assetID); err != nil {
		return err
	}
	return errRetry
}

// settle re-reads what a retried request may have done before a refusal
// based on state read before the transaction (e.g. the holding a first
// attempt already sold): the stored response of its Idempotency-Key, or the
// order of its client_order_id, wins over the refusal.
func (s *Service) settle(ctx context.Context, username string, req *entity.OrderCreate, reqHash string, idem *Idem, cause error) (*Placed, *Replay, error) {
	if k := apperr.KindOf(cause); k == apperr.Internal || k == apperr.Unavailable || k == apperr.StoreUnavailable {
		return nil, nil, cause
	}
	if rep, err := s.Replay(ctx, idem); rep != nil || err != nil {
		return nil, rep, err
	}
	if req.ClientOrderID != "" {
		p, err := s.existingClientOrder(ctx, username, req.ClientOrderID, reqHash)
		if !apperr.Is(err, apperr.NotFound) {
			return p, nil, err
		}
	}
	return nil, nil, cause
}

// holdWrites adds to tx the writes that rest o: its hold and, for an OCO
// link, the partner's update (the pair shares the partner's asset hold).
func (s *Service) holdWrites(tx *dao.Tx, o *entity.Order, pl *placement, now time.Time) error {
	if o.Side() == entity.Buy {
		cur := o.Currency
		hold, err := s.buyHold(o, pl.fx)
		if err != nil {
			return err
		}
		o.HeldAmount = hold
		entry := &entity.BalanceTransaction{
			TransactionID: o.OrderID, Username: o.Username, TransactionType: entity.TxOrderHold, Amount: hold,
			Currency: cur, Status: entity.TxPending, ReferenceID: o.OrderID, CreatedAt: entity.At(now),
			Description: holdDescription(o),
		}
		tx.Add(dao.RoleBalance, s.d.Balances.ChangeWrite(dao.Change{Username: o.Username, Currency: cur, Held: hold}, now))
		tx.Add(dao.RoleLedger, s.d.Balances.TransactionWrite(entry))
		return nil
	}
	if pl.partner != nil {
		// The partner already holds the quantity; link both ways.
		p := *pl.partner
		read := p.Version
		p.OCOWith = o.OrderID
		p.Version++
		p.UpdatedAt = entity.At(now)
		w, err := s.d.Orders.UpdateWrite(&p, read, entity.StatusQueued)
		if err != nil {
			return err
		}
		tx.Add(dao.RolePartner, w)
		return nil
	}
	if pl.holding == nil || pl.holding.Available().LessThan(o.Quantity) {
		return dao.ErrInsufficientHoldings
	}
	o.HeldQuantity = o.Quantity
	tx.Add(dao.RoleHolding, s.d.Holdings.HoldWrite(o.Username, o.AssetID, o.Quantity, now))
	return nil
}

// fillWrites adds to tx the writes that execute o (whose status the caller has
// set) at price: the cash movement (consuming a buy's hold and releasing the
// rest), the holding change (a resting sell consumes held quantity: its own
// or, with sharedHold, its OCO partner's), the ledger entry (which is also the
// asset movement: it carries the asset leg), the fill's count in its
// minute's volume shard (dao.VolumeDAO) and in the user's daily bucket
// (dao.PerfDAO) with c (a placement's count), and the completion of the
// hold entry. It sets o's execution fields.
//
// An order in another currency than USD settles in it at fx, the USD value
// of one unit of it (orderRate of the stored rate read with the order): at
// price / fx (PriceScale places, half-even) per unit, its gross rounded to the
// currency's places; the order and its entry record fx, and the holding's
// totals (in USD) take the total and fee at fx. A resting buy's fill that
// costs more than its hold takes the difference from the available
// balance. The volume shard counts its notional in USD: its gross at fx.
func (s *Service) fillWrites(tx *dao.Tx, o *entity.Order, price decimal.Decimal, h *dao.HoldingRecord, sharedHold bool, fx decimal.Decimal, c dao.Count, now time.Time) error {
	buy := o.Side() == entity.Buy
	cur, qty := o.Currency, o.Quantity
	var fxp *decimal.Decimal
	if cur != entity.USD {
		if !fx.IsPositive() {
			return errNoRate(cur)
		}
		p, err := price.Quo(fx, entity.PriceScale, decimal.HalfEven)
		if err != nil {
			return fmt.Errorf("price of %s in %s: %w", o.AssetID, cur, err)
		}
		r := fx // only a foreign order's rate escapes: a USD order allocates nothing more
		price, fxp = p, &r
	}
	gross := entity.FillGrossIn(cur, qty, price, buy) // never undercharge a buyer, never overpay a seller
	if gross.LessThan(MinNotional) {
		return ErrNotionalTooSmall
	}
	fee := cur.Round(gross.Mul(s.cfg.FeeRate), decimal.Up)
	at := entity.At(now)
	var (
		change   = dao.Change{Username: o.Username, Currency: cur}
		entry    *entity.BalanceTransaction
		holding  store.Write
		saleCost decimal.Decimal
	)
	if buy {
		total := gross.Add(fee)
		change.Current, change.Held = total.Neg(), o.HeldAmount.Neg()
		entry = &entity.BalanceTransaction{TransactionType: entity.TxOrderPayment, Amount: total.Neg(),
			Description: "Buy " + qty.String() + " " + o.AssetID + " at " + entity.FormatPrice(price)}
		holding = s.d.Holdings.BuyWrite(o.Username, o.AssetID, qty, usdOf(total, fxp), usdOf(fee, fxp), now)
		o.TotalAmount = total
	} else {
		if h == nil {
			return dao.ErrInsufficientHoldings
		}
		total := gross.Sub(fee)
		if total.LessThan(MinNotional) {
			return ErrNotionalTooSmall // nothing would be left after the fee
		}
		change.Current = total
		entry = &entity.BalanceTransaction{TransactionType: entity.TxOrderSale, Amount: total,
			Description: "Sell " + qty.String() + " " + o.AssetID + " at " + entity.FormatPrice(price)}
		holding, saleCost = s.d.Holdings.SellWrite(h, qty, usdOf(total, fxp), usdOf(fee, fxp), o.HeldQuantity.IsPositive() || sharedHold, now)
		o.TotalAmount = total
	}
	entry.TransactionID, entry.Username, entry.Currency = s.ids.New(), o.Username, cur
	entry.Status, entry.ReferenceID, entry.CreatedAt = entity.TxCompleted, o.OrderID, at
	entry.Asset = &entity.AssetLeg{AssetID: o.AssetID, Quantity: qty, Price: price, FXRate: fxp}
	if !buy {
		entry.Asset.SaleCost = &saleCost
	}
	tx.Add(dao.RoleBalance, s.d.Balances.ChangeWrite(change, now))
	tx.Add(dao.RoleHolding, holding)
	tx.Add(dao.RoleLedger, s.d.Balances.TransactionWrite(entry))
	c.Fill, c.Quantity, c.Notional = true, qty, usdOf(gross, fxp)
	tx.Add(dao.RoleNone, s.d.Volume.CountWrite(o.AssetID, o.Username, now, c))
	tx.Add(dao.RoleNone, s.d.Perf.DayWrite(o.Username, now, c, entry))
	if buy && o.HeldAmount.IsPositive() {
		tx.Add(dao.RoleLedger, s.d.Balances.TransactionStatusWrite(o.Username, o.OrderID, entity.TxPending, entity.TxCompleted))
	}
	o.Fee = fee
	o.ExecutedQuantity = qty
	o.ExecutedPrice = &price
	o.FXRate = fxp
	o.HeldAmount, o.HeldQuantity = decimal.Zero, decimal.Zero
	return nil
}

// cancelPartnerWrite returns the write that cancels p, the OCO partner of an
// order that executes or is cancelled. The pair's shared hold is consumed or
// released by the caller's writes, so p holds nothing afterwards.
func (s *Service) cancelPartnerWrite(p *entity.Order, reason string, now time.Time) (store.Write, error) {
	read, from := p.Version, p.Status
	if err := p.Transition(entity.StatusCancelled, entity.ActorSystem, entity.At(now), reason); err != nil {
		return store.Write{}, err
	}
	p.HeldQuantity, p.HeldAmount = decimal.Zero, decimal.Zero
	p.Version++
	return s.d.Orders.UpdateWrite(p, read, from)
}

// endWrites adds to tx the write of o, an order that ends (read at version
// read in status from), as RoleOrder, and, when partner is not nil, the
// write that cancels partner, the open OCO partner of o, because o is what,
// as RolePartner.
func (s *Service) endWrites(tx *dao.Tx, o *entity.Order, read int64, from entity.OrderStatus, partner *entity.Order, what string, now time.Time) error {
	w, err := s.d.Orders.UpdateWrite(o, read, from)
	if err != nil {
		return err
	}
	tx.Add(dao.RoleOrder, w)
	if partner != nil {
		pw, err := s.cancelPartnerWrite(partner, "oco: "+o.OrderID+" "+what, now)
		if err != nil {
			return err
		}
		tx.Add(dao.RolePartner, pw)
	}
	return nil
}

// existingClientOrder returns the order placed earlier with clientOrderID when
// it came from the same request, else ErrClientOrderIDTaken.
func (s *Service) existingClientOrder(ctx context.Context, username, clientOrderID, reqHash string) (*Placed, error) {
	orderID, hash, err := s.d.Orders.ClientOrder(ctx, username, clientOrderID)
	if err != nil {
		return nil, err
	}
	if hash != reqHash {
		return nil, dao.ErrClientOrderIDTaken
	}
	o, err := s.d.Orders.Get(ctx, username, orderID)
	if err != nil {
		return nil, err
	}
	return &Placed{Order: o, Existing: true}, nil
}

// usdOf returns amount in USD: amount × *fx, or amount itself when fx is nil
// (a USD amount).
func usdOf(amount decimal.Decimal, fx *decimal.Decimal) decimal.Decimal {
	if fx == nil {
		return amount
	}
	return amount.Mul(*fx)
}
