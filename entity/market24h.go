package entity

import (
	"time"

	"github.com/orderprocessor/orderprocessor/decimal"
)

// PriceHour is an asset's prices in one UTC hour: the price in effect when
// the hour began (Open: the close of the hour before), the highest and
// lowest price in effect during it (the open included) and the last one.
type PriceHour struct {
	Start Time            `json:"t"`
	Open  decimal.Decimal `json:"o"`
	High  decimal.Decimal `json:"h"`
	Low   decimal.Decimal `json:"l"`
	Close decimal.Decimal `json:"c"`
}

// PriceHours are an asset's recent hours with price changes, oldest first,
// kept in its stored document (written with every price change, in the same
// transaction as its price point): the hours of the 24-hour window, and
// the close of the last hour before them (Before), from which Market24h
// derives high_24h, low_24h and price_change_24h without reading the price
// history.
type PriceHours struct {
	Hours  []PriceHour      `json:"hours,omitempty"`
	Before *decimal.Decimal `json:"before,omitempty"`
}

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
	h := at.UTC().Truncate(time.Hour)
	n := len(p.Hours)
	switch {
	case n > 0 && !p.Hours[n-1].Start.Before(h): // this hour (or a clock that went back)
		last := &p.Hours[n-1]
		last.High, last.Low, last.Close = decimal.Max(last.High, price), decimal.Min(last.Low, price), price
	default:
		open := price
		if n > 0 {
			open = p.Hours[n-1].Close
		}
		p.Hours = append(p.Hours, PriceHour{Start: At(h), Open: open, High: decimal.Max(open, price),
			Low: decimal.Min(open, price), Close: price})
	}
	first := Window24h(at)
	drop := 0
	for drop < len(p.Hours) && p.Hours[drop].Start.Before(first) {
		drop++
	}
	if drop > 0 {
		c := p.Hours[drop-1].Close
		p.Hours, p.Before = append([]PriceHour(nil), p.Hours[drop:]...), &c
	}
}

// Market24h returns the highest and lowest price in effect in the window
// at now (Window24h), and the change of the current price since the
// window's start, from the recorded hours; ok is false when no price
// change was ever recorded.
func (p *PriceHours) Market24h(now time.Time, price decimal.Decimal) (high, low, change decimal.Decimal, ok bool) {
	if len(p.Hours) == 0 && p.Before == nil {
		return decimal.Zero, decimal.Zero, decimal.Zero, false
	}
	first := Window24h(now)
	// The price in effect when the window began: the close of the last
	// hour before it; for an asset younger than the window, its first price.
	var start *decimal.Decimal
	if p.Before != nil {
		start = p.Before
	}
	for i := range p.Hours {
		if p.Hours[i].Start.Before(first) {
			c := p.Hours[i].Close
			start = &c
		}
	}
	if start == nil {
		o := p.Hours[0].Open
		start = &o
	}
	high, low = *start, *start
	for _, h := range p.Hours {
		if !h.Start.Before(first) {
			high, low = decimal.Max(high, h.High), decimal.Min(low, h.Low)
		}
	}
	high, low = decimal.Max(high, price), decimal.Min(low, price)
	return high, low, price.Sub(*start), true
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
