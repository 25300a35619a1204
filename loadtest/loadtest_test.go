package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/gateway"
	"github.com/orderprocessor/orderprocessor/platform"
	"github.com/orderprocessor/orderprocessor/trading"
	"github.com/orderprocessor/orderprocessor/verify"
)

// startPlatform runs the real platform (embedded store in a temp dir, static
// prices, no rate limiting) behind an httptest server.
func startPlatform(t *testing.T, tcfg trading.Config) (*platform.Platform, string) {
	t.Helper()
	g := gateway.DefaultConfig()
	g.RateLimit = 0
	p, err := platform.Open(context.Background(), platform.Config{
		DataDir:        t.TempDir(),
		JWTSecret:      []byte("loadtest-test-secret-0123456789abcdef"),
		Gateway:        g,
		Trading:        tcfg,
		PriceFeed:      "static",
		PasswordParams: auth.Params{MemoryKiB: 64, Iterations: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p.Handler)
	t.Cleanup(func() {
		srv.Close()
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return p, srv.URL
}

// checkStats asserts the bookkeeping of s: every attempt is a success or an
// error, and the errors by status add up to the errors.
func checkStats(t *testing.T, name string, s Stats) {
	t.Helper()
	var byStatus int64
	for _, n := range s.ErrorsByStatus {
		byStatus += n
	}
	if s.Successes+s.Errors != s.Attempts || byStatus != s.Errors {
		t.Errorf("%s: attempts %d, successes %d, errors %d, by status %v: not accounted for",
			name, s.Attempts, s.Successes, s.Errors, s.ErrorsByStatus)
	}
	l := s.Latency
	if s.Attempts > 0 && !(0 < l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.Max && l.Mean <= l.Max) {
		t.Errorf("%s: latency %+v not ordered", name, l)
	}
}

func TestRunAgainstPlatform(t *testing.T) {
	p, url := startPlatform(t, trading.DefaultConfig())
	var progress bytes.Buffer
	rep, err := Run(context.Background(), Config{
		URL: url, Users: 4, Concurrency: 4, Duration: 2 * time.Second,
		CeilingDuration: 300 * time.Millisecond,
		Mix:             Mix{OpBuy: 40, OpSell: 40, OpLimit: 10, OpRead: 10},
		Progress:        &progress,
	})
	if err != nil {
		t.Fatal(err)
	}

	buy, sell, limit, read, cancel := rep.Ops["buy"], rep.Ops["sell"], rep.Ops["limit"], rep.Ops["read"], rep.Ops["cancel"]
	if buy.Successes == 0 || sell.Successes == 0 || limit.Successes == 0 || read.Successes == 0 || cancel.Successes == 0 {
		t.Fatalf("ops %+v: want every op sent and answered 2xx", rep.Ops)
	}
	if n := rep.ServerErrors(); n != 0 {
		t.Errorf("ServerErrors() = %d, want 0", n)
	}
	for name, s := range rep.Ops {
		checkStats(t, name, s)
		// The generator never sells what it has not bought, nor buys
		// without the cash: no request fails.
		if s.Errors != 0 {
			t.Errorf("%s: errors %v, want none", name, s.ErrorsByStatus)
		}
	}
	checkStats(t, "orders", rep.Orders)
	if got, want := rep.Orders.Attempts, buy.Attempts+sell.Attempts+limit.Attempts; got != want {
		t.Errorf("orders.attempts = %d, want buy+sell+limit = %d", got, want)
	}
	if got, want := rep.Orders.Successes, buy.Successes+sell.Successes+limit.Successes; got != want {
		t.Errorf("orders.successes = %d, want buy+sell+limit = %d", got, want)
	}
	if rep.Orders.Placed != rep.Orders.Successes || rep.Batch != 1 {
		t.Errorf("single orders: placed %d, successes %d, batch %d", rep.Orders.Placed, rep.Orders.Successes, rep.Batch)
	}
	// Every other limit op of a client for a user cancels the order placed
	// by the one before.
	if cancel.Attempts > limit.Attempts || limit.Attempts > cancel.Attempts+4 {
		t.Errorf("%d limit orders, %d cancels: want as many, give or take one per client", limit.Attempts, cancel.Attempts)
	}
	// A user cannot sell more than it bought.
	if sell.Successes > buy.Successes {
		t.Errorf("%d sells > %d buys", sell.Successes, buy.Successes)
	}
	if rep.Users != 4 || rep.Concurrency != 4 || rep.Mix != "buy=40,sell=40,limit=10,read=10" ||
		!slices.Equal(rep.Assets, []string{"BTC"}) || rep.Quantity != "0.001" || rep.Interrupted {
		t.Errorf("report header %+v", rep)
	}
	if rep.ElapsedSeconds < 2 || rep.OrdersPerSecond <= 0 || rep.RequestsPerSecond < rep.OrdersPerSecond {
		t.Errorf("elapsed %v, orders/s %v, requests/s %v", rep.ElapsedSeconds, rep.OrdersPerSecond, rep.RequestsPerSecond)
	}
	c := rep.Ceiling
	if c == nil || c.Path != "/health/live" || c.Successes == 0 || c.Errors != 0 || c.RequestsPerSecond <= 0 {
		t.Fatalf("ceiling %+v", c)
	}
	checkStats(t, "ceiling", c.Stats)
	if want := rep.OrdersPerSecond / c.RequestsPerSecond; rep.CeilingRatio < want-1e-4 || rep.CeilingRatio > want+1e-4 {
		t.Errorf("ceiling_ratio = %v, want %v", rep.CeilingRatio, want)
	}
	if !strings.Contains(progress.String(), "loadtest:") {
		t.Errorf("no progress line in %q", progress.String())
	}

	// The JSON report has the documented fields and decodes back to the report.
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(buf.Bytes(), &fields); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"url", "users", "concurrency", "mix", "duration_seconds", "elapsed_seconds",
		"orders", "orders_per_second", "requests_per_second", "ops", "ceiling", "ceiling_ratio"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("JSON report has no %q: %s", k, buf.Bytes())
		}
	}
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, rep) {
		t.Errorf("JSON round trip:\n got %+v\nwant %+v", back, *rep)
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if s := text.String(); !strings.Contains(s, "orders/s") || !strings.Contains(s, "  cancel ") {
		t.Errorf("text report:\n%s", s)
	}

	// Every order placed is in the store, and the ledger is consistent.
	vr, err := verify.Run(context.Background(), p.DAOs)
	if err != nil {
		t.Fatal(err)
	}
	if !vr.OK() {
		t.Fatalf("ledger violations after the load: %v", vr.Violations)
	}
	if vr.Users != 4 || int64(vr.Orders) != rep.Orders.Successes {
		t.Errorf("store: %d users, %d orders; want 4 users, %d orders", vr.Users, vr.Orders, rep.Orders.Successes)
	}
	var resting int64
	err = p.DAOs.Analytics.Usernames(context.Background(), func(u string) error {
		orders, _, err := p.DAOs.Orders.ListByUser(context.Background(), u, dao.OrderFilter{Status: entity.StatusQueued, Limit: 1000})
		resting += int64(len(orders))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := limit.Successes - cancel.Successes; resting != want {
		t.Errorf("%d resting orders in the store, want %d limit orders - %d cancels", resting, limit.Successes, cancel.Successes)
	}
}

func TestRunSetupErrors(t *testing.T) {
	tcfg := trading.DefaultConfig()
	_, url := startPlatform(t, tcfg)
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"bad url", Config{URL: "127.0.0.1:1"}, "want http://"},
		{"bad quantity", Config{URL: url, Quantity: "-1"}, `quantity "-1"`},
		{"bad asset", Config{URL: url, Assets: []string{"BT-C"}}, `asset "BT-C"`},
		{"unknown asset", Config{URL: url, Assets: []string{"NOPE"}}, "asset NOPE: GET /api/v1/inventory/assets/NOPE: status 404"},
		{"deposit too small", Config{URL: url, Deposit: "10", Quantity: "1"}, "a deposit of 10 does not pay for one order of 1 BTC"},
		{"over the daily limit", Config{URL: url, Users: 1, Deposit: "10000.01"}, "status 422"},
		{"server down", Config{URL: "http://127.0.0.1:1"}, "server not live"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Duration = time.Millisecond
			_, err := Run(context.Background(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run() error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestRunInterrupted(t *testing.T) {
	_, url := startPlatform(t, trading.DefaultConfig())
	ctx, cancel := context.WithCancel(context.Background())
	var progress syncWriter
	progress.onWrite = cancel // the first progress line stops the run
	rep, err := Run(ctx, Config{URL: url, Users: 2, Concurrency: 2, Duration: time.Hour,
		CeilingDuration: time.Hour, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Interrupted || rep.Ceiling != nil || rep.ElapsedSeconds > 60 {
		t.Fatalf("interrupted %v, ceiling %+v, elapsed %v", rep.Interrupted, rep.Ceiling, rep.ElapsedSeconds)
	}
	checkStats(t, "orders", rep.Orders)
	if rep.ServerErrors() != 0 {
		t.Errorf("server errors %d", rep.ServerErrors())
	}
}

// syncWriter calls onWrite on its first write.
type syncWriter struct {
	onWrite func()
	done    bool
}

func (w *syncWriter) Write(p []byte) (int, error) {
	if !w.done { // only the progress goroutine writes
		w.done = true
		w.onWrite()
	}
	return len(p), nil
}

func TestParseMix(t *testing.T) {
	tests := []struct {
		in      string
		want    Mix
		str     string
		wantErr string
	}{
		{"buy=45,sell=45,read=10", Mix{OpBuy: 45, OpSell: 45, OpRead: 10}, "buy=45,sell=45,read=10", ""},
		{" Buy = 1 , limit=2 ,", Mix{OpBuy: 1, OpLimit: 2}, "buy=1,limit=2", ""},
		{"read=3,sell=0", Mix{OpRead: 3}, "read=3", ""},
		{"buy=1,buy=2", Mix{}, "", "buy given twice"},
		{"cancel=1", Mix{}, "", `unknown op "cancel"`},
		{"trade=1", Mix{}, "", `unknown op "trade"`},
		{"buy", Mix{}, "", `"buy" is not op=weight`},
		{"buy=-1", Mix{}, "", "weight of buy"},
		{"buy=x", Mix{}, "", "weight of buy"},
		{"buy=0", Mix{}, "", "sum to 0"},
		{"", Mix{}, "", "sum to 0"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseMix(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseMix(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want || got.String() != tt.str {
				t.Fatalf("ParseMix(%q) = %v (%q), %v; want %v (%q)", tt.in, got, got.String(), err, tt.want, tt.str)
			}
		})
	}
}

func TestMixPick(t *testing.T) {
	m := Mix{OpBuy: 2, OpSell: 0, OpLimit: 1, OpRead: 3}
	var got []Op
	for r := range m.total() {
		got = append(got, m.pick(r))
	}
	if want := []Op{OpBuy, OpBuy, OpLimit, OpRead, OpRead, OpRead}; !slices.Equal(got, want) {
		t.Fatalf("picks %v, want %v", got, want)
	}
}

func TestHistogramBuckets(t *testing.T) {
	tests := []struct {
		v      int64
		bucket int
		max    int64
	}{
		{0, 0, 0},
		{127, 127, 127},
		{128, 128, 129},
		{129, 128, 129},
		{255, 191, 255},
		{256, 192, 259},
		{1_000_000, 13*64 + 1_000_000>>13, (1_000_000>>13+1)<<13 - 1},
		{1<<62 + 5, 56*64 + 64, (65<<56 - 1)},
	}
	for _, tt := range tests {
		b := bucketOf(tt.v)
		if b != tt.bucket || bucketMax(b) != tt.max {
			t.Errorf("v %d: bucket %d (max %d), want %d (max %d)", tt.v, b, bucketMax(b), tt.bucket, tt.max)
		}
		if b >= numBuckets {
			t.Errorf("v %d: bucket %d out of range", tt.v, b)
		}
	}
	// Buckets are contiguous: every value's bucket follows the previous
	// bucket's maximum.
	for b := 0; b < numBuckets-1; b++ {
		if got := bucketOf(bucketMax(b) + 1); got != b+1 {
			t.Fatalf("bucketOf(bucketMax(%d)+1) = %d", b, got)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	if h.quantile(0.5) != 0 || h.latency() != (Latency{}) {
		t.Fatal("empty histogram not zero")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	samples := make([]int64, 10_000)
	for i := range samples {
		samples[i] = rng.Int64N(50_000_000) // up to 50 ms
		h.record(time.Duration(samples[i]))
	}
	slices.Sort(samples)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		exact := samples[int(q*float64(len(samples)))-1]
		got := h.quantile(q)
		if got < exact || float64(got-exact) > float64(exact)/64 {
			t.Errorf("quantile(%v) = %d, exact %d: off by more than 1/64", q, got, exact)
		}
	}
	if h.max != samples[len(samples)-1] || h.quantile(1) != h.max {
		t.Errorf("max %d, quantile(1) %d, want %d", h.max, h.quantile(1), samples[len(samples)-1])
	}
	// Merging two halves gives the same histogram.
	var a, b histogram
	for i, v := range samples {
		if i%2 == 0 {
			a.record(time.Duration(v))
		} else {
			b.record(time.Duration(v))
		}
	}
	a.merge(&b)
	if a != h {
		t.Error("merged halves differ from the whole")
	}
	var one histogram
	one.record(1500 * time.Microsecond)
	if l := one.latency(); l.Max != 1.5 || l.Mean != 1.5 || l.P50 < 1.5 || l.P50 > 1.5*(1+1.0/64) {
		t.Errorf("latency of one 1.5 ms sample = %+v", l)
	}
}

func TestAccountReservations(t *testing.T) {
	as := &asset{costCents: 4000}
	a := &account{held: make([]atomic.Int64, 1)}
	a.cashCents.Store(10000)
	var got []bool
	for range 3 {
		got = append(got, a.reserveBuy(as))
	}
	if want := []bool{true, true, false}; !slices.Equal(got, want) || a.cashCents.Load() != 2000 {
		t.Fatalf("buys %v, cash %d; want %v, 2000", got, a.cashCents.Load(), want)
	}
	if a.reserveSell(0) {
		t.Fatal("sold with nothing held")
	}
	a.held[0].Store(1)
	if !a.reserveSell(0) || a.reserveSell(0) || a.held[0].Load() != 0 {
		t.Fatalf("sells of one lot: held %d", a.held[0].Load())
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{Assets: []string{" eth "}, URL: "http://x:1/"}
	if err := c.defaults(); err != nil {
		t.Fatal(err)
	}
	want := Config{URL: "http://x:1", Users: DefaultConcurrency, Concurrency: DefaultConcurrency, Duration: DefaultDuration,
		Mix: DefaultMix, Assets: []string{"ETH"}, Quantity: DefaultQuantity, Deposit: DefaultDeposit, Timeout: 30 * time.Second}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("defaults:\n got %+v\nwant %+v", c, want)
	}
}

func TestOpStats(t *testing.T) {
	var a, b opStats
	for i, st := range []int{201, 422, 0, 201} {
		a.add(st, time.Millisecond, []int64{1, 0, 0, 1}[i])
	}
	for i, st := range []int{503, 422, 200} {
		b.add(st, 3*time.Millisecond, []int64{0, 0, 20}[i])
	}
	a.merge(&b)
	got := a.stats()
	want := Stats{Attempts: 7, Successes: 3, Errors: 4, Placed: 22,
		ErrorsByStatus: map[string]int64{"422": 2, "503": 1, "transport": 1}}
	lat := got.Latency
	got.Latency = Latency{}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("stats = %+v, want %+v", got, want)
	}
	// 4 samples of 1 ms, 3 of 3 ms: the median is 1 ms, p90 3 ms.
	if lat.P50 < 1 || lat.P50 > 1.016 || lat.P90 < 3 || lat.P90 > 3.05 || lat.Max != 3 || lat.Mean != 1.857 {
		t.Errorf("latency %+v", lat)
	}
	got.Latency = lat
	rep := &Report{Ops: map[string]Stats{"buy": got}, Orders: got, URL: "http://x", Concurrency: 1, Users: 1,
		Ceiling: &Ceiling{Path: CeilingPath, Stats: Stats{ErrorsByStatus: map[string]int64{"500": 2, "429": 1}}}}
	if n := rep.ServerErrors(); n != 4 { // 503, transport, 2 x 500
		t.Errorf("ServerErrors() = %d, want 4", n)
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if s := text.String(); !strings.Contains(s, "(422: 2, 503: 1, transport: 1)") || !strings.Contains(s, "(429: 1, 500: 2)") {
		t.Errorf("text report:\n%s", s)
	}
}

func TestOrderID(t *testing.T) {
	tests := []struct{ body, want string }{
		{`{"data":{"order_id":"01M8ACMMNW1HD0S80HD10RFSXV","order_type":"limit_buy"}}`, "01M8ACMMNW1HD0S80HD10RFSXV"},
		{`{"data":{"order_type":"limit_buy"}}`, ""},
		{`{"data":{"order_id":""}}`, ""},
		{`{"data":{"order_id":"` + strings.Repeat("a", 51) + `"}}`, ""},
		{`{"data":{"order_id":"unterminated`, ""},
	}
	for _, tt := range tests {
		if got := orderID([]byte(tt.body)); got != tt.want {
			t.Errorf("orderID(%s) = %q, want %q", tt.body, got, tt.want)
		}
	}
}

// With Batch, buys and sells go to the batch route: every request places
// Batch orders, and the report counts orders, not requests.
func TestRunBatches(t *testing.T) {
	p, url := startPlatform(t, trading.DefaultConfig())
	rep, err := Run(context.Background(), Config{
		URL: url, Users: 2, Concurrency: 2, Duration: time.Second, Batch: 5,
		Mix: Mix{OpBuy: 50, OpSell: 50}, Deposit: "10000",
	})
	if err != nil {
		t.Fatal(err)
	}
	buy, sell := rep.Ops["buy"], rep.Ops["sell"]
	if buy.Successes == 0 || sell.Successes == 0 || buy.Errors != 0 || sell.Errors != 0 {
		t.Fatalf("ops %+v: want buys and sells, all answered 2xx", rep.Ops)
	}
	if buy.Placed != 5*buy.Successes || sell.Placed != 5*sell.Successes || rep.Orders.Placed != buy.Placed+sell.Placed {
		t.Fatalf("placed: buy %d of %d requests, sell %d of %d, orders %d", buy.Placed, buy.Successes, sell.Placed, sell.Successes, rep.Orders.Placed)
	}
	if rep.Batch != 5 {
		t.Errorf("report batch = %d, want 5", rep.Batch)
	}
	vr, err := verify.Run(context.Background(), p.DAOs)
	if err != nil {
		t.Fatal(err)
	}
	if !vr.OK() || int64(vr.Orders) != rep.Orders.Placed {
		t.Fatalf("store: %d orders, violations %v; want %d orders", vr.Orders, vr.Violations, rep.Orders.Placed)
	}
	if _, err := Run(context.Background(), Config{URL: url, Batch: 101}); err == nil || !strings.Contains(err.Error(), "batch 101") {
		t.Errorf("batch 101: %v", err)
	}
}

func TestSucceeded(t *testing.T) {
	for in, want := range map[string]int64{
		`{"data":[],"succeeded":17,"failed":3}`: 17,
		`{"succeeded":0}`:                       0,
		`{"data":[]}`:                           0,
		`{"succeeded":`:                         0,
	} {
		if got := succeeded([]byte(in)); got != want {
			t.Errorf("succeeded(%s) = %d, want %d", in, got, want)
		}
	}
}
