// Package page encodes and decodes opaque pagination cursors.
//
// A cursor is base64url(payload || tag) where tag is the first 8 bytes of
// HMAC-SHA256(key, payload). Clients cannot read or forge a cursor; a changed
// byte makes Decode fail with an apperr.Invalid error. Engines still check that a
// decoded cursor belongs to the query it is used with (same partition), so a
// cursor can at worst move a caller within its own results.
package page

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"

	"github.com/orderprocessor/orderprocessor/apperr"
)

const (
	tagLen = 8
	// MaxCursorLen bounds the text of a cursor accepted from a client.
	MaxCursorLen = 2048
)

// defaultKey authenticates cursors. Cursors must stay valid across restarts
// and replicas, so the key is fixed; it guards integrity, not secrecy.
var defaultKey = []byte("orderprocessor/page/cursor/v1")

func tag(payload []byte) []byte {
	m := hmac.New(sha256.New, defaultKey)
	m.Write(payload)
	return m.Sum(nil)[:tagLen]
}

// Encode returns the opaque cursor for payload. An empty payload gives "".
func Encode(payload []byte) string {
	if len(payload) == 0 {
		return ""
	}
	buf := make([]byte, 0, len(payload)+tagLen)
	buf = append(buf, payload...)
	buf = append(buf, tag(payload)...)
	return base64.RawURLEncoding.EncodeToString(buf)
}

// ErrInvalidCursor is returned (wrapped) for any cursor that was not made by Encode.
var ErrInvalidCursor = apperr.New(apperr.Invalid, "invalid cursor")

// Decode returns the payload of a cursor made by Encode. "" decodes to nil.
func Decode(cursor string) ([]byte, error) {
	if cursor == "" {
		return nil, nil
	}
	if len(cursor) > MaxCursorLen {
		return nil, ErrInvalidCursor
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	// Only the canonical encoding is accepted (the decoder would skip newlines
	// and ignore trailing bits), so one payload has exactly one cursor.
	if err != nil || len(raw) <= tagLen || base64.RawURLEncoding.EncodeToString(raw) != cursor {
		return nil, ErrInvalidCursor
	}
	payload, got := raw[:len(raw)-tagLen], raw[len(raw)-tagLen:]
	if !hmac.Equal(got, tag(payload)) {
		return nil, ErrInvalidCursor
	}
	return payload, nil
}

// Limit clamps a requested page size: def when n <= 0, max when n > max.
func Limit(n, def, max int) int {
	if n <= 0 {
		return def
	}
	if n > max {
		return max
	}
	return n
}
