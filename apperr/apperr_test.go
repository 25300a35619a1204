package apperr

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
)

func TestKindsMapToStatus(t *testing.T) {
	cases := map[Kind]int{
		Invalid: 422, InsufficientFunds: 422, NotFound: 404, Conflict: 409,
		Unauthorized: 401, Forbidden: 403, RateLimited: 429, Unavailable: 503, StoreUnavailable: 503, RateStale: 503,
		Internal: 500, TooLarge: 413, BadRequest: 400, "": 200, Kind("other"): 500,
	}
	for k, want := range cases {
		if got := HTTPStatus(k); got != want {
			t.Errorf("HTTPStatus(%q) = %d, want %d", k, got, want)
		}
	}
}

func TestKindThroughWrapping(t *testing.T) {
	base := New(NotFound, "order %s not found", "X1")
	wrapped := fmt.Errorf("get order: %w", base)
	if KindOf(wrapped) != NotFound || !Is(wrapped, NotFound) || Is(wrapped, Conflict) {
		t.Fatalf("KindOf(wrapped) = %q", KindOf(wrapped))
	}
	if MessageOf(wrapped) != "order X1 not found" {
		t.Fatalf("MessageOf = %q", MessageOf(wrapped))
	}
	if KindOf(nil) != "" || Is(nil, Internal) {
		t.Fatal("nil error has a kind")
	}
	plain := errors.New("disk on fire")
	if KindOf(plain) != Internal || MessageOf(plain) != "internal server error" {
		t.Fatalf("plain error: %q %q", KindOf(plain), MessageOf(plain))
	}
	internal := Wrap(Internal, plain, "store failed")
	if MessageOf(internal) != "internal server error" {
		t.Fatalf("internal message leaked: %q", MessageOf(internal))
	}
	if internal.Error() != "store failed: disk on fire" || !errors.Is(internal, plain) {
		t.Fatalf("Wrap: %q", internal.Error())
	}
	if (&Error{Err: plain}).Error() != "disk on fire" || New(Conflict, "c").Error() != "c" {
		t.Fatal("Error() text")
	}
}

func TestFieldErrors(t *testing.T) {
	err := fmt.Errorf("decode: %w", Field("amount", "must be > 0", "value_error"))
	if KindOf(err) != Invalid || HTTPStatus(KindOf(err)) != http.StatusUnprocessableEntity {
		t.Fatalf("kind %q", KindOf(err))
	}
	f := FieldsOf(err)
	if len(f) != 1 || f[0].Loc[0] != "body" || f[0].Loc[1] != "amount" || f[0].Msg != "must be > 0" || f[0].Type != "value_error" {
		t.Fatalf("fields = %+v", f)
	}
	if FieldsOf(errors.New("x")) != nil {
		t.Fatal("fields of a plain error")
	}
}
