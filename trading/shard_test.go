package trading_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/trading"
)

// assets creates active assets at price, beside newEnv's XYZ.
func (e *env) assets(price string, ids ...string) {
	e.t.Helper()
	now := entity.At(e.clock.Now())
	for _, id := range ids {
		if err := e.d.Assets.Create(e.ctx, &entity.Asset{AssetID: id, Name: id, PriceUSD: dec(price), IsActive: true,
			LastUpdated: now, CreatedAt: now, UpdatedAt: now}); err != nil {
			e.t.Fatal(err)
		}
	}
}

// setPrices sets every listed asset's price in the store, without telling
// any engine.
func (e *env) setPrices(price string, ids ...string) {
	e.t.Helper()
	for _, id := range ids {
		if _, err := e.d.Assets.SetPrice(e.ctx, id, dec(price), e.clock.Now()); err != nil {
			e.t.Fatal(err)
		}
	}
}

// currentPrices reads every active asset's price, as the order role's
// engine does.
func currentPrices(d *dao.DAOs) func(context.Context) (map[string]decimal.Decimal, error) {
	return func(ctx context.Context) (map[string]decimal.Decimal, error) {
		as, err := d.Assets.All(ctx)
		if err != nil {
			return nil, err
		}
		out := map[string]decimal.Decimal{}
		for _, a := range as {
			if a.IsActive {
				out[a.AssetID] = a.PriceUSD
			}
		}
		return out, nil
	}
}

// wantStatus fails unless every order of ids has status st.
func (e *env) wantStatus(what string, st entity.OrderStatus, ids ...string) {
	e.t.Helper()
	for _, id := range ids {
		if got := e.order("alice", id).Status; got != st {
			e.t.Fatalf("%s: order %s is %s, want %s", what, id, got, st)
		}
	}
}

// TestShardedSweeps: two engines whose sweeps share the assets handle only
// their own: the first one's sweep fills the crossing orders, expires the
// due orders and cancels the resting orders of an inactive asset of its
// assets only (paging past more due orders of the other's assets than one
// index page holds), and the second one's sweep then does the rest.
func TestShardedSweeps(t *testing.T) {
	e := newEnv(t, "100", "100000")
	e.assets("100", "AAA", "BBB", "CCC", "DDD", "EEE")
	mine := map[string]bool{"XYZ": true, "AAA": true, "BBB": true} // the first engine's
	all := []string{"XYZ", "AAA", "BBB", "CCC", "DDD", "EEE"}
	var others []string // the other's: 205 due orders of CCC, earlier than the rest
	soon := entity.At(e.clock.Now().Add(30 * time.Minute))
	for range 205 {
		others = append(others, e.place("alice", entity.OrderCreate{OrderType: entity.LimitBuy, AssetID: "CCC", Quantity: decp("1"),
			LimitPrice: decp("1"), TimeInForce: entity.GTD, ExpiresAt: &soon}).OrderID)
	}
	later := entity.At(e.clock.Now().Add(time.Hour))
	ids := map[string][2]string{} // asset -> crossing limit, due GTD
	for _, a := range all {
		cross := e.place("alice", entity.OrderCreate{OrderType: entity.LimitBuy, AssetID: a, Quantity: decp("1"), LimitPrice: decp("90")})
		due := e.place("alice", entity.OrderCreate{OrderType: entity.LimitBuy, AssetID: a, Quantity: decp("1"), LimitPrice: decp("50"),
			TimeInForce: entity.GTD, ExpiresAt: &later})
		ids[a] = [2]string{cross.OrderID, due.OrderID}
	}
	if _, err := e.d.Assets.SetActive(e.ctx, "EEE", false, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.setPrices("80", all[:5]...)
	e.clock.Advance(time.Hour)

	first := trading.NewEngine(e.s, currentPrices(e.d), 0)
	first.Shard(func(id string) bool { return mine[id] })
	other := trading.New(e.d, trading.Config{}, trading.Options{Now: e.clock.Now})
	second := trading.NewEngine(other, currentPrices(e.d), 0)
	second.Shard(func(id string) bool { return !mine[id] })

	first.Sweep(e.ctx)
	for _, a := range all {
		switch {
		case mine[a]:
			e.wantStatus("first sweep, its "+a, entity.StatusCompleted, ids[a][0])
			e.wantStatus("first sweep, its "+a, entity.StatusExpired, ids[a][1])
		default:
			e.wantStatus("first sweep, the other's "+a, entity.StatusQueued, ids[a][0], ids[a][1])
		}
	}
	e.wantStatus("first sweep, the other's CCC", entity.StatusQueued, others...)

	second.Sweep(e.ctx)
	for _, a := range all[:5] {
		e.wantStatus("second sweep, "+a, entity.StatusCompleted, ids[a][0])
		e.wantStatus("second sweep, "+a, entity.StatusExpired, ids[a][1])
	}
	e.wantStatus("second sweep, the inactive EEE", entity.StatusCancelled, ids["EEE"][0])
	e.wantStatus("second sweep, the inactive EEE", entity.StatusExpired, ids["EEE"][1]) // expiry sweeps first
	e.wantStatus("second sweep, CCC", entity.StatusExpired, others...)
	e.cash("alice", "99600", "0") // five buys at 80
	e.verify()
}

// TestRacingSweepsExecuteOnce: two engines sweeping every asset at once
// (their shards overlap, as while replicas join or leave) execute each
// crossing order and expire each due order exactly once.
func TestRacingSweepsExecuteOnce(t *testing.T) {
	e := newEnv(t, "100", "100000")
	e.assets("100", "AAA", "BBB")
	all := []string{"XYZ", "AAA", "BBB"}
	later := entity.At(e.clock.Now().Add(time.Hour))
	var cross, due []string
	for i := range 60 {
		a := all[i%3]
		cross = append(cross, e.place("alice", entity.OrderCreate{OrderType: entity.LimitBuy, AssetID: a, Quantity: decp("1"),
			LimitPrice: decp(fmt.Sprint(90 - i%5))}).OrderID)
		due = append(due, e.place("alice", entity.OrderCreate{OrderType: entity.LimitBuy, AssetID: a, Quantity: decp("1"),
			LimitPrice: decp("50"), TimeInForce: entity.GTD, ExpiresAt: &later}).OrderID)
	}
	e.setPrices("80", all...)
	e.clock.Advance(time.Hour)
	var wg sync.WaitGroup
	for _, s := range []*trading.Service{e.s, trading.New(e.d, trading.Config{}, trading.Options{Now: e.clock.Now})} {
		eng := trading.NewEngine(s, currentPrices(e.d), 0)
		wg.Go(func() { eng.Sweep(e.ctx) })
	}
	wg.Wait()
	for _, id := range cross {
		if o := e.order("alice", id); statuses(o) != filled {
			t.Fatalf("order %s: %s, want %s", id, statuses(o), filled)
		}
	}
	for _, id := range due {
		if o := e.order("alice", id); statuses(o) != "pending>confirmed>queued>expired" {
			t.Fatalf("order %s: %s", id, statuses(o))
		}
	}
	e.cash("alice", "95200", "0") // 100000 - 60 x 80, every hold released once
	e.verify()
}
