package dao_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/page"
	"github.com/orderprocessor/orderprocessor/store"
)

func newOrder(id, user string, typ entity.OrderType, asset string, status entity.OrderStatus) *entity.Order {
	now := entity.At(t0)
	return &entity.Order{OrderID: id, Username: user, OrderType: typ, AssetID: asset, Quantity: dec("1.5"),
		LimitPrice: decp("100.25"), Status: status, TimeInForce: entity.GTC, Currency: entity.USD,
		TotalAmount: dec("150.38"), HeldAmount: dec("150.38"),
		StatusHistory: []entity.StatusChange{{Status: status, At: now}}, CreatedAt: now, UpdatedAt: now, Version: 1}
}

func getOrder(t *testing.T, d *dao.DAOs, user, id string) *entity.Order {
	t.Helper()
	o, err := d.Orders.Get(context.Background(), user, id)
	if err != nil {
		t.Fatalf("Get order %s/%s: %v", user, id, err)
	}
	return o
}

func orderIDs(os []*entity.Order) string {
	var ids []string
	for _, o := range os {
		ids = append(ids, o.OrderID)
	}
	return strings.Join(ids, ",")
}

func TestOrderCreateGet(t *testing.T) {
	d := newDAOs(t)
	ctx := context.Background()

	// Without a client order id: one write.
	plain := newOrder("01A", "alice", entity.LimitBuy, "BTC", entity.StatusPending)
	ws, err := d.Orders.CreateWrites(plain, "ignored")
	if err != nil || len(ws) != 1 || ws[0].Key() != d.Orders.Key("alice", "01A") {
		t.Fatalf("CreateWrites = %+v, %v", ws, err)
	}
	if err := transact(d, ws...); err != nil {
		t.Fatal(err)
	}
	// With one: the order and the guard holding the request digest.
	withID := newOrder("01B", "alice", entity.MarketBuy, "ETH", entity.StatusPending)
	withID.ClientOrderID = "my-order-1"
	ws, err = d.Orders.CreateWrites(withID, "digest-1")
	if err != nil || len(ws) != 2 {
		t.Fatalf("CreateWrites = %+v, %v", ws, err)
	}
	if err := transact(d, ws...); err != nil {
		t.Fatal(err)
	}
	if id, h, err := d.Orders.ClientOrder(ctx, "alice", "my-order-1"); id != "01B" || h != "digest-1" || err != nil {
		t.Fatalf("ClientOrder = %q %q %v", id, h, err)
	}
	for _, o := range []*entity.Order{plain, withID} {
		if got := getOrder(t, d, "alice", o.OrderID); !reflect.DeepEqual(got, o) {
			t.Fatalf("Get %s = %+v\nwant %+v", o.OrderID, got, o)
		}
	}

	// Create: the same client order id for another order is refused; the
	// same id for another user is fine (the guard is per user).
	dup := newOrder("01C", "alice", entity.MarketBuy, "ETH", entity.StatusPending)
	dup.ClientOrderID = "my-order-1"
	if err := d.Orders.Create(ctx, dup); err != dao.ErrClientOrderIDTaken {
		t.Fatalf("Create with a used client order id: %v", err)
	}
	_, err = d.Orders.Get(ctx, "alice", "01C")
	wantKind(t, "Get 01C", err, apperr.NotFound)
	bobs := newOrder("01C", "bobby1", entity.MarketBuy, "ETH", entity.StatusPending)
	bobs.ClientOrderID = "my-order-1"
	if err := d.Orders.Create(ctx, bobs); err != nil {
		t.Fatal(err)
	}
	if id, h, err := d.Orders.ClientOrder(ctx, "bobby1", "my-order-1"); id != "01C" || h != "" || err != nil {
		t.Fatalf("bob's ClientOrder = %q %q %v", id, h, err)
	}
	// Order ids are generated for the order: the order is a fresh put; the
	// client order id guard is not (the client chose it).
	created := newOrder("01D", "alice", entity.LimitBuy, "BTC", entity.StatusPending)
	created.ClientOrderID = "mine"
	ws, err = d.Orders.CreateWrites(created, "")
	if err != nil || len(ws) != 2 || !ws[0].Put.Fresh || ws[0].Put.Cond.Op != store.CondNotExists || ws[1].Put.Fresh || ws[1].Put.Cond.Op != store.CondNotExists {
		t.Fatalf("CreateWrites = %+v, %v: want a fresh order put and a checked guard", ws, err)
	}

	// Another user's order is not found: the key holds the owner.
	_, err = d.Orders.Get(ctx, "bobby1", "01A")
	wantKind(t, "bob reads alice's order", err, apperr.NotFound)
	if msg := apperr.MessageOf(err); msg != "order not found" {
		t.Fatalf("message %q", msg)
	}
	_, _, err = d.Orders.ClientOrder(ctx, "alice", "unknown")
	wantKind(t, "ClientOrder(unknown)", err, apperr.NotFound)

	// Decode of a raw item equals Get.
	it, err := dao.StoreOf(d).Get(ctx, d.Orders.Key("alice", "01B"))
	if err != nil {
		t.Fatal(err)
	}
	if o, err := d.Orders.Decode(it); err != nil || !reflect.DeepEqual(o, withID) {
		t.Fatalf("Decode = %+v, %v", o, err)
	}
	if got := dao.UsernameOf(it); got != "alice" {
		t.Fatalf("UsernameOf = %q", got)
	}

	wantCanceled(t, "Create", d.Orders.Create(canceled(), newOrder("01Z", "alice", entity.LimitBuy, "BTC", entity.StatusPending)), "create order: ")
	if _, err := d.Orders.Get(canceled(), "alice", "01A"); !errors.Is(err, context.Canceled) || apperr.Is(err, apperr.NotFound) {
		t.Fatalf("Get canceled: %v", err)
	}
	if _, _, err := d.Orders.ClientOrder(canceled(), "alice", "my-order-1"); !errors.Is(err, context.Canceled) {
		t.Fatalf("ClientOrder canceled: %v", err)
	}
}

func TestOrderUpdate(t *testing.T) {
	d := newDAOs(t)
	ctx := context.Background()
	if err := d.Orders.Create(ctx, newOrder("01A", "alice", entity.LimitBuy, "BTC", entity.StatusQueued)); err != nil {
		t.Fatal(err)
	}
	t1 := t0.Add(time.Minute)
	o1, o2 := getOrder(t, d, "alice", "01A"), getOrder(t, d, "alice", "01A")
	o1.Quantity = dec("2")
	if err := d.Orders.Update(ctx, o1, t1); err != nil {
		t.Fatal(err)
	}
	if o1.Version != 2 || !o1.UpdatedAt.Equal(t1) {
		t.Fatalf("after Update: v%d %v", o1.Version, o1.UpdatedAt)
	}
	if got := getOrder(t, d, "alice", "01A"); !reflect.DeepEqual(got, o1) {
		t.Fatalf("stored %+v\nwant %+v", got, o1)
	}
	o2.Quantity = dec("3")
	err := d.Orders.Update(ctx, o2, t1)
	wantKind(t, "stale Update", err, apperr.Conflict)
	if msg := apperr.MessageOf(err); msg != "order 01A changed concurrently" || o2.Version != 1 {
		t.Fatalf("stale Update: %q, v%d", msg, o2.Version)
	}
	err = d.Orders.Update(canceled(), o1, t1)
	wantCanceled(t, "Update", err, "update order: ")
	if o1.Version != 2 {
		t.Fatalf("version after canceled Update: %d", o1.Version)
	}

	// UpdateWrite requires both the version and the status read.
	o := getOrder(t, d, "alice", "01A")
	tests := []struct {
		read int64
		from entity.OrderStatus
		ok   bool
	}{
		{1, entity.StatusQueued, false},
		{2, entity.StatusPending, false},
		{2, entity.StatusQueued, true},
	}
	for _, tc := range tests {
		o.Version = tc.read + 1
		w, err := d.Orders.UpdateWrite(o, tc.read, tc.from)
		if err != nil {
			t.Fatal(err)
		}
		if err := transact(d, w); tc.ok != (err == nil) || (err != nil && !errors.Is(err, store.ErrConditionFailed)) {
			t.Fatalf("UpdateWrite(read %d, from %s): %v, want ok=%v", tc.read, tc.from, err, tc.ok)
		}
	}
	if got := getOrder(t, d, "alice", "01A"); got.Version != 3 {
		t.Fatalf("version %d, want 3", got.Version)
	}
}

func TestOrderUpdateStatus(t *testing.T) {
	d := newDAOs(t)
	ctx := context.Background()
	if err := d.Orders.Create(ctx, newOrder("01A", "alice", entity.LimitBuy, "BTC", entity.StatusPending)); err != nil {
		t.Fatal(err)
	}
	t1 := t0.Add(time.Minute)
	o := getOrder(t, d, "alice", "01A")
	if err := d.Orders.UpdateStatus(ctx, o, entity.StatusConfirmed, entity.ActorSystem, "accepted", t1); err != nil {
		t.Fatal(err)
	}
	wantHist := []entity.StatusChange{{Status: entity.StatusPending, At: entity.At(t0)},
		{Status: entity.StatusConfirmed, At: entity.At(t1), Reason: "accepted"}}
	if o.Status != entity.StatusConfirmed || o.Version != 2 || !o.UpdatedAt.Equal(t1) || !reflect.DeepEqual(o.StatusHistory, wantHist) {
		t.Fatalf("after UpdateStatus: %+v", o)
	}
	if got := getOrder(t, d, "alice", "01A"); !reflect.DeepEqual(got, o) {
		t.Fatalf("stored %+v\nwant %+v", got, o)
	}

	// Transitions the machine or the actor table forbids change nothing.
	for _, tc := range []struct {
		to    entity.OrderStatus
		actor entity.Actor
	}{
		{entity.StatusCompleted, entity.ActorSystem}, // confirmed -> completed: no such edge
		{entity.StatusQueued, entity.ActorUser},      // a user may only cancel
		{entity.StatusPending, entity.ActorSystem},   // no way back
	} {
		before := getOrder(t, d, "alice", "01A")
		err := d.Orders.UpdateStatus(ctx, o, tc.to, tc.actor, "", t1)
		wantKind(t, fmt.Sprintf("%s by %s", tc.to, tc.actor), err, apperr.Conflict)
		if !reflect.DeepEqual(o, before) || !reflect.DeepEqual(getOrder(t, d, "alice", "01A"), before) {
			t.Fatalf("%s by %s changed the order: %+v", tc.to, tc.actor, o)
		}
	}

	// Two writers from the same version, one after the other: the second
	// loses and its order is as it was before the call.
	if err := d.Orders.UpdateStatus(ctx, o, entity.StatusQueued, entity.ActorSystem, "", t1); err != nil {
		t.Fatal(err)
	}
	a, b := getOrder(t, d, "alice", "01A"), getOrder(t, d, "alice", "01A")
	if err := d.Orders.UpdateStatus(ctx, a, entity.StatusCancelled, entity.ActorUser, "user", t1); err != nil {
		t.Fatal(err)
	}
	bBefore := *b
	bBefore.StatusHistory = slices.Clone(b.StatusHistory)
	err := d.Orders.UpdateStatus(ctx, b, entity.StatusTriggered, entity.ActorEngine, "price", t1)
	wantKind(t, "stale UpdateStatus", err, apperr.Conflict)
	if msg := apperr.MessageOf(err); msg != "order 01A is no longer queued" {
		t.Fatalf("message %q", msg)
	}
	if !reflect.DeepEqual(*b, bBefore) {
		t.Fatalf("loser not restored: %+v\nwant %+v", b, bBefore)
	}
	if got := getOrder(t, d, "alice", "01A"); got.Status != entity.StatusCancelled || got.Version != 4 || len(got.StatusHistory) != 4 {
		t.Fatalf("stored %+v", got)
	}
	// A terminal order accepts no transition.
	err = d.Orders.UpdateStatus(ctx, a, entity.StatusExpired, entity.ActorSystem, "", t1)
	wantKind(t, "terminal", err, apperr.Conflict)

	// A store failure restores the order too.
	if err := d.Orders.Create(ctx, newOrder("01B", "alice", entity.LimitBuy, "BTC", entity.StatusPending)); err != nil {
		t.Fatal(err)
	}
	c := getOrder(t, d, "alice", "01B")
	err = d.Orders.UpdateStatus(canceled(), c, entity.StatusCancelled, entity.ActorUser, "", t1)
	wantCanceled(t, "UpdateStatus", err, "update order status: ")
	if !reflect.DeepEqual(c, getOrder(t, d, "alice", "01B")) {
		t.Fatalf("order changed by a failed UpdateStatus: %+v", c)
	}
}

// TestOrderUpdateStatusRace runs two UpdateStatus calls from the same
// version at once, a few times: exactly one wins each time.
func TestOrderUpdateStatusRace(t *testing.T) {
	d := newDAOs(t)
	ctx := context.Background()
	for round := range 4 {
		id := fmt.Sprintf("01R%d", round)
		if err := d.Orders.Create(ctx, newOrder(id, "alice", entity.StopLoss, "BTC", entity.StatusQueued)); err != nil {
			t.Fatal(err)
		}
		racers := []struct {
			o     *entity.Order
			to    entity.OrderStatus
			actor entity.Actor
		}{
			{getOrder(t, d, "alice", id), entity.StatusCancelled, entity.ActorUser},
			{getOrder(t, d, "alice", id), entity.StatusTriggered, entity.ActorEngine},
		}
		errs := make([]error, len(racers))
		var wg sync.WaitGroup
		for i, r := range racers {
			wg.Go(func() { errs[i] = d.Orders.UpdateStatus(ctx, r.o, r.to, r.actor, "", t0) })
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil:
				if winner >= 0 {
					t.Fatalf("round %d: both won", round)
				}
				winner = i
			case !apperr.Is(err, apperr.Conflict):
				t.Fatalf("round %d: loser's error %v", round, err)
			case racers[i].o.Status != entity.StatusQueued || racers[i].o.Version != 1 || len(racers[i].o.StatusHistory) != 1:
				t.Fatalf("round %d: loser not restored: %+v", round, racers[i].o)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: nobody won: %v", round, errs)
		}
		got := getOrder(t, d, "alice", id)
		if got.Status != racers[winner].to || got.Version != 2 || !reflect.DeepEqual(got, racers[winner].o) {
			t.Fatalf("round %d: stored %+v, winner %+v", round, got, racers[winner].o)
		}
	}
}

func TestOrderLists(t *testing.T) {
	d := newDAOs(t)
	ctx := context.Background()
	types := []entity.OrderType{entity.LimitBuy, entity.LimitSell, entity.StopLoss}
	statuses := []entity.OrderStatus{entity.StatusQueued, entity.StatusCompleted, entity.StatusCancelled, entity.StatusPending}
	assets := []string{"BTC", "ETH"}
	var all []*entity.Order
	var writes []store.Write
	for i := range 24 {
		o := newOrder(fmt.Sprintf("01J%03d", i), "alice", types[i%3], assets[i%2], statuses[i%4])
		if i%5 == 0 {
			o.ClientOrderID = fmt.Sprintf("c%d", i) // guards share the partition
		}
		ws, err := d.Orders.CreateWrites(o, "")
		if err != nil {
			t.Fatal(err)
		}
		writes = append(writes, ws...)
		all = append(all, o)
	}
	writes = append(writes, store.Write{Put: &store.Put{Key: d.Orders.Key("bobby1", "01J999"),
		Item: store.Item{"doc": store.S(`{"order_id":"01J999"}`), "version": store.Int(1)}}})
	if err := transact(d, writes...); err != nil {
		t.Fatal(err)
	}
	want := func(f dao.OrderFilter) string {
		var out []*entity.Order
		for i := len(all) - 1; i >= 0; i-- {
			o := all[i]
			if (f.Status == "" || o.Status == f.Status) && (f.OrderType == "" || o.OrderType == f.OrderType) && (f.AssetID == "" || o.AssetID == f.AssetID) {
				out = append(out, o)
			}
		}
		return orderIDs(out)
	}
	// walk pages through list until the end, checking page sizes.
	walk := func(t *testing.T, limit int, list func(cursor string) ([]*entity.Order, string, error)) string {
		t.Helper()
		var got []*entity.Order
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 30 {
				t.Fatal("paging does not end")
			}
			os, next, err := list(cursor)
			if err != nil {
				t.Fatal(err)
			}
			if len(os) > max(limit, 1) || (next != "" && len(os) != max(limit, 1)) {
				t.Fatalf("page of %d, limit %d, next %q", len(os), limit, next)
			}
			got = append(got, os...)
			if cursor = next; cursor == "" {
				return orderIDs(got)
			}
		}
	}
	tests := []dao.OrderFilter{
		{Limit: 5}, {Limit: 24}, {Limit: 100}, {Limit: 0},
		{Status: entity.StatusQueued, Limit: 2},
		{OrderType: entity.StopLoss, Limit: 3},
		{AssetID: "ETH", Limit: 4},
		{Status: entity.StatusCompleted, AssetID: "ETH", Limit: 1},
		{Status: entity.StatusPending, OrderType: entity.LimitSell, AssetID: "ETH", Limit: 2},
		{Status: entity.StatusExpired, Limit: 3},
		{Limit: store.MaxQueryLimit + 1},
	}
	for _, f := range tests {
		t.Run(fmt.Sprintf("%s/%s/%s/%d", f.Status, f.OrderType, f.AssetID, f.Limit), func(t *testing.T) {
			got := walk(t, f.Limit, func(c string) ([]*entity.Order, string, error) {
				f := f
				f.Cursor = c
				return d.Orders.ListByUser(ctx, "alice", f)
			})
			if w := want(f); got != w {
				t.Fatalf("got  %s\nwant %s", got, w)
			}
		})
	}
	if got := walk(t, 3, func(c string) ([]*entity.Order, string, error) {
		return d.Orders.ListByUserAndAsset(ctx, "alice", "BTC", 3, c)
	}); got != want(dao.OrderFilter{AssetID: "BTC"}) {
		t.Fatalf("ListByUserAndAsset = %s", got)
	}
	if got := walk(t, 4, func(c string) ([]*entity.Order, string, error) {
		return d.Orders.ListByUserAndStatus(ctx, "alice", entity.StatusCancelled, 4, c)
	}); got != want(dao.OrderFilter{Status: entity.StatusCancelled}) {
		t.Fatalf("ListByUserAndStatus = %s", got)
	}
	// The first page, whole orders.
	os, _, err := d.Orders.ListByUser(ctx, "alice", dao.OrderFilter{Limit: 2})
	if err != nil || len(os) != 2 || !reflect.DeepEqual(os[0], all[23]) || !reflect.DeepEqual(os[1], all[22]) {
		t.Fatalf("first page %+v, %v", os, err)
	}
	_, next, _ := d.Orders.ListByUser(ctx, "alice", dao.OrderFilter{Limit: 2})
	if _, _, err := d.Orders.ListByUser(ctx, "bobby1", dao.OrderFilter{Limit: 2, Cursor: next}); !errors.Is(err, page.ErrInvalidCursor) {
		t.Fatalf("foreign cursor: %v", err)
	}
	got, err := d.Orders.AllByUser(ctx, "alice")
	if err != nil || !reflect.DeepEqual(got, all) {
		t.Fatalf("AllByUser = %s, %v", orderIDs(got), err)
	}
	if got, err := d.Orders.AllByUser(ctx, "carol1"); err != nil || len(got) != 0 {
		t.Fatalf("AllByUser(carol1) = %v, %v", got, err)
	}
	_, _, err = d.Orders.ListByUser(canceled(), "alice", dao.OrderFilter{Limit: 2})
	wantCanceled(t, "ListByUser", err, "list orders: ")
	if _, err := d.Orders.AllByUser(canceled(), "alice"); !errors.Is(err, context.Canceled) {
		t.Fatalf("AllByUser canceled: %v", err)
	}
}

// testIndexer indexes open orders as the trading layer does, in spirit: by
// asset and side at the limit price, trailing stops by high-water mark, and
// orders with an expiry by day.
func testIndexer(o *entity.Order) dao.OrderIndexKeys {
	var k dao.OrderIndexKeys
	if o.LimitPrice != nil {
		k.TriggerPK, k.TriggerSK = o.AssetID+"#"+string(o.Side()), dao.SortablePrice(*o.LimitPrice)+"#"+o.OrderID
	}
	if o.HighWaterMark != nil {
		k.TrailPK, k.TrailSK = o.AssetID, dao.SortablePrice(*o.HighWaterMark)+"#"+o.OrderID
	}
	if o.ExpiresAt != nil {
		k.ExpiryPK, k.ExpirySK = "EXP#"+o.ExpiresAt.Format("2006-01-02"), o.ExpiresAt.String()+"#"+o.OrderID
	}
	return k
}

func TestOrderOpenIndexes(t *testing.T) {
	u := newDAOs(t)
	d := dao.NewIndexed(dao.StoreOf(u), u.Tables, testIndexer)
	ctx := context.Background()
	mk := func(id, user string, typ entity.OrderType, limit string) *entity.Order {
		o := newOrder(id, user, typ, "BTC", entity.StatusQueued)
		o.LimitPrice = decp(limit)
		return o
	}
	orders := []*entity.Order{
		mk("01A", "alice", entity.LimitBuy, "100"),
		mk("01B", "bobby1", entity.LimitBuy, "99.5"),
		mk("01C", "alice", entity.LimitBuy, "1000"),
		mk("01D", "alice", entity.LimitBuy, "9.99999999"),
		mk("01E", "alice", entity.LimitSell, "150"),
		mk("01F", "alice", entity.LimitBuy, "100"),
	}
	trail := newOrder("01T", "alice", entity.TrailingStop, "BTC", entity.StatusQueued)
	trail.LimitPrice, trail.HighWaterMark, trail.TrailPercent = nil, decp("120"), decp("5")
	trail.ExpiresAt = entity.TimePtr(t0.Add(36 * time.Hour))
	orders = append(orders, trail)
	// A market order has no keys: it is in no index.
	market := newOrder("01M", "alice", entity.MarketBuy, "BTC", entity.StatusPending)
	market.LimitPrice = nil
	orders = append(orders, market)
	for _, o := range orders {
		if err := d.Orders.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	open := func(index, pk string, sk store.SortCond, limit int) string {
		t.Helper()
		var got []string
		cursor := ""
		for {
			os, next, err := d.Orders.OpenIn(ctx, index, pk, sk, limit, cursor)
			if err != nil {
				t.Fatal(err)
			}
			if len(os) > limit {
				t.Fatalf("page of %d, limit %d", len(os), limit)
			}
			for _, o := range os {
				got = append(got, o.Username+"/"+o.OrderID)
			}
			if cursor = next; cursor == "" {
				return strings.Join(got, ",")
			}
		}
	}
	all := store.SortCond{}
	tests := []struct {
		index, pk string
		sk        store.SortCond
		limit     int
		want      string
	}{
		{dao.IndexOpenOrders, "BTC#buy", all, 2, "alice/01D,bobby1/01B,alice/01A,alice/01F,alice/01C"},
		{dao.IndexOpenOrders, "BTC#buy", all, 100, "alice/01D,bobby1/01B,alice/01A,alice/01F,alice/01C"},
		// Buy limits at or above a price of 100: a range read.
		{dao.IndexOpenOrders, "BTC#buy", store.SortCond{Op: store.SortGe, Value: dao.SortablePrice(dec("100"))}, 1, "alice/01A,alice/01F,alice/01C"},
		{dao.IndexOpenOrders, "BTC#buy", store.SortCond{Op: store.SortLt, Value: dao.SortablePrice(dec("100"))}, 5, "alice/01D,bobby1/01B"},
		{dao.IndexOpenOrders, "BTC#sell", all, 5, "alice/01E"},
		{dao.IndexOpenOrders, "ETH#buy", all, 5, ""},
		{dao.IndexTrailing, "BTC", all, 5, "alice/01T"},
		{dao.IndexExpiry, "EXP#2026-11-27", all, 5, "alice/01T"},
		{dao.IndexExpiry, "EXP#2026-11-26", all, 5, ""},
	}
	for _, tc := range tests {
		if got := open(tc.index, tc.pk, tc.sk, tc.limit); got != tc.want {
			t.Errorf("OpenIn(%s, %s, %+v, %d) = %s, want %s", tc.index, tc.pk, tc.sk, tc.limit, got, tc.want)
		}
	}
	// The whole order comes back from the index.
	os, _, err := d.Orders.OpenIn(ctx, dao.IndexTrailing, "BTC", all, 1, "")
	if err != nil || len(os) != 1 || !reflect.DeepEqual(os[0], trail) {
		t.Fatalf("OpenIn trailing = %+v, %v", os, err)
	}

	// An order leaves every index when it ends, and moves when its keys change.
	tr := getOrder(t, d, "alice", "01T")
	if err := d.Orders.UpdateStatus(ctx, tr, entity.StatusCancelled, entity.ActorUser, "", t0); err != nil {
		t.Fatal(err)
	}
	a := getOrder(t, d, "alice", "01A")
	a.LimitPrice = decp("5000")
	if err := d.Orders.Update(ctx, a, t0); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ index, pk, want string }{
		{dao.IndexTrailing, "BTC", ""},
		{dao.IndexExpiry, "EXP#2026-11-27", ""},
		{dao.IndexOpenOrders, "BTC#buy", "alice/01D,bobby1/01B,alice/01F,alice/01C,alice/01A"},
	} {
		if got := open(tc.index, tc.pk, all, 10); got != tc.want {
			t.Errorf("after changes, %s/%s = %s, want %s", tc.index, tc.pk, got, tc.want)
		}
	}
	// Without an indexer, orders are in no index.
	plain := dao.New(dao.StoreOf(d), d.Tables)
	if err := plain.Orders.Create(ctx, mk("01G", "alice", entity.LimitBuy, "1")); err != nil {
		t.Fatal(err)
	}
	if got := open(dao.IndexOpenOrders, "BTC#buy", store.SortCond{Op: store.SortLt, Value: dao.SortablePrice(dec("5"))}, 10); got != "" {
		t.Fatalf("unindexed order in the index: %s", got)
	}

	_, _, err = d.Orders.OpenIn(canceled(), dao.IndexOpenOrders, "BTC#buy", all, 10, "")
	wantCanceled(t, "OpenIn", err, "open orders of open_by_trigger/BTC#buy: ")
}

// TestOrderScan: Scan calls fn once for every order of every user, and for
// nothing else of the table (client order id guards); fn's error stops it.
func TestOrderScan(t *testing.T) {
	d := newDAOs(t)
	ctx := context.Background()
	want := map[string]bool{}
	for i, user := range []string{"alice", "bob", "carol"} {
		for j := range 3 {
			o := newOrder(fmt.Sprintf("01%c%d", 'A'+i, j), user, entity.LimitBuy, "BTC", entity.StatusPending)
			o.ClientOrderID = fmt.Sprintf("coid-%d", j) // a guard item beside each order
			if err := d.Orders.Create(ctx, o); err != nil {
				t.Fatal(err)
			}
			want[user+"/"+o.OrderID] = true
		}
	}
	got := map[string]bool{}
	if err := d.Orders.Scan(ctx, func(o *entity.Order) error {
		if got[o.Username+"/"+o.OrderID] {
			t.Fatalf("order %s/%s seen twice", o.Username, o.OrderID)
		}
		got[o.Username+"/"+o.OrderID] = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Scan saw %v, want %v", got, want)
	}
	stop := errors.New("stop")
	n := 0
	if err := d.Orders.Scan(ctx, func(*entity.Order) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("Scan with a failing fn: %v after %d orders", err, n)
	}
	wantCanceled(t, "Scan", d.Orders.Scan(canceled(), func(*entity.Order) error { return nil }), "scan orders: ")
}
