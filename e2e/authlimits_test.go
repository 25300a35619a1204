package e2e

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/gateway"
	"github.com/orderprocessor/orderprocessor/platform"
	"github.com/orderprocessor/orderprocessor/testenv/fakeclock"
)

// slowParams make a password check take milliseconds, as real ones do, so
// that parallel logins overlap.
var slowParams = auth.Params{MemoryKiB: 4096, Iterations: 3, Threads: 1, SaltLen: 16, KeyLen: 32}

// TestParallelLoginsCheckAtMostMaxFailuresPasswords sends 60 wrong-password
// logins from one IP at once: exactly LoginMaxFailures of them reach the
// password check (counted by the Hasher) and fail with 401; every other one
// is refused with 403 LOGIN_BLOCKED before any hashing.
func TestParallelLoginsCheckAtMostMaxFailuresPasswords(t *testing.T) {
	const max = gateway.DefaultLoginMaxFailures
	e := newEnv(t, func(c *platform.Config) {
		c.Gateway.LoginMaxFailures = max
		c.PasswordParams = slowParams
	})
	u := e.newUser(t)
	before := e.p.Hasher.Computations()

	const n = 60
	statuses := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			r := e.send(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": u.name, "password": "Wr0ng!Password"}, nil)
			if r.err != nil {
				t.Errorf("login %d: %v", i, r.err)
			}
			statuses[i] = r.Status
		})
	}
	close(start)
	wg.Wait()
	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	if count[http.StatusUnauthorized] != max || count[http.StatusForbidden] != n-max {
		t.Errorf("answers %v, want %d x 401 and %d x 403", count, max, n-max)
	}
	if checks := e.p.Hasher.Computations() - before; checks != max {
		t.Fatalf("%d password checks for %d parallel wrong-password logins, want %d (LoginMaxFailures)", checks, n, max)
	}
	// The IP is blocked now, the right password included.
	e.do(t, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": u.name, "password": userPassword}).
		gatewayError(t, http.StatusForbidden, "LOGIN_BLOCKED")
}

// TestLoginAccountDelays guesses one account's password 30 times from 10
// client IPs (3 each, under the per-IP limit): after
// LoginAccountMaxFailures failures and one more attempt, every guess is
// refused until a delay has passed, and the delays grow (30 s, 60 s,
// 120 s). The owner, from another IP, is refused during a delay and logs in
// once it has passed; the login ends the account's count.
func TestLoginAccountDelays(t *testing.T) {
	clk := fakeclock.New(time.Now())
	e := newEnv(t, func(c *platform.Config) {
		c.Now = clk.Now
		c.Gateway.TrustProxy = true
		c.Gateway.LoginMaxFailures = gateway.DefaultLoginMaxFailures
		c.Gateway.LoginAccountMaxFailures = gateway.DefaultLoginAccountMaxFailures
		c.Gateway.LoginAccountDelay = gateway.DefaultLoginAccountDelay
		c.Gateway.LoginAccountMaxDelay = gateway.DefaultLoginAccountMaxDelay
	})
	victim := e.newUser(t)
	guess := func(i int) response {
		return e.do(t, http.MethodPost, "/api/v1/auth/login", "",
			map[string]string{"username": victim.name, "password": fmt.Sprintf("Guess!%dPassw0rd", i)},
			"X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i%10+1))
	}
	owner := func() response {
		return e.do(t, http.MethodPost, "/api/v1/auth/login", "",
			map[string]string{"username": victim.name, "password": userPassword}, "X-Forwarded-For", "203.0.113.7")
	}
	wantDelayed := func(r response, retryAfter int) {
		t.Helper()
		r.gatewayError(t, http.StatusForbidden, "LOGIN_BLOCKED")
		if got := r.Header.Get("Retry-After"); got != strconv.Itoa(retryAfter) {
			t.Fatalf("Retry-After %q, want %d", got, retryAfter)
		}
	}

	var answers []int
	for i := 0; i < 30; i++ {
		r := guess(i)
		answers = append(answers, r.Status)
		if i > gateway.DefaultLoginAccountMaxFailures {
			wantDelayed(r, 30)
		}
	}
	for i, s := range answers[:gateway.DefaultLoginAccountMaxFailures+1] {
		if s != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d, want 401 (answers %v)", i, s, answers)
		}
	}
	wantDelayed(owner(), 30)

	// One guess per delay, and each delay is twice the last.
	clk.Advance(30 * time.Second)
	guess(100).serviceError(t, http.StatusUnauthorized, "unauthorized")
	wantDelayed(guess(101), 60)
	clk.Advance(60 * time.Second)
	guess(102).serviceError(t, http.StatusUnauthorized, "unauthorized")
	wantDelayed(guess(103), 120)
	wantDelayed(owner(), 120)

	// Not a permanent lock: once the delay has passed, the owner gets in,
	// and that ends the account's count.
	clk.Advance(120 * time.Second)
	owner().want(t, http.StatusOK)
	for i := 0; i < gateway.DefaultLoginAccountMaxFailures+1; i++ {
		guess(200+i).serviceError(t, http.StatusUnauthorized, "unauthorized")
	}
	wantDelayed(guess(300), 30)

	// A name no user has is limited the same way (nothing to tell them apart).
	for i := 0; i <= gateway.DefaultLoginAccountMaxFailures; i++ {
		e.do(t, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": "nobody_here", "password": "Guess!0Passw0rd"},
			"X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i+1)).serviceError(t, http.StatusUnauthorized, "unauthorized")
	}
	wantDelayed(e.do(t, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": "NOBODY_HERE", "password": "Guess!0Passw0rd"},
		"X-Forwarded-For", "192.0.2.100"), 30)
}

// TestRegistrationLimitPerIP registers RegisterLimit users from one IP: the
// next registration from it is refused with 429 and Retry-After, while
// another IP still registers. A registration the handler refuses (422) is
// not counted.
func TestRegistrationLimitPerIP(t *testing.T) {
	const limit = gateway.DefaultRegisterLimit
	e := newEnv(t, func(c *platform.Config) {
		c.Gateway.TrustProxy = true
		c.Gateway.RegisterLimit = limit
	})
	const ip = "198.51.100.77"
	bad := registerBody(uniqueName("reg"))
	bad["password"] = "short"
	e.do(t, http.MethodPost, "/api/v1/auth/register", "", bad, "X-Forwarded-For", ip).want(t, http.StatusUnprocessableEntity)
	for i := 0; i < limit; i++ {
		e.do(t, http.MethodPost, "/api/v1/auth/register", "", registerBody(uniqueName("reg")), "X-Forwarded-For", ip).
			want(t, http.StatusCreated)
	}
	r := e.do(t, http.MethodPost, "/api/v1/auth/register", "", registerBody(uniqueName("reg")), "X-Forwarded-For", ip)
	r.gatewayError(t, http.StatusTooManyRequests, "RATE_LIMITED")
	if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 3500 || ra > 3600 {
		t.Fatalf("Retry-After %q, want about an hour", r.Header.Get("Retry-After"))
	}
	e.do(t, http.MethodPost, "/api/v1/auth/register", "", registerBody(uniqueName("reg")), "X-Forwarded-For", "198.51.100.78").
		want(t, http.StatusCreated)
}
