package auth

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/orderprocessor/orderprocessor/apperr"
)

// cheap are parameters that keep the tests fast.
var cheap = Params{MemoryKiB: 64, Iterations: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

var ctx = context.Background()

func newCheapHasher(t testing.TB) *Hasher {
	t.Helper()
	h, err := NewHasher(cheap)
	if err != nil {
		t.Fatalf("NewHasher: %v", err)
	}
	return h
}

func TestHashPasswordFormatAndVerify(t *testing.T) {
	h := newCheapHasher(t)
	hash, err := h.HashPassword(ctx, "Correct-Horse-9!")
	if err != nil {
		t.Fatalf("HashPassword: %v", err)
	}
	re := regexp.MustCompile(`^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !re.MatchString(hash) {
		t.Fatalf("hash %q does not match %s", hash, re)
	}
	again, err := h.HashPassword(ctx, "Correct-Horse-9!")
	if err != nil {
		t.Fatalf("HashPassword: %v", err)
	}
	if again == hash {
		t.Fatalf("two hashes of one password are equal: salts are not random")
	}
	tests := []struct {
		pw   string
		want bool
	}{
		{"Correct-Horse-9!", true},
		{"correct-Horse-9!", false},
		{"Correct-Horse-9", false},
		{"", false},
	}
	for _, tt := range tests {
		for _, hh := range []string{hash, again} {
			got, err := h.VerifyPassword(ctx, hh, tt.pw)
			if err != nil || got != tt.want {
				t.Errorf("VerifyPassword(%q) = %v, %v; want %v, nil", tt.pw, got, err, tt.want)
			}
		}
	}
	if h.Params() != cheap {
		t.Errorf("Params() = %+v, want %+v", h.Params(), cheap)
	}
}

func TestVerifyPasswordReadsParamsFromHash(t *testing.T) {
	other, err := NewHasher(Params{MemoryKiB: 128, Iterations: 2, Threads: 2, SaltLen: 8, KeyLen: 16})
	if err != nil {
		t.Fatal(err)
	}
	hash, err := other.HashPassword(ctx, "pw")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=128,t=2,p=2$") {
		t.Fatalf("hash %q has the wrong parameters", hash)
	}
	ok, err := newCheapHasher(t).VerifyPassword(ctx, hash, "pw")
	if err != nil || !ok {
		t.Fatalf("VerifyPassword with other params = %v, %v; want true, nil", ok, err)
	}
	ok, err = VerifyPassword(hash, "pw")
	if err != nil || !ok {
		t.Fatalf("package VerifyPassword = %v, %v; want true, nil", ok, err)
	}
}

func TestVerifyPasswordMalformed(t *testing.T) {
	h := newCheapHasher(t)
	good, err := h.HashPassword(ctx, "pw")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$")
	salt, key := parts[4], parts[5]
	tests := []struct {
		name, hash string
	}{
		{"empty", ""},
		{"bcrypt", "$2a$10$abcdefghijklmnopqrstuu5Qm3kSxE0yJ2kVjUu4oN8o6wWq1pSiy"},
		{"argon2i", "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"old version", "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key},
		{"params order", "$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + key},
		{"two params", "$argon2id$v=19$m=64,t=1$" + salt + "$" + key},
		{"non-numeric", "$argon2id$v=19$m=x,t=1,p=1$" + salt + "$" + key},
		{"negative", "$argon2id$v=19$m=-1,t=1,p=1$" + salt + "$" + key},
		{"huge memory", "$argon2id$v=19$m=4194304,t=1,p=1$" + salt + "$" + key},
		{"zero time", "$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key},
		{"too many iterations", "$argon2id$v=19$m=64,t=1000,p=1$" + salt + "$" + key},
		{"threads > 255", "$argon2id$v=19$m=64,t=1,p=256$" + salt + "$" + key},
		{"zero threads", "$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key},
		{"bad salt base64", "$argon2id$v=19$m=64,t=1,p=1$!!!$" + key},
		{"padded key", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "="},
		{"short key", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$AAAA"},
		{"short salt", "$argon2id$v=19$m=64,t=1,p=1$AAAA$" + key},
		{"extra field", good + "$x"},
		{"no leading $", good[1:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := h.VerifyPassword(ctx, tt.hash, "pw")
			if ok || !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("VerifyPassword(%q) = %v, %v; want false, ErrMalformedHash", tt.hash, ok, err)
			}
			if apperr.KindOf(err) != apperr.Internal {
				t.Fatalf("kind = %q, want internal", apperr.KindOf(err))
			}
		})
	}
}

func TestNewHasherRejectsBadParams(t *testing.T) {
	tests := []struct {
		name string
		p    Params
	}{
		{"zero", Params{}},
		{"memory below 8*threads", Params{MemoryKiB: 8, Iterations: 1, Threads: 2, SaltLen: 16, KeyLen: 32}},
		{"memory too big", Params{MemoryKiB: maxMemoryKiB + 1, Iterations: 1, Threads: 1, SaltLen: 16, KeyLen: 32}},
		{"no iterations", Params{MemoryKiB: 64, Iterations: 0, Threads: 1, SaltLen: 16, KeyLen: 32}},
		{"no threads", Params{MemoryKiB: 64, Iterations: 1, Threads: 0, SaltLen: 16, KeyLen: 32}},
		{"short salt", Params{MemoryKiB: 64, Iterations: 1, Threads: 1, SaltLen: 4, KeyLen: 32}},
		{"long key", Params{MemoryKiB: 64, Iterations: 1, Threads: 1, SaltLen: 16, KeyLen: 1024}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewHasher(tt.p); !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("NewHasher(%+v) error = %v, want kind invalid", tt.p, err)
			}
		})
	}
}

func TestDummyVerify(t *testing.T) {
	h := newCheapHasher(t)
	for _, pw := range []string{"", "pw", "Correct-Horse-9!"} {
		before := h.Computations()
		if err := h.DummyVerify(ctx, pw); err != nil {
			t.Errorf("DummyVerify(%q) = %v", pw, err)
		}
		if n := h.Computations() - before; n != 1 {
			t.Errorf("DummyVerify(%q) ran %d computations, want 1", pw, n)
		}
	}
	if !strings.HasPrefix(h.dummy, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("dummy hash %q is not made with the hasher's params", h.dummy)
	}
}

func TestDefaultParamsPackageFunctions(t *testing.T) {
	if testing.Short() {
		t.Skip("argon2id with default parameters is slow")
	}
	hash, err := HashPassword("Correct-Horse-9!")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q does not use the default parameters", hash)
	}
	ok, err := VerifyPassword(hash, "Correct-Horse-9!")
	if err != nil || !ok {
		t.Fatalf("VerifyPassword = %v, %v; want true, nil", ok, err)
	}
	if DummyVerify("Correct-Horse-9!") {
		t.Fatalf("DummyVerify = true")
	}
}
