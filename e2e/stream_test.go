package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/gateway"
	"github.com/orderprocessor/orderprocessor/platform"
	"github.com/orderprocessor/orderprocessor/trading"
)

// The live stream, end to end: a real platform behind the gateway on a
// loopback server; its own platform, so that it may move seeded prices.

const (
	streamAdminPassword = "Str3am!Adm1nPass"
	streamUserPassword  = "Str3am!UserPass"
	// streamWait bounds every wait for a stream event (a hang guard, not a
	// timing assertion).
	streamWait = 15 * time.Second
)

// streamEnv is a platform on a loopback server.
type streamEnv struct {
	t     *testing.T
	p     *platform.Platform
	srv   *httptest.Server
	admin string
	// closed is set when a test closed the platform itself.
	closed bool
}

func streamStart(t *testing.T) *streamEnv {
	t.Helper()
	g := gateway.DefaultConfig()
	g.RateLimit = 1_000_000
	g.LoginMaxFailures = 1_000_000
	p, err := platform.Open(context.Background(), platform.Config{
		DataDir:        t.TempDir(),
		JWTSecret:      []byte("stream-e2e-secret-0123456789abcdef-0123456789"),
		AdminPassword:  streamAdminPassword,
		Gateway:        g,
		Trading:        trading.DefaultConfig(),
		PriceFeed:      "static",
		EngineInterval: time.Hour, // only price changes trigger orders
		PasswordParams: auth.Params{MemoryKiB: 64, Iterations: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("open platform: %v", err)
	}
	e := &streamEnv{t: t, p: p, srv: httptest.NewServer(p.Handler)}
	t.Cleanup(func() {
		e.srv.Close()
		if !e.closed {
			_ = e.p.Close()
		}
	})
	e.admin = e.login("admin", streamAdminPassword)
	return e
}

// call sends a JSON request and decodes a JSON answer into out (when not
// nil), failing the test unless the status is want.
func (e *streamEnv) call(method, path, token string, body any, want int, out any) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if res.StatusCode != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, res.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

func (e *streamEnv) login(name, password string) string {
	e.t.Helper()
	var lr struct {
		AccessToken string `json:"access_token"`
	}
	e.call(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": name, "password": password}, http.StatusOK, &lr)
	if lr.AccessToken == "" {
		e.t.Fatalf("login %s: empty token", name)
	}
	return lr.AccessToken
}

// user registers and logs in name, and returns its token.
func (e *streamEnv) user(name string) string {
	e.t.Helper()
	e.call(http.MethodPost, "/api/v1/auth/register", "", map[string]any{"username": name, "email": name + "@example.com",
		"password": streamUserPassword, "first_name": "Stream", "last_name": "Tester"}, http.StatusCreated, nil)
	return e.login(name, streamUserPassword)
}

func (e *streamEnv) setPrice(asset, price string) {
	e.t.Helper()
	e.call(http.MethodPut, "/api/v1/admin/assets/"+asset+"/price", e.admin, map[string]any{"price_usd": price}, http.StatusOK, nil)
}

type streamBalance struct {
	Currency  string `json:"currency"`
	Current   string `json:"current_balance"`
	Available string `json:"available_balance"`
	Held      string `json:"held_balance"`
}

type streamOrder struct {
	OrderID          string  `json:"order_id"`
	OrderType        string  `json:"order_type"`
	AssetID          string  `json:"asset_id"`
	Quantity         string  `json:"quantity"`
	Status           string  `json:"status"`
	TotalAmount      string  `json:"total_amount"`
	HeldAmount       string  `json:"held_amount"`
	ExecutedPrice    *string `json:"executed_price"`
	ExecutedQuantity string  `json:"executed_quantity"`
}

// streamEvent is one block of the stream: an event, or an id-only or
// comment block (Event and Data empty).
type streamEvent struct {
	ID, Event, Data, Comment, Retry string
}

// streamConn is an open stream, read by a goroutine into events.
type streamConn struct {
	t      *testing.T
	res    *http.Response
	events chan streamEvent
	cancel context.CancelFunc
	done   chan struct{} // closed when the body ends
}

func (e *streamEnv) openStream(token, query, lastID string) *streamConn {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/api/v1/stream"+query, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	req.Header.Set("Accept", "text/event-stream")
	res, err := e.srv.Client().Do(req)
	if err != nil {
		cancel()
		e.t.Fatal(err)
	}
	c := &streamConn{t: e.t, res: res, events: make(chan streamEvent, 1024), cancel: cancel, done: make(chan struct{})}
	e.t.Cleanup(c.close)
	if res.StatusCode != http.StatusOK {
		return c
	}
	go func() {
		defer close(c.done)
		defer close(c.events)
		r := bufio.NewReader(res.Body)
		var ev streamEvent
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSuffix(line, "\n")
			if line == "" {
				c.events <- ev
				ev = streamEvent{}
				continue
			}
			if rest, ok := strings.CutPrefix(line, ":"); ok {
				ev.Comment = strings.TrimSpace(rest)
				continue
			}
			field, value, _ := strings.Cut(line, ": ")
			switch field {
			case "id":
				ev.ID = value
			case "event":
				ev.Event = value
			case "data":
				ev.Data = value
			case "retry":
				ev.Retry = value
			}
		}
	}()
	return c
}

func (c *streamConn) close() {
	c.cancel()
	_ = c.res.Body.Close()
}

// next returns the next block.
func (c *streamConn) next() streamEvent {
	c.t.Helper()
	select {
	case ev, ok := <-c.events:
		if !ok {
			c.t.Fatal("stream ended")
		}
		return ev
	case <-time.After(streamWait):
		c.t.Fatalf("no stream event in %v", streamWait)
	}
	return streamEvent{}
}

// nextEvent returns the next block that is an event (skipping keepalives
// and id-only blocks).
func (c *streamConn) nextEvent() streamEvent {
	c.t.Helper()
	for {
		if ev := c.next(); ev.Event != "" {
			return ev
		}
	}
}

// ready reads the prelude (retry, then the position) and returns the position.
func (c *streamConn) ready() string {
	c.t.Helper()
	if ev := c.next(); ev.Retry != "2000" {
		c.t.Fatalf("first block %+v, want retry: 2000", ev)
	}
	ev := c.next()
	if ev.ID == "" || ev.Event != "" {
		c.t.Fatalf("second block %+v, want an id", ev)
	}
	return ev.ID
}

// streamID parses an event id.
func streamID(t *testing.T, s string) uint64 {
	t.Helper()
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("event id %q: %v", s, err)
	}
	return id
}

func streamDecode[T any](t *testing.T, ev streamEvent) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(ev.Data), &v); err != nil {
		t.Fatalf("%s event data %s: %v", ev.Event, ev.Data, err)
	}
	return v
}

// streamPrice is the data of a price event.
type streamPrice struct {
	AssetID  string `json:"asset_id"`
	PriceUSD string `json:"price_usd"`
	At       string `json:"at"`
}

func (p streamPrice) String() string { return p.AssetID + "@" + p.PriceUSD }

func TestStreamEndToEnd(t *testing.T) {
	e := streamStart(t)
	aliceName, bobName := "stream_alice", "stream_bob"
	alice, bob := e.user(aliceName), e.user(bobName)
	e.call(http.MethodPost, "/api/v1/balance/deposit", alice, map[string]any{"amount": "10000"}, http.StatusCreated, nil)
	e.call(http.MethodPost, "/api/v1/balance/deposit", bob, map[string]any{"amount": "500"}, http.StatusCreated, nil)

	// The stream needs a user; bad filters are refused before streaming.
	if c := e.openStream("", "", ""); c.res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous stream: %d", c.res.StatusCode)
	}
	if c := e.openStream(alice, "?assets=B-TC", ""); c.res.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("bad filter: %d", c.res.StatusCode)
	}

	as := e.openStream(alice, "", "")
	for k, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"} {
		if got := as.res.Header.Get(k); got != want {
			t.Fatalf("%s: %q, want %q", k, got, want)
		}
	}
	as.ready()
	bs := e.openStream(bob, "?assets=btc,ETH", "")
	bs.ready()

	// A limit buy below the market: queued, 600.00 held.
	var placed struct {
		Data streamOrder `json:"data"`
	}
	e.call(http.MethodPost, "/api/v1/orders", alice, map[string]any{"order_type": "limit_buy", "asset_id": "BTC",
		"quantity": "0.01", "limit_price": "60000"}, http.StatusCreated, &placed)
	id := placed.Data.OrderID
	if placed.Data.Status != "queued" || placed.Data.HeldAmount != "600.00" {
		t.Fatalf("placed %+v", placed.Data)
	}
	ev := as.nextEvent()
	if o := streamDecode[streamOrder](t, ev); ev.Event != "order" || o.OrderID != id || o.Status != "queued" || o.HeldAmount != "600.00" {
		t.Fatalf("first event %s %s", ev.Event, ev.Data)
	}
	ev = as.nextEvent()
	if b := streamDecode[struct {
		Currency string        `json:"currency"`
		AssetID  string        `json:"asset_id"`
		Balance  streamBalance `json:"balance"`
	}](t, ev); ev.Event != "balance" || b.Currency != "USD" || b.AssetID != "BTC" || b.Balance.Held != "600.00" ||
		b.Balance.Current != "10000.00" || b.Balance.Available != "9400.00" {
		t.Fatalf("second event %s %s", ev.Event, ev.Data)
	}

	// The price falls below the limit: the price tick, then the fill.
	e.setPrice("BTC", "59000")
	ev = as.nextEvent()
	if p := streamDecode[streamPrice](t, ev); ev.Event != "price" || p.String() != "BTC@59000.00" || p.At == "" {
		t.Fatalf("price event %s %s", ev.Event, ev.Data)
	}
	ev = as.nextEvent()
	filled := streamDecode[streamOrder](t, ev)
	if ev.Event != "order" || filled.OrderID != id || filled.Status != "completed" || filled.ExecutedPrice == nil ||
		*filled.ExecutedPrice != "59000.00" || filled.ExecutedQuantity != "0.01" || filled.TotalAmount != "590.00" || filled.HeldAmount != "0.00" {
		t.Fatalf("fill event %s %s", ev.Event, ev.Data)
	}
	ev = as.nextEvent()
	if b := streamDecode[struct {
		Balance streamBalance `json:"balance"`
	}](t, ev); ev.Event != "balance" || b.Balance.Current != "9410.00" || b.Balance.Held != "0.00" {
		t.Fatalf("balance after the fill %s %s", ev.Event, ev.Data)
	}

	// The REST resources agree: completed; held 0.00, current reduced by
	// exactly the fill (0.01 x 59000.00).
	var got struct {
		Data streamOrder `json:"data"`
	}
	e.call(http.MethodGet, "/api/v1/orders/"+id, alice, nil, http.StatusOK, &got)
	if got.Data.Status != "completed" || got.Data.TotalAmount != "590.00" || *got.Data.ExecutedPrice != "59000.00" {
		t.Fatalf("GET order %+v", got.Data)
	}
	var bal streamBalance
	e.call(http.MethodGet, "/api/v1/balance", alice, nil, http.StatusOK, &bal)
	if bal != (streamBalance{Currency: "USD", Current: "9410.00", Available: "9410.00", Held: "0.00"}) {
		t.Fatalf("balance %+v", bal)
	}

	// SOL is outside bob's filter; ETH is in it.
	e.setPrice("SOL", "140")
	e.setPrice("ETH", "3000")
	ev = as.nextEvent()
	if p := streamDecode[streamPrice](t, ev); ev.Event != "price" || p.String() != "SOL@140.00" {
		t.Fatalf("alice: %s %s", ev.Event, ev.Data)
	}
	ev = as.nextEvent()
	if p := streamDecode[streamPrice](t, ev); ev.Event != "price" || p.String() != "ETH@3000.00" {
		t.Fatalf("alice: %s %s", ev.Event, ev.Data)
	}
	lastSeen := ev.ID

	// Alice leaves; while she is away she buys ETH (through the API) and
	// BTC's price moves again.
	as.close()
	var mkt struct {
		Data streamOrder `json:"data"`
	}
	e.call(http.MethodPost, "/api/v1/orders", alice, map[string]any{"order_type": "market_buy", "asset_id": "ETH",
		"quantity": "0.1"}, http.StatusCreated, &mkt)
	e.setPrice("BTC", "61000")

	// Bob saw the price ticks of his filter and nothing of alice's.
	var bobSaw []string
	for len(bobSaw) < 3 {
		ev := bs.nextEvent()
		if ev.Event != "price" {
			t.Fatalf("bob got a %s event: %s", ev.Event, ev.Data)
		}
		bobSaw = append(bobSaw, streamDecode[streamPrice](t, ev).String())
	}
	if want := []string{"BTC@59000.00", "ETH@3000.00", "BTC@61000.00"}; !slices.Equal(bobSaw, want) {
		t.Fatalf("bob saw %v, want %v", bobSaw, want)
	}

	// Alice reconnects with the last id she saw and gets what she missed, in order.
	as2 := e.openStream(alice, "", lastSeen)
	if ev := as2.next(); ev.Retry != "2000" {
		t.Fatalf("first block %+v", ev)
	}
	var missed []string
	prev := streamID(t, lastSeen)
	for range 3 {
		ev := as2.nextEvent()
		missed = append(missed, ev.Event)
		if id := streamID(t, ev.ID); id <= prev {
			t.Fatalf("event id %d after %d", id, prev)
		} else {
			prev = id
		}
		switch ev.Event {
		case "order":
			if o := streamDecode[streamOrder](t, ev); o.OrderID != mkt.Data.OrderID || o.Status != "completed" || o.OrderType != "market_buy" {
				t.Fatalf("missed order %s", ev.Data)
			}
		case "balance":
			if b := streamDecode[struct {
				Balance streamBalance `json:"balance"`
			}](t, ev); b.Balance.Current != "9110.00" || b.Balance.Held != "0.00" {
				t.Fatalf("missed balance %s", ev.Data)
			}
		case "price":
			if p := streamDecode[streamPrice](t, ev); p.String() != "BTC@61000.00" {
				t.Fatalf("missed price %s", ev.Data)
			}
		}
	}
	if want := []string{"order", "balance", "price"}; !slices.Equal(missed, want) {
		t.Fatalf("missed %v, want %v", missed, want)
	}

	// An id from before this process's history asks the client to re-read state.
	as3 := e.openStream(alice, "", "1")
	as3.next()
	if ev := as3.next(); ev.Event != "reset" || !strings.Contains(ev.Data, `"reason":"history_expired"`) || ev.ID == "" {
		t.Fatalf("stale Last-Event-ID: %+v", ev)
	}

	// Closing the platform ends the open streams (and does not hang).
	closed := make(chan error, 1)
	go func() { closed <- e.p.Close() }()
	defer func() { e.closed = true }()
	for _, c := range []*streamConn{bs, as2, as3} {
		select {
		case <-c.done:
		case <-time.After(streamWait):
			t.Fatal("a stream is still open after the platform closed")
		}
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("close platform: %v", err)
		}
	case <-time.After(streamWait):
		t.Fatal("platform Close hangs")
	}
}
