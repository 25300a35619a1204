package gateway

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderprocessor/orderprocessor/auth"
)

// Defaults (docs/api.md, general rules).
const (
	DefaultRateLimit        = 10000
	DefaultRateWindow       = time.Minute
	DefaultLoginMaxFailures = 5
	DefaultLoginWindow      = 5 * time.Minute
	DefaultLoginBlock       = 5 * time.Minute
	DefaultLoginPath        = "/api/v1/auth/login"

	DefaultLoginAccountMaxFailures = 5
	DefaultLoginAccountWindow      = 24 * time.Hour
	DefaultLoginAccountDelay       = 30 * time.Second
	DefaultLoginAccountMaxDelay    = 15 * time.Minute
	DefaultLoginKnownClientFor     = 30 * 24 * time.Hour

	DefaultRegisterLimit  = 20
	DefaultRegisterWindow = time.Hour
	DefaultRegisterPath   = "/api/v1/auth/register"

	DefaultMaxBodyBytes = 64 << 10
	DefaultReadyTimeout = 2 * time.Second
	DefaultServiceName  = "gateway"
)

// Config is the gateway's behaviour. Start from DefaultConfig: for
// RateLimit, LoginMaxFailures, LoginAccountMaxFailures and RegisterLimit
// the zero value means "disabled"; for the other fields zero means the
// default.
type Config struct {
	// RateLimit is the number of requests allowed per RateWindow to each
	// client IP and, separately, to each authenticated user. 0 disables rate
	// limiting (and its headers).
	RateLimit  int
	RateWindow time.Duration // DefaultRateWindow when 0

	// LoginMaxFailures failed logins (401 answers to POST LoginPath) from one
	// client IP within LoginWindow block that IP's login requests with 403
	// for LoginBlock. Each login is counted before it reaches the handler
	// and given back when it does not fail (any answer but 401), so
	// parallel logins from one IP never get more than LoginMaxFailures
	// password checks per window: the others are refused with 403. 0
	// disables the limit per IP.
	LoginMaxFailures int
	LoginWindow      time.Duration // DefaultLoginWindow when 0
	LoginBlock       time.Duration // DefaultLoginBlock when 0
	LoginPath        string        // DefaultLoginPath when ""

	// LoginAccountMaxFailures failed logins to one account (the
	// lower-cased "username" of the JSON login body, whether or not such a
	// user exists), from any IPs, within LoginAccountWindow make each
	// further attempt on it wait for a delay, refused until then with 403
	// and Retry-After: LoginAccountDelay after the first attempt over the
	// limit, doubling with each further failure, up to LoginAccountMaxDelay.
	// One attempt passes per delay. A successful login ends the account's
	// window. Attempts are counted ahead like those per IP. 0 disables the
	// limit per account.
	LoginAccountMaxFailures int
	LoginAccountWindow      time.Duration // DefaultLoginAccountWindow when 0
	LoginAccountDelay       time.Duration // DefaultLoginAccountDelay when 0
	LoginAccountMaxDelay    time.Duration // DefaultLoginAccountMaxDelay when 0
	// LoginKnownClientFor is how long a client IP that logged in to an
	// account passes that account's delay (the limit per IP still holds),
	// so that guesses from elsewhere cannot keep the owner out.
	// DefaultLoginKnownClientFor when 0.
	LoginKnownClientFor time.Duration

	// RegisterLimit registrations (POST RegisterPath answered 2xx, or 409
	// for a taken name: both hash a password) per client IP per
	// RegisterWindow; further ones are refused with 429 RATE_LIMITED and
	// Retry-After. An attempt is counted before it reaches the handler and
	// given back on any other answer. 0 disables the limit.
	RegisterLimit  int
	RegisterWindow time.Duration // DefaultRegisterWindow when 0
	RegisterPath   string        // DefaultRegisterPath when ""

	// MaxBodyBytes bounds request bodies (413 above it). DefaultMaxBodyBytes when 0.
	MaxBodyBytes int64

	// AllowedOrigins lists the origins allowed to call the API from a
	// browser. Empty, or containing "*", allows any origin.
	AllowedOrigins []string

	// TrustProxy makes the client IP the right-most valid address of
	// X-Forwarded-For (the one the trusted proxy in front of us appended)
	// instead of the connection's remote address.
	TrustProxy bool

	// UnmatchedAccess is the access required by requests that match no
	// route. User when 0 (unknown paths answer 401 without a token, so the
	// route table cannot be probed anonymously).
	UnmatchedAccess Access

	// NoMetrics makes /metrics answer 404 NOT_FOUND: the metrics are
	// served elsewhere (Gateway.MetricsHandler on a listener of its own) or
	// not at all.
	NoMetrics bool

	// ReadyTimeout bounds /health/ready. DefaultReadyTimeout when 0.
	ReadyTimeout time.Duration

	// ServiceName and Version are reported by /health.
	ServiceName string // DefaultServiceName when ""
	Version     string
}

// DefaultConfig returns the defaults: 10,000 requests per minute per IP and
// per user, 5 failed logins in 5 minutes block an IP for 5 minutes, 5
// failed logins to one account in 24 hours make each further attempt wait
// 30 s, doubling up to 15 minutes, 20 registrations per IP per hour, 64 KiB
// bodies, any CORS origin, no proxy trusted.
func DefaultConfig() Config {
	return Config{
		RateLimit:               DefaultRateLimit,
		RateWindow:              DefaultRateWindow,
		LoginMaxFailures:        DefaultLoginMaxFailures,
		LoginWindow:             DefaultLoginWindow,
		LoginBlock:              DefaultLoginBlock,
		LoginPath:               DefaultLoginPath,
		LoginAccountMaxFailures: DefaultLoginAccountMaxFailures,
		LoginAccountWindow:      DefaultLoginAccountWindow,
		LoginAccountDelay:       DefaultLoginAccountDelay,
		LoginAccountMaxDelay:    DefaultLoginAccountMaxDelay,
		RegisterLimit:           DefaultRegisterLimit,
		RegisterWindow:          DefaultRegisterWindow,
		RegisterPath:            DefaultRegisterPath,
		MaxBodyBytes:            DefaultMaxBodyBytes,
		UnmatchedAccess:         User,
		ReadyTimeout:            DefaultReadyTimeout,
		ServiceName:             DefaultServiceName,
	}
}

// TokenVerifier verifies access tokens; *auth.Issuer implements it. Verify
// returns errors of kind Unauthorized for bad tokens.
type TokenVerifier interface {
	Verify(token string) (auth.Claims, error)
}

// AccountChecker checks a verified token's subject; *auth.AccountCache
// implements it. Check returns nil when the token may be used, an error of
// kind Unauthorized (its message safe for clients) when it may not, and any
// other error when it cannot tell (the gateway then fails closed, 503).
// It runs on every authenticated request: it must answer from memory.
type AccountChecker interface {
	Check(ctx context.Context, c auth.Claims) error
}

// Check is one readiness check of /health/ready. Func must honour ctx.
// Degraded marks a dependency the process works without (slower, or with
// less): its failure reports it "degraded" and keeps the process ready.
type Check struct {
	Name     string
	Func     func(ctx context.Context) error
	Degraded bool
}

// Deps are the gateway's collaborators. Only Tokens is required (when any
// route needs authentication); nil fields take the defaults listed.
type Deps struct {
	Tokens  TokenVerifier // verifies bearer tokens
	Revoker auth.Revoker  // nil: no revocation check
	// Accounts checks that a token's subject may use it (exists, active,
	// token issued after the account's ValidAfter); nil: no check.
	Accounts AccountChecker
	// Counter counts rate-limit windows, login failures and
	// registrations; nil: a MemoryCounter with the gateway's clock.
	Counter Counter
	// Blocks holds login blocks; nil: Counter when it is also a Marker,
	// else a MemoryCounter.
	Blocks Marker
	// Registry receives the gateway's metrics and is served at /metrics;
	// nil: a new registry with the Go and process collectors.
	Registry *prometheus.Registry
	Logger   *slog.Logger     // nil: slog.Default()
	Now      func() time.Time // nil: time.Now
	Ready    []Check          // run by /health/ready
}
