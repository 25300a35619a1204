package trading

import (
	"context"
	"fmt"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
)

// PerfDay is one UTC day of a user's performance, in USD.
type PerfDay struct {
	Day time.Time
	// Value is the portfolio's value at the end of the day: every cash
	// balance at its currency's stored exchange rate then, plus every
	// holding at the asset's last price of the day (the current rate and
	// price for today).
	Value decimal.Decimal
	// NetFlow is the USD value of the day's deposits, withdrawals and
	// adjustments (external cash flows), at the rates Value uses.
	NetFlow decimal.Decimal
	// Return is the day's return net of its flows, counted as made at the
	// start of the day: (Value - base) / base with base the previous Value
	// plus NetFlow (12 places), zero when base is not positive. The first
	// funded day's gain counts.
	Return   decimal.Decimal
	Realized decimal.Decimal
	dao.DayFigures
}

// Performance is a user's performance over a range of UTC days.
type Performance struct {
	From, To time.Time
	// StartValue is the value at the end of the day before From.
	StartValue decimal.Decimal
	Days       []PerfDay
	// TWR is the time-weighted return of the range: the product of the
	// days' (1 + Return), minus 1, rounded to 8 places.
	TWR decimal.Decimal
}

// Performance returns username's performance over the UTC days from the
// day of from to the day of to (at most today), from the user's daily
// buckets (dao.PerfDAO) since from's day, the current balances and
// holdings, and the assets' prices at the end of each day: it walks back
// from now, taking each day's changes out of the current state. It costs
// O(days × assets held), whatever the history. Days before the store
// recorded daily buckets (the volume checkpoint's Since) are not
// reconstructed exactly.
func (s *Service) Performance(ctx context.Context, username string, from, to time.Time) (*Performance, error) {
	now := s.now()
	today := dao.Day.Truncate(now)
	first, last := dao.Day.Truncate(from), dao.Day.Truncate(to)
	if last.After(today) {
		last = today
	}
	out := &Performance{From: first, To: last, StartValue: decimal.Zero, TWR: decimal.Zero}
	if last.Before(first) {
		return out, nil
	}
	balances, err := s.d.Balances.List(ctx, username)
	if err != nil {
		return nil, err
	}
	holdings, err := s.d.Holdings.List(ctx, username)
	if err != nil {
		return nil, err
	}
	buckets, err := s.d.Perf.Days(ctx, username, first, today)
	if err != nil {
		return nil, err
	}
	byDay := map[int64]dao.DayFigures{}
	for _, b := range buckets {
		byDay[b.Day.Unix()] = b
	}
	cash, qty := map[string]decimal.Decimal{}, map[string]decimal.Decimal{}
	for _, b := range balances {
		cash[string(b.Currency)] = b.CurrentBalance
	}
	for _, h := range holdings {
		qty[h.AssetID] = h.Quantity
	}
	values := map[int64]decimal.Decimal{}
	fx := &dayRates{s: s, today: today, memo: map[string]decimal.Decimal{}}
	for d := today; !d.Before(first.AddDate(0, 0, -1)); d = d.AddDate(0, 0, -1) {
		if !d.After(last) {
			v, err := s.valueAt(ctx, fx, cash, qty, d)
			if err != nil {
				return nil, err
			}
			values[d.Unix()] = v
		}
		b := byDay[d.Unix()]
		for c, n := range b.Cash {
			cash[c] = cash[c].Sub(n)
		}
		for a, n := range b.Quantity {
			qty[a] = qty[a].Sub(n)
		}
	}
	out.StartValue = values[first.AddDate(0, 0, -1).Unix()]
	growth := decimal.FromInt(1)
	prev := out.StartValue
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		b := byDay[d.Unix()]
		day := PerfDay{Day: d, Value: values[d.Unix()], NetFlow: decimal.Zero, Return: decimal.Zero, Realized: b.Realized, DayFigures: b}
		day.DayFigures.Day = d
		for c, n := range b.Flows {
			r, err := fx.at(ctx, c, d)
			if err != nil {
				return nil, err
			}
			day.NetFlow = day.NetFlow.Add(n.Mul(r))
		}
		if base := prev.Add(day.NetFlow); base.IsPositive() {
			r, err := day.Value.Sub(base).Quo(base, 12, decimal.HalfEven)
			if err != nil {
				return nil, fmt.Errorf("return of %s: %w", d.Format(time.DateOnly), err)
			}
			day.Return = r
			growth = growth.Mul(decimal.FromInt(1).Add(r))
		}
		out.Days = append(out.Days, day)
		prev = day.Value
	}
	out.TWR = growth.Sub(decimal.FromInt(1)).Round(8, decimal.HalfEven)
	return out, nil
}

// dayRates gives the USD values of the currencies at the end of days, each
// read once per Performance call.
type dayRates struct {
	s     *Service
	today time.Time
	memo  map[string]decimal.Decimal // by currency and day
}

// at returns the USD value of one unit of currency c at the end of day d:
// the stored rate then (the newest point of the rate's history that day or
// before), the current stored rate for today or when the history holds none
// that old (points are kept dao.FXHistoryTTL), the reference rate when no
// rate is stored.
func (r *dayRates) at(ctx context.Context, c string, d time.Time) (decimal.Decimal, error) {
	if entity.Currency(c) == entity.USD {
		return decimal.FromInt(1), nil
	}
	key := c + "@" + d.Format(time.DateOnly)
	if v, ok := r.memo[key]; ok {
		return v, nil
	}
	var v decimal.Decimal
	if d.Before(r.today) {
		rate, found, err := r.s.d.FX.RateAt(ctx, entity.Currency(c), d.AddDate(0, 0, 1).Add(-time.Microsecond))
		if err != nil {
			return decimal.Zero, err
		}
		if !found {
			return r.at(ctx, c, r.today)
		}
		v = rate
	} else {
		cur, err := r.s.d.FX.Get(ctx, entity.Currency(c))
		switch {
		case apperr.Is(err, apperr.NotFound):
			v = r.s.cfg.Rates[c] // zero for a currency without one
		case err != nil:
			return decimal.Zero, err
		default:
			v = cur.Rate
		}
	}
	r.memo[key] = v
	return v, nil
}

// valueAt returns the USD value of cash and qty at the end of day d: the
// current rates and prices for today, else each currency's rate and each
// asset's last price of d.
func (s *Service) valueAt(ctx context.Context, fx *dayRates, cash, qty map[string]decimal.Decimal, d time.Time) (decimal.Decimal, error) {
	current := d.Equal(fx.today)
	v := decimal.Zero
	for c, n := range cash {
		if n.IsZero() {
			continue
		}
		r, err := fx.at(ctx, c, d)
		if err != nil {
			return decimal.Zero, err
		}
		v = v.Add(n.Mul(r))
	}
	for a, n := range qty {
		if n.IsZero() {
			continue
		}
		var price decimal.Decimal
		if current {
			q, found, err := s.d.Assets.GetQuote(ctx, a)
			if err != nil {
				return decimal.Zero, err
			}
			if found {
				price = q.PriceUSD
			}
		} else {
			p, found, err := s.d.Assets.PriceAt(ctx, a, d.AddDate(0, 0, 1).Add(-time.Microsecond))
			if err != nil {
				return decimal.Zero, err
			}
			if found {
				price = p
			}
		}
		v = v.Add(n.Mul(price))
	}
	return v, nil
}
