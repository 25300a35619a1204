package stream

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/httpapi"
)

// Path is the stream's route.
const Path = "/api/v1/stream"

// Defaults of HandlerOptions.
const (
	DefaultKeepalive    = 15 * time.Second
	DefaultWriteTimeout = 30 * time.Second
	DefaultRetry        = 2 * time.Second
	// MaxAssets bounds the ?assets= filter.
	MaxAssets = 100
	// maxBatch bounds the events written between two flushes.
	maxBatch = 64
	// DefaultMaxPerUser is the default bound on the streams one user has
	// open at once: a few browser tabs and a bot.
	DefaultMaxPerUser = 5
	// DefaultMaxTotal is the default bound on the streams open at once.
	// Each stream holds a file descriptor (two behind the gateway role);
	// 10,000 stays below the 65,536 descriptors of a container's usual
	// limit with room for the other connections and the store's files.
	DefaultMaxTotal = 10000
)

// BalanceReader reads a user's cash balance (*dao.BalanceDAO is one).
type BalanceReader interface {
	Get(ctx context.Context, username string, c entity.Currency) (*entity.Balance, error)
}

// HandlerOptions configure a Handler.
type HandlerOptions struct {
	// Balances, when set, makes balance events carry the balance as it is
	// when the event is sent (BalanceData); otherwise they carry a
	// BalanceHint telling the client what to re-read.
	Balances BalanceReader
	// Keepalive is the period of the ": keepalive" comment (DefaultKeepalive when 0).
	Keepalive time.Duration
	// WriteTimeout bounds each write to the client: the connection's write
	// deadline is moved to now+WriteTimeout before every write, which also
	// lifts the server's http.Server.WriteTimeout for the stream
	// (DefaultWriteTimeout when 0).
	WriteTimeout time.Duration
	// Retry is the reconnection delay announced to clients (DefaultRetry when 0).
	Retry time.Duration
	// Logger logs dropped clients and read errors (slog.Default() when nil).
	Logger *slog.Logger
	// MaxPerUser bounds the streams one user has open at once
	// (DefaultMaxPerUser when 0; negative: no bound).
	MaxPerUser int
	// MaxTotal bounds the streams open at once on the handler
	// (DefaultMaxTotal when 0; negative: no bound).
	MaxTotal int
}

// Handler serves GET /api/v1/stream. Build it with NewHandler.
type Handler struct {
	b      *Broker
	opts   HandlerOptions
	limits *Limits
}

// Limits bound the streams open at once: per user and in total. A
// gateway in front of the order replicas keeps its own (each stream holds
// one of its connections too). It is safe for concurrent use.
type Limits struct {
	maxPerUser, maxTotal int
	retryAfter           string // the refusals' Retry-After, in seconds

	mu    sync.Mutex
	open  map[string]int // open streams by user
	total int            // open streams
}

// NewLimits returns the limits: at most maxPerUser streams of one user and
// maxTotal in all (0 or negative: no bound); a refusal tells the client to
// retry after retry (rounded up to whole seconds, at least 1).
func NewLimits(maxPerUser, maxTotal int, retry time.Duration) *Limits {
	return &Limits{maxPerUser: maxPerUser, maxTotal: maxTotal, open: map[string]int{},
		retryAfter: strconv.FormatInt(int64(max((retry+time.Second-1)/time.Second, 1)), 10)}
}

// NewHandler returns the stream handler over b.
func NewHandler(b *Broker, opts HandlerOptions) *Handler {
	if opts.Keepalive <= 0 {
		opts.Keepalive = DefaultKeepalive
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	if opts.Retry <= 0 {
		opts.Retry = DefaultRetry
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxPerUser == 0 {
		opts.MaxPerUser = DefaultMaxPerUser
	}
	if opts.MaxTotal == 0 {
		opts.MaxTotal = DefaultMaxTotal
	}
	return &Handler{b: b, opts: opts, limits: NewLimits(opts.MaxPerUser, opts.MaxTotal, opts.Retry)}
}

// Acquire takes one of user's stream slots and returns its release, or a
// RateLimited error when user or the whole has no slot left. The error
// carries Retry-After and Connection: close (httpapi.WithHeader): a client
// opening streams in a loop does not keep a descriptor per refused request.
func (l *Limits) Acquire(user string) (release func(), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.maxTotal > 0 && l.total >= l.maxTotal:
		err = apperr.New(apperr.RateLimited, "too many open streams on this server: try again later")
	case l.maxPerUser > 0 && l.open[user] >= l.maxPerUser:
		err = apperr.New(apperr.RateLimited, "too many open streams: at most %d per user; close one to open another", l.maxPerUser)
	}
	if err != nil {
		return nil, httpapi.WithHeader(httpapi.WithHeader(err, "Connection", "close"), "Retry-After", l.retryAfter)
	}
	l.total++
	l.open[user]++
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.total--
		if l.open[user]--; l.open[user] <= 0 {
			delete(l.open, user)
		}
	}, nil
}

// Open returns the number of streams open under the limits.
func (l *Limits) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// Open returns the number of streams open on the handler.
func (h *Handler) Open() int { return h.limits.Open() }

// Query is the stream's query string.
type Query struct {
	Assets      string `query:"assets" maxLength:"1100" doc:"comma-separated asset ids: price ticks of these assets only (default: all)"`
	LastEventID string `query:"last_event_id" maxLength:"20" doc:"resume after this event id, for clients that cannot send the Last-Event-ID header (the header wins)"`
}

// BalanceData is the data of a balance event when the handler reads
// balances: Balance is the user's cash balance in Currency when the event
// was sent (it may already include later changes), null when unreadable.
type BalanceData struct {
	Currency string                  `json:"currency"`
	AssetID  string                  `json:"asset_id"`
	Balance  *entity.BalanceResponse `json:"balance"`
}

// ResetData is the data of a reset event.
type ResetData struct {
	Reason string `json:"reason"` // "history_expired" or "unknown_id"
	Detail string `json:"detail"`
}

const description = "Server-Sent Events (`text/event-stream`) for the caller. The stream starts with `retry: 2000` " +
	"and an `id:` line giving the current position. Events:\n\n" +
	"- `order` — data: the order (as in `GET /api/v1/orders/{order_id}`), after each committed change of one of the caller's orders;\n" +
	"- `balance` — data: `{\"currency\", \"asset_id\", \"balance\"}`: the cash balance (as in `GET /api/v1/balance`) when the event is sent, after a change of the caller's cash or holding of `asset_id`;\n" +
	"- `price` — data: `{\"asset_id\", \"price_usd\", \"at\"}` for every asset, or those of `?assets=`;\n" +
	"- `reset` — data: `{\"reason\", \"detail\"}`: the events after `Last-Event-ID` are no longer kept; re-read orders and balances.\n\n" +
	"Every event has an `id:`. A client that reconnects with `Last-Event-ID` (EventSource does it by itself) first gets the events it missed. " +
	"A `: keepalive` comment is sent every 15 s. A client too slow to read is disconnected and resumes by reconnecting. " +
	"A user has at most a few streams open at once (5 by default): beyond them, or beyond the server's total, the answer is 429 `rate_limited`. " +
	"Delivery is best effort: the REST resources are the truth."

// Register declares GET /api/v1/stream on api (Auth: user).
func (h *Handler) Register(api *httpapi.API) {
	httpapi.Handle(api, httpapi.Op{Method: http.MethodGet, Path: Path, OperationID: "streamEvents",
		Summary: "Live order, balance and price events (Server-Sent Events)", Description: description,
		Tags: []string{"stream"}, Auth: httpapi.AuthUser, Errors: []int{http.StatusTooManyRequests},
		Headers: []httpapi.Header{{Name: "Last-Event-ID", Description: "resume after this event id (sent by EventSource when it reconnects)"}}},
		h.accept)
}

// session is an accepted stream request: its WriteResponse is the stream.
type session struct {
	h       *Handler
	user    string
	opts    SubscribeOptions
	badID   bool
	head    bool   // HEAD: the stream's headers only
	release func() // gives back the stream's place (acquire)
}

// accept accepts a stream request: 401 without a principal, 422 for a bad
// query, 429 (and the connection closed) when the caller already has
// MaxPerUser streams open or the handler MaxTotal. The accepted request's
// result, a session, streams the caller's events.
func (h *Handler) accept(r *http.Request, q *Query) (*session, error) {
	p, ok := auth.PrincipalFrom(r.Context())
	if !ok || p.Username == "" {
		return nil, apperr.New(apperr.Unauthorized, "not authenticated")
	}
	assets, err := parseAssets(q.Assets)
	if err != nil {
		return nil, err
	}
	s := &session{h: h, user: p.Username, opts: SubscribeOptions{Username: p.Username, Assets: assets}}
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = q.LastEventID
	}
	if last = strings.TrimSpace(last); last != "" {
		s.opts.Resume = true
		if s.opts.LastEventID, err = strconv.ParseUint(last, 10, 64); err != nil {
			s.badID = true
		}
	}
	if r.Method == http.MethodHead {
		s.head = true
		return s, nil
	}
	if s.release, err = h.limits.Acquire(p.Username); err != nil {
		return nil, err
	}
	return s, nil
}

// WriteResponse streams the caller's events until the client leaves, the
// broker closes (server shutdown) or the client is too slow (its
// subscription dropped); a HEAD request gets the stream's headers and no
// body (httpapi.Responder).
func (ss *session) WriteResponse(w http.ResponseWriter, r *http.Request, _ int) {
	if ss.head {
		setStreamHeaders(w.Header())
		w.WriteHeader(http.StatusOK)
		return
	}
	h, opts := ss.h, ss.opts
	defer ss.release()
	sub, c := h.b.Subscribe(opts)
	defer sub.Close()
	if ss.badID {
		c.Reset, c.Events = true, nil
	}

	setStreamHeaders(w.Header())
	rc := http.NewResponseController(w)
	s := &sender{h: h, w: w, rc: rc, ctx: r.Context(), user: ss.user}
	s.extend()
	w.WriteHeader(http.StatusOK)

	s.buf.WriteString("retry: ")
	s.buf.WriteString(strconv.FormatInt(h.opts.Retry.Milliseconds(), 10))
	s.buf.WriteString("\n\n")
	if c.Reset {
		reason, detail := "history_expired", "the events after Last-Event-ID are no longer kept: re-read orders and balances"
		if ss.badID || c.Unknown {
			reason, detail = "unknown_id", "Last-Event-ID was not issued by this server: re-read orders and balances"
		}
		writeEvent(&s.buf, c.Cursor, KindReset, encodeLine(ResetData{Reason: reason, Detail: detail}))
	} else {
		for _, ev := range c.Events {
			s.add(ev)
		}
		if n := len(c.Events); n == 0 || c.Events[n-1].ID != c.Cursor {
			// An id without data sets the client's Last-Event-ID without
			// dispatching an event: the position to resume from.
			s.buf.WriteString("id: ")
			s.buf.WriteString(strconv.FormatUint(c.Cursor, 10))
			s.buf.WriteString("\n\n")
		}
	}
	if !s.flush() {
		return
	}

	keepalive := time.NewTicker(h.opts.Keepalive)
	defer keepalive.Stop()
	events := sub.Events()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-h.b.Done():
			return
		case <-keepalive.C:
			s.buf.WriteString(": keepalive\n\n")
		case ev, ok := <-events:
			if !ok {
				// Dropped (too slow) or broker closed: what was buffered has
				// been sent; the client reconnects with its Last-Event-ID.
				if sub.Dropped() {
					h.opts.Logger.Info("stream: client dropped (too slow, or events lost)", "user", ss.user)
				}
				s.flush()
				return
			}
			s.add(ev)
			for i := 1; i < maxBatch && len(events) > 0; i++ {
				if ev, ok = <-events; !ok {
					break
				}
				s.add(ev)
			}
		}
		if !s.flush() {
			return
		}
	}
}

// setStreamHeaders sets the headers of an event stream: no caching, and no
// buffering by proxies (X-Accel-Buffering for nginx).
func setStreamHeaders(hdr http.Header) {
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Accel-Buffering", "no")
	hdr.Del("Content-Length")
}

// sender writes one stream.
type sender struct {
	h    *Handler
	w    http.ResponseWriter
	rc   *http.ResponseController
	ctx  context.Context
	user string
	buf  bytes.Buffer
}

// add appends ev to the buffer.
func (s *sender) add(ev Event) {
	data := ev.JSON()
	if ev.Kind == KindBalance && s.h.opts.Balances != nil {
		d := BalanceData{Currency: ev.Currency, AssetID: ev.AssetID}
		if b, err := s.h.opts.Balances.Get(s.ctx, s.user, entity.Currency(ev.Currency)); err == nil {
			resp := b.Response()
			d.Balance = &resp
		} else if !apperr.Is(err, apperr.NotFound) && s.ctx.Err() == nil {
			s.h.opts.Logger.Warn("stream: read balance", "user", s.user, "currency", ev.Currency, "err", err)
		}
		data = encodeLine(d)
	}
	writeEvent(&s.buf, ev.ID, ev.Kind, data)
}

// writeEvent appends one event block; data is one line of JSON.
func writeEvent(buf *bytes.Buffer, id uint64, kind string, data []byte) {
	buf.WriteString("id: ")
	buf.WriteString(strconv.FormatUint(id, 10))
	buf.WriteString("\nevent: ")
	buf.WriteString(kind)
	buf.WriteString("\ndata: ")
	buf.Write(data)
	buf.WriteString("\n\n")
}

// extend moves the write deadline to now+WriteTimeout (when the
// ResponseWriter supports deadlines).
func (s *sender) extend() {
	if err := s.rc.SetWriteDeadline(time.Now().Add(s.h.opts.WriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		s.h.opts.Logger.Debug("stream: set write deadline", "err", err)
	}
}

// flush writes and flushes the buffer; false when the client is gone.
func (s *sender) flush() bool {
	if s.buf.Len() > 0 {
		s.extend()
		_, err := s.w.Write(s.buf.Bytes())
		s.buf.Reset()
		if err != nil {
			return false
		}
	}
	return s.rc.Flush() == nil
}

// parseAssets splits a comma-separated list of asset ids, upper-cased and
// de-duplicated; nil for an empty list.
func parseAssets(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	if len(parts) > MaxAssets {
		return nil, assetsError("at most " + strconv.Itoa(MaxAssets) + " asset ids")
	}
	out := make([]string, 0, len(parts))
	seen := make(map[string]bool, len(parts))
	for _, p := range parts {
		id := strings.ToUpper(strings.TrimSpace(p))
		if !validAssetID(id) {
			return nil, assetsError("each asset id must be 1-10 letters or digits")
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out, nil
}

func validAssetID(id string) bool {
	if len(id) == 0 || len(id) > 10 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

func assetsError(msg string) error {
	return &apperr.Error{Kind: apperr.Invalid, Message: "invalid query parameter assets: " + msg,
		Fields: []apperr.FieldError{{Loc: []string{"query", "assets"}, Msg: msg, Type: "value_error"}}}
}
