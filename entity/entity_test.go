package entity

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
)

func TestViolations(t *testing.T) {
	var v Violations
	if v.Err() != nil || v.Len() != 0 {
		t.Fatal("empty Violations has an error")
	}
	v.Body("username", "must be 6-30 characters", TypeValue)
	err := v.Err()
	if err.Error() != "username: must be 6-30 characters" {
		t.Errorf("message %q", err.Error())
	}
	v.Add("bad", TypeValue, "query", "limit")
	v.Merge(nil)
	v.Merge(apperr.Field("amount", "must be > 0", TypeValue))
	v.Merge(errors.New("boom"), "body", "x")
	err = v.Err()
	if v.Len() != 4 || apperr.MessageOf(err) != "username: must be 6-30 characters (and more)" {
		t.Errorf("Len %d message %q", v.Len(), apperr.MessageOf(err))
	}
	want := `[{"loc":["body","username"],"msg":"must be 6-30 characters","type":"value_error"},` +
		`{"loc":["query","limit"],"msg":"bad","type":"value_error"},` +
		`{"loc":["body","amount"],"msg":"must be \u003e 0","type":"value_error"},` +
		`{"loc":["body","x"],"msg":"internal server error","type":"value_error"}]`
	if got := mustJSON(t, apperr.FieldsOf(err)); got != want {
		t.Errorf("fields\n got %s\nwant %s", got, want)
	}
	var noLoc Violations
	noLoc.Add("whole body", TypeValue)
	if noLoc.Err().Error() != "whole body" {
		t.Errorf("no-loc message %q", noLoc.Err().Error())
	}
}

func TestContainsMarkup(t *testing.T) {
	tests := map[string]bool{
		"":                          false,
		"John":                      false,
		"O'Brien-Smith":             false,
		"a < b":                     false,
		"1<2":                       false,
		"<":                         false,
		"price<=5":                  false,
		"money=5":                   false,
		"one = two":                 false,
		"online=yes":                false,
		"x onmouseover\t= y":        true,
		"dragon=":                   false,
		"<script>alert(1)</script>": true,
		"<SCRIPT":                   true,
		"<b>":                       true,
		"x<img src=x>":              true,
		"</div>":                    true,
		"<!--":                      true,
		"<?php":                     true,
		"JavaScript:alert(1)":       true,
		"vbscript:x":                true,
		"data:text/html;base64,xx":  true,
		"x onerror=alert(1)":        true,
		"\"onload =x":               true,
		"ONCLICK=1":                 true,
		"on=":                       false,
		"on":                        false,
	}
	for in, want := range tests {
		if got := ContainsMarkup(in); got != want {
			t.Errorf("ContainsMarkup(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestHasControl(t *testing.T) {
	for in, want := range map[string]bool{"abc": false, "é ü": false, "a\nb": true, "a\x00": true,
		"\x7f": true, "\u0085": true, "\xff": true} {
		if got := hasControl(in); got != want {
			t.Errorf("hasControl(%q) = %v", in, got)
		}
	}
}

// TestParseLayout checks the fast reading of stored timestamps against
// time.Parse: the texts it reads, and those it leaves to time.Parse.
func TestParseLayout(t *testing.T) {
	for _, in := range []string{"2026-11-25T21:57:29.123456Z", "0000-01-01T00:00:00.000000Z", "9999-12-28T23:59:59.999999Z"} {
		got, ok := parseLayout(in)
		want, err := time.Parse(TimeLayout, in)
		if !ok || err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("parseLayout(%s) = %v, %v; time.Parse: %v, %v", in, got, ok, want, err)
		}
		if p, err := ParseTimeText(in); err != nil || !p.Equal(want) {
			t.Errorf("ParseTimeText(%s) = %v, %v", in, p, err)
		}
	}
	// Declined: other forms, impossible fields, and days past the 28th,
	// which time.Parse checks against the month.
	for _, in := range []string{"2026-11-25T21:57:29.12345Z", "2026-11-25T21:57:29.123456+", "2026-13-25T21:57:29.123456Z",
		"2026-11-25T24:57:29.123456Z", "2026-11-25T21:60:29.123456Z", "2026-11-25T21:57:60.123456Z", "2026-11-00T21:57:29.123456Z",
		"2026-02-29T21:57:29.123456Z", "2024-02-29T21:57:29.123456Z", "2026-1a-25T21:57:29.123456Z", "2026-11-25T21:57:29.12345aZ"} {
		if got, ok := parseLayout(in); ok {
			t.Errorf("parseLayout(%s) = %v, want declined", in, got)
		}
	}
	if p, err := ParseTimeText("2024-02-29T21:57:29.123456Z"); err != nil || p.Day() != 29 {
		t.Errorf("ParseTimeText(2024-02-29) = %v, %v", p, err)
	}
	if _, err := ParseTimeText("2026-02-29T21:57:29.123456Z"); err == nil {
		t.Error("ParseTimeText(2026-02-29) accepted")
	}
}

// FuzzParseLayout: whatever parseLayout reads, time.Parse reads the same.
func FuzzParseLayout(f *testing.F) {
	f.Add("2026-11-25T21:57:29.123456Z")
	f.Add("2026-11-25T21:57:29.12345Z")
	f.Fuzz(func(t *testing.T, in string) {
		got, ok := parseLayout(in)
		if !ok {
			return
		}
		want, err := time.Parse(TimeLayout, in)
		if err != nil || !got.Equal(want) {
			t.Fatalf("parseLayout(%q) = %v; time.Parse: %v, %v", in, got, want, err)
		}
	})
}

func TestTime(t *testing.T) {
	at := At(testNow.In(time.FixedZone("X", 3600)))
	if at.String() != "2026-11-25T21:57:29.123456Z" || at.Location() != time.UTC {
		t.Fatalf("At = %s", at)
	}
	if got := mustJSON(t, at); got != `"2026-11-25T21:57:29.123456Z"` {
		t.Errorf("Marshal = %s", got)
	}
	if got := mustJSON(t, At(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))); got != `"2026-01-02T03:04:05.000000Z"` {
		t.Errorf("Marshal whole second = %s", got)
	}
	if got := mustJSON(t, Time{}); got != "null" || (Time{}).String() != "" || !At(time.Time{}).IsZero() {
		t.Errorf("zero Time = %s", got)
	}
	for _, in := range []string{`"2026-11-25T21:57:29.123456Z"`, `"2026-11-25T22:57:29.123456789+01:00"`,
		`"2026-11-25T21:57:29.1234567Z"`} {
		var got Time
		if err := json.Unmarshal([]byte(in), &got); err != nil || !got.Equal(at.Time) {
			t.Errorf("Unmarshal(%s) = %v, %v", in, got, err)
		}
	}
	var z Time = at
	if err := json.Unmarshal([]byte("null"), &z); err != nil || !z.IsZero() {
		t.Errorf("Unmarshal(null) = %v, %v", z, err)
	}
	for _, in := range []string{`"2026-11-25"`, `"2026-11-25 21:57:29Z"`, `"yesterday"`, `123`, `"` + strings.Repeat("9", 50) + `"`} {
		var got Time
		if err := json.Unmarshal([]byte(in), &got); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("Unmarshal(%s) err = %v", in, err)
		}
	}
	if MustParseTime("2026-11-25T21:57:29.123456Z") != at {
		t.Error("MustParseTime differs")
	}
	if p := TimePtr(testNow); !p.Equal(at.Time) {
		t.Errorf("TimePtr = %v", p)
	}
	if (Time{}).JSONSchema()["format"] != "date-time" {
		t.Error("schema")
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("MustParseTime did not panic")
			}
		}()
		MustParseTime("x")
	}()
	// Text order is time order.
	a, b := At(testNow), At(testNow.Add(time.Microsecond))
	if !(a.String() < b.String()) {
		t.Error("texts do not sort in time order")
	}
}
