// Package gateway is the security and traffic layer in front of the
// services: one http.Handler that recovers panics, assigns request ids, logs
// and measures every request, answers CORS, enforces rate limits, login
// throttling, authentication and body limits, serves the health and metrics
// endpoints, and passes everything else to the next handler (the services,
// in process or behind a reverse proxy).
//
// A request passes these steps in order; each may answer it:
//
//  1. panic recovery (500 INTERNAL_ERROR, details only in the log), request id
//     (X-Request-ID: the client's when 1–128 of [A-Za-z0-9._-], else a new
//     one), access log and metrics around everything below;
//  2. CORS response headers; path normalisation ("/a/b/" and "/a//b" reach
//     "/a/b"; nothing is redirected);
//  3. /health, /health/live, /health/ready, /metrics (GET/HEAD; not rate
//     limited, no authentication; /metrics is 404 NOT_FOUND with
//     Config.NoMetrics);
//  4. rate limit per client IP (X-RateLimit-* headers on every later
//     response; 429 RATE_LIMITED with Retry-After above the limit);
//  5. OPTIONS: answered 204 (CORS preflight), never authenticated;
//  6. authentication by route class: on User and Admin routes a missing or
//     malformed Authorization header, an invalid or expired token, a
//     revoked one, or one whose subject is unknown, deactivated or has
//     invalidated it (Deps.Accounts) is 401 UNAUTHORIZED, before any other
//     validation; a non-admin on an Admin route is 403 FORBIDDEN; on Public
//     routes a valid token still sets the principal and anything else is
//     ignored;
//  7. rate limit per authenticated user;
//  8. login throttling on POST Config.LoginPath (403 LOGIN_BLOCKED) for a
//     blocked IP;
//  9. body limit (413 PAYLOAD_TOO_LARGE, with or without Content-Length);
//  10. on POST Config.LoginPath, the attempt is counted ahead for the
//     client IP and for the account named by the body (403 LOGIN_BLOCKED
//     when either has no attempt left); on POST Config.RegisterPath, for
//     the client IP (429 RATE_LIMITED above Config.RegisterLimit);
//  11. the next handler, with auth.WithPrincipal and the request info in
//     the context; its answer settles the counts ahead: a 401 to a login
//     is a failure (and blocks the IP at the limit), a success gives the
//     IP's attempt back and ends the account's window, anything else gives
//     the attempts back; a registration answered neither 2xx nor 409 is
//     given back.
//
// Gateway errors have the body
// {"error":"<CODE>","message":"...","code":"<CODE>","timestamp":"<RFC 3339>"}.
package gateway

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/auth"
)

// Error codes of gateway-generated responses.
const (
	CodeUnauthorized       = "UNAUTHORIZED"
	CodeForbidden          = "FORBIDDEN"
	CodeRateLimited        = "RATE_LIMITED"
	CodeLoginBlocked       = "LOGIN_BLOCKED"
	CodePayloadTooLarge    = "PAYLOAD_TOO_LARGE"
	CodeBadRequest         = "BAD_REQUEST"
	CodeNotFound           = "NOT_FOUND"
	CodeMethodNotAllowed   = "METHOD_NOT_ALLOWED"
	CodeInternal           = "INTERNAL_ERROR"
	CodeServiceUnavailable = "SERVICE_UNAVAILABLE"
	CodeBadGateway         = "BAD_GATEWAY"
)

// Paths the gateway serves itself.
const (
	PathHealth      = "/health"
	PathHealthLive  = "/health/live"
	PathHealthReady = "/health/ready"
	PathMetrics     = "/metrics"
)

// Route indexes of the pseudo-routes, before the table's routes.
const (
	idxHealth = iota
	idxLive
	idxReady
	idxMetrics
	idxUnmatched
	firstTableIdx
)

// UnmatchedRoute is the route label of requests that match no route.
const UnmatchedRoute = "unmatched"

// Canonical header keys (http.CanonicalHeaderKey form, so no lookups allocate).
const (
	hdrRequestID     = "X-Request-Id"
	hdrAuthorization = "Authorization"
	hdrOrigin        = "Origin"
	hdrXFF           = "X-Forwarded-For"
	hdrRLLimit       = "X-Ratelimit-Limit"
	hdrRLRemaining   = "X-Ratelimit-Remaining"
	hdrRLReset       = "X-Ratelimit-Reset"
	hdrRetryAfter    = "Retry-After"
)

// Constant header values, shared between responses (never mutated).
var (
	valStar          = []string{"*"}
	valVaryOrigin    = []string{"Origin"}
	valExposeHeaders = []string{"X-Request-ID, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After, ETag"}
	valAllowMethods  = []string{"GET, POST, PUT, PATCH, DELETE, OPTIONS"}
	valAllowHeaders  = []string{"Authorization, Content-Type, Idempotency-Key, If-Match, X-Request-ID"}
	valMaxAge        = []string{"600"}
	valJSON          = []string{"application/json"}
	valNoStore       = []string{"no-store"}
	valBearer        = []string{`Bearer realm="api"`}
	valBearerInvalid = []string{`Bearer realm="api", error="invalid_token"`}
	valAllowGet      = []string{"GET, HEAD"}
)

// Gateway is the gateway's http.Handler. Build it with New.
type Gateway struct {
	cfg        Config
	next       http.Handler
	tokens     TokenVerifier
	revoker    auth.Revoker
	accounts   AccountChecker
	counter    Counter
	blocks     Marker
	reg        *prometheus.Registry
	metrics    *metrics
	log        *slog.Logger
	now        func() time.Time
	ready      []Check
	router     *router
	pseudo     [firstTableIdx]*compiledRoute
	anyOrigin  bool
	origins    map[string]bool
	limitVal   []string // X-RateLimit-Limit, shared
	ridPrefix  string
	ridSeq     atomic.Uint64
	metricsH   http.Handler
	counterLog sampledLog // the rate limit counter's failures
}

// New returns the gateway in front of next. routes classifies requests
// (see Route). It fails on an invalid route table or config, when a route
// needs authentication and deps.Tokens is nil, or when the metrics cannot
// be registered in deps.Registry.
func New(cfg Config, routes RouteTable, next http.Handler, deps Deps) (*Gateway, error) {
	if next == nil {
		return nil, errors.New("gateway: next handler is nil")
	}
	if cfg.RateLimit < 0 || cfg.LoginMaxFailures < 0 || cfg.MaxBodyBytes < 0 ||
		cfg.RateWindow < 0 || cfg.LoginWindow < 0 || cfg.LoginBlock < 0 || cfg.ReadyTimeout < 0 ||
		cfg.LoginAccountMaxFailures < 0 || cfg.LoginAccountWindow < 0 || cfg.LoginAccountDelay < 0 ||
		cfg.LoginAccountMaxDelay < 0 || cfg.LoginKnownClientFor < 0 || cfg.RegisterLimit < 0 || cfg.RegisterWindow < 0 {
		return nil, errors.New("gateway: negative limit or duration in config")
	}
	cfg.LoginAccountWindow = cmp.Or(cfg.LoginAccountWindow, DefaultLoginAccountWindow)
	cfg.LoginAccountDelay = cmp.Or(cfg.LoginAccountDelay, DefaultLoginAccountDelay)
	cfg.LoginAccountMaxDelay = max(cmp.Or(cfg.LoginAccountMaxDelay, DefaultLoginAccountMaxDelay), cfg.LoginAccountDelay)
	cfg.LoginKnownClientFor = cmp.Or(cfg.LoginKnownClientFor, DefaultLoginKnownClientFor)
	cfg.RegisterWindow = cmp.Or(cfg.RegisterWindow, DefaultRegisterWindow)
	cfg.RegisterPath = normalizePath(cmp.Or(cfg.RegisterPath, DefaultRegisterPath))
	if cfg.RateWindow == 0 {
		cfg.RateWindow = DefaultRateWindow
	}
	if cfg.LoginWindow == 0 {
		cfg.LoginWindow = DefaultLoginWindow
	}
	if cfg.LoginBlock == 0 {
		cfg.LoginBlock = DefaultLoginBlock
	}
	if cfg.LoginPath == "" {
		cfg.LoginPath = DefaultLoginPath
	}
	cfg.LoginPath = normalizePath(cfg.LoginPath)
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = DefaultReadyTimeout
	}
	if cfg.ServiceName == "" {
		cfg.ServiceName = DefaultServiceName
	}
	if cfg.UnmatchedAccess == 0 {
		cfg.UnmatchedAccess = User
	}
	if cfg.UnmatchedAccess > Admin {
		return nil, fmt.Errorf("gateway: bad UnmatchedAccess %v", cfg.UnmatchedAccess)
	}
	rt, err := compileRoutes(routes, firstTableIdx)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	needsAuth := cfg.UnmatchedAccess != Public
	for _, r := range routes {
		needsAuth = needsAuth || r.Access != Public
	}
	if needsAuth && deps.Tokens == nil {
		return nil, errors.New("gateway: routes need authentication but Deps.Tokens is nil")
	}
	g := &Gateway{
		cfg:      cfg,
		next:     next,
		tokens:   deps.Tokens,
		revoker:  deps.Revoker,
		accounts: deps.Accounts,
		counter:  deps.Counter,
		blocks:   deps.Blocks,
		reg:      deps.Registry,
		log:      deps.Logger,
		now:      deps.Now,
		ready:    deps.Ready,
		router:   rt,
	}
	if g.now == nil {
		g.now = time.Now
	}
	if g.log == nil {
		g.log = slog.Default()
	}
	if g.counter == nil {
		g.counter = NewMemoryCounter(MemoryCounterOptions{Now: g.now})
	}
	if g.blocks == nil {
		if m, ok := g.counter.(Marker); ok {
			g.blocks = m
		} else {
			g.blocks = NewMemoryCounter(MemoryCounterOptions{Now: g.now})
		}
	}
	if g.reg == nil {
		g.reg = prometheus.NewRegistry()
		g.reg.MustRegister(collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	for i, p := range [...]string{PathHealth, PathHealthLive, PathHealthReady, PathMetrics, UnmatchedRoute} {
		g.pseudo[i] = &compiledRoute{Route: Route{Pattern: p, Access: Public}, idx: i}
	}
	g.pseudo[idxUnmatched].Access = cfg.UnmatchedAccess
	labels := make([]string, firstTableIdx+len(routes))
	for i, r := range g.pseudo {
		labels[i] = r.Pattern
	}
	for _, r := range rt.routes {
		labels[r.idx] = r.Pattern
	}
	if g.metrics, err = newMetrics(g.reg, labels); err != nil {
		return nil, fmt.Errorf("gateway: register metrics: %w", err)
	}
	g.metricsH = promhttp.HandlerFor(g.reg, promhttp.HandlerOpts{})
	g.anyOrigin = len(cfg.AllowedOrigins) == 0
	g.origins = make(map[string]bool, len(cfg.AllowedOrigins))
	for _, o := range cfg.AllowedOrigins {
		if o == "*" {
			g.anyOrigin = true
		}
		g.origins[o] = true
	}
	g.limitVal = []string{strconv.Itoa(cfg.RateLimit)}
	g.ridPrefix = strings.ToLower(rand.Text()[:10]) + "-"
	return g, nil
}

// Registry returns the registry the gateway's metrics are in (served at /metrics).
func (g *Gateway) Registry() *prometheus.Registry { return g.reg }

// MetricsHandler serves the registry in the Prometheus text format, for a
// listener of its own (see Config.NoMetrics).
func (g *Gateway) MetricsHandler() http.Handler { return g.metricsH }

// requestInfo is what the gateway learns about a request; the context
// carries a pointer to it for ClientIP and RequestID.
type requestInfo struct {
	id    string
	ip    string
	path  string
	route *compiledRoute
	user  string
}

type infoKey struct{}

// ClientIP returns the client address of a request that passed through the
// gateway (honouring Config.TrustProxy); for other requests, the host of
// r.RemoteAddr.
func ClientIP(r *http.Request) string {
	if info, ok := r.Context().Value(infoKey{}).(*requestInfo); ok {
		return info.ip
	}
	return remoteHost(r.RemoteAddr)
}

// RequestID returns the request id the gateway assigned to the request of
// ctx, or "" outside the gateway.
func RequestID(ctx context.Context) string {
	if info, ok := ctx.Value(infoKey{}).(*requestInfo); ok {
		return info.id
	}
	return ""
}

// exchange wraps the ResponseWriter to record the status and size, and
// holds the request's info (one allocation for both).
type exchange struct {
	w            http.ResponseWriter
	status       int
	bytes        int64
	rlSet        bool
	rlRemaining  int64
	info         requestInfo
	principal    auth.Principal
	hasPrincipal bool
}

func (e *exchange) Header() http.Header { return e.w.Header() }

func (e *exchange) WriteHeader(code int) {
	if e.status == 0 && code >= 200 {
		e.status = code
	}
	e.w.WriteHeader(code)
}

func (e *exchange) Write(p []byte) (int, error) {
	if e.status == 0 {
		e.status = http.StatusOK
	}
	n, err := e.w.Write(p)
	e.bytes += int64(n)
	return n, err
}

// Flush lets streaming handlers (Server-Sent Events) flush through the gateway.
func (e *exchange) Flush() {
	if e.status == 0 {
		e.status = http.StatusOK
	}
	if f, ok := e.w.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController access to the underlying writer.
func (e *exchange) Unwrap() http.ResponseWriter { return e.w }

// ServeHTTP implements http.Handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ex := &exchange{w: w}
	ex.info.id = g.requestID(r)
	ex.info.ip = g.clientIP(r)
	ex.info.route = g.pseudo[idxUnmatched]
	// The id goes back to the client and on to the handler (which logs it
	// with its errors): the client's own when it was sane, else a new one.
	id := []string{ex.info.id}
	w.Header()[hdrRequestID] = id
	if r.Header != nil {
		r.Header[hdrRequestID] = id
	}
	g.metrics.inFlight.Inc()
	defer func() { g.finish(ex, r, start, recover()) }()
	g.serve(ex, r)
}

func (g *Gateway) serve(ex *exchange, r *http.Request) {
	h := ex.w.Header()
	corsOK := g.cors(h, r)
	p := normalizePath(r.URL.Path)
	ex.info.path = p

	if r.Method != http.MethodOptions {
		switch p {
		case PathHealth, PathHealthLive, PathHealthReady, PathMetrics:
			g.serveOps(ex, r, p)
			return
		}
	}
	method := r.Method
	if method == http.MethodOptions { // label a preflight with the route it asks about
		if m := r.Header["Access-Control-Request-Method"]; len(m) == 1 {
			method = m[0]
		}
	}
	route := g.router.match(method, p)
	if route == nil {
		route = g.pseudo[idxUnmatched]
	}
	ex.info.route = route

	if g.cfg.RateLimit > 0 && !g.rateLimit(ex, r, "rl:ip:"+ex.info.ip, "ip") {
		return
	}
	if r.Method == http.MethodOptions {
		if corsOK {
			h["Access-Control-Allow-Methods"] = valAllowMethods
			h["Access-Control-Allow-Headers"] = valAllowHeaders
			h["Access-Control-Max-Age"] = valMaxAge
		}
		h["Allow"] = valAllowMethods
		ex.WriteHeader(http.StatusNoContent)
		return
	}
	if !g.authenticate(ex, r, route.Access) {
		return
	}
	if ex.hasPrincipal && g.cfg.RateLimit > 0 && !g.rateLimit(ex, r, "rl:user:"+ex.principal.Username, "user") {
		return
	}
	var login *loginAttempt
	if r.Method == http.MethodPost && p == g.cfg.LoginPath &&
		(g.cfg.LoginMaxFailures > 0 || g.cfg.LoginAccountMaxFailures > 0) {
		if g.cfg.LoginMaxFailures > 0 && g.loginBlocked(ex, r) {
			return
		}
		login = &loginAttempt{}
	}
	register := g.cfg.RegisterLimit > 0 && r.Method == http.MethodPost && p == g.cfg.RegisterPath
	body, ok := g.limitBody(ex, r)
	if !ok {
		return
	}
	if login != nil {
		if body, ok = g.reserveLogin(ex, r, body, login); !ok {
			return
		}
	}
	if register && !g.reserveRegistration(ex, r) {
		return
	}

	ctx := context.WithValue(r.Context(), infoKey{}, &ex.info)
	if ex.hasPrincipal {
		ctx = auth.WithPrincipal(ctx, ex.principal)
	}
	r2 := r.WithContext(ctx)
	r2.Body = body
	if p != r.URL.Path {
		u := *r.URL
		u.Path, u.RawPath = p, ""
		r2.URL = &u
	}
	g.next.ServeHTTP(ex, r2)

	if login != nil {
		g.settleLogin(context.WithoutCancel(r.Context()), login, ex.status)
	}
	if register && !(ex.status >= 200 && ex.status < 300 || ex.status == http.StatusConflict) {
		g.giveBack(context.WithoutCancel(r.Context()), "register:ip:"+ex.info.ip)
	}
}

// finish runs after every request: panic recovery, metrics, access log.
func (g *Gateway) finish(ex *exchange, r *http.Request, start time.Time, p any) {
	abort := false
	if p != nil {
		abort = true
		if p != http.ErrAbortHandler { // a sentinel compared by identity, as net/http does
			g.metrics.panics.Inc()
			g.log.LogAttrs(r.Context(), slog.LevelError, "panic serving request",
				slog.String("request_id", ex.info.id), slog.String("method", r.Method),
				slog.String("path", ex.info.path), slog.String("panic", fmt.Sprint(p)),
				slog.String("stack", string(debug.Stack())))
			if ex.status == 0 {
				abort = false
				h := ex.w.Header()
				for _, k := range []string{"Content-Encoding", "Content-Length", "Content-Disposition",
					"Location", "Etag", "Last-Modified", "Set-Cookie"} {
					delete(h, k)
				}
				g.writeError(ex, http.StatusInternalServerError, CodeInternal, "internal server error")
			}
		}
	}
	status := ex.status
	if status == 0 {
		status = http.StatusOK // net/http sends 200 for a handler that wrote nothing
	}
	latency := time.Since(start)
	g.metrics.inFlight.Dec()
	g.metrics.observe(ex.info.route.idx, r.Method, status, latency)
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	if h := g.log.Handler(); h.Enabled(r.Context(), level) {
		// The record is built here, without the caller's program counter
		// (the access log has no use for a source line, and finding it cost
		// a stack walk per request).
		rec := slog.NewRecord(start.Add(latency), level, "request", 0)
		rec.AddAttrs(slog.String("request_id", ex.info.id),
			slog.String("method", r.Method),
			slog.String("route", ex.info.route.Pattern),
			slog.String("path", ex.info.path),
			slog.Int("status", status),
			slog.Float64("latency_ms", float64(latency.Microseconds())/1000),
			slog.String("user", ex.info.user),
			slog.String("ip", ex.info.ip),
			slog.Int64("bytes", ex.bytes))
		_ = h.Handle(r.Context(), rec) // a handler that cannot write has nowhere to report it either
	}
	if abort {
		panic(http.ErrAbortHandler) // the response is broken: let net/http drop the connection
	}
}

// requestID returns the client's X-Request-ID when sane, else a new id.
func (g *Gateway) requestID(r *http.Request) string {
	if v := r.Header[hdrRequestID]; len(v) == 1 && saneRequestID(v[0]) {
		return v[0]
	}
	var buf [32]byte
	b := append(buf[:0], g.ridPrefix...)
	b = strconv.AppendUint(b, g.ridSeq.Add(1), 36)
	return string(b)
}

// saneRequestID reports whether s is 1–128 characters of [A-Za-z0-9._-].
func saneRequestID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// clientIP returns the right-most X-Forwarded-For address when TrustProxy
// is set and it is a valid IP, else the host of RemoteAddr.
func (g *Gateway) clientIP(r *http.Request) string {
	if g.cfg.TrustProxy {
		if xs := r.Header[hdrXFF]; len(xs) > 0 {
			last := xs[len(xs)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			last = strings.TrimSpace(last)
			if _, err := netip.ParseAddr(last); err == nil {
				return last
			}
		}
	}
	return remoteHost(r.RemoteAddr)
}

func remoteHost(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// cors sets the CORS response headers and reports whether the origin is allowed.
func (g *Gateway) cors(h http.Header, r *http.Request) bool {
	if !g.anyOrigin {
		h["Vary"] = valVaryOrigin
	}
	o := r.Header[hdrOrigin]
	if len(o) == 0 {
		return false
	}
	switch {
	case g.anyOrigin:
		h["Access-Control-Allow-Origin"] = valStar
	case g.origins[o[0]]:
		h["Access-Control-Allow-Origin"] = []string{o[0]}
	default:
		return false
	}
	h["Access-Control-Expose-Headers"] = valExposeHeaders
	return true
}

// rateLimit counts the request against key and reports whether it may
// proceed. The X-RateLimit headers show the most restrictive limit seen.
// A failing Counter lets the request through (logged): availability over
// strictness for a traffic limit.
func (g *Gateway) rateLimit(ex *exchange, r *http.Request, key, scope string) bool {
	count, resetAt, err := g.counter.Incr(r.Context(), key, g.cfg.RateWindow)
	if err != nil {
		// Every request fails while the counter's store is down: the
		// first failure is logged, then one per FailureLogInterval.
		if skipped, ok := g.counterLog.take(g.now()); ok {
			g.log.LogAttrs(r.Context(), slog.LevelWarn, "rate limit counter failed; request allowed",
				slog.String("request_id", ex.info.id), slog.String("scope", scope), slog.String("error", err.Error()),
				slog.Int64("failures_not_logged", skipped))
		}
		return true
	}
	limit := int64(g.cfg.RateLimit)
	remaining := max(limit-count, 0)
	h := ex.w.Header()
	if !ex.rlSet || remaining < ex.rlRemaining {
		ex.rlSet, ex.rlRemaining = true, remaining
		reset := resetAt.Unix()
		if resetAt.Nanosecond() > 0 {
			reset++
		}
		var buf [48]byte
		b := strconv.AppendInt(buf[:0], remaining, 10)
		n := len(b)
		b = strconv.AppendInt(b, reset, 10)
		s := string(b)
		vals := make([]string, 2)
		vals[0], vals[1] = s[:n], s[n:]
		h[hdrRLLimit] = g.limitVal
		h[hdrRLRemaining] = vals[0:1:1]
		h[hdrRLReset] = vals[1:2:2]
	}
	if count <= limit {
		return true
	}
	g.metrics.rateLimited.WithLabelValues(scope).Inc()
	h[hdrRetryAfter] = []string{strconv.FormatInt(retryAfter(resetAt.Sub(g.now())), 10)}
	g.writeError(ex, http.StatusTooManyRequests, CodeRateLimited, "rate limit exceeded; retry later")
	return false
}

// retryAfter is d in whole seconds, rounded up, at least 1.
func retryAfter(d time.Duration) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

// authenticate applies the route's access level; it answers 401/403/503
// itself and returns false when the request must stop.
func (g *Gateway) authenticate(ex *exchange, r *http.Request, access Access) bool {
	hdrs := r.Header[hdrAuthorization]
	if access == Public {
		if len(hdrs) == 1 {
			if tok, ok := auth.ParseBearer(hdrs[0]); ok {
				if c, err := g.tokens.Verify(tok); err == nil {
					revoked, rerr := g.isRevoked(r.Context(), c.ID)
					if rerr == nil && !revoked && g.checkAccount(r.Context(), c) == nil {
						g.setPrincipal(ex, c)
					}
				}
			}
		}
		return true
	}
	h := ex.w.Header()
	if len(hdrs) == 0 || hdrs[0] == "" {
		h["Www-Authenticate"] = valBearer
		return g.deny(ex, http.StatusUnauthorized, CodeUnauthorized, "missing", "not authenticated")
	}
	tok, ok := auth.ParseBearer(hdrs[0])
	if !ok || len(hdrs) > 1 {
		h["Www-Authenticate"] = valBearer
		return g.deny(ex, http.StatusUnauthorized, CodeUnauthorized, "malformed", "malformed Authorization header; expected: Bearer <token>")
	}
	c, err := g.tokens.Verify(tok)
	if err != nil {
		h["Www-Authenticate"] = valBearerInvalid
		reason := "invalid"
		if errors.Is(err, auth.ErrTokenExpired) {
			reason = "expired"
		}
		msg := "invalid token"
		if apperr.KindOf(err) == apperr.Unauthorized {
			msg = apperr.MessageOf(err)
		}
		return g.deny(ex, http.StatusUnauthorized, CodeUnauthorized, reason, msg)
	}
	revoked, err := g.isRevoked(r.Context(), c.ID)
	if err != nil {
		g.log.LogAttrs(r.Context(), slog.LevelError, "revocation check failed",
			slog.String("request_id", ex.info.id), slog.String("error", err.Error()))
		return g.deny(ex, http.StatusServiceUnavailable, CodeServiceUnavailable, "revoker_error",
			"authentication temporarily unavailable")
	}
	if revoked {
		h["Www-Authenticate"] = valBearerInvalid
		return g.deny(ex, http.StatusUnauthorized, CodeUnauthorized, "revoked", auth.ErrTokenRevoked.Message)
	}
	if err := g.checkAccount(r.Context(), c); err != nil {
		if apperr.KindOf(err) != apperr.Unauthorized {
			g.log.LogAttrs(r.Context(), slog.LevelError, "account check failed",
				slog.String("request_id", ex.info.id), slog.String("error", err.Error()))
			return g.deny(ex, http.StatusServiceUnavailable, CodeServiceUnavailable, "account_error",
				"authentication temporarily unavailable")
		}
		h["Www-Authenticate"] = valBearerInvalid
		reason := "account"
		switch {
		case errors.Is(err, auth.ErrAccountDeactivated):
			reason = "deactivated"
		case errors.Is(err, auth.ErrAccountUnknown):
			reason = "unknown_account"
		case errors.Is(err, auth.ErrTokenRevoked):
			reason = "revoked"
		}
		return g.deny(ex, http.StatusUnauthorized, CodeUnauthorized, reason, apperr.MessageOf(err))
	}
	g.setPrincipal(ex, c)
	if access == Admin && c.Role != auth.RoleAdmin {
		return g.deny(ex, http.StatusForbidden, CodeForbidden, "not_admin", "admin role required")
	}
	return true
}

func (g *Gateway) setPrincipal(ex *exchange, c auth.Claims) {
	ex.principal = c.Principal()
	ex.hasPrincipal = true
	ex.info.user = c.Username
}

func (g *Gateway) isRevoked(ctx context.Context, jti string) (bool, error) {
	if g.revoker == nil {
		return false, nil
	}
	return g.revoker.IsRevoked(ctx, jti)
}

func (g *Gateway) checkAccount(ctx context.Context, c auth.Claims) error {
	if g.accounts == nil {
		return nil
	}
	return g.accounts.Check(ctx, c)
}

func (g *Gateway) deny(ex *exchange, status int, code, reason, msg string) bool {
	g.metrics.authFailures.WithLabelValues(reason).Inc()
	g.writeError(ex, status, code, msg)
	return false
}

// loginBlocked answers 403 when the client IP is blocked from logging in.
// A failing Marker lets the login through (logged): the password hash
// already makes guessing slow.
func (g *Gateway) loginBlocked(ex *exchange, r *http.Request) bool {
	until, blocked, err := g.blocks.Marked(r.Context(), "login:block:"+ex.info.ip)
	if err != nil {
		g.log.LogAttrs(r.Context(), slog.LevelWarn, "login block check failed; login allowed",
			slog.String("request_id", ex.info.id), slog.String("error", err.Error()))
		return false
	}
	if !blocked {
		return false
	}
	g.refuseLogin(ex, until, "too many failed login attempts; try again later")
	return true
}

// loginAttempt is what a login counted ahead: the keys whose counts it
// holds, to be settled by the handler's answer.
type loginAttempt struct {
	ip       string
	ipCount  int64  // the IP's count with this attempt; 0: not counted
	account  string // counter key of the account; "": not counted
	gate     string // counter key of the account's delay taken; "": none
	username string
}

// reserveLogin counts the login ahead for the client IP and for the account
// its body names, before the password is checked, so that parallel
// attempts cannot pass the limits. It reads the body (at most MaxBodyBytes)
// and returns it for the handler; it answers 403 (or 400 for an unreadable
// body) and returns false when the login must stop. A failing Counter lets
// the login through (logged): the password hash already makes guessing
// slow.
func (g *Gateway) reserveLogin(ex *exchange, r *http.Request, body io.ReadCloser, la *loginAttempt) (io.ReadCloser, bool) {
	ctx := r.Context()
	la.ip = ex.info.ip
	if g.cfg.LoginMaxFailures > 0 {
		key := "login:fail:" + la.ip
		n, resetAt, err := g.counter.Incr(ctx, key, g.cfg.LoginWindow)
		switch {
		case err != nil:
			g.log.LogAttrs(ctx, slog.LevelWarn, "login counter failed; login allowed",
				slog.String("request_id", ex.info.id), slog.String("error", err.Error()))
		case n > int64(g.cfg.LoginMaxFailures):
			// Failures and attempts in flight already fill the window.
			g.giveBack(context.WithoutCancel(ctx), key)
			g.refuseLogin(ex, resetAt, "too many failed login attempts; try again later")
			return nil, false
		default:
			la.ipCount = n
		}
	}
	if g.cfg.LoginAccountMaxFailures == 0 {
		return body, true
	}
	buf, ok := g.readBody(ex, body)
	if !ok {
		g.settleLogin(context.WithoutCancel(ctx), la, http.StatusBadRequest)
		return nil, false
	}
	body = io.NopCloser(bytes.NewReader(buf))
	la.username = loginUsername(buf)
	if la.username == "" {
		return body, true // the handler refuses a login without a username
	}
	key := "login:acct:" + la.username
	n, _, err := g.counter.Incr(ctx, key, g.cfg.LoginAccountWindow)
	if err != nil {
		g.log.LogAttrs(ctx, slog.LevelWarn, "login counter failed; login allowed",
			slog.String("request_id", ex.info.id), slog.String("error", err.Error()))
		return body, true
	}
	la.account = key
	over := n - int64(g.cfg.LoginAccountMaxFailures)
	if over <= 0 {
		return body, true
	}
	// A client IP that logged in to this account within KnownClientFor
	// passes the delay (the per-IP limit still holds): guesses from
	// elsewhere cannot keep the owner out.
	if _, known, err := g.blocks.Marked(ctx, knownClientKey(la.username, la.ip)); err == nil && known {
		return body, true
	}
	// Over the limit: one attempt per delay, the first to open the delay's
	// window.
	gate := accountGateKey(la.username)
	m, resetAt, err := g.counter.Incr(ctx, gate, g.accountDelay(over))
	switch {
	case err != nil:
		g.log.LogAttrs(ctx, slog.LevelWarn, "login counter failed; login allowed",
			slog.String("request_id", ex.info.id), slog.String("error", err.Error()))
	case m > 1:
		g.settleLogin(context.WithoutCancel(ctx), la, http.StatusForbidden)
		g.refuseLogin(ex, resetAt, "too many failed logins for this account; try again later")
		return nil, false
	default:
		la.gate = gate
	}
	return body, true
}

// accountGateKey is the counter of an account's delay: one attempt passes
// per delay.
func accountGateKey(username string) string { return "login:delay:" + username }

// knownClientKey is the marker of a client IP that logged in to username.
func knownClientKey(username, ip string) string { return "login:known:" + username + "|" + ip }

// accountDelay is the wait after the over-th attempt over
// LoginAccountMaxFailures: LoginAccountDelay doubled over-1 times, at most
// LoginAccountMaxDelay.
func (g *Gateway) accountDelay(over int64) time.Duration {
	d := g.cfg.LoginAccountDelay
	for i := int64(1); i < over && d < g.cfg.LoginAccountMaxDelay; i++ {
		d *= 2
	}
	return min(d, g.cfg.LoginAccountMaxDelay)
}

// maxUsernameBytes bounds the account names counted: no valid username is
// longer, and a longer one (refused by the handler) would only grow the
// counters' keys.
const maxUsernameBytes = 128

// loginUsername returns the lower-cased "username" of a JSON login body, or
// "" when there is none (the handler then refuses the body).
func loginUsername(body []byte) string {
	var v struct {
		Username string `json:"username"`
	}
	if err := json.Unmarshal(body, &v); err != nil || len(v.Username) > maxUsernameBytes {
		return ""
	}
	return strings.ToLower(v.Username)
}

// refuseLogin answers 403 LOGIN_BLOCKED with Retry-After until retryAt.
func (g *Gateway) refuseLogin(ex *exchange, retryAt time.Time, msg string) {
	g.metrics.loginBlocked.Inc()
	ex.w.Header()[hdrRetryAfter] = []string{strconv.FormatInt(retryAfter(retryAt.Sub(g.now())), 10)}
	g.writeError(ex, http.StatusForbidden, CodeLoginBlocked, msg)
}

// settleLogin settles what a login counted ahead by its answer's status: a
// 401 is a failure (it stays counted, and blocks the IP at the limit); a
// success gives the IP's attempt back and ends the account's window and
// delay; any other answer gives everything back.
func (g *Gateway) settleLogin(ctx context.Context, la *loginAttempt, status int) {
	ipKey := "login:fail:" + la.ip
	switch {
	case status == http.StatusUnauthorized:
		if la.ipCount >= int64(g.cfg.LoginMaxFailures) && la.ipCount > 0 {
			if err := g.blocks.Mark(ctx, "login:block:"+la.ip, g.cfg.LoginBlock); err != nil {
				g.log.LogAttrs(ctx, slog.LevelError, "login throttling failed",
					slog.String("ip", la.ip), slog.String("error", err.Error()))
			} else {
				g.log.LogAttrs(ctx, slog.LevelWarn, "login blocked for client IP",
					slog.String("ip", la.ip), slog.Int64("failures", la.ipCount))
			}
		}
		return
	case status >= 200 && status < 300:
		if la.ipCount > 0 {
			g.giveBack(ctx, ipKey)
		}
		if la.username != "" {
			if err := g.blocks.Mark(ctx, knownClientKey(la.username, la.ip), g.cfg.LoginKnownClientFor); err != nil {
				g.log.LogAttrs(ctx, slog.LevelError, "login: remembering the client failed",
					slog.String("error", err.Error()))
			}
		}
		if la.account == "" {
			return
		}
		// The account's window and its delay end, whoever holds the delay.
		for _, key := range []string{la.account, accountGateKey(la.username)} {
			if err := g.counter.Reset(ctx, key); err != nil {
				g.log.LogAttrs(ctx, slog.LevelError, "login counter reset failed",
					slog.String("key", key), slog.String("error", err.Error()))
			}
		}
		return
	}
	if la.ipCount > 0 {
		g.giveBack(ctx, ipKey)
	}
	if la.account != "" {
		g.giveBack(ctx, la.account)
	}
	if la.gate != "" {
		if err := g.counter.Reset(ctx, la.gate); err != nil {
			g.log.LogAttrs(ctx, slog.LevelError, "login counter reset failed",
				slog.String("key", la.gate), slog.String("error", err.Error()))
		}
	}
}

// giveBack takes back an attempt counted ahead under key.
func (g *Gateway) giveBack(ctx context.Context, key string) {
	if err := g.counter.Decr(ctx, key); err != nil {
		g.log.LogAttrs(ctx, slog.LevelError, "counter decrement failed",
			slog.String("key", key), slog.String("error", err.Error()))
	}
}

// reserveRegistration counts a registration ahead for the client IP and
// answers 429 when the IP has none left in its window. A failing Counter
// lets the registration through (logged).
func (g *Gateway) reserveRegistration(ex *exchange, r *http.Request) bool {
	key := "register:ip:" + ex.info.ip
	n, resetAt, err := g.counter.Incr(r.Context(), key, g.cfg.RegisterWindow)
	if err != nil {
		g.log.LogAttrs(r.Context(), slog.LevelWarn, "registration counter failed; registration allowed",
			slog.String("request_id", ex.info.id), slog.String("error", err.Error()))
		return true
	}
	if n <= int64(g.cfg.RegisterLimit) {
		return true
	}
	g.giveBack(context.WithoutCancel(r.Context()), key)
	g.metrics.rateLimited.WithLabelValues("register").Inc()
	ex.w.Header()[hdrRetryAfter] = []string{strconv.FormatInt(retryAfter(resetAt.Sub(g.now())), 10)}
	g.writeError(ex, http.StatusTooManyRequests, CodeRateLimited, "too many registrations from this address; retry later")
	return false
}

// limitBody enforces MaxBodyBytes. A declared Content-Length above it is
// refused at once (the body is not read); a body of unknown length (chunked)
// is read up to the limit before the handler runs, and replaced by the bytes
// read. It returns the body the handler gets and false when it answered.
func (g *Gateway) limitBody(ex *exchange, r *http.Request) (io.ReadCloser, bool) {
	max := g.cfg.MaxBodyBytes
	if r.ContentLength > max {
		g.writeError(ex, http.StatusRequestEntityTooLarge, CodePayloadTooLarge,
			fmt.Sprintf("request body exceeds %d bytes", max))
		return nil, false
	}
	if r.ContentLength >= 0 || r.Body == nil || r.Body == http.NoBody {
		return r.Body, true // net/http never reads past a declared Content-Length
	}
	buf, ok := g.readBody(ex, r.Body)
	if !ok {
		return nil, false
	}
	return io.NopCloser(bytes.NewReader(buf)), true
}

// readBody reads body up to MaxBodyBytes; it answers 400 or 413 and returns
// false when it cannot.
func (g *Gateway) readBody(ex *exchange, body io.Reader) ([]byte, bool) {
	if body == nil || body == http.NoBody {
		return nil, true
	}
	max := g.cfg.MaxBodyBytes
	buf, err := io.ReadAll(io.LimitReader(body, max+1))
	if err != nil {
		g.writeError(ex, http.StatusBadRequest, CodeBadRequest, "could not read request body")
		return nil, false
	}
	if int64(len(buf)) > max {
		g.writeError(ex, http.StatusRequestEntityTooLarge, CodePayloadTooLarge,
			fmt.Sprintf("request body exceeds %d bytes", max))
		return nil, false
	}
	return buf, true
}

// WriteError writes a gateway-format error (for code that answers on the
// gateway's behalf, such as a reverse proxy): status and
// {"error":code,"message":msg,"code":code,"timestamp":now}. msg must be safe
// to show to clients.
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	writeErrorAt(w, status, code, msg, time.Now())
}

func (g *Gateway) writeError(w http.ResponseWriter, status int, code, msg string) {
	writeErrorAt(w, status, code, msg, g.now())
}

func writeErrorAt(w http.ResponseWriter, status int, code, msg string, now time.Time) {
	h := w.Header()
	h["Content-Type"] = valJSON
	h["Cache-Control"] = valNoStore
	delete(h, "Content-Length")
	b := make([]byte, 0, 128+len(msg))
	b = append(b, `{"error":`...)
	b = appendJSONString(b, code)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, msg)
	b = append(b, `,"code":`...)
	b = appendJSONString(b, code)
	b = append(b, `,"timestamp":"`...)
	b = appendTimestamp(b, now)
	b = append(b, "\"}\n"...)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// appendTimestamp appends t as RFC 3339 UTC with microseconds.
func appendTimestamp(b []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			q, _ := json.Marshal(s) // non-ASCII (rare): let encoding/json handle UTF-8
			return append(b, q...)
		}
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c == '<' || c == '>' || c == '&' || c == 0x7f:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
