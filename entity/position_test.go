package entity

import (
	"fmt"
	"testing"

	"github.com/orderprocessor/orderprocessor/decimal"
)

// TestPosition folds fills as the definition says: buy fees in the cost
// basis, sell fees out of the proceeds, a sale's cost at the average (or its
// recorded cost), fees derived from a movement's amount and gross value.
func TestPosition(t *testing.T) {
	d := decimal.MustParse
	state := func(p *Position) string {
		return fmt.Sprintf("q=%s cost=%s avg=%s realized=%s fees=%s bought=%s sold=%s", p.Quantity, p.CostBasis,
			p.AverageCost(), p.Realized, p.Fees, p.Bought, p.Sold)
	}
	move := func(typ AssetTxType, qty, price, total string) *AssetTransaction {
		return &AssetTransaction{TransactionType: typ, Quantity: d(qty), Price: d(price), TotalAmount: d(total), Status: TxCompleted}
	}
	var p Position
	if got := state(&p); got != "q=0 cost=0 avg=0 realized=0 fees=0 bought=0 sold=0" {
		t.Fatalf("zero: %s", got)
	}
	steps := []struct {
		m    *AssetTransaction
		fee  string
		want string
	}{
		// 0.1 at 50,000 with a 1% fee: 5,000 + 50.
		{move(AssetBuy, "0.1", "50000", "5050.00"), "50.00", "q=0.1 cost=5050 avg=50500 realized=0 fees=50 bought=0.1 sold=0"},
		// 0.05 at 60,000: 3,000 - 30 for a cost of 2,525.
		{move(AssetSell, "0.05", "60000", "2970.00"), "30.00", "q=0.05 cost=2525 avg=50500 realized=445 fees=80 bought=0.1 sold=0.05"},
		// A sale that is not completed changes nothing.
		{&AssetTransaction{TransactionType: AssetSell, Quantity: d("1"), Price: d("1"), TotalAmount: d("1"), Status: TxCancelled}, "0",
			"q=0.05 cost=2525 avg=50500 realized=445 fees=80 bought=0.1 sold=0.05"},
		// Gross rounds up for a buy (3 × 0.333 = 0.999 -> 1.00), no fee.
		{move(AssetBuy, "3", "0.333", "1.00"), "0.00", "q=3.05 cost=2526 avg=828.19672131 realized=445 fees=80 bought=3.1 sold=0.05"},
		// A sale of everything takes the whole cost; gross rounds down
		// (3.05 × 0.333 = 1.01565 -> 1.01), fee 0.01.
		{move(AssetSell, "3.05", "0.333", "1.00"), "0.01", "q=0 cost=0 avg=0 realized=-2080 fees=80.01 bought=3.1 sold=3.1"},
	}
	for i, s := range steps {
		if fee := MovementFee(s.m); s.m.Status == TxCompleted && !fee.Equal(d(s.fee)) {
			t.Fatalf("step %d: fee %s, want %s", i, fee, s.fee)
		}
		p.Apply(s.m)
		if got := state(&p); got != s.want {
			t.Fatalf("step %d: %s\nwant %s", i, got, s.want)
		}
	}
	// A sale's recorded cost wins over the average.
	q := Position{Quantity: d("2"), CostBasis: d("10")}
	cost := d("7")
	m := move(AssetSell, "1", "6", "6.00")
	m.SaleCost = &cost
	q.Apply(m)
	if got := state(&q); got != "q=1 cost=3 avg=3 realized=-1 fees=0 bought=0 sold=1" {
		t.Fatalf("recorded cost: %s", got)
	}
	if c := SaleCost(d("1"), d("3"), d("1")); !c.Equal(d("0.3333333333")) {
		t.Fatalf("SaleCost a third = %s", c)
	}
	if c := SaleCost(d("1"), d("3"), d("4")); !c.Equal(d("1")) {
		t.Fatalf("SaleCost beyond the quantity = %s", c)
	}
}

func TestOrderNotional(t *testing.T) {
	d := decimal.MustParse
	buy := &Order{OrderType: MarketBuy, TotalAmount: d("5050.00"), Fee: d("50.00")}
	sell := &Order{OrderType: MarketSell, TotalAmount: d("2970.00"), Fee: d("30.00")}
	if !buy.Notional().Equal(d("5000")) || !sell.Notional().Equal(d("3000")) {
		t.Fatalf("notional %s %s", buy.Notional(), sell.Notional())
	}
}
