package entity

import (
	"strings"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/decimal"
)

func TestOrderUpdateTimeInForce(t *testing.T) {
	base := func(tif TimeInForce, exp *Time) *Order {
		return &Order{OrderID: "01JDQ8Z3V6W5N2T8K4M0R7P9XA", OrderType: StopLoss, AssetID: "BTC", Quantity: decimal.MustParse("1"),
			StopPrice: dec("40000"), Status: StatusQueued, TimeInForce: tif, ExpiresAt: exp, Currency: USD}
	}
	in2h := TimePtr(testNow.Add(2 * time.Hour))
	tests := []struct {
		name string
		o    *Order
		u    OrderUpdate
		want map[string]string
	}{
		{"gtc to gtd needs expires_at", base(GTC, nil), OrderUpdate{TimeInForce: GTD}, map[string]string{"body.expires_at": TypeMissing}},
		{"gtc to gtd", base(GTC, nil), OrderUpdate{TimeInForce: GTD, ExpiresAt: in2h}, nil},
		{"gtd to gtc", base(GTD, in2h), OrderUpdate{TimeInForce: GTC}, nil},
		{"gtd to day with expires_at", base(GTD, in2h), OrderUpdate{TimeInForce: Day, ExpiresAt: in2h}, map[string]string{"body.expires_at": TypeValue}},
		{"ioc never rests", base(GTC, nil), OrderUpdate{TimeInForce: IOC}, map[string]string{"body.time_in_force": TypeEnum}},
		{"unknown", base(GTC, nil), OrderUpdate{TimeInForce: "week"}, map[string]string{"body.time_in_force": TypeEnum}},
		{"expiry past", base(GTD, in2h), OrderUpdate{ExpiresAt: TimePtr(testNow.Add(-time.Minute))}, map[string]string{"body.expires_at": TypeValue}},
		{"version 0", base(GTC, nil), OrderUpdate{StopPrice: dec("1"), ExpectedVersion: new(int64)}, map[string]string{"body.expected_version": TypeValue}},
		{"version only", base(GTC, nil), OrderUpdate{ExpectedVersion: func() *int64 { v := int64(3); return &v }()}, map[string]string{"body.quantity": TypeMissing}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantFields(t, tt.u.Validate(tt.o, testNow), tt.want) })
	}

	o := base(GTD, in2h)
	(&OrderUpdate{TimeInForce: GTC}).Apply(o, testNow)
	if o.TimeInForce != GTC || o.ExpiresAt != nil {
		t.Errorf("to gtc: %s %v", o.TimeInForce, o.ExpiresAt)
	}
	(&OrderUpdate{TimeInForce: Day}).Apply(o, testNow)
	y, m, d := testNow.UTC().Date()
	if o.TimeInForce != Day || !o.ExpiresAt.Equal(time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("to day: %s %v", o.TimeInForce, o.ExpiresAt)
	}
	(&OrderUpdate{TimeInForce: GTD, ExpiresAt: in2h}).Apply(o, testNow)
	if o.TimeInForce != GTD || !o.ExpiresAt.Equal(in2h.Time) {
		t.Errorf("to gtd: %s %v", o.TimeInForce, o.ExpiresAt)
	}
}

func TestStatusNotes(t *testing.T) {
	at := At(testNow)
	o := &Order{Status: StatusQueued, StatusHistory: []StatusChange{{Status: StatusPending}, {Status: StatusConfirmed}, {Status: StatusQueued}}}
	o.Note(at, ReasonAmended+": quantity 1 -> 2")
	h := o.StatusHistory
	if len(h) != 4 || !h[3].IsNote(h[2].Status) || !o.UpdatedAt.Equal(at.Time) {
		t.Fatalf("amendment note: %+v", h)
	}
	for _, c := range []struct {
		c    StatusChange
		prev OrderStatus
	}{
		{StatusChange{Status: StatusQueued, Reason: "amended"}, StatusQueued},            // no colon
		{StatusChange{Status: StatusQueued, Reason: "amended: x"}, StatusConfirmed},      // not a repeat
		{StatusChange{Status: StatusCancelled, Reason: "amended: x"}, StatusCancelled},   // not queued
		{StatusChange{Status: StatusCompleted, Reason: "amended: x"}, StatusCompleted},   // wrong reason
		{StatusChange{Status: StatusCompleted, Reason: "reversedby x"}, StatusCompleted}, // no space
	} {
		if c.c.IsNote(c.prev) {
			t.Errorf("%+v after %s is a note", c.c, c.prev)
		}
	}
	if o.Reversed() {
		t.Fatal("an amended order is reversed")
	}
	o.Status = StatusCompleted
	o.StatusHistory = append(o.StatusHistory, StatusChange{Status: StatusCompleted})
	o.Note(at, ReasonReversed+" by admin: mistaken fill")
	if !o.Reversed() {
		t.Fatal("reversal not recorded")
	}
}

func TestReversalMovements(t *testing.T) {
	// Buy 1 at 100 paying 101 (fee 1), buy 1 at 200 paying 202 (fee 2),
	// reverse the first at the average cost 151.5: realized 101 - 151.5.
	var p Position
	p.Apply(&AssetTransaction{TransactionType: AssetBuy, Quantity: dec2("1"), Price: dec2("100"), TotalAmount: dec2("101"), Status: TxCompleted})
	p.Apply(&AssetTransaction{TransactionType: AssetBuy, Quantity: dec2("1"), Price: dec2("200"), TotalAmount: dec2("202"), Status: TxCompleted})
	rb := &AssetTransaction{TransactionType: AssetBuyReversal, Quantity: dec2("1"), Price: dec2("100"), TotalAmount: dec2("101"), Status: TxCompleted}
	if !rb.Effect().Equal(dec2("-1")) || !MovementFee(rb).Equal(dec2("1")) {
		t.Fatalf("buy reversal effect %s fee %s", rb.Effect(), MovementFee(rb))
	}
	p.Apply(rb)
	want := Position{Quantity: dec2("1"), CostBasis: dec2("151.5"), Realized: dec2("-50.5"), Fees: dec2("2"), Bought: dec2("1"), Sold: dec2("0")}
	if !samePosition(p, want) {
		t.Fatalf("after buy reversal %+v, want %+v", p, want)
	}
	// Sell it at 300 (proceeds 297, fee 3, cost 151.5), then reverse the sale.
	cost := dec2("151.5")
	p.Apply(&AssetTransaction{TransactionType: AssetSell, Quantity: dec2("1"), Price: dec2("300"), TotalAmount: dec2("297"), SaleCost: &cost, Status: TxCompleted})
	rs := &AssetTransaction{TransactionType: AssetSellReversal, Quantity: dec2("1"), Price: dec2("300"), TotalAmount: dec2("297"), SaleCost: &cost, Status: TxCompleted}
	if !rs.Effect().Equal(dec2("1")) || !MovementFee(rs).Equal(dec2("3")) {
		t.Fatalf("sell reversal effect %s fee %s", rs.Effect(), MovementFee(rs))
	}
	p.Apply(rs)
	if !samePosition(p, want) {
		t.Fatalf("after sell reversal %+v, want %+v", p, want)
	}
	e := &BalanceTransaction{TransactionType: TxOrderRefund, Amount: dec2("-297"), Status: TxCompleted,
		Asset: &AssetLeg{AssetID: "BTC", Quantity: dec2("1"), Price: dec2("300")}}
	if m, ok := e.Movement(); !ok || m.TransactionType != AssetSellReversal || !m.TotalAmount.Equal(dec2("297")) {
		t.Fatalf("movement of a sale's refund: %+v %v", m, ok)
	}
	e.Amount = dec2("101")
	if m, ok := e.Movement(); !ok || m.TransactionType != AssetBuyReversal {
		t.Fatalf("movement of a buy's refund: %+v %v", m, ok)
	}
	if p := e.CheckAmount(); p != "" {
		t.Fatalf("credit refund: %s", p)
	}
	e.Amount = dec2("-297")
	if p := e.CheckAmount(); p != "" {
		t.Fatalf("debit refund: %s", p)
	}
}

func dec2(s string) decimal.Decimal { return decimal.MustParse(s) }

func samePosition(a, b Position) bool {
	return a.Quantity.Equal(b.Quantity) && a.CostBasis.Equal(b.CostBasis) && a.Realized.Equal(b.Realized) &&
		a.Fees.Equal(b.Fees) && a.Bought.Equal(b.Bought) && a.Sold.Equal(b.Sold)
}

func TestAdjustmentAndReversalRequests(t *testing.T) {
	long := strings.Repeat("x", ReasonMaxLen+1)
	for _, tt := range []struct {
		name string
		r    AdjustmentRequest
		want map[string]string
	}{
		{"credit", AdjustmentRequest{Amount: dec("25.50"), Reason: "goodwill"}, nil},
		{"debit", AdjustmentRequest{Amount: dec("-25.50"), Currency: "eur", Reason: "chargeback"}, nil},
		{"zero", AdjustmentRequest{Amount: dec("0"), Reason: "x"}, map[string]string{"body.amount": TypeValue}},
		{"missing", AdjustmentRequest{Reason: "x"}, map[string]string{"body.amount": TypeMissing}},
		{"too big", AdjustmentRequest{Amount: dec("-1000000.01"), Reason: "x"}, map[string]string{"body.amount": TypeValue}},
		{"cents", AdjustmentRequest{Amount: dec("1.001"), Reason: "x"}, map[string]string{"body.amount": TypeValue}},
		{"yen", AdjustmentRequest{Amount: dec("1.5"), Currency: JPY, Reason: "x"}, map[string]string{"body.amount": TypeValue}},
		{"no reason", AdjustmentRequest{Amount: dec("1")}, map[string]string{"body.reason": TypeMissing}},
		{"long reason", AdjustmentRequest{Amount: dec("1"), Reason: long}, map[string]string{"body.reason": TypeValue}},
		{"markup", AdjustmentRequest{Amount: dec("1"), Reason: "<script>x</script>"}, map[string]string{"body.reason": TypeValue}},
		{"currency", AdjustmentRequest{Amount: dec("1"), Currency: "XXX", Reason: "x"}, map[string]string{"body.currency": TypeEnum}},
	} {
		t.Run(tt.name, func(t *testing.T) { wantFields(t, tt.r.Validate(), tt.want) })
	}
	r := AdjustmentRequest{Amount: dec("-2"), Currency: "eur", Reason: "x"}
	if err := r.Validate(); err != nil || r.Currency != EUR {
		t.Fatalf("currency %q: %v", r.Currency, err)
	}
	rr := ReversalRequest{Username: "Alice_01", Reason: "broken fill"}
	if err := rr.Validate(); err != nil || rr.Username != "alice_01" {
		t.Fatalf("reversal %q: %v", rr.Username, err)
	}
	wantFields(t, (&ReversalRequest{Username: "a-b"}).Validate(), map[string]string{"body.username": TypeValue, "body.reason": TypeMissing})
}
