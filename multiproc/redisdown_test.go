package multiproc

import (
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/testenv"
)

// ownRedis is a redis-server of the test's own, on a free loopback port,
// that the test stops and starts again.
type ownRedis struct {
	t    *testing.T
	port int
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

func startOwnRedis(t *testing.T) *ownRedis {
	t.Helper()
	sharedRedis(t) // the same skip rule as the other Redis tests
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server: %v (scripts/redis installs it)", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &ownRedis{t: t, port: l.Addr().(*net.TCPAddr).Port, dir: t.TempDir()}
	l.Close()
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *ownRedis) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *ownRedis) start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir)
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(r.cmd, r.done)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", r.port)); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatal("redis-server did not listen within 10 s")
		}
	}
}

// stop ends the server (SIGKILL: an outage, not a shutdown).
func (r *ownRedis) stop() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	<-r.done
	r.cmd = nil
}

// TestReplicasRedisDown runs the cluster on a Redis of its own and kills
// that Redis while six clients place market buys through both gateways:
// every buy is still placed (201), every process reports Redis as degraded
// in a 200 readiness answer, and when Redis is back, readiness is "ready"
// again and buys go on. The balances are exact and the ledger checks out.
func TestReplicasRedisDown(t *testing.T) {
	redis := startOwnRedis(t)
	c := startCluster(t, clusterOptions{redis: redis.url()})
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

	redis.stop()
	phase.Store(1)
	waitPlaced(60)
	ready(`"redis":"degraded"`)

	redis.start()
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
