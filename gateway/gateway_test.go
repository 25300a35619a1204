package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/testenv/fakeclock"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lines returns the JSON log records.
func (s *syncBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

var testRoutes = RouteTable{
	{Method: "POST", Pattern: "/api/v1/auth/login", Access: Public},
	{Method: "POST", Pattern: "/api/v1/auth/logout", Access: User},
	{Method: "GET", Pattern: "/api/v1/inventory/assets", Access: Public},
	{Method: "GET", Pattern: "/api/v1/inventory/assets/{asset_id}", Access: Public},
	{Method: "GET", Pattern: "/api/v1/orders", Access: User},
	{Method: "POST", Pattern: "/api/v1/orders", Access: User},
	{Method: "GET", Pattern: "/api/v1/orders/{order_id}", Access: User},
	{Method: "", Pattern: "/api/v1/admin/{rest...}", Access: Admin},
	{Method: "GET", Pattern: "/api/v1/panic", Access: Public},
	{Method: "GET", Pattern: "/api/v1/panic-late", Access: Public},
	{Method: "GET", Pattern: "/api/v1/stream", Access: Public},
	{Method: "POST", Pattern: "/api/v1/echo", Access: Public},
}

// seen is what the test handler observed about a request.
type seen struct {
	Path      string `json:"path"`
	User      string `json:"user"`
	Role      string `json:"role"`
	TokenID   string `json:"token_id"`
	IP        string `json:"ip"`
	RequestID string `json:"request_id"`
	// HeaderID is the X-Request-ID header the handler received.
	HeaderID string `json:"header_id"`
	BodyLen  int    `json:"body_len"`
}

// testHandler stands in for the services.
func testHandler() http.Handler {
	mux := http.NewServeMux()
	echo := func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		p, _ := auth.PrincipalFrom(r.Context())
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(seen{Path: r.URL.Path, User: p.Username, Role: string(p.Role),
			TokenID: p.TokenID, IP: ClientIP(r), RequestID: RequestID(r.Context()),
			HeaderID: r.Header.Get("X-Request-ID"), BodyLen: len(body)})
	}
	mux.HandleFunc("POST /api/v1/auth/login", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Password string }
		_ = json.NewDecoder(r.Body).Decode(&req)
		if req.Password != "right" {
			http.Error(w, `{"detail":"invalid credentials"}`, http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, `{"access_token":"x"}`)
	})
	mux.HandleFunc("GET /api/v1/inventory/assets", echo)
	mux.HandleFunc("GET /api/v1/inventory/assets/{asset_id}", echo)
	mux.HandleFunc("GET /api/v1/orders", echo)
	mux.HandleFunc("POST /api/v1/orders", echo)
	mux.HandleFunc("GET /api/v1/orders/{order_id}", echo)
	mux.HandleFunc("/api/v1/admin/", echo)
	mux.HandleFunc("POST /api/v1/echo", echo)
	mux.HandleFunc("GET /api/v1/panic", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		panic("secret database password leaked in panic")
	})
	mux.HandleFunc("GET /api/v1/panic-late", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		panic("late")
	})
	mux.HandleFunc("GET /api/v1/stream", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		f, ok := w.(http.Flusher)
		if !ok {
			http.Error(w, "no flusher", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "data: 1\n\n")
		f.Flush()
		if err := http.NewResponseController(w).Flush(); err != nil {
			return
		}
		_, _ = io.WriteString(w, "data: 2\n\n")
	})
	return mux
}

type env struct {
	t    *testing.T
	srv  *httptest.Server
	gw   *Gateway
	clk  *fakeclock.Clock
	iss  *auth.Issuer
	rev  *auth.MemoryRevoker
	logs *syncBuffer
}

func newEnv(t *testing.T, mutate func(*Config, *Deps)) *env {
	t.Helper()
	clk := fakeclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	iss, err := auth.NewIssuer(testSecret, auth.IssuerOptions{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	rev := auth.NewMemoryRevoker(auth.MemoryRevokerOptions{Now: clk.Now})
	logs := &syncBuffer{}
	cfg := DefaultConfig()
	cfg.Version = "1.2.3"
	deps := Deps{Tokens: iss, Revoker: rev, Now: clk.Now,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if mutate != nil {
		mutate(&cfg, &deps)
	}
	gw, err := New(cfg, testRoutes, testHandler(), deps)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, gw: gw, clk: clk, iss: iss, rev: rev, logs: logs}
}

func (e *env) token(user string, role auth.Role) (string, auth.Claims) {
	e.t.Helper()
	tok, c, err := e.iss.Issue(user, role)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok, c
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) seen(t *testing.T) seen {
	t.Helper()
	var s seen
	if err := json.Unmarshal(r.body, &s); err != nil {
		t.Fatalf("handler response %q: %v", r.body, err)
	}
	return s
}

// gatewayError checks r is a gateway error with status and code and returns its message.
func (r resp) gatewayError(t *testing.T, status int, code string) string {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d (body %s)", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q", ct)
	}
	var m map[string]string
	dec := json.NewDecoder(bytes.NewReader(r.body))
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	if len(m) != 4 || m["error"] != code || m["code"] != code || m["message"] == "" {
		t.Fatalf("error body = %s, want code %s and exactly error/message/code/timestamp", r.body, code)
	}
	ts, err := time.Parse(time.RFC3339Nano, m["timestamp"])
	if err != nil || !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`).MatchString(m["timestamp"]) {
		t.Fatalf("timestamp %q: %v", m["timestamp"], err)
	}
	_ = ts
	return m["message"]
}

func (e *env) do(method, path string, hdr map[string]string, body io.Reader) resp {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[http.CanonicalHeaderKey(k)] = []string{v}
	}
	client := &http.Client{
		Transport:     e.srv.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	res, err := client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

func TestAuthentication(t *testing.T) {
	e := newEnv(t, nil)
	expiring, _ := e.token("dave_001", auth.RoleCustomer)
	other, err := auth.NewIssuer([]byte("another-secret-another-secret-!!"), auth.IssuerOptions{Now: e.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	forged, _, err := other.Issue("alice_01", auth.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	// Advance so that "expiring" has expired; the others are issued after.
	e.clk.Advance(time.Hour)
	customer, cc := e.token("alice_01", auth.RoleCustomer)
	admin, _ := e.token("admin_01", auth.RoleAdmin)
	revoked, rc := e.token("carol_01", auth.RoleCustomer)
	if err := e.rev.Revoke(context.Background(), rc.ID, rc.ExpiresAt); err != nil {
		t.Fatal(err)
	}

	big := strings.Repeat("x", 100<<10)
	tests := []struct {
		name         string
		method, path string
		hdr          map[string]string
		body         string
		status       int
		code, msg    string // for gateway errors
		user         string // for 200
	}{
		{"missing", "GET", "/api/v1/orders", nil, "", 401, CodeUnauthorized, "not authenticated", ""},
		{"empty", "GET", "/api/v1/orders", map[string]string{"Authorization": ""}, "", 401, CodeUnauthorized, "not authenticated", ""},
		{"Bearer only", "GET", "/api/v1/orders", map[string]string{"Authorization": "Bearer"}, "", 401, CodeUnauthorized, "malformed Authorization header; expected: Bearer <token>", ""},
		{"Bearer space", "GET", "/api/v1/orders", map[string]string{"Authorization": "Bearer "}, "", 401, CodeUnauthorized, "malformed Authorization header; expected: Bearer <token>", ""},
		{"Basic", "GET", "/api/v1/orders", map[string]string{"Authorization": "Basic x"}, "", 401, CodeUnauthorized, "malformed Authorization header; expected: Bearer <token>", ""},
		{"no scheme", "GET", "/api/v1/orders", map[string]string{"Authorization": customer}, "", 401, CodeUnauthorized, "malformed Authorization header; expected: Bearer <token>", ""},
		{"garbage token", "GET", "/api/v1/orders", bearer("abc.def.ghi"), "", 401, CodeUnauthorized, "invalid token", ""},
		{"forged token", "GET", "/api/v1/orders", bearer(forged), "", 401, CodeUnauthorized, "invalid token", ""},
		{"expired token", "GET", "/api/v1/orders", bearer(expiring), "", 401, CodeUnauthorized, "token expired", ""},
		{"revoked token", "GET", "/api/v1/orders", bearer(revoked), "", 401, CodeUnauthorized, "token revoked", ""},
		{"401 before body validation", "POST", "/api/v1/orders", nil, big, 401, CodeUnauthorized, "not authenticated", ""},
		{"401 before 404 on unknown path", "GET", "/api/v1/nowhere", nil, "", 401, CodeUnauthorized, "not authenticated", ""},
		{"customer ok", "GET", "/api/v1/orders", bearer(customer), "", 200, "", "", "alice_01"},
		{"lower-case scheme", "GET", "/api/v1/orders/ord_1234567890", map[string]string{"Authorization": "bearer " + customer}, "", 200, "", "", "alice_01"},
		{"customer on admin", "PUT", "/api/v1/admin/assets/BTC", bearer(customer), "{}", 403, CodeForbidden, "admin role required", ""},
		{"admin on admin", "PUT", "/api/v1/admin/assets/BTC", bearer(admin), "{}", 200, "", "", "admin_01"},
		{"admin without token", "PUT", "/api/v1/admin/assets/BTC", nil, "{}", 401, CodeUnauthorized, "not authenticated", ""},
		{"public without token", "GET", "/api/v1/inventory/assets", nil, "", 200, "", "", ""},
		{"public with token", "GET", "/api/v1/inventory/assets/BTC", bearer(customer), "", 200, "", "", "alice_01"},
		{"public with bad token", "GET", "/api/v1/inventory/assets", bearer("abc.def.ghi"), "", 200, "", "", ""},
		{"public with expired token", "POST", "/api/v1/echo", bearer(expiring), "{}", 200, "", "", ""},
		{"public with revoked token", "GET", "/api/v1/inventory/assets", bearer(revoked), "", 200, "", "", ""},
		{"public with Basic", "GET", "/api/v1/inventory/assets", map[string]string{"Authorization": "Basic x"}, "", 200, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			r := e.do(tt.method, tt.path, tt.hdr, body)
			if tt.code != "" {
				if msg := r.gatewayError(t, tt.status, tt.code); msg != tt.msg {
					t.Fatalf("message = %q, want %q", msg, tt.msg)
				}
				if tt.status == 401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
					t.Fatalf("401 without WWW-Authenticate: %v", r.header)
				}
				return
			}
			if r.status != tt.status {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.status, r.body)
			}
			s := r.seen(t)
			if s.User != tt.user {
				t.Fatalf("handler saw user %q, want %q", s.User, tt.user)
			}
			if tt.user == "alice_01" && (s.TokenID != cc.ID || s.Role != "customer") {
				t.Fatalf("principal = %+v, want token %s, role customer", s, cc.ID)
			}
		})
	}
}

func TestLogoutRevocationFlow(t *testing.T) {
	e := newEnv(t, nil)
	tok, c := e.token("alice_01", auth.RoleCustomer)
	if r := e.do("GET", "/api/v1/orders", bearer(tok), nil); r.status != 200 {
		t.Fatalf("before revocation: %d", r.status)
	}
	if err := e.rev.Revoke(context.Background(), c.ID, c.ExpiresAt); err != nil {
		t.Fatal(err)
	}
	r := e.do("GET", "/api/v1/orders", bearer(tok), nil)
	if msg := r.gatewayError(t, 401, CodeUnauthorized); msg != "token revoked" {
		t.Fatalf("message %q", msg)
	}
}

type failingRevoker struct{}

func (failingRevoker) Revoke(context.Context, string, time.Time) error { return errors.New("down") }
func (failingRevoker) IsRevoked(context.Context, string) (bool, error) {
	return false, errors.New("redis down")
}

func TestRevokerFailureFailsClosed(t *testing.T) {
	e := newEnv(t, func(_ *Config, d *Deps) { d.Revoker = failingRevoker{} })
	tok, _ := e.token("alice_01", auth.RoleCustomer)
	r := e.do("GET", "/api/v1/orders", bearer(tok), nil)
	if msg := r.gatewayError(t, 503, CodeServiceUnavailable); strings.Contains(msg, "redis") {
		t.Fatalf("internal detail leaked: %q", msg)
	}
	// A public route ignores the token it cannot check.
	r = e.do("GET", "/api/v1/inventory/assets", bearer(tok), nil)
	if r.status != 200 || r.seen(t).User != "" {
		t.Fatalf("public route: %d %s", r.status, r.body)
	}
	if !strings.Contains(e.logs.String(), "redis down") {
		t.Fatalf("revoker error not logged")
	}
}

func TestPathNormalisationNoRedirect(t *testing.T) {
	e := newEnv(t, nil)
	tok, _ := e.token("alice_01", auth.RoleCustomer)
	for _, p := range []string{"/api/v1/orders", "/api/v1/orders/", "/api/v1//orders", "/api/v1/./orders/"} {
		r := e.do("GET", p, bearer(tok), nil)
		if r.status != 200 {
			t.Fatalf("GET %s: %d %s", p, r.status, r.body)
		}
		if s := r.seen(t); s.Path != "/api/v1/orders" {
			t.Fatalf("GET %s reached the handler as %q", p, s.Path)
		}
	}
	r := e.do("GET", "/api/v1/inventory/assets/BTC/", nil, nil)
	if r.status != 200 || r.seen(t).Path != "/api/v1/inventory/assets/BTC" {
		t.Fatalf("trailing slash on a parameter route: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/health/", nil, nil); r.status != 200 {
		t.Fatalf("/health/: %d", r.status)
	}
}

func TestCORS(t *testing.T) {
	t.Run("any origin", func(t *testing.T) {
		e := newEnv(t, nil)
		r := e.do("OPTIONS", "/api/v1/orders", map[string]string{"Origin": "http://app.example",
			"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}, nil)
		if r.status != 204 || len(r.body) != 0 {
			t.Fatalf("preflight: %d %s", r.status, r.body)
		}
		want := map[string]string{
			"Access-Control-Allow-Origin":  "*",
			"Access-Control-Allow-Methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
			"Access-Control-Allow-Headers": "Authorization, Content-Type, Idempotency-Key, If-Match, X-Request-ID",
			"Access-Control-Max-Age":       "600",
		}
		for k, v := range want {
			if got := r.header.Get(k); got != v {
				t.Errorf("%s = %q, want %q", k, got, v)
			}
		}
		if r.header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("credentials allowed")
		}
		if r.header.Get("X-Request-ID") == "" || r.header.Get("X-RateLimit-Limit") != "10000" {
			t.Errorf("preflight lacks request id or rate-limit headers: %v", r.header)
		}
		tok, _ := e.token("alice_01", auth.RoleCustomer)
		hdr := bearer(tok)
		hdr["Origin"] = "http://app.example"
		r = e.do("GET", "/api/v1/orders", hdr, nil)
		if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "*" ||
			!strings.Contains(r.header.Get("Access-Control-Expose-Headers"), "X-RateLimit-Remaining") {
			t.Fatalf("simple request: %d %v", r.status, r.header)
		}
		// Errors carry CORS headers too, so the browser can read them.
		r = e.do("GET", "/api/v1/orders", map[string]string{"Origin": "http://app.example"}, nil)
		if r.status != 401 || r.header.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("401: %d %v", r.status, r.header)
		}
		// No Origin: no CORS headers.
		r = e.do("GET", "/api/v1/inventory/assets", nil, nil)
		if r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("CORS header without Origin")
		}
	})
	t.Run("allow-list", func(t *testing.T) {
		e := newEnv(t, func(c *Config, _ *Deps) { c.AllowedOrigins = []string{"https://ok.example"} })
		pre := func(origin string) resp {
			return e.do("OPTIONS", "/api/v1/orders", map[string]string{"Origin": origin, "Access-Control-Request-Method": "GET"}, nil)
		}
		r := pre("https://ok.example")
		if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "https://ok.example" ||
			r.header.Get("Vary") != "Origin" || r.header.Get("Access-Control-Allow-Headers") == "" {
			t.Fatalf("allowed preflight: %d %v", r.status, r.header)
		}
		r = pre("https://evil.example")
		if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "" || r.header.Get("Access-Control-Allow-Headers") != "" {
			t.Fatalf("disallowed preflight: %d %v", r.status, r.header)
		}
		r = e.do("GET", "/api/v1/inventory/assets", map[string]string{"Origin": "https://evil.example"}, nil)
		if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "" || r.header.Get("Vary") != "Origin" {
			t.Fatalf("disallowed simple request: %d %v", r.status, r.header)
		}
	})
}

func TestBodyLimit(t *testing.T) {
	e := newEnv(t, nil)
	const max = DefaultMaxBodyBytes
	tests := []struct {
		name    string
		size    int
		chunked bool
		status  int
	}{
		{"at limit with Content-Length", max, false, 200},
		{"over limit with Content-Length", max + 1, false, 413},
		{"at limit chunked", max, true, 200},
		{"over limit chunked", max + 1, true, 413},
		{"far over limit chunked", 10 * max, true, 413},
		{"empty", 0, false, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader = bytes.NewReader(bytes.Repeat([]byte("a"), tt.size))
			if tt.chunked {
				body = io.MultiReader(body) // unknown length: sent chunked
			}
			r := e.do("POST", "/api/v1/echo", nil, body)
			if tt.status == 413 {
				if msg := r.gatewayError(t, 413, CodePayloadTooLarge); msg != "request body exceeds 65536 bytes" {
					t.Fatalf("message %q", msg)
				}
				return
			}
			if r.status != tt.status || r.seen(t).BodyLen != tt.size {
				t.Fatalf("status %d body %s, want %d and body_len %d", r.status, r.body, tt.status, tt.size)
			}
		})
	}
	small := newEnv(t, func(c *Config, _ *Deps) { c.MaxBodyBytes = 10 })
	if r := small.do("POST", "/api/v1/echo", nil, strings.NewReader("01234567890")); r.status != 413 {
		t.Fatalf("MaxBodyBytes=10 with 11 bytes: %d", r.status)
	}
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, func(c *Config, _ *Deps) { c.RateLimit = 3 })
	reset := strconv.FormatInt(e.clk.Now().Add(time.Minute).Unix(), 10)
	for i, want := range []string{"2", "1", "0"} {
		r := e.do("GET", "/api/v1/inventory/assets", nil, nil)
		if r.status != 200 || r.header.Get("X-RateLimit-Limit") != "3" ||
			r.header.Get("X-RateLimit-Remaining") != want || r.header.Get("X-RateLimit-Reset") != reset {
			t.Fatalf("request %d: %d %v", i, r.status, r.header)
		}
	}
	r := e.do("GET", "/api/v1/inventory/assets", nil, nil)
	if msg := r.gatewayError(t, 429, CodeRateLimited); msg != "rate limit exceeded; retry later" {
		t.Fatalf("message %q", msg)
	}
	if r.header.Get("Retry-After") != "60" || r.header.Get("X-RateLimit-Remaining") != "0" || r.header.Get("X-RateLimit-Reset") != reset {
		t.Fatalf("429 headers: %v", r.header)
	}
	e.clk.Advance(30*time.Second + 500*time.Millisecond)
	r = e.do("GET", "/api/v1/orders", nil, nil) // limited before authentication
	r.gatewayError(t, 429, CodeRateLimited)
	if r.header.Get("Retry-After") != "30" {
		t.Fatalf("Retry-After = %q, want 30 (rounded up)", r.header.Get("Retry-After"))
	}
	// Health and metrics are not limited and carry no rate-limit headers.
	if r := e.do("GET", "/health", nil, nil); r.status != 200 || r.header.Get("X-RateLimit-Limit") != "" {
		t.Fatalf("/health: %d %v", r.status, r.header)
	}
	e.clk.Advance(30 * time.Second)
	r = e.do("GET", "/api/v1/inventory/assets", nil, nil)
	if r.status != 200 || r.header.Get("X-RateLimit-Remaining") != "2" {
		t.Fatalf("new window: %d %v", r.status, r.header)
	}
}

func TestRateLimitPerUser(t *testing.T) {
	e := newEnv(t, func(c *Config, _ *Deps) { c.RateLimit = 3; c.TrustProxy = true })
	tok, _ := e.token("alice_01", auth.RoleCustomer)
	from := func(ip string) map[string]string {
		h := bearer(tok)
		h["X-Forwarded-For"] = ip
		return h
	}
	// IP 10.0.0.1 makes one anonymous request, then alice uses it once:
	// remaining is the smaller of IP (1) and user (2).
	if r := e.do("GET", "/api/v1/inventory/assets", map[string]string{"X-Forwarded-For": "10.0.0.1"}, nil); r.status != 200 {
		t.Fatal(r.status)
	}
	r := e.do("GET", "/api/v1/orders", from("10.0.0.1"), nil)
	if r.status != 200 || r.header.Get("X-RateLimit-Remaining") != "1" {
		t.Fatalf("remaining = %q, want 1 (the IP's)", r.header.Get("X-RateLimit-Remaining"))
	}
	r = e.do("GET", "/api/v1/orders", from("10.0.0.2"), nil)
	if r.status != 200 || r.header.Get("X-RateLimit-Remaining") != "1" {
		t.Fatalf("remaining = %q, want 1 (the user's)", r.header.Get("X-RateLimit-Remaining"))
	}
	r = e.do("GET", "/api/v1/orders", from("10.0.0.3"), nil)
	if r.status != 200 || r.header.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("third: %d remaining %q", r.status, r.header.Get("X-RateLimit-Remaining"))
	}
	r = e.do("GET", "/api/v1/orders", from("10.0.0.4"), nil)
	r.gatewayError(t, 429, CodeRateLimited)
	if r.header.Get("Retry-After") != "60" {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	// Another IP without the token is not limited by alice's count.
	if r := e.do("GET", "/api/v1/inventory/assets", map[string]string{"X-Forwarded-For": "10.0.0.5"}, nil); r.status != 200 {
		t.Fatalf("anonymous from a fresh IP: %d", r.status)
	}
}

func TestRateLimitDisabled(t *testing.T) {
	e := newEnv(t, func(c *Config, _ *Deps) { c.RateLimit = 0 })
	for i := 0; i < 5; i++ {
		r := e.do("GET", "/api/v1/inventory/assets", nil, nil)
		if r.status != 200 || r.header.Get("X-RateLimit-Limit") != "" {
			t.Fatalf("%d %v", r.status, r.header)
		}
	}
}

type failingCounter struct{}

func (failingCounter) Incr(context.Context, string, time.Duration) (int64, time.Time, error) {
	return 0, time.Time{}, errors.New("counter down")
}
func (failingCounter) Decr(context.Context, string) error                { return errors.New("down") }
func (failingCounter) Reset(context.Context, string) error               { return errors.New("down") }
func (failingCounter) Mark(context.Context, string, time.Duration) error { return errors.New("down") }
func (failingCounter) Marked(context.Context, string) (time.Time, bool, error) {
	return time.Time{}, false, errors.New("marker down")
}

func TestCounterFailureFailsOpen(t *testing.T) {
	e := newEnv(t, func(c *Config, d *Deps) { c.RateLimit = 1; d.Counter = failingCounter{} })
	for i := 0; i < 3; i++ {
		if r := e.do("GET", "/api/v1/inventory/assets", nil, nil); r.status != 200 {
			t.Fatalf("%d", r.status)
		}
		if r := e.do("POST", "/api/v1/auth/login", nil, strings.NewReader(`{"password":"wrong"}`)); r.status != 401 {
			t.Fatalf("login %d", r.status)
		}
	}
	for _, s := range []string{"counter down", "marker down"} {
		if !strings.Contains(e.logs.String(), s) {
			t.Fatalf("%q not logged", s)
		}
	}
}

// TestCounterFailureLogSampled: while the counter fails on every request,
// its failure is logged once, then once per FailureLogInterval with the
// number of failures not logged.
func TestCounterFailureLogSampled(t *testing.T) {
	e := newEnv(t, func(c *Config, d *Deps) { c.RateLimit = 1; d.Counter = failingCounter{} })
	logged := func() []string {
		var lines []string
		for _, l := range strings.Split(e.logs.String(), "\n") {
			if strings.Contains(l, "rate limit counter failed") {
				lines = append(lines, l)
			}
		}
		return lines
	}
	for range 50 {
		if r := e.do("GET", "/api/v1/inventory/assets", nil, nil); r.status != 200 {
			t.Fatalf("%d", r.status)
		}
	}
	if got := logged(); len(got) != 1 || !strings.Contains(got[0], `"failures_not_logged":0`) {
		t.Fatalf("after 50 failures, logged %d times: %q", len(got), got)
	}
	e.clk.Advance(FailureLogInterval)
	if r := e.do("GET", "/api/v1/inventory/assets", nil, nil); r.status != 200 {
		t.Fatalf("%d", r.status)
	}
	if got := logged(); len(got) != 2 || !strings.Contains(got[1], `"failures_not_logged":49`) {
		t.Fatalf("after the interval, logged %d times: %q", len(got), got)
	}
}

func TestLoginThrottling(t *testing.T) {
	login := func(e *env, ip, pw string) resp {
		return e.do("POST", "/api/v1/auth/login", map[string]string{"X-Forwarded-For": ip},
			strings.NewReader(`{"password":"`+pw+`"}`))
	}
	t.Run("five failures block", func(t *testing.T) {
		e := newEnv(t, func(c *Config, _ *Deps) { c.TrustProxy = true })
		for i := 0; i < 5; i++ {
			if r := login(e, "10.0.0.1", "wrong"); r.status != 401 {
				t.Fatalf("failure %d: %d", i, r.status)
			}
			if r := login(e, "10.0.0.1", "right"); r.status != 200 && i < 4 {
				t.Fatalf("success between failures: %d", r.status)
			}
		}
		r := login(e, "10.0.0.1", "right")
		if msg := r.gatewayError(t, 403, CodeLoginBlocked); msg != "too many failed login attempts; try again later" {
			t.Fatalf("message %q", msg)
		}
		if r.header.Get("Retry-After") != "300" {
			t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
		}
		if r := login(e, "10.0.0.2", "right"); r.status != 200 {
			t.Fatalf("other IP: %d", r.status)
		}
		if r := e.do("GET", "/api/v1/inventory/assets", map[string]string{"X-Forwarded-For": "10.0.0.1"}, nil); r.status != 200 {
			t.Fatalf("blocked IP on another route: %d", r.status)
		}
		e.clk.Advance(5*time.Minute - time.Second)
		login(e, "10.0.0.1", "right").gatewayError(t, 403, CodeLoginBlocked)
		e.clk.Advance(time.Second)
		if r := login(e, "10.0.0.1", "right"); r.status != 200 {
			t.Fatalf("after the block: %d %s", r.status, r.body)
		}
	})
	t.Run("window expires", func(t *testing.T) {
		e := newEnv(t, nil)
		for i := 0; i < 4; i++ {
			login(e, "", "wrong")
		}
		e.clk.Advance(5 * time.Minute)
		for i := 0; i < 4; i++ {
			if r := login(e, "", "wrong"); r.status != 401 {
				t.Fatalf("failure %d in the new window: %d", i, r.status)
			}
		}
		if r := login(e, "", "right"); r.status != 200 {
			t.Fatalf("4+4 failures in two windows blocked: %d", r.status)
		}
	})
	t.Run("custom limits", func(t *testing.T) {
		e := newEnv(t, func(c *Config, _ *Deps) {
			c.LoginMaxFailures, c.LoginWindow, c.LoginBlock = 2, time.Minute, 10*time.Second
		})
		login(e, "", "wrong")
		login(e, "", "wrong")
		r := login(e, "", "right")
		r.gatewayError(t, 403, CodeLoginBlocked)
		if r.header.Get("Retry-After") != "10" {
			t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
		}
	})
	t.Run("disabled", func(t *testing.T) {
		e := newEnv(t, func(c *Config, _ *Deps) { c.LoginMaxFailures = 0 })
		for i := 0; i < 10; i++ {
			if r := login(e, "", "wrong"); r.status != 401 {
				t.Fatalf("failure %d: %d", i, r.status)
			}
		}
		if r := login(e, "", "right"); r.status != 200 {
			t.Fatalf("disabled throttling blocked: %d", r.status)
		}
	})
}

func TestLoginAccountLimit(t *testing.T) {
	e := newEnv(t, func(c *Config, _ *Deps) {
		c.TrustProxy = true
		c.LoginAccountMaxFailures, c.LoginAccountDelay, c.LoginAccountMaxDelay = 2, 10*time.Second, 25*time.Second
	})
	ip := 0
	login := func(user, pw string) resp {
		ip++
		return e.do("POST", "/api/v1/auth/login", map[string]string{"X-Forwarded-For": fmt.Sprintf("10.1.0.%d", ip)},
			strings.NewReader(`{"username":"`+user+`","password":"`+pw+`"}`))
	}
	delayed := func(r resp, retryAfter string) {
		t.Helper()
		if msg := r.gatewayError(t, 403, CodeLoginBlocked); msg != "too many failed logins for this account; try again later" {
			t.Fatalf("message %q", msg)
		}
		if got := r.header.Get("Retry-After"); got != retryAfter {
			t.Fatalf("Retry-After %q, want %s", got, retryAfter)
		}
	}
	// Names are counted lower-cased; the attempt after the limit passes
	// and opens a delay.
	for i, u := range []string{"Bob", "bob", "BOB"} {
		if r := login(u, "wrong"); r.status != 401 {
			t.Fatalf("failure %d: %d", i+1, r.status)
		}
	}
	delayed(login("bob", "right"), "10")
	if r := login("carol", "wrong"); r.status != 401 {
		t.Fatalf("another account: %d", r.status)
	}
	// Each delay doubles, up to LoginAccountMaxDelay.
	for _, d := range []time.Duration{10 * time.Second, 20 * time.Second} {
		e.clk.Advance(d)
		if r := login("bob", "wrong"); r.status != 401 {
			t.Fatalf("after %v: %d", d, r.status)
		}
		delayed(login("bob", "wrong"), strconv.Itoa(int(min(2*d, 25*time.Second)/time.Second)))
	}
	// After the delay the right password passes (the body reaches the
	// handler intact), and the login ends the account's window.
	e.clk.Advance(25 * time.Second)
	if r := login("bob", "right"); r.status != 200 {
		t.Fatalf("owner after the delay: %d %s", r.status, r.body)
	}
	for i := 0; i < 3; i++ {
		if r := login("bob", "wrong"); r.status != 401 {
			t.Fatalf("failure %d after the login: %d", i+1, r.status)
		}
	}
	delayed(login("bob", "wrong"), "10")
	// A name no user can have is not counted (the handler refuses it).
	long := strings.Repeat("x", maxUsernameBytes+1)
	for i := 0; i < 5; i++ {
		if r := login(long, "wrong"); r.status != 401 {
			t.Fatalf("long name %d: %d", i+1, r.status)
		}
	}
}

func TestRequestID(t *testing.T) {
	e := newEnv(t, nil)
	gen := regexp.MustCompile(`^[a-z0-9]{10}-[0-9a-z]+$`)
	ids := map[string]bool{}
	for i := 0; i < 3; i++ {
		r := e.do("GET", "/api/v1/inventory/assets", nil, nil)
		id := r.header.Get("X-Request-ID")
		if !gen.MatchString(id) || ids[id] {
			t.Fatalf("generated id %q (seen before: %v)", id, ids[id])
		}
		ids[id] = true
		if s := r.seen(t); s.RequestID != id || s.HeaderID != id {
			t.Fatalf("handler saw request id %q and header %q, response has %q", s.RequestID, s.HeaderID, id)
		}
	}
	tests := []struct {
		sent string
		keep bool
	}{
		{"abc-123_X.y", true},
		{strings.Repeat("a", 128), true},
		{"a", true},
		{strings.Repeat("a", 129), false},
		{"has space", false},
		{"semi;colon", false},
		{"ünïcode", false},
	}
	for _, tt := range tests {
		r := e.do("GET", "/api/v1/inventory/assets", map[string]string{"X-Request-ID": tt.sent}, nil)
		got := r.header.Get("X-Request-ID")
		if tt.keep && got != tt.sent || !tt.keep && !gen.MatchString(got) {
			t.Errorf("sent %.20q, got %q (keep %v)", tt.sent, got, tt.keep)
		}
		if s := r.seen(t); s.HeaderID != got {
			t.Errorf("sent %.20q: handler's header %q, response's %q", tt.sent, s.HeaderID, got)
		}
	}
	// Gateway errors carry it too.
	r := e.do("GET", "/api/v1/orders", map[string]string{"X-Request-ID": "req-401"}, nil)
	if r.status != 401 || r.header.Get("X-Request-ID") != "req-401" {
		t.Fatalf("401: %d %q", r.status, r.header.Get("X-Request-ID"))
	}
}

func TestPanicRecovery(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do("GET", "/api/v1/panic", map[string]string{"X-Request-ID": "req-panic"}, nil)
	if msg := r.gatewayError(t, 500, CodeInternal); msg != "internal server error" {
		t.Fatalf("message %q", msg)
	}
	if bytes.Contains(r.body, []byte("secret")) || r.header.Get("Content-Encoding") != "" {
		t.Fatalf("panic details or handler headers leaked: %v %s", r.header, r.body)
	}
	if r.header.Get("X-Request-ID") != "req-panic" {
		t.Fatalf("request id %q", r.header.Get("X-Request-ID"))
	}
	var found bool
	for _, rec := range e.logs.records(t) {
		if rec["msg"] == "panic serving request" && rec["request_id"] == "req-panic" &&
			strings.Contains(rec["panic"].(string), "secret database password") &&
			strings.Contains(rec["stack"].(string), "gateway") {
			found = true
		}
	}
	if !found {
		t.Fatalf("panic not logged with request id and stack:\n%s", e.logs.String())
	}
	// A panic after the response started aborts the connection.
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/panic-late", nil)
	res, err := e.srv.Client().Do(req)
	if err == nil {
		_, err = io.ReadAll(res.Body)
		res.Body.Close()
	}
	if err == nil {
		t.Fatalf("late panic: response completed normally")
	}
	// The server still works.
	if r := e.do("GET", "/health/live", nil, nil); r.status != 200 {
		t.Fatalf("after panics: %d", r.status)
	}
	m := e.do("GET", "/metrics", nil, nil)
	if !bytes.Contains(m.body, []byte(MetricPanics+" 2")) {
		t.Fatalf("panics metric:\n%s", grepLines(m.body, "panics"))
	}
}

func TestStreamingFlushes(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do("GET", "/api/v1/stream", nil, nil)
	if r.status != 200 || string(r.body) != "data: 1\n\ndata: 2\n\n" {
		t.Fatalf("stream: %d %q", r.status, r.body)
	}
}

func grepLines(b []byte, sub string) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestMetrics(t *testing.T) {
	e := newEnv(t, nil)
	tok, _ := e.token("alice_01", auth.RoleCustomer)
	e.do("GET", "/api/v1/orders/ord_1234567890", bearer(tok), nil)
	e.do("GET", "/api/v1/orders/ord_0987654321/", bearer(tok), nil)
	e.do("GET", "/api/v1/orders/ord_0987654321", nil, nil)
	e.do("DELETE", "/api/v1/nowhere", bearer(tok), nil)
	e.do("BREW", "/api/v1/inventory/assets", nil, nil)
	e.do("OPTIONS", "/api/v1/orders/x", map[string]string{"Origin": "http://a", "Access-Control-Request-Method": "GET"}, nil)
	r := e.do("GET", "/metrics", nil, nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %q", r.status, r.header.Get("Content-Type"))
	}
	for _, want := range []string{
		`gateway_http_requests_total{method="GET",route="/api/v1/orders/{order_id}",status="200"} 2`,
		`gateway_http_requests_total{method="GET",route="/api/v1/orders/{order_id}",status="401"} 1`,
		`gateway_http_requests_total{method="DELETE",route="unmatched",status="404"} 1`,
		`gateway_http_requests_total{method="OTHER",route="unmatched",status="401"} 1`,
		`gateway_http_request_duration_seconds_count{method="GET",route="/api/v1/orders/{order_id}",status="200"} 2`,
		`gateway_auth_failures_total{reason="missing"} 2`,
		`gateway_http_requests_total{method="OPTIONS",route="/api/v1/orders/{order_id}",status="204"} 1`,
		`gateway_http_requests_in_flight 1`,
		`go_goroutines `,
	} {
		if !bytes.Contains(r.body, []byte(want)) {
			t.Errorf("metrics lack %s\n%s", want, grepLines(r.body, "gateway_"))
		}
	}
	if e.gw.Registry() == nil {
		t.Fatal("Registry() is nil")
	}
}

func TestAccessLog(t *testing.T) {
	e := newEnv(t, nil)
	tok, _ := e.token("alice_01", auth.RoleCustomer)
	hdr := bearer(tok)
	hdr["X-Request-ID"] = "req-log-1"
	e.do("GET", "/api/v1/orders/ord_1234567890?cursor=abc", hdr, nil)
	var recs []map[string]any
	for _, rec := range e.logs.records(t) {
		if rec["msg"] == "request" {
			recs = append(recs, rec)
		}
	}
	if len(recs) != 1 {
		t.Fatalf("%d access log lines, want 1:\n%s", len(recs), e.logs.String())
	}
	rec := recs[0]
	want := map[string]any{"request_id": "req-log-1", "method": "GET", "route": "/api/v1/orders/{order_id}",
		"path": "/api/v1/orders/ord_1234567890", "status": float64(200), "user": "alice_01", "ip": "127.0.0.1", "level": "INFO"}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("log %s = %v, want %v", k, rec[k], v)
		}
	}
	if _, ok := rec["latency_ms"].(float64); !ok {
		t.Errorf("latency_ms missing: %v", rec)
	}
	if b, ok := rec["bytes"].(float64); !ok || b <= 0 {
		t.Errorf("bytes = %v", rec["bytes"])
	}
	if strings.Contains(e.logs.String(), tok) || strings.Contains(e.logs.String(), strings.Split(tok, ".")[2]) {
		t.Fatalf("token logged")
	}
}

func TestHealth(t *testing.T) {
	var mu sync.Mutex
	storeErr, redisErr := error(nil), error(nil)
	checks := []Check{
		{Name: "store", Func: func(context.Context) error { mu.Lock(); defer mu.Unlock(); return storeErr }},
		{Name: "redis", Func: func(context.Context) error { mu.Lock(); defer mu.Unlock(); return redisErr }, Degraded: true},
	}
	e := newEnv(t, func(c *Config, d *Deps) { d.Ready = checks; c.ReadyTimeout = 200 * time.Millisecond })
	r := e.do("GET", "/health", nil, nil)
	want := `{"status":"healthy","service":"gateway","timestamp":"2026-03-01T12:00:00.000000Z","version":"1.2.3"}` + "\n"
	if r.status != 200 || string(r.body) != want || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("/health: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/health/live", nil, nil); r.status != 200 ||
		string(r.body) != `{"status":"alive","timestamp":"2026-03-01T12:00:00.000000Z"}`+"\n" {
		t.Fatalf("/health/live: %d %s", r.status, r.body)
	}
	r = e.do("GET", "/health/ready", nil, nil)
	if r.status != 200 || string(r.body) != `{"status":"ready","checks":{"store":"ok","redis":"ok"},"timestamp":"2026-03-01T12:00:00.000000Z"}`+"\n" {
		t.Fatalf("/health/ready: %d %s", r.status, r.body)
	}
	// A Degraded check that fails keeps the process ready.
	mu.Lock()
	redisErr = errors.New("dial tcp: connection refused")
	mu.Unlock()
	r = e.do("GET", "/health/ready", nil, nil)
	if r.status != 200 || string(r.body) != `{"status":"degraded","checks":{"store":"ok","redis":"degraded"},"timestamp":"2026-03-01T12:00:00.000000Z"}`+"\n" {
		t.Fatalf("/health/ready with redis down: %d %s", r.status, r.body)
	}
	mu.Lock()
	storeErr = errors.New("pebble: disk on fire at /var/lib/x")
	mu.Unlock()
	r = e.do("GET", "/health/ready", nil, nil)
	if msg := r.gatewayError(t, 503, CodeServiceUnavailable); msg != "not ready: store" {
		t.Fatalf("message %q", msg)
	}
	if !strings.Contains(e.logs.String(), "disk on fire") {
		t.Fatalf("check error not logged")
	}
	if r := e.do("POST", "/health", nil, nil); r.status != 405 || r.header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST /health: %d %v", r.status, r.header)
	}
	if r := e.do("HEAD", "/health/live", nil, nil); r.status != 200 {
		t.Fatalf("HEAD /health/live: %d", r.status)
	}
	// Health needs no token even though unmatched paths do.
	if r := e.do("GET", "/health/ready", nil, nil); r.status == 401 {
		t.Fatal("health behind auth")
	}
}

func TestReadyChecksTimeoutAndPanic(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	checks := []Check{
		{Name: "ok", Func: func(context.Context) error { return nil }},
		{Name: "hangs", Func: func(context.Context) error { <-release; return nil }},
		{Name: "panics", Func: func(context.Context) error { panic("boom") }},
	}
	e := newEnv(t, func(c *Config, d *Deps) { d.Ready = checks; c.ReadyTimeout = 50 * time.Millisecond })
	r := e.do("GET", "/health/ready", nil, nil)
	if msg := r.gatewayError(t, 503, CodeServiceUnavailable); msg != "not ready: hangs, panics" {
		t.Fatalf("message %q", msg)
	}
}

func TestClientIP(t *testing.T) {
	tests := []struct {
		name  string
		trust bool
		xff   string
		want  string
	}{
		{"no proxy trust ignores XFF", false, "1.2.3.4", "127.0.0.1"},
		{"trusted single", true, "1.2.3.4", "1.2.3.4"},
		{"trusted right-most", true, "6.6.6.6, 1.2.3.4", "1.2.3.4"},
		{"trusted IPv6", true, "2001:db8::1", "2001:db8::1"},
		{"trusted garbage falls back", true, "6.6.6.6, not-an-ip", "127.0.0.1"},
		{"trusted absent", true, "", "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config, _ *Deps) { c.TrustProxy = tt.trust })
			hdr := map[string]string{}
			if tt.xff != "" {
				hdr["X-Forwarded-For"] = tt.xff
			}
			if got := e.do("GET", "/api/v1/inventory/assets", hdr, nil).seen(t).IP; got != tt.want {
				t.Fatalf("ClientIP = %q, want %q", got, tt.want)
			}
		})
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "[::1]:5555"
	if got := ClientIP(r); got != "::1" {
		t.Fatalf("outside the gateway: %q", got)
	}
	r.RemoteAddr = "pipe"
	if got := ClientIP(r); got != "pipe" {
		t.Fatalf("unparsable RemoteAddr: %q", got)
	}
	if RequestID(context.Background()) != "" {
		t.Fatal("RequestID outside the gateway")
	}
}

func TestNewRejects(t *testing.T) {
	iss, err := auth.NewIssuer(testSecret, auth.IssuerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := http.NotFoundHandler()
	ok := RouteTable{{Method: "GET", Pattern: "/a", Access: Public}}
	tests := []struct {
		name   string
		cfg    func(*Config)
		routes RouteTable
		next   http.Handler
		deps   Deps
	}{
		{"nil next", nil, ok, nil, Deps{Tokens: iss}},
		{"negative rate", func(c *Config) { c.RateLimit = -1 }, ok, h, Deps{Tokens: iss}},
		{"negative window", func(c *Config) { c.LoginWindow = -time.Second }, ok, h, Deps{Tokens: iss}},
		{"bad unmatched access", func(c *Config) { c.UnmatchedAccess = 9 }, ok, h, Deps{Tokens: iss}},
		{"no tokens", nil, ok, h, Deps{}},
		{"no access", nil, RouteTable{{Method: "GET", Pattern: "/a"}}, h, Deps{Tokens: iss}},
		{"relative pattern", nil, RouteTable{{Method: "GET", Pattern: "a", Access: Public}}, h, Deps{Tokens: iss}},
		{"trailing slash", nil, RouteTable{{Method: "GET", Pattern: "/a/", Access: Public}}, h, Deps{Tokens: iss}},
		{"empty segment", nil, RouteTable{{Method: "GET", Pattern: "/a//b", Access: Public}}, h, Deps{Tokens: iss}},
		{"lower-case method", nil, RouteTable{{Method: "get", Pattern: "/a", Access: Public}}, h, Deps{Tokens: iss}},
		{"mixed segment", nil, RouteTable{{Method: "GET", Pattern: "/a/x{id}", Access: Public}}, h, Deps{Tokens: iss}},
		{"unterminated", nil, RouteTable{{Method: "GET", Pattern: "/a/{id", Access: Public}}, h, Deps{Tokens: iss}},
		{"rest not last", nil, RouteTable{{Method: "GET", Pattern: "/a/{r...}/b", Access: Public}}, h, Deps{Tokens: iss}},
		{"repeated param", nil, RouteTable{{Method: "GET", Pattern: "/a/{id}/{id}", Access: Public}}, h, Deps{Tokens: iss}},
		{"empty param", nil, RouteTable{{Method: "GET", Pattern: "/a/{}", Access: Public}}, h, Deps{Tokens: iss}},
		{"duplicate", nil, RouteTable{{Method: "GET", Pattern: "/a/{x}", Access: Public}, {Method: "GET", Pattern: "/a/{y}", Access: User}}, h, Deps{Tokens: iss}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			if g, err := New(cfg, tt.routes, tt.next, tt.deps); err == nil {
				t.Fatalf("New succeeded: %+v", g)
			}
		})
	}
	// All-public routes and public unmatched need no verifier.
	cfg := DefaultConfig()
	cfg.UnmatchedAccess = Public
	if _, err := New(cfg, ok, h, Deps{}); err != nil {
		t.Fatalf("all public without Tokens: %v", err)
	}
	// The same registry cannot take the metrics twice.
	g, err := New(cfg, ok, h, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(cfg, ok, h, Deps{Registry: g.Registry()}); err == nil {
		t.Fatal("second registration succeeded")
	}
}

func TestZeroConfigDefaults(t *testing.T) {
	// A zero Config disables rate limits and login throttling and takes the
	// other defaults.
	iss, err := auth.NewIssuer(testSecret, auth.IssuerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(Config{}, testRoutes, testHandler(), Deps{Tokens: iss})
	if err != nil {
		t.Fatal(err)
	}
	c := g.cfg
	if c.RateLimit != 0 || c.LoginMaxFailures != 0 || c.MaxBodyBytes != DefaultMaxBodyBytes ||
		c.LoginPath != DefaultLoginPath || c.UnmatchedAccess != User || c.ServiceName != "gateway" ||
		c.RateWindow != time.Minute || c.ReadyTimeout != DefaultReadyTimeout {
		t.Fatalf("defaults: %+v", c)
	}
	if _, ok := g.blocks.(*MemoryCounter); !ok {
		t.Fatalf("blocks = %T", g.blocks)
	}
}

func TestCounterWithoutMarkerGetsMemoryBlocks(t *testing.T) {
	c := struct{ Counter }{NewMemoryCounter(MemoryCounterOptions{})} // hides Mark/Marked
	e := newEnv(t, func(_ *Config, d *Deps) { d.Counter = c })
	if m, ok := e.gw.blocks.(*MemoryCounter); !ok || m == c.Counter {
		t.Fatalf("blocks = %T, want a separate *MemoryCounter", e.gw.blocks)
	}
	for i := 0; i < 5; i++ {
		e.do("POST", "/api/v1/auth/login", nil, strings.NewReader(`{}`))
	}
	e.do("POST", "/api/v1/auth/login", nil, strings.NewReader(`{}`)).gatewayError(t, 403, CodeLoginBlocked)
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"plain", `q"b\`, "ctl\n\t\x01", "<a&b>", "ünï", "\x7f"} {
		b := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil || got != s {
			t.Errorf("appendJSONString(%q) = %s (%v)", s, b, err)
		}
	}
}

func TestWriteError(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteError(rec, http.StatusBadGateway, CodeBadGateway, `upstream "user" unreachable`)
	r := resp{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
	if msg := r.gatewayError(t, 502, CodeBadGateway); msg != `upstream "user" unreachable` {
		t.Fatalf("message %q", msg)
	}
}

func TestAccessString(t *testing.T) {
	for a, want := range map[Access]string{Public: "public", User: "user", Admin: "admin", 0: "Access(0)"} {
		if a.String() != want {
			t.Errorf("%d: %q", a, a.String())
		}
	}
}

func ExampleNew() {
	iss, _ := auth.NewIssuer([]byte("an-example-secret-of-32-bytes!!!"), auth.IssuerOptions{})
	routes := RouteTable{
		{Method: "POST", Pattern: "/api/v1/auth/login", Access: Public},
		{Method: "GET", Pattern: "/api/v1/orders/{order_id}", Access: User},
		{Pattern: "/api/v1/admin/{rest...}", Access: Admin},
	}
	services := http.NotFoundHandler()
	gw, err := New(DefaultConfig(), routes, services, Deps{Tokens: iss, Revoker: auth.NewMemoryRevoker(auth.MemoryRevokerOptions{}),
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Println(err)
		return
	}
	rec := httptest.NewRecorder()
	gw.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/orders/ord_1234567890", nil))
	fmt.Println(rec.Code, rec.Header().Get("X-RateLimit-Limit"))
	// Output: 401 10000
}

// TestAccountCheck: a token whose subject the account check refuses is 401
// with the check's message (the principal is not set on a public route);
// a check that cannot answer fails closed (503, detail only in the log).
func TestAccountCheck(t *testing.T) {
	accounts := map[string]auth.Account{
		"alice_01": {Exists: true, Active: true},
		"bob_0001": {Exists: true, Active: false},
		"carol_01": {Exists: true, Active: true, ValidAfter: time.Now().Add(time.Hour)},
	}
	load := func(_ context.Context, name string) (auth.Account, error) {
		if name == "dave_001" {
			return auth.Account{}, errors.New("store down")
		}
		return accounts[name], nil
	}
	cache := auth.NewAccountCache(load, auth.AccountCacheOptions{})
	e := newEnv(t, func(_ *Config, d *Deps) { d.Accounts = cache })
	for _, tc := range []struct {
		user   string
		status int
		msg    string
	}{
		{"alice_01", 200, ""},
		{"bob_0001", 401, "account deactivated"},
		{"carol_01", 401, "token revoked"},
		{"nobody_1", 401, "unknown account"},
		{"dave_001", 503, "authentication temporarily unavailable"},
	} {
		tok, _ := e.token(tc.user, auth.RoleCustomer)
		r := e.do("GET", "/api/v1/orders", bearer(tok), nil)
		if tc.status == 200 {
			if r.status != 200 || r.seen(t).User != tc.user {
				t.Fatalf("%s: %d %s", tc.user, r.status, r.body)
			}
			continue
		}
		code := CodeUnauthorized
		if tc.status == 503 {
			code = CodeServiceUnavailable
		}
		if msg := r.gatewayError(t, tc.status, code); msg != tc.msg {
			t.Fatalf("%s: message %q, want %q", tc.user, msg, tc.msg)
		}
		r = e.do("GET", "/api/v1/inventory/assets", bearer(tok), nil)
		if r.status != 200 || r.seen(t).User != "" {
			t.Fatalf("%s on a public route: %d %s", tc.user, r.status, r.body)
		}
	}
	if !strings.Contains(e.logs.String(), "store down") {
		t.Fatal("account check error not logged")
	}
}

// TestNoMetrics: with Config.NoMetrics /metrics answers 404 NOT_FOUND (and
// counts as a request of the /metrics route), and MetricsHandler serves
// the registry.
func TestNoMetrics(t *testing.T) {
	e := newEnv(t, func(c *Config, _ *Deps) { c.NoMetrics = true })
	r := e.do("GET", "/metrics", nil, nil)
	if r.status != http.StatusNotFound || !bytes.Contains(r.body, []byte(`{"error":"NOT_FOUND","message":"not found","code":"NOT_FOUND",`)) {
		t.Fatalf("/metrics: %d %s", r.status, r.body)
	}
	rec := httptest.NewRecorder()
	e.gw.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if body := rec.Body.String(); rec.Code != http.StatusOK || !strings.Contains(body, `gateway_http_requests_total{method="GET",route="/metrics",status="404"} 1`) {
		t.Fatalf("MetricsHandler: %d %.300s", rec.Code, body)
	}
}

// TestLoginKnownClientPassesAccountDelay: a client IP that logged in to an
// account passes that account's delay, so guesses from other IPs cannot
// keep the owner out; other IPs stay delayed, and the mark expires.
func TestLoginKnownClientPassesAccountDelay(t *testing.T) {
	e := newEnv(t, func(c *Config, _ *Deps) {
		c.TrustProxy = true
		c.LoginAccountMaxFailures, c.LoginAccountDelay, c.LoginAccountMaxDelay = 2, 10*time.Second, time.Minute
		c.LoginKnownClientFor = time.Hour
	})
	login := func(ip, pw string) resp {
		return e.do("POST", "/api/v1/auth/login", map[string]string{"X-Forwarded-For": ip},
			strings.NewReader(`{"username":"bob","password":"`+pw+`"}`))
	}
	const owner = "10.2.0.1"
	if r := login(owner, "right"); r.status != 200 {
		t.Fatalf("owner's first login: %d %s", r.status, r.body)
	}
	// Guesses from other IPs put the account over its limit and hold its
	// delay.
	for i := 1; i <= 3; i++ {
		if r := login(fmt.Sprintf("10.3.0.%d", i), "wrong"); r.status != 401 {
			t.Fatalf("guess %d: %d", i, r.status)
		}
	}
	if r := login("10.3.0.9", "right"); r.status != 403 {
		t.Fatalf("another IP during the delay: %d, want 403", r.status)
	}
	if r := login(owner, "right"); r.status != 200 {
		t.Fatalf("owner's IP during the delay: %d %s", r.status, r.body)
	}
	// The owner's login ended the account's window: it takes the limit
	// again to delay it, and a known IP's mark expires.
	for i := 1; i <= 3; i++ {
		if r := login(fmt.Sprintf("10.4.0.%d", i), "wrong"); r.status != 401 {
			t.Fatalf("guess %d after the owner's login: %d", i, r.status)
		}
	}
	e.clk.Advance(time.Hour + time.Second)
	for i := 1; i <= 3; i++ {
		if r := login(fmt.Sprintf("10.5.0.%d", i), "wrong"); r.status == 200 {
			t.Fatalf("guess %d: 200", i)
		}
	}
	if r := login(owner, "right"); r.status != 403 {
		t.Fatalf("owner's IP after its mark expired, account delayed: %d, want 403", r.status)
	}
}
