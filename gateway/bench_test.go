package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/auth"
)

// discardWriter is a reusable ResponseWriter, so the benchmark measures the
// gateway and not the recorder.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.status = code }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkChain measures the whole middleware chain for an authenticated
// request to a User route (request id, CORS, IP and user rate limits, token
// check from the verified-token cache, revocation check, metrics, access
// log to a discarding handler) in front of a handler that writes nothing;
// "accounts" adds the account check (from a warm auth.AccountCache), as the
// platform runs it.
func BenchmarkChain(b *testing.B) {
	for _, bc := range []struct {
		name     string
		log      *slog.Logger
		accounts bool
	}{
		{"nolog", slog.New(slog.DiscardHandler), false},
		{"nolog_accounts", slog.New(slog.DiscardHandler), true},
		{"jsonlog", slog.New(slog.NewJSONHandler(discard{}, nil)), false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			iss, err := auth.NewIssuer(testSecret, auth.IssuerOptions{})
			if err != nil {
				b.Fatal(err)
			}
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if _, ok := auth.PrincipalFrom(r.Context()); !ok {
					b.Fatal("no principal")
				}
				w.WriteHeader(http.StatusOK)
			})
			cfg := DefaultConfig()
			cfg.RateLimit = 1 << 30
			deps := Deps{Tokens: iss, Revoker: auth.NewMemoryRevoker(auth.MemoryRevokerOptions{}), Logger: bc.log}
			if bc.accounts {
				deps.Accounts = auth.NewAccountCache(func(context.Context, string) (auth.Account, error) {
					return auth.Account{Exists: true, Active: true}, nil
				}, auth.AccountCacheOptions{TTL: time.Hour})
			}
			gw, err := New(cfg, testRoutes, next, deps)
			if err != nil {
				b.Fatal(err)
			}
			tok, _, err := iss.Issue("alice_01", auth.RoleCustomer)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req := httptest.NewRequest("GET", "/api/v1/orders/ord_1234567890", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("Origin", "http://app.example")
				w := &discardWriter{h: http.Header{}}
				for pb.Next() {
					clear(w.h)
					w.status = 0
					gw.ServeHTTP(w, req)
					if w.status != http.StatusOK {
						b.Fatalf("status %d", w.status)
					}
				}
			})
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
