package trading_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/store/embedded"
	"github.com/orderprocessor/orderprocessor/testenv/fakeclock"
	"github.com/orderprocessor/orderprocessor/trading"
	"github.com/orderprocessor/orderprocessor/verify"
)

// TestPlaceBatchDurable: the orders of a batch are in the store a crash
// leaves behind as soon as PlaceBatch returns (the embedded store on
// Pebble's crashable in-memory file system, cut back to what was synced),
// with every ledger invariant holding; a refused order is not.
func TestPlaceBatchDurable(t *testing.T) {
	fs := vfs.NewCrashableMem()
	tables := dao.DefaultTables
	open := func(fs vfs.FS) *embedded.DB {
		t.Helper()
		db, err := embedded.Open("db", tables.Schemas(), embedded.Options{FS: fs, Logger: slog.New(slog.DiscardHandler),
			CacheSize: 8 << 20, MemTableSize: 4 << 20, LockStripes: 64})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	}
	ctx := context.Background()
	d := trading.NewDAOs(open(fs), tables)
	c := fakeclock.New(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	e := &env{t: t, ctx: ctx, d: d, clock: c, s: trading.New(d, trading.Config{}, trading.Options{Now: c.Now})}
	now := entity.At(c.Now())
	if err := d.Assets.Create(ctx, &entity.Asset{AssetID: "XYZ", Name: "Xyz", PriceUSD: dec("10"), IsActive: true,
		LastUpdated: now, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	e.user("alice", "100")

	buy := func(qty string) trading.BatchOrder {
		return trading.BatchOrder{Req: entity.OrderCreate{OrderType: entity.MarketBuy, AssetID: "XYZ", Quantity: decp(qty)}}
	}
	res, err := e.s.PlaceBatch(ctx, "alice", []trading.BatchOrder{buy("4"), buy("7"), buy("5")})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 || res[0].Err != nil || res[1].Err == nil || res[2].Err != nil {
		t.Fatalf("results %+v, want placed, refused (70 > 60 left), placed", res)
	}

	crashed := dao.New(open(fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})), tables)
	for _, i := range []int{0, 2} {
		o, err := crashed.Orders.Get(ctx, "alice", res[i].Placed.Order.OrderID)
		if err != nil || o.Status != entity.StatusCompleted {
			t.Fatalf("order %d after a crash: %+v, %v", i, o, err)
		}
	}
	b, err := crashed.Balances.Get(ctx, "alice", entity.USD)
	if err != nil || !b.CurrentBalance.Equal(dec("10")) {
		t.Errorf("balance after a crash %+v, %v, want 10 (100 - 40 - 50)", b, err)
	}
	rep, err := verify.Run(ctx, crashed)
	if err != nil || !rep.OK() {
		t.Fatalf("verify after a crash: %+v, %v", rep, err)
	}
}
