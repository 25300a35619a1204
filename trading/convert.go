package trading

import (
	"context"
	"fmt"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/pricing"
)

// Conversion is the result of a currency conversion: both ledger legs, the
// rate applied (the mid rate less the spread) and the mid rate.
type Conversion struct {
	From, To *entity.BalanceTransaction
	Rate     decimal.Decimal
	MidRate  decimal.Decimal
	Spread   decimal.Decimal
}

// Convert exchanges req.Amount of req.FromCurrency for req.ToCurrency at
// the stored rates (read from the store in one round trip, each refused
// when older than Config.FXMaxAge: fx_rate_stale), less Config.FXSpread,
// in one transaction: a negative currency_conversion entry and debit on
// one balance, a positive entry and credit (amount × from's USD value ×
// (1 - spread) / to's USD value, rounded down to the target currency's
// places: the platform never pays out more than the rate gives) on the
// other. insufficient_funds when the amount exceeds the available balance.
func (s *Service) Convert(ctx context.Context, username string, req entity.ConvertRequest, idem *Idem) (*Conversion, *Replay, error) {
	if err := req.Validate(); err != nil {
		return nil, nil, err
	}
	if rep, err := s.Replay(ctx, idem); rep != nil || err != nil {
		return nil, rep, err
	}
	b := s.d.Batch()
	from, to := b.Rate(req.FromCurrency), b.Rate(req.ToCurrency)
	if err := b.Read(ctx); err != nil {
		return nil, nil, fmt.Errorf("read exchange rates: %w", err)
	}
	now := s.now()
	rates := pricing.FXRates{}
	for _, leg := range []struct {
		c    entity.Currency
		slot dao.Slot[*dao.FXRate]
	}{{req.FromCurrency, from}, {req.ToCurrency, to}} {
		r, found, err := leg.slot.Get()
		if err != nil {
			return nil, nil, err
		}
		v, err := s.fresh(leg.c, r, found, now)
		if err != nil {
			return nil, nil, err
		}
		rates[string(leg.c)] = v
	}
	keep := decimal.FromInt(1).Sub(s.cfg.FXSpread)
	mid, err := rates.Rate(string(req.FromCurrency), string(req.ToCurrency))
	if err != nil {
		return nil, nil, apperr.Field("to_currency", err.Error(), "value_error")
	}
	rate, err := rates[string(req.FromCurrency)].Mul(keep).Quo(rates[string(req.ToCurrency)], 10, decimal.HalfEven)
	if err != nil {
		return nil, nil, apperr.Field("to_currency", err.Error(), "value_error")
	}
	amount := *req.Amount
	credit, err := amount.Mul(rates[string(req.FromCurrency)]).Mul(keep).Quo(rates[string(req.ToCurrency)], req.ToCurrency.Scale(), decimal.Down)
	if err != nil || !credit.IsPositive() {
		return nil, nil, apperr.Field("amount", "too small to convert", "value_error")
	}
	at := entity.At(now)
	id := s.ids.New()
	c := &Conversion{Rate: rate, MidRate: mid, Spread: s.cfg.FXSpread,
		From: &entity.BalanceTransaction{TransactionID: s.ids.New(), Username: username, TransactionType: entity.TxCurrencyConversion,
			Amount: amount.Neg(), Currency: req.FromCurrency, Status: entity.TxCompleted, ReferenceID: id, CreatedAt: at,
			Description: fmt.Sprintf("Convert %s %s to %s %s at %s", req.FromCurrency.Format(amount), req.FromCurrency, req.ToCurrency.Format(credit), req.ToCurrency, rate)},
		To: &entity.BalanceTransaction{TransactionID: s.ids.New(), Username: username, TransactionType: entity.TxCurrencyConversion,
			Amount: credit, Currency: req.ToCurrency, Status: entity.TxCompleted, ReferenceID: id, CreatedAt: at,
			Description: fmt.Sprintf("Converted from %s %s at %s", req.FromCurrency.Format(amount), req.FromCurrency, rate)},
	}
	var tx dao.Tx
	tx.Add(dao.RoleBalance, s.d.Balances.ChangeWrite(dao.Change{Username: username, Currency: req.FromCurrency, Current: amount.Neg()}, now))
	tx.Add(dao.RoleNone, s.d.Balances.ChangeWrite(dao.Change{Username: username, Currency: req.ToCurrency, Current: credit}, now)) // a credit has no condition
	tx.Add(dao.RoleLedger, s.d.Balances.TransactionWrite(c.From))
	tx.Add(dao.RoleLedger, s.d.Balances.TransactionWrite(c.To))
	tx.Add(dao.RoleNone, s.d.Perf.DayWrite(username, now, dao.Count{}, c.From, c.To))
	rep, err := s.Commit(ctx, &tx, idem, c, dao.Refusal{Role: dao.RoleBalance, Err: dao.ErrInsufficientFunds})
	if err != nil || rep != nil {
		return nil, rep, err
	}
	s.publish(Event{Kind: EventBalance, Username: username, Currency: string(req.FromCurrency)})
	s.publish(Event{Kind: EventBalance, Username: username, Currency: string(req.ToCurrency)})
	return c, nil, nil
}
