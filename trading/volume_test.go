package trading_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/verify"
)

// wantBuckets asserts the buckets' starts and figures, given as
// "start quantity notional trades".
func wantBuckets(t *testing.T, what string, got []dao.Bucket, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d buckets %v, want %d", what, len(got), got, len(want))
	}
	for i, w := range want {
		f := strings.Fields(w)
		start, err := time.Parse(time.RFC3339, f[0])
		if err != nil {
			t.Fatal(err)
		}
		b := got[i]
		if !b.Start.Equal(start) || !b.Quantity.Equal(dec(f[1])) || !b.Notional.Equal(dec(f[2])) || b.Trades != mustInt(t, f[3]) {
			t.Fatalf("%s: bucket %d = %s %s, want %s", what, i, b.Start.Format(time.RFC3339), b.Volume, w)
		}
	}
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("not a count: %q", s)
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// TestVolumeBuckets: every fill and every placement (by type and status
// once placed, a user's first of the day as active) counts in its minute's
// volume shard, a
// query is exact before and after the rollup (which rolls a closed minute
// once, after RollGrace), the platform's buckets sum the
// assets', and verify reconciles the buckets with the ledger and reports a
// shard that the ledger does not explain.
func TestVolumeBuckets(t *testing.T) {
	e := newEnv(t, "100", "1000")
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if _, err := e.d.Volume.Start(e.ctx, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	buy := func(when, qty string) {
		e.clock.Set(at(when))
		e.place("alice", entity.OrderCreate{OrderType: entity.MarketBuy, AssetID: "XYZ", Quantity: decp(qty)})
	}
	buy("2026-11-25T12:00:10Z", "0.5")  // 50.00
	buy("2026-11-25T12:00:50Z", "1.25") // 125.00
	e.clock.Set(at("2026-11-25T12:01:30Z"))
	e.tick("200")
	e.place("alice", entity.OrderCreate{OrderType: entity.MarketSell, AssetID: "XYZ", Quantity: decp("0.25")}) // 50.00
	// Placements that do not execute, one of them as a new process would
	// make it (alice's marker of the day exists: she counts once), and a
	// second user.
	e.clock.Set(at("2026-11-25T12:02:00Z"))
	e.s.ForgetActive()
	e.place("alice", entity.OrderCreate{OrderType: entity.LimitBuy, AssetID: "XYZ", Quantity: decp("0.1"), LimitPrice: decp("100")})
	e.place("alice", entity.OrderCreate{OrderType: entity.LimitBuy, AssetID: "XYZ", Quantity: decp("0.1"), LimitPrice: decp("100"), TimeInForce: entity.IOC})
	e.user("bob", "100")
	e.place("bob", entity.OrderCreate{OrderType: entity.LimitBuy, AssetID: "XYZ", Quantity: decp("0.1"), LimitPrice: decp("100")})
	buy("2026-11-25T12:04:30Z", "0.1") // 20.00

	query := func(asset string, i dao.Interval, from, to string) []dao.Bucket {
		t.Helper()
		bs, err := e.s.Volume(e.ctx, asset, i, at(from), at(to))
		if err != nil {
			t.Fatal(err)
		}
		return bs
	}
	check := func(when string) {
		t.Helper()
		for _, asset := range []string{"XYZ", dao.PlatformAsset} {
			wantBuckets(t, when+" "+asset+" 1m", query(asset, dao.Minute, "2026-11-25T12:00:00Z", "2026-11-25T12:04:59Z"),
				"2026-11-25T12:00:00Z 1.75 175.00 2", "2026-11-25T12:01:00Z 0.25 50.00 1", "2026-11-25T12:02:00Z 0 0 0",
				"2026-11-25T12:03:00Z 0 0 0", "2026-11-25T12:04:00Z 0.1 20.00 1")
			wantBuckets(t, when+" "+asset+" 1h", query(asset, dao.Hour, "2026-11-25T11:30:00Z", "2026-11-25T13:05:00Z"),
				"2026-11-25T11:00:00Z 0 0 0", "2026-11-25T12:00:00Z 2.10 245.00 4", "2026-11-25T13:00:00Z 0 0 0")
			wantBuckets(t, when+" "+asset+" 1d", query(asset, dao.Day, "2026-11-25T00:00:00Z", "2026-11-25T13:05:00Z"),
				"2026-11-25T00:00:00Z 2.10 245.00 4")
		}
	}
	counts := func(when string) {
		t.Helper()
		day := query(dao.PlatformAsset, dao.Day, "2026-11-25T00:00:00Z", "2026-11-25T13:05:00Z")[0]
		if got, want := fmt.Sprint(day.PlacedByType(), day.PlacedByStatus(), day.Active()),
			"map[limit_buy:3 market_buy:3 market_sell:1] map[cancelled:1 completed:4 queued:2] 2"; got != want {
			t.Fatalf("%s: the day's placements by type and status and active users: %s, want %s", when, got, want)
		}
	}
	check("before the rollup")
	counts("before the rollup")

	// 12:05: minutes up to 12:03 are closed for RollGrace; 12:04 is not.
	e.clock.Set(at("2026-11-25T12:05:00Z"))
	for _, want := range []int{4, 0} {
		n, err := e.s.RollVolume(e.ctx, e.clock.Now())
		if err != nil || n != want {
			t.Fatalf("RollVolume = %d, %v; want %d minutes", n, err, want)
		}
	}
	cp, found, err := e.d.Volume.Checkpoint(e.ctx)
	if err != nil || !found || !cp.Through.Equal(at("2026-11-25T12:03:00Z")) || !cp.Since.Equal(at("2026-11-25T12:00:00Z")) {
		t.Fatalf("checkpoint %+v, %v, %v; want since 12:00, through 12:03", cp, found, err)
	}
	check("after the rollup")
	counts("after the rollup")
	// A minute rolls once per asset.
	if err := e.d.Volume.RollAsset(e.ctx, "XYZ", at("2026-11-25T12:00:00Z"), dao.Volume{Quantity: dec("1"), Notional: dec("1"), Trades: 1}); !errors.Is(err, dao.ErrVolumeRolled) {
		t.Fatalf("rolling a rolled minute again: %v, want ErrVolumeRolled", err)
	}
	check("after a second roll of a minute")

	rep, err := verify.Run(e.ctx, e.d)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.VolumeBuckets == 0 {
		t.Fatalf("verify: %d buckets, violations %v", rep.VolumeBuckets, rep.Violations)
	}
	// A count the ledger does not explain, in a minute not rolled yet.
	if err := e.d.Transact(e.ctx, []store.Write{e.d.Volume.CountWrite("XYZ", "mallory", at("2026-11-25T12:04:50Z"), dao.Count{Fill: true, Quantity: dec("1"), Notional: dec("200.00")})}); err != nil {
		t.Fatal(err)
	}
	rep, err = verify.Run(e.ctx, e.d)
	if err != nil {
		t.Fatal(err)
	}
	want := "volume XYZ 1m 2026-11-25T12:04:00Z: shards hold quantity 1.1, notional 220, trades 2, ps_completed 1, pt_market_buy 1, " +
		"the ledger's fills and the orders quantity 0.1, notional 20, trades 1, ps_completed 1, pt_market_buy 1"
	if len(rep.Violations) != 1 || rep.Violations[0].Subject+": "+rep.Violations[0].Problem != want {
		t.Fatalf("verify of a forged count: %v, want [%s]", rep.Violations, want)
	}
}
