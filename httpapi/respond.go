package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"

	"github.com/orderprocessor/orderprocessor/apperr"
)

// RequestIDHeader carries the request id set by the gateway (docs/api.md).
const RequestIDHeader = "X-Request-ID"

// encPool holds response buffers. They start at 4 KiB: an AppendJSON
// grows its buffer to an upper bound of what it writes before writing (an
// order: ~1 KiB), so a buffer sized to the last response would be regrown,
// and copied, on every use.
var encPool = sync.Pool{New: func() any { return bytes.NewBuffer(make([]byte, 0, 4<<10)) }}

// Fixed bodies, encoded once.
var (
	bodyInternal         = []byte(`{"detail":"internal server error","code":"internal"}` + "\n")
	bodyNotFound         = []byte(`{"detail":"Not Found","code":"not_found"}` + "\n")
	bodyMethodNotAllowed = []byte(`{"detail":"Method Not Allowed","code":"method_not_allowed"}` + "\n")
)

// JSONAppender is a value that encodes itself as JSON without reflection.
// AppendJSON appends the value's JSON to dst and returns the extended slice;
// its output must be exactly what json.Encoder with SetEscapeHTML(false)
// writes for the value, without the trailing newline. On error it returns
// the error (the returned slice is then ignored). WriteJSON calls it on any
// value that has it, nil pointers included.
type JSONAppender interface {
	AppendJSON(dst []byte) ([]byte, error)
}

// WriteJSON writes v as a JSON response with the given status code and
// Content-Type application/json: v's AppendJSON output when v is a
// JSONAppender, otherwise encoding/json's encoding without HTML escaping;
// either way followed by a newline, like json.Encoder.Encode. Statuses
// without a body (204, 304, 1xx) write no body. If v cannot be encoded (a
// programming error), the error is logged and a 500 internal error is
// written instead.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	if !bodyAllowed(status) {
		w.WriteHeader(status)
		return
	}
	buf := encPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 1<<20 {
			encPool.Put(buf)
		}
	}()
	if err := encodeJSON(buf, v); err != nil {
		slog.Error("httpapi: encode response", "err", err, "status", status)
		writeRaw(w, http.StatusInternalServerError, bodyInternal)
		return
	}
	writeRaw(w, status, buf.Bytes())
}

// encodeJSON writes v's JSON and a newline to buf (empty).
func encodeJSON(buf *bytes.Buffer, v any) error {
	if a, ok := v.(JSONAppender); ok {
		b, err := a.AppendJSON(buf.AvailableBuffer())
		if err != nil {
			return fmt.Errorf("append %T: %w", v, err)
		}
		buf.Write(append(b, '\n'))
		return nil
	}
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false) // JSON, not HTML: "must be > 0" stays readable
	return enc.Encode(v)
}

func bodyAllowed(status int) bool {
	return !(status >= 100 && status < 200) && status != http.StatusNoContent && status != http.StatusNotModified
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body) // a failed write means the client left; nothing to do
}

// ErrorBody is the shape of every error a service answers (docs/api.md):
// Detail is a string, or for field validation a []apperr.FieldError.
type ErrorBody struct {
	Detail any    `json:"detail"`
	Code   string `json:"code"`
}

// WriteError answers err with its status code (apperr.HTTPStatus of
// apperr.KindOf(err)) and body:
//   - kind Invalid with field errors: 422 {"detail":[{"loc","msg","type"}...],"code":"invalid"};
//   - kinds whose status is 500 (Internal, unknown kinds, errors that are not
//     *apperr.Error): logged with slog (with the X-Request-ID of r) and
//     answered 500 {"detail":"internal server error","code":"internal"};
//   - any other kind: {"detail":"<apperr.MessageOf(err)>","code":"<kind>"}.
//
// Unauthorized answers also carry "WWW-Authenticate: Bearer", and every
// answer the headers WithHeader attached to err. A nil err is a
// programming error and is answered like an internal error. r may be nil.
//
// An error caused by the client leaving (r's context canceled, and err
// wrapping context.Canceled) is not the server's: it is recorded as
// apperr.StatusClientClosedRequest, with no body and no error logged.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	setErrorHeaders(w, err)
	switch status, body := ErrorAnswer(r, err); status {
	case apperr.StatusClientClosedRequest:
		w.WriteHeader(status)
	case http.StatusInternalServerError:
		writeRaw(w, status, bodyInternal) // encoded once
	default:
		if body.Code == string(apperr.Unauthorized) {
			w.Header().Set("WWW-Authenticate", "Bearer")
		}
		WriteJSON(w, status, body)
	}
}

// ErrorAnswer returns the status and body WriteError answers err with, and
// logs err when WriteError would (an internal error). The body is nil for
// apperr.StatusClientClosedRequest. It is for answers that carry several
// errors, such as the results of a batch.
func ErrorAnswer(r *http.Request, err error) (int, *ErrorBody) {
	kind := apperr.KindOf(err)
	status := apperr.HTTPStatus(kind)
	if status == http.StatusInternalServerError && r != nil && r.Context().Err() == context.Canceled && errors.Is(err, context.Canceled) {
		return apperr.StatusClientClosedRequest, nil
	}
	if err == nil || status == http.StatusInternalServerError || status < 400 {
		logInternal(r, err)
		return http.StatusInternalServerError, &ErrorBody{Detail: "internal server error", Code: string(apperr.Internal)}
	}
	body := &ErrorBody{Detail: apperr.MessageOf(err), Code: string(kind)}
	if fields := apperr.FieldsOf(err); kind == apperr.Invalid && len(fields) > 0 {
		body.Detail = fields
	}
	return status, body
}

func logInternal(r *http.Request, err error) {
	if r == nil {
		slog.Error("internal error", "err", err)
		return
	}
	slog.ErrorContext(r.Context(), "internal error", "err", err,
		"request_id", r.Header.Get(RequestIDHeader), "method", r.Method, "path", r.URL.Path)
}

// writeNotFound answers 404 {"detail":"Not Found","code":"not_found"}.
func writeNotFound(w http.ResponseWriter) { writeRaw(w, http.StatusNotFound, bodyNotFound) }
