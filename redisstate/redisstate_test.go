package redisstate

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/gateway"
	"github.com/orderprocessor/orderprocessor/testenv"
	"github.com/orderprocessor/orderprocessor/testenv/fakeclock"
)

// discard drops go-redis's own log lines (its dial failures in the tests of
// unreachable servers).
type discard struct{}

func (discard) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	redis.SetLogger(discard{})
	os.Exit(m.Run())
}

// PrefixForTest returns a key prefix no other test or run uses.
func PrefixForTest() string {
	return "test:" + strings.ToLower(rand.Text()[:12]) + ":"
}

// ClientForTest connects to the test Redis with a fresh prefix and deletes
// the prefix's keys when the test ends.
func ClientForTest(t testing.TB, opt Options) *Client {
	t.Helper()
	url := testenv.RedisURL(t)
	if opt.Prefix == "" {
		opt.Prefix = PrefixForTest()
	}
	c, err := New(context.Background(), url, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		keys, err := c.rdb.Keys(ctx, c.prefix+"*").Result()
		if err == nil && len(keys) > 0 {
			err = c.rdb.Del(ctx, keys...).Err()
		}
		if err != nil {
			t.Errorf("delete test keys: %v", err)
		}
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	return c
}

// impl is one implementation of the shared state under the behavioural
// table: the in-process reference (on a fake clock) or Redis (on the real
// clock, where advance sleeps).
type impl struct {
	counter gateway.Counter
	marker  gateway.Marker
	revoker auth.Revoker
	now     func() time.Time
	advance func(time.Duration)
	// slack is how much earlier than the true end a reported time may be:
	// Redis reports whole milliseconds of TTL.
	slack time.Duration
}

var impls = []struct {
	name string
	make func(t *testing.T) impl
}{
	{"memory", func(*testing.T) impl {
		clk := fakeclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
		c := gateway.NewMemoryCounter(gateway.MemoryCounterOptions{Now: clk.Now})
		return impl{counter: c, marker: c, revoker: auth.NewMemoryRevoker(auth.MemoryRevokerOptions{Now: clk.Now}),
			now: clk.Now, advance: clk.Advance}
	}},
	{"redis", func(t *testing.T) impl {
		c := ClientForTest(t, Options{})
		return impl{counter: c, marker: c, revoker: c, now: time.Now, advance: time.Sleep, slack: 2 * time.Millisecond}
	}},
}

// Durations of the behavioural table: long ones are never reached while a
// test runs; short ones end during an advance of gap.
const (
	long  = time.Hour
	short = 100 * time.Millisecond
	gap   = 200 * time.Millisecond
)

// checkTime checks got, the end of a period of d that started between lo
// and hi, as reported by a call that took took: Redis reports it as the
// clock before the call plus the TTL left at some moment during the call,
// so it may be early by took, and off by slack either way.
func checkTime(t *testing.T, what string, got, lo, hi time.Time, d, took, slack time.Duration) {
	t.Helper()
	earliest, latest := lo.Add(d-took-slack), hi.Add(d+slack)
	if got.Before(earliest) || got.After(latest) {
		t.Fatalf("%s = %v, want within [%v, %v]", what, got, earliest, latest)
	}
}

// counterStep is one Incr: after advancing the clock, key's count in a
// window of window must be want; newWindow says the Incr starts the window.
// A step with op "decr" or "reset" calls Decr or Reset of key instead.
type counterStep struct {
	advance   time.Duration
	op        string
	key       string
	window    time.Duration
	want      int64
	newWindow bool
}

var counterCases = []struct {
	name  string
	steps []counterStep
}{
	{"counts within a window", []counterStep{
		{key: "k", window: long, want: 1, newWindow: true},
		{key: "k", window: long, want: 2},
		{key: "k", window: long, want: 3},
	}},
	{"keys are independent", []counterStep{
		{key: "a", window: long, want: 1, newWindow: true},
		{key: "b", window: long, want: 1, newWindow: true},
		{key: "a", window: long, want: 2},
		{key: "rl:ip:192.0.2.1", window: long, want: 1, newWindow: true},
	}},
	{"a new window starts after the end", []counterStep{
		{key: "k", window: short, want: 1, newWindow: true},
		{key: "k", window: short, want: 2},
		{advance: gap, key: "k", window: long, want: 1, newWindow: true},
		{key: "k", window: long, want: 2},
	}},
	{"the first Incr fixes the window", []counterStep{
		{key: "k", window: long, want: 1, newWindow: true},
		{key: "k", window: short, want: 2},
		{advance: gap, key: "k", window: short, want: 3},
	}},
	{"decr takes one back within the window", []counterStep{
		{key: "k", window: short, want: 1, newWindow: true},
		{key: "k", window: short, want: 2},
		{op: "decr", key: "k"},
		{key: "k", window: long, want: 2},
		{advance: gap, key: "k", window: long, want: 1, newWindow: true},
	}},
	{"decr stops at zero and keeps the window", []counterStep{
		{key: "k", window: long, want: 1, newWindow: true},
		{op: "decr", key: "k"},
		{op: "decr", key: "k"},
		{key: "k", window: short, want: 1},
	}},
	{"decr of no window does nothing", []counterStep{
		{op: "decr", key: "k"},
		{key: "k", window: long, want: 1, newWindow: true},
		{key: "e", window: short, want: 1, newWindow: true},
		{advance: gap, op: "decr", key: "e"},
		{key: "e", window: long, want: 1, newWindow: true},
	}},
	{"reset ends the window", []counterStep{
		{key: "k", window: long, want: 1, newWindow: true},
		{key: "k", window: long, want: 2},
		{key: "j", window: long, want: 1, newWindow: true},
		{op: "reset", key: "k"},
		{op: "reset", key: "absent"},
		{key: "k", window: long, want: 1, newWindow: true},
		{key: "j", window: long, want: 2},
	}},
}

func TestCounter(t *testing.T) {
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range counterCases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					s := im.make(t)
					ctx := context.Background()
					type win struct {
						lo, hi time.Time
						d      time.Duration
					}
					windows := map[string]win{}
					for i, st := range tc.steps {
						s.advance(st.advance)
						switch st.op {
						case "decr":
							if err := s.counter.Decr(ctx, st.key); err != nil {
								t.Fatalf("step %d: Decr(%q): %v", i, st.key, err)
							}
							continue
						case "reset":
							if err := s.counter.Reset(ctx, st.key); err != nil {
								t.Fatalf("step %d: Reset(%q): %v", i, st.key, err)
							}
							continue
						}
						lo := s.now()
						n, reset, err := s.counter.Incr(ctx, st.key, st.window)
						hi := s.now()
						if err != nil || n != st.want {
							t.Fatalf("step %d: Incr(%q) = %d, %v; want %d", i, st.key, n, err, st.want)
						}
						if st.newWindow {
							windows[st.key] = win{lo, hi, st.window}
						}
						w := windows[st.key]
						checkTime(t, fmt.Sprintf("step %d: resetAt", i), reset, w.lo, w.hi, w.d, hi.Sub(lo), s.slack)
					}
				})
			}
		})
	}
}

// markStep is one Mark (ttl != 0 or mark) or Marked check of key.
type markStep struct {
	advance time.Duration
	key     string
	mark    bool
	ttl     time.Duration
	want    bool // Marked: whether key is marked
}

var markCases = []struct {
	name  string
	steps []markStep
}{
	{"unmarked", []markStep{{key: "b"}}},
	{"marked until the ttl", []markStep{
		{key: "b", mark: true, ttl: long},
		{key: "b", want: true},
		{key: "c"},
	}},
	{"a mark ends", []markStep{
		{key: "b", mark: true, ttl: short},
		{key: "b", want: true},
		{advance: gap, key: "b"},
	}},
	{"a mark replaces a longer one", []markStep{
		{key: "b", mark: true, ttl: long},
		{key: "b", mark: true, ttl: short},
		{key: "b", want: true},
		{advance: gap, key: "b"},
	}},
	{"a mark replaces a shorter one", []markStep{
		{key: "b", mark: true, ttl: short},
		{key: "b", mark: true, ttl: long},
		{advance: gap, key: "b", want: true},
	}},
	{"a non-positive ttl unmarks", []markStep{
		{key: "b", mark: true, ttl: long},
		{key: "b", mark: true, ttl: -time.Second},
		{key: "b"},
		{key: "c", mark: true, ttl: 0},
		{key: "c"},
	}},
}

func TestMarker(t *testing.T) {
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range markCases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					s := im.make(t)
					ctx := context.Background()
					var lo, hi time.Time
					var ttl time.Duration
					for i, st := range tc.steps {
						s.advance(st.advance)
						if st.mark {
							lo = s.now()
							if err := s.marker.Mark(ctx, st.key, st.ttl); err != nil {
								t.Fatalf("step %d: Mark: %v", i, err)
							}
							hi, ttl = s.now(), st.ttl
							continue
						}
						before := s.now()
						until, ok, err := s.marker.Marked(ctx, st.key)
						took := s.now().Sub(before)
						if err != nil || ok != st.want {
							t.Fatalf("step %d: Marked(%q) = %v, %v; want %v", i, st.key, ok, err, st.want)
						}
						if ok {
							checkTime(t, fmt.Sprintf("step %d: until", i), until, lo, hi, ttl, took, s.slack)
						} else if !until.IsZero() {
							t.Fatalf("step %d: until %v of an unmarked key", i, until)
						}
					}
				})
			}
		})
	}
}

// TestCounterAndMarkerKeysApart: a counter and a mark of the same key are
// different entries.
func TestCounterAndMarkerKeysApart(t *testing.T) {
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			s := im.make(t)
			ctx := context.Background()
			if err := s.marker.Mark(ctx, "x", long); err != nil {
				t.Fatal(err)
			}
			if n, _, err := s.counter.Incr(ctx, "x", long); n != 1 || err != nil {
				t.Fatalf("Incr = %d, %v", n, err)
			}
			if _, ok, err := s.marker.Marked(ctx, "x"); !ok || err != nil {
				t.Fatalf("Marked = %v, %v", ok, err)
			}
		})
	}
}

// revokeStep revokes jti until now+until (when revoke), or checks it.
type revokeStep struct {
	advance time.Duration
	jti     string
	revoke  bool
	until   time.Duration
	want    bool
}

var revokeCases = []struct {
	name  string
	steps []revokeStep
}{
	{"not revoked", []revokeStep{{jti: "a"}}},
	{"revoked until expiry", []revokeStep{
		{jti: "a", revoke: true, until: long},
		{jti: "a", want: true},
		{jti: "b"},
	}},
	{"a revocation ends", []revokeStep{
		{jti: "a", revoke: true, until: short},
		{jti: "a", want: true},
		{advance: gap, jti: "a"},
	}},
	{"an earlier until does not shorten", []revokeStep{
		{jti: "a", revoke: true, until: long},
		{jti: "a", revoke: true, until: short},
		{advance: gap, jti: "a", want: true},
	}},
	{"a later until extends", []revokeStep{
		{jti: "a", revoke: true, until: short},
		{jti: "a", revoke: true, until: long},
		{advance: gap, jti: "a", want: true},
	}},
	{"a past until is a no-op", []revokeStep{
		{jti: "a", revoke: true, until: 0},
		{jti: "a"},
		{jti: "b", revoke: true, until: -time.Hour},
		{jti: "b"},
	}},
}

func TestRevoker(t *testing.T) {
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range revokeCases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					s := im.make(t)
					ctx := context.Background()
					for i, st := range tc.steps {
						s.advance(st.advance)
						if st.revoke {
							if err := s.revoker.Revoke(ctx, st.jti, s.now().Add(st.until)); err != nil {
								t.Fatalf("step %d: Revoke: %v", i, err)
							}
							continue
						}
						if got, err := s.revoker.IsRevoked(ctx, st.jti); got != st.want || err != nil {
							t.Fatalf("step %d: IsRevoked(%q) = %v, %v; want %v", i, st.jti, got, err, st.want)
						}
					}
				})
			}
			t.Run("bad jti", func(t *testing.T) {
				s := im.make(t)
				for _, bad := range []string{"", strings.Repeat("x", auth.MaxJTILen+1)} {
					if err := s.revoker.Revoke(context.Background(), bad, s.now().Add(time.Hour)); !apperr.Is(err, apperr.Invalid) {
						t.Fatalf("Revoke(%.10q) = %v, want invalid", bad, err)
					}
				}
				if err := s.revoker.Revoke(context.Background(), strings.Repeat("x", auth.MaxJTILen), s.now().Add(time.Hour)); err != nil {
					t.Fatalf("Revoke of a jti of MaxJTILen: %v", err)
				}
			})
		})
	}
}

// TestConcurrentIncr: increments from many goroutines (and two clients, as
// two replicas) are all counted, in one window.
func TestConcurrentIncr(t *testing.T) {
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			s := im.make(t)
			counters := []gateway.Counter{s.counter, s.counter}
			if c, ok := s.counter.(*Client); ok {
				other := ClientForTest(t, Options{Prefix: c.Prefix()})
				counters[1] = other
			}
			ctx := context.Background()
			var wg sync.WaitGroup
			resets := make(chan time.Time, 8*50)
			for g := range 8 {
				wg.Go(func() {
					for range 50 {
						_, reset, err := counters[g%2].Incr(ctx, "k", long)
						if err != nil {
							t.Error(err)
							return
						}
						resets <- reset
					}
				})
			}
			wg.Wait()
			close(resets)
			n, last, err := s.counter.Incr(ctx, "k", long)
			if n != 401 || err != nil {
				t.Fatalf("count %d, %v; want 401", n, err)
			}
			for r := range resets {
				if d := r.Sub(last).Abs(); d > 2*s.slack+time.Second/2 {
					t.Fatalf("two resets of one window %v apart", d)
				}
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel() // the dial retries take a second or two
	ctx := context.Background()
	for _, tc := range []struct {
		url, want string
	}{
		{"http://127.0.0.1:6379", "redisstate: parse url"},
		{"redis://127.0.0.1:1/0", "redisstate: connect to 127.0.0.1:1"},
	} {
		c, err := New(ctx, tc.url, Options{ConnectTimeout: 2 * time.Second, Logger: slog.New(slog.DiscardHandler)})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			if c != nil {
				_ = c.Close()
			}
			t.Fatalf("New(%q) = %v, want an error containing %q", tc.url, err, tc.want)
		}
	}
}

// TestLogsToSlog: go-redis's own messages (here its failed dials) reach
// Options.Logger as warnings, not stderr. Not parallel: go-redis has one
// logger per process, which every New sets.
func TestLogsToSlog(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	_, err := New(context.Background(), "redis://127.0.0.1:1/0", Options{ConnectTimeout: 2 * time.Second, Logger: log})
	redis.SetLogger(discard{})
	if err == nil {
		t.Fatal("New of an unreachable Redis succeeded")
	}
	var rec map[string]any
	line, _, _ := bytes.Cut(buf.Bytes(), []byte("\n"))
	if err := json.Unmarshal(line, &rec); err != nil {
		t.Fatalf("log %q: %v", buf.String(), err)
	}
	if len(rec) != 4 || rec["level"] != "WARN" || rec["msg"] != "redis client" ||
		!strings.Contains(fmt.Sprint(rec["detail"]), "failed to dial") {
		t.Fatalf("log %q", buf.String())
	}
}

// TestUnavailable: once Redis cannot be reached every operation fails with
// an Unavailable error (the gateway then refuses tokens: fail closed).
func TestUnavailable(t *testing.T) {
	c, err := New(context.Background(), testenv.RedisURL(t), Options{Prefix: PrefixForTest()})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, _, incrErr := c.Incr(ctx, "k", time.Minute)
	_, _, markedErr := c.Marked(ctx, "k")
	_, revokedErr := c.IsRevoked(ctx, "j")
	for name, err := range map[string]error{
		"Ping":      c.Ping(ctx),
		"Incr":      incrErr,
		"Decr":      c.Decr(ctx, "k"),
		"Reset":     c.Reset(ctx, "k"),
		"Mark":      c.Mark(ctx, "k", time.Minute),
		"Marked":    markedErr,
		"Revoke":    c.Revoke(ctx, "j", time.Now().Add(time.Hour)),
		"IsRevoked": revokedErr,
	} {
		if !apperr.Is(err, apperr.Unavailable) {
			t.Errorf("%s after Close = %v, want unavailable", name, err)
		}
	}
}

// TestKeysAndTTLs looks at what is stored: the prefix, and an expiry on
// every key.
func TestKeysAndTTLs(t *testing.T) {
	c := ClientForTest(t, Options{})
	ctx := context.Background()
	if _, _, err := c.Incr(ctx, "rl:ip:192.0.2.7", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := c.Mark(ctx, "login:block:192.0.2.7", 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := c.Revoke(ctx, "jti-1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key string
		max time.Duration
	}{
		{"count:rl:ip:192.0.2.7", time.Minute},
		{"mark:login:block:192.0.2.7", 5 * time.Minute},
		{"revoked:jti-1", time.Hour},
	} {
		ttl, err := c.rdb.PTTL(ctx, c.Prefix()+tc.key).Result()
		if err != nil || ttl <= tc.max-time.Minute/2 || ttl > tc.max {
			t.Errorf("PTTL(%s) = %v, %v; want in (%v, %v]", tc.key, ttl, err, tc.max-time.Minute/2, tc.max)
		}
	}
	// A counter left without a TTL (by another writer) gets one.
	k := c.Prefix() + "count:orphan"
	if err := c.rdb.Set(ctx, k, "7", 0).Err(); err != nil {
		t.Fatal(err)
	}
	n, _, err := c.Incr(ctx, "orphan", time.Minute)
	if n != 8 || err != nil {
		t.Fatalf("Incr(orphan) = %d, %v", n, err)
	}
	if ttl, _ := c.rdb.PTTL(ctx, k).Result(); ttl <= 0 || ttl > time.Minute {
		t.Fatalf("orphan PTTL %v", ttl)
	}
	// A mark without a TTL is reported as an error, not as a block forever.
	if err := c.rdb.Set(ctx, c.Prefix()+"mark:forever", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := c.Marked(ctx, "forever"); ok || !apperr.Is(err, apperr.Internal) {
		t.Fatalf("Marked(forever) = %v, %v", ok, err)
	}
	// Invalid windows.
	if _, _, err := c.Incr(ctx, "k", 0); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("Incr with window 0: %v", err)
	}
	if DefaultPrefix != "orderprocessor:" {
		t.Fatalf("DefaultPrefix %q", DefaultPrefix)
	}
}

func TestMillis(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want int64
	}{
		{time.Nanosecond, 1}, {time.Millisecond, 1}, {time.Millisecond + 1, 2}, {time.Minute, 60000}, {0, 1},
	} {
		if got := millis(tc.d); got != tc.want {
			t.Errorf("millis(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
}
