package e2e

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
)

// burst sends n requests at once (released together) and returns the responses.
func (e *env) burst(t *testing.T, n int, req func(i int) (method, path, token string, body any)) []response {
	t.Helper()
	var wg sync.WaitGroup
	start := make(chan struct{})
	res := make([]response, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, p, tok, b := req(i)
			<-start
			res[i] = e.send(m, p, tok, b, nil)
		}()
	}
	close(start)
	wg.Wait()
	for i, r := range res {
		if r.err != nil {
			t.Fatalf("request %d: %v", i, r.err)
		}
	}
	return res
}

// tally counts 201s and 422 insufficient_funds answers; anything else fails.
func tally(t *testing.T, res []response) (ok, insufficient int) {
	t.Helper()
	for i, r := range res {
		switch r.Status {
		case http.StatusCreated:
			ok++
		case http.StatusUnprocessableEntity:
			r.serviceError(t, http.StatusUnprocessableEntity, "insufficient_funds")
			insufficient++
		default:
			t.Fatalf("request %d: %d %s", i, r.Status, r.Body)
		}
	}
	return ok, insufficient
}

func TestConcurrentBuysAndSells(t *testing.T) {
	e := sharedEnv(t)
	u := e.newUser(t)
	a := e.newAsset(t, "1")
	// The admin sets the price so that 2.5 units cost exactly 100.00.
	e.do(t, http.MethodPut, "/api/v1/admin/assets/"+a+"/price", e.admin, map[string]any{"price_usd": "40"}).want(t, http.StatusOK)
	e.deposit(t, u, "1000")

	buy := map[string]any{"order_type": "market_buy", "asset_id": a, "quantity": "2.5"}
	res := e.burst(t, 50, func(int) (string, string, string, any) { return http.MethodPost, "/api/v1/orders", u.token, buy })
	ok, insufficient := tally(t, res)
	if ok != 10 || insufficient != 40 {
		t.Fatalf("buys: %d placed, %d insufficient; want 10 and 40", ok, insufficient)
	}
	e.wantBalance(t, u, "0.00")
	h := e.do(t, http.MethodGet, "/api/v1/balance/asset/"+a, u.token, nil).want(t, http.StatusOK).obj(t)
	if h["quantity"] != "25" && h["quantity"] != "25.0" {
		t.Fatalf("holding %v", h["quantity"])
	}
	if c := e.counts(t, u); c.orders != 10 || c.txs != 11 {
		t.Fatalf("records %+v", c)
	}
	e.verifyOK(t)

	sell := map[string]any{"order_type": "market_sell", "asset_id": a, "quantity": "2.5"}
	res = e.burst(t, 50, func(int) (string, string, string, any) { return http.MethodPost, "/api/v1/orders", u.token, sell })
	ok, insufficient = tally(t, res)
	if ok != 10 || insufficient != 40 {
		t.Fatalf("sells: %d placed, %d insufficient; want 10 and 40", ok, insufficient)
	}
	e.wantBalance(t, u, "1000.00")
	h = e.do(t, http.MethodGet, "/api/v1/balance/asset/"+a, u.token, nil).want(t, http.StatusOK).obj(t)
	if dec(t, h["quantity"].(string)).Sign() != 0 || dec(t, h["held_quantity"].(string)).Sign() != 0 {
		t.Fatalf("holding after sells %v", h)
	}
	if c := e.counts(t, u); c.orders != 20 || c.txs != 21 {
		t.Fatalf("records %+v", c)
	}
	e.verifyOK(t)
}

func TestConcurrentWithdrawals(t *testing.T) {
	e := sharedEnv(t)
	u := e.newUser(t)
	e.deposit(t, u, "1000")
	res := e.burst(t, 30, func(int) (string, string, string, any) {
		return http.MethodPost, "/api/v1/balance/withdraw", u.token, map[string]any{"amount": "150"}
	})
	ok, insufficient := tally(t, res)
	if ok != 6 || insufficient != 24 {
		t.Fatalf("withdrawals: %d ok, %d insufficient", ok, insufficient)
	}
	e.wantBalance(t, u, "100.00")
	e.verifyOK(t)
}

func TestConcurrentFirstRequests(t *testing.T) {
	e := sharedEnv(t)
	a := e.newAsset(t, "50")
	for round := 0; round < 3; round++ {
		name := uniqueName("fresh")
		e.do(t, http.MethodPost, "/api/v1/auth/register", "", registerBody(name)).want(t, http.StatusCreated)
		u := &user{name: name, token: e.login(t, name, userPassword)}
		e.deposit(t, u, "300")
		// 10 deposits of 100 and 20 buys of 100, all at once.
		res := e.burst(t, 30, func(i int) (string, string, string, any) {
			if i%3 == 0 {
				return http.MethodPost, "/api/v1/balance/deposit", u.token, map[string]any{"amount": "100"}
			}
			return http.MethodPost, "/api/v1/orders", u.token, map[string]any{"order_type": "market_buy", "asset_id": a, "quantity": "2"}
		})
		deposits, buys, refused := 0, 0, 0
		for i, r := range res {
			switch {
			case r.Status == http.StatusCreated && i%3 == 0:
				deposits++
			case r.Status == http.StatusCreated:
				buys++
			case r.Status == http.StatusUnprocessableEntity && i%3 != 0:
				r.serviceError(t, http.StatusUnprocessableEntity, "insufficient_funds")
				refused++
			default:
				t.Fatalf("request %d: %d %s", i, r.Status, r.Body)
			}
		}
		if deposits != 10 || buys+refused != 20 || buys < 3 || buys > 13 {
			t.Fatalf("deposits %d buys %d refused %d", deposits, buys, refused)
		}
		want := fmt.Sprintf("%d.00", 300+100*deposits-100*buys)
		e.wantBalance(t, u, want)
		h := e.do(t, http.MethodGet, "/api/v1/balance/asset/"+a, u.token, nil).want(t, http.StatusOK).obj(t)
		if got := dec(t, h["quantity"].(string)); got.String() != fmt.Sprint(2*buys) {
			t.Fatalf("holding %s, want %d", got, 2*buys)
		}
		if c := e.counts(t, u); c.orders != buys || c.txs != 1+deposits+buys {
			t.Fatalf("records %+v (deposits %d buys %d)", c, deposits, buys)
		}
	}
	e.verifyOK(t)
}

func TestConcurrentMixedBuysAndSells(t *testing.T) {
	e := sharedEnv(t)
	u := e.newUser(t)
	a := e.newAsset(t, "10")
	e.deposit(t, u, "1000")
	e.order(t, u, map[string]any{"order_type": "market_buy", "asset_id": a, "quantity": "50"}).want(t, http.StatusCreated)
	// 500 cash and 50 units: 25 buys of 1 unit and 25 sells of 1 unit all fit.
	res := e.burst(t, 50, func(i int) (string, string, string, any) {
		typ := "market_buy"
		if i%2 == 1 {
			typ = "market_sell"
		}
		return http.MethodPost, "/api/v1/orders", u.token, map[string]any{"order_type": typ, "asset_id": a, "quantity": "1"}
	})
	for i, r := range res {
		if r.Status != http.StatusCreated {
			t.Errorf("request %d: %d %s", i, r.Status, r.Body)
		}
	}
	e.wantBalance(t, u, "500.00")
	h := e.do(t, http.MethodGet, "/api/v1/balance/asset/"+a, u.token, nil).want(t, http.StatusOK).obj(t)
	if got := dec(t, h["quantity"].(string)); got.String() != "50" {
		t.Fatalf("holding %s", got)
	}
	e.verifyOK(t)
}

func TestConcurrentEmailChange(t *testing.T) {
	e := sharedEnv(t)
	users := make([]*user, 10)
	for i := range users {
		users[i] = e.newUser(t)
	}
	email := uniqueName("shared") + "@example.com"
	res := e.burst(t, len(users), func(i int) (string, string, string, any) {
		return http.MethodPut, "/api/v1/auth/profile", users[i].token, map[string]any{"email": email}
	})
	won := 0
	for i, r := range res {
		switch r.Status {
		case http.StatusOK:
			won++
		case http.StatusConflict:
			r.serviceError(t, http.StatusConflict, "conflict")
		default:
			t.Fatalf("request %d: %d %s", i, r.Status, r.Body)
		}
	}
	if won != 1 {
		t.Fatalf("%d users got the same email", won)
	}
	b := registerBody(uniqueName("reg"))
	b["email"] = email
	e.do(t, http.MethodPost, "/api/v1/auth/register", "", b).serviceError(t, http.StatusConflict, "conflict")
}
