package trading

import (
	"context"
	"errors"
	"fmt"

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
	ErrOrderTypeNotSupported = apperr.Field("order_type", "limit and protective orders are not available yet; use market_buy or market_sell", "value_error")
	ErrNotionalTooSmall      = apperr.Field("quantity", "order value must be at least 0.01", "value_error")
)

// Placed is the result of PlaceOrder.
type Placed struct {
	Order *entity.Order
	// Existing is true when client_order_id matched an earlier identical
	// order, which is returned instead of placing a new one.
	Existing bool
}

// PlaceOrder validates req and places it for username. Market orders execute
// at once at the asset's current price: order + ledger entry + balance +
// holding + asset movement (+ idempotency record) in one transaction.
func (s *Service) PlaceOrder(ctx context.Context, username string, req entity.OrderCreate, reqHash string, idem *Idem) (*Placed, *Replay, error) {
	if err := req.Validate(s.now()); err != nil {
		return nil, nil, err
	}
	if !req.OrderType.IsMarket() {
		return nil, nil, ErrOrderTypeNotSupported
	}
	if rep, err := s.Replay(ctx, idem); rep != nil || err != nil {
		return nil, rep, err
	}
	for attempt := 1; ; attempt++ {
		p, rep, err := s.placeMarket(ctx, username, &req, reqHash, idem)
		if !errors.Is(err, errRetry) {
			return p, rep, err
		}
		if attempt == maxAttempts {
			return nil, nil, apperr.New(apperr.Unavailable, "too much contention on this holding; retry")
		}
	}
}

var errRetry = errors.New("retry")

func (s *Service) placeMarket(ctx context.Context, username string, req *entity.OrderCreate, reqHash string, idem *Idem) (*Placed, *Replay, error) {
	buy := req.OrderType == entity.MarketBuy
	keys := []store.Key{s.d.Assets.Key(req.AssetID)}
	if !buy {
		keys = append(keys, s.d.Holdings.Key(username, req.AssetID))
	}
	items, err := s.d.Store.BatchGet(ctx, keys)
	if err != nil {
		return nil, nil, fmt.Errorf("read asset: %w", err)
	}
	if items[0] == nil {
		return nil, nil, apperr.Field("asset_id", fmt.Sprintf("asset %s not found", req.AssetID), "value_error")
	}
	asset, err := s.d.Assets.Decode(items[0])
	if err != nil {
		return nil, nil, err
	}
	if !asset.IsActive {
		return nil, nil, apperr.Field("asset_id", fmt.Sprintf("asset %s is not active", req.AssetID), "value_error")
	}
	var holding *dao.Holding
	if !buy {
		if items[1] == nil {
			return nil, nil, dao.ErrInsufficientHoldings
		}
		if holding, err = s.d.Holdings.Decode(items[1]); err != nil {
			return nil, nil, err
		}
		if holding.Available().LessThan(*req.Quantity) {
			return nil, nil, dao.ErrInsufficientHoldings
		}
	}

	now := s.now()
	at := entity.At(now)
	qty, price := *req.Quantity, asset.PriceUSD
	cur := req.Currency
	notional := qty.Mul(price)
	var gross decimal.Decimal
	if buy {
		gross = cur.Round(notional, decimal.Up) // never undercharge
	} else {
		gross = cur.Round(notional, decimal.Down) // never overpay
	}
	if gross.LessThan(MinNotional) {
		return nil, nil, ErrNotionalTooSmall
	}
	fee := cur.Round(gross.Mul(s.cfg.FeeRate), decimal.Up)
	total := gross.Add(fee)
	if !buy {
		total = gross.Sub(fee)
	}

	o := req.Order(s.ids.New(), username, at)
	o.Price = &price
	o.ExecutedPrice = &price
	o.ExecutedQuantity = qty
	o.TotalAmount = total
	o.Fee = fee
	for _, st := range []entity.OrderStatus{entity.StatusConfirmed, entity.StatusProcessing, entity.StatusCompleted} {
		if err := o.Transition(st, entity.ActorSystem, at, ""); err != nil {
			return nil, nil, err
		}
	}

	txType, amount, atxType := entity.TxOrderPayment, total.Neg(), entity.AssetBuy
	change := dao.Change{Username: username, Currency: cur, Current: total.Neg()}
	holdingWrite := s.d.Holdings.BuyWrite(username, asset.AssetID, qty, gross, now)
	desc := fmt.Sprintf("Buy %s %s at %s", qty, asset.AssetID, entity.FormatPrice(price))
	if !buy {
		txType, amount, atxType = entity.TxOrderSale, total, entity.AssetSell
		change = dao.Change{Username: username, Currency: cur, Current: total}
		holdingWrite = s.d.Holdings.SellWrite(holding, qty, false, now)
		desc = fmt.Sprintf("Sell %s %s at %s", qty, asset.AssetID, entity.FormatPrice(price))
	}
	ledger := &entity.BalanceTransaction{
		TransactionID: s.ids.New(), Username: username, TransactionType: txType, Amount: amount,
		Currency: cur, Status: entity.TxCompleted, Description: desc, ReferenceID: o.OrderID, CreatedAt: at,
	}
	movement := &entity.AssetTransaction{
		TransactionID: s.ids.New(), Username: username, AssetID: asset.AssetID, TransactionType: atxType,
		Quantity: qty, Price: price, TotalAmount: total, OrderID: o.OrderID, Status: entity.TxCompleted, Timestamp: at,
	}

	orderWrites, err := s.d.Orders.CreateWrites(o, reqHash, nil)
	if err != nil {
		return nil, nil, err
	}
	// Order of writes matters for the failure mapping below.
	writes := make([]store.Write, 0, 7)
	writes = append(writes, s.d.Balances.ChangeWrite(change, now), holdingWrite,
		s.d.Balances.TransactionWrite(ledger), s.d.AssetTxs.Write(movement))
	writes = append(writes, orderWrites...)
	const (
		iBalance = 0
		iHolding = 1
		iCOID    = 5
	)
	var existing *Placed
	var retry bool
	rep, err := s.Commit(ctx, writes, idem, o, func(i int) error {
		switch i {
		case iBalance:
			return dao.ErrInsufficientFunds
		case iHolding:
			// Either the quantity is gone or a buy changed the average cost.
			h, herr := s.d.Holdings.Get(ctx, username, asset.AssetID)
			if herr == nil && !h.Available().LessThan(qty) {
				retry = true
				return errRetry
			}
			return dao.ErrInsufficientHoldings
		case iCOID:
			p, cerr := s.existingClientOrder(ctx, username, o.ClientOrderID, reqHash)
			existing = p
			if cerr != nil {
				return cerr
			}
			return errExisting
		}
		return nil
	})
	switch {
	case errors.Is(err, errExisting):
		return existing, nil, nil
	case retry:
		return nil, nil, errRetry
	case err != nil || rep != nil:
		return nil, rep, err
	}
	return &Placed{Order: o}, nil, nil
}

var errExisting = errors.New("existing client order")

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
