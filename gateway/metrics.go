package gateway

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric names, all in the registry served at /metrics.
const (
	MetricRequests     = "gateway_http_requests_total"           // counter{route,method,status}
	MetricDuration     = "gateway_http_request_duration_seconds" // histogram{route,method,status}
	MetricInFlight     = "gateway_http_requests_in_flight"       // gauge
	MetricRateLimited  = "gateway_rate_limited_total"            // counter{scope="ip"|"user"|"register"}
	MetricAuthFailures = "gateway_auth_failures_total"           // counter{reason}
	MetricLoginBlocked = "gateway_login_blocked_total"           // counter: logins refused by the login throttle
	MetricPanics       = "gateway_panics_total"                  // counter
)

var knownMethods = [...]string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions, "OTHER",
}

func methodIndex(m string) int {
	for i, k := range knownMethods[:len(knownMethods)-1] {
		if m == k {
			return i
		}
	}
	return len(knownMethods) - 1
}

type observers struct {
	count   prometheus.Counter
	latency prometheus.Observer
}

type metrics struct {
	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	inFlight     prometheus.Gauge
	rateLimited  *prometheus.CounterVec
	authFailures *prometheus.CounterVec
	loginBlocked prometheus.Counter
	panics       prometheus.Counter

	routeLabels []string // by compiledRoute.idx

	// cache maps (route, method, status) to its observers without locks on
	// the hot path: readers load the map; a miss copies it under mu.
	cache atomic.Pointer[map[uint64]observers]
	mu    sync.Mutex
}

func newMetrics(reg prometheus.Registerer, routeLabels []string) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricRequests, Help: "HTTP requests answered, by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    MetricDuration,
			Help:    "Time from request to the end of the response, by route pattern, method and status.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method", "status"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: MetricInFlight, Help: "HTTP requests being served.",
		}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricRateLimited, Help: "Requests refused with 429, by limit scope (ip, user, register).",
		}, []string{"scope"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricAuthFailures, Help: "Requests refused with 401/403 by the gateway, by reason.",
		}, []string{"reason"}),
		loginBlocked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: MetricLoginBlocked, Help: "Login requests refused with 403 by the login throttle: a blocked client IP, or an IP or account without an attempt left.",
		}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: MetricPanics, Help: "Handler panics recovered by the gateway.",
		}),
		routeLabels: routeLabels,
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.inFlight, m.rateLimited,
		m.authFailures, m.loginBlocked, m.panics} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	empty := map[uint64]observers{}
	m.cache.Store(&empty)
	return m, nil
}

func (m *metrics) observe(routeIdx int, method string, status int, d time.Duration) {
	if status < 100 || status > 999 {
		status = 999
	}
	mi := methodIndex(method)
	key := uint64(routeIdx)<<16 | uint64(mi)<<10 | uint64(status)
	o, ok := (*m.cache.Load())[key]
	if !ok {
		o = m.slowObservers(key, routeIdx, mi, status)
	}
	o.count.Inc()
	o.latency.Observe(d.Seconds())
}

func (m *metrics) slowObservers(key uint64, routeIdx, mi, status int) observers {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.cache.Load()
	if o, ok := old[key]; ok {
		return o
	}
	labels := []string{m.routeLabels[routeIdx], knownMethods[mi], statusText(status)}
	o := observers{
		count:   m.requests.WithLabelValues(labels...),
		latency: m.duration.WithLabelValues(labels...),
	}
	next := make(map[uint64]observers, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[key] = o
	m.cache.Store(&next)
	return o
}

func statusText(code int) string {
	return string([]byte{byte('0' + code/100), byte('0' + code/10%10), byte('0' + code%10)})
}
