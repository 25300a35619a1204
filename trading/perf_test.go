package trading_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/verify"
)

// perfEnv is newEnv (2026-11-25 12:00, XYZ at 100, no cash) with the daily
// buckets counted from then, and the function that parses an RFC 3339 time.
func perfEnv(t *testing.T) (*env, func(string) time.Time) {
	t.Helper()
	e := newEnv(t, "100", "0")
	if _, err := e.d.Volume.Start(e.ctx, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	return e, func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// TestPerformanceExchangeRates: cash in another currency, and its flows,
// count at the currency's stored rate at the end of each day (the current
// rate today), not at the reference rate, so that a rate's moves are
// returns and a deposit is not.
func TestPerformanceExchangeRates(t *testing.T) {
	e, at := perfEnv(t) // the reference rates seeded at 2026-11-25 12:00
	rate := func(when, r string) {
		if _, err := e.d.FX.Set(e.ctx, entity.EUR, dec(r), at(when), "test"); err != nil {
			t.Fatal(err)
		}
	}
	deposit := func(when, amount string) {
		e.clock.Set(at(when))
		if _, _, err := e.s.Deposit(e.ctx, "alice", entity.DepositRequest{Amount: decp(amount), Currency: entity.EUR}, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Day 1: 100 EUR at 1.10: 110, all of it the deposit.
	rate("2026-11-25T12:30:00Z", "1.10")
	deposit("2026-11-25T13:00:00Z", "100")
	// Day 2: the rate rises to 1.21: 121, a return of 10%.
	rate("2026-11-26T10:00:00Z", "1.21")
	// Day 3 (today): 10 EUR more at 1.00, then the rate is 1.10: 121 for
	// 110 EUR; the deposit is worth 11 at the day's rate, so the day
	// lost (121 - 132) / 132.
	rate("2026-11-27T09:00:00Z", "1.00")
	deposit("2026-11-27T09:30:00Z", "10")
	rate("2026-11-27T15:00:00Z", "1.10")
	e.clock.Set(at("2026-11-27T18:00:00Z"))

	p, err := e.s.Performance(e.ctx, "alice", at("2026-11-25T00:00:00Z"), at("2026-11-27T00:00:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"110 110 0", "121 0 0.1", "121 11 -0.083333333333"}
	if len(p.Days) != len(want) || !p.TWR.Equal(dec("0.00833333")) {
		t.Fatalf("%d days, twr %s; want 3 days, twr 0.00833333", len(p.Days), p.TWR)
	}
	for i, w := range want {
		d := p.Days[i]
		if got := d.Value.String() + " " + d.NetFlow.String() + " " + d.Return.String(); got != w {
			t.Fatalf("day %s: value, flow, return %s; want %s", d.Day.Format(time.DateOnly), got, w)
		}
	}
	if p, err = e.s.Performance(e.ctx, "alice", at("2026-11-26T00:00:00Z"), at("2026-11-26T00:00:00Z")); err != nil || !p.StartValue.Equal(dec("110")) {
		t.Fatalf("start value of day 2: %v, %v; want 110", p, err)
	}
}

// TestPerformance: the daily buckets give each day's end value (cash plus
// holdings at the day's last price), flows, realized P&L and fills, the
// daily returns net of flows and the time-weighted return of any range,
// with values computed by hand; verify reconciles the buckets with the
// ledger and the orders.
func TestPerformance(t *testing.T) {
	e, at := perfEnv(t) // no fee
	deposit := func(when, amount string) {
		e.clock.Set(at(when))
		if _, _, err := e.s.Deposit(e.ctx, "alice", entity.DepositRequest{Amount: decp(amount)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Day 1: deposit 1000, buy 5 at 100: value 500 + 500 = 1000.
	deposit("2026-11-25T12:00:00Z", "1000")
	e.place("alice", entity.OrderCreate{OrderType: entity.MarketBuy, AssetID: "XYZ", Quantity: decp("5")})
	// Day 2: the price rises to 120: value 500 + 600 = 1100, a return of 10%.
	e.clock.Set(at("2026-11-26T10:00:00Z"))
	e.tick("120")
	// Day 3: deposit 400, the price falls to 98, sell 1 (cost 100: realized -2):
	// value 900 + 98 + 4 × 98 = 1390; the deposit counts from the start of
	// the day: (1390 - 1500) / 1500 = -7.3333%. Over the three days:
	// 1.1 × (1 - 0.073333333333) - 1 = 1.93333%.
	deposit("2026-11-27T09:00:00Z", "400")
	e.clock.Set(at("2026-11-27T11:00:00Z"))
	e.tick("98")
	e.place("alice", entity.OrderCreate{OrderType: entity.MarketSell, AssetID: "XYZ", Quantity: decp("1")})
	e.clock.Set(at("2026-11-27T18:00:00Z"))

	for _, tc := range []struct {
		from, to, start, twr string
		days                 []string // value, flow, return, realized
	}{
		{"2026-11-25", "2026-11-27", "0", "0.01933333", []string{"1000 1000 0 0", "1100 0 0.1 0", "1390 400 -0.073333333333 -2"}},
		{"2026-11-26", "2026-11-30", "1000", "0.01933333", []string{"1100 0 0.1 0", "1390 400 -0.073333333333 -2"}},
		{"2026-11-27", "2026-11-27", "1100", "-0.07333333", []string{"1390 400 -0.073333333333 -2"}},
		{"2026-11-20", "2026-11-24", "0", "0", []string{"0 0 0 0", "0 0 0 0", "0 0 0 0", "0 0 0 0", "0 0 0 0"}},
	} {
		p, err := e.s.Performance(e.ctx, "alice", at(tc.from+"T00:00:00Z"), at(tc.to+"T00:00:00Z"))
		if err != nil {
			t.Fatal(err)
		}
		if !p.StartValue.Equal(dec(tc.start)) || !p.TWR.Equal(dec(tc.twr)) || len(p.Days) != len(tc.days) {
			t.Fatalf("%s..%s: start %s, twr %s, %d days; want %s, %s, %d", tc.from, tc.to, p.StartValue, p.TWR, len(p.Days), tc.start, tc.twr, len(tc.days))
		}
		for i, w := range tc.days {
			var v, f, r, rz string
			if _, err := fmt.Sscan(w, &v, &f, &r, &rz); err != nil {
				t.Fatal(err)
			}
			d := p.Days[i]
			if !d.Value.Equal(dec(v)) || !d.NetFlow.Equal(dec(f)) || !d.Return.Equal(dec(r)) || !d.Realized.Equal(dec(rz)) {
				t.Fatalf("%s..%s day %s: value %s flow %s return %s realized %s; want %s", tc.from, tc.to, d.Day.Format(time.DateOnly), d.Value, d.NetFlow, d.Return, d.Realized, w)
			}
		}
	}
	p, err := e.s.Performance(e.ctx, "alice", at("2026-11-25T00:00:00Z"), at("2026-11-27T00:00:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	if d := p.Days[2]; d.Fills != 1 || !d.Notional.Equal(dec("98")) || d.Placed != 1 || d.ByType["market_sell"] != 1 || d.ByStatus["completed"] != 1 {
		t.Fatalf("day 3's orders: %+v", d.DayFigures)
	}
	rep, err := verify.Run(e.ctx, e.d)
	if err != nil || !rep.OK() || rep.DailyBuckets != 2 {
		t.Fatalf("verify: %v, %d daily buckets, %v", err, rep.DailyBuckets, rep.Violations)
	}
	// A change the ledger does not explain.
	forged := &entity.BalanceTransaction{Username: "alice", TransactionType: entity.TxDeposit, Amount: dec("5"),
		Currency: entity.USD, Status: entity.TxCompleted}
	if err := e.d.Transact(e.ctx, []store.Write{e.d.Perf.DayWrite("alice", at("2026-11-26T12:00:00Z"), dao.Count{}, forged)}); err != nil {
		t.Fatal(err)
	}
	rep, err = verify.Run(e.ctx, e.d)
	want := "alice: day 2026-11-26: daily bucket holds cash { USD:5 } flows { USD:5 } quantity { } realized 0 fills 0 notional 0 placed 0 by type { } by status { }, " +
		"the ledger and the orders cash { } flows { } quantity { } realized 0 fills 0 notional 0 placed 0 by type { } by status { }"
	if err != nil || len(rep.Violations) != 1 || rep.Violations[0].String() != want {
		t.Fatalf("verify of a forged bucket: %v, %v; want [%s]", err, rep.Violations, want)
	}
}
