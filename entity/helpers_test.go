package entity

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/decimal"
)

// fields maps "loc joined by ." to the error type, for exact comparison.
func fields(err error) map[string]string {
	out := map[string]string{}
	for _, f := range apperr.FieldsOf(err) {
		out[strings.Join(f.Loc, ".")] = f.Type
	}
	return out
}

// wantFields asserts err is Invalid with exactly the given field errors
// (loc -> type); an empty want means err must be nil.
func wantFields(t *testing.T, err error, want map[string]string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("unexpected error: %v (fields %v)", err, fields(err))
		}
		return
	}
	if !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("error %v is not Invalid", err)
	}
	got := fields(err)
	if len(got) != len(want) {
		t.Fatalf("fields = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("fields = %v, want %v", got, want)
		}
	}
}

func dec(s string) *decimal.Decimal {
	d := decimal.MustParse(s)
	return &d
}

func str(s string) *string { return &s }

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var testNow = time.Date(2026, 11, 25, 21, 57, 29, 123456789, time.UTC)
