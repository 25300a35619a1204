package redisstate_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/gateway"
	"github.com/orderprocessor/orderprocessor/platform"
	"github.com/orderprocessor/orderprocessor/redisstate"
	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/store/embedded"
	"github.com/orderprocessor/orderprocessor/testenv"
	"github.com/orderprocessor/orderprocessor/trading"
)

// sharedStore is a store two platforms run on; only the test closes it.
type sharedStore struct{ store.Store }

func (sharedStore) Close() error { return nil }

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// replicas opens two platforms (two gateway replicas) on one store and one
// Redis, with a rate limit of 10 and a login block after 3 failures.
func replicas(t *testing.T) (a, b *platform.Platform) {
	t.Helper()
	g := gateway.DefaultConfig()
	g.RateLimit, g.LoginMaxFailures = 10, 3
	return replicasWith(t, g)
}

// replicasWith opens two platforms with gateway configuration g.
func replicasWith(t *testing.T, g gateway.Config) (a, b *platform.Platform) {
	t.Helper()
	url := testenv.RedisURL(t)
	prefix := redisstate.PrefixForTest()
	// Deletes the platforms' keys when the test ends.
	_ = redisstate.ClientForTest(t, redisstate.Options{Prefix: prefix})
	db, err := embedded.Open(t.TempDir(), dao.DefaultTables.Schemas(), embedded.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	open := func() *platform.Platform {
		p, err := platform.Open(context.Background(), platform.Config{
			Store: sharedStore{db}, JWTSecret: []byte("replicas-test-secret-0123456789abcdef"),
			Gateway: g, Trading: trading.DefaultConfig(), PriceFeed: "static", Logger: quiet(),
			PasswordParams: auth.Params{MemoryKiB: 64, Iterations: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
			RedisURL:       url, RedisPrefix: prefix,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := p.Close(); err != nil {
				t.Error(err)
			}
		})
		return p
	}
	return open(), open()
}

// call sends one request from ip straight to a replica's handler.
func call(t *testing.T, p *platform.Platform, ip, method, path, token, body string) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, path, rd)
	r.RemoteAddr = ip + ":40000"
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	p.Handler.ServeHTTP(w, r)
	return w
}

func want(t *testing.T, w *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d: %s", w.Code, status, w.Body)
	}
	if code == "" {
		return
	}
	var e struct{ Code string }
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Code != code {
		t.Fatalf("error code %q (%v), want %q: %s", e.Code, err, code, w.Body)
	}
}

// TestReplicasShareState: two gateway replicas sharing a Redis enforce one
// rate limit, one revocation list and one login throttle.
func TestReplicasShareState(t *testing.T) {
	a, b := replicas(t)
	both := []*platform.Platform{a, b}

	t.Run("ready checks redis", func(t *testing.T) {
		w := call(t, a, "198.51.100.9", "GET", gateway.PathHealthReady, "", "")
		want(t, w, http.StatusOK, "")
		var body struct{ Checks map[string]string }
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Checks["redis"] != "ok" || body.Checks["store"] != "ok" {
			t.Fatalf("ready body %s (%v)", w.Body, err)
		}
	})

	t.Run("one rate limit", func(t *testing.T) {
		const ip = "198.51.100.1"
		for i := range 10 {
			w := call(t, both[i%2], ip, "GET", "/api/v1/inventory/assets/BTC", "", "")
			want(t, w, http.StatusOK, "")
			if got := w.Header().Get("X-RateLimit-Remaining"); got != strconv.Itoa(9-i) {
				t.Fatalf("request %d: X-RateLimit-Remaining %q, want %d", i+1, got, 9-i)
			}
		}
		for _, p := range both {
			w := call(t, p, ip, "GET", "/api/v1/inventory/assets/BTC", "", "")
			want(t, w, http.StatusTooManyRequests, gateway.CodeRateLimited)
			if ra, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
				t.Fatalf("Retry-After %q", w.Header().Get("Retry-After"))
			}
		}
		// Another client is not limited.
		want(t, call(t, b, "198.51.100.11", "GET", "/api/v1/inventory/assets/BTC", "", ""), http.StatusOK, "")
	})

	t.Run("logout on one replica revokes on the other", func(t *testing.T) {
		const ip = "198.51.100.2"
		want(t, call(t, a, ip, "POST", "/api/v1/auth/register", "", `{"username":"replica1","email":"replica1@example.com",`+
			`"password":"Passw0rd!xyz12","first_name":"Re","last_name":"Plica"}`), http.StatusCreated, "")
		w := call(t, b, ip, "POST", "/api/v1/auth/login", "", `{"username":"replica1","password":"Passw0rd!xyz12"}`)
		want(t, w, http.StatusOK, "")
		var login struct {
			AccessToken string `json:"access_token"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &login); err != nil || login.AccessToken == "" {
			t.Fatalf("login body %s", w.Body)
		}
		for _, p := range both {
			want(t, call(t, p, ip, "GET", "/api/v1/auth/profile", login.AccessToken, ""), http.StatusOK, "")
		}
		want(t, call(t, a, ip, "POST", "/api/v1/auth/logout", login.AccessToken, `{}`), http.StatusOK, "")
		for _, p := range []*platform.Platform{b, a} {
			want(t, call(t, p, ip, "GET", "/api/v1/auth/profile", login.AccessToken, ""), http.StatusUnauthorized, gateway.CodeUnauthorized)
		}
	})

	t.Run("one login throttle", func(t *testing.T) {
		const ip = "198.51.100.3"
		bad := `{"username":"replica1","password":"Wr0ng-Passw0rd!"}`
		for i, p := range []*platform.Platform{a, b, a} {
			w := call(t, p, ip, "POST", "/api/v1/auth/login", "", bad)
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("failure %d: status %d: %s", i+1, w.Code, w.Body)
			}
		}
		good := `{"username":"replica1","password":"Passw0rd!xyz12"}`
		for _, p := range both {
			w := call(t, p, ip, "POST", "/api/v1/auth/login", "", good)
			want(t, w, http.StatusForbidden, gateway.CodeLoginBlocked)
			if ra, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || ra < 1 || ra > 300 {
				t.Fatalf("Retry-After %q", w.Header().Get("Retry-After"))
			}
		}
		// Another client still logs in.
		want(t, call(t, b, "198.51.100.12", "POST", "/api/v1/auth/login", "", good), http.StatusOK, "")
	})
}

// TestReplicasShareLoginLimits: 60 parallel wrong-password logins from one
// IP, spread over two replicas sharing a Redis, check exactly
// LoginMaxFailures passwords in all (the attempts are counted in Redis
// before the check); one account's failures from several IPs and both
// replicas make the next attempt wait on either replica; registrations
// from one IP are counted once for both.
func TestReplicasShareLoginLimits(t *testing.T) {
	g := gateway.DefaultConfig()
	g.LoginMaxFailures, g.LoginAccountMaxFailures, g.RegisterLimit = 3, 4, 2
	a, b := replicasWith(t, g)
	both := []*platform.Platform{a, b}
	const regIP = "198.51.100.20"
	for i, name := range []string{"shared1", "shared2"} {
		want(t, call(t, both[i], regIP, "POST", "/api/v1/auth/register", "", `{"username":"`+name+`","email":"`+name+`@example.com",`+
			`"password":"Passw0rd!xyz12","first_name":"Re","last_name":"Plica"}`), http.StatusCreated, "")
	}
	want(t, call(t, a, regIP, "POST", "/api/v1/auth/register", "", `{"username":"shared3","email":"shared3@example.com",`+
		`"password":"Passw0rd!xyz12","first_name":"Re","last_name":"Plica"}`), http.StatusTooManyRequests, gateway.CodeRateLimited)

	before := a.Hasher.Computations() + b.Hasher.Computations()
	codes := make([]int, 60)
	var wg sync.WaitGroup
	for i := range codes {
		wg.Go(func() {
			codes[i] = call(t, both[i%2], "198.51.100.21", "POST", "/api/v1/auth/login", "", `{"username":"shared1","password":"Wr0ng-Passw0rd!"}`).Code
		})
	}
	wg.Wait()
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	checks := a.Hasher.Computations() + b.Hasher.Computations() - before
	if checks != 3 || count[http.StatusUnauthorized] != 3 || count[http.StatusForbidden] != 57 {
		t.Fatalf("%d password checks, answers %v; want 3 checks, 3 x 401, 57 x 403", checks, count)
	}

	for i := range 4 {
		w := call(t, both[i%2], "198.51.100."+strconv.Itoa(30+i), "POST", "/api/v1/auth/login", "", `{"username":"Shared2","password":"Wr0ng-Passw0rd!"}`)
		want(t, w, http.StatusUnauthorized, "unauthorized")
	}
	want(t, call(t, a, "198.51.100.40", "POST", "/api/v1/auth/login", "", `{"username":"shared2","password":"Wr0ng-Passw0rd!"}`), http.StatusUnauthorized, "unauthorized")
	for _, p := range both {
		w := call(t, p, "198.51.100.41", "POST", "/api/v1/auth/login", "", `{"username":"shared2","password":"Passw0rd!xyz12"}`)
		want(t, w, http.StatusForbidden, gateway.CodeLoginBlocked)
		if ra := w.Header().Get("Retry-After"); ra != "30" && ra != "29" {
			t.Fatalf("Retry-After %q, want 30", ra)
		}
	}
}

// TestPlatformRedisUnreachable: a platform told to use a Redis it cannot
// reach does not start.
func TestPlatformRedisUnreachable(t *testing.T) {
	t.Parallel() // the dial retries take a second or two
	_, err := platform.Open(context.Background(), platform.Config{
		DataDir: t.TempDir(), PriceFeed: "static", Logger: quiet(),
		RedisURL: "redis://127.0.0.1:1/0",
	})
	if err == nil || !strings.Contains(err.Error(), "redisstate: connect to 127.0.0.1:1") {
		t.Fatalf("Open = %v, want a connect error", err)
	}
}
