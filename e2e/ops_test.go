package e2e

import (
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/platform"
)

func TestHealth(t *testing.T) {
	e := sharedEnv(t)
	m := e.do(t, http.MethodGet, "/health", "", nil).want(t, http.StatusOK).obj(t)
	if m["status"] != "healthy" || m["service"] != "gateway" || m["version"] != platform.Version {
		t.Fatalf("health %v", m)
	}
	if _, err := time.Parse(time.RFC3339Nano, m["timestamp"].(string)); err != nil {
		t.Fatalf("timestamp %v", m["timestamp"])
	}
	m = e.do(t, http.MethodGet, "/health/live", "", nil).want(t, http.StatusOK).obj(t)
	if m["status"] != "alive" {
		t.Fatalf("live %v", m)
	}
	m = e.do(t, http.MethodGet, "/health/ready", "", nil).want(t, http.StatusOK).obj(t)
	if m["status"] != "ready" || m["checks"].(map[string]any)["store"] != "ok" {
		t.Fatalf("ready %v", m)
	}
	// No token needed even with a bad one, and a trailing slash is the same route.
	e.do(t, http.MethodGet, "/health/", "", nil, "Authorization", "Bearer junk").want(t, http.StatusOK)
	e.do(t, http.MethodPost, "/health", "", map[string]any{}).gatewayError(t, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
}

func TestHealthNotReadyAfterClose(t *testing.T) {
	e := newEnv(t, nil)
	if err := e.p.Store.Close(); err != nil {
		t.Fatal(err)
	}
	e.do(t, http.MethodGet, "/health/ready", "", nil).gatewayError(t, http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE")
	e.do(t, http.MethodGet, "/health/live", "", nil).want(t, http.StatusOK)
}

func TestMetrics(t *testing.T) {
	e := sharedEnv(t)
	u := e.newUser(t)
	a := e.newAsset(t, "1")
	e.deposit(t, u, "5")
	e.order(t, u, map[string]any{"order_type": "market_buy", "asset_id": a, "quantity": "1"}).want(t, http.StatusCreated)
	r := e.do(t, http.MethodGet, "/metrics", "", nil).want(t, http.StatusOK)
	body := string(r.Body)
	for _, want := range []string{
		`orderprocessor_orders_total{order_type="market_buy",outcome="placed"}`,
		`gateway_http_requests_total{`,
		`route="/api/v1/orders"`,
		`gateway_http_request_duration_seconds_bucket{`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q", ct)
	}
	e.verifyOK(t)
}

func TestOpenAPIAndDocs(t *testing.T) {
	e := sharedEnv(t)
	r := e.do(t, http.MethodGet, "/openapi.json", "", nil).want(t, http.StatusOK)
	var spec struct {
		OpenAPI string                    `json:"openapi"`
		Info    map[string]any            `json:"info"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	r.into(t, &spec)
	if !regexp.MustCompile(`^3\.1\.\d+$`).MatchString(spec.OpenAPI) {
		t.Fatalf("openapi %q", spec.OpenAPI)
	}
	for path, methods := range map[string][]string{
		"/api/v1/auth/register":                      {"post"},
		"/api/v1/auth/login":                         {"post"},
		"/api/v1/auth/profile":                       {"get", "put"},
		"/api/v1/auth/logout":                        {"post"},
		"/api/v1/balance":                            {"get"},
		"/api/v1/balance/deposit":                    {"post"},
		"/api/v1/balance/withdraw":                   {"post"},
		"/api/v1/balance/transactions":               {"get"},
		"/api/v1/balance/asset/{asset_id}":           {"get"},
		"/api/v1/portfolio":                          {"get"},
		"/api/v1/inventory/assets":                   {"get"},
		"/api/v1/inventory/assets/{asset_id}":        {"get"},
		"/api/v1/admin/assets":                       {"post"},
		"/api/v1/admin/assets/{asset_id}":            {"put"},
		"/api/v1/admin/assets/{asset_id}/price":      {"put"},
		"/api/v1/orders":                             {"get", "post"},
		"/api/v1/orders/{order_id}":                  {"get", "delete", "patch"},
		"/api/v1/assets/{asset_id}/transactions":     {"get"},
		"/api/v1/admin/users/{username}/adjustments": {"post"},
		"/api/v1/admin/orders/{order_id}/reverse":    {"post"},
		"/api/v1/balance/convert":                    {"post"},
		"/api/v1/analytics/pnl":                      {"get"},
		"/api/v1/fx/rates":                           {"get"},
		"/api/v1/fx/rates/{pair}/history":            {"get"},
		"/api/v1/admin/fx/rates/{pair}":              {"put"},
	} {
		for _, m := range methods {
			if _, ok := spec.Paths[path][m]; !ok {
				t.Errorf("spec lacks %s %s", strings.ToUpper(m), path)
			}
		}
	}
	d := e.do(t, http.MethodGet, "/docs", "", nil).want(t, http.StatusOK)
	if ct := d.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("docs Content-Type %q", ct)
	}
	html := strings.ToLower(string(d.Body))
	if !strings.Contains(html, "<html") || !strings.Contains(html, "/openapi.json") {
		t.Fatal("docs page does not look like the API docs")
	}
	for _, m := range regexp.MustCompile(`<script[^>]*\bsrc\s*=\s*["']?([^"' >]+)`).FindAllStringSubmatch(html, -1) {
		t.Errorf("docs load an external script: %s", m[1])
	}
	for _, m := range regexp.MustCompile(`<link[^>]*href\s*=\s*["']?(https?:)?//`).FindAllString(html, -1) {
		t.Errorf("docs load an external resource: %s", m)
	}
}

func TestCORSAndRouting(t *testing.T) {
	e := sharedEnv(t)
	u := e.newUser(t)
	t.Run("preflight", func(t *testing.T) {
		for _, path := range []string{"/api/v1/orders", "/api/v1/balance/deposit", "/api/v1/auth/profile"} {
			r := e.do(t, http.MethodOptions, path, "", nil,
				"Origin", "https://app.example.com", "Access-Control-Request-Method", "POST",
				"Access-Control-Request-Headers", "authorization, content-type")
			r.want(t, http.StatusNoContent)
			if got := r.Header.Get("Access-Control-Allow-Origin"); got != "*" && got != "https://app.example.com" {
				t.Errorf("%s: Allow-Origin %q", path, got)
			}
			allowH := strings.ToLower(r.Header.Get("Access-Control-Allow-Headers"))
			if !strings.Contains(allowH, "authorization") || !strings.Contains(allowH, "content-type") {
				t.Errorf("%s: Allow-Headers %q", path, allowH)
			}
			if !strings.Contains(r.Header.Get("Access-Control-Allow-Methods"), "POST") {
				t.Errorf("%s: Allow-Methods %q", path, r.Header.Get("Access-Control-Allow-Methods"))
			}
			if r.Header.Get("Access-Control-Allow-Credentials") == "true" {
				t.Errorf("%s: credentials allowed", path)
			}
		}
	})
	t.Run("simple request", func(t *testing.T) {
		r := e.do(t, http.MethodGet, "/api/v1/balance", u.token, nil, "Origin", "https://app.example.com").want(t, http.StatusOK)
		if r.Header.Get("Access-Control-Allow-Origin") == "" {
			t.Fatal("no Access-Control-Allow-Origin")
		}
		if !strings.Contains(r.Header.Get("Access-Control-Expose-Headers"), "X-Request-ID") {
			t.Fatalf("Expose-Headers %q", r.Header.Get("Access-Control-Expose-Headers"))
		}
	})
	t.Run("trailing slash", func(t *testing.T) {
		for _, c := range []struct {
			method, path, token string
			body                any
			status              int
		}{
			{http.MethodGet, "/api/v1/balance/", u.token, nil, http.StatusOK},
			{http.MethodGet, "/api/v1/inventory/assets/", "", nil, http.StatusOK},
			{http.MethodGet, "/api/v1/inventory/assets/BTC/", "", nil, http.StatusOK},
			{http.MethodGet, "/api/v1/orders/", u.token, nil, http.StatusOK},
			{http.MethodPost, "/api/v1/balance/deposit/", u.token, map[string]any{"amount": "1"}, http.StatusCreated},
			{http.MethodGet, "//api/v1//portfolio", u.token, nil, http.StatusOK},
			{http.MethodGet, "/openapi.json/", "", nil, http.StatusOK},
		} {
			r := e.do(t, c.method, c.path, c.token, c.body)
			if r.Status != c.status || r.Header.Get("Location") != "" {
				t.Errorf("%s %s: %d (Location %q), want %d", c.method, c.path, r.Status, r.Header.Get("Location"), c.status)
			}
		}
		// Protected with a slash still needs the token.
		e.do(t, http.MethodGet, "/api/v1/balance/", "", nil).gatewayError(t, http.StatusUnauthorized, "UNAUTHORIZED")
		e.wantBalance(t, u, "1.00")
	})
	t.Run("unknown route", func(t *testing.T) {
		e.do(t, http.MethodGet, "/api/v1/nope", "", nil).gatewayError(t, http.StatusUnauthorized, "UNAUTHORIZED")
		e.do(t, http.MethodGet, "/api/v1/nope", u.token, nil).serviceError(t, http.StatusNotFound, "not_found")
		e.do(t, http.MethodPatch, "/api/v1/balance", u.token, nil).want(t, http.StatusMethodNotAllowed)
	})
	t.Run("request id", func(t *testing.T) {
		r := e.do(t, http.MethodGet, "/api/v1/inventory/assets/BTC", "", nil, "X-Request-ID", "client-id_1.2")
		if got := r.Header.Get("X-Request-ID"); got != "client-id_1.2" {
			t.Fatalf("X-Request-ID %q", got)
		}
		for _, bad := range []string{"has space", strings.Repeat("a", 129), "semi;colon"} {
			r := e.do(t, http.MethodGet, "/health", "", nil, "X-Request-ID", bad)
			if got := r.Header.Get("X-Request-ID"); got == "" || got == bad {
				t.Errorf("insane id %q answered with %q", bad, got)
			}
		}
		a := e.do(t, http.MethodGet, "/health", "", nil).Header.Get("X-Request-ID")
		b := e.do(t, http.MethodGet, "/health", "", nil).Header.Get("X-Request-ID")
		if a == "" || a == b {
			t.Fatalf("generated ids %q %q", a, b)
		}
		// Errors carry it too.
		if got := e.do(t, http.MethodGet, "/api/v1/balance", "", nil, "X-Request-ID", "err-1").Header.Get("X-Request-ID"); got != "err-1" {
			t.Fatalf("error X-Request-ID %q", got)
		}
	})
	t.Run("rate limit headers", func(t *testing.T) {
		for _, c := range []struct{ method, path, token string }{
			{http.MethodGet, "/api/v1/inventory/assets/BTC", ""},
			{http.MethodGet, "/api/v1/balance", u.token},
			{http.MethodGet, "/api/v1/balance", ""},
			{http.MethodGet, "/api/v1/orders/bad", u.token},
		} {
			r := e.do(t, c.method, c.path, c.token, nil)
			for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
				if _, err := strconv.ParseInt(r.Header.Get(h), 10, 64); err != nil {
					t.Errorf("%s %s (%d): %s = %q", c.method, c.path, r.Status, h, r.Header.Get(h))
				}
			}
			if r.Header.Get("X-RateLimit-Limit") != "1000000" {
				t.Errorf("limit %q", r.Header.Get("X-RateLimit-Limit"))
			}
		}
	})
	t.Run("body too large", func(t *testing.T) {
		before := e.counts(t, u)
		big := `{"amount":"1","description":"` + strings.Repeat("x", 70<<10) + `"}`
		e.do(t, http.MethodPost, "/api/v1/balance/deposit", u.token, raw(big)).gatewayError(t, http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE")
		e.do(t, http.MethodPost, "/api/v1/auth/register", "", raw(big)).gatewayError(t, http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE")
		// Without a Content-Length (chunked).
		req, _ := http.NewRequest(http.MethodPost, e.url+"/api/v1/orders", &chunked{s: big})
		req.Header.Set("Authorization", "Bearer "+u.token)
		res, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("chunked: %d", res.StatusCode)
		}
		if after := e.counts(t, u); after != before {
			t.Fatalf("records changed %+v -> %+v", before, after)
		}
	})
	e.verifyOK(t)
}

// chunked is a reader of unknown length (so the request is chunked).
type chunked struct {
	s string
	i int
}

func (c *chunked) Read(p []byte) (int, error) {
	if c.i >= len(c.s) {
		return 0, io.EOF
	}
	n := copy(p, c.s[c.i:])
	c.i += n
	return n, nil
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, func(c *platform.Config) { c.Gateway.RateLimit = 5 })
	var statuses []int
	var last response
	for i := 0; i < 8; i++ {
		last = e.do(t, http.MethodGet, "/api/v1/inventory/assets/BTC", "", nil)
		statuses = append(statuses, last.Status)
	}
	// The admin login at start used one request of the IP's window.
	want := []int{200, 200, 200, 200, 429, 429, 429, 429}
	if !slices.Equal(statuses, want) {
		t.Fatalf("statuses %v, want %v", statuses, want)
	}
	last.gatewayError(t, http.StatusTooManyRequests, "RATE_LIMITED")
	if ra, err := strconv.Atoi(last.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
		t.Fatalf("Retry-After %q", last.Header.Get("Retry-After"))
	}
	if last.Header.Get("X-RateLimit-Remaining") != "0" || last.Header.Get("X-RateLimit-Limit") != "5" {
		t.Fatalf("headers %v", last.Header)
	}
	// Health and metrics are not rate limited.
	e.do(t, http.MethodGet, "/health", "", nil).want(t, http.StatusOK)
}

func TestLoginThrottling(t *testing.T) {
	e := newEnv(t, func(c *platform.Config) { c.Gateway.LoginMaxFailures = 5 })
	u := e.newUser(t)
	for i := 0; i < 5; i++ {
		e.do(t, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": u.name, "password": "Wr0ng!Password"}).
			serviceError(t, http.StatusUnauthorized, "unauthorized")
	}
	// Blocked now, even with the right password.
	r := e.do(t, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": u.name, "password": userPassword})
	r.gatewayError(t, http.StatusForbidden, "LOGIN_BLOCKED")
	if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 290 || ra > 300 {
		t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
	}
	// Other routes still work for the same IP with a valid token.
	e.do(t, http.MethodGet, "/api/v1/auth/profile", u.token, nil).want(t, http.StatusOK)
	// A blocked IP is blocked whatever the body.
	e.do(t, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": "x", "password": "y"}).gatewayError(t, http.StatusForbidden, "LOGIN_BLOCKED")
}

func TestLoginThrottlingCountsOnlyFailures(t *testing.T) {
	e := newEnv(t, func(c *platform.Config) { c.Gateway.LoginMaxFailures = 5 })
	u := e.newUser(t)
	for i := 0; i < 4; i++ {
		e.do(t, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": u.name, "password": "Wr0ng!Password"}).want(t, http.StatusUnauthorized)
		// Impossible credentials are 422 and are not failures.
		e.do(t, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": "abc", "password": "Wr0ng!Password"}).want(t, http.StatusUnprocessableEntity)
		e.login(t, u.name, userPassword)
	}
	e.login(t, u.name, userPassword)
	// The fifth real failure blocks.
	e.do(t, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": u.name, "password": "Wr0ng!Password"}).want(t, http.StatusUnauthorized)
	e.do(t, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": u.name, "password": userPassword}).gatewayError(t, http.StatusForbidden, "LOGIN_BLOCKED")
}
