package entity

import (
	"github.com/orderprocessor/orderprocessor/decimal"
)

// Holding is a user's holding of one asset. HeldQuantity is reserved by
// open sell-side orders; Available() = Quantity - HeldQuantity. AverageCost is
// the average USD cost per unit of the current quantity, buy fees included
// (see Position).
type Holding struct {
	Username     string          `json:"username"`
	AssetID      string          `json:"asset_id"`
	Quantity     decimal.Decimal `json:"quantity"`
	HeldQuantity decimal.Decimal `json:"held_quantity"`
	AverageCost  decimal.Decimal `json:"average_cost"`
	CreatedAt    Time            `json:"created_at"`
	UpdatedAt    Time            `json:"updated_at"`
	Version      int64           `json:"version"`
}

// Available returns Quantity - HeldQuantity.
func (b *Holding) Available() decimal.Decimal { return b.Quantity.Sub(b.HeldQuantity) }

// AddBought adds qty bought at price to the holding and updates the average
// cost: (quantity×average + qty×price) / (quantity + qty), rounded half-even to
// PriceScale places. It does not touch UpdatedAt or Version.
func (b *Holding) AddBought(qty, price decimal.Decimal) {
	total := b.Quantity.Add(qty)
	if total.IsPositive() {
		cost := b.Quantity.Mul(b.AverageCost).Add(qty.Mul(price))
		avg, err := cost.Quo(total, PriceScale, decimal.HalfEven)
		if err == nil {
			b.AverageCost = avg
		}
	}
	b.Quantity = total
}

// HoldingResponse is the body of GET /balance/asset/{asset_id}.
type HoldingResponse struct {
	AssetID      string `json:"asset_id"`
	AssetName    string `json:"asset_name"`
	Quantity     string `json:"quantity"`
	HeldQuantity string `json:"held_quantity"`
	Available    string `json:"available"`
	CurrentPrice string `json:"current_price"`
	TotalValue   string `json:"total_value"`
	AverageCost  string `json:"average_cost"`
	CreatedAt    Time   `json:"created_at"`
	UpdatedAt    Time   `json:"updated_at"`
}

// Response returns b's API shape valued at a's price: total_value =
// quantity × price in USD (2 places, half-even).
func (b *Holding) Response(a *Asset) HoldingResponse {
	return HoldingResponse{
		AssetID: b.AssetID, AssetName: a.Name,
		Quantity: b.Quantity.String(), HeldQuantity: b.HeldQuantity.String(), Available: b.Available().String(),
		CurrentPrice: FormatPrice(a.PriceUSD), TotalValue: USD.Format(b.Quantity.Mul(a.PriceUSD)),
		AverageCost: FormatPrice(b.AverageCost), CreatedAt: b.CreatedAt, UpdatedAt: b.UpdatedAt,
	}
}

// FormatPrice returns a USD price with at least 2 decimal places and all its
// digits ("65000.50", "0.00001234").
func FormatPrice(p decimal.Decimal) string {
	if p.Scale() < 2 {
		return p.StringFixed(2)
	}
	return p.String()
}

// AssetTxType is the direction of an asset movement.
type AssetTxType string

// Asset movement directions. A fill is a BUY or a SELL; the reversal of a
// fill (an order_refund entry with an asset leg) is a BUY_REVERSAL, which
// takes the bought quantity out again, or a SELL_REVERSAL, which puts the
// sold quantity back. Reversals are read by verify and the holding's
// totals; the per-asset history lists fills only.
const (
	AssetBuy          AssetTxType = "BUY"
	AssetSell         AssetTxType = "SELL"
	AssetBuyReversal  AssetTxType = "BUY_REVERSAL"
	AssetSellReversal AssetTxType = "SELL_REVERSAL"
)

// Outgoing reports whether a movement of type t takes quantity out of the
// holding (SELL, BUY_REVERSAL).
func (t AssetTxType) Outgoing() bool { return t == AssetSell || t == AssetBuyReversal }

// SellSide reports whether t is a sale or the reversal of one: its
// TotalAmount is proceeds net of the fee.
func (t AssetTxType) SellSide() bool { return t == AssetSell || t == AssetSellReversal }

// IsReversal reports whether t is the reversal of a fill.
func (t AssetTxType) IsReversal() bool { return t == AssetBuyReversal || t == AssetSellReversal }

// AssetTransaction is one asset movement (GET /assets/{asset_id}/transactions):
// Quantity is positive, TransactionType gives the direction; TotalAmount is
// the cash the fill moved in USD, fee included (the order's TotalAmount: what
// a buy paid, what a sale received). SaleCost is the cost basis a sale took
// out of the holding, when its entry records it (AssetLeg.SaleCost).
type AssetTransaction struct {
	TransactionID   string            `json:"transaction_id"`
	Username        string            `json:"username"`
	AssetID         string            `json:"asset_id"`
	TransactionType AssetTxType       `json:"transaction_type"`
	Quantity        decimal.Decimal   `json:"quantity"`
	Price           decimal.Decimal   `json:"price"`
	TotalAmount     decimal.Decimal   `json:"total_amount"`
	OrderID         string            `json:"order_id"`
	Status          TransactionStatus `json:"status"`
	Timestamp       Time              `json:"timestamp"`
	SaleCost        *decimal.Decimal  `json:"-"`
	// Currency is the currency of Price and TotalAmount (USD when empty);
	// FXRate, for another currency, the USD value of one unit of it at
	// which the fill settled (AssetLeg.FXRate).
	Currency Currency         `json:"-"`
	FXRate   *decimal.Decimal `json:"-"`
}

// Effect returns the movement's signed change of the holding's quantity:
// +Quantity for a completed BUY or SELL_REVERSAL, -Quantity for a completed
// SELL or BUY_REVERSAL, else 0.
func (t *AssetTransaction) Effect() decimal.Decimal {
	if t.Status != TxCompleted {
		return decimal.Zero
	}
	if t.TransactionType.Outgoing() {
		return t.Quantity.Neg()
	}
	return t.Quantity
}

// AssetTransactionResponse is the API shape of an asset movement.
type AssetTransactionResponse struct {
	TransactionID   string            `json:"transaction_id"`
	AssetID         string            `json:"asset_id"`
	TransactionType AssetTxType       `json:"transaction_type"`
	Quantity        string            `json:"quantity"`
	Price           string            `json:"price"`
	TotalAmount     string            `json:"total_amount"`
	OrderID         string            `json:"order_id"`
	Status          TransactionStatus `json:"status"`
	Timestamp       Time              `json:"timestamp"`
}

// Response returns t's API shape.
func (t *AssetTransaction) Response() AssetTransactionResponse {
	return AssetTransactionResponse{
		TransactionID: t.TransactionID, AssetID: t.AssetID, TransactionType: t.TransactionType,
		Quantity: t.Quantity.String(), Price: FormatPrice(t.Price), TotalAmount: USD.Format(t.TotalAmount),
		OrderID: t.OrderID, Status: t.Status, Timestamp: t.Timestamp,
	}
}
