package verify_test

import (
	"strings"
	"testing"

	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/store"
)

// TestForeignCurrencyFills: a fill in EUR is consistent as placed (its
// holding counts it in USD at its rate); a changed rate on the order or on
// its ledger entry, or an order without one, is reported.
func TestForeignCurrencyFills(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt func(t *testing.T, f *fixture, o *entity.Order)
		want    []string
	}{
		{"as placed", func(*testing.T, *fixture, *entity.Order) {}, nil},
		{"order's rate changed", func(t *testing.T, f *fixture, o *entity.Order) {
			f.rewrite(t, o, func(o *entity.Order) { r := dec("1.09"); o.FXRate = &r })
		}, []string{"order %s: movement %s exchange rate 1.08 != the order's 1.09"}},
		{"order without a rate", func(t *testing.T, f *fixture, o *entity.Order) {
			f.rewrite(t, o, func(o *entity.Order) { o.FXRate = nil })
		}, []string{"order %s: completed EUR order records no exchange rate"}},
		{"entry's rate changed", func(t *testing.T, f *fixture, o *entity.Order) {
			m := f.movement(t, "alice", o.OrderID)
			f.update(t, moveKey(m), store.Set("fx_rate", store.MustN("1.1")))
		}, []string{
			// 46.30 EUR at 1.10 is 50.93 USD; the holding counted 46.30 x 1.08 = 50.004 (on the fixture's 300).
			"holding BTC: cost_basis 350.004 != 350.93, what its completed movements imply",
			"order %s: movement %s exchange rate 1.1 != the order's 1.08",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.deposit(t, "alice", "100", entity.EUR)
			q := dec("0.001")
			p, _, err := f.svc.PlaceOrder(f.ctx, "alice", entity.OrderCreate{OrderType: entity.MarketBuy, AssetID: "BTC", Quantity: &q, Currency: entity.EUR}, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			o := p.Order
			// 50,000 USD / 1.08 = 46,296.2962963 EUR a unit: 46.30 EUR for 0.001.
			if o.Currency != entity.EUR || o.FXRate == nil || !o.FXRate.Equal(dec("1.08")) || !o.TotalAmount.Equal(dec("46.30")) ||
				!o.ExecutedPrice.Equal(dec("46296.2962963")) {
				t.Fatalf("order %+v", o)
			}
			m := f.movement(t, "alice", o.OrderID)
			tc.corrupt(t, f, o)
			rep := run(t, f)
			var got []string
			for _, v := range rep.Violations {
				if v.Username == "alice" {
					got = append(got, v.Subject+": "+v.Problem)
				}
			}
			var want []string
			for _, w := range tc.want {
				w = strings.Replace(w, "%s", o.OrderID, 1)
				w = strings.Replace(w, "%s", m.TransactionID, 1)
				want = append(want, w)
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}
