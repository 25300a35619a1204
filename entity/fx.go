package entity

import (
	"strings"

	"github.com/orderprocessor/orderprocessor/decimal"
)

// FX pairs. Every exchange rate is quoted against USD: the pair
// "<currency>-USD" is the USD value of one unit of the currency (EUR-USD
// 1.08: one euro is worth 1.08 US dollars).

// MaxPairLen is the longest pair name ParsePair reads.
const MaxPairLen = 7

// FXRateScale is the most decimal places of a stored exchange rate.
const FXRateScale = 10

// MaxFXRate is the largest exchange rate (USD per unit) that is stored.
var MaxFXRate = decimal.FromInt(1_000_000)

// PairName returns the name of c's pair against USD ("EUR-USD").
func PairName(c Currency) string { return string(c) + "-USD" }

// ParsePair returns the currency of a pair name: "EUR-USD", "EUR_USD",
// "EUR/USD" or "EURUSD", any case, of a supported currency other than
// USD. ok is false for anything else, USD-USD and an inverted pair
// ("USD-EUR") included.
func ParsePair(s string) (Currency, bool) {
	if len(s) != 6 && len(s) != MaxPairLen {
		return "", false
	}
	base, quote := s[:3], s[len(s)-3:]
	if len(s) == MaxPairLen && s[3] != '-' && s[3] != '_' && s[3] != '/' {
		return "", false
	}
	if !strings.EqualFold(quote, string(USD)) {
		return "", false
	}
	c, ok := ParseCurrency(base)
	if !ok || c == USD {
		return "", false
	}
	return c, true
}

// ValidateFXRate checks an exchange rate set by an admin: positive, at
// most MaxFXRate, at most FXRateScale places.
func ValidateFXRate(rate *decimal.Decimal, loc ...string) error {
	var v Violations
	switch {
	case rate == nil:
		v.Add("field required", TypeMissing, loc...)
	case !rate.IsPositive():
		v.Add("must be > 0", TypeValue, loc...)
	case rate.GreaterThan(MaxFXRate):
		v.Add(sprintf("must be at most %s", MaxFXRate), TypeValue, loc...)
	case rate.Scale() > FXRateScale:
		v.Add(sprintf("at most %d decimal places", FXRateScale), TypeValue, loc...)
	}
	return v.Err()
}

// ValidatePair returns the currency of pair name s (ParsePair), or an
// Invalid error whose field error has loc (e.g. "path", "pair").
func ValidatePair(s string, loc ...string) (Currency, error) {
	c, ok := ParsePair(s)
	if !ok {
		var v Violations
		v.Add("must be a supported currency quoted against USD, e.g. EUR-USD (EUR, GBP, JPY, CHF, CAD or AUD)", TypeValue, loc...)
		return "", v.Err()
	}
	return c, nil
}

// FXRateUpdate is the body of the admin route that sets a rate.
type FXRateUpdate struct {
	// Rate is the USD value of one unit of the pair's currency.
	Rate *decimal.Decimal `json:"rate"`
}

// Validate checks rate: present, > 0, at most MaxFXRate, at most
// FXRateScale places.
func (r *FXRateUpdate) Validate() error {
	return ValidateFXRate(r.Rate, "body", "rate")
}
