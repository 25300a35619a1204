package order_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/services/order"
)

// TestAmendOrder: GET gives an order's version as ETag; PATCH with that
// version as If-Match amends the order, moves its hold by the difference
// and answers the new ETag; a stale version is 409, a malformed If-Match or
// one that contradicts expected_version 422; a retry with the same
// Idempotency-Key replays the answer without an ETag.
func TestAmendOrder(t *testing.T) {
	e, tok, _ := newEnv(t)
	o := place(t, e, tok, `{"order_type":"limit_buy","asset_id":"BTC","quantity":"2","limit_price":"50"}`)
	if o.HeldAmount != "100.10" {
		t.Fatalf("resting order: %+v", o)
	}
	path := ordersP + "/" + o.OrderID
	got := e.Do("GET", path, tok, "")
	got.Want(t, http.StatusOK, nil)
	tag := got.Header.Get(order.ETagHeader)
	v, err := strconv.ParseInt(strings.Trim(tag, `"`), 10, 64)
	if err != nil {
		t.Fatalf("ETag %q", tag)
	}

	var amended order.OrderEnvelope
	r := e.Do("PATCH", path, tok, `{"quantity":"3"}`, order.IfMatchHeader, tag, idemHeader, "amend-1")
	r.Want(t, http.StatusOK, &amended)
	if amended.Data.Quantity != "3" || amended.Data.HeldAmount != "150.15" || amended.Data.Status != entity.StatusQueued {
		t.Fatalf("amended: %+v", amended.Data)
	}
	if want := `"` + strconv.FormatInt(v+1, 10) + `"`; r.Header.Get(order.ETagHeader) != want {
		t.Fatalf("ETag after the amendment %q, want %s", r.Header.Get(order.ETagHeader), want)
	}
	b, err := e.DAOs.Balances.Get(t.Context(), "alice_01", entity.USD)
	if err != nil || b.HeldBalance.String() != "150.15" {
		t.Fatalf("balance after the amendment: %+v, %v", b, err)
	}

	// The same key again: the stored answer, without an ETag.
	replay := e.Do("PATCH", path, tok, `{"quantity":"3"}`, order.IfMatchHeader, tag, idemHeader, "amend-1")
	var again order.OrderEnvelope
	replay.Want(t, http.StatusOK, &again)
	if replay.Header.Get("Idempotent-Replayed") != "true" || replay.Header.Get(order.ETagHeader) != "" || again.Data.HeldAmount != "150.15" {
		t.Fatalf("replay: %v %+v", replay.Header, again.Data)
	}

	// The version it was amended from is stale now.
	e.Do("PATCH", path, tok, `{"quantity":"4"}`, order.IfMatchHeader, tag).WantError(t, http.StatusConflict, "conflict", "")
	e.Do("PATCH", path, tok, `{"quantity":"4"}`, order.IfMatchHeader, "three").WantField(t, "header.If-Match")
	e.Do("PATCH", path, tok, `{"quantity":"4","expected_version":1}`, order.IfMatchHeader, `"7"`).WantField(t, "body.expected_version")
	e.Do("PATCH", path, tok, `{"quantity":"0"}`).WantField(t, "body.quantity")
	other := e.User("bobby_01", entity.RoleCustomer)
	e.Do("PATCH", path, other, `{"quantity":"4"}`).WantError(t, http.StatusNotFound, "not_found", "order not found")
	if b, _ := e.DAOs.Balances.Get(t.Context(), "alice_01", entity.USD); b.HeldBalance.String() != "150.15" {
		t.Fatalf("a refused amendment moved the hold: %s", b.HeldBalance)
	}
}

// TestReverseOrder: an admin reverses an executed buy once (201 with the
// refund entry, the payment back to the cent, the holding gone); a second
// reversal is 409, a customer 403, a bad body 422.
func TestReverseOrder(t *testing.T) {
	e, tok, _ := newEnv(t)
	admin := e.User("admin_01", entity.RoleAdmin)
	o := place(t, e, tok, `{"order_type":"market_buy","asset_id":"BTC","quantity":"1.5"}`) // 150.15 with the fee
	path := "/api/v1/admin/orders/" + o.OrderID + "/reverse"
	body := `{"username":"alice_01","reason":"executed at a wrong price"}`

	e.Do("POST", path, tok, body).WantError(t, http.StatusForbidden, "forbidden", "admin role required")
	e.Do("POST", path, admin, `{"username":"alice_01"}`).WantField(t, "body.reason")

	var rev order.ReversalResponse
	e.Do("POST", path, admin, body, idemHeader, "rev-1").Want(t, http.StatusCreated, &rev)
	f := rev.Refund
	if f.TransactionType != entity.TxOrderRefund || f.Amount != "150.15" || f.AssetID != "BTC" || f.Quantity != "1.5" ||
		f.Price != "100.00" || f.ReferenceID != o.OrderID || f.Reason != "executed at a wrong price" || f.CreatedBy != "admin_01" {
		t.Fatalf("refund: %+v", f)
	}
	if rev.Order.OrderID != o.OrderID || rev.Order.Status != entity.StatusCompleted {
		t.Fatalf("reversed order: %+v", rev.Order)
	}
	b, err := e.DAOs.Balances.Get(t.Context(), "alice_01", entity.USD)
	if err != nil || b.CurrentBalance.String() != "10000" {
		t.Fatalf("balance after the reversal: %+v, %v", b, err)
	}
	h, err := e.DAOs.Holdings.Get(t.Context(), "alice_01", "BTC")
	if err != nil || !h.Quantity.IsZero() {
		t.Fatalf("holding after the reversal: %+v, %v", h, err)
	}

	// The same key replays; another key finds it reversed.
	replay := e.Do("POST", path, admin, body, idemHeader, "rev-1")
	var again order.ReversalResponse
	replay.Want(t, http.StatusCreated, &again)
	if replay.Header.Get("Idempotent-Replayed") != "true" || again.Refund.TransactionID != f.TransactionID {
		t.Fatalf("replay: %v %+v", replay.Header, again.Refund)
	}
	e.Do("POST", path, admin, body, idemHeader, "rev-2").WantError(t, http.StatusConflict, "conflict", "")
}
