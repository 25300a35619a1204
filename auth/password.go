package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"sync"

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

// Hasher hashes and verifies passwords with argon2id. The zero value is not
// usable; use NewHasher. A Hasher is safe for concurrent use.
type Hasher struct {
	p     Params
	dummy string // a hash of a random password made with p, for DummyVerify
}

// NewHasher returns a Hasher that creates hashes with p. It returns an
// Invalid error when p is outside the limits VerifyPassword accepts.
func NewHasher(p Params) (*Hasher, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	h := &Hasher{p: p}
	var pw [16]byte
	_, _ = rand.Read(pw[:]) // crypto/rand.Read never fails (Go >= 1.24)
	d, err := h.HashPassword(base64.RawStdEncoding.EncodeToString(pw[:]))
	if err != nil {
		return nil, err
	}
	h.dummy = d
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

// HashPassword returns the PHC string of pw with a fresh random salt:
// $argon2id$v=19$m=<KiB>,t=<iterations>,p=<threads>$<salt>$<hash>, salt and
// hash in unpadded standard base64.
func (h *Hasher) HashPassword(pw string) (string, error) {
	salt := make([]byte, h.p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", apperr.Wrap(apperr.Internal, err, "generate salt")
	}
	key := argon2.IDKey([]byte(pw), salt, h.p.Iterations, h.p.MemoryKiB, h.p.Threads, h.p.KeyLen)
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
// wrapping ErrMalformedHash).
func (h *Hasher) VerifyPassword(hash, pw string) (bool, error) {
	p, salt, want, err := parsePHC(hash)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(pw), salt, p.Iterations, p.MemoryKiB, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// DummyVerify spends the time of one VerifyPassword with the Hasher's
// parameters and returns false. Call it when the user does not exist, so
// that the response time of a login does not reveal whether it does.
func (h *Hasher) DummyVerify(pw string) bool {
	_, _ = h.VerifyPassword(h.dummy, pw)
	return false
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

// HashPassword hashes pw with DefaultParams (see Hasher.HashPassword).
func HashPassword(pw string) (string, error) {
	return (&Hasher{p: DefaultParams}).HashPassword(pw)
}

// VerifyPassword verifies pw against hash (see Hasher.VerifyPassword).
// Parameters come from hash, so hashes made by any Hasher verify.
func VerifyPassword(hash, pw string) (bool, error) {
	return (&Hasher{p: DefaultParams}).VerifyPassword(hash, pw)
}

// DummyVerify spends the time of one VerifyPassword with DefaultParams and
// returns false (see Hasher.DummyVerify).
func DummyVerify(pw string) bool {
	return defaultHasher().DummyVerify(pw)
}
