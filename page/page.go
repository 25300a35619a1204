// Package page encodes and decodes opaque pagination cursors, and reads
// one page of a list (Read: offset, limit and cursor; whether more
// follows, and the next page's cursor).
//
// A cursor is base64url(payload || tag) where tag is the first 8 bytes of
// HMAC-SHA256(key, payload), under the key of a Codec. Clients cannot read
// or forge a cursor; a changed byte, or a cursor made under another key,
// makes Decode fail with an apperr.Invalid error. Engines still check that
// a decoded cursor belongs to the query it is used with (same partition),
// so a cursor can at worst move a caller within its own results.
//
// The key is derived from the server's secret (KeyFromSecret of the JWT
// secret), so the cursors of one deployment stay valid across restarts and
// replicas that share the secret, and a cursor cannot be made by anyone who
// lacks it.
package page

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"

	"github.com/orderprocessor/orderprocessor/apperr"
)

const (
	tagLen = 8
	// KeyLen is the length of the keys KeyFromSecret derives.
	KeyLen = 32
	// MaxCursorLen bounds the text of a cursor accepted from a client.
	MaxCursorLen = 2048
	// keyLabel is HKDF's info: it binds the derived key to this use, so
	// that it differs from the secret and from any other key derived from it.
	keyLabel = "orderprocessor/page/cursor/v1"
)

// KeyFromSecret derives the cursor key from a server secret (the JWT
// signing secret) with HKDF-SHA256 under a label of its own: the secret
// is not used as is, and the key reveals nothing about it.
func KeyFromSecret(secret []byte) ([]byte, error) {
	key, err := hkdf.Key(sha256.New, secret, nil, keyLabel, KeyLen)
	if err != nil {
		return nil, fmt.Errorf("derive the cursor key: %w", err)
	}
	return key, nil
}

// processKey signs the cursors of a nil *Codec: random, so such cursors
// are valid in this process only.
var processKey = []byte(rand.Text() + rand.Text())

// Codec makes and checks cursors under one key. A nil *Codec uses a random
// key of the process. It is safe for concurrent use.
type Codec struct {
	key []byte
}

// NewCodec returns the codec with key (KeyFromSecret), or one with a random
// key when key is empty.
func NewCodec(key []byte) *Codec {
	if len(key) == 0 {
		key = []byte(rand.Text() + rand.Text())
	}
	return &Codec{key: append([]byte(nil), key...)}
}

func (c *Codec) tag(payload []byte) []byte {
	key := processKey
	if c != nil {
		key = c.key
	}
	m := hmac.New(sha256.New, key)
	m.Write(payload)
	return m.Sum(nil)[:tagLen]
}

// Encode returns the opaque cursor for payload. An empty payload gives "".
func (c *Codec) Encode(payload []byte) string {
	if len(payload) == 0 {
		return ""
	}
	buf := make([]byte, 0, len(payload)+tagLen)
	buf = append(buf, payload...)
	buf = append(buf, c.tag(payload)...)
	return base64.RawURLEncoding.EncodeToString(buf)
}

// ErrInvalidCursor is returned (wrapped) for any cursor that was not made by Encode.
var ErrInvalidCursor = apperr.New(apperr.Invalid, "invalid cursor")

// Decode returns the payload of a cursor made by Encode under the same
// key. "" decodes to nil.
func (c *Codec) Decode(cursor string) ([]byte, error) {
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
	if !hmac.Equal(got, c.tag(payload)) {
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
