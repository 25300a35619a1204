package auth

import (
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/ttlmap"
)

// Role is a user's role, carried in the token's "role" claim.
type Role = entity.Role

// The roles of the platform.
const (
	RoleCustomer = entity.RoleCustomer
	RoleAdmin    = entity.RoleAdmin
)

// TokenType is the value of the "type" claim of every access token.
const TokenType = "access_token"

// Limits and defaults of Issuer.
const (
	// DefaultLifetime is the lifetime of a token when IssuerOptions.Lifetime is 0.
	DefaultLifetime = time.Hour
	// MinSecretLen is the shortest HS256 secret NewIssuer accepts (RFC 7518 §3.2).
	MinSecretLen = 32
	// MaxTokenLen bounds the text of a token Verify looks at.
	MaxTokenLen = 4096
	// MaxUsernameLen bounds the "sub" claim.
	MaxUsernameLen = 255
	// DefaultCacheSize is the number of verified tokens an Issuer remembers.
	DefaultCacheSize = 16384
	// DefaultClockSkew is how far in the future a token's iat or nbf may lie
	// (the clocks of the processes that issue and verify tokens differ).
	DefaultClockSkew = 30 * time.Second
)

// Errors of Verify, all of kind Unauthorized; Verify wraps them (test with
// errors.Is). Their messages are safe to show to clients.
var (
	ErrInvalidToken = apperr.New(apperr.Unauthorized, "invalid token")
	ErrTokenExpired = apperr.New(apperr.Unauthorized, "token expired")
	ErrTokenRevoked = apperr.New(apperr.Unauthorized, "token revoked")
)

// Claims are the verified contents of an access token.
type Claims struct {
	Username  string    // "sub"
	Role      Role      // "role"
	ID        string    // "jti", unique per token
	IssuedAt  time.Time // "iat", whole seconds
	ExpiresAt time.Time // "exp", whole seconds; the token is valid while now < ExpiresAt
}

// Principal returns the principal the claims authenticate.
func (c Claims) Principal() Principal {
	return Principal{Username: c.Username, Role: c.Role, TokenID: c.ID, ExpiresAt: c.ExpiresAt}
}

// wireClaims is the JSON payload of a token, in claim order.
type wireClaims struct {
	Sub  string           `json:"sub"`
	Role Role             `json:"role"`
	Exp  *jwt.NumericDate `json:"exp"`
	Iat  *jwt.NumericDate `json:"iat"`
	Jti  string           `json:"jti"`
	Type string           `json:"type"`
	// Nbf is never issued; a token carrying one is checked against it.
	Nbf *jwt.NumericDate `json:"nbf,omitempty"`
}

func (c *wireClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.Exp, nil }
func (c *wireClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.Iat, nil }
func (c *wireClaims) GetNotBefore() (*jwt.NumericDate, error)      { return nil, nil } // checked by Verify, with the skew
func (c *wireClaims) GetIssuer() (string, error)                   { return "", nil }
func (c *wireClaims) GetSubject() (string, error)                  { return c.Sub, nil }
func (c *wireClaims) GetAudience() (jwt.ClaimStrings, error)       { return nil, nil }

// IssuerOptions configure an Issuer. Zero fields take the defaults.
type IssuerOptions struct {
	Lifetime  time.Duration    // token lifetime; DefaultLifetime when 0
	Now       func() time.Time // the clock; time.Now when nil
	CacheSize int              // verified tokens remembered; DefaultCacheSize when 0, negative disables
	// ClockSkew is how far in the future iat and nbf may lie; DefaultClockSkew when 0.
	ClockSkew time.Duration
}

// Issuer issues and verifies HS256 access tokens with one secret. It is safe
// for concurrent use.
//
// Verify remembers tokens it has verified (bounded, keyed by the whole token
// text), so that the usual case, a client presenting the same token on every
// request, costs a map lookup instead of an HMAC and a JSON decode. Only
// tokens whose signature and claims verified are remembered, and the expiry
// is checked on every call.
type Issuer struct {
	secret   []byte
	lifetime time.Duration
	skew     time.Duration
	now      func() time.Time
	parser   *jwt.Parser
	keyFunc  jwt.Keyfunc
	cache    *tokenCache
}

// NewIssuer returns an Issuer for secret (at least MinSecretLen bytes).
func NewIssuer(secret []byte, opt IssuerOptions) (*Issuer, error) {
	if len(secret) < MinSecretLen {
		return nil, apperr.New(apperr.Invalid, "JWT secret must be at least %d bytes", MinSecretLen)
	}
	if opt.Lifetime < 0 {
		return nil, apperr.New(apperr.Invalid, "token lifetime must be positive")
	}
	if opt.ClockSkew < 0 {
		return nil, apperr.New(apperr.Invalid, "token clock skew must not be negative")
	}
	if opt.ClockSkew == 0 {
		opt.ClockSkew = DefaultClockSkew
	}
	if opt.Lifetime == 0 {
		opt.Lifetime = DefaultLifetime
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.CacheSize == 0 {
		opt.CacheSize = DefaultCacheSize
	}
	iss := &Issuer{
		secret:   append([]byte(nil), secret...),
		lifetime: opt.Lifetime,
		skew:     opt.ClockSkew,
		now:      opt.Now,
	}
	iss.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithStrictDecoding(),
		jwt.WithTimeFunc(opt.Now),
	)
	iss.keyFunc = func(*jwt.Token) (any, error) { return iss.secret, nil }
	if opt.CacheSize > 0 {
		iss.cache = newTokenCache(opt.CacheSize)
	}
	return iss, nil
}

// Lifetime returns the lifetime of the tokens the Issuer makes.
func (iss *Issuer) Lifetime() time.Duration { return iss.lifetime }

// Issue returns a new signed token for username with role, and its claims.
// The username must be 1..MaxUsernameLen printable ASCII characters (so the
// payload is plain ASCII JSON) and the role a known one; otherwise Issue
// returns an Invalid error.
func (iss *Issuer) Issue(username string, role Role) (string, Claims, error) {
	return iss.IssueAfter(username, role, time.Time{})
}

// IssueAfter is Issue for an account whose tokens count only when issued
// at or after validAfter (a whole second): the token's iat is the later of
// now and validAfter, so that a login in the second of a reactivation gets
// a token that counts. A validAfter more than the clock-skew allowance
// ahead is an Invalid error.
func (iss *Issuer) IssueAfter(username string, role Role, validAfter time.Time) (string, Claims, error) {
	if len(username) == 0 || len(username) > MaxUsernameLen {
		return "", Claims{}, apperr.New(apperr.Invalid, "username must be 1..%d characters", MaxUsernameLen)
	}
	for i := 0; i < len(username); i++ {
		if c := username[i]; c < 0x20 || c > 0x7e {
			return "", Claims{}, apperr.New(apperr.Invalid, "username must be printable ASCII")
		}
	}
	if !role.Valid() {
		return "", Claims{}, apperr.New(apperr.Invalid, "unknown role %q", role)
	}
	now := iss.now().Truncate(time.Second)
	if validAfter.After(now) {
		if validAfter.Sub(now) > iss.skew {
			return "", Claims{}, apperr.New(apperr.Invalid, "token validity starts too far ahead")
		}
		now = validAfter.Truncate(time.Second)
	}
	c := Claims{
		Username:  username,
		Role:      role,
		ID:        rand.Text(),
		IssuedAt:  now,
		ExpiresAt: now.Add(iss.lifetime),
	}
	wc := &wireClaims{
		Sub: c.Username, Role: c.Role, Jti: c.ID, Type: TokenType,
		Exp: jwt.NewNumericDate(c.ExpiresAt), Iat: jwt.NewNumericDate(c.IssuedAt),
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, wc).SignedString(iss.secret)
	if err != nil {
		return "", Claims{}, apperr.Wrap(apperr.Internal, err, "sign token")
	}
	return tok, c, nil
}

// Verify checks token's HS256 signature (any other algorithm, "none"
// included, is rejected) and its claims: exp in the future, iat and nbf (if
// any) not later than the clock-skew allowance ahead, and sub, role, iat,
// jti and type "access_token" present and valid. It does not consult
// revocation (see Revoker). Errors wrap ErrInvalidToken or ErrTokenExpired.
func (iss *Issuer) Verify(token string) (Claims, error) {
	if len(token) == 0 || len(token) > MaxTokenLen {
		return Claims{}, ErrInvalidToken
	}
	now := iss.now()
	if iss.cache != nil {
		if c, ok := iss.cache.get(token); ok {
			if !now.Before(c.ExpiresAt) {
				return Claims{}, ErrTokenExpired
			}
			return c, nil
		}
	}
	if !compactJWS(token) {
		return Claims{}, fmt.Errorf("%w: not a compact JWS", ErrInvalidToken)
	}
	var wc wireClaims
	if _, err := iss.parser.ParseWithClaims(token, &wc, iss.keyFunc); err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return Claims{}, fmt.Errorf("%w: %w", ErrTokenExpired, err)
		}
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if wc.Type != TokenType || wc.Sub == "" || len(wc.Sub) > MaxUsernameLen ||
		!wc.Role.Valid() || wc.Jti == "" || wc.Iat == nil || wc.Exp == nil {
		return Claims{}, fmt.Errorf("%w: missing or invalid claims", ErrInvalidToken)
	}
	// Only a token valid now is cached, and iat and nbf only recede.
	if latest := now.Add(iss.skew); wc.Iat.After(latest) || wc.Nbf != nil && wc.Nbf.After(latest) {
		return Claims{}, fmt.Errorf("%w: issued in the future or not valid yet", ErrInvalidToken)
	}
	c := Claims{
		Username:  wc.Sub,
		Role:      wc.Role,
		ID:        wc.Jti,
		IssuedAt:  wc.Iat.Time,
		ExpiresAt: wc.Exp.Time,
	}
	if iss.cache != nil {
		iss.cache.put(token, c, now)
	}
	return c, nil
}

// compactJWS reports whether token is made of base64url characters and dots
// only. The JWT library's base64 decoder skips CR and LF, so without this
// check a token with line breaks inserted verifies as the token without them:
// one token, many texts (FuzzVerify found it), each its own verify-cache entry.
func compactJWS(token string) bool {
	for i := 0; i < len(token); i++ {
		switch c := token[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// tokenCache maps token text to verified claims, sharded to keep lock
// contention low. Each shard holds at most size/cacheShards entries; a full
// shard first drops expired entries and, if still full, starts over empty.
type tokenCache struct{ m *ttlmap.Map[Claims] }

const cacheShards = 16

func newTokenCache(size int) *tokenCache {
	return &tokenCache{ttlmap.New(Claims.expiry, ttlmap.Options{Shards: cacheShards, MaxEntries: size, WhenFull: ttlmap.DropAll})}
}

func (c Claims) expiry() time.Time { return c.ExpiresAt }

// get returns the claims cached for token, expired or not.
func (c *tokenCache) get(token string) (Claims, bool) { return c.m.Lookup(token) }

func (c *tokenCache) put(token string, cl Claims, now time.Time) {
	_ = c.m.Update(token, now, func(Claims, bool) (Claims, bool) { return cl, true })
}
