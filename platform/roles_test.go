package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/gateway"
	"github.com/orderprocessor/orderprocessor/proxy"
	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/store/embedded"
	"github.com/orderprocessor/orderprocessor/stream"
	"github.com/orderprocessor/orderprocessor/testenv"
	"github.com/orderprocessor/orderprocessor/web"
)

// sharedStore lets several platforms of one test use one engine: the test
// closes it, not the platforms.
type sharedStore struct{ store.Store }

func (sharedStore) Close() error { return nil }

var fastParams = auth.Params{MemoryKiB: 64, Iterations: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

const (
	testSecret    = "0123456789abcdef0123456789abcdef-roles"
	adminPassword = "Admin-Passw0rd!"
	userPassword  = "Str0ng-Passw0rd!"
)

// client drives a server over HTTP.
type client struct {
	t    *testing.T
	base string
}

func (c client) do(method, path, token string, body any, hdr ...string) testenv.Reply {
	c.t.Helper()
	return testenv.Call(c.t, method, c.base+path, token, body, hdr...)
}

// startRoles starts the three services and a gateway in one process over
// one embedded store, each on its own loopback server.
func startRoles(t *testing.T, breaker proxy.BreakerConfig, tweaks ...func(*Config)) (gw client, servers map[Role]*httptest.Server, db store.Store) {
	t.Helper()
	edb, err := embedded.Open(t.TempDir(), dao.DefaultTables.Schemas(), embedded.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = edb.Close() })
	base := Config{Store: sharedStore{edb}, JWTSecret: []byte(testSecret), Logger: quiet(),
		PasswordParams: fastParams, Gateway: gateway.DefaultConfig(), PriceFeed: "static", AdminPassword: adminPassword,
		AccountCacheTTL: rolesAccountTTL}
	servers = map[Role]*httptest.Server{}
	open := func(cfg Config) *httptest.Server {
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
		return srv
	}
	for _, r := range []Role{RoleInventory, RoleUser, RoleOrder} {
		cfg := base
		cfg.Role = r
		servers[r] = open(cfg)
	}
	cfg := base
	cfg.Role, cfg.Breaker = RoleGateway, breaker
	cfg.Upstreams = Upstreams{User: servers[RoleUser].URL, Order: servers[RoleOrder].URL, Inventory: servers[RoleInventory].URL}
	for _, tweak := range tweaks { // the gateway's own settings
		tweak(&cfg)
	}
	servers[RoleGateway] = open(cfg)
	return client{t, servers[RoleGateway].URL}, servers, edb
}

// TestGatewayStreamLimits: the gateway bounds the streams it proxies per
// user (here 2, below the order service's 5), answering 429 with
// Retry-After and Connection: close; a stream that ends frees its slot.
func TestGatewayStreamLimits(t *testing.T) {
	gw, servers, _ := startRoles(t, proxy.BreakerConfig{}, func(c *Config) { c.StreamMaxPerUser = 2 })
	gw.do("POST", "/api/v1/auth/register", "", map[string]any{"username": "stream_cap", "email": "cap@example.com",
		"password": userPassword, "first_name": "Stream", "last_name": "Cap"}).Want(t, 201)
	tok := login(t, gw, "stream_cap", userPassword)
	open := func(base string) (*http.Response, context.CancelFunc) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", base+stream.Path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		t.Cleanup(func() { cancel(); resp.Body.Close() })
		return resp, cancel
	}
	first, closeFirst := open(gw.base)
	second, _ := open(gw.base)
	for i, r := range []*http.Response{first, second} {
		if r.StatusCode != 200 {
			t.Fatalf("stream %d through the gateway: %d", i+1, r.StatusCode)
		}
	}
	third, _ := open(gw.base)
	if third.StatusCode == 200 {
		t.Fatal("third stream through the gateway: 200, want 429")
	}
	body, _ := io.ReadAll(third.Body)
	if third.StatusCode != 429 || third.Header.Get("Retry-After") != "2" || !third.Close ||
		string(body) != `{"detail":"too many open streams: at most 2 per user; close one to open another","code":"rate_limited"}`+"\n" {
		t.Fatalf("third stream through the gateway: %d Retry-After %q close %v %s", third.StatusCode, third.Header.Get("Retry-After"), third.Close, body)
	}
	// The order service's own bound (5) still has room: the refusal was the gateway's.
	if direct, _ := open(servers[RoleOrder].URL); direct.StatusCode != 200 {
		t.Fatalf("stream straight to the order service: %d", direct.StatusCode)
	}
	closeFirst()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		r, cancel := open(gw.base)
		if r.StatusCode == 200 {
			break
		}
		cancel()
		if time.Now().After(deadline) {
			t.Fatalf("after one stream ended: %d", r.StatusCode)
		}
	}
}

// rolesAccountTTL is the account cache's TTL in startRoles' processes.
const rolesAccountTTL = 300 * time.Millisecond

func login(t *testing.T, c client, name, password string) string {
	t.Helper()
	m := c.do("POST", "/api/v1/auth/login", "", map[string]string{"username": name, "password": password}).Want(t, 200)
	tok, _ := m["access_token"].(string)
	if tok == "" {
		t.Fatalf("login %v", m)
	}
	return tok
}

// TestRolesThroughGateway runs the microservice deployment in one process:
// register -> deposit -> buy -> sell -> portfolio through the gateway, with
// exact values; logout reaches the gateway through the store; a service
// trusts only tokens it can verify; a dead order service trips its breaker
// while the other services keep answering.
func TestRolesThroughGateway(t *testing.T) {
	gw, servers, _ := startRoles(t, proxy.BreakerConfig{FailureThreshold: 2, CoolDown: time.Hour})

	if m := gw.do("GET", "/health", "", nil).Want(t, 200); m["service"] != "gateway" {
		t.Errorf("gateway health %v", m)
	}
	for _, r := range []Role{RoleUser, RoleOrder, RoleInventory} {
		c := client{t, servers[r].URL}
		if m := c.do("GET", "/health", "", nil).Want(t, 200); m["service"] != string(r) {
			t.Errorf("%s health %v", r, m)
		}
		if m := c.do("GET", "/health/ready", "", nil).Want(t, 200); m["status"] != "ready" {
			t.Errorf("%s ready %v", r, m)
		}
	}

	// The gateway serves the web app, publicly; the services behind it do not.
	if page := gw.do("GET", "/", "", nil); page.Status != 200 || page.Header.Get("Content-Security-Policy") != web.CSP ||
		!bytes.Contains(page.Body, []byte(`src="/app/app.js"`)) {
		t.Errorf("gateway GET /: %d CSP %q\n%.200s", page.Status, page.Header.Get("Content-Security-Policy"), page.Body)
	}
	if js := gw.do("GET", "/app/app.js", "", nil); js.Status != 200 || js.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("gateway GET /app/app.js: %d X-Frame-Options %q", js.Status, js.Header.Get("X-Frame-Options"))
	}
	if nope := gw.do("GET", "/app/nope.js", "", nil); nope.Status != 404 || !bytes.Contains(nope.Body, []byte(`"code":"not_found"`)) {
		t.Errorf("gateway GET /app/nope.js: %d %s, want the JSON 404", nope.Status, nope.Body)
	}
	for _, r := range []Role{RoleUser, RoleOrder, RoleInventory} {
		if page := (client{t, servers[r].URL}).do("GET", "/", "", nil); page.Status == 200 || page.Header.Get("Content-Security-Policy") == web.CSP {
			t.Errorf("%s GET /: %d, the web app; want it only at the gateway", r, page.Status)
		}
	}

	admin := login(t, gw, "admin", adminPassword)
	gw.do("POST", "/api/v1/admin/assets", admin, map[string]any{
		"asset_id": "ROLE1", "name": "Role asset", "category": "test", "price_usd": "100"}).Want(t, 201)

	gw.do("POST", "/api/v1/auth/register", "", map[string]any{"username": "role_user_1", "email": "role1@example.com",
		"password": userPassword, "first_name": "Role", "last_name": "User"}).Want(t, 201)
	tok := login(t, gw, "role_user_1", userPassword)
	dep := gw.do("POST", "/api/v1/balance/deposit", tok, map[string]any{"amount": "1000"}, "Idempotency-Key", "dep-1")
	if m := dep.Want(t, 201); m["message"] != "Successfully deposited $1000.00" {
		t.Fatalf("deposit %v", m)
	}
	if again := gw.do("POST", "/api/v1/balance/deposit", tok, map[string]any{"amount": "1000"}, "Idempotency-Key", "dep-1"); again.Status != 201 || !bytes.Equal(bytes.TrimSpace(again.Body), bytes.TrimSpace(dep.Body)) || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replayed deposit %d %s, want the first response %s", again.Status, again.Body, dep.Body)
	}
	buy := gw.do("POST", "/api/v1/orders", tok, map[string]any{"order_type": "market_buy", "asset_id": "role1", "quantity": "2"}).Want(t, 201)
	if d := buy["data"].(map[string]any); d["status"] != "completed" || d["total_amount"] != "200.00" {
		t.Fatalf("buy %v", d)
	}
	sell := gw.do("POST", "/api/v1/orders", tok, map[string]any{"order_type": "market_sell", "asset_id": "ROLE1", "quantity": "0.5"}).Want(t, 201)
	if d := sell["data"].(map[string]any); d["status"] != "completed" || d["total_amount"] != "50.00" {
		t.Fatalf("sell %v", d)
	}
	gw.do("PUT", "/api/v1/admin/assets/ROLE1/price", admin, map[string]any{"price_usd": "150"}).Want(t, 200)
	p := gw.do("GET", "/api/v1/portfolio", tok, nil).Want(t, 200)
	assets, _ := p["assets"].([]any)
	if len(assets) != 1 || p["total_value"] != "1075.00" {
		t.Fatalf("portfolio %v", p)
	}
	want := map[string]any{"asset_id": "ROLE1", "quantity": "1.5", "current_price": "150.00", "market_value": "225.00",
		"percentage": "20.93", "average_cost": "100.00", "unrealized_pnl": "75.00"}
	if a := assets[0].(map[string]any); !maps.EqualFunc(want, a, func(w, g any) bool { return w == g }) {
		for k := range want {
			if a[k] != want[k] {
				t.Errorf("portfolio asset %s = %v, want %v", k, a[k], want[k])
			}
		}
	}
	if b := gw.do("GET", "/api/v1/balance", tok, nil).Want(t, 200); b["current_balance"] != "850.00" || b["available_balance"] != "850.00" {
		t.Fatalf("balance %v", b)
	}

	// The gateway publishes the whole API.
	var spec struct{ Paths map[string]any }
	if err := json.Unmarshal(gw.do("GET", "/openapi.json", "", nil).Body, &spec); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/v1/auth/register", "/api/v1/portfolio", "/api/v1/orders", "/api/v1/stream", "/api/v1/inventory/assets"} {
		if _, ok := spec.Paths[path]; !ok {
			t.Errorf("gateway spec lacks %s (has %v)", path, slices.Sorted(maps.Keys(spec.Paths)))
		}
	}

	// A service trusts only a token it can verify.
	order := client{t, servers[RoleOrder].URL}
	other, err := auth.NewIssuer([]byte(strings.Repeat("x", 32)), auth.IssuerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	forged, _, err := other.Issue("role_user_1", auth.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]testenv.Reply{
		"no token":      order.do("GET", "/api/v1/orders", "", nil, "X-Internal-User", "role_user_1", "X-User", "role_user_1"),
		"foreign token": order.do("GET", "/api/v1/orders", forged, nil),
	} {
		if r.Status != 401 {
			t.Errorf("%s: direct call to the order service: %d %s", name, r.Status, r.Body)
		}
	}
	inventory := client{t, servers[RoleInventory].URL}
	if r := inventory.do("PUT", "/api/v1/admin/assets/ROLE1/price", tok, map[string]any{"price_usd": "1"}); r.Status != 403 {
		t.Errorf("customer token on the inventory admin route: %d %s", r.Status, r.Body)
	}

	// Logout (user service) revokes the token at the gateway and at every
	// service, for a request that bypasses the gateway too.
	gw.do("POST", "/api/v1/auth/logout", tok, map[string]any{}).Want(t, 200)
	if r := gw.do("GET", "/api/v1/orders", tok, nil); r.Status != 401 || !strings.Contains(string(r.Body), `"UNAUTHORIZED"`) {
		t.Fatalf("revoked token through the gateway: %d %s", r.Status, r.Body)
	}
	for _, direct := range []struct {
		role Role
		path string
	}{{RoleOrder, "/api/v1/orders"}, {RoleUser, "/api/v1/balance"}, {RoleInventory, "/api/v1/admin/assets/ROLE1/price"}} {
		c := client{t, servers[direct.role].URL}
		method, body := "GET", any(nil)
		if direct.role == RoleInventory {
			method, body = "PUT", map[string]any{"price_usd": "1"}
		}
		r := c.do(method, direct.path, tok, body)
		if r.Status != 401 || !strings.Contains(string(r.Body), `"message":"token revoked"`) {
			t.Fatalf("revoked token sent straight to the %s service: %d %s", direct.role, r.Status, r.Body)
		}
	}
	tok = login(t, gw, "role_user_1", userPassword)

	// Deactivation (user service) ends the user's tokens at once in the
	// user service, and within the account cache's TTL in the other
	// processes, for requests that bypass the gateway too.
	deactivated := time.Now()
	gw.do("POST", "/api/v1/admin/users/role_user_1/deactivate", admin, nil).Want(t, 200)
	refused := func(r testenv.Reply) bool {
		return r.Status == 401 && strings.Contains(string(r.Body), `"message":"account deactivated"`)
	}
	if r := (client{t, servers[RoleUser].URL}).do("GET", "/api/v1/balance", tok, nil); !refused(r) {
		t.Fatalf("deactivated user's token at the user service: %d %s", r.Status, r.Body)
	}
	for _, c := range []struct {
		name string
		c    client
		path string
	}{{"order service", order, "/api/v1/orders"}, {"gateway", gw, "/api/v1/orders"}, {"inventory service", inventory, "/api/v1/admin/assets/ROLE1/price"}} {
		for {
			method, body := "GET", any(nil)
			if c.c == inventory {
				method, body = "PUT", map[string]any{"price_usd": "1"}
			}
			r := c.c.do(method, c.path, tok, body)
			if refused(r) {
				break
			}
			if r.Status != 200 && r.Status != 403 {
				t.Fatalf("%s: %d %s", c.name, r.Status, r.Body)
			}
			if time.Since(deactivated) > 2*rolesAccountTTL+time.Second {
				t.Fatalf("%s still accepts the deactivated user's token after %v", c.name, time.Since(deactivated))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if r := gw.do("POST", "/api/v1/auth/login", "", map[string]string{"username": "role_user_1", "password": userPassword}); r.Status != 403 ||
		!strings.Contains(string(r.Body), `"detail":"account deactivated"`) {
		t.Fatalf("login of a deactivated user: %d %s", r.Status, r.Body)
	}
	gw.do("POST", "/api/v1/admin/users/role_user_1/activate", admin, nil).Want(t, 200)
	old := tok
	tok = login(t, gw, "role_user_1", userPassword)
	if r := (client{t, servers[RoleUser].URL}).do("GET", "/api/v1/balance", old, nil); r.Status != 401 || !strings.Contains(string(r.Body), `"message":"token revoked"`) {
		t.Fatalf("token issued before the deactivation, after reactivation: %d %s", r.Status, r.Body)
	}
	for reactivated := time.Now(); ; time.Sleep(10 * time.Millisecond) { // the gateway learns it within the TTL
		r := gw.do("GET", "/api/v1/orders", tok, nil)
		if r.Status == 200 {
			break
		}
		if !refused(r) || time.Since(reactivated) > 2*rolesAccountTTL+time.Second {
			t.Fatalf("reactivated user's new token at the gateway after %v: %d %s", time.Since(reactivated), r.Status, r.Body)
		}
	}

	// The order service dies: its routes fail, then the breaker answers.
	servers[RoleOrder].CloseClientConnections()
	servers[RoleOrder].Close()
	for i, wantStatus := range []int{502, 502, 503, 503} {
		r := gw.do("GET", "/api/v1/orders", tok, nil)
		code := map[int]string{502: gateway.CodeBadGateway, 503: gateway.CodeServiceUnavailable}[wantStatus]
		if r.Status != wantStatus || !strings.Contains(string(r.Body), `"code":"`+code+`"`) {
			t.Fatalf("request %d to the dead order service: %d %s, want %d %s", i, r.Status, r.Body, wantStatus, code)
		}
	}
	if b := gw.do("GET", "/api/v1/balance", tok, nil).Want(t, 200); b["current_balance"] != "850.00" {
		t.Fatalf("balance with the order service down: %v", b)
	}
	gw.do("GET", "/api/v1/inventory/assets/ROLE1", "", nil).Want(t, 200)
}

func TestRoleConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Role: "cashier", JWTSecret: []byte(testSecret)}, `unknown role "cashier"`},
		{Config{Role: RoleOrder}, "role order: the JWT secret must be set"},
		{Config{Role: RoleGateway, JWTSecret: []byte(testSecret), Upstreams: Upstreams{User: "http://u", Order: "http://o"}},
			"role gateway: the inventory service URL is not set"},
		{Config{Role: RoleGateway, JWTSecret: []byte(testSecret), Upstreams: Upstreams{User: "u:1", Order: "http://o", Inventory: "http://i"}},
			`upstream URL "u:1"`},
		{Config{Role: RoleInventory, JWTSecret: []byte(testSecret), LeaseTTL: 50 * time.Millisecond}, "lease TTL 50ms: want at least 100ms"},
		{Config{Role: RoleOrder, JWTSecret: []byte(testSecret), LeaseTTL: -time.Second}, "lease TTL -1s: want at least 100ms"},
	} {
		tc.cfg.DataDir, tc.cfg.Logger, tc.cfg.PasswordParams = t.TempDir(), quiet(), fastParams
		p, err := Open(context.Background(), tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			if p != nil {
				_ = p.Close()
			}
			t.Errorf("Open(%s) = %v, want %q", tc.cfg.Role, err, tc.want)
		}
	}
}

// TestSweepPrices: the order role's engine publishes the price changes its
// sweeps see, and only changes (not the first read, not an unchanged price).
func TestSweepPrices(t *testing.T) {
	broker := stream.NewBroker(stream.Options{})
	defer broker.Close()
	sub, _ := broker.Subscribe(stream.SubscribeOptions{})
	reads := []map[string]string{
		{"BTC": "100", "ETH": "10"},
		{"BTC": "100.00", "ETH": "11"}, // 100 = 100.00: no change
		{"BTC": "101", "ETH": "11", "SOL": "5"},
	}
	i := 0
	read := sweepPrices(func(context.Context) (map[string]decimal.Decimal, error) {
		m := map[string]decimal.Decimal{}
		for k, v := range reads[i] {
			m[k] = decimal.MustParse(v)
		}
		i++
		return m, nil
	}, broker)
	for range reads {
		if _, err := read(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for len(got) < 2 {
		ev := <-sub.Events()
		got = append(got, ev.AssetID+"="+ev.PriceUSD)
	}
	select {
	case ev := <-sub.Events():
		t.Fatalf("unexpected event %s=%s", ev.AssetID, ev.PriceUSD)
	default:
	}
	if want := []string{"ETH=11.00", "BTC=101.00"}; !slices.Equal(got, want) {
		t.Fatalf("published %q, want %q", got, want)
	}
}
