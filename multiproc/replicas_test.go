package multiproc

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/testenv"
)

// TestReplicasConcurrentBuys sends 50 buys of one user at once, half to
// each order replica: exactly the affordable 10 are placed, the others are
// refused for insufficient funds, the balance is spent to the cent, and
// the ledger checks out.
func TestReplicasConcurrentBuys(t *testing.T) {
	c := startCluster(t, clusterOptions{redis: testenv.RedisURL(t)})
	c.newAsset("CLB1", "40")
	tok := c.newUser("cl_buyer", "1000")

	buy := map[string]any{"order_type": "market_buy", "asset_id": "CLB1", "quantity": "2.5"} // 100.00 each
	res := make([]reply, 50)
	var wg sync.WaitGroup
	release := make(chan struct{})
	for i := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			url := c.replicas["order"][i%2].url + "/api/v1/orders"
			<-release
			res[i] = do("POST", url, tok, buy)
		}()
	}
	close(release)
	wg.Wait()
	placed := map[int]int{}
	for i, r := range res {
		switch {
		case r.err != nil:
			t.Fatalf("buy %d: %v", i, r.err)
		case r.status == http.StatusCreated:
			placed[i%2]++
		case r.status == http.StatusUnprocessableEntity && field(r.body, "code") == "insufficient_funds":
		default:
			t.Fatalf("buy %d: %d %s", i, r.status, r.body)
		}
	}
	if placed[0]+placed[1] != 10 {
		t.Fatalf("placed %d buys (replica 1: %d, replica 2: %d), want 10", placed[0]+placed[1], placed[0], placed[1])
	}
	t.Logf("placed per replica: %d and %d", placed[0], placed[1])
	if b := testenv.Call(t, "GET", c.gw(1)+"/api/v1/balance", tok, nil).Want(t, 200); b["current_balance"] != "0.00" {
		t.Fatalf("balance %v", b)
	}
	if h := testenv.Call(t, "GET", c.gw(0)+"/api/v1/balance/asset/CLB1", tok, nil).Want(t, 200); h["quantity"] != "25" && h["quantity"] != "25.0" {
		t.Fatalf("holding %v", h)
	}
	c.verify()
}

// TestReplicasKillOrderReplicaUnderLoad places market buys through both
// gateways from several clients, each with an Idempotency-Key and retried
// with it until answered, and kills one order replica (SIGKILL) in the
// middle. Every buy ends placed exactly once: the list of each user's
// orders holds one order per key, the balance is the deposit less their
// totals, and the ledger checks out. The gateways pass over the dead
// replica, so the load goes on.
func TestReplicasKillOrderReplicaUnderLoad(t *testing.T) {
	c := startCluster(t, clusterOptions{redis: testenv.RedisURL(t)})
	c.newAsset("CLK1", "10")
	const clients, buys = 6, 40
	tokens := make([]string, clients)
	for i := range tokens {
		tokens[i] = c.newUser(fmt.Sprintf("cl_load_%d", i), "1000")
	}

	var answered, retried, afterKill atomic.Int64
	killed := make(chan struct{})
	ids := make([][]string, clients)
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	for u := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range buys {
				key := fmt.Sprintf("load-%d-%d", u, n)
				body := map[string]any{"order_type": "market_buy", "asset_id": "CLK1", "quantity": "1"}
				for attempt := 0; ; attempt++ {
					r := do("POST", c.gw(u+attempt)+"/api/v1/orders", tokens[u], body, "Idempotency-Key", key)
					if r.err == nil && r.status == http.StatusCreated {
						ids[u] = append(ids[u], field(r.body, "data", "order_id"))
						answered.Add(1)
						select {
						case <-killed:
							afterKill.Add(1)
						default:
						}
						break
					}
					// Not acknowledged (the replica died with the request, or
					// the gateway had no replica yet): the same key again.
					if r.err == nil && r.status < 500 {
						errs <- fmt.Errorf("client %d buy %d: %d %s", u, n, r.status, r.body)
						return
					}
					if attempt == 50 {
						errs <- fmt.Errorf("client %d buy %d: no answer after 50 attempts: %v %d %s", u, n, r.err, r.status, r.body)
						return
					}
					retried.Add(1)
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	for answered.Load() < clients*buys/3 {
		time.Sleep(5 * time.Millisecond)
	}
	c.replicas["order"][0].kill()
	close(killed)
	t.Logf("killed order-1 after %d acknowledged buys", answered.Load())
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	t.Logf("%d buys acknowledged (%d after the kill), %d attempts retried", answered.Load(), afterKill.Load(), retried.Load())
	if afterKill.Load() == 0 {
		t.Fatal("no buy was acknowledged after the kill")
	}
	for u, tok := range tokens {
		list := testenv.Call(t, "GET", c.gw(u)+"/api/v1/orders?limit=100", tok, nil).Want(t, 200)
		orders, _ := list["data"].([]any)
		seen := map[string]bool{}
		for _, o := range orders {
			m := o.(map[string]any)
			if m["status"] != "completed" {
				t.Errorf("client %d: order %v is %v", u, m["order_id"], m["status"])
			}
			seen[m["order_id"].(string)] = true
		}
		if len(orders) != buys {
			t.Errorf("client %d has %d orders, want %d (one per key)", u, len(orders), buys)
		}
		for _, id := range ids[u] {
			if !seen[id] {
				t.Errorf("client %d: acknowledged order %s is missing", u, id)
			}
		}
		want := fmt.Sprintf("%d.00", 1000-10*buys)
		if b := testenv.Call(t, "GET", c.gw(u)+"/api/v1/balance", tok, nil).Want(t, 200); b["current_balance"] != want {
			t.Errorf("client %d balance %v, want %s", u, b["current_balance"], want)
		}
	}
	c.verify()
}
