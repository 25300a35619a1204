// Package ids makes the platform's unique, time-ordered identifiers: ULIDs,
// 26 characters of Crockford base32 ([0-9A-HJKMNP-TV-Z]) whose first 10
// characters encode the creation time in milliseconds.
//
// Ids sort as strings in creation order: across calls of one Generator
// strictly (monotonic within a millisecond, and never backwards even if the
// clock steps back), across processes to the millisecond. An id matches the
// order-id pattern [A-Za-z0-9_-]{10,50}, so it serves as order id,
// transaction id and sort-key suffix alike.
package ids

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// Len is the length of every id.
const Len = ulid.EncodedSize

// Generator makes ids. It is safe for concurrent use.
type Generator struct {
	mu      sync.Mutex
	clock   func() time.Time
	entropy *ulid.MonotonicEntropy
	lastMS  uint64
}

// NewGenerator returns a Generator reading the time from clock and randomness
// from entropy. A nil clock means time.Now; a nil entropy means crypto/rand.
// Tests inject a fixed clock; entropy is for tests of the generator itself.
func NewGenerator(clock func() time.Time, entropy io.Reader) *Generator {
	if clock == nil {
		clock = time.Now
	}
	if entropy == nil {
		entropy = rand.Reader
	}
	return &Generator{clock: clock, entropy: ulid.Monotonic(entropy, 0)}
}

// New returns a new id, greater than every id this Generator returned before.
// Within one millisecond the random part is incremented (by a random amount);
// if the clock moves backwards the previous millisecond is reused. It panics
// only if the entropy source fails (crypto/rand does not).
func (g *Generator) New() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	ms := millis(g.clock())
	if ms < g.lastMS {
		ms = g.lastMS
	}
	for {
		id, err := ulid.New(ms, g.entropy)
		if errors.Is(err, ulid.ErrMonotonicOverflow) && ms < ulid.MaxTime() {
			// 2^80 ids in one millisecond are exhausted: borrow the next one.
			ms++
			continue
		}
		if err != nil {
			panic(fmt.Sprintf("ids: %v", err))
		}
		g.lastMS = ms
		return id.String()
	}
}

// millis returns t in Unix milliseconds, clamped to the ULID time range.
func millis(t time.Time) uint64 {
	ms := t.UnixMilli()
	if ms < 0 {
		return 0
	}
	return min(uint64(ms), ulid.MaxTime())
}

var defaultGenerator = NewGenerator(nil, nil)

// New returns a new id from the process-wide Generator (real clock, crypto/rand).
func New() string { return defaultGenerator.New() }

// Valid reports whether s is a well-formed id (26 characters of upper-case
// Crockford base32, within the ULID range).
func Valid(s string) bool {
	_, ok := parse(s)
	return ok
}

func parse(s string) (ulid.ULID, bool) {
	if len(s) != Len {
		return ulid.ULID{}, false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'a' && c <= 'z' {
			return ulid.ULID{}, false // the canonical form is upper-case
		}
	}
	id, err := ulid.ParseStrict(s)
	return id, err == nil
}

// Time returns the creation time (UTC, millisecond precision) of an id made by
// this package, and false when id is not a well-formed id.
func Time(id string) (time.Time, bool) {
	u, ok := parse(id)
	if !ok {
		return time.Time{}, false
	}
	return ulid.Time(u.Time()).UTC(), true
}

// MinAt returns the smallest id of t's millisecond: every id made at or after
// t sorts >= MinAt(t). For time-range queries over id-keyed items.
func MinAt(t time.Time) string {
	var id ulid.ULID
	_ = id.SetTime(millis(t)) // cannot fail: millis is within range
	return id.String()
}

// MaxAt returns the largest id of t's millisecond: every id made at or before
// t sorts <= MaxAt(t).
func MaxAt(t time.Time) string {
	var id ulid.ULID
	_ = id.SetTime(millis(t))
	e := make([]byte, 10)
	for i := range e {
		e[i] = 0xFF
	}
	_ = id.SetEntropy(e)
	return id.String()
}
