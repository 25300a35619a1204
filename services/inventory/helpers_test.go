package inventory

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/httpapi"
	"github.com/orderprocessor/orderprocessor/store/embedded"
	"github.com/orderprocessor/orderprocessor/testenv/fakeclock"
)

// t0 is the test clock's start.
var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// change is one recorded price-change hook call.
type change struct {
	ID       string
	Old, New string
}

// recorder collects hook calls.
type recorder struct {
	mu    sync.Mutex
	calls []change
}

func (r *recorder) hook(_ context.Context, id string, old, new decimal.Decimal) {
	r.mu.Lock()
	r.calls = append(r.calls, change{id, old.String(), new.String()})
	r.mu.Unlock()
}

// take returns the calls so far and forgets them.
func (r *recorder) take() []change {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.calls
	r.calls = nil
	return c
}

// env is a service over a real embedded store, served on a loopback port.
type env struct {
	t     *testing.T
	d     *dao.DAOs
	svc   *Service
	api   *httpapi.API
	srv   *httptest.Server
	clock *fakeclock.Clock
	rec   *recorder
}

// Test-only headers the test middleware turns into a principal (the real
// gateway verifies tokens; it is tested elsewhere).
const (
	hdrUser = "X-Test-User"
	hdrRole = "X-Test-Role"
)

// testAuth stands in for the gateway: it sets the principal named by the
// test headers and enforces op.Auth (401 without a principal, 403 without the
// admin role), so that the tests also check each operation's declared Auth.
func testAuth(op httpapi.Op, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user := r.Header.Get(hdrUser)
		if user != "" {
			r = r.WithContext(auth.WithPrincipal(r.Context(), auth.Principal{Username: user, Role: auth.Role(r.Header.Get(hdrRole))}))
		}
		p, ok := auth.PrincipalFrom(r.Context())
		switch {
		case op.Auth != httpapi.AuthNone && !ok:
			httpapi.WriteError(w, r, apperr.New(apperr.Unauthorized, "not authenticated"))
		case op.Auth == httpapi.AuthAdmin && !p.IsAdmin():
			httpapi.WriteError(w, r, apperr.New(apperr.Forbidden, "admin role required"))
		default:
			next.ServeHTTP(w, r)
		}
	})
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newEnv opens a fresh store; seeded says whether to seed the catalogue.
func newEnv(t *testing.T, seeded bool) *env {
	t.Helper()
	db, err := embedded.Open(t.TempDir(), dao.DefaultTables.Schemas(), embedded.Options{
		Logger: quietLogger(), CacheSize: 1 << 20, MemTableSize: 4 << 20,
	})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	e := &env{t: t, d: dao.New(db, dao.DefaultTables), clock: fakeclock.New(t0), rec: &recorder{}}
	e.svc = New(e.d.Assets, Options{Now: e.clock.Now, Logger: quietLogger(), OnPriceChange: e.rec.hook})
	e.api = httpapi.New(httpapi.Options{Title: "inventory test", Middleware: testAuth})
	e.svc.Register(e.api)
	e.srv = httptest.NewServer(e.api)
	t.Cleanup(e.srv.Close)
	if seeded {
		n, err := e.svc.Seed(context.Background())
		if err != nil || n != 24 {
			t.Fatalf("Seed = %d, %v; want 24, nil", n, err)
		}
	}
	return e
}

// caller says who makes a request.
type caller int

const (
	anon caller = iota
	customer
	admin
)

// do sends a request and returns the status and the body without its
// trailing newline.
func (e *env) do(who caller, method, path, body string) (int, string) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatalf("new request: %v", err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	switch who {
	case customer:
		req.Header.Set(hdrUser, "alice_01")
		req.Header.Set(hdrRole, string(auth.RoleCustomer))
	case admin:
		req.Header.Set(hdrUser, "admin")
		req.Header.Set(hdrRole, string(auth.RoleAdmin))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("read body: %v", err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		e.t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	return resp.StatusCode, strings.TrimSuffix(string(b), "\n")
}

// listPage is a decoded list response (raw items kept for exact checks).
type listPage struct {
	Data        []json.RawMessage `json:"data"`
	TotalCount  int               `json:"total_count"`
	ActiveCount int               `json:"active_count"`
	NextCursor  *string           `json:"next_cursor"`
}

// ids returns the asset ids of the page's items.
func (p *listPage) ids(t *testing.T) []string {
	t.Helper()
	out := make([]string, 0, len(p.Data))
	for _, raw := range p.Data {
		var it struct {
			AssetID string `json:"asset_id"`
		}
		if err := json.Unmarshal(raw, &it); err != nil {
			t.Fatalf("item %s: %v", raw, err)
		}
		out = append(out, it.AssetID)
	}
	return out
}

// list GETs a list page and fails unless it is a 200.
func (e *env) list(query string) *listPage {
	e.t.Helper()
	status, body := e.do(anon, "GET", PathAssets+query, "")
	if status != http.StatusOK {
		e.t.Fatalf("GET %s: %d %s", query, status, body)
	}
	var p listPage
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		e.t.Fatalf("decode %s: %v", body, err)
	}
	return &p
}
