package multiproc

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/testenv"
)

// TestReplicasStreamAcrossProcesses: a stream on order replica 1 carries a
// deposit made through user replica 2, an order placed through order
// replica 2, the price set through inventory replica 2 and the fill it
// causes; order replica 2's stream resumes from replica 1's ids. The
// engines' sweeps are an hour away, so the fill comes from the event bus.
func TestReplicasStreamAcrossProcesses(t *testing.T) {
	c := startCluster(t, clusterOptions{redis: testenv.RedisURL(t), args: map[string][]string{"order": {"--engine-interval", "1h"}}})
	c.newAsset("CLS1", "100")
	tok := c.newUser("cl_stream", "")
	orderA, orderB := c.replicas["order"][0].url, c.replicas["order"][1].url

	onA := testenv.OpenStream(t, orderA, tok, "")
	start := testenv.NextEvent(t, onA)
	// Each process publishes on its own, so each step waits for its events
	// before the next step acts: events of different processes are ordered
	// by when they reach Redis.
	var got []testenv.SSEEvent
	testenv.Call(t, "POST", c.replicas["user"][1].url+"/api/v1/balance/deposit", tok, map[string]any{"amount": "1000"}).Want(t, 201)
	got = append(got, testenv.NextEvent(t, onA))
	placed := testenv.Call(t, "POST", orderB+"/api/v1/orders", tok, map[string]any{"order_type": "limit_buy", "asset_id": "CLS1",
		"quantity": "2", "limit_price": "90"}).Want(t, 201)
	id, _ := placed["data"].(map[string]any)["order_id"].(string)
	got = append(got, testenv.NextEvent(t, onA), testenv.NextEvent(t, onA))
	testenv.Call(t, "PUT", c.replicas["inventory"][1].url+"/api/v1/admin/assets/CLS1/price", c.admin,
		map[string]any{"price_usd": "89"}).Want(t, 200)
	for range 3 {
		got = append(got, testenv.NextEvent(t, onA))
	}
	kinds := make([]string, len(got))
	for i, ev := range got {
		kinds[i] = ev.Kind
		prev := start.ID
		if i > 0 {
			prev = got[i-1].ID
		}
		if ev.ID <= prev {
			t.Fatalf("event %d: id %d after %d", i, ev.ID, prev)
		}
	}
	if want := []string{"balance", "order", "balance", "price", "order", "balance"}; !slices.Equal(kinds, want) {
		t.Fatalf("events %v, want %v: %v", kinds, want, got)
	}
	// The balance is read when the event is sent: it may include the order.
	if !strings.HasPrefix(got[0].Data, `{"currency":"USD","asset_id":"","balance":{"currency":"USD","current_balance":"`) {
		t.Fatalf("deposit event %s", got[0].Data)
	}
	for i, status := range map[int]string{1: "queued", 4: "completed"} {
		if !strings.Contains(got[i].Data, `"order_id":"`+id+`"`) || !strings.Contains(got[i].Data, `"status":"`+status+`"`) {
			t.Fatalf("order event %d: %s, want %s %s", i, got[i].Data, id, status)
		}
	}
	if !strings.HasPrefix(got[3].Data, `{"asset_id":"CLS1","price_usd":"89.00",`) {
		t.Fatalf("price event %s", got[3].Data)
	}

	// Replica 2 numbers the same events alike: a client resumes there.
	onB := testenv.OpenStream(t, orderB, tok, strconv.FormatUint(got[0].ID, 10))
	for i := 1; i < len(got); i++ {
		if ev := testenv.NextEvent(t, onB); ev.ID != got[i].ID || ev.Kind != got[i].Kind || ev.Kind == "order" && ev.Data != got[i].Data {
			t.Fatalf("resumed on replica 2, event %d: %v, want %v", i, ev, got[i])
		}
	}
}

// TestReplicasTriggerLatency places a limit order through order replica 1
// and sets the price that crosses it through inventory replica 2, 100
// times: p99 of the time from the price write's acknowledgement to the
// fill, seen on replica 1's stream, stays under 250 ms. The engines' sweeps
// are an hour away.
func TestReplicasTriggerLatency(t *testing.T) {
	if testenv.RaceEnabled {
		t.Skip("a latency measurement: run without the race detector (scripts/test does)")
	}
	c := startCluster(t, clusterOptions{redis: testenv.RedisURL(t), args: map[string][]string{"order": {"--engine-interval", "1h"}}})
	c.newAsset("CLL1", "100")
	tok := c.newUser("cl_latency", "10000")
	orderA, invB := c.replicas["order"][0].url, c.replicas["inventory"][1].url
	events := testenv.OpenStream(t, orderA, tok, "")
	testenv.NextEvent(t, events) // the position

	// The first trials warm the connections and DynamoDB Local up; the
	// price goes back up after each trial, and the next one starts a
	// moment later, as price ticks come apart.
	const warmup, trials = 5, 100
	lat := make([]time.Duration, 0, trials)
	for i := range warmup + trials {
		placed := testenv.Call(t, "POST", orderA+"/api/v1/orders", tok, map[string]any{"order_type": "limit_buy",
			"asset_id": "CLL1", "quantity": "1", "limit_price": "90"}).Want(t, 201)
		id, _ := placed["data"].(map[string]any)["order_id"].(string)
		testenv.Call(t, "PUT", invB+"/api/v1/admin/assets/CLL1/price", c.admin, map[string]any{"price_usd": "89"}).Want(t, 200)
		written := time.Now()
		for {
			ev := testenv.NextEvent(t, events)
			if ev.Kind == "order" && strings.Contains(ev.Data, `"order_id":"`+id+`"`) && strings.Contains(ev.Data, `"status":"completed"`) {
				break
			}
		}
		if took := time.Since(written); i >= warmup {
			lat = append(lat, took)
		} else if i == 0 {
			t.Logf("first fill after %v", took)
		}
		testenv.Call(t, "PUT", invB+"/api/v1/admin/assets/CLL1/price", c.admin, map[string]any{"price_usd": "100"}).Want(t, 200)
		time.Sleep(50 * time.Millisecond)
	}
	slices.Sort(lat)
	at := func(q int) time.Duration { return lat[(trials*q+99)/100-1].Round(100 * time.Microsecond) }
	t.Logf("price write (inventory replica 2) to fill (order replica 1), %d trials: p50 %v, p99 %v, max %v",
		trials, at(50), at(99), at(100))
	if at(99) >= 250*time.Millisecond {
		t.Errorf("p99 %v, want under 250 ms", at(99))
	}
}
