package stream

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/trading"
)

var testNow = time.Date(2025, 3, 14, 15, 9, 26, 535000000, time.UTC)

func newTestBroker(opts Options) *Broker {
	if opts.FirstID == 0 {
		opts.FirstID = 1
	}
	opts.Now = func() time.Time { return testNow }
	return NewBroker(opts)
}

func testOrder(user, id string, st entity.OrderStatus) *entity.Order {
	return &entity.Order{OrderID: id, Username: user, OrderType: entity.LimitBuy, AssetID: "BTC",
		Quantity: decimal.MustParse("0.01"), Status: st, Currency: entity.USD,
		LimitPrice: ptr(decimal.MustParse("60000")), TimeInForce: entity.GTC,
		StatusHistory: []entity.StatusChange{{Status: st, At: entity.At(testNow)}},
		CreatedAt:     entity.At(testNow), UpdatedAt: entity.At(testNow)}
}

func ptr[T any](v T) *T { return &v }

func orderEvent(user, id string) trading.Event {
	return trading.Event{Kind: trading.EventOrder, Username: user, Order: testOrder(user, id, entity.StatusQueued), AssetID: "BTC"}
}

func balanceEvent(user string) trading.Event {
	return trading.Event{Kind: trading.EventBalance, Username: user, Currency: "USD", AssetID: "BTC"}
}

// drain returns what is buffered in s without blocking.
func drain(s *Subscription) []Event {
	var out []Event
	for {
		select {
		case ev, ok := <-s.Events():
			if !ok {
				return out
			}
			out = append(out, ev)
		default:
			return out
		}
	}
}

// summary renders events as "id:kind:user:asset" for exact comparisons.
func summary(evs []Event) []string {
	out := make([]string, 0, len(evs))
	for _, e := range evs {
		out = append(out, fmt.Sprintf("%d:%s:%s:%s", e.ID, e.Kind, e.Username, e.AssetID))
	}
	return out
}

func TestFanOutIsolation(t *testing.T) {
	b := newTestBroker(Options{})
	alice1, _ := b.Subscribe(SubscribeOptions{Username: "alice"})
	alice2, _ := b.Subscribe(SubscribeOptions{Username: "alice"})
	bob, _ := b.Subscribe(SubscribeOptions{Username: "bob"})
	carolETH, _ := b.Subscribe(SubscribeOptions{Username: "carol", Assets: []string{"ETH"}})

	b.Publish(orderEvent("alice", "order-a-0001"))
	b.Publish(balanceEvent("alice"))
	b.Publish(orderEvent("bob", "order-b-0001"))
	b.PublishPrice("BTC", decimal.MustParse("59000"))
	b.PublishPrice("ETH", decimal.MustParse("3100.5"))
	b.Publish(trading.Event{Kind: "unknown", Username: "alice"})          // ignored
	b.Publish(trading.Event{Kind: trading.EventOrder, Username: "alice"}) // no order: ignored
	b.Publish(trading.Event{Kind: trading.EventBalance, Currency: "USD"}) // no user: ignored
	b.Publish(balanceEvent("dave"))                                       // nobody listening

	aliceWant := []string{"1:order:alice:BTC", "2:balance:alice:BTC", "4:price::BTC", "5:price::ETH"}
	for _, tc := range []struct {
		name string
		sub  *Subscription
		want []string
	}{
		{"alice first", alice1, aliceWant},
		{"alice second", alice2, aliceWant},
		{"bob", bob, []string{"3:order:bob:BTC", "4:price::BTC", "5:price::ETH"}},
		{"carol, ETH only", carolETH, []string{"5:price::ETH"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := summary(drain(tc.sub)); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	if st := b.Stats(); st != (Stats{LastID: 6, Retained: 6, Subscriptions: 4}) {
		t.Fatalf("stats %+v", st)
	}
}

func TestEventJSON(t *testing.T) {
	b := newTestBroker(Options{})
	s, _ := b.Subscribe(SubscribeOptions{Username: "alice"})
	o := testOrder("alice", "order-a-0001", entity.StatusQueued)
	b.Publish(trading.Event{Kind: trading.EventOrder, Username: "alice", Order: o, AssetID: "BTC"})
	// The event is a snapshot: later changes of the order do not reach it.
	o.Status = entity.StatusCompleted
	o.StatusHistory[0].Status = entity.StatusCompleted
	b.Publish(balanceEvent("alice"))
	b.PublishPrice("BTC", decimal.MustParse("59000"))
	evs := drain(s)
	if len(evs) != 3 {
		t.Fatalf("got %d events", len(evs))
	}
	want, err := json.Marshal(testOrder("alice", "order-a-0001", entity.StatusQueued).Response())
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{
		string(want),
		`{"currency":"USD","asset_id":"BTC"}`,
		`{"asset_id":"BTC","price_usd":"59000.00","at":"` + entity.At(testNow).UTC().Format(entity.TimeLayout) + `"}`,
	} {
		if got := string(evs[i].JSON()); got != want {
			t.Errorf("event %d data\n got %s\nwant %s", i, got, want)
		}
		if got := string(evs[i].JSON()); got != want { // cached
			t.Errorf("event %d data (second call) %s", i, got)
		}
	}
	if evs[0].Order.Status != entity.StatusQueued || !strings.Contains(string(evs[0].JSON()), `"status":"queued"`) {
		t.Fatalf("order event changed after publication: %s", evs[0].JSON())
	}
}

func TestOrdering(t *testing.T) {
	b := newTestBroker(Options{FirstID: 1000, BufferSize: 1024})
	alice, c := b.Subscribe(SubscribeOptions{Username: "alice"})
	if c.Cursor != 999 {
		t.Fatalf("cursor %d, want 999", c.Cursor)
	}
	const perUser = 200
	var wg sync.WaitGroup
	for _, u := range []string{"alice", "bob", "carol"} {
		wg.Go(func() {
			for i := range perUser {
				b.Publish(orderEvent(u, fmt.Sprintf("order-%s-%04d", u, i)))
			}
		})
	}
	wg.Wait()
	evs := drain(alice)
	if len(evs) != perUser {
		t.Fatalf("alice got %d events, want %d", len(evs), perUser)
	}
	for i, ev := range evs {
		if want := fmt.Sprintf("order-alice-%04d", i); ev.Order.OrderID != want || ev.Username != "alice" {
			t.Fatalf("event %d: order %s of %s, want %s", i, ev.Order.OrderID, ev.Username, want)
		}
		if i > 0 && ev.ID <= evs[i-1].ID {
			t.Fatalf("event %d: id %d after %d", i, ev.ID, evs[i-1].ID)
		}
		if ev.ID < 1000 || ev.ID >= 1000+3*perUser {
			t.Fatalf("event %d: id %d outside [1000, %d)", i, ev.ID, 1000+3*perUser)
		}
	}
	if st := b.Stats(); st.LastID != 1000+3*perUser-1 {
		t.Fatalf("last id %d", st.LastID)
	}
}

func TestResume(t *testing.T) {
	// History of 8; 12 events: ids 1..12, of which 5..12 are retained.
	//  1 alice  2 bob  3 price BTC  4 alice  5 bob  6 price ETH  7 alice
	//  8 bob  9 price BTC  10 alice  11 bob  12 price ETH
	b := newTestBroker(Options{HistorySize: 8})
	for i := range 4 {
		b.Publish(orderEvent("alice", fmt.Sprintf("order-a-%04d", i)))
		b.Publish(orderEvent("bob", fmt.Sprintf("order-b-%04d", i)))
		b.PublishPrice([]string{"BTC", "ETH"}[i%2], decimal.FromInt(int64(100+i)))
	}
	for _, tc := range []struct {
		name   string
		opts   SubscribeOptions
		want   []string
		reset  bool
		cursor uint64
	}{
		{"no resume", SubscribeOptions{Username: "alice"}, nil, false, 12},
		{"up to date", SubscribeOptions{Username: "alice", Resume: true, LastEventID: 12}, nil, false, 12},
		{"oldest retained", SubscribeOptions{Username: "alice", Resume: true, LastEventID: 4},
			[]string{"6:price::ETH", "7:order:alice:BTC", "9:price::BTC", "10:order:alice:BTC", "12:price::ETH"}, false, 12},
		{"middle", SubscribeOptions{Username: "alice", Resume: true, LastEventID: 9},
			[]string{"10:order:alice:BTC", "12:price::ETH"}, false, 12},
		{"bob, filtered prices", SubscribeOptions{Username: "bob", Assets: []string{"BTC"}, Resume: true, LastEventID: 6},
			[]string{"8:order:bob:BTC", "9:price::BTC", "11:order:bob:BTC"}, false, 12},
		{"evicted", SubscribeOptions{Username: "alice", Resume: true, LastEventID: 3}, nil, true, 12},
		{"from another process", SubscribeOptions{Username: "alice", Resume: true, LastEventID: 13}, nil, true, 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := b.Subscribe(tc.opts)
			defer s.Close()
			if got := summary(c.Events); !slices.Equal(got, tc.want) || c.Reset != tc.reset || c.Cursor != tc.cursor {
				t.Fatalf("catch-up %v reset %v cursor %d, want %v %v %d", got, c.Reset, c.Cursor, tc.want, tc.reset, tc.cursor)
			}
		})
	}
}

func TestResumeEmptyHistory(t *testing.T) {
	b := newTestBroker(Options{FirstID: 50})
	for _, tc := range []struct {
		last  uint64
		reset bool
	}{{49, false}, {48, true}, {50, true}} {
		s, c := b.Subscribe(SubscribeOptions{Username: "alice", Resume: true, LastEventID: tc.last})
		if c.Reset != tc.reset || len(c.Events) != 0 || c.Cursor != 49 {
			t.Errorf("last %d: reset %v events %d cursor %d, want reset %v", tc.last, c.Reset, len(c.Events), c.Cursor, tc.reset)
		}
		s.Close()
	}
}

func TestResumeIsSeamless(t *testing.T) {
	// Events published while a client reconnects are either in the
	// catch-up or on the channel, never both, never neither.
	b := newTestBroker(Options{BufferSize: 4096})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 1000 {
			b.Publish(orderEvent("alice", fmt.Sprintf("order-a-%04d", i)))
		}
	})
	s, c := b.Subscribe(SubscribeOptions{Username: "alice", Resume: true, LastEventID: 0})
	wg.Wait()
	if c.Reset {
		t.Fatal("reset")
	}
	got := append(c.Events, drain(s)...)
	if len(got) != 1000 {
		t.Fatalf("got %d events, want 1000", len(got))
	}
	for i, ev := range got {
		if ev.ID != uint64(i+1) {
			t.Fatalf("event %d has id %d", i, ev.ID)
		}
	}
}

func TestSlowSubscriberDropped(t *testing.T) {
	b := newTestBroker(Options{BufferSize: 2})
	slow, _ := b.Subscribe(SubscribeOptions{Username: "alice"})
	bob, _ := b.Subscribe(SubscribeOptions{Username: "bob"})
	// Nobody reads: Publish must still return at once.
	for i := range 5 {
		b.Publish(orderEvent("alice", fmt.Sprintf("order-a-%04d", i)))
	}
	b.Publish(orderEvent("bob", "order-b-0000"))
	got := drain(slow)
	if s := summary(got); !slices.Equal(s, []string{"1:order:alice:BTC", "2:order:alice:BTC"}) {
		t.Fatalf("slow subscriber got %v", s)
	}
	if _, open := <-slow.Events(); open {
		t.Fatal("the slow subscription's channel is still open")
	}
	if !slow.Dropped() || bob.Dropped() {
		t.Fatalf("dropped: slow %v bob %v", slow.Dropped(), bob.Dropped())
	}
	if s := summary(drain(bob)); !slices.Equal(s, []string{"6:order:bob:BTC"}) {
		t.Fatalf("bob got %v", s)
	}
	if st := b.Stats(); st.Dropped != 1 || st.Subscriptions != 1 {
		t.Fatalf("stats %+v", st)
	}
	// The dropped client reconnects from the last id it saw and gets the rest.
	again, c := b.Subscribe(SubscribeOptions{Username: "alice", Resume: true, LastEventID: got[len(got)-1].ID})
	defer again.Close()
	if s := summary(c.Events); c.Reset || !slices.Equal(s, []string{"3:order:alice:BTC", "4:order:alice:BTC", "5:order:alice:BTC"}) {
		t.Fatalf("catch-up %v reset %v", s, c.Reset)
	}
	slow.Close() // idempotent after a drop
}

func TestClose(t *testing.T) {
	b := newTestBroker(Options{})
	s, _ := b.Subscribe(SubscribeOptions{Username: "alice"})
	b.Publish(orderEvent("alice", "order-a-0001"))
	b.Close()
	b.Close()
	select {
	case <-b.Done():
	default:
		t.Fatal("Done not closed")
	}
	if got := summary(drain(s)); !slices.Equal(got, []string{"1:order:alice:BTC"}) {
		t.Fatalf("got %v", got)
	}
	if _, open := <-s.Events(); open || s.Dropped() {
		t.Fatalf("after Close: open %v dropped %v", open, s.Dropped())
	}
	// Later events are numbered and kept, but there are no subscriptions.
	b.Publish(orderEvent("alice", "order-a-0002"))
	late, c := b.Subscribe(SubscribeOptions{Username: "alice", Resume: true, LastEventID: 1})
	if _, open := <-late.Events(); open {
		t.Fatal("subscription on a closed broker is open")
	}
	if got := summary(c.Events); !slices.Equal(got, []string{"2:order:alice:BTC"}) || c.Cursor != 2 {
		t.Fatalf("catch-up %v cursor %d", got, c.Cursor)
	}
	if st := b.Stats(); st != (Stats{LastID: 2, Retained: 2}) {
		t.Fatalf("stats %+v", st)
	}
	late.Close()
	s.Close()
}

func TestFirstIDFromClock(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC)
	b := NewBroker(Options{Now: func() time.Time { return at }})
	b.PublishPrice("BTC", decimal.FromInt(1))
	if got, want := b.Stats().LastID, uint64(at.UnixMicro()); got != want {
		t.Fatalf("first id %d, want %d", got, want)
	}
}

// appended is an event numbered by a bus.
func appended(id uint64, kind, user, asset string) Event {
	return Event{ID: id, Kind: kind, Username: user, AssetID: asset, Currency: "USD", PriceUSD: "1.00", At: testNow}
}

func TestAppendSparseIDs(t *testing.T) {
	// A broker fed by a bus: ids increase but are not contiguous, and the
	// history starts after the position the bus rebased it to.
	b := newTestBroker(Options{HistorySize: 4})
	b.Rebase(1000)
	live, _ := b.Subscribe(SubscribeOptions{Username: "alice"})
	defer live.Close()
	for _, ev := range []Event{appended(1010, KindOrder, "alice", "BTC"), appended(1020, KindPrice, "", "ETH"),
		appended(1030, KindBalance, "bob", "BTC"), appended(1040, KindBalance, "alice", "")} {
		if !b.Append(ev, nil) {
			t.Fatalf("append %d refused", ev.ID)
		}
	}
	if b.Append(appended(1040, KindPrice, "", "BTC"), nil) || b.Append(appended(900, KindPrice, "", "BTC"), nil) {
		t.Fatal("an id not above the last one was appended")
	}
	if got := summary(drain(live)); !slices.Equal(got, []string{"1010:order:alice:BTC", "1020:price::ETH", "1040:balance:alice:"}) {
		t.Fatalf("live %v", got)
	}
	// data given to Append is the event's JSON.
	b.Append(appended(1050, KindOrder, "alice", "BTC"), []byte(`{"order_id":"x"}`))
	for _, tc := range []struct {
		name    string
		last    uint64
		want    []string
		reset   bool
		unknown bool
	}{
		{"the first position", 1000, nil, true, false}, // 1010 left the ring of 4 when 1050 came
		{"evicted", 1010, []string{"1020:price::ETH", "1040:balance:alice:", "1050:order:alice:BTC"}, false, false},
		{"middle", 1030, []string{"1040:balance:alice:", "1050:order:alice:BTC"}, false, false},
		{"never issued, in range", 1035, nil, true, true},
		{"never issued, ahead", 1060, nil, true, true},
		{"before the position", 999, nil, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := b.Subscribe(SubscribeOptions{Username: "alice", Resume: true, LastEventID: tc.last})
			defer s.Close()
			if got := summary(c.Events); !slices.Equal(got, tc.want) || c.Reset != tc.reset || c.Unknown != tc.unknown || c.Cursor != 1050 {
				t.Fatalf("catch-up %v reset %v unknown %v cursor %d, want %v %v %v 1050", got, c.Reset, c.Unknown, c.Cursor, tc.want, tc.reset, tc.unknown)
			}
		})
	}
	s, c := b.Subscribe(SubscribeOptions{Username: "alice", Resume: true, LastEventID: 1040})
	defer s.Close()
	if len(c.Events) != 1 || string(c.Events[0].JSON()) != `{"order_id":"x"}` {
		t.Fatalf("appended data: %v", summary(c.Events))
	}
}

func TestRebaseDropsSubscriptions(t *testing.T) {
	b := newTestBroker(Options{})
	b.Rebase(10)
	b.Append(appended(20, KindOrder, "alice", "BTC"), nil)
	s, _ := b.Subscribe(SubscribeOptions{Username: "alice"})
	b.Rebase(30) // events between 20 and 30 are unknown
	if _, open := <-s.Events(); open || !s.Dropped() {
		t.Fatalf("after Rebase: open %v dropped %v", open, s.Dropped())
	}
	// The client reconnects from 20: before the new position, so a reset.
	again, c := b.Subscribe(SubscribeOptions{Username: "alice", Resume: true, LastEventID: 20})
	defer again.Close()
	if !c.Reset || c.Unknown || c.Cursor != 30 || len(c.Events) != 0 {
		t.Fatalf("catch-up %+v", c)
	}
	if st := b.Stats(); st != (Stats{LastID: 30, Subscriptions: 1, Dropped: 1}) {
		t.Fatalf("stats %+v", st)
	}
}

func TestResumeWaitsForTheBus(t *testing.T) {
	// A client saw id 20 on another replica; this one receives it a moment
	// later: the resume waits for it instead of reporting it unknown.
	b := newTestBroker(Options{ResumeWait: time.Minute})
	b.Rebase(10)
	type result struct {
		s *Subscription
		c Catchup
	}
	done := make(chan result)
	go func() {
		s, c := b.Subscribe(SubscribeOptions{Username: "alice", Resume: true, LastEventID: 20})
		done <- result{s, c}
	}()
	for waiting := false; !waiting; { // until Subscribe waits
		time.Sleep(time.Millisecond)
		b.mu.Lock()
		waiting = b.advanced != nil
		b.mu.Unlock()
	}
	b.Append(appended(15, KindOrder, "alice", "BTC"), nil)
	select {
	case r := <-done:
		t.Fatalf("Subscribe returned before id 20 arrived: %+v", r.c)
	case <-time.After(10 * time.Millisecond):
	}
	b.Append(appended(20, KindOrder, "alice", "BTC"), nil)
	r := <-done
	defer r.s.Close()
	if r.c.Reset || r.c.Cursor < 20 {
		t.Fatalf("catch-up %+v", r.c)
	}
	b.Append(appended(25, KindOrder, "alice", "ETH"), nil)
	if got := summary(append(r.c.Events, drain(r.s)...)); !slices.Equal(got, []string{"25:order:alice:ETH"}) {
		t.Fatalf("after the resume: %v", got)
	}
	// Without the wait (or once it is over) an id ahead is unknown.
	nb := newTestBroker(Options{})
	s, c := nb.Subscribe(SubscribeOptions{Username: "alice", Resume: true, LastEventID: 5})
	defer s.Close()
	if !c.Reset || !c.Unknown {
		t.Fatalf("no wait: %+v", c)
	}
	short := newTestBroker(Options{ResumeWait: time.Millisecond})
	s2, c2 := short.Subscribe(SubscribeOptions{Username: "alice", Resume: true, LastEventID: 5})
	defer s2.Close()
	if !c2.Reset || !c2.Unknown {
		t.Fatalf("wait over: %+v", c2)
	}
}
