package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/testenv/fakeclock"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

func newFakeClock() *fakeclock.Clock {
	return fakeclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
}

func newTestIssuer(t testing.TB, clk *fakeclock.Clock, cache int) *Issuer {
	t.Helper()
	iss, err := NewIssuer(testSecret, IssuerOptions{Now: clk.Now, CacheSize: cache})
	if err != nil {
		t.Fatalf("NewIssuer: %v", err)
	}
	return iss
}

func TestIssueVerifyRoundTrip(t *testing.T) {
	for _, cache := range []int{0, -1} {
		clk := newFakeClock()
		iss := newTestIssuer(t, clk, cache)
		tok, c, err := iss.Issue("alice_01", RoleAdmin)
		if err != nil {
			t.Fatalf("Issue: %v", err)
		}
		want := Claims{Username: "alice_01", Role: RoleAdmin, ID: c.ID,
			IssuedAt: clk.Now(), ExpiresAt: clk.Now().Add(time.Hour)}
		if c != want || len(c.ID) != 26 {
			t.Fatalf("Issue claims = %+v, want %+v with a 26-char jti", c, want)
		}
		for i := 0; i < 2; i++ { // the second time from the cache when enabled
			got, err := iss.Verify(tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !got.IssuedAt.Equal(want.IssuedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) {
				t.Fatalf("Verify times = %v, %v; want %v, %v", got.IssuedAt, got.ExpiresAt, want.IssuedAt, want.ExpiresAt)
			}
			got.IssuedAt, got.ExpiresAt = want.IssuedAt, want.ExpiresAt
			if got != want {
				t.Fatalf("Verify = %+v, want %+v", got, want)
			}
		}
		p := want.Principal()
		if p != (Principal{Username: "alice_01", Role: RoleAdmin, TokenID: c.ID, ExpiresAt: want.ExpiresAt}) || !p.IsAdmin() {
			t.Fatalf("Principal() = %+v", p)
		}
	}
}

func TestTokenWireFormat(t *testing.T) {
	clk := newFakeClock()
	iss, err := NewIssuer(testSecret, IssuerOptions{Now: clk.Now, Lifetime: 30 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if iss.Lifetime() != 30*time.Minute {
		t.Fatalf("Lifetime() = %v", iss.Lifetime())
	}
	tok, c, err := iss.Issue("bob_1234", RoleCustomer)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	header, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if string(header) != `{"alg":"HS256","typ":"JWT"}` {
		t.Fatalf("header = %s", header)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range payload {
		if b < 0x20 || b > 0x7e {
			t.Fatalf("payload is not plain ASCII: %q", payload)
		}
	}
	want := `{"sub":"bob_1234","role":"customer","exp":` + itoa(clk.Now().Add(30*time.Minute).Unix()) +
		`,"iat":` + itoa(clk.Now().Unix()) + `,"jti":"` + c.ID + `","type":"access_token"}`
	if string(payload) != want {
		t.Fatalf("payload = %s\nwant      %s", payload, want)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// sign makes a token with the given header and claims, HMAC-SHA256-signed with secret.
func sign(t *testing.T, secret []byte, header string, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	s := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString(payload)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(s))
	return s + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func TestVerifyRejects(t *testing.T) {
	clk := newFakeClock()
	iss := newTestIssuer(t, clk, 0)
	now := clk.Now().Unix()
	good := func() map[string]any {
		return map[string]any{"sub": "alice_01", "role": "customer", "exp": now + 60, "iat": now,
			"jti": "id1", "type": "access_token"}
	}
	with := func(k string, v any) map[string]any {
		c := good()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	const hs256 = `{"alg":"HS256","typ":"JWT"}`
	valid := sign(t, testSecret, hs256, good())
	if _, err := iss.Verify(valid); err != nil {
		t.Fatalf("hand-made valid token rejected: %v", err)
	}
	hs512, err := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.MapClaims(good())).SignedString(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims(good())).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	es256, err := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims(good())).SignedString(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	dot := strings.LastIndexByte(valid, '.')
	tests := []struct {
		name string
		tok  string
		want error
	}{
		{"empty", "", ErrInvalidToken},
		{"garbage", "not-a-token", ErrInvalidToken},
		{"too long", strings.Repeat("a", MaxTokenLen+1), ErrInvalidToken},
		{"wrong secret", sign(t, []byte("another-secret-another-secret-!!"), hs256, good()), ErrInvalidToken},
		{"alg none", none, ErrInvalidToken},
		{"alg none no signature", sign(t, testSecret, `{"alg":"none","typ":"JWT"}`, good())[:dot+1], ErrInvalidToken},
		{"alg HS512", hs512, ErrInvalidToken},
		{"alg ES256", es256, ErrInvalidToken},
		{"alg RS256 header, HMAC signature", sign(t, testSecret, `{"alg":"RS256","typ":"JWT"}`, good()), ErrInvalidToken},
		{"signature stripped", valid[:dot+1], ErrInvalidToken},
		{"signature tampered", valid[:dot+1] + strings.Repeat("A", len(valid)-dot-1), ErrInvalidToken},
		{"payload tampered", strings.Replace(valid, strings.Split(valid, ".")[1],
			base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"admin","role":"admin"}`)), 1), ErrInvalidToken},
		{"expired", sign(t, testSecret, hs256, with("exp", now-1)), ErrTokenExpired},
		{"expires now", sign(t, testSecret, hs256, with("exp", now)), ErrTokenExpired},
		{"no exp", sign(t, testSecret, hs256, with("exp", nil)), ErrInvalidToken},
		{"exp string", sign(t, testSecret, hs256, with("exp", "tomorrow")), ErrInvalidToken},
		{"no iat", sign(t, testSecret, hs256, with("iat", nil)), ErrInvalidToken},
		{"no sub", sign(t, testSecret, hs256, with("sub", nil)), ErrInvalidToken},
		{"no jti", sign(t, testSecret, hs256, with("jti", nil)), ErrInvalidToken},
		{"unknown role", sign(t, testSecret, hs256, with("role", "root")), ErrInvalidToken},
		{"no role", sign(t, testSecret, hs256, with("role", nil)), ErrInvalidToken},
		{"refresh type", sign(t, testSecret, hs256, with("type", "refresh_token")), ErrInvalidToken},
		{"no type", sign(t, testSecret, hs256, with("type", nil)), ErrInvalidToken},
		{"sub too long", sign(t, testSecret, hs256, with("sub", strings.Repeat("a", MaxUsernameLen+1))), ErrInvalidToken},
		// The JWT library's base64 decoder skips CR and LF: the valid token
		// with line breaks, padding or spaces inserted is another text.
		{"CRs in the signature", valid[:dot+3] + "\r\r" + valid[dot+3:], ErrInvalidToken},
		{"LF in the payload", valid[:dot-4] + "\n" + valid[dot-4:], ErrInvalidToken},
		{"CRLF at the end", valid + "\r\n", ErrInvalidToken},
		{"padding", valid + "=", ErrInvalidToken},
		{"space", " " + valid, ErrInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := iss.Verify(tt.tok)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify error = %v, want %v", err, tt.want)
			}
			if apperr.KindOf(err) != apperr.Unauthorized || apperr.MessageOf(err) != tt.want.(*apperr.Error).Message {
				t.Fatalf("kind %q message %q", apperr.KindOf(err), apperr.MessageOf(err))
			}
			if c != (Claims{}) {
				t.Fatalf("claims %+v returned with an error", c)
			}
		})
	}
}

func TestVerifyCachedTokenExpires(t *testing.T) {
	clk := newFakeClock()
	iss := newTestIssuer(t, clk, 0)
	tok, _, err := iss.Issue("alice_01", RoleCustomer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iss.Verify(tok); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour - time.Second)
	if _, err := iss.Verify(tok); err != nil {
		t.Fatalf("one second before expiry: %v", err)
	}
	clk.Advance(time.Second)
	if _, err := iss.Verify(tok); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("at expiry (cached): %v, want ErrTokenExpired", err)
	}
	other := newTestIssuer(t, clk, 0) // no cache entry: the parser's check
	if _, err := other.Verify(tok); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("at expiry (uncached): %v, want ErrTokenExpired", err)
	}
}

func TestTokenCacheBounded(t *testing.T) {
	clk := newFakeClock()
	iss := newTestIssuer(t, clk, cacheShards) // one entry per shard
	var toks []string
	for i := 0; i < 200; i++ {
		tok, _, err := iss.Issue("alice_01", RoleCustomer)
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok)
		if _, err := iss.Verify(tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := iss.cache.m.Len(); n == 0 || n > cacheShards {
		t.Fatalf("cache holds %d entries", n)
	}
	for _, tok := range toks { // evicted tokens still verify
		if _, err := iss.Verify(tok); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(2 * time.Hour) // a full shard drops expired entries first
	fresh, _, err := iss.Issue("bob_1234", RoleCustomer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iss.Verify(fresh); err != nil {
		t.Fatal(err)
	}
	if _, ok := iss.cache.get(fresh); !ok || iss.cache.m.Len() > cacheShards {
		t.Fatalf("fresh cached: %v, %d entries; want true, at most %d", ok, iss.cache.m.Len(), cacheShards)
	}
}

func TestIssueRejects(t *testing.T) {
	iss := newTestIssuer(t, newFakeClock(), 0)
	tests := []struct {
		name, user string
		role       Role
	}{
		{"empty username", "", RoleCustomer},
		{"long username", strings.Repeat("a", MaxUsernameLen+1), RoleCustomer},
		{"non-ASCII", "jürgen", RoleCustomer},
		{"control char", "a\nb", RoleCustomer},
		{"unknown role", "alice_01", "root"},
		{"empty role", "alice_01", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, c, err := iss.Issue(tt.user, tt.role)
			if !apperr.Is(err, apperr.Invalid) || tok != "" || c != (Claims{}) {
				t.Fatalf("Issue = %q, %+v, %v; want an invalid error", tok, c, err)
			}
		})
	}
}

func TestIssueUniqueJTI(t *testing.T) {
	iss := newTestIssuer(t, newFakeClock(), 0)
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		_, c, err := iss.Issue("alice_01", RoleCustomer)
		if err != nil {
			t.Fatal(err)
		}
		if seen[c.ID] {
			t.Fatalf("duplicate jti %q", c.ID)
		}
		seen[c.ID] = true
	}
}

func TestNewIssuerRejects(t *testing.T) {
	if _, err := NewIssuer(testSecret[:MinSecretLen-1], IssuerOptions{}); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("short secret: %v", err)
	}
	if _, err := NewIssuer(testSecret, IssuerOptions{Lifetime: -time.Second}); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("negative lifetime: %v", err)
	}
	iss, err := NewIssuer(testSecret, IssuerOptions{})
	if err != nil || iss.Lifetime() != DefaultLifetime || iss.cache == nil {
		t.Fatalf("defaults: %v %+v", err, iss)
	}
	// The secret is copied: changing the caller's slice changes nothing.
	secret := append([]byte(nil), testSecret...)
	iss, err = NewIssuer(secret, IssuerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := iss.Issue("alice_01", RoleCustomer)
	if err != nil {
		t.Fatal(err)
	}
	secret[0] ^= 0xff
	if _, err := newTestIssuer(t, fakeclock.New(time.Now()), -1).Verify(tok); err != nil {
		t.Fatalf("token signed with the original secret: %v", err)
	}
}

func TestParseBearer(t *testing.T) {
	tests := []struct {
		header, tok string
		ok          bool
	}{
		{"Bearer abc.def.ghi", "abc.def.ghi", true},
		{"bearer abc.def.ghi", "abc.def.ghi", true},
		{"BEARER   a-b_c.d", "a-b_c.d", true},
		{"", "", false},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Bearer    ", "", false},
		{"Basic x", "", false},
		{"abc.def.ghi", "", false},
		{"Bearerabc.def.ghi", "", false},
		{"Bearer\tabc", "", false},
		{"Bearer abc def", "", false},
		{"Bearer abc=", "", false},
		{"Token abc.def.ghi", "", false},
		{"Bearer " + strings.Repeat("a", MaxTokenLen), strings.Repeat("a", MaxTokenLen), true},
		{"Bearer " + strings.Repeat("a", MaxTokenLen+1), "", false},
	}
	for _, tt := range tests {
		tok, ok := ParseBearer(tt.header)
		if tok != tt.tok || ok != tt.ok {
			t.Errorf("ParseBearer(%.30q) = %q, %v; want %q, %v", tt.header, tok, ok, tt.tok, tt.ok)
		}
	}
}

func FuzzVerify(f *testing.F) {
	clk := newFakeClock()
	iss := newTestIssuer(f, clk, 0)
	// A deterministic token (Issue picks a random jti; fuzz workers rebuild this).
	now := clk.Now().Unix()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, &wireClaims{Sub: "alice_01", Role: RoleCustomer,
		Exp: jwt.NewNumericDate(time.Unix(now+3600, 0)), Iat: jwt.NewNumericDate(time.Unix(now, 0)),
		Jti: "fixed-jti", Type: TokenType}).SignedString(testSecret)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok)
	f.Add("Bearer " + tok)
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Fuzz(func(t *testing.T, s string) {
		if tt, ok := ParseBearer(s); ok && (tt == "" || strings.ContainsAny(tt, " \t")) {
			t.Fatalf("ParseBearer(%q) accepted %q", s, tt)
		}
		c, err := iss.Verify(s)
		if err != nil {
			if apperr.KindOf(err) != apperr.Unauthorized {
				t.Fatalf("Verify error kind %q", apperr.KindOf(err))
			}
			return
		}
		if s != tok || c.Username != "alice_01" {
			t.Fatalf("Verify accepted a token it did not issue: %q -> %+v", s, c)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	for _, bc := range []struct {
		name  string
		cache int
	}{{"cached", 0}, {"uncached", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			iss, err := NewIssuer(testSecret, IssuerOptions{CacheSize: bc.cache})
			if err != nil {
				b.Fatal(err)
			}
			tok, _, err := iss.Issue("alice_01", RoleCustomer)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := iss.Verify(tok); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

func BenchmarkIssue(b *testing.B) {
	iss, err := NewIssuer(testSecret, IssuerOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := iss.Issue("alice_01", RoleCustomer); err != nil {
			b.Fatal(err)
		}
	}
}

// TestVerifyFutureTimes: a token whose iat or nbf lies beyond the clock-skew
// allowance in the future is refused (by both the full check and, since it
// is never cached, on every later call); within the allowance it is
// accepted, as is an nbf in the past.
func TestVerifyFutureTimes(t *testing.T) {
	for _, cache := range []int{0, -1} {
		clk := newFakeClock()
		iss := newTestIssuer(t, clk, cache)
		now := clk.Now().Unix()
		skew := int64(DefaultClockSkew / time.Second)
		claims := func(iat int64, nbf any) map[string]any {
			c := map[string]any{"sub": "alice_01", "role": "customer", "exp": now + 3600, "iat": iat,
				"jti": "id-" + itoa(iat), "type": "access_token"}
			if nbf != nil {
				c["nbf"] = nbf
			}
			return c
		}
		const hs256 = `{"alg":"HS256","typ":"JWT"}`
		for _, tc := range []struct {
			name string
			c    map[string]any
			ok   bool
		}{
			{"iat now", claims(now, nil), true},
			{"iat within skew", claims(now+skew, nil), true},
			{"iat beyond skew", claims(now+skew+1, nil), false},
			{"iat an hour ahead", claims(now+3599, nil), false},
			{"nbf past", claims(now, now-10), true},
			{"nbf within skew", claims(now, now+skew), true},
			{"nbf beyond skew", claims(now, now+skew+1), false},
			{"nbf not a number", claims(now, "soon"), false},
		} {
			tok := sign(t, testSecret, hs256, tc.c)
			for range 2 {
				_, err := iss.Verify(tok)
				if tc.ok && err != nil {
					t.Fatalf("cache %d, %s: %v", cache, tc.name, err)
				}
				if !tc.ok && (!errors.Is(err, ErrInvalidToken) || apperr.MessageOf(err) != ErrInvalidToken.Message) {
					t.Fatalf("cache %d, %s: Verify error = %v, want %v", cache, tc.name, err, ErrInvalidToken)
				}
			}
		}
		// A custom allowance.
		strict, err := NewIssuer(testSecret, IssuerOptions{Now: clk.Now, CacheSize: cache, ClockSkew: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := strict.Verify(sign(t, testSecret, hs256, claims(now+2, nil))); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("cache %d: iat 2 s ahead with a 1 s allowance: %v", cache, err)
		}
		if _, err := strict.Verify(sign(t, testSecret, hs256, claims(now+1, nil))); err != nil {
			t.Fatalf("cache %d: iat 1 s ahead with a 1 s allowance: %v", cache, err)
		}
	}
	if _, err := NewIssuer(testSecret, IssuerOptions{ClockSkew: -time.Second}); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("negative skew: %v", err)
	}
}

// TestIssueAfter: a token issued for an account valid after a time in the
// coming second starts then (and verifies); a past time changes nothing; a
// time beyond the skew allowance is refused.
func TestIssueAfter(t *testing.T) {
	clk := newFakeClock()
	clk.Advance(300 * time.Millisecond)
	iss := newTestIssuer(t, clk, 0)
	now := clk.Now().Truncate(time.Second)
	tok, c, err := iss.IssueAfter("alice_01", RoleCustomer, now.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if !c.IssuedAt.Equal(now.Add(time.Second)) || !c.ExpiresAt.Equal(now.Add(time.Second+DefaultLifetime)) {
		t.Fatalf("claims %+v", c)
	}
	if got, err := iss.Verify(tok); err != nil || got.ID != c.ID || !got.IssuedAt.Equal(c.IssuedAt) || !got.ExpiresAt.Equal(c.ExpiresAt) {
		t.Fatalf("Verify = %+v, %v", got, err)
	}
	if _, c, err := iss.IssueAfter("alice_01", RoleCustomer, now.Add(-time.Hour)); err != nil || !c.IssuedAt.Equal(now) {
		t.Fatalf("past validAfter: %+v, %v", c, err)
	}
	if _, _, err := iss.IssueAfter("alice_01", RoleCustomer, now.Add(DefaultClockSkew+time.Second)); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("validAfter beyond the skew: %v", err)
	}
}
