package handlerkit_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/services/handlerkit"
	"github.com/orderprocessor/orderprocessor/trading"
)

// TestIdempotency: a request without the header has no idempotent request;
// a key that is too long or not printable ASCII is invalid; otherwise the
// key is kept as given, the hash identifies method, path and normalised
// body, and the renderer writes what httpapi.WriteJSON writes.
func TestIdempotency(t *testing.T) {
	type body struct {
		Amount string `json:"amount"`
	}
	render := func(result any) any { return message{Message: result.(string)} }
	r := httptest.NewRequest("POST", "/api/v1/balance/deposit", nil)
	if ir, err := handlerkit.Idempotency(r, body{"1"}, 201, render); ir != nil || err != nil {
		t.Fatalf("no key: %+v, %v", ir, err)
	}
	for _, bad := range []string{strings.Repeat("k", handlerkit.MaxIdemKeyLen+1), "tab\tkey", "clé"} {
		r.Header.Set(handlerkit.IdempotencyHeader, bad)
		if _, err := handlerkit.Idempotency(r, body{"1"}, 201, render); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("key %q: %v, want invalid", bad, err)
		}
	}
	r.Header.Set(handlerkit.IdempotencyHeader, strings.Repeat("k", handlerkit.MaxIdemKeyLen))
	if _, err := handlerkit.Idempotency(r, body{"1"}, 201, render); err != nil {
		t.Fatalf("a key of the most characters: %v", err)
	}
	r.Header.Set(handlerkit.IdempotencyHeader, "dep-1")
	ir, err := handlerkit.Idempotency(r, body{"1.5"}, 201, render)
	if err != nil || ir == nil || ir.Key != "dep-1" ||
		ir.Hash != trading.HashRequest([]byte("POST"), []byte("/api/v1/balance/deposit"), []byte(`{"amount":"1.5"}`)) {
		t.Fatalf("idempotent request: %+v, %v", ir, err)
	}
	for _, other := range []struct {
		method, path string
		b            body
	}{{"PUT", "/api/v1/balance/deposit", body{"1.5"}}, {"POST", "/api/v1/balance/withdraw", body{"1.5"}}, {"POST", "/api/v1/balance/deposit", body{"2"}}} {
		r2 := httptest.NewRequest(other.method, other.path, nil)
		r2.Header.Set(handlerkit.IdempotencyHeader, "dep-1")
		if ir2, _ := handlerkit.Idempotency(r2, other.b, 201, render); ir2.Hash == ir.Hash {
			t.Errorf("%s %s %v hashes as the first request", other.method, other.path, other.b)
		}
	}
	status, b, err := ir.Render("done")
	if err != nil || status != 201 || string(b) != `{"message":"done"}`+"\n" {
		t.Fatalf("Render = %d %q %v", status, b, err)
	}
	if _, err := handlerkit.Idempotency(r, json.RawMessage("{"), 201, render); err == nil {
		t.Fatal("a body that does not encode gives no error")
	}
}
