// Package proxy is the gateway's reverse proxy to one upstream service (the
// microservice deployment: `serve --role gateway`). A Proxy is an
// http.Handler that forwards every request to its upstream URL and copies
// the answer back: status code, headers and body byte for byte, except the
// hop-by-hop headers (Connection, Keep-Alive, Transfer-Encoding, ...) and
// response headers the gateway has already set on the response (its
// X-Request-ID, CORS and rate-limit headers), which win over the upstream's
// copies. Streams (Server-Sent Events) are flushed through as they arrive.
//
// Identity: the proxy forwards the client's Authorization header untouched,
// and the service verifies the bearer token itself with the shared JWT
// secret (see platform's service roles). No principal travels in headers,
// so a service never trusts an identity from an unauthenticated source. The
// proxy also sets X-Forwarded-For to the client IP the gateway determined
// (one address, replacing any the client sent) and X-Request-ID to the
// gateway's request id.
//
// Failures: a request that gets no response headers within Options.Timeout
// answers 504 GATEWAY_TIMEOUT; a transport error (connection refused,
// reset, ...) 502 BAD_GATEWAY. Both, and 5xx answers of the upstream
// (forwarded as they are), count as failures of a per-upstream circuit
// breaker (see Breaker); 4xx answers never do. While the breaker is open
// the proxy answers 503 SERVICE_UNAVAILABLE with Retry-After, without
// calling the upstream. Gateway errors use gateway.WriteError's shape.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/gateway"
)

// Defaults of Options.
const (
	// DefaultTimeout bounds the wait for an upstream's response headers.
	DefaultTimeout = 30 * time.Second
	// DefaultStreamWriteTimeout bounds each write of a streamed
	// (text/event-stream) response to the client.
	DefaultStreamWriteTimeout = 30 * time.Second
)

// CodeGatewayTimeout is the error code of a 504 answer.
const CodeGatewayTimeout = "GATEWAY_TIMEOUT"

// StatusClientClosedRequest is recorded (in logs and metrics) for requests
// whose client left before the upstream answered; nothing reaches the client.
const StatusClientClosedRequest = apperr.StatusClientClosedRequest

// Options configure a Proxy.
type Options struct {
	// Name names the upstream in messages, logs and metrics ("order").
	Name string
	// URL is the upstream's base URL (scheme and host, optionally a path
	// prefix), e.g. "http://order:8080".
	URL string
	// Timeout bounds the wait for the upstream's response headers
	// (DefaultTimeout when 0). The body, once the headers arrived, is not
	// bounded by it: streams last as long as the upstream sends.
	Timeout time.Duration
	// StreamWriteTimeout bounds each write of a text/event-stream response
	// to the client (DefaultStreamWriteTimeout when 0); it replaces the
	// server's WriteTimeout for streams.
	StreamWriteTimeout time.Duration
	// Breaker configures the circuit breaker (its OnChange is wrapped to
	// log and measure the change).
	Breaker BreakerConfig
	// DropRequestHeaders are removed from requests before they are
	// forwarded (e.g. Origin: the gateway answers CORS itself).
	DropRequestHeaders []string
	// Transport carries the requests (a transport with a large idle pool
	// and no environment proxy when nil).
	Transport http.RoundTripper
	// Metrics, when set, counts requests by outcome and shows the
	// breaker's state.
	Metrics *Metrics
	// Logger receives failures and breaker changes (slog.Default() when nil).
	Logger *slog.Logger
}

// Proxy forwards requests to one upstream. Build it with New.
type Proxy struct {
	name    string
	target  *url.URL
	timeout time.Duration
	wto     time.Duration
	drop    []string
	breaker *Breaker
	rp      *httputil.ReverseProxy
	metrics *Metrics
	log     *slog.Logger
}

// errTimeout is the cancellation cause of a request that timed out.
var errTimeout = errors.New("upstream timeout")

// New returns a proxy to opts.URL. It fails on a URL that is not an
// absolute http(s) URL without query or fragment.
func New(opts Options) (*Proxy, error) {
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("proxy %s: upstream URL %q: want an absolute http(s) URL without query", opts.Name, opts.URL)
	}
	p := &Proxy{name: opts.Name, target: u, timeout: opts.Timeout, wto: opts.StreamWriteTimeout,
		drop: make([]string, len(opts.DropRequestHeaders)), metrics: opts.Metrics, log: opts.Logger}
	for i, h := range opts.DropRequestHeaders {
		p.drop[i] = http.CanonicalHeaderKey(h)
	}
	if p.timeout <= 0 {
		p.timeout = DefaultTimeout
	}
	if p.wto <= 0 {
		p.wto = DefaultStreamWriteTimeout
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	bc := opts.Breaker
	onChange := bc.OnChange
	bc.OnChange = func(from, to State) {
		level := slog.LevelWarn
		if to == Closed {
			level = slog.LevelInfo
		}
		p.log.LogAttrs(context.Background(), level, "circuit breaker changed state",
			slog.String("upstream", p.name), slog.String("from", from.String()), slog.String("to", to.String()))
		if p.metrics != nil {
			p.metrics.state.WithLabelValues(p.name).Set(float64(to))
		}
		if onChange != nil {
			onChange(from, to)
		}
	}
	p.breaker = NewBreaker(bc)
	if p.metrics != nil {
		p.metrics.state.WithLabelValues(p.name).Set(float64(Closed))
	}
	tr := opts.Transport
	if tr == nil {
		tr = NewTransport()
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      tr,
		FlushInterval:  -1, // flush every write: streams must not wait in a buffer
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
		ErrorLog:       slog.NewLogLogger(p.log.Handler(), slog.LevelWarn),
	}
	return p, nil
}

// NewTransport returns the transport proxies use by default: keep-alive
// connections (up to 256 idle per upstream), a 5 s dial timeout, and no
// proxy from the environment (services are reached directly).
func NewTransport() *http.Transport {
	return &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     false,
	}
}

// Breaker returns the proxy's circuit breaker.
func (p *Proxy) Breaker() *Breaker { return p.breaker }

// Name returns the upstream's name.
func (p *Proxy) Name() string { return p.name }

// exchange is the per-request state shared by ServeHTTP and the
// ReverseProxy hooks (through the outbound request's context).
type exchange struct {
	timer   *time.Timer
	outcome Outcome
	own     []string // response header keys the downstream already set
	last    bool     // no other replica to try: every failure is answered
	passed  bool     // the upstream could not be dialled and nothing was answered
}

type exchangeKey struct{}

// ServeHTTP forwards r to the upstream (or answers 503 while the breaker is open).
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.serve(w, r, true) }

// serve forwards r to the upstream and reports whether it answered the
// client. Unless last, it answers nothing and reports false when the
// upstream can be passed over: its breaker is open, or it could not be
// dialled (nothing of the request was sent), so that a Pool tries the next
// replica.
func (p *Proxy) serve(w http.ResponseWriter, r *http.Request, last bool) bool {
	probe, ok := p.breaker.Allow()
	if !ok {
		if !last {
			return false
		}
		p.count("rejected")
		if d := p.breaker.RetryIn(); d > 0 {
			w.Header().Set("Retry-After", strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10))
		} else {
			w.Header().Set("Retry-After", "1")
		}
		gateway.WriteError(w, http.StatusServiceUnavailable, gateway.CodeServiceUnavailable,
			"the "+p.name+" service is unavailable; retry later")
		return true
	}
	ex := &exchange{outcome: Success, last: last}
	for k := range w.Header() {
		ex.own = append(ex.own, k)
	}
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	ex.timer = time.AfterFunc(p.timeout, func() { cancel(errTimeout) })
	defer ex.timer.Stop()
	defer func() {
		v := recover()
		if v != nil { // the body copy broke after the headers were sent: no verdict
			ex.outcome = Ignored
		}
		p.breaker.Record(probe, ex.outcome)
		p.count(outcomeLabel(ex.outcome))
		if v != nil {
			panic(v)
		}
	}()
	sw := &streamWriter{ResponseWriter: w, timeout: p.wto}
	p.rp.ServeHTTP(sw, r.WithContext(context.WithValue(ctx, exchangeKey{}, ex)))
	return !ex.passed
}

func outcomeLabel(o Outcome) string {
	switch o {
	case Success:
		return "success"
	case Failure:
		return "failure"
	default:
		return "ignored"
	}
}

func (p *Proxy) count(outcome string) {
	if p.metrics != nil {
		p.metrics.requests.WithLabelValues(p.name, outcome).Inc()
	}
}

func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	pr.SetURL(p.target)
	h := pr.Out.Header
	for _, k := range p.drop {
		delete(h, k)
	}
	h["X-Forwarded-For"] = []string{gateway.ClientIP(pr.In)}
	if id := gateway.RequestID(pr.In.Context()); id != "" {
		h["X-Request-Id"] = []string{id}
	}
}

func (p *Proxy) modifyResponse(resp *http.Response) error {
	ex, _ := resp.Request.Context().Value(exchangeKey{}).(*exchange)
	if ex == nil {
		return nil
	}
	if !ex.timer.Stop() {
		return errTimeout // the headers came, but too late
	}
	if resp.StatusCode >= 500 {
		ex.outcome = Failure
	}
	for _, k := range ex.own {
		delete(resp.Header, k)
	}
	return nil
}

func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	ex, _ := r.Context().Value(exchangeKey{}).(*exchange)
	if ex == nil {
		ex = &exchange{}
	}
	attrs := []slog.Attr{slog.String("upstream", p.name), slog.String("request_id", gateway.RequestID(r.Context())),
		slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("error", err.Error())}
	switch {
	case errors.Is(err, errTimeout) || errors.Is(context.Cause(r.Context()), errTimeout):
		ex.outcome = Failure
		p.log.LogAttrs(r.Context(), slog.LevelWarn, "upstream timed out", attrs...)
		gateway.WriteError(w, http.StatusGatewayTimeout, CodeGatewayTimeout,
			"the "+p.name+" service did not answer in time")
	case r.Context().Err() != nil: // the client went away
		ex.outcome = Ignored
		w.WriteHeader(StatusClientClosedRequest)
	case !ex.last && dialFailed(err):
		ex.outcome, ex.passed = Failure, true
		p.log.LogAttrs(r.Context(), slog.LevelWarn, "upstream unreachable; trying another replica", attrs...)
	default:
		ex.outcome = Failure
		p.log.LogAttrs(r.Context(), slog.LevelWarn, "upstream unreachable", attrs...)
		gateway.WriteError(w, http.StatusBadGateway, gateway.CodeBadGateway,
			"the "+p.name+" service could not be reached")
	}
}

// dialFailed reports whether err is a failure to connect: the request was
// not sent, so another replica may take it.
func dialFailed(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// streamWriter moves the connection's write deadline before every write of
// a text/event-stream response, so that a stream outlives the server's
// WriteTimeout while a stuck client still times out.
type streamWriter struct {
	http.ResponseWriter
	timeout   time.Duration
	streaming bool
}

func (s *streamWriter) WriteHeader(code int) {
	if ct := s.Header().Get("Content-Type"); len(ct) >= 17 && ct[:17] == "text/event-stream" {
		s.streaming = true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *streamWriter) Write(b []byte) (int, error) {
	if s.streaming {
		_ = http.NewResponseController(s.ResponseWriter).SetWriteDeadline(time.Now().Add(s.timeout))
	}
	return s.ResponseWriter.Write(b)
}

// Flush implements http.Flusher.
func (s *streamWriter) Flush() {
	_ = http.NewResponseController(s.ResponseWriter).Flush()
}

// Unwrap gives http.ResponseController access to the underlying writer.
func (s *streamWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Metrics are the proxies' Prometheus metrics, shared by the proxies of one
// gateway:
//
//	orderprocessor_upstream_requests_total{upstream, outcome}  success, failure, ignored, rejected (breaker open)
//	orderprocessor_upstream_breaker_state{upstream}            0 closed, 1 open, 2 half-open
type Metrics struct {
	requests *prometheus.CounterVec
	state    *prometheus.GaugeVec
}

// NewMetrics returns the metrics, registered with reg when it is not nil.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orderprocessor_upstream_requests_total",
			Help: "Requests the gateway proxied, by upstream service and outcome (success, failure, ignored, rejected).",
		}, []string{"upstream", "outcome"}),
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "orderprocessor_upstream_breaker_state",
			Help: "Circuit breaker state per upstream service: 0 closed, 1 open, 2 half-open.",
		}, []string{"upstream"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.requests, m.state} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("proxy: register metrics: %w", err)
			}
		}
	}
	return m, nil
}
