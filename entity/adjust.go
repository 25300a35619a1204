package entity

import (
	"unicode/utf8"

	"github.com/orderprocessor/orderprocessor/decimal"
)

// ReasonMaxLen is the longest reason of an admin adjustment or reversal.
const ReasonMaxLen = 255

// AdjustmentRequest is the body of POST /admin/users/{username}/adjustments:
// a signed cash amount (positive credits, negative debits) with the reason
// the admin gives, recorded as a system_adjustment entry.
type AdjustmentRequest struct {
	Amount   *decimal.Decimal `json:"amount" doc:"signed: a credit is positive, a debit negative"`
	Currency Currency         `json:"currency,omitempty"`
	Reason   string           `json:"reason" maxLength:"255"`
}

// Validate normalises the currency (default USD, upper-cased) and checks:
// amount present, not zero, at most 1,000,000 either way, at most the
// currency's decimal places; currency supported; reason present, at most
// 255 characters, without markup or control characters.
func (r *AdjustmentRequest) Validate() error {
	var v Violations
	r.Currency = checkCurrency(&v, "currency", r.Currency)
	switch a := r.Amount; {
	case a == nil:
		v.Body("amount", "field required", TypeMissing)
	case a.IsZero():
		v.Body("amount", "must not be 0", TypeValue)
	case a.Abs().GreaterThan(MaxAmount):
		v.Body("amount", "must be between -1000000 and 1000000", TypeValue)
	case a.Scale() > r.Currency.Scale():
		v.Body("amount", sprintf("must have at most %d decimal places", r.Currency.Scale()), TypeValue)
	}
	checkReason(&v, r.Reason)
	return v.Err()
}

// ReversalRequest is the body of POST /admin/orders/{order_id}/reverse: the
// order's owner (orders are stored under their owner) and the reason.
type ReversalRequest struct {
	Username string `json:"username"`
	Reason   string `json:"reason" maxLength:"255"`
}

// Validate lower-cases the username and checks: username present, at most
// 30 letters, digits and _ (an unknown one finds no order: 404); reason
// present, at most 255 characters, without markup or control characters.
func (r *ReversalRequest) Validate() error {
	var v Violations
	r.Username = NormalizeUsername(r.Username)
	switch {
	case r.Username == "":
		v.Body("username", "field required", TypeMissing)
	case !validName(r.Username):
		v.Body("username", sprintf("must be at most %d characters of letters, digits and _", UsernameMaxLen), TypeValue)
	}
	checkReason(&v, r.Reason)
	return v.Err()
}

func checkReason(v *Violations, reason string) {
	switch {
	case reason == "":
		v.Body("reason", "field required", TypeMissing)
	case utf8.RuneCountInString(reason) > ReasonMaxLen:
		v.Body("reason", sprintf("must be at most %d characters", ReasonMaxLen), TypeValue)
	case ContainsMarkup(reason) || hasControl(reason):
		v.Body("reason", "must not contain markup or control characters", TypeValue)
	}
}

func validName(s string) bool {
	if len(s) > UsernameMaxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '_' {
			return false
		}
	}
	return true
}
