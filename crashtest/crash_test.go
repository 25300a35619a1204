package crashtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/decimal"
)

// The crash test. Each round drives concurrent deposits, withdrawals and
// market buys/sells (each with a unique Idempotency-Key, journaled before it
// is sent and after its outcome), and batches of 2-4 buys and sells (POST
// /api/v1/orders/batch: one log sync per batch, each order with its
// client_order_id) against a real `orderprocessor serve` child
// process, kills it with SIGKILL at a random moment (50-400 ms into the
// burst; one round in three also kills the next start 0-500 ms in, during
// recovery), checks the crash image with `orderprocessor verify`, restarts
// the server on the same data directory, retries every request whose outcome
// is unknown with its key (twice at once), and reconciles the server's state
// with the client-side model:
//
//   - every acknowledged (2xx) request is there: its ledger entry, its order
//     (completed, with its asset movement), and a resend with its key is a
//     replay (Idempotent-Replayed: true) of the same body;
//   - every unacknowledged one takes effect at most once: its retry is either
//     a replay (it was applied before the crash) or a fresh execution; an
//     unacknowledged batch is resent whole, and its client_order_ids answer
//     the orders applied before the crash;
//   - the ledger holds exactly the effects of the effective requests, no more
//     (no double effect, no phantom) and no less (no lost write); balances,
//     totals and holdings equal the model exactly.
//
// Workers trade on three accounts (two workers each); every 10 rounds a new
// set takes over, so that a round's reconciliation stays small, and all
// accounts are reconciled again then and at the end. After the last round
// the server is stopped with SIGTERM and `verify` must pass on the store.
//
// SIGKILL tests a process crash: what the process wrote to the kernel
// survives it even without fsync. Power loss (unsynced page cache lost) is
// out of reach of this test.
//
// Environment: CRASHTEST_KILLS=N rounds (default 10, 3 with -short);
// CRASHTEST_SEED=S repeats a run's random choices (interleavings still vary);
// CRASHTEST_KEEP=1 keeps the work directory (data dir, server log, journal),
// which is always kept when the test fails. A long run, e.g.
//
//	CRASHTEST_KILLS=200 go test -run TestCrashRecovery -timeout 30m ./crashtest/

const (
	jwtSecret     = "crashtest-jwt-secret-that-is-long-enough-0123456789"
	adminPassword = "Crash-Admin-Pass1"
	userPassword  = "Crash-User-Pass1!"
	feeRate       = "0.001"
	// Daily limits far above what a run moves: the limit record is still
	// written in every cash transaction.
	dailyLimit = "100000000"

	numAccounts = 3
	rotateEvery = 10 // rounds on one set of accounts
	numWorkers  = 6  // two per account: concurrent writes to one balance
	minKillMS   = 50
	maxKillMS   = 400
	maxSamples  = 8 // acknowledged requests resent per round
)

// tradedAsset is an asset the workers trade, with the range of a buy's
// quantity; a sale's has the same minimum and half the maximum.
type tradedAsset struct {
	id             string
	minQty, maxQty int64 // in units of 10^-places
	places         int32
}

var traded = []tradedAsset{
	{"BTC", 100_000, 400_000, 8}, // 0.001-0.004 BTC
	{"ETH", 1_000, 80_000, 6},    // 0.001-0.08 ETH
	{"SOL", 100, 20_000, 4},      // 0.01-2 SOL
	{"DOGE", 1_000, 200_000, 2},  // 10-2000 DOGE
}

type opKind string

const (
	opDeposit  opKind = "deposit"
	opWithdraw opKind = "withdraw"
	opBuy      opKind = "market_buy"
	opSell     opKind = "market_sell"
)

type opState int

const (
	statePending  opState = iota
	stateApplied          // 2xx: its effect is in the ledger
	stateRejected         // a definite no-effect answer (422 insufficient funds)
	stateUnknown          // no answer (transport error) or 5xx: retry with the key
)

// op is one journaled mutating request and what became of it.
type op struct {
	round int
	tag   string
	key   string
	acct  *account
	kind  opKind
	path  string
	body  []byte

	amount decimal.Decimal // deposit, withdraw
	asset  string          // buy, sell
	qty    decimal.Decimal // buy, sell
	coid   string          // client_order_id of orders
	batch  *batch          // the batch request that carried this order, if any

	state    opState
	status   int
	resp     []byte // the body of the 2xx answer that settled it
	replayed bool   // settled by a replay
	retried  bool   // its first outcome was unknown
	err      string // the transport error or status that left it unknown

	txID    string          // deposit, withdraw: the ledger entry
	orderID string          // buy, sell
	total   decimal.Decimal // buy, sell: order total_amount (>= 0)
}

func (o *op) request() Request {
	return Request{Method: "POST", Path: o.path, Token: o.acct.token, Key: o.key, Body: o.body, Tag: o.tag}
}

// batch is one POST /api/v1/orders/batch: its orders are ops of their own
// (each with its client_order_id), settled from the per-order results.
type batch struct {
	tag, key string
	acct     *account
	ops      []*op
}

// request returns the batch request of b's orders, or of only those that
// keep says (nil: all).
func (b *batch) request(keep func(*op) bool) Request {
	var orders []json.RawMessage
	for _, o := range b.ops {
		if keep == nil || keep(o) {
			orders = append(orders, o.body)
		}
	}
	body, err := json.Marshal(map[string]any{"orders": orders})
	if err != nil {
		panic(err)
	}
	return Request{Method: "POST", Path: "/api/v1/orders/batch", Token: b.acct.token, Key: b.key, Body: body, Tag: b.tag}
}

// cashDelta is o's signed effect on the USD balance.
func (o *op) cashDelta() decimal.Decimal {
	switch o.kind {
	case opDeposit:
		return o.amount
	case opWithdraw:
		return o.amount.Neg()
	case opBuy:
		return o.total.Neg()
	default:
		return o.total
	}
}

type account struct {
	name  string
	token string
	mu    sync.Mutex
	ops   []*op
}

func (a *account) add(o *op) {
	a.mu.Lock()
	a.ops = append(a.ops, o)
	a.mu.Unlock()
}

// applied returns a's applied ops.
func (a *account) applied() []*op {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*op
	for _, o := range a.ops {
		if o.state == stateApplied {
			out = append(out, o)
		}
	}
	return out
}

type config struct {
	kills int
	seed  uint64
	keep  bool
}

func loadConfig(t *testing.T) config {
	t.Helper()
	cfg := config{kills: 10, seed: uint64(time.Now().UnixNano())}
	if testing.Short() {
		cfg.kills = 3
	}
	if v := os.Getenv("CRASHTEST_KILLS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("CRASHTEST_KILLS=%q: want a positive integer", v)
		}
		cfg.kills = n
	}
	if v := os.Getenv("CRASHTEST_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("CRASHTEST_SEED=%q: want an unsigned integer", v)
		}
		cfg.seed = s
	}
	cfg.keep = os.Getenv("CRASHTEST_KEEP") != ""
	return cfg
}

type stats struct {
	sent, applied, rejected, unknown     atomic.Int64
	replayedFirst                        atomic.Int64 // replayed on the first send (transport retry)
	foundApplied, appliedRetry, rejRetry int          // outcomes of retries of unknown ops
	batchApplied                         int          // orders of retried batches applied (before the crash or on the retry)
	replaysChecked                       int
	startupKills                         [2]int // killed before / after the ready line
	killDelays                           []time.Duration
	restart, verify, reconcile           time.Duration
}

type harness struct {
	t       *testing.T
	ctx     context.Context
	cfg     config
	rng     *rand.Rand
	bin     string
	work    string
	data    string
	log     *os.File
	journal *Journal
	client  *Client
	srv     *Server

	accounts []*account // the active ones
	all      []*account // every account of the run
	prices   map[string]decimal.Decimal
	fee      decimal.Decimal
	st       stats
}

func TestCrashRecovery(t *testing.T) {
	cfg := loadConfig(t)
	t.Logf("seed %d (CRASHTEST_SEED=%d repeats it), %d kills", cfg.seed, cfg.seed, cfg.kills)
	start := time.Now()
	h := newHarness(t, cfg)
	t.Logf("setup (build + first start + accounts): %v", time.Since(start).Round(time.Millisecond))

	for round := 1; round <= cfg.kills && !t.Failed(); round++ {
		h.round(round)
	}
	if !t.Failed() {
		h.final()
	}
	h.report(time.Since(start))
}

func newHarness(t *testing.T, cfg config) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h := &harness{t: t, ctx: ctx, cfg: cfg, rng: rand.New(rand.NewPCG(cfg.seed, 0x5eed)),
		prices: map[string]decimal.Decimal{}, fee: decimal.MustParse(feeRate)}

	work, err := os.MkdirTemp("", "crashtest-")
	if err != nil {
		t.Fatal(err)
	}
	h.work, h.data = work, filepath.Join(work, "data")
	t.Cleanup(func() {
		if h.srv != nil {
			_ = h.srv.Kill()
		}
		_ = h.journal.Close()
		_ = h.log.Close()
		if t.Failed() || cfg.keep {
			t.Logf("work directory kept: %s (data/, server.log, journal.jsonl); seed %d", work, cfg.seed)
			return
		}
		_ = os.RemoveAll(work)
	})
	if h.log, err = os.Create(filepath.Join(work, "server.log")); err != nil {
		t.Fatal(err)
	}
	if h.journal, err = CreateJournal(filepath.Join(work, "journal.jsonl")); err != nil {
		t.Fatal(err)
	}

	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := ModuleRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	h.bin = filepath.Join(work, "orderprocessor")
	t0 := time.Now()
	if err := Build(ctx, root, h.bin); err != nil {
		t.Fatal(err)
	}
	t.Logf("built %s in %v", h.bin, time.Since(t0).Round(time.Millisecond))

	h.start()
	h.client = NewClient(h.srv.URL, h.journal, 20*time.Second)
	h.loadPrices()
	h.newAccounts(1)
	return h
}

func (h *harness) serverConfig() ServerConfig {
	return ServerConfig{
		Binary: h.bin, DataDir: h.data, Stderr: h.log,
		Args: []string{"--price-feed", "static", "--rate-limit", "0", "--login-max-failures", "0", "--register-limit", "0",
			"--token-ttl", "24h", "--fee-rate", feeRate, "--deposit-daily-limit", dailyLimit, "--withdraw-daily-limit", dailyLimit},
		Env: []string{"ORDERPROCESSOR_JWT_SECRET=" + jwtSecret, "ORDERPROCESSOR_ADMIN_PASSWORD=" + adminPassword},
	}
}

func (h *harness) start() {
	h.t.Helper()
	fmt.Fprintf(h.log, "==== start %s\n", time.Now().UTC().Format(time.RFC3339Nano))
	srv, err := Start(h.ctx, h.serverConfig())
	if err != nil {
		h.t.Fatalf("%v (server log: %s)", err, h.log.Name())
	}
	h.srv = srv
	if h.client != nil {
		h.client.SetBaseURL(srv.URL)
	}
	h.journal.Note("server started: pid %d at %s", srv.Pid(), srv.URL)
}

// killDuringStartup starts the server and kills it after d, while it opens
// the store (WAL replay), provisions the admin user or has just become ready.
func (h *harness) killDuringStartup(d time.Duration) {
	fmt.Fprintf(h.log, "==== start, to be killed after %v: %s\n", d, time.Now().UTC().Format(time.RFC3339Nano))
	ctx, cancel := context.WithTimeout(h.ctx, d)
	defer cancel()
	srv, err := Start(ctx, h.serverConfig())
	switch {
	case err == nil:
		if err := srv.Kill(); err != nil {
			h.t.Fatal(err)
		}
		h.st.startupKills[1]++
	case errors.Is(err, context.DeadlineExceeded):
		h.st.startupKills[0]++
	default:
		h.t.Fatalf("start to be killed after %v: %v (server log: %s)", d, err, h.log.Name())
	}
	h.journal.Note("killed during startup after %v (ready: %v)", d, err == nil)
}

// newAccounts registers, logs in and funds (5,000 USD, acknowledged) a new
// set of accounts, which become the active ones the workers trade on.
func (h *harness) newAccounts(generation int) {
	t := h.t
	h.accounts = nil
	for i := range numAccounts {
		a := &account{name: fmt.Sprintf("crash_g%d_user_%d", generation, i+1)}
		reg := map[string]any{"username": a.name, "email": a.name + "@example.com", "password": userPassword,
			"first_name": "Crash", "last_name": "Tester"}
		if err := h.client.JSON(h.ctx, Request{Method: "POST", Path: "/api/v1/auth/register", Body: jsonBody(reg)}, 201, nil); err != nil {
			t.Fatal(err)
		}
		var login struct {
			AccessToken string `json:"access_token"`
		}
		if err := h.client.JSON(h.ctx, Request{Method: "POST", Path: "/api/v1/auth/login",
			Body: jsonBody(map[string]string{"username": a.name, "password": userPassword})}, 200, &login); err != nil {
			t.Fatal(err)
		}
		a.token = login.AccessToken
		h.accounts = append(h.accounts, a)
		h.all = append(h.all, a)
	}
	for i, a := range h.accounts {
		o := h.newCashOp(a, opDeposit, decimal.FromInt(5000), fmt.Sprintf("g%d/setup/%d", generation, i))
		h.st.sent.Add(1)
		resp, err := h.client.Do(h.ctx, o.request())
		if err != nil {
			t.Fatal(err)
		}
		h.settle(o, resp, false)
		if o.state != stateApplied {
			t.Fatalf("opening deposit of %s: status %d %s", a.name, resp.Status, resp.Body)
		}
		a.add(o)
	}
}

// loadPrices reads the traded assets' prices (static for the whole run).
func (h *harness) loadPrices() {
	for _, ta := range traded {
		var detail struct {
			Data struct {
				PriceUSD decimal.Decimal `json:"price_usd"`
				IsActive bool            `json:"is_active"`
			} `json:"data"`
		}
		if err := h.client.JSON(h.ctx, Request{Method: "GET", Path: "/api/v1/inventory/assets/" + ta.id}, 200, &detail); err != nil {
			h.t.Fatal(err)
		}
		if !detail.Data.IsActive || !detail.Data.PriceUSD.IsPositive() {
			h.t.Fatalf("asset %s: active %v, price %s: the seeded catalogue changed", ta.id, detail.Data.IsActive, detail.Data.PriceUSD)
		}
		h.prices[ta.id] = detail.Data.PriceUSD
	}
}

// round runs one burst, kills the server in the middle of it, checks the
// crash image, restarts, resolves unknown outcomes and reconciles.
func (h *harness) round(n int) {
	t := h.t
	if n > 1 && (n-1)%rotateEvery == 0 {
		// Fresh accounts keep each round's reconciliation small (listing a
		// ledger is quadratic in its length); the retired ones are checked
		// again now, after the crashes since they were last written.
		for _, a := range h.all {
			h.reconcile(fmt.Sprintf("before round %d", n), a)
		}
		h.newAccounts((n-1)/rotateEvery + 1)
	}
	delay := time.Duration(minKillMS+h.rng.IntN(maxKillMS-minKillMS)) * time.Millisecond
	h.st.killDelays = append(h.st.killDelays, delay)
	h.journal.Note("round %d: burst, kill after %v", n, delay)
	ops := h.burst(n, delay)
	h.journal.Note("round %d: killed", n)
	if err := h.journal.Flush(); err != nil {
		t.Fatal(err)
	}

	// One round in three also kills the restarting server before or just
	// after it is ready.
	if h.rng.IntN(3) == 0 {
		h.killDuringStartup(time.Duration(h.rng.IntN(500)) * time.Millisecond)
	}

	// The crash image alone must satisfy every ledger invariant: nothing
	// half-written survives a kill.
	t0 := time.Now()
	code, out, err := Verify(h.ctx, h.bin, h.data)
	h.st.verify += time.Since(t0)
	if err != nil || code != 0 {
		t.Fatalf("round %d: verify of the crash image (kill after %v): exit %d, %v\n%s", n, delay, code, err, out)
	}

	t0 = time.Now()
	h.start()
	h.st.restart += time.Since(t0)

	var unknown, settled []*op
	for _, o := range ops {
		switch o.state {
		case stateUnknown:
			unknown = append(unknown, o)
		case stateApplied:
			settled = append(settled, o)
		}
	}
	retried := map[*batch]bool{}
	for _, o := range unknown {
		switch {
		case o.batch == nil:
			h.retry(o)
		case !retried[o.batch]:
			retried[o.batch] = true
			h.retryBatch(o.batch)
		}
	}
	h.checkAcknowledged(n, settled)
	h.sampleReplays(n, settled)
	t0 = time.Now()
	for _, a := range h.accounts {
		h.reconcile(fmt.Sprintf("round %d", n), a)
	}
	h.st.reconcile += time.Since(t0)
	t.Logf("round %d: kill after %v: %d requests, %d acknowledged, %d unknown (retried)", n, delay, len(ops), len(settled), len(unknown))
}

// burst runs the workers until the server is killed after delay and
// returns every op they sent.
func (h *harness) burst(round int, delay time.Duration) []*op {
	var killed atomic.Bool
	results := make([][]*op, numWorkers)
	var wg sync.WaitGroup
	for w := range numWorkers {
		rng := rand.New(rand.NewPCG(h.cfg.seed, uint64(round)<<8|uint64(w)))
		acct := h.accounts[w%len(h.accounts)]
		wg.Go(func() { results[w] = h.worker(round, w, rng, acct, &killed) })
	}
	time.Sleep(delay)
	killed.Store(true)
	if err := h.srv.Kill(); err != nil {
		h.t.Fatal(err)
	}
	h.srv = nil
	wg.Wait()
	var all []*op
	for _, r := range results {
		all = append(all, r...)
	}
	return all
}

func (h *harness) worker(round, w int, rng *rand.Rand, acct *account, killed *atomic.Bool) []*op {
	var ops []*op
	for i := 0; !killed.Load(); i++ {
		tag := fmt.Sprintf("r%d/w%d/%d", round, w, i)
		var o *op
		switch p := rng.IntN(100); {
		case p < 30:
			o = h.newCashOp(acct, opDeposit, decimal.New(1000+rng.Int64N(59_000), -2), tag) // 10.00-599.99
		case p < 45:
			o = h.newCashOp(acct, opWithdraw, decimal.New(100+rng.Int64N(29_900), -2), tag) // 1.00-299.99
		case p < 72:
			o = h.newOrderOp(acct, opBuy, rng, tag)
		case p < 88:
			o = h.newOrderOp(acct, opSell, rng, tag)
		default:
			b := h.newBatch(acct, rng, tag, round)
			ops = append(ops, b.ops...)
			h.st.sent.Add(1)
			resp, err := h.client.Do(h.ctx, b.request(nil))
			if err != nil {
				for _, o := range b.ops {
					o.state, o.err = stateUnknown, err.Error()
				}
				h.st.unknown.Add(int64(len(b.ops)))
				return ops
			}
			h.settleBatch(b, resp, false)
			continue
		}
		o.round = round
		acct.add(o)
		ops = append(ops, o)
		h.st.sent.Add(1)
		resp, err := h.client.Do(h.ctx, o.request())
		if err != nil {
			o.state, o.err = stateUnknown, err.Error()
			h.st.unknown.Add(1)
			return ops // the server is gone: this worker's burst is over
		}
		h.settle(o, resp, false)
	}
	return ops
}

func (h *harness) newCashOp(a *account, kind opKind, amount decimal.Decimal, tag string) *op {
	o := &op{tag: tag + " " + string(kind), key: fmt.Sprintf("ct-%d-%s", h.cfg.seed, tag), acct: a, kind: kind, amount: amount}
	o.path = "/api/v1/balance/" + string(kind)
	o.body = jsonBody(map[string]string{"amount": amount.StringFixed(2), "currency": "USD"})
	return o
}

func (h *harness) newOrderOp(a *account, kind opKind, rng *rand.Rand, tag string) *op {
	ta := traded[rng.IntN(len(traded))]
	lo, hi := ta.minQty, ta.maxQty
	if kind == opSell {
		hi /= 2
	}
	qty := decimal.New(lo+rng.Int64N(hi-lo), -ta.places)
	o := &op{tag: tag + " " + string(kind), key: fmt.Sprintf("ct-%d-%s", h.cfg.seed, tag), acct: a, kind: kind,
		asset: ta.id, qty: qty, path: "/api/v1/orders"}
	o.coid = strings.ReplaceAll(fmt.Sprintf("c%d-%s", h.cfg.seed%1_000_000, tag), "/", "-")
	o.body = jsonBody(map[string]string{"order_type": string(kind), "asset_id": ta.id,
		"quantity": qty.String(), "client_order_id": o.coid})
	return o
}

// newBatch returns a batch of 2-4 buys and sells for a, its orders added
// to a's ops.
func (h *harness) newBatch(a *account, rng *rand.Rand, tag string, round int) *batch {
	b := &batch{tag: tag + " batch", key: fmt.Sprintf("ct-%d-%s", h.cfg.seed, tag), acct: a}
	for i := range 2 + rng.IntN(3) {
		kind := opBuy
		if rng.IntN(3) == 0 {
			kind = opSell
		}
		o := h.newOrderOp(a, kind, rng, fmt.Sprintf("%s/b%d", tag, i))
		o.key, o.batch, o.round = b.key+fmt.Sprintf("/%d", i), b, round
		a.add(o)
		b.ops = append(b.ops, o)
	}
	return b
}

// settleBatch settles the orders of b from the answer to b's request (of
// all its orders): each order by its own result, as settle does for a
// single order; an answer other than 200 settles each order with it.
func (h *harness) settleBatch(b *batch, resp Response, retry bool) {
	if resp.Status != 200 {
		for _, o := range b.ops {
			h.settle(o, resp, retry)
		}
		return
	}
	var out struct {
		Data []struct {
			Status int             `json:"status"`
			Data   json.RawMessage `json:"data"`
			Error  json.RawMessage `json:"error"`
		} `json:"data"`
	}
	if err := json.Unmarshal(resp.Body, &out); err != nil || len(out.Data) != len(b.ops) {
		h.t.Fatalf("%s: answer %s: %v, want %d results", b.tag, resp.Body, err, len(b.ops))
	}
	for i, r := range out.Data {
		body := []byte(r.Error)
		if r.Data != nil {
			body = jsonBody(map[string]json.RawMessage{"data": r.Data})
		}
		h.settle(b.ops[i], Response{Status: r.Status, Body: body}, retry)
	}
}

type cashBody struct {
	Success       bool            `json:"success"`
	TransactionID string          `json:"transaction_id"`
	Amount        decimal.Decimal `json:"amount"`
	Currency      string          `json:"currency"`
}

type orderBody struct {
	OrderID          string           `json:"order_id"`
	OrderType        string           `json:"order_type"`
	AssetID          string           `json:"asset_id"`
	Quantity         decimal.Decimal  `json:"quantity"`
	Status           string           `json:"status"`
	TotalAmount      decimal.Decimal  `json:"total_amount"`
	Fee              decimal.Decimal  `json:"fee"`
	ExecutedQuantity decimal.Decimal  `json:"executed_quantity"`
	ExecutedPrice    *decimal.Decimal `json:"executed_price"`
	ClientOrderID    *string          `json:"client_order_id"`
	StatusHistory    []struct {
		Status string `json:"status"`
	} `json:"status_history"`
}

type errorBody struct {
	Code string `json:"code"`
}

// settle records the answer to o. A 2xx applies it (its effect is parsed
// and checked against the request); 422 insufficient_funds rejects it; a
// 5xx leaves it unknown (to be retried with its key), and is itself an error
// unless it is a 503. Anything else is an error.
func (h *harness) settle(o *op, resp Response, retry bool) {
	t := h.t
	o.status = resp.Status
	switch {
	case resp.OK():
		if resp.Status != 201 {
			t.Errorf("%s: status %d, want 201: %s", o.tag, resp.Status, resp.Body)
		}
		o.state, o.resp, o.replayed = stateApplied, resp.Body, resp.Replayed
		if !retry {
			h.st.applied.Add(1)
			if resp.Replayed {
				h.st.replayedFirst.Add(1)
			}
		}
		if err := h.parseEffect(o); err != nil {
			t.Errorf("%s: %v", o.tag, err)
		}
	case resp.Status == 422 && o.kind != opDeposit && errCode(resp.Body) == "insufficient_funds":
		if resp.Replayed {
			t.Errorf("%s: a replayed 422: only successes are stored under a key", o.tag)
		}
		o.state = stateRejected
		if !retry {
			h.st.rejected.Add(1)
		}
	case resp.Status >= 500:
		if resp.Status != 503 {
			t.Errorf("%s: status %d: %s", o.tag, resp.Status, resp.Body)
		}
		o.state, o.err = stateUnknown, fmt.Sprintf("status %d: %s", resp.Status, resp.Body)
		if !retry {
			h.st.unknown.Add(1)
		}
	default:
		t.Errorf("%s: unexpected status %d: %s (request %s)", o.tag, resp.Status, resp.Body, o.body)
		o.state = stateRejected
	}
}

func errCode(body []byte) string {
	var e errorBody
	_ = json.Unmarshal(body, &e)
	return e.Code
}

// parseEffect reads o's effect from its 2xx body and checks it against the
// request: the amount deposited or withdrawn; the order's type, asset,
// quantity, status and total = quantity × price rounded against the user
// (buys up, sales down, to the cent) ± the fee rounded up.
func (h *harness) parseEffect(o *op) error {
	switch o.kind {
	case opDeposit, opWithdraw:
		var b cashBody
		if err := json.Unmarshal(o.resp, &b); err != nil {
			return fmt.Errorf("decode %s: %w", o.resp, err)
		}
		if !b.Success || b.TransactionID == "" || !b.Amount.Equal(o.amount) || b.Currency != "USD" {
			return fmt.Errorf("answer %s does not match the request %s", o.resp, o.body)
		}
		o.txID = b.TransactionID
	default:
		var env struct {
			Data orderBody `json:"data"`
		}
		if err := json.Unmarshal(o.resp, &env); err != nil {
			return fmt.Errorf("decode %s: %w", o.resp, err)
		}
		b := env.Data
		o.orderID, o.total = b.OrderID, b.TotalAmount
		want := h.expectedTotal(o)
		if b.OrderID == "" || b.OrderType != string(o.kind) || b.AssetID != o.asset || !b.Quantity.Equal(o.qty) ||
			b.Status != "completed" || !b.ExecutedQuantity.Equal(o.qty) || b.ExecutedPrice == nil ||
			!b.ExecutedPrice.Equal(h.prices[o.asset]) || b.ClientOrderID == nil || *b.ClientOrderID != o.coid {
			return fmt.Errorf("answer %s does not match the request %s", o.resp, o.body)
		}
		if !b.TotalAmount.Equal(want) {
			return fmt.Errorf("total_amount %s, want %s (%s × %s, fee rate %s)", b.TotalAmount, want, o.qty, h.prices[o.asset], feeRate)
		}
	}
	return nil
}

func (h *harness) expectedTotal(o *op) decimal.Decimal {
	notional := o.qty.Mul(h.prices[o.asset])
	if o.kind == opBuy {
		gross := notional.Round(2, decimal.Up)
		return gross.Add(gross.Mul(h.fee).Round(2, decimal.Up))
	}
	gross := notional.Round(2, decimal.Down)
	return gross.Sub(gross.Mul(h.fee).Round(2, decimal.Up))
}

// retry resends an op whose outcome is unknown with its key and body, twice
// at once (a client retrying on a timeout may race itself). The answers
// settle it: a replay means it was applied before the crash, a fresh 2xx
// that it was not and is now, a 422 that it was not and cannot be. At most
// one of the two may execute it; when one did, the other must answer the
// same body (a replay) or 409, not a rejection. A third, sequential resend
// must then replay the settled answer.
func (h *harness) retry(o *op) {
	t := h.t
	o.retried = true
	var resps [2]Response
	var errs [2]error
	var wg sync.WaitGroup
	for i := range resps {
		wg.Go(func() { resps[i], errs[i] = h.client.Do(h.ctx, o.request()) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("%s: retry after restart: %v", o.tag, err)
		}
	}
	// Settle with a fresh execution if there is one, else with the first 2xx.
	pick := 0
	fresh := 0
	for i, r := range resps {
		if r.OK() && !r.Replayed {
			fresh++
			pick = i
		}
	}
	if fresh == 0 && !resps[0].OK() && resps[1].OK() {
		pick = 1
	}
	if fresh > 1 {
		if sameJSON(resps[0].Body, resps[1].Body) {
			t.Errorf("%s: two concurrent retries with one key: neither answer is marked %s: true: %s", o.tag, ReplayedHeader, resps[0].Body)
		} else {
			t.Errorf("%s: two concurrent retries with one key both executed it: %s / %s", o.tag, resps[0].Body, resps[1].Body)
		}
	}
	h.settle(o, resps[pick], true)
	other := resps[1-pick]
	switch o.state {
	case stateApplied:
		if resps[pick].Replayed {
			h.st.foundApplied++
		} else {
			h.st.appliedRetry++
		}
		switch {
		case other.OK():
			if !sameJSON(other.Body, o.resp) {
				t.Errorf("%s: concurrent retries answered different bodies: %s / %s", o.tag, o.resp, other.Body)
			}
		case other.Status == 409:
		default:
			t.Errorf("%s: of two concurrent retries one applied it (%d %s) and the other answered %d %s: a duplicate of an applied request must replay it",
				o.tag, o.status, o.resp, other.Status, other.Body)
		}
		h.expectReplay(o, "third retry")
	case stateRejected:
		h.st.rejRetry++
		if other.Status != resps[pick].Status {
			t.Errorf("%s: concurrent retries answered %d %s and %d %s", o.tag, resps[pick].Status, resps[pick].Body, other.Status, other.Body)
		}
	case stateUnknown:
		t.Errorf("%s: retry after restart still has no definite answer: %s", o.tag, o.err)
	}
}

// retryBatch resends a batch with an order of unknown outcome, whole. Its
// client_order_ids settle it: an order applied before the crash answers
// that order again, one that was not is placed now or refused; none may
// be placed twice (reconcile checks the ledger). A second resend of the
// applied orders must answer the same orders.
func (h *harness) retryBatch(b *batch) {
	t := h.t
	for _, o := range b.ops {
		o.retried = true
	}
	resp, err := h.client.Do(h.ctx, b.request(nil))
	if err != nil {
		t.Fatalf("%s: retry after restart: %v", b.tag, err)
	}
	h.settleBatch(b, resp, true)
	for _, o := range b.ops {
		switch o.state {
		case stateApplied:
			h.st.batchApplied++
		case stateRejected:
			h.st.rejRetry++
		case stateUnknown:
			t.Errorf("%s: retry after restart still has no definite answer: %s", o.tag, o.err)
		}
	}
	h.expectBatchReplay(b, "second resend")
}

// expectBatchReplay resends the applied orders of b as one batch: each must
// answer 201 with the order it was settled with.
func (h *harness) expectBatchReplay(b *batch, what string) {
	t := h.t
	applied := func(o *op) bool { return o.state == stateApplied }
	var want []*op
	for _, o := range b.ops {
		if applied(o) {
			want = append(want, o)
		}
	}
	if len(want) == 0 {
		return
	}
	h.st.replaysChecked++
	resp, err := h.client.Do(h.ctx, b.request(applied))
	if err != nil {
		t.Fatalf("%s: %s: %v", b.tag, what, err)
	}
	var out struct {
		Data []struct {
			Status int       `json:"status"`
			Data   orderBody `json:"data"`
		} `json:"data"`
	}
	if resp.Status != 200 || json.Unmarshal(resp.Body, &out) != nil || len(out.Data) != len(want) {
		t.Fatalf("%s: %s: status %d %s, want 200 with %d results", b.tag, what, resp.Status, resp.Body, len(want))
	}
	for i, o := range want {
		if r := out.Data[i]; r.Status != 201 || r.Data.OrderID != o.orderID || !r.Data.TotalAmount.Equal(o.total) {
			t.Errorf("%s: %s: %d %s (total %s), want 201 with the order %s (total %s)", o.tag, what, r.Status, r.Data.OrderID, r.Data.TotalAmount, o.orderID, o.total)
		}
	}
}

// expectReplay resends applied op o: the answer must be a replay of the same
// status and body, and must change nothing (reconcile checks that).
func (h *harness) expectReplay(o *op, what string) {
	t := h.t
	h.st.replaysChecked++
	resp, err := h.client.Do(h.ctx, o.request())
	if err != nil {
		t.Fatalf("%s: %s: %v", o.tag, what, err)
	}
	if resp.Status != o.status || !resp.Replayed || !sameJSON(resp.Body, o.resp) {
		t.Errorf("%s: %s: status %d replayed %v body %s; want status %d replayed, body %s",
			o.tag, what, resp.Status, resp.Replayed, resp.Body, o.status, o.resp)
	}
}

func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// checkAcknowledged checks that every order acknowledged in the round is
// there after the restart, complete: GET /orders/{id} answers it completed
// with the acknowledged total. (Cash entries are checked by reconcile.)
func (h *harness) checkAcknowledged(round int, acked []*op) {
	for _, o := range acked {
		if o.orderID == "" {
			continue
		}
		var env struct {
			Data orderBody `json:"data"`
		}
		if err := h.client.JSON(h.ctx, Request{Method: "GET", Path: "/api/v1/orders/" + o.orderID, Token: o.acct.token}, 200, &env); err != nil {
			h.t.Errorf("round %d: %s: acknowledged order %s lost: %v", round, o.tag, o.orderID, err)
			continue
		}
		b := env.Data
		n := len(b.StatusHistory)
		if b.Status != "completed" || n == 0 || b.StatusHistory[n-1].Status != "completed" ||
			!b.TotalAmount.Equal(o.total) || !b.Quantity.Equal(o.qty) {
			h.t.Errorf("round %d: %s: order %s after restart: status %s (history %d), total %s, quantity %s; acknowledged completed, total %s, quantity %s",
				round, o.tag, o.orderID, b.Status, n, b.TotalAmount, b.Quantity, o.total, o.qty)
		}
	}
}

// sampleReplays resends some of the round's acknowledged requests.
func (h *harness) sampleReplays(round int, acked []*op) {
	idx := h.rng.Perm(len(acked))
	for i := 0; i < len(idx) && i < maxSamples; i++ {
		what := fmt.Sprintf("round %d: resend of an acknowledged request", round)
		if o := acked[idx[i]]; o.batch != nil {
			h.expectBatchReplay(o.batch, what)
		} else {
			h.expectReplay(o, what)
		}
	}
}

type ledgerEntry struct {
	TransactionID   string          `json:"transaction_id"`
	TransactionType string          `json:"transaction_type"`
	Amount          decimal.Decimal `json:"amount"`
	Currency        string          `json:"currency"`
	Status          string          `json:"status"`
	ReferenceID     *string         `json:"reference_id"`
}

// reconcile compares a's whole server-side state with the model of its
// applied ops: ledger entries one to one, balance and totals, holdings,
// orders and asset movements.
func (h *harness) reconcile(when string, a *account) {
	t := h.t
	applied := a.applied()
	type want struct {
		o    *op
		typ  string
		amt  decimal.Decimal
		seen bool
	}
	byKey := map[string]*want{}
	cash, deposits, withdrawals := decimal.Zero, decimal.Zero, decimal.Zero
	holdings := map[string]decimal.Decimal{}
	everBought := map[string]bool{}
	orders := map[string]*op{}
	for _, o := range applied {
		cash = cash.Add(o.cashDelta())
		switch o.kind {
		case opDeposit:
			deposits = deposits.Add(o.amount)
			byKey[o.txID] = &want{o: o, typ: "deposit", amt: o.amount}
		case opWithdraw:
			withdrawals = withdrawals.Add(o.amount)
			byKey[o.txID] = &want{o: o, typ: "withdraw", amt: o.amount.Neg()}
		case opBuy:
			holdings[o.asset] = holdings[o.asset].Add(o.qty)
			everBought[o.asset] = true
			byKey["order:"+o.orderID] = &want{o: o, typ: "order_payment", amt: o.total.Neg()}
			orders[o.orderID] = o
		case opSell:
			holdings[o.asset] = holdings[o.asset].Sub(o.qty)
			byKey["order:"+o.orderID] = &want{o: o, typ: "order_sale", amt: o.total}
			orders[o.orderID] = o
		}
	}

	// Ledger: exactly one entry per applied op, nothing else.
	entries := h.ledger(a)
	for _, e := range entries {
		k := e.TransactionID
		if e.ReferenceID != nil && *e.ReferenceID != "" {
			k = "order:" + *e.ReferenceID
		}
		w, ok := byKey[k]
		switch {
		case !ok:
			t.Errorf("%s: %s: ledger entry %s (%s %s, ref %v) matches no applied request: a phantom or doubled effect",
				when, a.name, e.TransactionID, e.TransactionType, e.Amount, deref(e.ReferenceID))
		case w.seen:
			t.Errorf("%s: %s: a second ledger entry %s for %s (%s): an effect applied twice", when, a.name, e.TransactionID, w.o.tag, w.o.key)
		default:
			w.seen = true
			if e.TransactionType != w.typ || !e.Amount.Equal(w.amt) || e.Status != "completed" || e.Currency != "USD" {
				t.Errorf("%s: %s: ledger entry %s is %s %s %s %s, want %s %s USD completed (request %s)",
					when, a.name, e.TransactionID, e.TransactionType, e.Amount, e.Currency, e.Status, w.typ, w.amt, w.o.tag)
			}
		}
	}
	for _, w := range byKey {
		if !w.seen {
			t.Errorf("%s: %s: no ledger entry for applied %s (key %s, retried %v, replayed %v): a lost write; answer was %s",
				when, a.name, w.o.tag, w.o.key, w.o.retried, w.o.replayed, w.o.resp)
		}
	}

	// Balance.
	var bal struct {
		Current    decimal.Decimal `json:"current_balance"`
		Available  decimal.Decimal `json:"available_balance"`
		Held       decimal.Decimal `json:"held_balance"`
		Deposits   decimal.Decimal `json:"total_deposits"`
		Withdrawal decimal.Decimal `json:"total_withdrawals"`
	}
	if err := h.client.JSON(h.ctx, Request{Method: "GET", Path: "/api/v1/balance?currency=USD", Token: a.token}, 200, &bal); err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	if !bal.Current.Equal(cash) || !bal.Available.Equal(cash) || !bal.Held.IsZero() ||
		!bal.Deposits.Equal(deposits) || !bal.Withdrawal.Equal(withdrawals) {
		t.Errorf("%s: %s: balance current %s available %s held %s deposits %s withdrawals %s; model %s %s 0 %s %s",
			when, a.name, bal.Current, bal.Available, bal.Held, bal.Deposits, bal.Withdrawal, cash, cash, deposits, withdrawals)
	}

	// Holdings and asset movements.
	for _, ta := range traded {
		wantQty := holdings[ta.id]
		var hold struct {
			Quantity decimal.Decimal `json:"quantity"`
			Held     decimal.Decimal `json:"held_quantity"`
		}
		resp, err := h.client.Do(h.ctx, Request{Method: "GET", Path: "/api/v1/balance/asset/" + ta.id, Token: a.token})
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		switch {
		case resp.Status == 404 && !everBought[ta.id]:
		case resp.Status == 200:
			if err := json.Unmarshal(resp.Body, &hold); err != nil {
				t.Fatalf("%s: holding %s: %v", when, ta.id, err)
			}
			if !hold.Quantity.Equal(wantQty) || !hold.Held.IsZero() {
				t.Errorf("%s: %s: holding of %s is %s (held %s), model %s", when, a.name, ta.id, hold.Quantity, hold.Held, wantQty)
			}
		default:
			t.Errorf("%s: %s: holding of %s: status %d %s (model %s, ever bought %v)", when, a.name, ta.id, resp.Status, resp.Body, wantQty, everBought[ta.id])
		}
		seen := map[string]bool{}
		for _, m := range h.movements(a, ta.id) {
			o, ok := orders[m.OrderID]
			switch {
			case !ok || o.asset != ta.id:
				t.Errorf("%s: %s: %s movement %s %s for order %s, which is no applied order of this asset", when, a.name, ta.id, m.Type, m.Quantity, m.OrderID)
			case seen[m.OrderID]:
				t.Errorf("%s: %s: a second %s movement for order %s (%s)", when, a.name, ta.id, m.OrderID, o.tag)
			default:
				seen[m.OrderID] = true
				wantType := map[opKind]string{opBuy: "BUY", opSell: "SELL"}[o.kind]
				if m.Type != wantType || !m.Quantity.Equal(o.qty) || !m.Total.Equal(o.total) {
					t.Errorf("%s: %s: movement of order %s is %s %s (total %s), want %s %s (total %s)", when, a.name, m.OrderID, m.Type, m.Quantity, m.Total, wantType, o.qty, o.total)
				}
			}
		}
		for id, o := range orders {
			if o.asset == ta.id && !seen[id] {
				t.Errorf("%s: %s: no asset movement for applied order %s (%s): a half-written order", when, a.name, id, o.tag)
			}
		}
	}

	// Orders: exactly the applied ones, all completed.
	listed := map[string]bool{}
	for _, b := range h.orders(a) {
		o, ok := orders[b.OrderID]
		switch {
		case !ok:
			t.Errorf("%s: %s: order %s (%s %s %s, %s) matches no applied request: a phantom or doubled order",
				when, a.name, b.OrderID, b.OrderType, b.Quantity, b.AssetID, b.Status)
		case listed[b.OrderID]:
			t.Errorf("%s: %s: order %s listed twice", when, a.name, b.OrderID)
		default:
			listed[b.OrderID] = true
			if b.Status != "completed" || !b.TotalAmount.Equal(o.total) {
				t.Errorf("%s: %s: order %s is %s total %s, want completed total %s (%s)", when, a.name, b.OrderID, b.Status, b.TotalAmount, o.total, o.tag)
			}
		}
	}
	if len(listed) != len(orders) {
		t.Errorf("%s: %s: %d orders listed, %d applied", when, a.name, len(listed), len(orders))
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// ledger returns all of a's ledger entries, following next_cursor.
func (h *harness) ledger(a *account) []ledgerEntry {
	var all []ledgerEntry
	cursor := ""
	for {
		var page struct {
			Transactions []ledgerEntry `json:"transactions"`
			TotalCount   int           `json:"total_count"`
			NextCursor   *string       `json:"next_cursor"`
		}
		path := "/api/v1/balance/transactions?limit=100"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		if err := h.client.JSON(h.ctx, Request{Method: "GET", Path: path, Token: a.token}, 200, &page); err != nil {
			h.t.Fatal(err)
		}
		all = append(all, page.Transactions...)
		if page.NextCursor == nil || len(page.Transactions) == 0 {
			if cursor == "" && page.TotalCount != len(all) {
				h.t.Errorf("%s: ledger total_count %d, %d entries listed", a.name, page.TotalCount, len(all))
			}
			return all
		}
		cursor = *page.NextCursor
	}
}

type movement struct {
	OrderID  string          `json:"order_id"`
	Type     string          `json:"transaction_type"`
	Quantity decimal.Decimal `json:"quantity"`
	Total    decimal.Decimal `json:"total_amount"`
}

func (h *harness) movements(a *account, asset string) []movement {
	return listAll[movement](h, a, "/api/v1/assets/"+asset+"/transactions?limit=100")
}

func (h *harness) orders(a *account) []orderBody {
	return listAll[orderBody](h, a, "/api/v1/orders?limit=100")
}

// listAll returns every item of a list route answering {data, has_more,
// next_cursor}, following the cursor.
func listAll[T any](h *harness, a *account, path string) []T {
	var all []T
	cursor := ""
	for {
		var page struct {
			Data       []T     `json:"data"`
			HasMore    bool    `json:"has_more"`
			NextCursor *string `json:"next_cursor"`
		}
		p := path
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		if err := h.client.JSON(h.ctx, Request{Method: "GET", Path: p, Token: a.token}, 200, &page); err != nil {
			h.t.Fatal(err)
		}
		all = append(all, page.Data...)
		if !page.HasMore || page.NextCursor == nil {
			return all
		}
		cursor = *page.NextCursor
	}
}

// final checks the other duplicate guards, stops the server gracefully and
// runs verify on the stopped store.
func (h *harness) final() {
	t := h.t
	var deposit, order *op
	for _, a := range h.accounts {
		cash := decimal.Zero
		for _, o := range a.applied() {
			cash = cash.Add(o.cashDelta())
		}
		for _, o := range a.applied() {
			if deposit == nil && o.kind == opDeposit && o.round > 0 {
				deposit = o
			}
			// A buy the balance could pay again: the service reports
			// insufficient funds before it notices the client_order_id
			// (see the package's report), which is not what this checks.
			if order == nil && o.kind == opBuy && !cash.LessThan(o.total) {
				order = o
			}
		}
	}
	if deposit != nil {
		// The same key with another body: refused, no effect.
		other := *deposit
		other.amount = deposit.amount.Add(decimal.New(1, -2))
		other.body = jsonBody(map[string]string{"amount": other.amount.StringFixed(2), "currency": "USD"})
		other.tag += " (other body)"
		resp, err := h.client.Do(h.ctx, other.request())
		if err != nil {
			t.Fatal(err)
		}
		if (resp.Status != 409 && resp.Status != 422) || resp.Replayed {
			t.Errorf("%s: key reused with another body: status %d replayed %v %s, want 409 or 422", other.tag, resp.Status, resp.Replayed, resp.Body)
		}
	}
	if order != nil {
		// The same order under a new key: client_order_id makes it the same order.
		again := *order
		again.key += "-coid"
		again.tag += " (same client_order_id, new key)"
		resp, err := h.client.Do(h.ctx, again.request())
		if err != nil {
			t.Fatal(err)
		}
		var env struct {
			Data orderBody `json:"data"`
		}
		if !resp.OK() || json.Unmarshal(resp.Body, &env) != nil || env.Data.OrderID != order.orderID {
			t.Errorf("%s: status %d %s, want the order %s again", again.tag, resp.Status, resp.Body, order.orderID)
		}
	}
	for _, a := range h.all {
		h.reconcile("final", a)
	}

	if err := h.srv.Stop(15 * time.Second); err != nil {
		t.Errorf("graceful stop: %v", err)
	}
	h.srv = nil
	code, out, err := Verify(h.ctx, h.bin, h.data)
	if err != nil || code != 0 {
		t.Errorf("verify after the last round: exit %d, %v\n%s", code, err, out)
	} else {
		t.Logf("verify: %s", strings.TrimSpace(out))
	}
}

func (h *harness) report(total time.Duration) {
	s := &h.st
	ds := slices.Clone(s.killDelays)
	slices.Sort(ds)
	rounds := max(len(ds), 1)
	h.t.Logf("%d kills (delays %v..%v) in %v; %d requests: %d applied, %d rejected (insufficient funds), %d unknown at first; "+
		"retries of unknown: %d found applied before the crash (replayed), %d applied on retry, %d orders of retried batches applied, %d rejected; %d replays checked, %d replayed on first send",
		len(ds), first(ds), last(ds), total.Round(time.Millisecond), s.sent.Load(), s.applied.Load(), s.rejected.Load(), s.unknown.Load(),
		s.foundApplied, s.appliedRetry, s.batchApplied, s.rejRetry, s.replaysChecked, s.replayedFirst.Load())
	h.t.Logf("kills during a restart: %d before the server was ready, %d just after", s.startupKills[0], s.startupKills[1])
	h.t.Logf("per round: verify of the crash image %v, restart %v, reconcile %v",
		(s.verify / time.Duration(rounds)).Round(time.Millisecond), (s.restart / time.Duration(rounds)).Round(time.Millisecond),
		(s.reconcile / time.Duration(rounds)).Round(time.Millisecond))
}

func first(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[0]
}

func last(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[len(d)-1]
}

// jsonBody encodes a request body (maps of strings always encode).
func jsonBody(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
