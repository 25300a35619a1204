package pricing

import (
	"fmt"

	"github.com/orderprocessor/orderprocessor/decimal"
)

// FXRates are the value of one unit of each currency in USD: a set of
// rates (the stored ones, as the trading layer reads them, or the
// reference rates below).
type FXRates map[string]decimal.Decimal

// DefaultFXRates are the reference rates (late 2026 levels): a store gets
// them as the rates of the currencies it has none for
// (trading.Service.SeedRates); from then on the stored rates, moved by the
// rate feed or an admin, are the ones in force.
func DefaultFXRates() FXRates {
	return FXRates{
		"USD": decimal.FromInt(1),
		"EUR": decimal.MustParse("1.08"),
		"GBP": decimal.MustParse("1.27"),
		"CHF": decimal.MustParse("1.13"),
		"CAD": decimal.MustParse("0.73"),
		"AUD": decimal.MustParse("0.66"),
		"JPY": decimal.MustParse("0.0067"),
	}
}

// Rate returns how many units of to one unit of from buys, to 10 places.
func (r FXRates) Rate(from, to string) (decimal.Decimal, error) {
	f, ok1 := r[from]
	t, ok2 := r[to]
	if !ok1 || !ok2 || !t.IsPositive() {
		return decimal.Zero, fmt.Errorf("no rate from %s to %s", from, to)
	}
	return f.Quo(t, 10, decimal.HalfEven)
}

// Convert returns amount of from in to, rounded down to places (exact
// arithmetic before the one rounding).
func (r FXRates) Convert(amount decimal.Decimal, from, to string, places int32) (decimal.Decimal, error) {
	f, ok1 := r[from]
	t, ok2 := r[to]
	if !ok1 || !ok2 || !t.IsPositive() {
		return decimal.Zero, fmt.Errorf("no rate from %s to %s", from, to)
	}
	return amount.Mul(f).Quo(t, places, decimal.Down)
}
