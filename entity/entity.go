// Package entity holds the platform's domain types, enums, validation rules
// and the order status machine. It knows nothing of HTTP or storage: DAOs map
// these types to items, services map them to responses.
//
// # Validation
//
// Request types (UserCreate, OrderCreate, DepositRequest...) have a Validate
// method that normalises the request in place (lower-cases usernames,
// upper-cases asset ids, fills defaults) and returns nil or one
// *apperr.Error of kind apperr.Invalid listing every violated field rule as
// apperr.FieldError{Loc: ["body", "<json field>"], Msg, Type}. Type is one of
// TypeMissing, TypeValue, TypeEnum.
//
// # Money
//
// Amounts, prices and quantities are decimal.Decimal (exact). Domain structs
// marshal them as JSON strings in canonical form; the response types
// (BalanceResponse, OrderResponse...) format money with the currency's scale
// ("1000.00") and the inventory types write market data as JSON numbers.
//
// # Times
//
// Timestamps are Time: UTC, microsecond precision, written as RFC 3339 with
// exactly six fraction digits ("2026-11-25T21:57:29.123456Z"), a form that
// sorts as text in time order.
package entity

import (
	"strings"

	"github.com/orderprocessor/orderprocessor/apperr"
)

// Field error types (apperr.FieldError.Type).
const (
	TypeMissing = "missing"     // a required field is absent or empty
	TypeValue   = "value_error" // a field's value breaks a rule
	TypeEnum    = "enum"        // a field is not one of the allowed values
)

// Violations collects field errors; its zero value is ready to use.
type Violations struct {
	fields []apperr.FieldError
}

// Add records a violation at loc (e.g. "body", "username").
func (v *Violations) Add(msg, typ string, loc ...string) {
	v.fields = append(v.fields, apperr.FieldError{Loc: loc, Msg: msg, Type: typ})
}

// Body records a violation of the request body field name.
func (v *Violations) Body(field, msg, typ string) { v.Add(msg, typ, "body", field) }

// Merge appends the field errors of err (an *apperr.Error of kind Invalid);
// other errors are recorded as a value error at loc.
func (v *Violations) Merge(err error, loc ...string) {
	if err == nil {
		return
	}
	if fs := apperr.FieldsOf(err); len(fs) > 0 {
		v.fields = append(v.fields, fs...)
		return
	}
	v.Add(apperr.MessageOf(err), TypeValue, loc...)
}

// Len returns the number of violations recorded.
func (v *Violations) Len() int { return len(v.fields) }

// Err returns nil when nothing was recorded, else an *apperr.Error of kind
// Invalid carrying every violation; its Message names the first one
// ("username: must be 6-30 characters").
func (v *Violations) Err() error {
	if len(v.fields) == 0 {
		return nil
	}
	first := v.fields[0]
	name := ""
	if n := len(first.Loc); n > 0 {
		name = first.Loc[n-1] + ": "
	}
	msg := name + first.Msg
	if len(v.fields) > 1 {
		msg += " (and more)"
	}
	return &apperr.Error{Kind: apperr.Invalid, Message: msg, Fields: append([]apperr.FieldError(nil), v.fields...)}
}

// ContainsMarkup reports whether s looks like HTML or script injection: '<'
// followed by a letter, '/', '!' or '?', a javascript:/vbscript:/data:text/html
// URL, or an inline event handler such as onerror= or onload=.
func ContainsMarkup(s string) bool {
	l := strings.ToLower(s)
	for i := 0; i+1 < len(l); i++ {
		if l[i] == '<' {
			c := l[i+1]
			if c >= 'a' && c <= 'z' || c == '/' || c == '!' || c == '?' {
				return true
			}
		}
	}
	for _, bad := range []string{"javascript:", "vbscript:", "data:text/html", "<script"} {
		if strings.Contains(l, bad) {
			return true
		}
	}
	// An inline event handler: on<event> then optional blanks and '=', the
	// name not preceded by a letter.
	for i := 0; i+2 < len(l); i++ {
		if l[i] != 'o' || l[i+1] != 'n' || (i > 0 && isLower(l[i-1])) {
			continue
		}
		j := i + 2
		for j < len(l) && isLower(l[j]) {
			j++
		}
		if !eventHandlers[l[i+2:j]] {
			continue
		}
		for j < len(l) && (l[j] == ' ' || l[j] == '\t') {
			j++
		}
		if j < len(l) && l[j] == '=' {
			return true
		}
	}
	return false
}

// eventHandlers are DOM event names (without "on") that ContainsMarkup
// recognises in on<event>= attributes.
var eventHandlers = func() map[string]bool {
	m := map[string]bool{}
	for _, e := range strings.Fields(`error load unload click dblclick mousedown mouseup mouseover
		mouseout mousemove mouseenter mouseleave keydown keyup keypress focus blur focusin focusout
		change input submit reset select scroll resize wheel drag dragstart dragend dragover drop
		copy cut paste contextmenu toggle begin end animationstart animationend transitionend
		pointerover pointerdown pointerup pointerenter message hashchange popstate pageshow
		beforeunload auxclick play pause ended canplay loadstart search show invalid`) {
		m[e] = true
	}
	return m
}()

func isLower(c byte) bool { return c >= 'a' && c <= 'z' }

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// hasControl reports whether s contains a control character or invalid UTF-8.
func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xFFFD || (r >= 0x80 && r < 0xa0) {
			return true
		}
	}
	return false
}

func conflictf(format string, args ...any) error { return apperr.New(apperr.Conflict, format, args...) }
