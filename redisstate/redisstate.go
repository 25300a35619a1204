// Package redisstate keeps the gateway's shared state in Redis, so that
// several gateway replicas enforce one set of limits: token revocation
// (auth.Revoker), rate-limit and login-failure counters (gateway.Counter)
// and login blocks (gateway.Marker). Every entry is written with an expiry,
// so Redis forgets it when it no longer matters, and every write is one
// atomic round trip (a Lua script or a single command).
//
// Semantics are those of the in-process versions (auth.MemoryRevoker,
// gateway.MemoryCounter), with Redis's clock deciding expiry and times
// reported to millisecond precision: durations are sent as milliseconds,
// rounded up, and reset times are the caller's clock plus the remaining TTL
// (PTTL), so clock skew between replicas and Redis does not matter.
//
// Keys are Options.Prefix followed by "revoked:<jti>", "count:<key>" or
// "mark:<key>".
package redisstate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/gateway"
)

// Defaults of Options.
const (
	DefaultPrefix         = "orderprocessor:"
	DefaultConnectTimeout = 5 * time.Second
)

// Options configure a Client. Zero fields take defaults.
type Options struct {
	// Prefix starts every key the client writes; DefaultPrefix when "".
	// Replicas that must share state use the same prefix.
	Prefix string
	// ConnectTimeout bounds the PING of New; DefaultConnectTimeout when 0.
	ConnectTimeout time.Duration
	// Now is the clock reset times and revocation TTLs are computed
	// against; time.Now when nil. Expiry itself is Redis's.
	Now func() time.Time
	// Logger receives go-redis's own messages (failed dials, for one) as
	// warnings; slog.Default() when nil. go-redis has one logger per
	// process: the last New sets it.
	Logger *slog.Logger
}

// Client is the Redis-backed auth.Revoker, gateway.Counter and
// gateway.Marker. It is safe for concurrent use. Errors talking to Redis are
// returned wrapped, of kind apperr.Unavailable.
type Client struct {
	rdb    *redis.Client
	prefix string
	now    func() time.Time
}

var (
	_ auth.Revoker    = (*Client)(nil)
	_ gateway.Counter = (*Client)(nil)
	_ gateway.Marker  = (*Client)(nil)
)

// New connects to the Redis of url (redis://[user:password@]host:port/db,
// rediss:// for TLS, unix://; query parameters such as dial_timeout and
// pool_size are honoured) and checks it answers PING within
// Options.ConnectTimeout. The caller closes the Client.
func New(ctx context.Context, url string, opt Options) (*Client, error) {
	ropt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redisstate: parse url: %w", err)
	}
	if opt.Prefix == "" {
		opt.Prefix = DefaultPrefix
	}
	if opt.ConnectTimeout <= 0 {
		opt.ConnectTimeout = DefaultConnectTimeout
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	redis.SetLogger(redisLogger{opt.Logger})
	// One attempt and one dial (go-redis retries a command 3 times and
	// dials 5 times, 100 ms apart, by default): with Redis down, a call
	// fails in milliseconds and the caller's fallback answers (rate limits
	// fail open; revocations and the cache read the store).
	ropt.DialerRetries, ropt.MaxRetries = 1, -1
	c := &Client{rdb: redis.NewClient(ropt), prefix: opt.Prefix, now: opt.Now}
	pctx, cancel := context.WithTimeout(ctx, opt.ConnectTimeout)
	defer cancel()
	if err := c.Ping(pctx); err != nil {
		_ = c.rdb.Close()
		return nil, fmt.Errorf("redisstate: connect to %s: %w", ropt.Addr, err)
	}
	return c, nil
}

// redisLogger hands go-redis's messages to slog (go-redis writes them to
// stderr otherwise, outside the process's log format).
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis client", "detail", fmt.Sprintf(format, v...))
}

// Ping checks that Redis answers; it is the platform's "redis" readiness
// check.
func (c *Client) Ping(ctx context.Context) error {
	if err := c.rdb.Ping(ctx).Err(); err != nil {
		return unavailable(err, "redis ping")
	}
	return nil
}

// Close closes the connections. Calls after Close fail.
func (c *Client) Close() error {
	if err := c.rdb.Close(); err != nil {
		return fmt.Errorf("redisstate: close: %w", err)
	}
	return nil
}

// Prefix returns the prefix of the client's keys.
func (c *Client) Prefix() string { return c.prefix }

// revokeScript sets KEYS[1] with a TTL of ARGV[1] ms when it is absent, and
// otherwise only extends its TTL (never shortens it).
var revokeScript = redis.NewScript(`
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  return 1
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl >= 0 and ttl < tonumber(ARGV[1]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return 0
`)

// Revoke implements auth.Revoker: the jti's key lives until until (PX, the
// time left rounded up to a millisecond). Revoking again extends the entry
// when until is later; an until not after now is a no-op. It returns an
// Invalid error for an empty jti or one longer than auth.MaxJTILen.
func (c *Client) Revoke(ctx context.Context, jti string, until time.Time) error {
	if jti == "" || len(jti) > auth.MaxJTILen {
		return apperr.New(apperr.Invalid, "jti must be 1..%d characters", auth.MaxJTILen)
	}
	left := until.Sub(c.now())
	if left <= 0 {
		return nil
	}
	if err := revokeScript.Run(ctx, c.rdb, []string{c.prefix + "revoked:" + jti}, millis(left)).Err(); err != nil {
		return unavailable(err, "revoke token")
	}
	return nil
}

// IsRevoked implements auth.Revoker (EXISTS). On error the answer is
// unknown and the caller must refuse the token.
func (c *Client) IsRevoked(ctx context.Context, jti string) (bool, error) {
	n, err := c.rdb.Exists(ctx, c.prefix+"revoked:"+jti).Result()
	if err != nil {
		return false, unavailable(err, "check token revocation")
	}
	return n > 0, nil
}

// incrScript adds one to KEYS[1], starting a window of ARGV[1] ms when the
// key has none (a new key, or one somehow left without a TTL), and returns
// the count and the window's remaining TTL in ms.
var incrScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
`)

// Incr implements gateway.Counter with INCR and PEXPIRE on the window's
// first increment, atomically (one Lua script). resetAt is now plus the
// key's PTTL. A window must be positive (an Invalid error otherwise); one
// below a millisecond lasts a millisecond.
func (c *Client) Incr(ctx context.Context, key string, window time.Duration) (int64, time.Time, error) {
	if window <= 0 {
		return 0, time.Time{}, apperr.New(apperr.Invalid, "counter window must be positive, not %v", window)
	}
	now := c.now() // before the call: resetAt is never later than the key's expiry
	res, err := incrScript.Run(ctx, c.rdb, []string{c.prefix + "count:" + key}, millis(window)).Int64Slice()
	if err != nil {
		return 0, time.Time{}, unavailable(err, "increment counter")
	}
	if len(res) != 2 {
		return 0, time.Time{}, apperr.New(apperr.Internal, "redisstate: counter script returned %d values", len(res))
	}
	return res[0], now.Add(time.Duration(res[1]) * time.Millisecond), nil
}

// decrScript takes one from KEYS[1] when it holds a count above zero (DECR
// keeps its TTL); an absent key stays absent.
var decrScript = redis.NewScript(`
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n and n > 0 then
  return redis.call('DECR', KEYS[1])
end
return 0
`)

// Decr implements gateway.Counter atomically (one Lua script): the count
// of an existing window goes down by one, never below zero, and the window
// keeps its end.
func (c *Client) Decr(ctx context.Context, key string) error {
	if err := decrScript.Run(ctx, c.rdb, []string{c.prefix + "count:" + key}).Err(); err != nil {
		return unavailable(err, "decrement counter")
	}
	return nil
}

// Reset implements gateway.Counter: DEL of the counter.
func (c *Client) Reset(ctx context.Context, key string) error {
	if err := c.rdb.Del(ctx, c.prefix+"count:"+key).Err(); err != nil {
		return unavailable(err, "reset counter")
	}
	return nil
}

// Mark implements gateway.Marker: SET with PX replaces any earlier mark of
// key. A ttl not above zero removes the mark (it would end at once).
func (c *Client) Mark(ctx context.Context, key string, ttl time.Duration) error {
	k := c.prefix + "mark:" + key
	var err error
	if ttl <= 0 {
		err = c.rdb.Del(ctx, k).Err()
	} else {
		err = c.rdb.Set(ctx, k, "1", time.Duration(millis(ttl))*time.Millisecond).Err()
	}
	if err != nil {
		return unavailable(err, "set mark")
	}
	return nil
}

// errNoExpiry is reported for a mark without a TTL, which only another
// writer than this package can leave.
var errNoExpiry = errors.New("redisstate: mark has no expiry")

// Marked implements gateway.Marker: until is now plus the mark's PTTL.
func (c *Client) Marked(ctx context.Context, key string) (time.Time, bool, error) {
	now := c.now()
	ttl, err := c.rdb.PTTL(ctx, c.prefix+"mark:"+key).Result()
	switch {
	case err != nil:
		return time.Time{}, false, unavailable(err, "check mark")
	case ttl == -1: // go-redis keeps -1 and -2 as nanoseconds
		return time.Time{}, false, apperr.Wrap(apperr.Internal, errNoExpiry, "mark %q", key)
	case ttl <= 0: // -2: no such key
		return time.Time{}, false, nil
	}
	return now.Add(ttl), true, nil
}

// millis is d in whole milliseconds, rounded up, at least 1.
func millis(d time.Duration) int64 {
	return max(int64((d+time.Millisecond-1)/time.Millisecond), 1)
}

func unavailable(err error, what string) error {
	return apperr.Wrap(apperr.Unavailable, err, "%s: redis unavailable", what)
}
