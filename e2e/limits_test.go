package e2e

import (
	"net/http"
	"strconv"
	"testing"
)

// The limit errors of the default configuration (10,000 USD of deposits and
// 5,000 USD of withdrawals a day, every currency at its USD value).
const (
	depositLimitMsg  = "daily deposit limit of 10000.00 USD exceeded (every currency counts at its USD value)"
	withdrawLimitMsg = "daily withdraw limit of 5000.00 USD exceeded (every currency counts at its USD value)"
)

// wantLimitError checks a refusal with the daily limit error msg.
func wantLimitError(t *testing.T, r response, msg string) {
	t.Helper()
	m := r.serviceError(t, http.StatusUnprocessableEntity, "invalid")
	list, ok := m["detail"].([]any)
	if !ok || len(list) != 1 {
		t.Fatalf("detail %v", m["detail"])
	}
	f := list[0].(map[string]any)
	if locs := fieldLocs(t, m); locs[0] != "body.amount" || f["msg"] != msg || f["type"] != "value_error" {
		t.Fatalf("limit error %s, want msg %q at body.amount", r.Body, msg)
	}
}

// cash posts a deposit or withdrawal ("deposit", "withdraw") of amount in cur.
func (e *env) cash(t *testing.T, u *user, kind, amount, cur string) response {
	t.Helper()
	return e.do(t, http.MethodPost, "/api/v1/balance/"+kind, u.token, map[string]any{"amount": amount, "currency": cur})
}

// wantCash checks u's current balance in cur (and that nothing is held).
func (e *env) wantCash(t *testing.T, u *user, cur, want string) {
	t.Helper()
	b := e.do(t, http.MethodGet, "/api/v1/balance?currency="+cur, u.token, nil).want(t, http.StatusOK).obj(t)
	if b["current_balance"] != want || b["available_balance"] != want {
		t.Fatalf("%s balance %v/%v, want %s", cur, b["current_balance"], b["available_balance"], want)
	}
}

// TestDailyLimitsAcrossCurrencies: the daily deposit and withdrawal limits
// count every currency at its USD value (the conversion's rates: 1 EUR =
// 1.08 USD, 1 JPY = 0.0067 USD), so converting cannot multiply them.
func TestDailyLimitsAcrossCurrencies(t *testing.T) {
	e := sharedEnv(t)
	u := e.newUser(t)
	e.cash(t, u, "deposit", "8920", "USD").want(t, http.StatusCreated)
	wantLimitError(t, e.cash(t, u, "deposit", "1000.01", "EUR"), depositLimitMsg) // 1,080.0108 USD
	e.cash(t, u, "deposit", "1000", "EUR").want(t, http.StatusCreated)            // 1,080 USD: exactly the limit
	wantLimitError(t, e.cash(t, u, "deposit", "0.01", "EUR"), depositLimitMsg)
	wantLimitError(t, e.cash(t, u, "deposit", "0.01", "USD"), depositLimitMsg)
	wantLimitError(t, e.cash(t, u, "deposit", "1", "JPY"), depositLimitMsg)

	// 3,240 USD buy 3,000 EUR.
	c := e.do(t, http.MethodPost, "/api/v1/balance/convert", u.token,
		map[string]any{"from_currency": "USD", "to_currency": "EUR", "amount": "3240"}).want(t, http.StatusCreated).obj(t)
	if c["credit"].(map[string]any)["amount"] != "3000.00" {
		t.Fatalf("conversion %v", c)
	}
	// 10 USD buy 1,492 JPY (1,492.537... rounded down).
	c = e.do(t, http.MethodPost, "/api/v1/balance/convert", u.token,
		map[string]any{"from_currency": "USD", "to_currency": "JPY", "amount": "10"}).want(t, http.StatusCreated).obj(t)
	if c["credit"].(map[string]any)["amount"] != "1492" {
		t.Fatalf("conversion %v", c)
	}
	e.wantCash(t, u, "USD", "5670.00")
	e.wantCash(t, u, "EUR", "4000.00")
	e.wantCash(t, u, "JPY", "1492")

	e.cash(t, u, "withdraw", "1760", "USD").want(t, http.StatusCreated)             // 3,240 USD left today
	wantLimitError(t, e.cash(t, u, "withdraw", "3000.01", "EUR"), withdrawLimitMsg) // 3,240.0108 USD
	e.cash(t, u, "withdraw", "3000", "EUR").want(t, http.StatusCreated)             // 3,240 USD: exactly the limit
	wantLimitError(t, e.cash(t, u, "withdraw", "0.01", "EUR"), withdrawLimitMsg)
	wantLimitError(t, e.cash(t, u, "withdraw", "0.01", "USD"), withdrawLimitMsg)
	wantLimitError(t, e.cash(t, u, "withdraw", "1", "JPY"), withdrawLimitMsg)
	e.wantCash(t, u, "USD", "3910.00")
	e.wantCash(t, u, "EUR", "1000.00")
	e.wantCash(t, u, "JPY", "1492")
	e.verifyOK(t)
}

// TestConcurrentWithdrawalsAcrossCurrencies: withdrawals in two currencies
// at once never pass the one USD-equivalent limit together.
func TestConcurrentWithdrawalsAcrossCurrencies(t *testing.T) {
	e := sharedEnv(t)
	u := e.newUser(t)
	e.cash(t, u, "deposit", "5000", "USD").want(t, http.StatusCreated)
	e.cash(t, u, "deposit", "4600", "EUR").want(t, http.StatusCreated) // 4,968 USD
	const usdN, eurN = 10, 9                                           // 500 USD each; 500 EUR = 540 USD each
	res := e.burst(t, usdN+eurN, func(i int) (string, string, string, any) {
		cur := "USD"
		if i >= usdN {
			cur = "EUR"
		}
		return http.MethodPost, "/api/v1/balance/withdraw", u.token, map[string]any{"amount": "500", "currency": cur}
	})
	usdOK, eurOK := 0, 0
	for i, r := range res {
		if r.Status != http.StatusCreated {
			wantLimitError(t, r, withdrawLimitMsg)
			continue
		}
		if i < usdN {
			usdOK++
		} else {
			eurOK++
		}
	}
	total := usdOK*500 + eurOK*540
	t.Logf("%d USD and %d EUR withdrawals accepted: %d USD", usdOK, eurOK, total)
	// Within the limit, and refused only when the next one would pass it.
	if total > 5000 || total <= 5000-540 {
		t.Fatalf("accepted %d USD and %d EUR withdrawals of 500: %d USD in all", usdOK, eurOK, total)
	}
	e.wantCash(t, u, "USD", dec(t, "5000").Sub(dec(t, "500").Mul(dec(t, strconv.Itoa(usdOK)))).StringFixed(2))
	e.wantCash(t, u, "EUR", dec(t, "4600").Sub(dec(t, "500").Mul(dec(t, strconv.Itoa(eurOK)))).StringFixed(2))
	e.verifyOK(t)
}
