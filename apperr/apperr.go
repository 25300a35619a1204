// Package apperr defines the one error type of the platform: an error with a
// machine-readable kind that the HTTP edge maps to a status code in one place.
//
// Every layer returns *Error values (or wraps them with fmt.Errorf("...: %w")).
// Internal details (store failures, stack traces) never reach a client: only
// the Message of an error whose kind is not Internal is shown.
package apperr

import (
	"errors"
	"fmt"
	"net/http"
)

// Kind classifies an error for callers and for the HTTP edge.
type Kind string

// The kinds (docs/api.md lists their HTTP status).
const (
	Invalid           Kind = "invalid"
	NotFound          Kind = "not_found"
	Conflict          Kind = "conflict"
	Unauthorized      Kind = "unauthorized"
	Forbidden         Kind = "forbidden"
	InsufficientFunds Kind = "insufficient_funds"
	RateLimited       Kind = "rate_limited"
	Unavailable       Kind = "unavailable"
	Internal          Kind = "internal"
	// TooLarge is a request whose body exceeds the size limit (HTTP 413).
	TooLarge Kind = "payload_too_large"
	// StoreUnavailable is a store that failed (a write to its disk failed)
	// and refuses every request until the process restarts (HTTP 503).
	StoreUnavailable Kind = "store_unavailable"
	// RateStale is an operation that needs an exchange rate older than the
	// platform allows (or none): the platform's fault, not the request's
	// (HTTP 503).
	RateStale Kind = "fx_rate_stale"
	// BadRequest is a request that cannot be read one way only, such as a
	// JSON body with a repeated key (HTTP 400).
	BadRequest Kind = "bad_request"
)

// FieldError describes one invalid request field (the 422 "detail" list).
type FieldError struct {
	Loc  []string `json:"loc"`
	Msg  string   `json:"msg"`
	Type string   `json:"type"`
}

// Error is the platform's error. Message is safe to show to a client unless
// Kind is Internal. Err, when set, is the cause (for logs and errors.Is).
type Error struct {
	Kind    Kind
	Message string
	Fields  []FieldError
	Err     error
}

func (e *Error) Error() string {
	switch {
	case e.Err != nil && e.Message != "":
		return e.Message + ": " + e.Err.Error()
	case e.Err != nil:
		return e.Err.Error()
	default:
		return e.Message
	}
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// New returns an error of kind k with a client-safe message.
func New(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an error of kind k with a message and a cause.
func Wrap(k Kind, err error, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...), Err: err}
}

// Field returns an Invalid error for one field, e.g. Field("amount", "must be > 0", "value_error").
func Field(field, msg, typ string) *Error {
	return &Error{Kind: Invalid, Message: field + ": " + msg,
		Fields: []FieldError{{Loc: []string{"body", field}, Msg: msg, Type: typ}}}
}

// KindOf returns the kind of the first *Error in err's chain, Internal when
// there is none, and "" for a nil error.
func KindOf(err error) Kind {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// Is reports whether err has kind k.
func Is(err error, k Kind) bool { return err != nil && KindOf(err) == k }

// MessageOf returns the client-safe message of err.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Kind != Internal {
		return e.Message
	}
	return "internal server error"
}

// FieldsOf returns the field errors carried by err, if any.
func FieldsOf(err error) []FieldError {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

// StatusClientClosedRequest (nginx's 499) is the status recorded, in logs
// and metrics, for a request whose client left before it was answered:
// nothing reaches the client, and the failure is not the server's.
const StatusClientClosedRequest = 499

// HTTPStatus maps a kind to its HTTP status code. This is the only place
// where kinds meet status codes.
func HTTPStatus(k Kind) int {
	switch k {
	case Invalid, InsufficientFunds:
		return http.StatusUnprocessableEntity
	case NotFound:
		return http.StatusNotFound
	case Conflict:
		return http.StatusConflict
	case Unauthorized:
		return http.StatusUnauthorized
	case Forbidden:
		return http.StatusForbidden
	case RateLimited:
		return http.StatusTooManyRequests
	case Unavailable, StoreUnavailable, RateStale:
		return http.StatusServiceUnavailable
	case TooLarge:
		return http.StatusRequestEntityTooLarge
	case BadRequest:
		return http.StatusBadRequest
	case "":
		return http.StatusOK
	default:
		return http.StatusInternalServerError
	}
}
