// Package apitest serves a service's HTTP operations on a loopback port over
// the real trading service and a fresh store of the engine under test
// (testenv.Store), for the services' package tests. Bearer tokens are
// checked as the gateway checks them, with real parts: the issuer's
// signature and expiry, the revoker and the account cache, then the
// operation's declared Auth.
package apitest

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/httpapi"
	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/testenv"
	"github.com/orderprocessor/orderprocessor/testenv/fakeclock"
	"github.com/orderprocessor/orderprocessor/trading"
)

// T0 is the test clock's start.
var T0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// Env is a trading service over a fresh store, with the parts the user
// service takes, and (after Serve) a loopback server of the operations
// registered on it.
type Env struct {
	t        testing.TB
	DAOs     *dao.DAOs
	Trade    *trading.Service
	Clock    *fakeclock.Clock
	Issuer   *auth.Issuer
	Hasher   *auth.Hasher
	Revoker  *auth.MemoryRevoker
	Accounts *auth.AccountCache
	Logger   *slog.Logger
	// URL is the server's base URL (set by Serve).
	URL string

	store store.Store
}

// Options are an Env's optional settings.
type Options struct {
	// Config is the trading rules; the zero value is no daily limits, no
	// fee, no spread, no bound on the age of a rate, and the reference FX
	// rates (stored at T0).
	Config trading.Config
}

// New returns an Env over a fresh store.
func New(t testing.TB, opts Options) *Env {
	t.Helper()
	db, tables := testenv.Store(t)
	e := &Env{t: t, Clock: fakeclock.New(T0), Logger: slog.New(slog.DiscardHandler)}
	e.store = db
	e.DAOs = trading.NewDAOs(db, tables)
	e.Trade = trading.New(e.DAOs, opts.Config, trading.Options{Now: e.Clock.Now, Logger: e.Logger})
	// The reference rates, stored at T0, as a platform stores them at start.
	if _, err := e.Trade.SeedRates(context.Background()); err != nil {
		t.Fatal(err)
	}
	var err error
	e.Issuer, err = auth.NewIssuer([]byte("apitest-secret-apitest-secret-0123456789"), auth.IssuerOptions{Now: e.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	// The cheapest parameters argon2id takes: the tests check the flows, not the hash.
	e.Hasher, err = auth.NewHasher(auth.Params{MemoryKiB: 64, Iterations: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	if err != nil {
		t.Fatal(err)
	}
	e.Revoker = auth.NewMemoryRevoker(auth.MemoryRevokerOptions{Now: e.Clock.Now})
	e.Accounts = auth.NewAccountCache(e.loadAccount, auth.AccountCacheOptions{Now: e.Clock.Now, Logger: e.Logger})
	return e
}

// CloseStore closes the store: every later store operation fails, as on a
// store that is down.
func (e *Env) CloseStore() {
	e.t.Helper()
	if err := e.store.Close(); err != nil {
		e.t.Fatalf("close store: %v", err)
	}
}

func (e *Env) loadAccount(ctx context.Context, username string) (auth.Account, error) {
	u, err := e.DAOs.Users.GetByUsername(ctx, username)
	if apperr.Is(err, apperr.NotFound) {
		return auth.Account{}, nil
	}
	if err != nil {
		return auth.Account{}, err
	}
	return auth.Account{Exists: true, Active: u.IsActive, ValidAfter: u.TokensValidAfter}, nil
}

// Serve declares the operations of register on an API and serves it on a
// loopback port until the test ends.
func (e *Env) Serve(register ...func(*httpapi.API)) {
	api := httpapi.New(httpapi.Options{Title: "apitest", Middleware: e.authenticate})
	for _, r := range register {
		r(api)
	}
	srv := httptest.NewServer(api)
	e.t.Cleanup(srv.Close)
	e.URL = srv.URL
}

// authenticate stands in for the gateway: a bearer token must verify, be
// unrevoked and belong to an account that admits it; then op.Auth is
// enforced (401 without a principal, 403 without the admin role).
func (e *Env) authenticate(op httpapi.Op, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok, ok := auth.ParseBearer(r.Header.Get("Authorization")); ok {
			cl, err := e.Issuer.Verify(tok)
			if err == nil {
				var revoked bool
				if revoked, err = e.Revoker.IsRevoked(r.Context(), cl.ID); err == nil && revoked {
					err = auth.ErrTokenRevoked
				}
			}
			if err == nil {
				err = e.Accounts.Check(r.Context(), cl)
			}
			if err != nil {
				httpapi.WriteError(w, r, err)
				return
			}
			r = r.WithContext(auth.WithPrincipal(r.Context(), cl.Principal()))
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

// User stores an active user with role and a USD balance of 0, and returns
// a token for it.
func (e *Env) User(username string, role entity.Role) string {
	e.t.Helper()
	now := e.Clock.Now()
	u := &entity.User{Username: username, Email: username + "@example.com", PasswordHash: "unused",
		FirstName: "Test", LastName: "User", Role: role, IsActive: true,
		CreatedAt: entity.At(now), UpdatedAt: entity.At(now), Version: 1}
	if err := e.DAOs.Users.Create(context.Background(), u, e.DAOs.Balances.CreateWrite(username, entity.USD, now)); err != nil {
		e.t.Fatalf("create user %s: %v", username, err)
	}
	return e.Token(username, role)
}

// Token returns a new token for username with role.
func (e *Env) Token(username string, role entity.Role) string {
	e.t.Helper()
	tok, _, err := e.Issuer.Issue(username, role)
	if err != nil {
		e.t.Fatalf("issue token: %v", err)
	}
	return tok
}

// Asset stores an active asset at price (USD).
func (e *Env) Asset(id, price string) {
	e.t.Helper()
	now := entity.At(e.Clock.Now())
	a := &entity.Asset{AssetID: id, Name: id + " coin", Category: "crypto", Symbol: strings.ToLower(id),
		PriceUSD: decimal.MustParse(price), IsActive: true, LastUpdated: now, CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := e.DAOs.Assets.Create(context.Background(), a); err != nil {
		e.t.Fatalf("create asset %s: %v", id, err)
	}
}

// SetPrice sets an asset's price and runs the trading engine on it, as a
// price change does.
func (e *Env) SetPrice(id, price string) {
	e.t.Helper()
	p := decimal.MustParse(price)
	if _, err := e.DAOs.Assets.SetPrice(context.Background(), id, p, e.Clock.Now()); err != nil {
		e.t.Fatalf("set price of %s: %v", id, err)
	}
	if _, err := e.Trade.OnPrice(context.Background(), id, p); err != nil {
		e.t.Fatalf("engine on %s: %v", id, err)
	}
}

// Deposit credits username with amount of currency through the trading
// service.
func (e *Env) Deposit(username, amount string, currency entity.Currency) {
	e.t.Helper()
	a := decimal.MustParse(amount)
	if _, _, err := e.Trade.Deposit(context.Background(), username, entity.DepositRequest{Amount: &a, Currency: currency}, nil); err != nil {
		e.t.Fatalf("deposit %s %s for %s: %v", amount, currency, username, err)
	}
}

// Order places a market or limit order of username through the trading
// service: typ with quantity qty of asset id, at limit (limit orders; ""
// for none). It returns the order.
func (e *Env) Order(username string, typ entity.OrderType, id, qty, limit string) *entity.Order {
	e.t.Helper()
	q := decimal.MustParse(qty)
	req := entity.OrderCreate{OrderType: typ, AssetID: id, Quantity: &q}
	if limit != "" {
		l := decimal.MustParse(limit)
		req.LimitPrice = &l
	}
	p, _, err := e.Trade.PlaceOrder(context.Background(), username, req, "", nil)
	if err != nil {
		e.t.Fatalf("%s %s %s of %s: %v", typ, qty, id, username, err)
	}
	return p.Order
}

// Reply is an answer read whole.
type Reply struct {
	Status int
	Header http.Header
	Body   string // without the trailing newline
}

// Do sends method path with body (raw JSON; none when empty), the bearer
// token (none when empty) and hdr as pairs of header name and value.
func (e *Env) Do(method, path, token, body string, hdr ...string) Reply {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return Reply{resp.StatusCode, resp.Header, strings.TrimSuffix(string(b), "\n")}
}

// Want fails the test unless r has status, and decodes r's body into v
// (when not nil).
func (r Reply) Want(t testing.TB, status int, v any) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(r.Body), v); err != nil {
			t.Fatalf("decode %s: %v", r.Body, err)
		}
	}
}

// WantError fails the test unless r is the stable error body with status,
// code and detail (a string detail; "" skips the detail check).
func (r Reply) WantError(t testing.TB, status int, code, detail string) {
	t.Helper()
	var body struct {
		Detail any    `json:"detail"`
		Code   string `json:"code"`
	}
	r.Want(t, status, &body)
	if body.Code != code {
		t.Fatalf("code %q, want %q: %s", body.Code, code, r.Body)
	}
	if detail != "" && body.Detail != detail {
		t.Fatalf("detail %v, want %q: %s", body.Detail, detail, r.Body)
	}
}

// WantField fails the test unless r is a 422 invalid answer naming the
// field at loc (joined with ".", e.g. "body.amount").
func (r Reply) WantField(t testing.TB, loc string) {
	t.Helper()
	var body struct {
		Detail []struct {
			Loc []string `json:"loc"`
		} `json:"detail"`
		Code string `json:"code"`
	}
	r.Want(t, http.StatusUnprocessableEntity, &body)
	for _, d := range body.Detail {
		if strings.Join(d.Loc, ".") == loc {
			return
		}
	}
	t.Fatalf("no field error at %s: %s", loc, r.Body)
}
