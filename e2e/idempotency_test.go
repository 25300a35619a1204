package e2e

import (
	"bytes"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// sameResponse fails unless b replays a: same status and JSON body, marked
// with Idempotent-Replayed: true.
func sameResponse(t *testing.T, a, b response) {
	t.Helper()
	if a.Status != b.Status {
		t.Fatalf("replay status %d, first %d", b.Status, a.Status)
	}
	if !bytes.Equal(bytes.TrimSpace(a.Body), bytes.TrimSpace(b.Body)) || !reflect.DeepEqual(a.obj(t), b.obj(t)) {
		t.Fatalf("replay body differs:\nfirst  %s\nreplay %s", a.Body, b.Body)
	}
	if got := b.Header.Get("Idempotent-Replayed"); got != "true" {
		t.Fatalf("Idempotent-Replayed %q", got)
	}
}

func TestIdempotentDeposit(t *testing.T) {
	e := sharedEnv(t)
	u := e.newUser(t)
	body := map[string]any{"amount": "100", "description": "first"}
	first := e.do(t, http.MethodPost, "/api/v1/balance/deposit", u.token, body, "Idempotency-Key", "dep-key-1").want(t, http.StatusCreated)
	if first.Header.Get("Idempotent-Replayed") != "" {
		t.Fatal("first response marked as replayed")
	}
	before := e.counts(t, u)
	for i := 0; i < 3; i++ {
		// The same body, spelled differently (a number instead of a string).
		again := e.do(t, http.MethodPost, "/api/v1/balance/deposit", u.token, map[string]any{"description": "first", "amount": 100}, "Idempotency-Key", "dep-key-1")
		sameResponse(t, first, again)
	}
	e.do(t, http.MethodPost, "/api/v1/balance/deposit", u.token, map[string]any{"amount": "101", "description": "first"}, "Idempotency-Key", "dep-key-1").
		serviceError(t, http.StatusConflict, "conflict")
	if after := e.counts(t, u); after != before || before.txs != 1 {
		t.Fatalf("records %+v -> %+v", before, after)
	}
	e.wantBalance(t, u, "100.00")

	// Keys are per user and per operation.
	v := e.newUser(t)
	e.do(t, http.MethodPost, "/api/v1/balance/deposit", v.token, body, "Idempotency-Key", "dep-key-1").want(t, http.StatusCreated)
	e.wantBalance(t, v, "100.00")
	w := e.do(t, http.MethodPost, "/api/v1/balance/withdraw", u.token, map[string]any{"amount": "100", "description": "first"}, "Idempotency-Key", "dep-key-1")
	w.want(t, http.StatusCreated)
	if w.Header.Get("Idempotent-Replayed") != "" {
		t.Fatal("withdrawal replayed a deposit")
	}
	e.wantBalance(t, u, "0.00")

	for _, bad := range []string{strings.Repeat("k", 256), "tab\there"} {
		e.do(t, http.MethodPost, "/api/v1/balance/deposit", u.token, body, "Idempotency-Key", bad).serviceError(t, http.StatusUnprocessableEntity, "invalid")
	}
	e.wantBalance(t, u, "0.00")
	e.verifyOK(t)
}

func TestIdempotentDepositConcurrent(t *testing.T) {
	e := sharedEnv(t)
	u := e.newUser(t)
	const n = 20
	var wg sync.WaitGroup
	start := make(chan struct{})
	res := make([]response, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res[i] = e.send(http.MethodPost, "/api/v1/balance/deposit", u.token, map[string]any{"amount": "250.00"},
				map[string]string{"Idempotency-Key": "concurrent-key"})
		}()
	}
	close(start)
	wg.Wait()
	ids := map[string]bool{}
	replayed := 0
	for i, r := range res {
		if r.err != nil {
			t.Fatalf("request %d: %v", i, r.err)
		}
		if r.Status != http.StatusCreated {
			t.Fatalf("request %d: %d %s", i, r.Status, r.Body)
		}
		ids[r.obj(t)["transaction_id"].(string)] = true
		if r.Header.Get("Idempotent-Replayed") == "true" {
			replayed++
		}
	}
	if len(ids) != 1 || replayed != n-1 {
		t.Fatalf("%d distinct transactions, %d replayed of %d", len(ids), replayed, n)
	}
	if c := e.counts(t, u); c.txs != 1 {
		t.Fatalf("ledger has %d entries", c.txs)
	}
	e.wantBalance(t, u, "250.00")
	e.verifyOK(t)
}

func TestIdempotentOrder(t *testing.T) {
	e := sharedEnv(t)
	u := e.newUser(t)
	a := e.newAsset(t, "25")
	e.deposit(t, u, "100")
	body := map[string]any{"order_type": "market_buy", "asset_id": a, "quantity": "2"}
	first := e.order(t, u, body, "Idempotency-Key", "order-key").want(t, http.StatusCreated)
	before := e.counts(t, u)
	// A price change between the retries changes nothing: the first result stands.
	e.do(t, http.MethodPut, "/api/v1/admin/assets/"+a+"/price", e.admin, map[string]any{"price_usd": "30"}).want(t, http.StatusOK)
	again := e.order(t, u, map[string]any{"order_type": "market_buy", "asset_id": a, "quantity": 2}, "Idempotency-Key", "order-key")
	sameResponse(t, first, again)
	e.order(t, u, map[string]any{"order_type": "market_buy", "asset_id": a, "quantity": "1"}, "Idempotency-Key", "order-key").
		serviceError(t, http.StatusConflict, "conflict")
	if after := e.counts(t, u); after != before || before.orders != 1 {
		t.Fatalf("records %+v -> %+v", before, after)
	}
	e.wantBalance(t, u, "50.00")

	// 20 concurrent identical requests with a fresh key: one order.
	const n = 20
	var wg sync.WaitGroup
	start := make(chan struct{})
	res := make([]response, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res[i] = e.send(http.MethodPost, "/api/v1/orders", u.token, map[string]any{"order_type": "market_buy", "asset_id": a, "quantity": "1"},
				map[string]string{"Idempotency-Key": "order-key-2"})
		}()
	}
	close(start)
	wg.Wait()
	ids := map[any]bool{}
	for i, r := range res {
		if r.err != nil || r.Status != http.StatusCreated {
			t.Fatalf("request %d: %d %s %v", i, r.Status, r.Body, r.err)
		}
		ids[r.obj(t)["data"].(map[string]any)["order_id"]] = true
	}
	if len(ids) != 1 {
		t.Fatalf("%d orders placed", len(ids))
	}
	if c := e.counts(t, u); c.orders != 2 {
		t.Fatalf("%d orders stored", c.orders)
	}
	e.wantBalance(t, u, "20.00")
	e.verifyOK(t)
}

func TestIdempotentRegister(t *testing.T) {
	e := sharedEnv(t)
	name := uniqueName("idem")
	first := e.do(t, http.MethodPost, "/api/v1/auth/register", "", registerBody(name), "Idempotency-Key", "reg-"+name).want(t, http.StatusCreated)
	again := e.do(t, http.MethodPost, "/api/v1/auth/register", "", registerBody(name), "Idempotency-Key", "reg-"+name)
	sameResponse(t, first, again)
	other := registerBody(name)
	other["first_name"] = "Other"
	e.do(t, http.MethodPost, "/api/v1/auth/register", "", other, "Idempotency-Key", "reg-"+name).serviceError(t, http.StatusConflict, "conflict")
	// Without the key, a second registration is a duplicate.
	e.do(t, http.MethodPost, "/api/v1/auth/register", "", registerBody(name)).serviceError(t, http.StatusConflict, "conflict")
	e.login(t, name, userPassword)
}

func TestConcurrentRegistration(t *testing.T) {
	e := sharedEnv(t)
	name := uniqueName("race")
	const n = 10
	var wg sync.WaitGroup
	start := make(chan struct{})
	res := make([]response, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			b := registerBody(name)
			b["email"] = name + "_" + string(rune('a'+i)) + "@example.com"
			res[i] = e.send(http.MethodPost, "/api/v1/auth/register", "", b, nil)
		}()
	}
	close(start)
	wg.Wait()
	created, conflicts := 0, 0
	for _, r := range res {
		switch r.Status {
		case http.StatusCreated:
			created++
		case http.StatusConflict:
			conflicts++
		default:
			t.Fatalf("status %d %s %v", r.Status, r.Body, r.err)
		}
	}
	if created != 1 || conflicts != n-1 {
		t.Fatalf("created %d conflicts %d", created, conflicts)
	}
	e.login(t, name, userPassword)
	e.verifyOK(t)
}
