package auth

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/orderprocessor/orderprocessor/apperr"
)

// Params are the argon2id cost parameters. Memory is in KiB.
type Params struct {
	MemoryKiB  uint32
	Iterations uint32
	Threads    uint8
	SaltLen    uint32
	KeyLen     uint32
}

// DefaultParams are OWASP's argon2id minimum (19 MiB, t=2, p=1): ~35 ms per
// hash on our machines, which makes login deliberately slow.
var DefaultParams = Params{MemoryKiB: 19456, Iterations: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Limits on the parameters accepted from a stored hash, so that a corrupted
// or hostile hash cannot make one verification consume unbounded resources.
const (
	maxMemoryKiB  = 1 << 20 // 1 GiB
	maxIterations = 64
	minSaltLen    = 8
	maxSaltLen    = 64
	minKeyLen     = 16
	maxKeyLen     = 128
)

// ErrMalformedHash is returned (wrapped) by VerifyPassword for a hash that is
// not an argon2id PHC string this package can verify. Its kind is Internal:
// a stored hash is never the client's fault.
var ErrMalformedHash = apperr.New(apperr.Internal, "malformed password hash")

// ErrBusy is returned (wrapped) by a limited Hasher when a computation
// waited HashLimit.Wait for room in the memory budget and got none. Its kind
// is Unavailable (503): the client may retry later.
var ErrBusy = apperr.New(apperr.Unavailable, "password hashing is busy; retry later")

// Defaults of HashLimit.
const (
	// DefaultHashMemory is the default memory budget: room for 13
	// computations with DefaultParams (19 MiB each), running or not yet
	// collected.
	DefaultHashMemory = 256 << 20
	// DefaultHashWait is how long a computation waits for room by default.
	DefaultHashWait = 2 * time.Second
)

// HashLimit bounds the memory that a Hasher's argon2id computations hold.
type HashLimit struct {
	// Memory is the budget in bytes. A computation needs its parameters'
	// memory (DefaultParams: 19 MiB), so Memory / need computations run at
	// once; one that needs more than Memory runs alone. The budget also
	// counts the memory of finished computations until the garbage
	// collector has reclaimed it: when that memory stands in the way, the
	// Hasher runs a collection (runtime.GC) instead of letting the heap
	// grow. 0 means no limit.
	Memory int64
	// Wait is how long a computation waits for room before it fails with
	// ErrBusy; DefaultHashWait when 0.
	Wait time.Duration
	// Concurrency bounds the computations running at once besides the
	// memory. 0: one fewer than GOMAXPROCS (at least one), read at each
	// computation: argon2id keeps a processor busy, so more computations
	// at once would only add memory, and this leaves a processor to the
	// other requests (health checks, orders) while logins flood in.
	Concurrency int
}

// Hasher hashes and verifies passwords with argon2id. The zero value is not
// usable; use NewHasher or NewLimitedHasher. A Hasher is safe for concurrent
// use.
type Hasher struct {
	p     Params
	dummy string       // a hash of a random password made with p, for DummyVerify
	lim   *memLimiter  // nil: no limit
	runs  atomic.Int64 // argon2id computations run
}

// NewHasher returns a Hasher that creates hashes with p and runs any number
// of computations at once. It returns an Invalid error when p is outside the
// limits VerifyPassword accepts.
func NewHasher(p Params) (*Hasher, error) {
	return NewLimitedHasher(p, HashLimit{})
}

// NewLimitedHasher returns a Hasher that creates hashes with p and keeps
// the memory of its computations within l. It returns an Invalid error when
// p is outside the limits VerifyPassword accepts or l is negative.
func NewLimitedHasher(p Params, l HashLimit) (*Hasher, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	if l.Memory < 0 || l.Wait < 0 || l.Concurrency < 0 {
		return nil, apperr.New(apperr.Invalid, "password hash limit must not be negative")
	}
	h := &Hasher{p: p}
	var pw [16]byte
	_, _ = rand.Read(pw[:]) // crypto/rand.Read never fails (Go >= 1.24)
	d, err := h.HashPassword(context.Background(), base64.RawStdEncoding.EncodeToString(pw[:]))
	if err != nil {
		return nil, err
	}
	h.dummy = d
	if l.Memory > 0 {
		h.lim = newMemLimiter(max(l.Memory>>10, 1), cmp.Or(l.Wait, DefaultHashWait), l.Concurrency)
	}
	return h, nil
}

func (p Params) validate() error {
	switch {
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxMemoryKiB:
		return apperr.New(apperr.Invalid, "argon2id memory %d KiB out of range", p.MemoryKiB)
	case p.Iterations < 1 || p.Iterations > maxIterations:
		return apperr.New(apperr.Invalid, "argon2id iterations %d out of range", p.Iterations)
	case p.Threads < 1:
		return apperr.New(apperr.Invalid, "argon2id threads must be >= 1")
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return apperr.New(apperr.Invalid, "argon2id salt length %d out of range", p.SaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return apperr.New(apperr.Invalid, "argon2id key length %d out of range", p.KeyLen)
	}
	return nil
}

// Params returns the parameters new hashes are made with.
func (h *Hasher) Params() Params { return h.p }

// MaxConcurrent returns how many computations with the Hasher's parameters
// run at once at most; 0 means no limit.
func (h *Hasher) MaxConcurrent() int {
	if h.lim == nil {
		return 0
	}
	return min(int(max(h.lim.budget/int64(h.p.MemoryKiB), 1)), h.lim.maxRunning())
}

// RetryAfter is the wait a client refused with ErrBusy is told to observe
// (HashLimit.Wait, at least a second); 0 for a Hasher without a limit.
func (h *Hasher) RetryAfter() time.Duration {
	if h.lim == nil {
		return 0
	}
	return max(h.lim.wait, time.Second)
}

// Computations returns the number of argon2id computations the Hasher has
// run (hashes, verifications and dummy verifications).
func (h *Hasher) Computations() int64 { return h.runs.Load() }

// idKey runs one argon2id computation within the Hasher's limit.
func (h *Hasher) idKey(ctx context.Context, pw, salt []byte, p Params, keyLen uint32) ([]byte, error) {
	if h.lim != nil {
		need := int64(p.MemoryKiB)
		if err := h.lim.acquire(ctx, need); err != nil {
			return nil, err
		}
		defer h.lim.release(need)
	}
	h.runs.Add(1)
	return argon2.IDKey(pw, salt, p.Iterations, p.MemoryKiB, p.Threads, keyLen), nil
}

// HashPassword returns the PHC string of pw with a fresh random salt:
// $argon2id$v=19$m=<KiB>,t=<iterations>,p=<threads>$<salt>$<hash>, salt and
// hash in unpadded standard base64. A limited Hasher fails with ErrBusy, or
// ctx's error, when no room is found in time.
func (h *Hasher) HashPassword(ctx context.Context, pw string) (string, error) {
	salt := make([]byte, h.p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", apperr.Wrap(apperr.Internal, err, "generate salt")
	}
	key, err := h.idKey(ctx, []byte(pw), salt, h.p, h.p.KeyLen)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.Grow(64 + len(salt)*2 + len(key)*2)
	b.WriteString("$argon2id$v=")
	b.WriteString(strconv.Itoa(argon2.Version))
	b.WriteString("$m=")
	b.WriteString(strconv.FormatUint(uint64(h.p.MemoryKiB), 10))
	b.WriteString(",t=")
	b.WriteString(strconv.FormatUint(uint64(h.p.Iterations), 10))
	b.WriteString(",p=")
	b.WriteString(strconv.FormatUint(uint64(h.p.Threads), 10))
	b.WriteByte('$')
	b.WriteString(base64.RawStdEncoding.EncodeToString(salt))
	b.WriteByte('$')
	b.WriteString(base64.RawStdEncoding.EncodeToString(key))
	return b.String(), nil
}

// VerifyPassword reports whether pw matches hash, comparing in constant time.
// The parameters are read from hash, so hashes made with other parameters
// still verify. A wrong password is (false, nil); a hash that is not a
// well-formed argon2id PHC string within sane limits is (false, an error
// wrapping ErrMalformedHash). A limited Hasher fails with ErrBusy, or ctx's
// error, when no room is found in time.
func (h *Hasher) VerifyPassword(ctx context.Context, hash, pw string) (bool, error) {
	p, salt, want, err := parsePHC(hash)
	if err != nil {
		return false, err
	}
	got, err := h.idKey(ctx, []byte(pw), salt, p, uint32(len(want)))
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// DummyVerify spends the time (and takes the room) of one VerifyPassword
// with the Hasher's parameters. Call it when the user does not exist, so
// that the response of a login does not reveal whether it does. It fails
// as VerifyPassword does when no room is found.
func (h *Hasher) DummyVerify(ctx context.Context, pw string) error {
	_, err := h.VerifyPassword(ctx, h.dummy, pw)
	return err
}

func parsePHC(hash string) (p Params, salt, key []byte, err error) {
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, fmt.Errorf("not an argon2id PHC string: %w", ErrMalformedHash)
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, fmt.Errorf("unsupported argon2 version %q: %w", parts[2], ErrMalformedHash)
	}
	var m, t, th uint64
	fields := strings.Split(parts[3], ",")
	if len(fields) != 3 {
		return p, nil, nil, fmt.Errorf("bad parameter list: %w", ErrMalformedHash)
	}
	for i, f := range fields {
		name, val, ok := strings.Cut(f, "=")
		want := [...]string{"m", "t", "p"}[i]
		if !ok || name != want {
			return p, nil, nil, fmt.Errorf("bad parameter %q: %w", f, ErrMalformedHash)
		}
		n, perr := strconv.ParseUint(val, 10, 32)
		if perr != nil {
			return p, nil, nil, fmt.Errorf("bad parameter %q: %w", f, ErrMalformedHash)
		}
		switch i {
		case 0:
			m = n
		case 1:
			t = n
		case 2:
			th = n
		}
	}
	if th > 255 {
		return p, nil, nil, fmt.Errorf("bad thread count %d: %w", th, ErrMalformedHash)
	}
	salt, err1 := base64.RawStdEncoding.Strict().DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.Strict().DecodeString(parts[5])
	if err1 != nil || err2 != nil {
		return p, nil, nil, fmt.Errorf("bad base64: %w", ErrMalformedHash)
	}
	p = Params{MemoryKiB: uint32(m), Iterations: uint32(t), Threads: uint8(th),
		SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))}
	if verr := p.validate(); verr != nil {
		return p, nil, nil, fmt.Errorf("%s: %w", apperr.MessageOf(verr), ErrMalformedHash)
	}
	return p, salt, key, nil
}

// defaultHasher is made on first use: making it costs one hash.
var defaultHasher = sync.OnceValue(func() *Hasher {
	h, err := NewHasher(DefaultParams)
	if err != nil {
		panic(err) // DefaultParams are valid; a failure is a programming error
	}
	return h
})

// HashPassword hashes pw with DefaultParams, without a limit (see
// Hasher.HashPassword).
func HashPassword(pw string) (string, error) {
	return (&Hasher{p: DefaultParams}).HashPassword(context.Background(), pw)
}

// VerifyPassword verifies pw against hash, without a limit (see
// Hasher.VerifyPassword). Parameters come from hash, so hashes made by any
// Hasher verify.
func VerifyPassword(hash, pw string) (bool, error) {
	return (&Hasher{p: DefaultParams}).VerifyPassword(context.Background(), hash, pw)
}

// DummyVerify spends the time of one VerifyPassword with DefaultParams,
// without a limit, and returns false (see Hasher.DummyVerify).
func DummyVerify(pw string) bool {
	_ = defaultHasher().DummyVerify(context.Background(), pw) // no limit: it cannot fail
	return false
}
