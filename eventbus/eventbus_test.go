package eventbus

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/stream"
	"github.com/orderprocessor/orderprocessor/testenv"
	"github.com/orderprocessor/orderprocessor/trading"
)

type discard struct{}

func (discard) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	redis.SetLogger(discard{}) // the dial failures of the unreachable Redis
	os.Exit(m.Run())
}

// prefix returns a key prefix of its own for the test, whose stream is
// deleted when the test ends.
func prefix(t *testing.T) string {
	t.Helper()
	p := "test:" + strings.ToLower(rand.Text()[:12]) + ":"
	opt, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() {
		if err := rdb.Del(context.Background(), p+"events").Err(); err != nil {
			t.Errorf("delete the test stream: %v", err)
		}
		_ = rdb.Close()
	})
	return p
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// open returns a started bus, closed when the test ends.
func open(t *testing.T, url string, opts Options) *Bus {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet()
	}
	b, err := New(url, opts)
	if err != nil {
		t.Fatal(err)
	}
	b.Start()
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	return b
}

// prices records the price events a bus hands over.
type prices struct {
	mu  sync.Mutex
	got []string
	ch  chan struct{}
}

func newPrices() *prices { return &prices{ch: make(chan struct{}, 1000)} }

func (p *prices) on(assetID string, price decimal.Decimal) {
	p.mu.Lock()
	p.got = append(p.got, assetID+"="+price.String())
	p.mu.Unlock()
	p.ch <- struct{}{}
}

// wait waits for one more call, failing after 5 s.
func (p *prices) wait(t *testing.T) {
	t.Helper()
	select {
	case <-p.ch:
	case <-time.After(5 * time.Second):
		t.Fatal("no price within 5 s")
	}
}

func (p *prices) list() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.got)
}

// next returns the next event of s, failing after 5 s.
func next(t *testing.T, s *stream.Subscription) stream.Event {
	t.Helper()
	select {
	case ev, ok := <-s.Events():
		if !ok {
			t.Fatal("subscription ended")
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5 s")
	}
	panic("unreachable")
}

func testOrder() *entity.Order {
	at := entity.At(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	return &entity.Order{OrderID: "ORD0000000001", Username: "alice", OrderType: entity.LimitBuy, AssetID: "BTC",
		Quantity: decimal.MustParse("0.5"), LimitPrice: new(decimal.MustParse("60000")), Status: entity.StatusQueued,
		Currency: entity.USD, TimeInForce: entity.GTC, CreatedAt: at, UpdatedAt: at,
		StatusHistory: []entity.StatusChange{{Status: entity.StatusQueued, At: at}}}
}

func counter(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.Counter.GetValue()
}

func TestID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0-0", 0, true},
		{"0-1", 1, true},
		{"1765000000000-0", 1765000000000000000, true},
		{"1765000000000-999999", 1765000000000999999, true},
		{"1765000000001-0", 1765000000001000000, true},
		{"1765000000000-1000000", 0, false},
		{"18446744073709-551616", 0, false}, // above 2^64-1
		{"18446744073709-551615", 18446744073709551615, true},
		{"1765000000000", 0, false},
		{"x-1", 0, false},
		{"1--1", 0, false},
	} {
		got, err := ID(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ID(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestPublishAndRead(t *testing.T) {
	url, p := testenv.RedisURL(t), prefix(t)
	broker := stream.NewBroker(stream.Options{})
	pr := newPrices()
	reg := prometheus.NewRegistry()
	reader := open(t, url, Options{Prefix: p, Broker: broker, OnPrice: pr.on, Registerer: reg})
	// Before the reader has loaded the (empty) stream, a publisher's
	// entries could be loaded as history instead of read live, and the
	// load rebases the broker: wait for it.
	waitLoaded(t, reader)
	sub, _ := broker.Subscribe(stream.SubscribeOptions{Username: "alice"})
	defer sub.Close()

	at := time.Now().UTC().Truncate(time.Microsecond) // a price older than MaxPriceAge would not reach OnPrice
	pub := open(t, url, Options{Prefix: p, Now: func() time.Time { return at }})
	o := testOrder()
	pub.Publish(trading.Event{Kind: trading.EventOrder, Username: "alice", Order: o, AssetID: "BTC"})
	o.Status = entity.StatusCancelled // the publisher copied the order
	pub.Publish(trading.Event{Kind: trading.EventBalance, Username: "alice", Currency: "USD"})
	pub.Publish(trading.Event{Kind: trading.EventBalance, Username: "bob", Currency: "USD", AssetID: "ETH"})
	pub.PriceChanged(context.Background(), "BTC", decimal.FromInt(1), decimal.MustParse("61000.5"))
	pub.Publish(trading.Event{Kind: trading.EventOrder, Username: "alice"}) // no order: ignored
	pub.Publish(trading.Event{Kind: trading.EventBalance})                  // no user: ignored

	var got []stream.Event
	for range 3 { // alice's order and balance, the price
		got = append(got, next(t, sub))
	}
	entries, err := pub.rdb.XRange(context.Background(), pub.Key(), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 4 {
		t.Fatalf("%d entries in the stream, want 4", len(entries))
	}
	for i, want := range []int{0, 1, 3} {
		id, err := ID(entries[want].ID)
		if err != nil || got[i].ID != id {
			t.Fatalf("event %d has id %d, want %d (%s)", i, got[i].ID, id, entries[want].ID)
		}
	}
	resp := testOrder().Response()
	if got[0].Kind != stream.KindOrder || got[0].Username != "alice" || got[0].AssetID != "BTC" ||
		string(got[0].JSON()) != string(resp.AppendJSON(nil)) || !got[0].At.Equal(at) {
		t.Fatalf("order event %+v %s", got[0], got[0].JSON())
	}
	if got[1].Kind != stream.KindBalance || got[1].Currency != "USD" || got[1].Username != "alice" {
		t.Fatalf("balance event %+v", got[1])
	}
	atJSON, err := json.Marshal(entity.At(at))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"asset_id":"BTC","price_usd":"61000.50","at":` + string(atJSON) + `}`
	if got[2].Kind != stream.KindPrice || got[2].Username != "" || string(got[2].JSON()) != want {
		t.Fatalf("price event %+v %s, want %s", got[2], got[2].JSON(), want)
	}
	pr.wait(t)
	if l := pr.list(); !slices.Equal(l, []string{"BTC=61000.5"}) {
		t.Fatalf("OnPrice got %v", l)
	}
	// The publisher counts its XADDs when they return, which may be after
	// the reader has the events: poll (a hang guard, not a timing
	// assertion).
	for deadline := time.Now().Add(10 * time.Second); counter(t, pub.published) != 4 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if v := counter(t, pub.published); v != 4 {
		t.Fatalf("published %v", v)
	}
	if v := counter(t, reader.received); v != 4 {
		t.Fatalf("received %v", v)
	}
	if mfs, err := reg.Gather(); err != nil || len(mfs) != 4 {
		t.Fatalf("registered %d metric families, %v", len(mfs), err)
	}
}

// waitLoaded waits until b's reader has loaded the history, so that what
// is published next is read live.
func waitLoaded(t *testing.T, b *Bus) {
	t.Helper()
	select {
	case <-b.Loaded():
	case <-time.After(5 * time.Second):
		t.Fatal("the reader did not load the history within 5 s")
	}
}

// waitPosition waits until broker's last id is at least id.
func waitPosition(t *testing.T, broker *stream.Broker, id uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for broker.Stats().LastID < id {
		if time.Now().After(deadline) {
			t.Fatalf("the reader did not reach %d within 5 s: at %d", id, broker.Stats().LastID)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestHistoryOnEveryReplica(t *testing.T) {
	url, p := testenv.RedisURL(t), prefix(t)
	pub := open(t, url, Options{Prefix: p})
	for i := range 10 {
		pub.PriceChanged(context.Background(), "BTC", decimal.Zero, decimal.FromInt(int64(100+i)))
	}
	if err := pub.Close(); err != nil { // writes what is queued
		t.Fatal(err)
	}
	pub = open(t, url, Options{Prefix: p})
	entries, err := pub.rdb.XRange(context.Background(), pub.Key(), "-", "+").Result()
	if err != nil || len(entries) != 10 {
		t.Fatalf("%d entries, %v", len(entries), err)
	}
	ids := make([]uint64, len(entries))
	for i, e := range entries {
		ids[i], _ = ID(e.ID)
	}
	// Two replicas with a history of 4 hold the same last 4 events, after
	// the same position (the 5th last), so a client resumes on either.
	var brokers []*stream.Broker
	pr := newPrices()
	for range 2 {
		b := stream.NewBroker(stream.Options{HistorySize: 4})
		open(t, url, Options{Prefix: p, Broker: b, OnPrice: pr.on})
		waitPosition(t, b, ids[9])
		brokers = append(brokers, b)
	}
	for i, b := range brokers {
		for _, tc := range []struct {
			last  uint64
			want  int
			reset bool
		}{{ids[5], 4, false}, {ids[7], 2, false}, {ids[4], 0, true}, {ids[9], 0, false}} {
			s, c := b.Subscribe(stream.SubscribeOptions{Username: "alice", Resume: true, LastEventID: tc.last})
			s.Close()
			if len(c.Events) != tc.want || c.Reset != tc.reset || c.Cursor != ids[9] {
				t.Fatalf("replica %d, resume from %d: %d events, reset %v, cursor %d", i, tc.last, len(c.Events), c.Reset, c.Cursor)
			}
			if tc.want > 0 && (c.Events[0].ID != ids[10-tc.want] || c.Events[0].PriceUSD != fmt.Sprintf("%d.00", 100+10-tc.want)) {
				t.Fatalf("replica %d: first event %+v", i, c.Events[0])
			}
		}
	}
	// The history is not handed to the engine: its prices are old.
	pub.PriceChanged(context.Background(), "ETH", decimal.Zero, decimal.FromInt(7))
	pr.wait(t)
	pr.wait(t)
	if l := pr.list(); !slices.Equal(l, []string{"ETH=7", "ETH=7"}) {
		t.Fatalf("OnPrice got %v", l)
	}
}

func TestSkipOwnPrices(t *testing.T) {
	url, p := testenv.RedisURL(t), prefix(t)
	pr := newPrices()
	b := stream.NewBroker(stream.Options{})
	self := open(t, url, Options{Prefix: p, Broker: b, OnPrice: pr.on, SkipOwnPrices: true})
	waitLoaded(t, self)
	sub, _ := b.Subscribe(stream.SubscribeOptions{})
	defer sub.Close()
	other := open(t, url, Options{Prefix: p})
	self.PriceChanged(context.Background(), "BTC", decimal.Zero, decimal.FromInt(1))
	if ev := next(t, sub); ev.AssetID != "BTC" { // on the stream all the same
		t.Fatalf("event %+v", ev)
	}
	other.PriceChanged(context.Background(), "ETH", decimal.Zero, decimal.FromInt(2))
	pr.wait(t)
	if ev := next(t, sub); ev.AssetID != "ETH" {
		t.Fatalf("event %+v", ev)
	}
	if l := pr.list(); !slices.Equal(l, []string{"ETH=2"}) {
		t.Fatalf("OnPrice got %v", l)
	}
}

func TestPublishNeverBlocks(t *testing.T) {
	// Redis unreachable and a queue of 2: every Publish returns, and every
	// event is counted as dropped, either for the full queue or for the
	// failed write.
	b := open(t, "redis://127.0.0.1:1/0?dial_timeout=100ms", Options{Buffer: 2})
	for range 50 {
		b.Publish(trading.Event{Kind: trading.EventBalance, Username: "alice", Currency: "USD"})
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	full, failed := counter(t, b.droppedFull), counter(t, b.droppedRedis)
	if full+failed != 50 || counter(t, b.published) != 0 {
		t.Fatalf("dropped: %v full, %v failed", full, failed)
	}
}

func TestLostEventsRebase(t *testing.T) {
	// A publisher that dropped events writes a gap marker first: every
	// reader rebases its broker, whose clients reconnect and re-read.
	url, p := testenv.RedisURL(t), prefix(t)
	broker := stream.NewBroker(stream.Options{})
	reader := open(t, url, Options{Prefix: p, Broker: broker})
	waitLoaded(t, reader)
	sub, _ := broker.Subscribe(stream.SubscribeOptions{Username: "alice"})
	defer sub.Close()

	pub, err := New(url, Options{Prefix: p, Buffer: 1, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	pub.Publish(trading.Event{Kind: trading.EventBalance, Username: "alice", Currency: "USD"})
	pub.Publish(trading.Event{Kind: trading.EventBalance, Username: "alice", Currency: "EUR"}) // the queue is full
	pub.Start()
	select {
	case _, open := <-sub.Events():
		if open || !sub.Dropped() {
			t.Fatalf("subscription open %v, dropped %v", open, sub.Dropped())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no rebase within 5 s")
	}
	entries, err := pub.rdb.XRange(context.Background(), pub.Key(), "-", "+").Result()
	if err != nil || len(entries) != 2 || entries[0].Values[fKind] != kindGap {
		t.Fatalf("entries %v, %v", entries, err)
	}
	gap, _ := ID(entries[0].ID)
	last, _ := ID(entries[1].ID)
	waitPosition(t, broker, last)
	s, c := broker.Subscribe(stream.SubscribeOptions{Username: "alice", Resume: true, LastEventID: gap})
	s.Close()
	if c.Reset || len(c.Events) != 1 || c.Events[0].Currency != "USD" {
		t.Fatalf("after the gap: %+v", c)
	}
	if v := counter(t, reader.rebases); v != 2 { // the load at start and the gap
		t.Fatalf("rebases %v", v)
	}
	if v := counter(t, pub.droppedFull); v != 1 {
		t.Fatalf("dropped %v", v)
	}
}

func TestReaderRecovers(t *testing.T) {
	// The reader's connection is killed and its last entry deleted (Redis
	// restarted empty): it reads again, rebased, and gets new events.
	url, p := testenv.RedisURL(t), prefix(t)
	pub := open(t, url, Options{Prefix: p})
	broker := stream.NewBroker(stream.Options{})
	waitLoaded(t, open(t, url, Options{Prefix: p, Broker: broker}))
	sub, _ := broker.Subscribe(stream.SubscribeOptions{Username: "alice"})
	pub.Publish(trading.Event{Kind: trading.EventBalance, Username: "alice", Currency: "USD"})
	first := next(t, sub)

	ctx := context.Background()
	if err := pub.rdb.Del(ctx, pub.Key()).Err(); err != nil {
		t.Fatal(err)
	}
	if err := pub.rdb.ClientKillByFilter(ctx, "TYPE", "normal").Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case _, open := <-sub.Events():
		if open || !sub.Dropped() {
			t.Fatalf("subscription open %v, dropped %v", open, sub.Dropped())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no rebase within 10 s")
	}
	sub, _ = broker.Subscribe(stream.SubscribeOptions{Username: "alice"})
	defer sub.Close()
	pub.Publish(trading.Event{Kind: trading.EventBalance, Username: "alice", Currency: "EUR"})
	if ev := next(t, sub); ev.Currency != "EUR" || ev.ID <= first.ID {
		t.Fatalf("after recovery: %+v (first %d)", ev, first.ID)
	}
}

func TestStalePricesSkipTheEngine(t *testing.T) {
	// A price changed a minute ago (a backlog after an outage) goes to the
	// stream, not to the engine: it would execute orders at a price long
	// gone.
	url, p := testenv.RedisURL(t), prefix(t)
	pr := newPrices()
	b := stream.NewBroker(stream.Options{})
	waitLoaded(t, open(t, url, Options{Prefix: p, Broker: b, OnPrice: pr.on}))
	sub, _ := b.Subscribe(stream.SubscribeOptions{})
	defer sub.Close()
	past := open(t, url, Options{Prefix: p, Now: func() time.Time { return time.Now().Add(-time.Minute) }})
	past.PriceChanged(context.Background(), "BTC", decimal.Zero, decimal.FromInt(1))
	if ev := next(t, sub); ev.AssetID != "BTC" {
		t.Fatalf("event %+v", ev)
	}
	open(t, url, Options{Prefix: p}).PriceChanged(context.Background(), "ETH", decimal.Zero, decimal.FromInt(2))
	pr.wait(t)
	if ev := next(t, sub); ev.AssetID != "ETH" {
		t.Fatalf("event %+v", ev)
	}
	if l := pr.list(); !slices.Equal(l, []string{"ETH=2"}) {
		t.Fatalf("OnPrice got %v", l)
	}
}

func TestOlderOrderVersionDropped(t *testing.T) {
	// The replica that placed an order writes its event after another
	// replica wrote the fill's: the reader keeps the fill.
	url, p := testenv.RedisURL(t), prefix(t)
	b := stream.NewBroker(stream.Options{})
	waitLoaded(t, open(t, url, Options{Prefix: p, Broker: b}))
	sub, _ := b.Subscribe(stream.SubscribeOptions{Username: "alice"})
	defer sub.Close()
	placing, filling := open(t, url, Options{Prefix: p}), open(t, url, Options{Prefix: p})
	queued := testOrder()
	queued.Version = 1
	done := testOrder()
	done.Version, done.Status = 2, entity.StatusCompleted
	filling.Publish(trading.Event{Kind: trading.EventOrder, Username: "alice", Order: done})
	if ev := next(t, sub); !strings.Contains(string(ev.JSON()), `"status":"completed"`) {
		t.Fatalf("first event %s", ev.JSON())
	}
	placing.Publish(trading.Event{Kind: trading.EventOrder, Username: "alice", Order: queued})
	placing.Publish(trading.Event{Kind: trading.EventBalance, Username: "alice", Currency: "USD"})
	if ev := next(t, sub); ev.Kind != stream.KindBalance {
		t.Fatalf("the older version was not dropped: %s %s", ev.Kind, ev.JSON())
	}
	// A later version passes.
	again := testOrder()
	again.Version, again.Status = 3, entity.StatusCompleted
	placing.Publish(trading.Event{Kind: trading.EventOrder, Username: "alice", Order: again})
	if ev := next(t, sub); ev.Kind != stream.KindOrder {
		t.Fatalf("later version: %s", ev.Kind)
	}
}
