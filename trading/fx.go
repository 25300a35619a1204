package trading

import (
	"context"
	"fmt"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/pricing"
)

// The exchange rates of the money flows are the stored ones (dao.FXDAO):
// each is the USD value of one unit of its currency (USD's is 1). Every
// flow that moves money at a rate (a conversion, an order in another
// currency, the USD value of a deposit or withdrawal under a daily limit)
// reads the rate from the store, never from a cache, and refuses one older
// than Config.FXMaxAge with ErrRateStale's kind.

// ErrNoRate is the error of a currency without a stored rate.
func errNoRate(c entity.Currency) error {
	return apperr.New(apperr.RateStale, "no exchange rate is stored for %s; retry later", c)
}

// stale returns the error of a rate of c observed at `at`, older than the
// bound by now.
func errStale(c entity.Currency, at time.Time, maxAge time.Duration) error {
	return apperr.New(apperr.RateStale, "the %s-USD exchange rate of %s is older than %s; retry later",
		c, at.UTC().Format(time.RFC3339), maxAge)
}

// fresh returns r's rate, or an fx_rate_stale error when r is nil or
// older than Config.FXMaxAge at now.
func (s *Service) fresh(c entity.Currency, r *dao.FXRate, found bool, now time.Time) (decimal.Decimal, error) {
	if c == entity.USD {
		return decimal.FromInt(1), nil
	}
	if !found || r == nil || !r.Rate.IsPositive() {
		return decimal.Zero, errNoRate(c)
	}
	if s.cfg.FXMaxAge > 0 && now.Sub(r.At) > s.cfg.FXMaxAge {
		return decimal.Zero, errStale(c, r.At, s.cfg.FXMaxAge)
	}
	return r.Rate, nil
}

// orderRatePlaces is the precision of an order's rate (as providers'
// rates: pricing.FXRatePlaces).
const orderRatePlaces = 10

// orderRate returns the rate an order of side in another currency settles
// at, from mid, the currency's stored rate: mid moved by Config.FXSpread
// against the order, as a conversion is, so that an order is never a
// cheaper conversion. A buy pays in its currency, which counts at
// mid × (1 − spread); a sale is paid in it at mid / (1 − spread); either is
// rounded to 10 places against the order. Without a spread it is mid.
func (s *Service) orderRate(mid decimal.Decimal, side entity.Side) (decimal.Decimal, error) {
	if s.cfg.FXSpread.IsZero() {
		return mid, nil
	}
	keep := decimal.FromInt(1).Sub(s.cfg.FXSpread)
	if side == entity.Buy {
		return mid.Mul(keep).Round(orderRatePlaces, decimal.Down), nil
	}
	r, err := mid.Quo(keep, orderRatePlaces, decimal.Up)
	if err != nil {
		return decimal.Zero, fmt.Errorf("order rate: %w", err)
	}
	return r, nil
}

// usdRate returns the stored, fresh USD value of one unit of c (1 for USD,
// without a read).
func (s *Service) usdRate(ctx context.Context, c entity.Currency) (decimal.Decimal, error) {
	if c == entity.USD {
		return decimal.FromInt(1), nil
	}
	r, err := s.d.FX.Get(ctx, c)
	if apperr.Is(err, apperr.NotFound) {
		return decimal.Zero, errNoRate(c)
	}
	if err != nil {
		return decimal.Zero, err
	}
	return s.fresh(c, r, true, s.now())
}

// SeedRates stores the reference rates (Config.Rates) of the currencies
// that have no stored rate, and returns how many it stored.
func (s *Service) SeedRates(ctx context.Context) (int, error) {
	return s.d.FX.Seed(ctx, s.cfg.Rates, s.now())
}

// ValuationRates returns the stored rates of every currency (USD is 1), as
// a display valuation uses them: whatever their age (a valuation moves no
// money). A currency without a stored rate is absent.
func (s *Service) ValuationRates(ctx context.Context) (pricing.FXRates, error) {
	all, err := s.reads.FX.All(ctx)
	if err != nil {
		return nil, err
	}
	out := pricing.FXRates{string(entity.USD): decimal.FromInt(1)}
	for _, r := range all {
		out[string(r.Currency)] = r.Rate
	}
	return out, nil
}

// usdValue returns the exact USD value of amount of c at its fresh stored
// rate.
func (s *Service) usdValue(ctx context.Context, amount decimal.Decimal, c entity.Currency) (decimal.Decimal, error) {
	rate, err := s.usdRate(ctx, c)
	if err != nil {
		return decimal.Zero, fmt.Errorf("usd value of %s: %w", c, err)
	}
	return amount.Mul(rate), nil
}
