// Package e2e drives the whole platform (platform.Open behind the gateway)
// over a real loopback HTTP server with net/http only, and checks the ledger
// invariants (package verify) after every test that moves money.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/gateway"
	"github.com/orderprocessor/orderprocessor/platform"
	"github.com/orderprocessor/orderprocessor/testenv"
	"github.com/orderprocessor/orderprocessor/trading"
	"github.com/orderprocessor/orderprocessor/verify"
)

// Credentials used throughout the suite.
const (
	adminPassword = "Adm1n!Passw0rd#x"
	userPassword  = "Str0ng!Passw0rd"
)

// cheapParams keep argon2id cheap so that logins cost microseconds.
var cheapParams = auth.Params{MemoryKiB: 64, Iterations: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// env is one running platform behind a loopback HTTP server.
type env struct {
	p      *platform.Platform
	srv    *httptest.Server
	url    string
	client *http.Client
	admin  string // admin access token
	// adminLoginErr is why the admin could not log in with its password.
	adminLoginErr error
}

// adminLogin logs the provisioned admin in with its password.
func (e *env) adminLogin(password string) (string, error) {
	r := e.send(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": "admin", "password": password}, nil)
	if r.err != nil {
		return "", r.err
	}
	if r.Status != http.StatusOK {
		return "", fmt.Errorf("admin login: %d %s", r.Status, r.Body)
	}
	var lr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(r.Body, &lr); err != nil || lr.AccessToken == "" {
		return "", fmt.Errorf("admin login body %s: %v", r.Body, err)
	}
	return lr.AccessToken, nil
}

// baseConfig is the configuration every instance starts from: generous rate
// limits (headers still on) and login throttling out of the way, so that
// tests of one shared instance do not interfere; instances that test those
// limits lower them.
func baseConfig(dir string) platform.Config {
	g := gateway.DefaultConfig()
	g.RateLimit = 1_000_000
	g.LoginMaxFailures = 1_000_000
	g.LoginAccountMaxFailures = 1_000_000
	g.RegisterLimit = 1_000_000
	return platform.Config{
		DataDir:        dir,
		JWTSecret:      []byte("e2e-test-secret-0123456789abcdef-0123456789"),
		AdminPassword:  adminPassword,
		Gateway:        g,
		Trading:        trading.DefaultConfig(),
		PriceFeed:      "static",
		PasswordParams: cheapParams,
		// Only errors (5xx, panics) reach the test output.
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	}
}

func startEnv(cfg platform.Config) (*env, error) {
	// The store of the engine under test (testenv: embedded, or DynamoDB
	// Local with STORE_ENGINE=dynamodb); the platform closes it.
	db, tables, _, err := testenv.Open(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	cfg.Store, cfg.Tables = db, tables
	p, err := platform.Open(context.Background(), cfg)
	if err != nil {
		return nil, err
	}
	return serveEnv(p, cfg)
}

func serveEnv(p *platform.Platform, cfg platform.Config) (*env, error) {
	var err error
	if err != nil {
		return nil, err
	}
	srv := httptest.NewServer(p.Handler)
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	e := &env{p: p, srv: srv, url: srv.URL, client: &http.Client{Transport: tr, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if cfg.AdminPassword != "" {
		tok, err := e.adminLogin(cfg.AdminPassword)
		if err != nil {
			// TestAdminLogin reports it; issue the token directly so that
			// the admin routes stay covered meanwhile.
			e.adminLoginErr = err
			tok, _, err = p.Issuer.Issue("admin", auth.RoleAdmin)
			if err != nil {
				e.close()
				return nil, fmt.Errorf("issue admin token: %w", err)
			}
		}
		e.admin = tok
	}
	return e, nil
}

func (e *env) close() {
	e.srv.Close()
	_ = e.p.Close()
}

var shared struct {
	once sync.Once
	env  *env
	dir  string
	err  error
}

// sharedEnv returns the platform shared by the tests that need no isolation
// (each uses its own users and assets).
func sharedEnv(t testing.TB) *env {
	t.Helper()
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "e2e-shared-")
		if shared.err != nil {
			return
		}
		shared.env, shared.err = startEnv(baseConfig(shared.dir))
	})
	if shared.err != nil {
		t.Fatalf("shared platform: %v", shared.err)
	}
	return shared.env
}

// newEnv starts a separate platform for a test that needs its own limits.
func newEnv(t *testing.T, tweak func(*platform.Config)) *env {
	t.Helper()
	cfg := baseConfig(t.TempDir())
	if tweak != nil {
		tweak(&cfg)
	}
	e, err := startEnv(cfg)
	if err != nil {
		t.Fatalf("start platform: %v", err)
	}
	t.Cleanup(e.close)
	return e
}

func TestMain(m *testing.M) {
	code := m.Run()
	closeFuzzEnv()
	if shared.env != nil {
		shared.env.close()
	}
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// response is an HTTP answer read in full.
type response struct {
	Status int
	Header http.Header
	Body   []byte
	err    error
}

// raw is a request body sent as is.
type raw string

// send performs one request. body: nil (no body), raw (as is) or a value
// marshalled as JSON. hdr holds extra headers.
func (e *env) send(method, path, token string, body any, hdr map[string]string) response {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case raw:
		rd = strings.NewReader(string(b))
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return response{err: err}
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		return response{err: err}
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := e.client.Do(req)
	if err != nil {
		return response{err: err}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return response{Status: res.StatusCode, Header: res.Header, Body: b, err: err}
}

// do is send that fails the test on a transport error.
func (e *env) do(t testing.TB, method, path, token string, body any, hdr ...string) response {
	t.Helper()
	h := map[string]string{}
	for i := 0; i+1 < len(hdr); i += 2 {
		h[hdr[i]] = hdr[i+1]
	}
	r := e.send(method, path, token, body, h)
	if r.err != nil {
		t.Fatalf("%s %s: %v", method, path, r.err)
	}
	return r
}

// obj decodes the body as a JSON object (numbers as json.Number).
func (r response) obj(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("status %d: body is not a JSON object: %v: %.300s", r.Status, err, r.Body)
	}
	return m
}

// want fails the test unless the status is code.
func (r response) want(t testing.TB, code int) response {
	t.Helper()
	if r.Status != code {
		t.Fatalf("status %d, want %d: %.600s", r.Status, code, r.Body)
	}
	return r
}

// into decodes the body into v.
func (r response) into(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %.300s: %v", r.Body, err)
	}
}

// serviceError checks a service error body: exactly status, a "detail" and
// the code (field errors when code is "invalid" and detail is a list).
func (r response) serviceError(t testing.TB, status int, code string) map[string]any {
	t.Helper()
	r.want(t, status)
	m := r.obj(t)
	if m["code"] != code {
		t.Fatalf("code %v, want %q: %s", m["code"], code, r.Body)
	}
	if _, ok := m["detail"]; !ok {
		t.Fatalf("no detail: %s", r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
	return m
}

// fieldLocs returns the "loc" paths (joined with ".") of a 422 field error body.
func fieldLocs(t testing.TB, m map[string]any) []string {
	t.Helper()
	list, ok := m["detail"].([]any)
	if !ok {
		t.Fatalf("detail is not a list: %v", m["detail"])
	}
	var out []string
	for _, it := range list {
		f := it.(map[string]any)
		var parts []string
		for _, p := range f["loc"].([]any) {
			parts = append(parts, fmt.Sprint(p))
		}
		out = append(out, strings.Join(parts, "."))
	}
	return out
}

// gatewayError checks a gateway error body.
func (r response) gatewayError(t testing.TB, status int, code string) map[string]any {
	t.Helper()
	r.want(t, status)
	m := r.obj(t)
	if m["error"] != code || m["code"] != code {
		t.Fatalf("error/code %v/%v, want %q: %s", m["error"], m["code"], code, r.Body)
	}
	if _, ok := m["message"].(string); !ok {
		t.Fatalf("no message: %s", r.Body)
	}
	if _, ok := m["timestamp"].(string); !ok {
		t.Fatalf("no timestamp: %s", r.Body)
	}
	return m
}

var userSeq atomic.Int64

// uniqueName returns a new valid username.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s_%d_%d", prefix, os.Getpid()%10000, userSeq.Add(1))
}

// user is a registered, logged-in customer.
type user struct {
	name  string
	email string
	token string
}

func registerBody(name string) map[string]any {
	return map[string]any{
		"username": name, "email": strings.ToLower(name) + "@example.com", "password": userPassword,
		"first_name": "Test", "last_name": "User",
	}
}

// newUser registers and logs in a fresh user.
func (e *env) newUser(t testing.TB) *user {
	t.Helper()
	name := uniqueName("user")
	e.do(t, http.MethodPost, "/api/v1/auth/register", "", registerBody(name)).want(t, http.StatusCreated)
	return &user{name: name, email: name + "@example.com", token: e.login(t, name, userPassword)}
}

func (e *env) login(t testing.TB, name, password string) string {
	t.Helper()
	var lr struct {
		AccessToken string `json:"access_token"`
	}
	e.do(t, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": name, "password": password}).
		want(t, http.StatusOK).into(t, &lr)
	if lr.AccessToken == "" {
		t.Fatal("empty access token")
	}
	return lr.AccessToken
}

// deposit deposits amount (a decimal string) for u.
func (e *env) deposit(t testing.TB, u *user, amount string) {
	t.Helper()
	e.do(t, http.MethodPost, "/api/v1/balance/deposit", u.token, map[string]any{"amount": amount}).want(t, http.StatusCreated)
}

// balance returns u's USD current and available balances.
func (e *env) balance(t testing.TB, u *user) (current, available, held string) {
	t.Helper()
	var b struct {
		Current   string `json:"current_balance"`
		Available string `json:"available_balance"`
		Held      string `json:"held_balance"`
	}
	e.do(t, http.MethodGet, "/api/v1/balance", u.token, nil).want(t, http.StatusOK).into(t, &b)
	return b.Current, b.Available, b.Held
}

func (e *env) wantBalance(t testing.TB, u *user, current string) {
	t.Helper()
	cur, avail, held := e.balance(t, u)
	if cur != current || avail != current || held != "0.00" {
		t.Fatalf("balance current %s available %s held %s, want %s/%s/0.00", cur, avail, held, current, current)
	}
}

// order places an order and returns the response.
func (e *env) order(t testing.TB, u *user, body map[string]any, hdr ...string) response {
	t.Helper()
	return e.do(t, http.MethodPost, "/api/v1/orders", u.token, body, hdr...)
}

// counts are a user's stored records.
type counts struct{ txs, orders, holdings int }

func (e *env) counts(t testing.TB, u *user) counts {
	t.Helper()
	ctx := context.Background()
	txs, err := e.p.DAOs.Balances.AllTransactions(ctx, u.name)
	if err != nil {
		t.Fatal(err)
	}
	os, err := e.p.DAOs.Orders.AllByUser(ctx, u.name)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := e.p.DAOs.Holdings.List(ctx, u.name)
	if err != nil {
		t.Fatal(err)
	}
	return counts{len(txs), len(os), len(hs)}
}

// verifyOK fails the test unless every ledger invariant holds.
func (e *env) verifyOK(t testing.TB) {
	t.Helper()
	rep, err := verify.Run(context.Background(), e.p.DAOs)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if !rep.OK() {
		for _, v := range rep.Violations {
			t.Errorf("ledger invariant broken: %s", v)
		}
		t.FailNow()
	}
}

// newAsset creates an active asset via the admin API at price and returns its id.
func (e *env) newAsset(t testing.TB, price string) string {
	t.Helper()
	id := fmt.Sprintf("T%d", assetSeq.Add(1)+int64(os.Getpid()%1000)*1000)
	if len(id) > 10 {
		id = id[:10]
	}
	e.do(t, http.MethodPost, "/api/v1/admin/assets", e.admin, map[string]any{
		"asset_id": id, "name": "Test asset " + id, "category": "test", "price_usd": price,
	}).want(t, http.StatusCreated)
	return id
}

var assetSeq atomic.Int64

// dec parses a decimal string for comparisons.
func dec(t testing.TB, s string) decimal.Decimal {
	t.Helper()
	d, err := decimal.Parse(s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return d
}
