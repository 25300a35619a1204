package stream

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/httpapi"
	"github.com/orderprocessor/orderprocessor/store/embedded"
	"github.com/orderprocessor/orderprocessor/trading"
)

// hdrUser names the caller for testAuth, which stands in for the gateway
// (tested in package gateway and end to end in e2e).
const hdrUser = "X-Test-User"

func testAuth(op httpapi.Op, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u := r.Header.Get(hdrUser); u != "" {
			r = r.WithContext(auth.WithPrincipal(r.Context(), auth.Principal{Username: u, Role: auth.RoleCustomer}))
		}
		next.ServeHTTP(w, r)
	})
}

// httpEnv is a broker and its handler on a loopback server, with balances
// in a real embedded store.
type httpEnv struct {
	b     *Broker
	srv   *httptest.Server
	trade *trading.Service
}

func newHTTPEnv(t *testing.T, hopts HandlerOptions) *httpEnv {
	t.Helper()
	db, err := embedded.Open(t.TempDir(), dao.DefaultTables.Schemas(), embedded.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	d := trading.NewDAOs(db, dao.DefaultTables)
	e := &httpEnv{b: newTestBroker(Options{})}
	e.trade = trading.New(d, trading.DefaultConfig(), trading.Options{Logger: quiet(), Notifier: e.b})
	hopts.Balances = d.Balances
	hopts.Logger = quiet()
	api := httpapi.New(httpapi.Options{Middleware: testAuth})
	NewHandler(e.b, hopts).Register(api)
	e.srv = httptest.NewServer(api)
	t.Cleanup(e.srv.Close)
	t.Cleanup(e.b.Close) // before srv.Close (cleanups run last-in first-out): ends open streams
	return e
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// sse is an open stream.
type sse struct {
	res    *http.Response
	r      *bufio.Reader
	cancel context.CancelFunc
}

// open starts a stream request; hdr are extra header name/value pairs.
func (e *httpEnv) open(t *testing.T, user, query string, hdr ...string) *sse {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+Path+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.Header.Set(hdrUser, user)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	s := &sse{res: res, r: bufio.NewReader(res.Body), cancel: cancel}
	t.Cleanup(s.close)
	return s
}

func (s *sse) close() {
	s.cancel()
	_ = s.res.Body.Close()
}

// block reads one block (lines up to and including the blank line).
func (s *sse) block(t *testing.T) string {
	t.Helper()
	var sb strings.Builder
	for {
		line, err := s.r.ReadString('\n')
		sb.WriteString(line)
		if err != nil {
			t.Fatalf("read stream after %q: %v", sb.String(), err)
		}
		if line == "\n" {
			return sb.String()
		}
	}
}

// blocks reads n blocks.
func (s *sse) blocks(t *testing.T, n int) []string {
	t.Helper()
	out := make([]string, n)
	for i := range out {
		out[i] = s.block(t)
	}
	return out
}

func orderBlock(t *testing.T, id, user, orderID string) string {
	t.Helper()
	b, err := json.Marshal(testOrder(user, orderID, entity.StatusQueued).Response())
	if err != nil {
		t.Fatal(err)
	}
	return "id: " + id + "\nevent: order\ndata: " + string(b) + "\n\n"
}

func priceBlock(id, asset, price string) string {
	return "id: " + id + "\nevent: price\ndata: {\"asset_id\":\"" + asset + "\",\"price_usd\":\"" + price +
		"\",\"at\":\"" + testNow.Format(entity.TimeLayout) + "\"}\n\n"
}

func TestStreamEvents(t *testing.T) {
	e := newHTTPEnv(t, HandlerOptions{})
	if _, _, err := e.trade.Deposit(context.Background(), "alice", entity.DepositRequest{Amount: ptr(decimal.MustParse("1000.5")), Currency: entity.USD}, nil); err != nil {
		t.Fatal(err)
	}
	s := e.open(t, "alice", "?assets=btc,%20eth,BTC")
	if s.res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", s.res.StatusCode)
	}
	for k, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"} {
		if got := s.res.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	// The deposit published event 1 (a balance change) before the stream opened.
	if got := s.blocks(t, 2); got[0] != "retry: 2000\n\n" || got[1] != "id: 1\n\n" {
		t.Fatalf("prelude %q", got)
	}
	e.b.Publish(orderEvent("bob", "order-b-0001"))
	e.b.Publish(orderEvent("alice", "order-a-0001"))
	e.b.PublishPrice("SOL", decimal.MustParse("150")) // filtered out
	e.b.Publish(trading.Event{Kind: trading.EventBalance, Username: "alice", Currency: "USD", AssetID: "BTC"})
	e.b.Publish(trading.Event{Kind: trading.EventBalance, Username: "alice", Currency: "EUR"}) // no such balance
	e.b.PublishPrice("ETH", decimal.MustParse("3100.5"))

	got := s.blocks(t, 4)
	want := []string{orderBlock(t, "3", "alice", "order-a-0001"), "", "", priceBlock("7", "ETH", "3100.50")}
	var bal struct {
		Currency string                  `json:"currency"`
		AssetID  string                  `json:"asset_id"`
		Balance  *entity.BalanceResponse `json:"balance"`
	}
	for i, prefix := range []string{"id: 5\nevent: balance\ndata: ", "id: 6\nevent: balance\ndata: "} {
		data, ok := strings.CutPrefix(got[1+i], prefix)
		if !ok {
			t.Fatalf("block %d: %q, want prefix %q", 1+i, got[1+i], prefix)
		}
		if err := json.Unmarshal([]byte(data), &bal); err != nil {
			t.Fatal(err)
		}
		want[1+i] = got[1+i]
		switch i {
		case 0:
			if bal.Currency != "USD" || bal.AssetID != "BTC" || bal.Balance == nil ||
				bal.Balance.CurrentBalance != "1000.50" || bal.Balance.HeldBalance != "0.00" || bal.Balance.AvailableBalance != "1000.50" {
				t.Fatalf("balance event %s", data)
			}
		case 1:
			if data != `{"currency":"EUR","asset_id":"","balance":null}`+"\n\n" {
				t.Fatalf("balance event without a balance %q", data)
			}
		}
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("block %d\n got %q\nwant %q", i, got[i], want[i])
		}
	}
}

func TestStreamHintWithoutBalances(t *testing.T) {
	b := newTestBroker(Options{})
	api := httpapi.New(httpapi.Options{Middleware: testAuth})
	NewHandler(b, HandlerOptions{Logger: quiet()}).Register(api)
	srv := httptest.NewServer(api)
	defer srv.Close()
	defer b.Close()
	s := (&httpEnv{b: b, srv: srv}).open(t, "alice", "")
	s.blocks(t, 2)
	b.Publish(balanceEvent("alice"))
	if got, want := s.block(t), "id: 1\nevent: balance\ndata: {\"currency\":\"USD\",\"asset_id\":\"BTC\"}\n\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestStreamResume(t *testing.T) {
	e := newHTTPEnv(t, HandlerOptions{})
	for i := range 3 { // ids 1..6
		e.b.Publish(orderEvent("alice", "order-a-000"+string(rune('1'+i))))
		e.b.Publish(orderEvent("bob", "order-b-000"+string(rune('1'+i))))
	}
	e.b.PublishPrice("BTC", decimal.MustParse("59000")) // id 7
	for _, tc := range []struct {
		name  string
		query string
		hdr   []string
		want  []string
	}{
		{"missed events", "", []string{"Last-Event-ID", "2"}, []string{
			orderBlock(t, "3", "alice", "order-a-0002"), orderBlock(t, "5", "alice", "order-a-0003"), priceBlock("7", "BTC", "59000.00")}},
		{"missed events, by query", "?last_event_id=4", nil, []string{
			orderBlock(t, "5", "alice", "order-a-0003"), priceBlock("7", "BTC", "59000.00")}},
		{"header wins", "?last_event_id=1", []string{"Last-Event-ID", "5"}, []string{priceBlock("7", "BTC", "59000.00")}},
		{"missed only others' events", "?assets=ETH", []string{"Last-Event-ID", "5"}, []string{"id: 7\n\n"}},
		{"up to date", "", []string{"Last-Event-ID", "7"}, []string{"id: 7\n\n"}},
		{"not issued", "", []string{"Last-Event-ID", "8"}, []string{"id: 7\nevent: reset\ndata: " +
			`{"reason":"unknown_id","detail":"Last-Event-ID was not issued by this server: re-read orders and balances"}` + "\n\n"}},
		{"garbage", "", []string{"Last-Event-ID", "abc"}, []string{"id: 7\nevent: reset\ndata: " +
			`{"reason":"unknown_id","detail":"Last-Event-ID was not issued by this server: re-read orders and balances"}` + "\n\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := e.open(t, "alice", tc.query, tc.hdr...)
			defer s.close()
			if got := s.block(t); got != "retry: 2000\n\n" {
				t.Fatalf("first block %q", got)
			}
			got := s.blocks(t, len(tc.want))
			for i := range tc.want {
				if got[i] != tc.want[i] {
					t.Errorf("block %d\n got %q\nwant %q", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestStreamResetWhenHistoryExpired(t *testing.T) {
	b := newTestBroker(Options{HistorySize: 2})
	api := httpapi.New(httpapi.Options{Middleware: testAuth})
	NewHandler(b, HandlerOptions{Logger: quiet(), Retry: 3500 * time.Millisecond}).Register(api)
	srv := httptest.NewServer(api)
	defer srv.Close()
	defer b.Close()
	for range 3 {
		b.PublishPrice("BTC", decimal.MustParse("1"))
	}
	s := (&httpEnv{b: b, srv: srv}).open(t, "alice", "", "Last-Event-ID", "0")
	want := []string{"retry: 3500\n\n", "id: 3\nevent: reset\ndata: " +
		`{"reason":"history_expired","detail":"the events after Last-Event-ID are no longer kept: re-read orders and balances"}` + "\n\n"}
	if got := s.blocks(t, 2); got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %q, want %q", got, want)
	}
	// The stream goes on after a reset.
	b.PublishPrice("ETH", decimal.MustParse("2"))
	if got := s.block(t); got != priceBlock("4", "ETH", "2.00") {
		t.Fatalf("after reset: %q", got)
	}
}

func TestStreamErrors(t *testing.T) {
	e := newHTTPEnv(t, HandlerOptions{})
	for _, tc := range []struct {
		name, user, query string
		status            int
		code              string
	}{
		{"anonymous", "", "", http.StatusUnauthorized, "unauthorized"},
		{"bad asset id", "alice", "?assets=BTC,B-TC", http.StatusUnprocessableEntity, "invalid"},
		{"empty asset id", "alice", "?assets=BTC,,ETH", http.StatusUnprocessableEntity, "invalid"},
		{"too many assets", "alice", "?assets=" + strings.Repeat("A,", MaxAssets) + "B", http.StatusUnprocessableEntity, "invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := e.open(t, tc.user, tc.query)
			defer s.close()
			var body struct {
				Code   string `json:"code"`
				Detail any    `json:"detail"`
			}
			if err := json.NewDecoder(s.res.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if s.res.StatusCode != tc.status || body.Code != tc.code {
				t.Fatalf("status %d code %q, want %d %q", s.res.StatusCode, body.Code, tc.status, tc.code)
			}
			if tc.status == http.StatusUnprocessableEntity {
				loc := body.Detail.([]any)[0].(map[string]any)["loc"]
				if b, _ := json.Marshal(loc); string(b) != `["query","assets"]` {
					t.Fatalf("loc %s", b)
				}
			}
		})
	}
	if n := e.b.Stats().Subscriptions; n != 0 {
		t.Fatalf("%d subscriptions after refused requests", n)
	}
}

func TestStreamHead(t *testing.T) {
	e := newHTTPEnv(t, HandlerOptions{})
	req, err := http.NewRequest(http.MethodHead, e.srv.URL+Path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(hdrUser, "alice")
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" || e.b.Stats().Subscriptions != 0 {
		t.Fatalf("HEAD: %d %q, %d subscriptions", res.StatusCode, res.Header.Get("Content-Type"), e.b.Stats().Subscriptions)
	}
}

func TestStreamKeepalive(t *testing.T) {
	e := newHTTPEnv(t, HandlerOptions{Keepalive: time.Millisecond})
	s := e.open(t, "alice", "")
	s.blocks(t, 2)
	if got := s.block(t); got != ": keepalive\n\n" {
		t.Fatalf("got %q", got)
	}
}

func TestStreamEnds(t *testing.T) {
	t.Run("client leaves", func(t *testing.T) {
		e := newHTTPEnv(t, HandlerOptions{})
		s := e.open(t, "alice", "")
		s.blocks(t, 2)
		if n := e.b.Stats().Subscriptions; n != 1 {
			t.Fatalf("%d subscriptions", n)
		}
		s.close()
		waitFor(t, func() bool { return e.b.Stats().Subscriptions == 0 })
	})
	t.Run("broker closes", func(t *testing.T) {
		e := newHTTPEnv(t, HandlerOptions{})
		s := e.open(t, "alice", "")
		s.blocks(t, 2)
		e.b.Close()
		if b, err := io.ReadAll(s.r); err != nil || len(b) != 0 {
			t.Fatalf("after close: %q, %v", b, err)
		}
		if n := e.b.Stats().Subscriptions; n != 0 {
			t.Fatalf("%d subscriptions", n)
		}
	})
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestParseAssets(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		err  bool
	}{
		{"", "", false},
		{"  ", "", false},
		{"btc", "BTC", false},
		{" btc , Eth,BTC ", "BTC,ETH", false},
		{"ABCDEFGHIJ", "ABCDEFGHIJ", false},
		{"ABCDEFGHIJK", "", true},
		{"BTC,", "", true},
		{"BT C", "", true},
		{"BTÇ", "", true},
	} {
		got, err := parseAssets(tc.in)
		if (err != nil) != tc.err || strings.Join(got, ",") != tc.want {
			t.Errorf("parseAssets(%q) = %v, %v", tc.in, got, err)
		}
		if err != nil && !apperr.Is(err, apperr.Invalid) {
			t.Errorf("parseAssets(%q): error kind %v", tc.in, apperr.KindOf(err))
		}
	}
}

// errorBody reads a refused stream's JSON error body; the test fails at
// once when the stream was accepted.
func (s *sse) errorBody(t *testing.T) string {
	t.Helper()
	if s.res.StatusCode == http.StatusOK {
		t.Fatal("stream accepted, want it refused")
	}
	b, err := io.ReadAll(s.res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// openUntil opens streams of user until one is accepted, failing the test
// after 10 s: the handler frees a slot once it sees its client gone.
func (e *httpEnv) openUntil(t *testing.T, user string) *sse {
	t.Helper()
	var s *sse
	waitFor(t, func() bool {
		s = e.open(t, user, "")
		if s.res.StatusCode == http.StatusOK {
			return true
		}
		s.close()
		return false
	})
	return s
}

func TestStreamPerUserLimit(t *testing.T) {
	e := newHTTPEnv(t, HandlerOptions{}) // DefaultMaxPerUser: 5
	var alice []*sse
	for i := range 5 {
		s := e.open(t, "alice", "")
		if s.res.StatusCode != http.StatusOK {
			t.Fatalf("stream %d: status %d", i+1, s.res.StatusCode)
		}
		s.blocks(t, 2)
		alice = append(alice, s)
	}
	sixth := e.open(t, "alice", "")
	if got, want := sixth.errorBody(t), `{"detail":"too many open streams: at most 5 per user; close one to open another","code":"rate_limited"}`+"\n"; sixth.res.StatusCode != http.StatusTooManyRequests || got != want {
		t.Fatalf("6th stream of a user: %d %q, want 429 %q", sixth.res.StatusCode, got, want)
	}
	if ct, ra := sixth.res.Header.Get("Content-Type"), sixth.res.Header.Get("Retry-After"); ct != "application/json" || !sixth.res.Close || ra != "2" {
		t.Fatalf("6th stream: Content-Type %q, connection closed %v, Retry-After %q (want 2: the stream's retry)", ct, sixth.res.Close, ra)
	}
	if n := e.b.Stats().Subscriptions; n != 5 {
		t.Fatalf("%d subscriptions, want 5", n)
	}

	bob := e.open(t, "bob", "")
	if bob.res.StatusCode != http.StatusOK {
		t.Fatalf("another user's stream: status %d", bob.res.StatusCode)
	}
	bob.blocks(t, 2)

	alice[0].close()
	s := e.openUntil(t, "alice")
	s.blocks(t, 2)
	if again := e.open(t, "alice", ""); again.res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("7th stream after one closed and one opened: status %d", again.res.StatusCode)
	}
}

func TestStreamTotalLimit(t *testing.T) {
	e := newHTTPEnv(t, HandlerOptions{MaxTotal: 3})
	var open []*sse
	for _, u := range []string{"alice", "bob", "carol"} {
		s := e.open(t, u, "")
		if s.res.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", u, s.res.StatusCode)
		}
		s.blocks(t, 2)
		open = append(open, s)
	}
	const want = `{"detail":"too many open streams on this server: try again later","code":"rate_limited"}` + "\n"
	for _, u := range []string{"dave", "alice"} {
		s := e.open(t, u, "")
		if got := s.errorBody(t); s.res.StatusCode != http.StatusTooManyRequests || got != want || s.res.Header.Get("Retry-After") != "2" {
			t.Fatalf("%s above the total: %d %q Retry-After %q, want 429 %q with 2", u, s.res.StatusCode, got, s.res.Header.Get("Retry-After"), want)
		}
	}
	open[1].close()
	e.openUntil(t, "dave").blocks(t, 2)
	if s := e.open(t, "erin", ""); s.res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("above the total again: status %d", s.res.StatusCode)
	}
}
