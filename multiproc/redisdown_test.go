package multiproc

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/testenv"
)

// TestReplicasRedisDown runs the cluster on a Redis of its own and kills
// that Redis while six clients place market buys through both gateways:
// every buy is still placed (201), every process reports Redis as degraded
// in a 200 readiness answer, and when Redis is back, readiness is "ready"
// again and buys go on. The balances are exact and the ledger checks out.
func TestReplicasRedisDown(t *testing.T) {
	testenv.RedisURL(t) // the same skip rule as the other Redis tests
	redis := testenv.StartRedis(t)
	c := startCluster(t, clusterOptions{redis: redis.URL()})
	c.newAsset("CLR1", "10")
	const clients = 6
	tokens := make([]string, clients)
	for i := range tokens {
		tokens[i] = c.newUser(fmt.Sprintf("cl_redis_%d", i), "10000")
	}

	var placed [clients]atomic.Int64
	var phase atomic.Int32 // 0 with Redis, 1 without, 2 with it again
	var during [3]atomic.Int64
	stop := make(chan struct{})
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	for u := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				r := do("POST", c.gw(u+n)+"/api/v1/orders", tokens[u],
					map[string]any{"order_type": "market_buy", "asset_id": "CLR1", "quantity": "0.01"}) // 0.10 USD
				if r.err != nil || r.status != http.StatusCreated {
					errs <- fmt.Errorf("client %d buy %d (phase %d): %v %d %s", u, n, phase.Load(), r.err, r.status, r.body)
					return
				}
				placed[u].Add(1)
				during[phase.Load()].Add(1)
			}
		}()
	}
	waitPlaced := func(n int64) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); during[phase.Load()].Load() < n; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) || len(errs) > 0 {
				close(stop)
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Error(err)
				}
				t.Fatalf("phase %d: %d buys placed within 30 s, want %d", phase.Load(), during[phase.Load()].Load(), n)
			}
		}
	}
	ready := func(want string) {
		t.Helper()
		for _, p := range c.all() {
			for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				r := testenv.Call(t, "GET", p.url+"/health/ready", "", nil)
				if r.Status == 200 && strings.Contains(string(r.Body), want) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s readiness: %d %s, want 200 with %s", p.name, r.Status, r.Body, want)
				}
			}
		}
	}
	waitPlaced(30)
	ready(`"redis":"ok"`)

	redis.Stop()
	phase.Store(1)
	waitPlaced(60)
	ready(`"redis":"degraded"`)

	redis.Start()
	phase.Store(2)
	waitPlaced(30)
	ready(`"status":"ready"`)
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	t.Logf("buys placed: %d with Redis, %d while it was down, %d after it came back",
		during[0].Load(), during[1].Load(), during[2].Load())
	for u, tok := range tokens {
		cents := 1_000_000 - 10*placed[u].Load()
		want := fmt.Sprintf("%d.%02d", cents/100, cents%100)
		if b := testenv.Call(t, "GET", c.gw(u)+"/api/v1/balance", tok, nil).Want(t, 200); b["current_balance"] != want {
			t.Errorf("client %d balance %v, want %s", u, b["current_balance"], want)
		}
	}
	c.verify()
}
