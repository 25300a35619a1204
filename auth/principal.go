// Package auth provides the platform's authentication primitives: argon2id
// password hashing, HS256 access tokens (issue and verify), the authenticated
// principal carried in a request context, and token revocation.
//
// The gateway verifies tokens and puts the Principal in the request context;
// services read it with PrincipalFrom and never parse tokens themselves.
package auth

import (
	"context"
	"strings"
	"time"
)

// Principal is the authenticated caller of a request.
type Principal struct {
	Username  string
	Role      Role
	TokenID   string    // the token's jti (what logout revokes)
	ExpiresAt time.Time // the token's expiry (how long a revocation must last)
}

// IsAdmin reports whether the principal has the admin role.
func (p Principal) IsAdmin() bool { return p.Role == RoleAdmin }

type principalKey struct{}

// WithPrincipal returns a copy of ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, &p)
}

// PrincipalFrom returns the principal carried by ctx, and false when the
// request is not authenticated.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	if !ok || p == nil {
		return Principal{}, false
	}
	return *p, true
}

// ParseBearer extracts the token from an Authorization header value of the
// form "Bearer <token>" (scheme case-insensitive, one or more spaces). It
// returns false for an empty value, another scheme ("Basic x"), a missing
// scheme, a missing token ("Bearer"), a token containing spaces or
// characters outside the JWT alphabet [A-Za-z0-9._-], or one longer than
// MaxTokenLen.
func ParseBearer(header string) (string, bool) {
	const scheme = "bearer"
	if len(header) <= len(scheme)+1 || !strings.EqualFold(header[:len(scheme)], scheme) ||
		header[len(scheme)] != ' ' {
		return "", false
	}
	tok := strings.TrimLeft(header[len(scheme):], " ")
	if tok == "" || len(tok) > MaxTokenLen {
		return "", false
	}
	for i := 0; i < len(tok); i++ {
		if !jwtAlphabet[tok[i]] {
			return "", false
		}
	}
	return tok, true
}

// jwtAlphabet marks the bytes of base64url and the "." separator.
var jwtAlphabet = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	t['.'], t['_'], t['-'] = true, true, true
	return t
}()
