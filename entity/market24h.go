package entity

import (
	"time"

	"github.com/orderprocessor/orderprocessor/decimal"
)

// PriceHour is an asset's prices in one UTC hour (Hour: Unix time / 3600):
// the highest and lowest price in effect during it (the price in effect
// when it began included) and the last one.
type PriceHour struct {
	Hour  int64           `json:"t"`
	High  decimal.Decimal `json:"h"`
	Low   decimal.Decimal `json:"l"`
	Close decimal.Decimal `json:"c"`
}

// PriceHours are an asset's recent hours with price changes, oldest first,
// kept in its stored document (written with every price change, in the same
// transaction as its price point): the hours of the 24-hour window, and
// Before, the price in effect before the first of them (the close of the
// last hour that left the window, or the asset's first price), from which
// Market24h derives high_24h, low_24h and price_change_24h without reading
// the price history.
type PriceHours struct {
	Hours  []PriceHour      `json:"hours,omitempty"`
	Before *decimal.Decimal `json:"before,omitempty"`
}

func hourOf(t time.Time) int64 { return t.Unix() / 3600 }

// Window24h returns the start of the 24-hour window at now: the start of
// the UTC hour 23 hours before now's hour (the window is the current hour
// and the 23 before it).
func Window24h(now time.Time) time.Time {
	return now.UTC().Truncate(time.Hour).Add(-23 * time.Hour)
}

// NotePrice records price, in effect from at on, in the hour of at, and
// forgets the hours that left the window (keeping the last one's close as
// Before).
func (p *PriceHours) NotePrice(at time.Time, price decimal.Decimal) {
	h := hourOf(at)
	n := len(p.Hours)
	switch {
	case n > 0 && p.Hours[n-1].Hour >= h: // this hour (or a clock that went back)
		last := &p.Hours[n-1]
		last.High, last.Low, last.Close = decimal.Max(last.High, price), decimal.Min(last.Low, price), price
	default:
		open := price // the asset's first price
		switch {
		case n > 0:
			open = p.Hours[n-1].Close
		case p.Before != nil:
			open = *p.Before
		default:
			p.Before = &open
		}
		p.Hours = append(p.Hours, PriceHour{Hour: h, High: decimal.Max(open, price), Low: decimal.Min(open, price), Close: price})
	}
	first := hourOf(Window24h(at))
	drop := 0
	for drop < len(p.Hours) && p.Hours[drop].Hour < first {
		drop++
	}
	if drop > 0 {
		c := p.Hours[drop-1].Close
		p.Hours, p.Before = append([]PriceHour(nil), p.Hours[drop:]...), &c
	}
}

// Market24h returns the highest and lowest price in effect in the window
// at now (Window24h), and the change of the current price since the
// window's start, from the recorded hours; ok is false when no price was
// ever recorded.
func (p *PriceHours) Market24h(now time.Time, price decimal.Decimal) (high, low, change decimal.Decimal, ok bool) {
	if p.Before == nil {
		return decimal.Zero, decimal.Zero, decimal.Zero, false
	}
	first := hourOf(Window24h(now))
	// The price in effect when the window began: the close of the last
	// hour before it; for an asset younger than the window, its first price.
	start := *p.Before
	for _, h := range p.Hours {
		if h.Hour < first {
			start = h.Close
		}
	}
	high, low = start, start
	for _, h := range p.Hours {
		if h.Hour >= first {
			high, low = decimal.Max(high, h.High), decimal.Min(low, h.Low)
		}
	}
	high, low = decimal.Max(high, price), decimal.Min(low, price)
	return high, low, price.Sub(start), true
}

// WithMarket24h sets a's high_24h, low_24h, price_change_24h and
// price_change_percentage_24h (2 places, half-even) from its recorded
// price hours at now, when it has any, and returns a.
func (a *Asset) WithMarket24h(now time.Time) *Asset {
	high, low, change, ok := a.PriceHours.Market24h(now, a.PriceUSD)
	if !ok {
		return a
	}
	a.High24h, a.Low24h, a.PriceChange24h = &high, &low, &change
	if start := a.PriceUSD.Sub(change); start.IsPositive() {
		if pct, err := change.Mul(decimal.FromInt(100)).Quo(start, 2, decimal.HalfEven); err == nil {
			a.PriceChangePercentage24h = &pct
		}
	}
	return a
}
