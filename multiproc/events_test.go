package multiproc

import (
	"bufio"
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/testenv"
)

// sseEvent is one event of a live stream.
type sseEvent struct {
	id         uint64
	kind, data string
}

// openStream opens GET /api/v1/stream on base with the bearer token and,
// when not empty, Last-Event-ID, and returns its events, the first being
// the position (kind ""). The stream ends with the test.
func openStream(t *testing.T, base, token, lastID string) <-chan sseEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("stream on %s: %d", base, resp.StatusCode)
	}
	out := make(chan sseEvent, 256)
	go func() {
		defer resp.Body.Close()
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		seen := false
		for sc.Scan() {
			switch line := sc.Text(); {
			case line == "":
				if seen {
					out <- ev
				}
				ev, seen = sseEvent{}, false
			case strings.HasPrefix(line, "id: "):
				ev.id, _ = strconv.ParseUint(line[4:], 10, 64)
				seen = true
			case strings.HasPrefix(line, "event: "):
				ev.kind = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[6:]
			}
		}
	}()
	return out
}

// nextEvent returns the next event of a stream, failing after 10 s.
func nextEvent(t *testing.T, events <-chan sseEvent) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok {
			t.Fatal("the stream ended")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
	}
	panic("unreachable")
}

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

	onA := openStream(t, orderA, tok, "")
	start := nextEvent(t, onA)
	// Each process publishes on its own, so each step waits for its events
	// before the next step acts: events of different processes are ordered
	// by when they reach Redis.
	var got []sseEvent
	testenv.Call(t, "POST", c.replicas["user"][1].url+"/api/v1/balance/deposit", tok, map[string]any{"amount": "1000"}).Want(t, 201)
	got = append(got, nextEvent(t, onA))
	placed := testenv.Call(t, "POST", orderB+"/api/v1/orders", tok, map[string]any{"order_type": "limit_buy", "asset_id": "CLS1",
		"quantity": "2", "limit_price": "90"}).Want(t, 201)
	id, _ := placed["data"].(map[string]any)["order_id"].(string)
	got = append(got, nextEvent(t, onA), nextEvent(t, onA))
	testenv.Call(t, "PUT", c.replicas["inventory"][1].url+"/api/v1/admin/assets/CLS1/price", c.admin,
		map[string]any{"price_usd": "89"}).Want(t, 200)
	for range 3 {
		got = append(got, nextEvent(t, onA))
	}
	kinds := make([]string, len(got))
	for i, ev := range got {
		kinds[i] = ev.kind
		prev := start.id
		if i > 0 {
			prev = got[i-1].id
		}
		if ev.id <= prev {
			t.Fatalf("event %d: id %d after %d", i, ev.id, prev)
		}
	}
	if want := []string{"balance", "order", "balance", "price", "order", "balance"}; !slices.Equal(kinds, want) {
		t.Fatalf("events %v, want %v: %v", kinds, want, got)
	}
	// The balance is read when the event is sent: it may include the order.
	if !strings.HasPrefix(got[0].data, `{"currency":"USD","asset_id":"","balance":{"currency":"USD","current_balance":"`) {
		t.Fatalf("deposit event %s", got[0].data)
	}
	for i, status := range map[int]string{1: "queued", 4: "completed"} {
		if !strings.Contains(got[i].data, `"order_id":"`+id+`"`) || !strings.Contains(got[i].data, `"status":"`+status+`"`) {
			t.Fatalf("order event %d: %s, want %s %s", i, got[i].data, id, status)
		}
	}
	if !strings.HasPrefix(got[3].data, `{"asset_id":"CLS1","price_usd":"89.00",`) {
		t.Fatalf("price event %s", got[3].data)
	}

	// Replica 2 numbers the same events alike: a client resumes there.
	onB := openStream(t, orderB, tok, strconv.FormatUint(got[0].id, 10))
	for i := 1; i < len(got); i++ {
		if ev := nextEvent(t, onB); ev.id != got[i].id || ev.kind != got[i].kind || ev.kind == "order" && ev.data != got[i].data {
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
	events := openStream(t, orderA, tok, "")
	nextEvent(t, events) // the position

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
			ev := nextEvent(t, events)
			if ev.kind == "order" && strings.Contains(ev.data, `"order_id":"`+id+`"`) && strings.Contains(ev.data, `"status":"completed"`) {
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
