package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/orderprocessor/orderprocessor/entity"
)

// snapshot renders everything a request could change for u, plus the
// catalogue, so that "no state change" is one comparison.
func (e *env) snapshot(t testing.TB, u *user, withProfile bool) string {
	t.Helper()
	ctx := context.Background()
	// The assets' 24-hour volume is brought up to date first: the analytics
	// job then finds nothing to change while the test runs.
	if _, err := e.p.Trading.RefreshVolume24h(ctx, e.p.Trading.Now()); err != nil {
		t.Fatal(err)
	}
	bs, err := e.p.DAOs.Balances.List(ctx, u.name)
	if err != nil {
		t.Fatal(err)
	}
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
	prof, err := e.p.DAOs.Users.GetByUsername(ctx, u.name)
	if err != nil {
		t.Fatal(err)
	}
	// A no-op profile update may touch these.
	prof.UpdatedAt, prof.Version = entity.Time{}, 0
	if !withProfile {
		prof = &entity.User{}
	}
	assets, err := e.p.DAOs.Assets.All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal([]any{bs, txs, os, hs, prof, prof.PasswordHash, assets})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wantErrorBody checks a 4xx answer: a JSON object with "detail" and "code".
func wantErrorBody(t testing.TB, r response) {
	t.Helper()
	if r.Status < 400 || r.Status >= 500 {
		t.Fatalf("status %d, want 4xx: %.300s", r.Status, r.Body)
	}
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("status %d: error body is not a JSON object: %.300s", r.Status, r.Body)
	}
	if _, ok := m["code"].(string); !ok {
		t.Fatalf("status %d: no code: %.300s", r.Status, r.Body)
	}
	if _, ok := m["detail"]; !ok {
		if _, gw := m["message"]; !gw {
			t.Fatalf("status %d: no detail: %.300s", r.Status, r.Body)
		}
	}
}

var (
	huge      = strings.Repeat("A", 10<<10)
	badValues = map[string]string{
		"true":           `true`,
		"object":         `{"x":1}`,
		"array":          `[1,2]`,
		"1e400":          `1e400`,
		"-1e400":         `-1e400`,
		"NaN string":     `"NaN"`,
		"Infinity":       `"Infinity"`,
		"-Infinity":      `"-Infinity"`,
		"negative":       `-1`,
		"negative str":   `"-0.01"`,
		"zero":           `0`,
		"many decimals":  `"1.123456789012345678901234567890"`,
		"too big":        `"99999999999999999999999999999999999999999"`,
		"10KB string":    `"` + huge + `"`,
		"unknown enum":   `"not_a_value"`,
		"empty string":   `""`,
		"hex":            `"0x10"`,
		"spaces":         `" 1 "`,
		"bad unicode":    `"\ud800"`,
		"markup":         `"<script>alert(1)</script>"`,
		"exponent float": `1.5e-10`,
		"null":           `null`,
	}
	badBodies = map[string]string{
		"empty":          ``,
		"whitespace":     "  \n ",
		"malformed":      `{"amount":`,
		"trailing":       `{} {}`,
		"array":          `[{"amount":"1"}]`,
		"string":         `"hello"`,
		"number":         `42`,
		"null":           `null`,
		"not json":       `amount=1`,
		"deep nesting":   strings.Repeat("[", 5000) + strings.Repeat("]", 5000),
		"deep object":    `{"a":` + strings.Repeat(`{"a":`, 3000) + `1` + strings.Repeat("}", 3001),
		"invalid utf8":   "{\"amount\":\"\xff\xfe\"}",
		"duplicate keys": `{"amount":"1","amount":"-1"}`,
		"nul byte":       "{\"amount\":\"1\u0000\"}",
	}
)

// mutationRoute is a POST/PUT route with a base body that fails for a
// reason of its own (a limit, a duplicate, an unknown id, no funds), so that
// replacing one field by a bad value can never make a request succeed.
type mutationRoute struct {
	method, path string
	admin        bool
	// profile: the route may legitimately change the caller's profile (a
	// bad value for one field can be a valid value for another, such as
	// "Infinity" for a name), and a JSON object of unknown fields is an
	// empty update.
	profile bool
	base    map[string]string // field -> raw JSON
	fields  []string
	// accepted reports whether a 2xx is correct for field=value.
	accepted func(field, value string) bool
}

func rawObject(fields map[string]string) string {
	var parts []string
	for k, v := range fields {
		parts = append(parts, fmt.Sprintf("%q:%s", k, v))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func TestBadInputNeverHurts(t *testing.T) {
	e := sharedEnv(t)
	u := e.newUser(t)
	buyAsset, sellAsset := e.newAsset(t, "10"), e.newAsset(t, "1")
	// Exhaust the daily limits and the cash: no request can succeed.
	e.deposit(t, u, "10000")
	e.do(t, http.MethodPost, "/api/v1/balance/withdraw", u.token, map[string]any{"amount": "5000"}).want(t, http.StatusCreated)
	e.order(t, u, map[string]any{"order_type": "market_buy", "asset_id": buyAsset, "quantity": "499.95"}).want(t, http.StatusCreated)
	e.order(t, u, map[string]any{"order_type": "market_buy", "asset_id": sellAsset, "quantity": "0.5"}).want(t, http.StatusCreated)
	e.wantBalance(t, u, "0.00")

	never := func(string, string) bool { return false }
	routes := []mutationRoute{
		{method: http.MethodPost, path: "/api/v1/balance/deposit", // daily limit reached
			base: map[string]string{"amount": `"1"`}, fields: []string{"amount", "currency", "description"}, accepted: never},
		{method: http.MethodPost, path: "/api/v1/balance/withdraw", // daily limit reached, no cash
			base: map[string]string{"amount": `"1"`}, fields: []string{"amount", "currency", "description"}, accepted: never},
		{method: http.MethodPost, path: "/api/v1/orders", // no cash
			base: map[string]string{"order_type": `"market_buy"`, "asset_id": `"` + buyAsset + `"`, "quantity": `"1"`},
			fields: []string{"order_type", "asset_id", "quantity", "price", "limit_price", "stop_price", "trail_percent", "trail_amount",
				"time_in_force", "expires_at", "client_order_id", "currency", "oco_with"},
			accepted: never},
		{method: http.MethodPost, path: "/api/v1/orders", // holds 0.5
			base:   map[string]string{"order_type": `"market_sell"`, "asset_id": `"` + sellAsset + `"`, "quantity": `"1"`},
			fields: []string{"order_type", "quantity", "price", "client_order_id", "time_in_force"}, accepted: never},
		{method: http.MethodPut, path: "/api/v1/auth/profile", profile: true,
			base:   map[string]string{"first_name": `"Test"`},
			fields: []string{"first_name", "last_name", "email", "phone", "date_of_birth", "marketing_emails_consent"},
			accepted: func(f, v string) bool {
				switch {
				case v == `null`: // not given
					return true
				case f == "phone" && v == `""`: // clears the phone
					return true
				case f == "marketing_emails_consent" && v == `true`:
					return true
				case (f == "first_name" || f == "last_name") && (v == `"NaN"` || v == `"Infinity"` || v == `"-Infinity"`):
					return true // letters and '-': valid names
				}
				return false
			}},
		{method: http.MethodPost, path: "/api/v1/auth/register", // duplicate username and email
			base: map[string]string{"username": `"` + u.name + `"`, "email": `"` + u.email + `"`, "password": `"` + userPassword + `"`,
				"first_name": `"A"`, "last_name": `"B"`},
			fields:   []string{"username", "email", "password", "first_name", "last_name", "phone", "date_of_birth", "marketing_emails_consent"},
			accepted: never},
		{method: http.MethodPost, path: "/api/v1/auth/login", // wrong password
			base: map[string]string{"username": `"` + u.name + `"`, "password": `"Wr0ng!Password"`}, fields: []string{"username", "password"}, accepted: never},
		{method: http.MethodPost, path: "/api/v1/admin/assets", admin: true, // duplicate id
			base: map[string]string{"asset_id": `"` + buyAsset + `"`, "name": `"Dup"`, "price_usd": `"1"`},
			fields: []string{"name", "price_usd", "description", "category", "image", "symbol", "market_cap_rank", "market_cap",
				"is_active", "ath_date", "max_supply"},
			accepted: never},
		{method: http.MethodPut, path: "/api/v1/admin/assets/NOSUCH1", admin: true, // unknown asset
			base:   map[string]string{"name": `"x"`},
			fields: []string{"name", "price_usd", "is_active", "market_cap_rank", "category", "image", "atl_date"}, accepted: never},
		{method: http.MethodPut, path: "/api/v1/admin/assets/NOSUCH1/price", admin: true,
			base: map[string]string{"price_usd": `"1"`}, fields: []string{"price_usd"}, accepted: never},
	}

	for _, rt := range routes {
		tok := u.token
		if rt.admin {
			tok = e.admin
		}
		t.Run(rt.method+" "+rt.path+" "+rt.base["order_type"], func(t *testing.T) {
			before := e.snapshot(t, u, !rt.profile)
			if base := e.do(t, rt.method, rt.path, tok, raw(rawObject(rt.base))); !rt.profile {
				wantErrorBody(t, base)
			} else {
				base.want(t, http.StatusOK)
			}
			for name, body := range badBodies {
				r := e.do(t, rt.method, rt.path, tok, raw(body))
				if rt.profile && r.Status == http.StatusOK && strings.HasPrefix(body, "{") {
					continue // only unknown fields: an empty update
				}
				if r.Status >= 500 || r.Status < 400 {
					t.Errorf("body %s: status %d: %.200s", name, r.Status, r.Body)
					continue
				}
				wantErrorBody(t, r)
			}
			for _, f := range rt.fields {
				for vname, v := range badValues {
					fields := map[string]string{}
					for k, bv := range rt.base {
						fields[k] = bv
					}
					fields[f] = v
					r := e.do(t, rt.method, rt.path, tok, raw(rawObject(fields)))
					switch {
					case r.Status >= 500:
						t.Errorf("%s=%s: status %d: %.200s", f, vname, r.Status, r.Body)
					case r.Status < 400 && !rt.accepted(f, v):
						t.Errorf("%s=%s: status %d accepted: %.200s", f, vname, r.Status, r.Body)
					case r.Status >= 400:
						wantErrorBody(t, r)
					}
				}
			}
			if after := e.snapshot(t, u, !rt.profile); after != before {
				t.Errorf("state changed: %s", firstDiff(before, after))
			}
		})
	}
	e.wantBalance(t, u, "0.00")
	e.verifyOK(t)
}

// TestBadInputNoStateChange checks exact 422s and that nothing changes, for
// the money routes, one request at a time.
func TestBadInputNoStateChange(t *testing.T) {
	e := sharedEnv(t)
	u := e.newUser(t)
	a := e.newAsset(t, "10")
	e.deposit(t, u, "500")
	e.order(t, u, map[string]any{"order_type": "market_buy", "asset_id": a, "quantity": "3"}).want(t, http.StatusCreated)

	type tc struct {
		name, method, path, body string
		status                   int
		code                     string
	}
	cases := []tc{}
	for _, p := range []string{"/api/v1/balance/deposit", "/api/v1/balance/withdraw"} {
		for _, c := range []struct{ name, body string }{
			{"malformed", `{"amount":`}, {"array", `[{"amount":"1"}]`}, {"string amount words", `{"amount":"ten"}`},
			{"bool", `{"amount":true}`}, {"1e400", `{"amount":1e400}`}, {"NaN", `{"amount":"NaN"}`}, {"Infinity", `{"amount":"Infinity"}`},
			{"negative", `{"amount":-10}`}, {"three decimals", `{"amount":10.001}`}, {"null", `{"amount":null}`},
			{"object", `{"amount":{"value":1}}`}, {"huge description", `{"amount":"1","description":"` + huge + `"}`},
			{"unknown currency", `{"amount":"1","currency":"DOGE"}`}, {"currency number", `{"amount":"1","currency":840}`},
			{"empty", ``}, {"null body", `null`}, {"over limit", `{"amount":"1000000.01"}`},
		} {
			cases = append(cases, tc{p + " " + c.name, http.MethodPost, p, c.body, 422, "invalid"})
		}
	}
	for _, c := range []struct{ name, body string }{
		{"malformed", `{"order_type":"market_buy",`},
		{"unknown type", `{"order_type":"market_fly","asset_id":"` + a + `","quantity":"1"}`},
		{"quantity NaN", `{"order_type":"market_buy","asset_id":"` + a + `","quantity":"NaN"}`},
		{"quantity 1e400", `{"order_type":"market_buy","asset_id":"` + a + `","quantity":1e400}`},
		{"quantity negative", `{"order_type":"market_buy","asset_id":"` + a + `","quantity":-1}`},
		{"quantity too small", `{"order_type":"market_buy","asset_id":"` + a + `","quantity":"0.0001"}`},
		{"quantity 9 decimals", `{"order_type":"market_buy","asset_id":"` + a + `","quantity":"1.123456789"}`},
		{"quantity null", `{"order_type":"market_buy","asset_id":"` + a + `","quantity":null}`},
		{"quantity missing", `{"order_type":"market_buy","asset_id":"` + a + `"}`},
		{"price zero", `{"order_type":"market_buy","asset_id":"` + a + `","quantity":"1","price":0}`},
		{"price too big", `{"order_type":"market_buy","asset_id":"` + a + `","quantity":"1","price":"1000000.01"}`},
		{"asset id long", `{"order_type":"market_buy","asset_id":"` + huge + `","quantity":"1"}`},
		{"asset id markup", `{"order_type":"market_buy","asset_id":"<b>","quantity":"1"}`},
		{"time in force", `{"order_type":"market_buy","asset_id":"` + a + `","quantity":"1","time_in_force":"forever"}`},
		{"array", `[]`},
		{"stop price on market", `{"order_type":"market_buy","asset_id":"` + a + `","quantity":"1","stop_price":"5"}`},
	} {
		cases = append(cases, tc{"orders " + c.name, http.MethodPost, "/api/v1/orders", c.body, 422, "invalid"})
	}
	cases = append(cases,
		tc{"sell more than held", http.MethodPost, "/api/v1/orders", `{"order_type":"market_sell","asset_id":"` + a + `","quantity":"3.00000001"}`, 422, "insufficient_funds"},
		tc{"buy unaffordable", http.MethodPost, "/api/v1/orders", `{"order_type":"market_buy","asset_id":"` + a + `","quantity":"47.001"}`, 422, "insufficient_funds"},
		tc{"withdraw more than available", http.MethodPost, "/api/v1/balance/withdraw", `{"amount":"470.01"}`, 422, "insufficient_funds"},
		tc{"logout array", http.MethodPost, "/api/v1/auth/logout", `[]`, 422, "invalid"},
		tc{"profile wrong type", http.MethodPut, "/api/v1/auth/profile", `{"marketing_emails_consent":"yes"}`, 422, "invalid"},
		tc{"profile malformed", http.MethodPut, "/api/v1/auth/profile", `{"first_name":`, 422, "invalid"},
	)

	before := e.snapshot(t, u, true)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(t, c.method, c.path, u.token, raw(c.body))
			r.serviceError(t, c.status, c.code)
			if after := e.snapshot(t, u, true); after != before {
				t.Fatalf("state changed")
			}
		})
	}
	e.wantBalance(t, u, "470.00")
	e.verifyOK(t)
}

func TestBadPathsAndQueries(t *testing.T) {
	e := sharedEnv(t)
	u := e.newUser(t)
	a := e.newAsset(t, "1")
	e.deposit(t, u, "100")
	for i := 0; i < 3; i++ {
		e.order(t, u, map[string]any{"order_type": "market_buy", "asset_id": a, "quantity": "1"}).want(t, http.StatusCreated)
	}
	var txs txPage
	e.do(t, http.MethodGet, "/api/v1/balance/transactions?limit=1", u.token, nil).want(t, http.StatusOK).into(t, &txs)
	var orders orderList
	e.do(t, http.MethodGet, "/api/v1/orders?limit=1", u.token, nil).want(t, http.StatusOK).into(t, &orders)
	if txs.NextCursor == nil || orders.NextCursor == nil {
		t.Fatal("expected cursors")
	}
	txCursor, orderCursor := *txs.NextCursor, *orders.NextCursor
	flip := func(s string) string {
		b := []byte(s)
		i := len(b) / 2
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	q := url.QueryEscape
	before := e.snapshot(t, u, true)
	for _, c := range []struct {
		path   string
		status int
		code   string
	}{
		{"/api/v1/orders/abc", 422, "invalid"},
		{"/api/v1/orders/" + strings.Repeat("9", 51), 422, "invalid"},
		{"/api/v1/orders/%3Cscript%3Ealert(1)%3C%2Fscript%3E", 422, "invalid"},
		// Dot segments are resolved before routing: this is /api/v1/admin.
		{"/api/v1/orders/..%2F..%2Fadmin", 404, "not_found"},
		{"/api/v1/orders/0000000000", 404, "not_found"},
		{"/api/v1/balance/asset/" + strings.Repeat("A", 11), 422, "invalid"},
		{"/api/v1/balance/asset/%00", 422, "invalid"},
		{"/api/v1/inventory/assets/%F0%9F%92%B0", 422, "invalid"},
		{"/api/v1/assets/%20/transactions", 422, "invalid"},
		{"/api/v1/balance/transactions?limit=abc", 422, "invalid"},
		{"/api/v1/balance/transactions?limit=1000", 422, "invalid"},
		{"/api/v1/balance/transactions?limit=0", 422, "invalid"},
		{"/api/v1/balance/transactions?limit=1.5", 422, "invalid"},
		{"/api/v1/balance/transactions?limit=99999999999999999999", 422, "invalid"},
		{"/api/v1/balance/transactions?offset=abc", 422, "invalid"},
		{"/api/v1/balance/transactions?offset=-1", 422, "invalid"},
		{"/api/v1/balance/transactions?cursor=garbage", 422, "invalid"},
		{"/api/v1/balance/transactions?cursor=" + q(flip(txCursor)), 422, "invalid"},
		{"/api/v1/balance/transactions?cursor=" + q(txCursor+"A"), 422, "invalid"},
		{"/api/v1/balance/transactions?cursor=" + q(strings.Repeat("A", 3000)), 422, "invalid"},
		{"/api/v1/balance/transactions?cursor=%ZZ", 422, "invalid"},
		{"/api/v1/balance/transactions?currency=" + q(huge), 422, "invalid"},
		{"/api/v1/orders?cursor=" + q(flip(orderCursor)), 422, "invalid"},
		{"/api/v1/orders?cursor=" + q(txCursor), 422, "invalid"},
		{"/api/v1/balance/transactions?cursor=" + q(orderCursor), 422, "invalid"},
		{"/api/v1/orders?limit=-1", 422, "invalid"},
		{"/api/v1/orders?limit=1e3", 422, "invalid"},
		{"/api/v1/orders?offset=100000", 422, "invalid"},
		{"/api/v1/inventory/assets?cursor=" + q(orderCursor), 422, "invalid"},
		{"/api/v1/inventory/assets?category=" + q(huge), 422, "invalid"},
		{"/api/v1/assets/" + a + "/transactions?limit=abc", 422, "invalid"},
		{"/api/v1/assets/" + a + "/transactions?cursor=" + q(txCursor), 422, "invalid"},
	} {
		r := e.do(t, http.MethodGet, c.path, u.token, nil)
		if r.Status != c.status {
			t.Errorf("GET %.120s: %d, want %d: %.200s", c.path, r.Status, c.status, r.Body)
			continue
		}
		r.serviceError(t, c.status, c.code)
	}
	if after := e.snapshot(t, u, true); after != before {
		t.Fatal("state changed")
	}

	// Another user's cursor never shows the first user's records.
	v := e.newUser(t)
	for _, path := range []string{"/api/v1/balance/transactions?cursor=" + q(txCursor), "/api/v1/orders?cursor=" + q(orderCursor)} {
		r := e.do(t, http.MethodGet, path, v.token, nil)
		if r.Status == http.StatusOK {
			if strings.Contains(string(r.Body), u.name) || strings.Contains(string(r.Body), a) || strings.Contains(string(r.Body), "order_payment") {
				t.Fatalf("%s leaks another user's records: %s", path, r.Body)
			}
			t.Errorf("%s: another user's cursor answered 200, want 422", path)
			continue
		}
		r.serviceError(t, http.StatusUnprocessableEntity, "invalid")
	}
	e.verifyOK(t)
}

// firstDiff shows where two snapshots start to differ.
func firstDiff(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo := max(i-150, 0)
	return fmt.Sprintf("at %d:\nbefore ...%.300s\nafter  ...%.300s", i, a[lo:], b[lo:])
}

// TestAmbiguousKeysRefused sends bodies that JSON readers disagree on: a key
// repeated in one object (encoding/json keeps the last value) and a key that
// matches a field only case-insensitively. Each is answered 400
// bad_request with nothing changed; an unknown key is still ignored.
func TestAmbiguousKeysRefused(t *testing.T) {
	e := sharedEnv(t)
	u := e.newUser(t)
	a := e.newAsset(t, "10")
	e.deposit(t, u, "100")

	dup := func(key string) string {
		return `{"detail":"invalid request body: duplicate key \"` + key + `\" in body","code":"bad_request"}`
	}
	folded := func(key, field, loc string) string {
		return `{"detail":"invalid request body: key \"` + key + `\" in ` + loc + ` differs from the field \"` + field +
			`\" only by case (keys are case-sensitive)","code":"bad_request"}`
	}
	cases := []struct{ name, path, body, want string }{
		{"deposit repeated amount", "/api/v1/balance/deposit", `{"amount":"10","amount":"9999"}`, dup("amount")},
		{"deposit amount in capitals", "/api/v1/balance/deposit", `{"AMOUNT":"10"}`, folded("AMOUNT", "amount", "body")},
		{"deposit amount and Amount", "/api/v1/balance/deposit", `{"amount":"10","Amount":"9999"}`, folded("Amount", "amount", "body")},
		{"deposit escaped repeat", "/api/v1/balance/deposit", `{"amount":"10","\u0061mount":"9999"}`, dup("amount")},
		{"withdraw repeated amount", "/api/v1/balance/withdraw", `{"amount":"99","amount":"1"}`, dup("amount")},
		{"order repeated quantity", "/api/v1/orders", `{"order_type":"market_buy","asset_id":"` + a + `","quantity":"1","quantity":"9"}`, dup("quantity")},
		{"order repeated order type", "/api/v1/orders", `{"order_type":"market_buy","asset_id":"` + a + `","quantity":"1","order_type":"limit_buy"}`, dup("order_type")},
		{"order quantity in capitals", "/api/v1/orders", `{"order_type":"market_buy","asset_id":"` + a + `","Quantity":"1"}`, folded("Quantity", "quantity", "body")},
		{"batch repeated key in an order", "/api/v1/orders/batch",
			`{"orders":[{"order_type":"market_buy","asset_id":"` + a + `","quantity":"1"},{"order_type":"market_buy","asset_id":"` + a + `","quantity":"1","quantity":"2"}]}`,
			`{"detail":"invalid request body: duplicate key \"quantity\" in body.orders.1","code":"bad_request"}`},
		{"batch key in capitals in an order", "/api/v1/orders/batch",
			`{"orders":[{"ORDER_TYPE":"market_buy","asset_id":"` + a + `","quantity":"1"}]}`, folded("ORDER_TYPE", "order_type", "body.orders.0")},
	}
	before := e.snapshot(t, u, true)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(t, http.MethodPost, c.path, u.token, raw(c.body))
			r.serviceError(t, http.StatusBadRequest, "bad_request")
			if got := strings.TrimSuffix(string(r.Body), "\n"); got != c.want {
				t.Fatalf("body %s\nwant %s", got, c.want)
			}
			if after := e.snapshot(t, u, true); after != before {
				t.Fatal("state changed")
			}
		})
	}
	e.wantBalance(t, u, "100.00")

	// Unknown keys are ignored, as they always are.
	e.do(t, http.MethodPost, "/api/v1/balance/deposit", u.token, raw(`{"amount":"10","memo":"x","memo2":{"a":1}}`)).
		want(t, http.StatusCreated)
	e.wantBalance(t, u, "110.00")
	e.verifyOK(t)
}
