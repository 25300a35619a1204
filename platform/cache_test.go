package platform

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/gateway"
	"github.com/orderprocessor/orderprocessor/testenv"
	"github.com/orderprocessor/orderprocessor/trading"
)

// cachedPlatforms opens n all-in-one platforms on one store of the engine
// under test (testenv) and one Redis (url, a fresh key prefix), each
// serving on a loopback port, and returns their base URLs.
func cachedPlatforms(t *testing.T, n int, url string) []string {
	urls, _ := cachedPlatformsPrefix(t, n, url)
	return urls
}

// cachedPlatformsPrefix is cachedPlatforms, also returning the Redis key prefix.
func cachedPlatformsPrefix(t *testing.T, n int, url string) ([]string, string) {
	t.Helper()
	db, tables := testenv.Store(t)
	g := gateway.DefaultConfig()
	g.RateLimit, g.RegisterLimit = 0, 0
	prefix := "test:" + strings.ToLower(rand.Text()[:12]) + ":"
	var urls []string
	for range n {
		p, err := Open(context.Background(), Config{Store: sharedStore{db}, Tables: tables, JWTSecret: []byte(testSecret),
			Logger: quiet(), PasswordParams: fastParams, Gateway: g, PriceFeed: "static", Trading: trading.Config{},
			RedisURL: url, RedisPrefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(p.Handler)
		t.Cleanup(func() {
			srv.Close()
			if err := p.Close(); err != nil {
				t.Error(err)
			}
		})
		urls = append(urls, srv.URL)
	}
	return urls, prefix
}

// call sends one JSON request and decodes a JSON object answer; it returns
// errors rather than failing, for use off the test's goroutine.
func call(method, url, token string, body any, hdr ...string) (int, map[string]any, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m, nil
}

// mustCall is call that wants status.
func mustCall(t *testing.T, status int, method, url, token string, body any, hdr ...string) map[string]any {
	t.Helper()
	st, m, err := call(method, url, token, body, hdr...)
	if err != nil || st != status {
		t.Fatalf("%s %s: %d %v (%v), want %d", method, url, st, m, err, status)
	}
	return m
}

func pick(n int) int {
	i, _ := rand.Int(rand.Reader, big.NewInt(int64(n)))
	return int(i.Int64())
}

func dec(t testing.TB, v any) decimal.Decimal {
	t.Helper()
	s, _ := v.(string)
	d, err := decimal.Parse(s)
	if err != nil {
		t.Errorf("decimal %v: %v", v, err)
	}
	return d
}

// newUser registers name through base and returns its token.
func newUser(t *testing.T, base, name string) string {
	t.Helper()
	mustCall(t, 201, "POST", base+"/api/v1/auth/register", "", map[string]any{"username": name,
		"email": name + "@example.com", "password": userPassword, "first_name": "Cache", "last_name": "Test"})
	m := mustCall(t, 200, "POST", base+"/api/v1/auth/login", "", map[string]string{"username": name, "password": userPassword})
	tok, _ := m["access_token"].(string)
	return tok
}

// TestCacheReadsOwnWrites: several clients, each writing through any of
// three platforms that share a store and a Redis cache, while readers of
// the same account read through any of them. No read ever shows a value
// older than the client's last acknowledged write: deposits (the total
// only grows), market buys (the holding only grows; the order exists and
// is completed), a resting order cancelled through another platform
// (cancelled, never queued again).
func TestCacheReadsOwnWrites(t *testing.T) {
	urls := cachedPlatforms(t, 3, testenv.RedisURL(t))
	const clients, steps, readers = 4, 30, 2
	for c := range clients {
		t.Run(fmt.Sprint("client", c), func(t *testing.T) {
			t.Parallel()
			tok := newUser(t, urls[pick(len(urls))], fmt.Sprintf("cache_rw_%d_%d", c, time.Now().UnixNano()%1e6))
			mustCall(t, 201, "POST", urls[pick(len(urls))]+"/api/v1/balance/deposit", tok, map[string]any{"amount": "100000"})
			// What the client has been told, published after each acknowledgement.
			type acked struct {
				deposits  decimal.Decimal
				bought    int64
				completed string // the last bought order
				cancelled string // the last cancelled order
			}
			var last atomic.Pointer[acked]
			last.Store(&acked{deposits: decimal.FromInt(100000)})
			done := make(chan struct{})
			var wg sync.WaitGroup
			var reads atomic.Int64
			for range readers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-done:
							return
						default:
						}
						want := last.Load()
						base := urls[pick(len(urls))]
						st, m, err := call("GET", base+"/api/v1/balance?currency=USD", tok, nil)
						if err != nil || st != 200 {
							t.Errorf("balance: %d %v %v", st, m, err)
							return
						}
						if got := dec(t, m["total_deposits"]); got.LessThan(want.deposits) {
							t.Errorf("balance through %s: total_deposits %s, older than the acknowledged %s", base, got, want.deposits)
						}
						st, m, err = call("GET", base+"/api/v1/portfolio", tok, nil)
						if err != nil || st != 200 {
							t.Errorf("portfolio: %d %v %v", st, m, err)
							return
						}
						qty := decimal.Zero
						for _, a := range m["assets"].([]any) {
							if a := a.(map[string]any); a["asset_id"] == "DOGE" {
								qty = dec(t, a["quantity"])
							}
						}
						if qty.LessThan(decimal.FromInt(want.bought)) {
							t.Errorf("portfolio through %s: %s DOGE, older than the acknowledged %d", base, qty, want.bought)
						}
						for id, status := range map[string]string{want.completed: "completed", want.cancelled: "cancelled"} {
							if id == "" {
								continue
							}
							st, m, err := call("GET", base+"/api/v1/orders/"+id, tok, nil)
							data, _ := m["data"].(map[string]any)
							if err != nil || st != 200 || data["status"] != status {
								t.Errorf("order %s through %s: %d %v %v, want %s", id, base, st, m, err, status)
							}
						}
						reads.Add(1)
					}
				}()
			}
			for i := range steps {
				cur := *last.Load()
				base := urls[pick(len(urls))]
				switch i % 3 {
				case 0:
					mustCall(t, 201, "POST", base+"/api/v1/balance/deposit", tok, map[string]any{"amount": "7"},
						"Idempotency-Key", fmt.Sprint("dep", i))
					cur.deposits = cur.deposits.Add(decimal.FromInt(7))
				case 1:
					m := mustCall(t, 201, "POST", base+"/api/v1/orders", tok, map[string]any{
						"order_type": "market_buy", "asset_id": "DOGE", "quantity": "1"}, "Idempotency-Key", fmt.Sprint("buy", i))
					cur.bought++
					cur.completed, _ = m["data"].(map[string]any)["order_id"].(string)
				case 2:
					m := mustCall(t, 201, "POST", base+"/api/v1/orders", tok, map[string]any{
						"order_type": "limit_buy", "asset_id": "BTC", "quantity": "0.001", "limit_price": "1"})
					id, _ := m["data"].(map[string]any)["order_id"].(string)
					// Read (and cache) it as queued, then cancel it through another platform.
					if m := mustCall(t, 200, "GET", urls[pick(len(urls))]+"/api/v1/orders/"+id, tok, nil); m["data"].(map[string]any)["status"] != "queued" {
						t.Fatalf("order %s: %v", id, m)
					}
					mustCall(t, 200, "DELETE", urls[pick(len(urls))]+"/api/v1/orders/"+id, tok, nil)
					cur.cancelled = id
				}
				last.Store(&cur)
			}
			close(done)
			wg.Wait()
			final := last.Load()
			for _, base := range urls {
				m := mustCall(t, 200, "GET", base+"/api/v1/balance?currency=USD", tok, nil)
				if got := dec(t, m["total_deposits"]); !got.Equal(final.deposits) {
					t.Errorf("final total_deposits %s through %s, want %s", got, base, final.deposits)
				}
			}
			t.Logf("%d reads of balance, portfolio and orders", reads.Load())
		})
	}
}

// TestCacheRedisDown: with Redis stopped mid-run, orders and reads keep
// working on the store, readiness answers 200 with Redis and the cache
// "degraded", a logout still takes effect; when Redis is back, readiness
// reports "ok" again, and reads through the cache show every write made
// while it was down.
func TestCacheRedisDown(t *testing.T) {
	redis := testenv.StartRedis(t)
	urls, prefix := cachedPlatformsPrefix(t, 2, redis.URL())
	tok := newUser(t, urls[0], "cache_down")
	spare := mustCall(t, 200, "POST", urls[0]+"/api/v1/auth/login", "", map[string]string{"username": "cache_down", "password": userPassword})["access_token"].(string)
	mustCall(t, 201, "POST", urls[0]+"/api/v1/balance/deposit", tok, map[string]any{"amount": "1000"})
	bought := 0
	buy := func(base string) {
		t.Helper()
		mustCall(t, 201, "POST", base+"/api/v1/orders", tok, map[string]any{"order_type": "market_buy", "asset_id": "DOGE", "quantity": "1"},
			"Idempotency-Key", fmt.Sprint("down", bought))
		bought++
	}
	holding := func(base string) string {
		t.Helper()
		m := mustCall(t, 200, "GET", base+"/api/v1/balance/asset/DOGE", tok, nil)
		s, _ := m["quantity"].(string)
		return s
	}
	ready := func(base string) map[string]any {
		t.Helper()
		m := mustCall(t, 200, "GET", base+"/health/ready", "", nil)
		checks, _ := m["checks"].(map[string]any)
		return checks
	}
	for _, u := range urls {
		buy(u)
		if c := ready(u); c["redis"] != "ok" || c["cache"] != "ok" || c["store"] != "ok" {
			t.Fatalf("ready with redis up: %v", c)
		}
	}
	metric := func(base, name string) string {
		t.Helper()
		r := testenv.Call(t, "GET", base+"/metrics", "", nil)
		for _, line := range strings.Split(string(r.Body), "\n") {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				return v
			}
		}
		t.Fatalf("no %s in /metrics", name)
		return ""
	}
	if up := metric(urls[0], "orderprocessor_cache_up"); up != "1" {
		t.Fatalf("orderprocessor_cache_up %s with redis up", up)
	}

	redis.Stop()
	for i := range 6 {
		buy(urls[i%2])
	}
	for _, u := range urls {
		if got := holding(u); got != strconv.Itoa(bought) {
			t.Fatalf("holding through %s with redis down: %s, want %d", u, got, bought)
		}
		if c := ready(u); c["redis"] != "degraded" || c["cache"] != "degraded" || c["store"] != "ok" {
			t.Fatalf("ready with redis down: %v", c)
		}
		if up := metric(u, "orderprocessor_cache_up"); up != "0" {
			t.Fatalf("orderprocessor_cache_up %s with redis down", up)
		}
	}
	mustCall(t, 200, "POST", urls[0]+"/api/v1/auth/logout", spare, map[string]any{})
	for _, u := range urls {
		mustCall(t, 401, "GET", u+"/api/v1/balance?currency=USD", spare, nil)
	}

	redis.Start()
	deadline := time.Now().Add(10 * time.Second)
	for _, u := range urls {
		for {
			c := ready(u)
			if c["redis"] == "ok" && c["cache"] == "ok" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("ready after redis restarted: %v", c)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// The logout made while Redis was down reaches the restarted (empty)
	// Redis: copied from the store once a check finds Redis again.
	mustCall(t, 401, "GET", urls[0]+"/api/v1/balance?currency=USD", spare, nil)
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(spare, ".")[1])
	var claims struct{ Jti string }
	if err != nil || json.Unmarshal(payload, &claims) != nil || claims.Jti == "" {
		t.Fatalf("token payload %s: %v", payload, err)
	}
	opt, err := goredis.ParseURL(redis.URL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := goredis.NewClient(opt)
	defer rdb.Close()
	for n := int64(0); n == 0; {
		if n, err = rdb.Exists(context.Background(), prefix+"revoked:"+claims.Jti).Result(); err != nil || time.Now().After(deadline) {
			t.Fatalf("the revocation is not in the restarted Redis: %d %v", n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i := range 4 {
		buy(urls[i%2])
	}
	for _, u := range urls {
		for range 2 { // a fill, then a hit
			if got := holding(u); got != strconv.Itoa(bought) {
				t.Fatalf("holding through %s after redis restarted: %s, want %d", u, got, bought)
			}
		}
		mustCall(t, 401, "GET", u+"/api/v1/balance?currency=USD", spare, nil)
	}
}

// TestRolesRedisDown: the microservice deployment (a gateway, the user and
// inventory services and two order services, all on one store and one
// Redis) keeps taking orders through the gateway while Redis is stopped:
// every readiness check marks Redis "degraded", a logout made meanwhile
// still ends the token (the services check the store), and the processes
// use Redis again when it is back.
func TestRolesRedisDown(t *testing.T) {
	redis := testenv.StartRedis(t)
	db, tables := testenv.Store(t)
	prefix := "test:" + strings.ToLower(rand.Text()[:12]) + ":"
	base := Config{Store: sharedStore{db}, Tables: tables, JWTSecret: []byte(testSecret), Logger: quiet(),
		PasswordParams: fastParams, Gateway: gateway.DefaultConfig(), PriceFeed: "static",
		RedisURL: redis.URL(), RedisPrefix: prefix}
	open := func(cfg Config) string {
		p, err := Open(context.Background(), cfg)
		if err != nil {
			t.Fatalf("open %s: %v", cfg.Role, err)
		}
		srv := httptest.NewServer(p.Handler)
		t.Cleanup(func() {
			srv.Close()
			if err := p.Close(); err != nil {
				t.Error(err)
			}
		})
		return srv.URL
	}
	urls := map[string]string{}
	for _, r := range []Role{RoleInventory, RoleUser, RoleOrder} {
		cfg := base
		cfg.Role = r
		urls[string(r)] = open(cfg)
	}
	cfg := base
	cfg.Role = RoleOrder
	urls["order2"] = open(cfg)
	cfg = base
	cfg.Role, cfg.Store = RoleGateway, nil
	cfg.Upstreams = Upstreams{User: urls["user"], Order: urls["order"], Inventory: urls["inventory"]}
	gw := open(cfg)
	cfg.Upstreams.Order = urls["order2"]
	gw2 := open(cfg)

	tok := newUser(t, gw, "roles_down")
	spare := mustCall(t, 200, "POST", gw+"/api/v1/auth/login", "", map[string]string{"username": "roles_down", "password": userPassword})["access_token"].(string)
	mustCall(t, 201, "POST", gw+"/api/v1/balance/deposit", tok, map[string]any{"amount": "1000"})
	bought := 0
	buy := func(base string) {
		t.Helper()
		mustCall(t, 201, "POST", base+"/api/v1/orders", tok, map[string]any{"order_type": "market_buy", "asset_id": "DOGE", "quantity": "1"},
			"Idempotency-Key", fmt.Sprint("roles", bought))
		bought++
	}
	buy(gw)
	buy(gw2)

	redis.Stop()
	for i := range 4 {
		buy([]string{gw, gw2}[i%2])
	}
	for _, u := range []string{gw, gw2} {
		m := mustCall(t, 200, "GET", u+"/api/v1/balance/asset/DOGE", tok, nil)
		if m["quantity"] != strconv.Itoa(bought) {
			t.Fatalf("holding with redis down: %v, want %d", m, bought)
		}
	}
	for name, u := range urls {
		m := mustCall(t, 200, "GET", u+"/health/ready", "", nil)
		if c, _ := m["checks"].(map[string]any); c["redis"] != "degraded" || c["store"] != "ok" {
			t.Fatalf("%s ready with redis down: %v", name, m)
		}
	}
	if m := mustCall(t, 200, "GET", gw+"/health/ready", "", nil); m["checks"].(map[string]any)["redis"] != "degraded" {
		t.Fatalf("gateway ready with redis down: %v", m)
	}
	mustCall(t, 200, "POST", gw+"/api/v1/auth/logout", spare, map[string]any{})
	for _, u := range []string{gw, gw2} {
		mustCall(t, 401, "POST", u+"/api/v1/orders", spare, map[string]any{"order_type": "market_buy", "asset_id": "DOGE", "quantity": "1"})
	}

	redis.Start()
	deadline := time.Now().Add(10 * time.Second)
	for name, u := range urls {
		for {
			m := mustCall(t, 200, "GET", u+"/health/ready", "", nil)
			if c, _ := m["checks"].(map[string]any); c["redis"] == "ok" && c["cache"] == "ok" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s ready after redis restarted: %v", name, m)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	buy(gw)
	buy(gw2)
	for _, u := range []string{gw, gw2} {
		m := mustCall(t, 200, "GET", u+"/api/v1/balance/asset/DOGE", tok, nil)
		if m["quantity"] != strconv.Itoa(bought) {
			t.Fatalf("holding after redis restarted: %v, want %d", m, bought)
		}
		mustCall(t, 401, "GET", u+"/api/v1/balance?currency=USD", spare, nil)
	}
}
