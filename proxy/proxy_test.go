package proxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/gateway"
	"github.com/orderprocessor/orderprocessor/testenv/fakeclock"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newProxy(t *testing.T, opts Options) *Proxy {
	t.Helper()
	if opts.Name == "" {
		opts.Name = "order"
	}
	if opts.Logger == nil {
		opts.Logger = quiet()
	}
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// gatewayError decodes a gateway error body and returns its code.
func gatewayError(t *testing.T, body []byte) (code, msg string) {
	t.Helper()
	var e struct{ Error, Message, Code, Timestamp string }
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("gateway error body %q: %v", body, err)
	}
	if e.Error != e.Code || e.Timestamp == "" {
		t.Fatalf("gateway error body %q: error/code differ or no timestamp", body)
	}
	return e.Code, e.Message
}

func TestNewRejectsBadURL(t *testing.T) {
	for _, u := range []string{"", "order:8080", "ftp://x", "http://", "http://x/?a=1", "http://u:p@x"} {
		if _, err := New(Options{Name: "order", URL: u}); err == nil {
			t.Errorf("New(%q) succeeded", u)
		}
	}
}

// TestByteForByte: the upstream sees the client's method, path, query,
// headers and body exactly (hop-by-hop headers excepted), and the client
// gets the upstream's status, headers and body exactly.
func TestByteForByte(t *testing.T) {
	body := []byte("{\"a\":1}\x00\xff\xfe binary \r\n tail")
	type seen struct {
		method, uri string
		hdr         http.Header
		body        []byte
	}
	got := make(chan seen, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.RequestURI, r.Header.Clone(), b}
		h := w.Header()
		h["Set-Cookie"] = []string{"a=1; Path=/", "b=2"}
		h["X-Odd"] = []string{"  spaced  value  "}
		h["Content-Type"] = []string{"application/octet-stream"}
		status := http.StatusCreated
		if r.URL.Query().Get("status") == "404" {
			status = http.StatusNotFound
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	defer up.Close()
	p := newProxy(t, Options{URL: up.URL, DropRequestHeaders: []string{"origin"}})
	front := httptest.NewServer(p)
	defer front.Close()

	for _, tc := range []struct {
		name   string
		method string
		path   string
		status int
	}{
		{"post created", "POST", "/api/v1/orders?x=1&y=%20z", 201},
		{"put not found", "PUT", "/api/v1/orders/abc%2Fdef?status=404", 404},
		{"delete", "DELETE", "/api/v1/orders/o-1234567890", 201},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, front.URL+tc.path, bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer a.b.c")
			req.Header.Set("Idempotency-Key", "k-1")
			req.Header["X-Multi"] = []string{"one", "two"}
			req.Header.Set("Origin", "https://evil.example")
			req.Header.Set("Connection", "X-Hop")
			req.Header.Set("X-Hop", "secret")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			rb, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !bytes.Equal(rb, body) {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, rb, tc.status, body)
			}
			if c := resp.Header["Set-Cookie"]; !slices.Equal(c, []string{"a=1; Path=/", "b=2"}) {
				t.Errorf("Set-Cookie %q", c)
			}
			if v := resp.Header["X-Odd"]; !slices.Equal(v, []string{"spaced  value"}) { // HTTP/1 trims outer space
				t.Errorf("X-Odd %q", v)
			}
			if v := resp.Header.Get("Content-Length"); v != strconv.Itoa(len(body)) {
				t.Errorf("Content-Length %q", v)
			}
			s := <-got
			if s.method != tc.method || s.uri != tc.path || !bytes.Equal(s.body, body) {
				t.Errorf("upstream saw %s %s %q", s.method, s.uri, s.body)
			}
			for k, want := range map[string][]string{
				"Authorization": {"Bearer a.b.c"}, "Idempotency-Key": {"k-1"}, "X-Multi": {"one", "two"},
				"X-Forwarded-For": {"127.0.0.1"}, "Origin": nil, "X-Hop": nil,
			} {
				if v := s.hdr[k]; !slices.Equal(v, want) {
					t.Errorf("upstream header %s = %q, want %q", k, v, want)
				}
			}
		})
	}
}

// TestErrors: a slow upstream is a 504, an unreachable one a 502, and a
// client that leaves is recorded 499 without a verdict on the upstream.
func TestErrors(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer slow.Close()
	defer close(release)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now

	for _, tc := range []struct {
		name     string
		url      string
		cancel   bool
		status   int
		code     string
		outcome  State
		failures int
	}{
		{"timeout", slow.URL, false, 504, CodeGatewayTimeout, Open, 1},
		{"refused", deadURL, false, 502, gateway.CodeBadGateway, Open, 1},
		{"client gone", slow.URL, true, StatusClientClosedRequest, "", Closed, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProxy(t, Options{URL: tc.url, Timeout: 50 * time.Millisecond,
				Breaker: BreakerConfig{FailureThreshold: 1}})
			ctx, cancel := context.WithCancel(context.Background())
			if tc.cancel {
				cancel()
			}
			defer cancel()
			req := httptest.NewRequest("GET", "/api/v1/orders", nil).WithContext(ctx)
			rec := httptest.NewRecorder()
			p.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d (%s)", rec.Code, tc.status, rec.Body)
			}
			if tc.code != "" {
				if code, _ := gatewayError(t, rec.Body.Bytes()); code != tc.code {
					t.Errorf("code %s, want %s", code, tc.code)
				}
			}
			if s := p.Breaker().State(); s != tc.outcome {
				t.Errorf("breaker %v, want %v", s, tc.outcome)
			}
		})
	}
}

// TestBreakerThroughProxy drives the breaker with upstream answers and an
// injected clock: 5xx open it, 4xx never count, the open breaker answers
// 503 without calling the upstream, and a probe after the cool-down closes
// or re-opens it.
func TestBreakerThroughProxy(t *testing.T) {
	var status atomic.Int32
	var calls atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(int(status.Load()))
		_, _ = w.Write([]byte("upstream"))
	}))
	defer up.Close()
	clock := fakeclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var changes []string
	var mu sync.Mutex
	p := newProxy(t, Options{URL: up.URL, Breaker: BreakerConfig{FailureThreshold: 3, CoolDown: 10 * time.Second,
		Now: clock.Now, OnChange: func(from, to State) {
			mu.Lock()
			changes = append(changes, from.String()+">"+to.String())
			mu.Unlock()
		}}})

	type step struct {
		upstream   int           // status the upstream answers
		advance    time.Duration // clock advance before the request
		wantStatus int
		wantCalled bool
		wantState  State
	}
	steps := []step{
		{500, 0, 500, true, Closed},
		{502, 0, 502, true, Closed},
		{404, 0, 404, true, Closed}, // a 4xx resets the count
		{500, 0, 500, true, Closed},
		{500, 0, 500, true, Closed},
		{422, 0, 422, true, Closed},
		{401, 0, 401, true, Closed},
		{503, 0, 503, true, Closed},
		{500, 0, 500, true, Closed},
		{500, 0, 500, true, Open}, // third consecutive failure
		{200, 0, 503, false, Open},
		{200, 9 * time.Second, 503, false, Open},
		{500, time.Second, 500, true, Open}, // the probe fails: open again
		{200, 5 * time.Second, 503, false, Open},
		{200, 5 * time.Second, 200, true, Closed}, // the probe succeeds
		{200, 0, 200, true, Closed},
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		status.Store(int32(s.upstream))
		before := calls.Load()
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/orders", nil))
		called := calls.Load() != before
		if rec.Code != s.wantStatus || called != s.wantCalled || p.Breaker().State() != s.wantState {
			t.Fatalf("step %d: status %d called %v state %v, want %d %v %v", i, rec.Code, called,
				p.Breaker().State(), s.wantStatus, s.wantCalled, s.wantState)
		}
		if s.wantCalled && rec.Body.String() != "upstream" {
			t.Fatalf("step %d: body %q", i, rec.Body)
		}
		if !s.wantCalled {
			code, msg := gatewayError(t, rec.Body.Bytes())
			if code != gateway.CodeServiceUnavailable || msg != "the order service is unavailable; retry later" {
				t.Fatalf("step %d: %s %q", i, code, msg)
			}
			if ra := rec.Header().Get("Retry-After"); ra == "" {
				t.Fatalf("step %d: no Retry-After", i)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"closed>open", "open>half_open", "half_open>open", "open>half_open", "half_open>closed"}
	if !slices.Equal(changes, want) {
		t.Errorf("changes %q, want %q", changes, want)
	}
}

func TestBreakerStates(t *testing.T) {
	clock := fakeclock.New(time.Unix(1000, 0))
	b := NewBreaker(BreakerConfig{FailureThreshold: 2, CoolDown: time.Minute, Now: clock.Now})
	if _, ok := b.Allow(); !ok {
		t.Fatal("closed breaker refused")
	}
	b.Record(false, Failure)
	b.Record(false, Ignored) // no verdict: the count stays
	b.Record(false, Failure)
	if b.State() != Open || b.RetryIn() != time.Minute {
		t.Fatalf("state %v retry %v", b.State(), b.RetryIn())
	}
	clock.Advance(45 * time.Second)
	if _, ok := b.Allow(); ok || b.RetryIn() != 15*time.Second {
		t.Fatalf("allowed during cool-down or retry %v", b.RetryIn())
	}
	clock.Advance(15 * time.Second)
	probe, ok := b.Allow()
	if !probe || !ok || b.State() != HalfOpen {
		t.Fatalf("probe %v ok %v state %v", probe, ok, b.State())
	}
	if _, ok := b.Allow(); ok {
		t.Fatal("a second request passed while the probe is in flight")
	}
	b.Record(false, Success) // a late non-probe success changes nothing
	if b.State() != HalfOpen {
		t.Fatalf("state %v", b.State())
	}
	b.Record(true, Ignored) // the probe's client left: the next request probes
	probe, ok = b.Allow()
	if !probe || !ok {
		t.Fatalf("no second probe: %v %v", probe, ok)
	}
	b.Record(true, Success)
	if b.State() != Closed || b.RetryIn() != 0 {
		t.Fatalf("state %v", b.State())
	}
	if probe, ok := b.Allow(); probe || !ok {
		t.Fatalf("closed: probe %v ok %v", probe, ok)
	}
}

// TestStreamThroughGateway: an SSE stream passes through the gateway and
// the proxy event by event (the second event is only sent after the client
// read the first), and the gateway's own response headers win over the
// upstream's copies.
func TestStreamThroughGateway(t *testing.T) {
	next := make(chan struct{})
	upSaw := make(chan http.Header, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upSaw <- r.Header.Clone()
		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("X-Request-Id", "upstream-id")
		h.Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "id: 1\nevent: price\ndata: {\"a\":1}\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-next:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "id: 2\nevent: price\ndata: {\"a\":2}\n\n")
	}))
	defer up.Close()
	p := newProxy(t, Options{URL: up.URL})
	iss, err := auth.NewIssuer([]byte(strings.Repeat("s", 32)), auth.IssuerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	gw, err := gateway.New(gateway.Config{}, gateway.RouteTable{{Method: "GET", Pattern: "/api/v1/stream", Access: gateway.Public}},
		p, gateway.Deps{Tokens: iss, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(gw)
	defer front.Close()

	req, _ := http.NewRequest("GET", front.URL+"/api/v1/stream", nil)
	req.Header.Set("X-Request-ID", "client-req-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v := resp.Header["X-Request-Id"]; !slices.Equal(v, []string{"client-req-1"}) {
		t.Errorf("X-Request-Id %q", v)
	}
	if v := resp.Header.Get("Content-Type"); v != "text/event-stream" {
		t.Errorf("Content-Type %q", v)
	}
	if h := <-upSaw; h.Get("X-Request-Id") != "client-req-1" || h.Get("X-Forwarded-For") != "127.0.0.1" {
		t.Errorf("upstream saw X-Request-Id %q X-Forwarded-For %q", h.Get("X-Request-Id"), h.Get("X-Forwarded-For"))
	}
	br := bufio.NewReader(resp.Body)
	readEvent := func() string {
		var b strings.Builder
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("read: %v (so far %q)", err, b.String())
			}
			if line == "\n" {
				return b.String()
			}
			b.WriteString(line)
		}
	}
	if ev := readEvent(); ev != "id: 1\nevent: price\ndata: {\"a\":1}\n" {
		t.Fatalf("first event %q", ev)
	}
	close(next)
	if ev := readEvent(); ev != "id: 2\nevent: price\ndata: {\"a\":2}\n" {
		t.Fatalf("second event %q", ev)
	}
	if rest, _ := io.ReadAll(br); len(rest) != 0 {
		t.Fatalf("trailing %q", rest)
	}
}

func TestMetrics(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
	}))
	defer up.Close()
	m, err := NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, Options{URL: up.URL, Metrics: m, Breaker: BreakerConfig{FailureThreshold: 1}})
	for range 2 {
		p.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}
	for _, c := range []struct {
		name string
		v    float64
	}{{"failure", 1}, {"rejected", 1}, {"success", 0}} {
		if got := metricValue(t, m.requests.WithLabelValues("order", c.name)); got != c.v {
			t.Errorf("%s = %v, want %v", c.name, got, c.v)
		}
	}
	if got := metricValue(t, m.state.WithLabelValues("order")); got != float64(Open) {
		t.Errorf("state gauge %v", got)
	}
}

func metricValue(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}
