package trading

import (
	"context"
	"fmt"
	"time"

	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
)

// PerfDay is one UTC day of a user's performance, in USD.
type PerfDay struct {
	Day time.Time
	// Value is the portfolio's value at the end of the day: every cash
	// balance at its reference USD rate plus every holding at the asset's
	// last price of the day (the current price for today).
	Value decimal.Decimal
	// NetFlow is the USD value of the day's deposits, withdrawals and
	// adjustments (external cash flows).
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
	for d := today; !d.Before(first.AddDate(0, 0, -1)); d = d.AddDate(0, 0, -1) {
		if !d.After(last) {
			v, err := s.valueAt(ctx, cash, qty, d, d.Equal(today))
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
			day.NetFlow = day.NetFlow.Add(n.Mul(s.rate(c)))
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

// rate returns the USD value of one unit of currency c (the reference rates).
func (s *Service) rate(c string) decimal.Decimal {
	if r, ok := s.cfg.Rates[c]; ok {
		return r
	}
	return decimal.Zero
}

// valueAt returns the USD value of cash and qty at the end of day d: the
// current prices when current is set, else each asset's last price of d.
func (s *Service) valueAt(ctx context.Context, cash, qty map[string]decimal.Decimal, d time.Time, current bool) (decimal.Decimal, error) {
	v := decimal.Zero
	for c, n := range cash {
		v = v.Add(n.Mul(s.rate(c)))
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
