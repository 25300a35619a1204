package entity

import (
	"strings"
	"unicode/utf8"

	"github.com/orderprocessor/orderprocessor/decimal"
)

// Currency is an ISO 4217 code of a supported fiat currency (upper-case).
type Currency string

// Supported currencies.
const (
	USD Currency = "USD"
	EUR Currency = "EUR"
	GBP Currency = "GBP"
	JPY Currency = "JPY"
	CHF Currency = "CHF"
	CAD Currency = "CAD"
	AUD Currency = "AUD"
)

// DefaultCurrency is the currency of requests that name none.
const DefaultCurrency = USD

// currencyScales lists the supported currencies and their decimal places.
var currencyScales = map[Currency]int32{USD: 2, EUR: 2, GBP: 2, JPY: 0, CHF: 2, CAD: 2, AUD: 2}

// Currencies returns the supported currencies in a fixed order.
func Currencies() []Currency { return []Currency{USD, EUR, GBP, JPY, CHF, CAD, AUD} }

// ParseCurrency returns the supported currency named by s (any case) and
// whether it is supported.
func ParseCurrency(s string) (Currency, bool) {
	c := Currency(strings.ToUpper(s))
	_, ok := currencyScales[c]
	return c, ok
}

// Valid reports whether c is a supported currency.
func (c Currency) Valid() bool {
	_, ok := currencyScales[c]
	return ok
}

// Scale returns c's number of decimal places (2 for an unknown currency).
func (c Currency) Scale() int32 {
	if s, ok := currencyScales[c]; ok {
		return s
	}
	return 2
}

// Format returns d with exactly c's decimal places ("1000.00"; "1000" for JPY).
func (c Currency) Format(d decimal.Decimal) string { return d.StringFixed(c.Scale()) }

// Round rounds d to c's decimal places with mode.
func (c Currency) Round(d decimal.Decimal, mode decimal.Rounding) decimal.Decimal {
	return d.Round(c.Scale(), mode)
}

// Scales and limits of amounts.
const (
	// QuantityScale is the most decimal places of an asset quantity.
	QuantityScale = 8
	// PriceScale is the most decimal places of an order or asset price.
	PriceScale = 8
)

var (
	// MaxAmount is the largest deposit, withdrawal or conversion amount.
	MaxAmount = decimal.FromInt(1_000_000)
	// MaxOrderPrice is the largest price, limit, stop or trail amount of an order.
	MaxOrderPrice = decimal.FromInt(1_000_000)
	// MinOrderQuantity is the smallest order quantity.
	MinOrderQuantity = decimal.MustParse("0.001")
	// MaxOrderQuantity is the largest order quantity.
	MaxOrderQuantity = decimal.FromInt(1_000_000_000)
)

// Balance is a user's cash balance in one currency. HeldBalance is the sum of
// open holds; Available() = CurrentBalance - HeldBalance.
type Balance struct {
	Username         string          `json:"username"`
	Currency         Currency        `json:"currency"`
	CurrentBalance   decimal.Decimal `json:"current_balance"`
	HeldBalance      decimal.Decimal `json:"held_balance"`
	TotalDeposits    decimal.Decimal `json:"total_deposits"`
	TotalWithdrawals decimal.Decimal `json:"total_withdrawals"`
	CreatedAt        Time            `json:"created_at"`
	UpdatedAt        Time            `json:"updated_at"`
	Version          int64           `json:"version"`
}

// NewBalance returns an empty balance (all zero, version 1) created at now.
func NewBalance(username string, c Currency, now Time) *Balance {
	return &Balance{Username: username, Currency: c, CreatedAt: now, UpdatedAt: now, Version: 1}
}

// Available returns CurrentBalance - HeldBalance.
func (b *Balance) Available() decimal.Decimal { return b.CurrentBalance.Sub(b.HeldBalance) }

// BalanceResponse is the API shape of a balance (GET /balance): amounts with
// the currency's decimal places.
type BalanceResponse struct {
	Currency         Currency `json:"currency"`
	CurrentBalance   string   `json:"current_balance"`
	AvailableBalance string   `json:"available_balance"`
	HeldBalance      string   `json:"held_balance"`
	TotalDeposits    string   `json:"total_deposits"`
	TotalWithdrawals string   `json:"total_withdrawals"`
	CreatedAt        Time     `json:"created_at"`
	UpdatedAt        Time     `json:"updated_at"`
}

// Response returns b's API shape.
func (b *Balance) Response() BalanceResponse {
	c := b.Currency
	return BalanceResponse{
		Currency: c, CurrentBalance: c.Format(b.CurrentBalance), AvailableBalance: c.Format(b.Available()),
		HeldBalance: c.Format(b.HeldBalance), TotalDeposits: c.Format(b.TotalDeposits),
		TotalWithdrawals: c.Format(b.TotalWithdrawals), CreatedAt: b.CreatedAt, UpdatedAt: b.UpdatedAt,
	}
}

// TransactionType is the kind of a ledger entry.
type TransactionType string

// Ledger entry types.
const (
	TxDeposit            TransactionType = "deposit"
	TxWithdraw           TransactionType = "withdraw"
	TxOrderPayment       TransactionType = "order_payment"
	TxOrderSale          TransactionType = "order_sale"
	TxOrderRefund        TransactionType = "order_refund"
	TxOrderHold          TransactionType = "order_hold"
	TxSystemAdjustment   TransactionType = "system_adjustment"
	TxCurrencyConversion TransactionType = "currency_conversion"
)

// TransactionTypes returns every ledger entry type.
func TransactionTypes() []TransactionType {
	return []TransactionType{TxDeposit, TxWithdraw, TxOrderPayment, TxOrderSale, TxOrderRefund,
		TxOrderHold, TxSystemAdjustment, TxCurrencyConversion}
}

// Valid reports whether t is a known type.
func (t TransactionType) Valid() bool {
	return t.Sign() != -2
}

// Sign returns the sign an entry's Amount must have: +1 for credits (deposit,
// order_sale) and for order_hold (the amount reserved), -1 for debits
// (withdraw, order_payment), 0 when either sign is allowed but not zero
// (system_adjustment, currency_conversion legs, order_refund: a buy's
// reversal credits, a sale's debits), -2 for an unknown type.
func (t TransactionType) Sign() int {
	switch t {
	case TxDeposit, TxOrderSale, TxOrderHold:
		return 1
	case TxWithdraw, TxOrderPayment:
		return -1
	case TxSystemAdjustment, TxCurrencyConversion, TxOrderRefund:
		return 0
	}
	return -2
}

// TransactionStatus is the state of a ledger entry.
type TransactionStatus string

// Ledger entry statuses.
const (
	TxPending   TransactionStatus = "pending"
	TxCompleted TransactionStatus = "completed"
	TxFailed    TransactionStatus = "failed"
	TxCancelled TransactionStatus = "cancelled"
)

// Valid reports whether s is a known status.
func (s TransactionStatus) Valid() bool {
	switch s {
	case TxPending, TxCompleted, TxFailed, TxCancelled:
		return true
	}
	return false
}

// BalanceTransaction is a ledger entry. Amount is SIGNED, in the entry's
// currency: positive credits, negative debits (see TransactionType.Sign).
//
// Ledger invariants (docs/guarantees.md), for each (username, currency):
//
//	current_balance == Σ Effect()      (completed entries, holds excluded)
//	held_balance    == Σ HoldEffect()  (order_hold entries still pending)
//
// A hold is an order_hold entry with the positive amount reserved; it is
// resolved exactly once by setting its status to completed (consumed by a
// fill; the payment is its own order_payment entry) or cancelled (released).
type BalanceTransaction struct {
	TransactionID   string            `json:"transaction_id"`
	Username        string            `json:"username"`
	TransactionType TransactionType   `json:"transaction_type"`
	Amount          decimal.Decimal   `json:"amount"`
	Currency        Currency          `json:"currency"`
	Status          TransactionStatus `json:"status"`
	Description     string            `json:"description"`
	ReferenceID     string            `json:"reference_id"`
	CreatedAt       Time              `json:"created_at"`
	// Asset is the asset side of a fill's entry (order_payment or
	// order_sale written by an order's execution) or of a reversal's
	// (order_refund), nil for other entries. The entry is then also the
	// asset movement (Movement).
	Asset *AssetLeg `json:"asset,omitempty"`
	// CreatedBy is the admin who made the entry (system_adjustment and
	// order_refund entries); empty for the user's own operations.
	CreatedBy string `json:"created_by,omitempty"`
}

// AssetLeg is what a fill moved of an asset: Quantity (positive) at Price.
// A sale's leg also records SaleCost, the cost basis it took out of the
// holding (Position.Sell); nil for a buy, and for a sale recorded before
// sales carried it (Position.Apply computes it then). A reversal's leg is
// the reversed fill's quantity and price; its SaleCost is the cost basis
// the reversal takes out (a buy's) or puts back (a sale's).
type AssetLeg struct {
	AssetID  string           `json:"asset_id"`
	Quantity decimal.Decimal  `json:"quantity"`
	Price    decimal.Decimal  `json:"price"`
	SaleCost *decimal.Decimal `json:"sale_cost,omitempty"`
	// FXRate, for a fill of an order in another currency than USD (and its
	// reversal), is the USD value of one unit of the entry's currency at
	// which it settled: Price is in that currency, and the holding's
	// totals (in USD) count the entry's amount and fee at FXRate.
	FXRate *decimal.Decimal `json:"fx_rate,omitempty"`
}

// Movement returns the asset movement a fill's entry records: BUY for an
// order_payment, SELL for an order_sale, with TotalAmount the entry's amount
// without its sign (fee included); for a reversal's order_refund entry,
// BUY_REVERSAL (a credit: the buy's payment comes back) or SELL_REVERSAL (a
// debit: the sale's proceeds go back). ok is false for entries without an
// asset leg or of another type.
func (t *BalanceTransaction) Movement() (m *AssetTransaction, ok bool) {
	var typ AssetTxType
	switch {
	case t.Asset == nil:
		return nil, false
	case t.TransactionType == TxOrderPayment:
		typ = AssetBuy
	case t.TransactionType == TxOrderSale:
		typ = AssetSell
	case t.TransactionType == TxOrderRefund && t.Amount.IsPositive():
		typ = AssetBuyReversal
	case t.TransactionType == TxOrderRefund:
		typ = AssetSellReversal
	default:
		return nil, false
	}
	m = &AssetTransaction{TransactionID: t.TransactionID, Username: t.Username, AssetID: t.Asset.AssetID,
		TransactionType: typ, Quantity: t.Asset.Quantity, Price: t.Asset.Price, TotalAmount: t.Amount.Abs(),
		OrderID: t.ReferenceID, Status: t.Status, Timestamp: t.CreatedAt, SaleCost: t.Asset.SaleCost, FXRate: t.Asset.FXRate}
	if t.Currency != USD {
		m.Currency = t.Currency
	}
	return m, true
}

// Effect returns the entry's contribution to current_balance: Amount for a
// completed entry that is not a hold, else 0.
func (t *BalanceTransaction) Effect() decimal.Decimal {
	if t.Status != TxCompleted || t.TransactionType == TxOrderHold {
		return decimal.Zero
	}
	return t.Amount
}

// HoldEffect returns the entry's contribution to held_balance: Amount for a
// pending order_hold, else 0.
func (t *BalanceTransaction) HoldEffect() decimal.Decimal {
	if t.Status != TxPending || t.TransactionType != TxOrderHold {
		return decimal.Zero
	}
	return t.Amount
}

// CheckAmount reports whether Amount has the sign its type requires, is
// non-zero and has at most the currency's decimal places; it returns "" when
// it does, else a description of the problem (for the verify command).
func (t *BalanceTransaction) CheckAmount() string {
	switch {
	case !t.TransactionType.Valid():
		return sprintf("unknown transaction type %q", t.TransactionType)
	case t.Amount.IsZero():
		return "amount is zero"
	case t.TransactionType.Sign() != 0 && t.Amount.Sign() != t.TransactionType.Sign():
		return sprintf("amount %s has the wrong sign for %s", t.Amount, t.TransactionType)
	case t.Amount.Scale() > t.Currency.Scale():
		return sprintf("amount %s has more than %d decimal places", t.Amount, t.Currency.Scale())
	}
	return ""
}

// TransactionResponse is the API shape of a ledger entry (GET
// /balance/transactions): amount signed, with the currency's decimal places.
type TransactionResponse struct {
	TransactionID   string            `json:"transaction_id"`
	TransactionType TransactionType   `json:"transaction_type"`
	Amount          string            `json:"amount"`
	Currency        Currency          `json:"currency"`
	Status          TransactionStatus `json:"status"`
	Description     string            `json:"description"`
	ReferenceID     *string           `json:"reference_id"`
	CreatedAt       Time              `json:"created_at"`
}

// Response returns t's API shape (reference_id null when empty).
func (t *BalanceTransaction) Response() TransactionResponse {
	return TransactionResponse{
		TransactionID: t.TransactionID, TransactionType: t.TransactionType,
		Amount: t.Currency.Format(t.Amount), Currency: t.Currency, Status: t.Status,
		Description: t.Description, ReferenceID: nonEmpty(t.ReferenceID), CreatedAt: t.CreatedAt,
	}
}

// DescriptionMaxLen is the longest description of a cash request.
const DescriptionMaxLen = 255

// DepositRequest is the body of POST /balance/deposit.
type DepositRequest struct {
	Amount      *decimal.Decimal `json:"amount"`
	Currency    Currency         `json:"currency,omitempty"`
	Description string           `json:"description,omitempty"`
}

// Validate normalises the currency (default USD, upper-cased) and checks:
// amount present, > 0, <= 1,000,000, at most the currency's decimal places;
// currency supported; description at most 255 characters without markup.
func (r *DepositRequest) Validate() error {
	var v Violations
	r.Currency = checkCashRequest(&v, r.Amount, r.Currency, r.Description)
	return v.Err()
}

// WithdrawRequest is the body of POST /balance/withdraw (rules as DepositRequest).
type WithdrawRequest struct {
	Amount      *decimal.Decimal `json:"amount"`
	Currency    Currency         `json:"currency,omitempty"`
	Description string           `json:"description,omitempty"`
}

// Validate applies DepositRequest's rules.
func (r *WithdrawRequest) Validate() error {
	var v Violations
	r.Currency = checkCashRequest(&v, r.Amount, r.Currency, r.Description)
	return v.Err()
}

func checkCashRequest(v *Violations, amount *decimal.Decimal, cur Currency, desc string) Currency {
	c := checkCurrency(v, "currency", cur)
	checkAmount(v, "amount", amount, c)
	if utf8.RuneCountInString(desc) > DescriptionMaxLen {
		v.Body("description", sprintf("must be at most %d characters", DescriptionMaxLen), TypeValue)
	} else if ContainsMarkup(desc) || hasControl(desc) {
		v.Body("description", "must not contain markup or control characters", TypeValue)
	}
	return c
}

// checkCurrency returns the normalised currency ("" -> USD).
func checkCurrency(v *Violations, field string, cur Currency) Currency {
	if cur == "" {
		return DefaultCurrency
	}
	c, ok := ParseCurrency(string(cur))
	if !ok {
		v.Body(field, "unsupported currency; supported: USD, EUR, GBP, JPY, CHF, CAD, AUD", TypeEnum)
		return cur
	}
	return c
}

// checkAmount checks a cash amount: present, > 0, <= MaxAmount, within c's scale.
func checkAmount(v *Violations, field string, amount *decimal.Decimal, c Currency) {
	switch {
	case amount == nil:
		v.Body(field, "field required", TypeMissing)
	case !amount.IsPositive():
		v.Body(field, "must be greater than 0", TypeValue)
	case amount.GreaterThan(MaxAmount):
		v.Body(field, "must be at most 1000000", TypeValue)
	case amount.Scale() > c.Scale():
		v.Body(field, sprintf("must have at most %d decimal places", c.Scale()), TypeValue)
	}
}

// ConvertRequest is the body of POST /balance/convert.
type ConvertRequest struct {
	FromCurrency Currency         `json:"from_currency"`
	ToCurrency   Currency         `json:"to_currency"`
	Amount       *decimal.Decimal `json:"amount"`
}

// Validate upper-cases the currencies and checks: both present, supported and
// different; amount as for deposits, in from_currency's scale.
func (r *ConvertRequest) Validate() error {
	var v Violations
	if r.FromCurrency == "" {
		v.Body("from_currency", "field required", TypeMissing)
	} else {
		r.FromCurrency = checkCurrency(&v, "from_currency", r.FromCurrency)
	}
	if r.ToCurrency == "" {
		v.Body("to_currency", "field required", TypeMissing)
	} else {
		r.ToCurrency = checkCurrency(&v, "to_currency", r.ToCurrency)
	}
	if r.FromCurrency != "" && r.FromCurrency == r.ToCurrency {
		v.Body("to_currency", "must differ from from_currency", TypeValue)
	}
	checkAmount(&v, "amount", r.Amount, r.FromCurrency)
	return v.Err()
}
