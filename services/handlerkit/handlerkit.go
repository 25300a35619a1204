// Package handlerkit holds what every service handler needs beyond httpapi:
// the authenticated caller (WithCaller), Idempotency-Key handling, the
// results that are a body or a stored replay (Result), and the path
// parameters the services share (AssetID, OrderID).
package handlerkit

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/httpapi"
	"github.com/orderprocessor/orderprocessor/trading"
)

// IdempotencyHeader is the request header of idempotent retries.
const IdempotencyHeader = "Idempotency-Key"

// ReplayedHeader marks a response replayed from an earlier request.
const ReplayedHeader = "Idempotent-Replayed"

// MaxIdemKeyLen bounds an Idempotency-Key.
const MaxIdemKeyLen = 255

// IdempotencyDoc documents the header on mutating operations.
var IdempotencyDoc = httpapi.Header{Name: IdempotencyHeader,
	Description: "Makes retries safe: the same key with the same body returns the first response again and changes nothing; with another body, 409."}

// Caller returns the authenticated caller; an unauthorized error when the
// request carries none (the gateway normally answers before that).
func Caller(r *http.Request) (auth.Principal, error) {
	p, ok := auth.PrincipalFrom(r.Context())
	if !ok || p.Username == "" {
		return auth.Principal{}, apperr.New(apperr.Unauthorized, "not authenticated")
	}
	return p, nil
}

// Idempotency returns the idempotent request of r, which carries an
// Idempotency-Key header (nil without one): req, the decoded and
// normalised request, identifies it with r's method and path; render
// returns the response body of the operation's result, answered with
// status. The trading service's Idem scopes it by caller and operation.
func Idempotency(r *http.Request, req any, status int, render func(result any) any) (*trading.IdemRequest, error) {
	key := r.Header.Get(IdempotencyHeader)
	if key == "" {
		return nil, nil
	}
	if len(key) > MaxIdemKeyLen || !printable(key) {
		return nil, apperr.New(apperr.Invalid, "Idempotency-Key must be 1-%d printable ASCII characters", MaxIdemKeyLen)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	return &trading.IdemRequest{
		Key:  key,
		Hash: trading.HashRequest([]byte(r.Method), []byte(r.URL.Path), body),
		Render: func(result any) (int, []byte, error) {
			b, err := json.Marshal(render(result))
			// The same bytes as httpapi.WriteJSON writes (it ends with a newline).
			return status, append(b, '\n'), err
		},
	}, nil
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// WriteReplay writes a stored response.
func WriteReplay(w http.ResponseWriter, rep *trading.Replay) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(rep.Body)))
	h.Set(ReplayedHeader, "true")
	w.WriteHeader(rep.Status)
	_, _ = w.Write(rep.Body)
}
