package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"sync"
	"testing"
)

// fuzzState is the platform of FuzzOrderRequest: its own instance, so that
// verify only reads the fuzz user's records and each input stays cheap.
var fuzzState struct {
	once  sync.Once
	env   *env
	dir   string
	user  *user
	asset string
	err   error
}

func fuzzSetup(f *testing.F) (*env, *user, string) {
	f.Helper()
	fuzzState.once.Do(func() {
		fuzzState.dir, fuzzState.err = os.MkdirTemp("", "e2e-fuzz-")
		if fuzzState.err != nil {
			return
		}
		fuzzState.env, fuzzState.err = startEnv(baseConfig(fuzzState.dir))
	})
	if fuzzState.err != nil {
		f.Fatalf("fuzz platform: %v", fuzzState.err)
	}
	e := fuzzState.env
	if fuzzState.user == nil {
		fuzzState.user = e.newUser(f)
		fuzzState.asset = e.newAsset(f, "2.5")
		e.deposit(f, fuzzState.user, "5000")
	}
	return e, fuzzState.user, fuzzState.asset
}

func closeFuzzEnv() {
	if fuzzState.env != nil {
		fuzzState.env.close()
	}
	if fuzzState.dir != "" {
		_ = os.RemoveAll(fuzzState.dir)
	}
}

// FuzzOrderRequest posts arbitrary bodies to the order and deposit routes:
// never a 5xx, a JSON error body on every 4xx, and the ledger invariants
// hold after each input.
func FuzzOrderRequest(f *testing.F) {
	e, u, asset := fuzzSetup(f)
	seeds := []string{
		`{"order_type":"market_buy","asset_id":"` + asset + `","quantity":"1"}`,
		`{"order_type":"market_sell","asset_id":"` + asset + `","quantity":"0.5"}`,
		`{"order_type":"market_buy","asset_id":"` + asset + `","quantity":1e400}`,
		`{"order_type":"market_buy","asset_id":"` + asset + `","quantity":"NaN"}`,
		`{"order_type":"limit_buy","asset_id":"` + asset + `","quantity":"1","limit_price":"2"}`,
		`{"order_type":"market_buy","asset_id":"` + asset + `","quantity":"0.001","client_order_id":"c1"}`,
		`{"amount":"10.50"}`,
		`{"amount":-1}`,
		`{"amount":"Infinity","currency":"EUR"}`,
		`{"amount":1.005}`,
		`[]`,
		`{"amount":`,
		``,
		`null`,
		`{"order_type":null,"asset_id":["BTC"],"quantity":{}}`,
		`{"amount":"10","amount":"9999"}`,
		`{"AMOUNT":"10"}`,
		`{"order_type":"market_buy","asset_id":"` + asset + `","quantity":"1","quantity":"100"}`,
	}
	for i, s := range seeds {
		f.Add([]byte(s), uint8(i))
	}
	f.Fuzz(func(t *testing.T, body []byte, route uint8) {
		path := "/api/v1/orders"
		if route%2 == 1 {
			path = "/api/v1/balance/deposit"
		}
		var hdr map[string]string
		if route%5 == 0 {
			hdr = map[string]string{"Idempotency-Key": "fuzz-key"}
		}
		r := e.send(http.MethodPost, path, u.token, body, hdr)
		if r.err != nil {
			t.Fatalf("request: %v", r.err)
		}
		if r.Status >= 500 {
			t.Fatalf("%s %q: status %d: %s", path, body, r.Status, r.Body)
		}
		if r.Status >= 400 {
			var m map[string]any
			if err := json.Unmarshal(r.Body, &m); err != nil {
				t.Fatalf("%s %q: %d body is not JSON: %s", path, body, r.Status, r.Body)
			}
			if _, ok := m["code"].(string); !ok {
				t.Fatalf("%s %q: %d body without code: %s", path, body, r.Status, r.Body)
			}
			if _, ok := m["detail"]; !ok && r.Status != http.StatusRequestEntityTooLarge {
				t.Fatalf("%s %q: %d body without detail: %s", path, body, r.Status, r.Body)
			}
		}
		e.verifyOK(t)
	})
}
