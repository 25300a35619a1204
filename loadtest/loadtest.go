// Package loadtest is a load generator for a running Order Processor: it
// registers and funds users, then drives market orders (buys, and sells of
// what was bought), optionally limit orders and reads, from C concurrent
// keep-alive clients for a duration, and reports the order throughput, the
// errors by status code and the latency distribution. In the same run it
// measures GET /health/live at the same concurrency, the plain-HTTP ceiling
// of the server, and reports the ratio of the two.
//
// The generator shares the machine with the server in the usual setup, so it
// is kept cheap: order bodies are encoded once, answers are drained without
// being decoded, latencies go to fixed-size per-worker histograms.
package loadtest

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orderprocessor/orderprocessor/decimal"
)

// Defaults of Config.
const (
	DefaultURL             = "http://127.0.0.1:8080"
	DefaultConcurrency     = 16
	DefaultDuration        = 20 * time.Second
	DefaultWarmup          = 2 * time.Second
	DefaultCeilingDuration = 5 * time.Second
	DefaultQuantity        = "0.001"
	DefaultDeposit         = "10000"
	// CeilingPath is the trivial endpoint of the ceiling measurement.
	CeilingPath = "/health/live"
)

// Config is a load test. Zero fields take the defaults above, except
// CeilingDuration: 0 skips the ceiling measurement (use
// DefaultCeilingDuration for the default), and Progress: nil prints nothing.
type Config struct {
	// URL is the server's base URL (DefaultURL when empty).
	URL string
	// Users is the number of users registered and funded; 0 means one per
	// client. Client i trades for users i, i+Concurrency, ... in turn.
	Users int
	// Concurrency is the number of concurrent clients (DefaultConcurrency
	// when 0), each sending its next request when the previous one is
	// answered (closed loop).
	Concurrency int
	// Duration is the measured period (DefaultDuration when 0); Warmup runs
	// the same load before it without measuring (none when 0).
	Duration, Warmup time.Duration
	// CeilingDuration is how long GET /health/live is measured after the
	// order load (0: not measured).
	CeilingDuration time.Duration
	// Mix weighs the operations (DefaultMix when all zero).
	Mix Mix
	// Assets are the traded assets (BTC when empty); each order picks one at
	// random.
	Assets []string
	// Quantity is every order's quantity (DefaultQuantity when empty).
	Quantity string
	// Deposit is the amount in USD deposited for each user (DefaultDeposit
	// when empty): it must fit in the server's daily deposit limit.
	Deposit string
	// Progress receives one line per second while the load runs.
	Progress io.Writer
	// Timeout bounds each request (30 s when 0).
	Timeout time.Duration
	// Batch, from 2 to 100, sends every buy and sell as one POST
	// /api/v1/orders/batch of Batch identical orders (limit orders and
	// reads stay single); 0 or 1 sends single orders.
	Batch int
}

func (c *Config) defaults() error {
	if c.URL == "" {
		c.URL = DefaultURL
	}
	c.URL = strings.TrimRight(c.URL, "/")
	if !strings.HasPrefix(c.URL, "http://") && !strings.HasPrefix(c.URL, "https://") {
		return fmt.Errorf("url %q: want http://host:port or https://host:port", c.URL)
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.Users == 0 {
		c.Users = c.Concurrency
	}
	if c.Duration == 0 {
		c.Duration = DefaultDuration
	}
	if c.Mix == (Mix{}) {
		c.Mix = DefaultMix
	}
	if len(c.Assets) == 0 {
		c.Assets = []string{"BTC"}
	}
	if c.Quantity == "" {
		c.Quantity = DefaultQuantity
	}
	if c.Deposit == "" {
		c.Deposit = DefaultDeposit
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	switch {
	case c.Concurrency < 0 || c.Concurrency > 10000:
		return fmt.Errorf("concurrency %d: want 1..10000", c.Concurrency)
	case c.Users < 0 || c.Users > 100000:
		return fmt.Errorf("users %d: want 1..100000", c.Users)
	case c.Duration < 0 || c.Warmup < 0 || c.CeilingDuration < 0:
		return errors.New("durations must not be negative")
	case c.Mix.total() <= 0:
		return errors.New("mix: the weights sum to 0")
	case c.Batch < 0 || c.Batch > 100:
		return fmt.Errorf("batch %d: want 0..100", c.Batch)
	}
	for i, a := range c.Assets {
		a = strings.ToUpper(strings.TrimSpace(a))
		if a == "" || len(a) > 10 || strings.IndexFunc(a, func(r rune) bool { return !('A' <= r && r <= 'Z' || '0' <= r && r <= '9') }) >= 0 {
			return fmt.Errorf("asset %q: want 1-10 letters or digits", c.Assets[i])
		}
		c.Assets[i] = a
	}
	return nil
}

// Report is the result of a run. Rates are per second of the measured
// period; latencies are in milliseconds.
type Report struct {
	URL         string    `json:"url"`
	StartedAt   time.Time `json:"started_at"`
	Users       int       `json:"users"`
	Concurrency int       `json:"concurrency"`
	Mix         string    `json:"mix"`
	Assets      []string  `json:"assets"`
	Quantity    string    `json:"quantity"`
	// Batch is the number of orders in each buy and sell request (1: single
	// orders).
	Batch int `json:"batch"`
	// WarmupSeconds and DurationSeconds are the configured periods;
	// ElapsedSeconds is the measured period as it ran (up to the last answer
	// of a request sent in it), shorter when interrupted.
	WarmupSeconds   float64 `json:"warmup_seconds"`
	DurationSeconds float64 `json:"duration_seconds"`
	ElapsedSeconds  float64 `json:"elapsed_seconds"`
	Interrupted     bool    `json:"interrupted"`
	// Orders sums the order operations (buy, sell, limit).
	Orders Stats `json:"orders"`
	// OrdersPerSecond counts the orders placed: 2xx answers to single
	// orders, the succeeded orders of batches.
	OrdersPerSecond float64 `json:"orders_per_second"`
	// RequestsPerSecond counts every request of the measured period.
	RequestsPerSecond float64 `json:"requests_per_second"`
	// Ops has the statistics of each operation that was sent.
	Ops map[string]Stats `json:"ops"`
	// Ceiling is the GET /health/live measurement (nil when skipped), and
	// CeilingRatio is OrdersPerSecond / Ceiling.RequestsPerSecond.
	Ceiling      *Ceiling `json:"ceiling,omitempty"`
	CeilingRatio float64  `json:"ceiling_ratio,omitempty"`
	// Warnings are conditions that make the figures doubtful (rate
	// limiting on the server, for one).
	Warnings []string `json:"warnings,omitempty"`
}

// Stats counts the requests of one kind. Attempts == Successes + Errors.
type Stats struct {
	Attempts  int64 `json:"attempts"`
	Successes int64 `json:"successes"`
	Errors    int64 `json:"errors"`
	// Placed counts the orders the requests placed (a 2xx single order is
	// one; a batch counts its succeeded orders); 0 for reads.
	Placed int64 `json:"placed,omitempty"`
	// ErrorsByStatus counts the errors by HTTP status ("422"), and by
	// "transport" for requests that got no answer.
	ErrorsByStatus map[string]int64 `json:"errors_by_status"`
	// Latency is the distribution over every attempt, answered or not.
	Latency Latency `json:"latency_ms"`
}

// Latency is a latency distribution in milliseconds. Percentiles are the
// upper bounds of log-linear buckets (at most 1/64 above the exact value).
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Ceiling is the plain-HTTP measurement of the same server.
type Ceiling struct {
	Path              string  `json:"path"`
	DurationSeconds   float64 `json:"duration_seconds"`
	ElapsedSeconds    float64 `json:"elapsed_seconds"`
	RequestsPerSecond float64 `json:"requests_per_second"`
	Stats
}

// ServerErrors counts the 5xx answers and the requests that got no answer,
// of the order load and of the ceiling measurement.
func (r *Report) ServerErrors() int64 {
	var n int64
	count := func(s Stats) {
		for k, v := range s.ErrorsByStatus {
			if k == "transport" || strings.HasPrefix(k, "5") {
				n += v
			}
		}
	}
	for _, s := range r.Ops {
		count(s)
	}
	if r.Ceiling != nil {
		count(r.Ceiling.Stats)
	}
	return n
}

// opStats accumulates one worker's requests of one kind.
type opStats struct {
	attempts, ok int64
	placed       int64
	errs         map[int]int64 // by status; 0 = no answer
	hist         histogram
}

// add records a request answered with status after d that placed placed orders.
func (s *opStats) add(status int, d time.Duration, placed int64) {
	s.attempts++
	s.placed += placed
	s.hist.record(d)
	if status >= 200 && status < 300 {
		s.ok++
		return
	}
	if s.errs == nil {
		s.errs = make(map[int]int64)
	}
	s.errs[status]++
}

func (s *opStats) merge(o *opStats) {
	s.attempts += o.attempts
	s.ok += o.ok
	s.placed += o.placed
	for k, v := range o.errs {
		if s.errs == nil {
			s.errs = make(map[int]int64)
		}
		s.errs[k] += v
	}
	s.hist.merge(&o.hist)
}

func (s *opStats) stats() Stats {
	st := Stats{Attempts: s.attempts, Successes: s.ok, Errors: s.attempts - s.ok, Placed: s.placed,
		ErrorsByStatus: map[string]int64{}, Latency: s.hist.latency()}
	for k, v := range s.errs {
		key := "transport"
		if k != 0 {
			key = strconv.Itoa(k)
		}
		st.ErrorsByStatus[key] += v
	}
	return st
}

// Run sets up the users and runs the load test of cfg against a running
// server, then the ceiling measurement. It returns an error when cfg is
// invalid or the setup fails (server unreachable, registration refused, a
// deposit over the daily limit...). Errors during the load are counted in
// the report, not returned. Cancelling ctx stops the load early: the report
// then covers what ran and has Interrupted set.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	qty, err := decimal.Parse(cfg.Quantity)
	if err != nil || !qty.IsPositive() {
		return nil, fmt.Errorf("quantity %q: want a positive decimal", cfg.Quantity)
	}
	deposit, err := decimal.Parse(cfg.Deposit)
	if err != nil || !deposit.IsPositive() {
		return nil, fmt.Errorf("deposit %q: want a positive decimal", cfg.Deposit)
	}

	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        cfg.Concurrency + 8,
		MaxIdleConnsPerHost: cfg.Concurrency,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	c := &client{base: cfg.URL, http: &http.Client{Transport: tr, Timeout: cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}

	rep := &Report{URL: cfg.URL, StartedAt: time.Now().UTC(), Users: cfg.Users, Concurrency: cfg.Concurrency,
		Mix: cfg.Mix.String(), Assets: cfg.Assets, Quantity: qty.String(), Batch: max(cfg.Batch, 1),
		WarmupSeconds: cfg.Warmup.Seconds(), DurationSeconds: cfg.Duration.Seconds(), Ops: map[string]Stats{}}

	hdr, err := c.call(ctx, http.MethodGet, CeilingPath, "", "", nil, http.StatusOK, nil)
	if err != nil {
		return nil, fmt.Errorf("server not live: %w", err)
	}
	if l := hdr.Get("X-RateLimit-Limit"); l != "" {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf(
			"the server rate-limits each client to %s requests per window: expect 429s (start it with --rate-limit 0)", l))
	}
	assets, err := c.loadAssets(ctx, cfg.Assets, qty, cfg.Batch)
	if err != nil {
		return nil, err
	}
	depositCents, ok := deposit.Mul(decimal.FromInt(100)).Round(0, decimal.Down).Int64()
	if !ok {
		return nil, fmt.Errorf("deposit %s out of range", deposit)
	}
	for _, a := range assets {
		if a.costCents > depositCents {
			return nil, fmt.Errorf("a deposit of %s does not pay for one order of %s %s", deposit, qty, a.id)
		}
	}
	runID := strings.ToLower(crand.Text()[:6])
	accounts, err := c.setupAccounts(ctx, "lt"+runID, cfg.Users, min(cfg.Concurrency, 4), deposit, len(assets))
	if err != nil {
		return nil, err
	}

	r := &runner{c: c, cfg: &cfg, assets: assets, reqCtx: context.WithoutCancel(ctx),
		ordersURL: cfg.URL + "/api/v1/orders", marketURL: cfg.URL + "/api/v1/orders"}
	if cfg.Batch > 1 {
		r.marketURL = cfg.URL + "/api/v1/orders/batch"
	}
	for _, p := range readPaths {
		r.readURLs = append(r.readURLs, cfg.URL+p)
	}
	start := time.Now()
	measureFrom := start.Add(cfg.Warmup)
	workers := make([]*worker, cfg.Concurrency)
	for i := range workers {
		w := &worker{r: r, id: i, rng: rand.New(rand.NewPCG(uint64(i), uint64(start.UnixNano()))),
			idemPrefix: runID + "-" + strconv.Itoa(i) + "-"}
		if len(accounts) < cfg.Concurrency {
			w.accounts = []*account{accounts[i%len(accounts)]}
		}
		for j := i; j < len(accounts); j += cfg.Concurrency {
			w.accounts = append(w.accounts, accounts[j])
		}
		workers[i] = w
	}
	elapsed := r.drive("orders", measureFrom, cfg.Progress, func(i int) {
		workers[i].loop(ctx, measureFrom, measureFrom.Add(cfg.Duration))
	})
	rep.ElapsedSeconds = elapsed.Seconds()
	rep.Interrupted = ctx.Err() != nil

	var total, orders opStats
	for op := range numOps {
		var s opStats
		for _, w := range workers {
			s.merge(&w.stats[op])
		}
		if s.attempts == 0 {
			continue
		}
		rep.Ops[op.String()] = s.stats()
		total.merge(&s)
		if op.isOrder() {
			orders.merge(&s)
		}
	}
	rep.Orders = orders.stats()
	if elapsed > 0 {
		rep.OrdersPerSecond = round2(float64(orders.placed) / elapsed.Seconds())
		rep.RequestsPerSecond = round2(float64(total.attempts) / elapsed.Seconds())
	}

	if cfg.CeilingDuration > 0 && ctx.Err() == nil {
		rep.Ceiling = r.ceiling(ctx, cfg.CeilingDuration)
		if rep.Ceiling.RequestsPerSecond > 0 {
			rep.CeilingRatio = math.Round(rep.OrdersPerSecond/rep.Ceiling.RequestsPerSecond*1e4) / 1e4
		}
	}
	return rep, nil
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// runner drives the workers of one phase.
type runner struct {
	c      *client
	cfg    *Config
	assets []*asset
	// reqCtx is the context of the load's requests: not cancelled with the
	// run's, so that the requests in flight when it stops are answered and
	// counted.
	reqCtx    context.Context
	ordersURL string
	// marketURL receives the buys and sells: ordersURL, or the batch route.
	marketURL string
	readURLs  []string
	// Live counters of the phase running, for the progress lines.
	okOrders, okOther, errs atomic.Int64
}

// drive runs loop(i) for each of cfg.Concurrency clients, printing progress
// meanwhile, and returns the measured period as it ran: from measureFrom to
// the last answer.
func (r *runner) drive(what string, measureFrom time.Time, progress io.Writer, loop func(i int)) time.Duration {
	r.okOrders.Store(0)
	r.okOther.Store(0)
	r.errs.Store(0)
	start := time.Now()
	done := make(chan struct{})
	var pwg sync.WaitGroup
	if progress != nil {
		pwg.Go(func() { r.progress(what, start, measureFrom, progress, done) })
	}
	var wg sync.WaitGroup
	for i := range r.cfg.Concurrency {
		wg.Go(func() { loop(i) })
	}
	wg.Wait()
	finished := time.Now()
	close(done)
	pwg.Wait()
	if finished.Before(measureFrom) {
		return 0 // interrupted during the warmup
	}
	return finished.Sub(measureFrom)
}

// progress prints one line a second until done.
func (r *runner) progress(what string, start, measureFrom time.Time, w io.Writer, done <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var lastOrders, lastOther int64
	last := start
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			o, x := r.okOrders.Load(), r.okOther.Load()
			secs := now.Sub(last).Seconds()
			phase := ""
			if now.Before(measureFrom) {
				phase = " (warmup)"
			}
			if what == "orders" {
				fmt.Fprintf(w, "loadtest: %5.0fs%s  orders/s %7.1f  reads/s %7.1f  errors %d\n",
					now.Sub(start).Seconds(), phase, float64(o-lastOrders)/secs, float64(x-lastOther)/secs, r.errs.Load())
			} else {
				fmt.Fprintf(w, "loadtest: %5.0fs  %s  req/s %7.1f  errors %d\n",
					now.Sub(start).Seconds(), what, float64(x-lastOther)/secs, r.errs.Load())
			}
			lastOrders, lastOther, last = o, x, now
		}
	}
}

// ceiling measures GET CeilingPath at the same concurrency for d.
func (r *runner) ceiling(ctx context.Context, d time.Duration) *Ceiling {
	url := r.c.base + CeilingPath
	stats := make([]opStats, r.cfg.Concurrency)
	start := time.Now()
	end := start.Add(d)
	elapsed := r.drive("ceiling "+CeilingPath, start, r.cfg.Progress, func(i int) {
		for ctx.Err() == nil {
			t0 := time.Now()
			if !t0.Before(end) {
				return
			}
			status := r.send(http.MethodGet, url, "", "", nil, nil)
			stats[i].add(status, time.Since(t0), 0)
			if status == http.StatusOK {
				r.okOther.Add(1)
			} else {
				r.errs.Add(1)
			}
		}
	})
	var s opStats
	for i := range stats {
		s.merge(&stats[i])
	}
	c := &Ceiling{Path: CeilingPath, DurationSeconds: d.Seconds(), ElapsedSeconds: elapsed.Seconds(), Stats: s.stats()}
	if elapsed > 0 {
		c.RequestsPerSecond = round2(float64(s.ok) / elapsed.Seconds())
	}
	return c
}

// send sends one request and drains the answer, into into when it is not
// nil; it returns the status, or 0 when there was no answer.
func (r *runner) send(method, url, auth, idemKey string, body []byte, into *bytes.Buffer) int {
	var rd io.Reader
	if body != nil {
		rd = &bodyReader{b: body}
	}
	req, err := http.NewRequestWithContext(r.reqCtx, method, url, rd)
	if err != nil {
		return 0
	}
	if body != nil {
		req.ContentLength = int64(len(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(&bodyReader{b: body}), nil }
		req.Header["Content-Type"] = jsonContentType
	}
	if auth != "" {
		req.Header["Authorization"] = []string{auth}
	}
	if idemKey != "" {
		req.Header["Idempotency-Key"] = []string{idemKey}
	}
	resp, err := r.c.http.Do(req)
	if err != nil {
		return 0
	}
	if into != nil {
		into.Reset()
		_, err = into.ReadFrom(resp.Body)
	} else {
		_, err = io.Copy(io.Discard, resp.Body)
	}
	_ = resp.Body.Close()
	if err != nil {
		return 0
	}
	return resp.StatusCode
}

var jsonContentType = []string{"application/json"}

// bodyReader reads a shared, pre-encoded body.
type bodyReader struct {
	b []byte
	i int
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.i >= len(b.b) {
		return 0, io.EOF
	}
	n := copy(p, b.b[b.i:])
	b.i += n
	return n, nil
}

// readPaths are the reads of OpRead, sent in turn.
var readPaths = []string{"/api/v1/orders?limit=10", "/api/v1/balance", "/api/v1/portfolio"}

// worker is one closed-loop client of the order load.
type worker struct {
	r          *runner
	id         int
	rng        *rand.Rand
	accounts   []*account
	next       int // the account of the next request
	idemPrefix string
	seq        uint64
	reads      int
	keyBuf     []byte
	body       bytes.Buffer // the answer to a limit order
	// open has the resting limit orders this worker placed, per account.
	open  map[*account][]openLimit
	stats [numOps]opStats
}

// openLimit is a resting limit order and the cash reserved for it.
type openLimit struct {
	id    string
	asset *asset
}

// loop sends requests until end or ctx is done, recording those sent from
// measureFrom on.
func (w *worker) loop(ctx context.Context, measureFrom, end time.Time) {
	total := w.r.cfg.Mix.total()
	for ctx.Err() == nil {
		t0 := time.Now()
		if !t0.Before(end) {
			return
		}
		acc := w.accounts[w.next]
		w.next = (w.next + 1) % len(w.accounts)
		op, status, placed := w.one(acc, w.r.cfg.Mix.pick(w.rng.IntN(total)))
		if !t0.Before(measureFrom) {
			w.stats[op].add(status, time.Since(t0), placed)
		}
		switch { // progress counts the warmup too
		case status < 200 || status > 299:
			w.r.errs.Add(1)
		case op.isOrder():
			w.r.okOrders.Add(placed)
		default:
			w.r.okOther.Add(1)
		}
	}
}

// one sends op for acc, or the op that can be sent instead (a buy when
// there is nothing to sell, a sell when there is no cash left, a cancel of
// the limit order placed before, a read when nothing else can be sent), and
// returns the op sent, its status and the number of orders it placed.
func (w *worker) one(acc *account, op Op) (Op, int, int64) {
	ai := 0
	if len(w.r.assets) > 1 {
		ai = w.rng.IntN(len(w.r.assets))
	}
	as := w.r.assets[ai]
	switch op {
	case OpSell:
		if acc.reserveSell(ai) {
			break
		}
		if acc.reserveBuy(as) {
			op = OpBuy
			break
		}
		op = OpRead
	case OpBuy:
		if acc.reserveBuy(as) {
			break
		}
		if acc.reserveSell(ai) {
			op = OpSell
			break
		}
		op = OpRead
	case OpLimit:
		if len(w.open[acc]) > 0 {
			return OpCancel, w.cancel(acc), 0
		}
		// The hold of a limit buy at half price is below as.costCents.
		if !acc.reserveBuy(as) {
			op = OpRead
		}
	}
	if op == OpRead {
		u := w.r.readURLs[w.reads%len(w.r.readURLs)]
		w.reads++
		return op, w.r.send(http.MethodGet, u, acc.auth, "", nil, nil), 0
	}
	w.seq++
	w.keyBuf = strconv.AppendUint(append(w.keyBuf[:0], w.idemPrefix...), w.seq, 10)
	var into *bytes.Buffer
	url := w.r.ordersURL
	batch := op != OpLimit && w.r.cfg.Batch > 1
	if op == OpLimit || batch {
		into = &w.body
	}
	if batch {
		url = w.r.marketURL
	}
	status := w.r.send(http.MethodPost, url, acc.auth, string(w.keyBuf), as.bodies[op], into)
	ok := status >= 200 && status < 300
	var placed int64
	switch {
	case ok && batch:
		placed = succeeded(w.body.Bytes())
	case ok:
		placed = 1
	}
	switch {
	case op == OpBuy && ok:
		acc.held[ai].Add(1)
	case op == OpSell && ok:
		acc.cashCents.Add(as.costCents)
	case op == OpSell:
		acc.held[ai].Add(1)
	case op == OpLimit && ok:
		if id := orderID(w.body.Bytes()); id != "" {
			if w.open == nil {
				w.open = make(map[*account][]openLimit)
			}
			w.open[acc] = append(w.open[acc], openLimit{id: id, asset: as})
		}
	default: // a buy or limit buy that failed
		acc.cashCents.Add(as.costCents)
	}
	return op, status, placed
}

// succeededKey precedes the count of placed orders in a batch's answer.
var succeededKey = []byte(`"succeeded":`)

// succeeded returns the "succeeded" count of a batch's answer (0 when absent).
func succeeded(b []byte) int64 {
	i := bytes.LastIndex(b, succeededKey)
	if i < 0 {
		return 0
	}
	var n int64
	for _, c := range b[i+len(succeededKey):] {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// cancel cancels the last limit order w placed for acc. Its cash comes back
// when the cancel succeeds; an order that is gone (404) or no longer open
// (409: it executed) is forgotten, its cash not counted again.
func (w *worker) cancel(acc *account) int {
	open := w.open[acc]
	o := open[len(open)-1]
	status := w.r.send(http.MethodDelete, w.r.ordersURL+"/"+o.id, acc.auth, "", nil, nil)
	switch {
	case status >= 200 && status < 300:
		acc.cashCents.Add(o.asset.costCents)
	case status != http.StatusNotFound && status != http.StatusConflict:
		return status // try again next time
	}
	w.open[acc] = open[:len(open)-1]
	return status
}

// orderIDKey precedes the order id in an order's JSON.
var orderIDKey = []byte(`"order_id":"`)

// orderID returns the first order_id of an order's JSON, "" when there is
// none.
func orderID(b []byte) string {
	i := bytes.Index(b, orderIDKey)
	if i < 0 {
		return ""
	}
	b = b[i+len(orderIDKey):]
	j := bytes.IndexByte(b, '"')
	if j <= 0 || j > 50 {
		return ""
	}
	return string(b[:j])
}
