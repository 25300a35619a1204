package entity

import "github.com/orderprocessor/orderprocessor/decimal"

// Position is a holding's running totals by the average-cost method. It is
// the one definition of cost and profit that every route follows (the
// portfolio, P&L, the holding's average cost, verify):
//
//   - a buy adds its quantity, and what it paid, fee included (the order's
//     TotalAmount), to the cost basis: buy fees are part of the cost;
//   - a sale takes out of the cost basis the cost of the quantity sold at
//     the average cost (SaleCost), and realizes its proceeds net of its fee
//     (the order's TotalAmount) minus that cost: sell fees reduce proceeds;
//   - Fees is every fee paid, on buys and sales; Bought and Sold are the
//     quantities bought and sold.
//
// Unrealized P&L at a price is Quantity × price - CostBasis.
type Position struct {
	Quantity  decimal.Decimal
	CostBasis decimal.Decimal
	Realized  decimal.Decimal
	Fees      decimal.Decimal
	Bought    decimal.Decimal
	Sold      decimal.Decimal
}

// SaleCost returns the cost basis that selling sold of quantity takes out of
// costBasis: costBasis × sold / quantity (10 places, half-even), or all of
// it when sold is the whole quantity (or more).
func SaleCost(costBasis, quantity, sold decimal.Decimal) decimal.Decimal {
	if sold.LessThan(quantity) {
		if c, err := costBasis.Mul(sold).Quo(quantity, 10, decimal.HalfEven); err == nil {
			return c
		}
	}
	return costBasis
}

// Buy adds qty bought for paid (fee included), fee being the fee paid.
func (p *Position) Buy(qty, paid, fee decimal.Decimal) {
	p.Quantity, p.CostBasis = p.Quantity.Add(qty), p.CostBasis.Add(paid)
	p.Fees, p.Bought = p.Fees.Add(fee), p.Bought.Add(qty)
}

// Sell removes qty sold for proceeds (net of fee) at cost, the cost basis
// the sale takes out (SaleCost of the position the sale was priced on).
func (p *Position) Sell(qty, proceeds, fee, cost decimal.Decimal) {
	p.Quantity, p.CostBasis = p.Quantity.Sub(qty), p.CostBasis.Sub(cost)
	p.Realized = p.Realized.Add(proceeds.Sub(cost))
	p.Fees, p.Sold = p.Fees.Add(fee), p.Sold.Add(qty)
}

// ReverseBuy takes out qty of a reversed buy that refunded refund (what the
// buy paid, fee included; fee is its fee) at cost, the cost basis the
// reversal takes out (SaleCost of the position, as a sale would): the
// refund less that cost is realized, the fee is no longer paid and the
// quantity no longer bought.
func (p *Position) ReverseBuy(qty, refund, fee, cost decimal.Decimal) {
	p.Quantity, p.CostBasis = p.Quantity.Sub(qty), p.CostBasis.Sub(cost)
	p.Realized = p.Realized.Add(refund.Sub(cost))
	p.Fees, p.Bought = p.Fees.Sub(fee), p.Bought.Sub(qty)
}

// ReverseSell undoes a sale of qty that received proceeds (net of fee) and
// took cost out of the cost basis: the quantity and its cost come back, and
// the sale's realized P&L, fee and sold quantity are taken back.
func (p *Position) ReverseSell(qty, proceeds, fee, cost decimal.Decimal) {
	p.Quantity, p.CostBasis = p.Quantity.Add(qty), p.CostBasis.Add(cost)
	p.Realized = p.Realized.Sub(proceeds.Sub(cost))
	p.Fees, p.Sold = p.Fees.Sub(fee), p.Sold.Sub(qty)
}

// Apply adds a completed movement (others change nothing), oldest first. A
// sale or buy reversal whose entry records no SaleCost is priced on p.
func (p *Position) Apply(m *AssetTransaction) {
	if m.Status != TxCompleted {
		return
	}
	fee, total := MovementFee(m), m.TotalAmount
	if m.FXRate != nil {
		// Settled in another currency: the position counts it in USD.
		fee, total = fee.Mul(*m.FXRate), total.Mul(*m.FXRate)
	}
	cost := func() decimal.Decimal {
		if m.SaleCost != nil {
			return *m.SaleCost
		}
		return SaleCost(p.CostBasis, p.Quantity, m.Quantity)
	}
	switch m.TransactionType {
	case AssetSell:
		p.Sell(m.Quantity, total, fee, cost())
	case AssetBuyReversal:
		p.ReverseBuy(m.Quantity, total, fee, cost())
	case AssetSellReversal:
		c := decimal.Zero
		if m.SaleCost != nil {
			c = *m.SaleCost
		}
		p.ReverseSell(m.Quantity, total, fee, c)
	default:
		p.Buy(m.Quantity, total, fee)
	}
}

// AverageCost returns CostBasis / Quantity (PriceScale places, half-even),
// 0 without quantity.
func (p *Position) AverageCost() decimal.Decimal {
	if !p.Quantity.IsPositive() {
		return decimal.Zero
	}
	avg, err := p.CostBasis.Quo(p.Quantity, PriceScale, decimal.HalfEven)
	if err != nil {
		return decimal.Zero
	}
	return avg
}

// FillGross returns the value of qty at price in USD as a fill settles it
// before its fee: rounded up to the cent for a buy (a buyer is never
// undercharged), down for a sale (a seller is never overpaid).
func FillGross(qty, price decimal.Decimal, buy bool) decimal.Decimal {
	return FillGrossIn(USD, qty, price, buy)
}

// FillGrossIn is FillGross for a price in currency c, rounded to c's
// places.
func FillGrossIn(c Currency, qty, price decimal.Decimal, buy bool) decimal.Decimal {
	if buy {
		return c.Round(qty.Mul(price), decimal.Up)
	}
	return c.Round(qty.Mul(price), decimal.Down)
}

// FillNotional returns the notional of a fill's movement in USD, before
// fees: FillGrossIn of its quantity and price in its currency, at its rate
// when that is another currency.
func FillNotional(m *AssetTransaction) decimal.Decimal {
	gross := FillGrossIn(m.Currency, m.Quantity, m.Price, m.TransactionType == AssetBuy)
	if m.FXRate != nil {
		gross = gross.Mul(*m.FXRate)
	}
	return gross
}

// MovementFee returns the fee of a fill's movement: what a buy paid beyond
// its gross value, or what a sale's gross value exceeds its proceeds by
// (FillGross); a reversal's is the fee of the fill it reverses.
// It is in the movement's currency.
func MovementFee(m *AssetTransaction) decimal.Decimal {
	c := m.Currency
	if c == "" {
		c = USD
	}
	if m.TransactionType.SellSide() {
		return FillGrossIn(c, m.Quantity, m.Price, false).Sub(m.TotalAmount)
	}
	return m.TotalAmount.Sub(FillGrossIn(c, m.Quantity, m.Price, true))
}
