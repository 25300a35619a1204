// Package eventbus carries the business events between processes on one
// Redis stream, so that every replica sees every event whichever replica
// committed it:
//
//   - a Bus is a trading.Notifier (order and balance events, including
//     deposits, withdrawals and conversions) and an inventory price-change
//     hook (PriceChanged). Publishing never blocks: events go to a bounded
//     queue, and one goroutine writes them with pipelined XADDs (MAXLEN ~
//     Options.MaxLen bounds the stream); when the queue is full or Redis
//     fails, events are dropped and counted
//     (orderprocessor_events_dropped_total), and the next write adds a gap
//     marker;
//   - a Bus with Options.Broker or Options.OnPrice reads the stream (XREAD
//     BLOCK from the last entry it read; no consumer group, every reader
//     gets every entry). It appends every event to the broker with an id
//     derived from its stream id (ID), so the ids of the live stream are the
//     same on every replica and increase; at start it loads the stream's
//     last Broker.HistorySize entries as the broker's history, so a client
//     resumes (Last-Event-ID) on any replica. It hands live price events no
//     older than Options.MaxPriceAge to OnPrice (the trigger engine's
//     trading.Engine.PriceChanged).
//
// Events of one Bus are written in the order they were published; the
// events of different processes are in the order Redis received them, so
// an order's event from one process may follow a later one of the same
// order from another (its fill by another replica): the reader drops an
// order event whose order version is below one it has read.
//
// The store stays the truth. An event the bus loses (dropped at the
// publisher, or published by a process that died before writing it) never
// moves money; it means a later trigger (the engine's periodic sweep finds
// the order) and a stream without that event. A gap marker, or a reader
// that finds its last entry gone from the stream (Redis restarted or
// trimmed past it), rebases the broker (stream.Broker.Rebase): its clients
// reconnect and are told to re-read their state.
package eventbus

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/stream"
	"github.com/orderprocessor/orderprocessor/trading"
)

// Defaults of Options.
const (
	DefaultPrefix = "orderprocessor:" // redisstate.DefaultPrefix
	DefaultMaxLen = 20000
	DefaultBuffer = 65536
	// DefaultMaxPriceAge is the age beyond which a price event read from
	// the stream is not handed to OnPrice.
	DefaultMaxPriceAge = 5 * time.Second
	// DefaultResumeWait is the stream.Options.ResumeWait of a broker fed by
	// a bus: how long a client resuming from an event that another replica
	// already delivered waits for it on this one.
	DefaultResumeWait = 2 * time.Second
)

const (
	kindGap    = "gap"  // events were lost before this entry
	maxOrders  = 100000 // order versions the reader remembers
	batchMax   = 512    // XADDs per pipeline
	readCount  = 1000   // entries per XREAD
	readBlock  = 5 * time.Second
	writeLimit = 5 * time.Second // bounds one pipeline
	flushLimit = 2 * time.Second // bounds the final flush at Close
	retryMin   = 50 * time.Millisecond
	retryMax   = 2 * time.Second
)

// Options configure a Bus. Zero fields take defaults.
type Options struct {
	// Prefix starts the stream's key, Prefix+"events"; DefaultPrefix when
	// "". Processes that share events use the same prefix.
	Prefix string
	// MaxLen bounds the stream (approximately: XADD MAXLEN ~); at least
	// the broker's history; DefaultMaxLen when 0.
	MaxLen int64
	// Buffer is the publishing queue, in events (DefaultBuffer when 0).
	Buffer int
	// Broker, when set, receives every event of the stream (Append) and
	// its history at start.
	Broker *stream.Broker
	// OnPrice, when set, receives every price event read live from the
	// stream (not those of the history loaded at start); it must not
	// block. SkipOwnPrices leaves out the price events this Bus published
	// (a process whose engine hears its own price changes directly).
	OnPrice       func(assetID string, price decimal.Decimal)
	SkipOwnPrices bool
	// MaxPriceAge is the age (the reader's clock against the publisher's
	// time of the change) beyond which a price event is not handed to
	// OnPrice: a backlog read after an outage would have the engine execute
	// orders at prices long gone; its sweep uses the current ones
	// (DefaultMaxPriceAge when 0).
	MaxPriceAge time.Duration
	// Registerer, when set, registers the bus's metrics.
	Registerer prometheus.Registerer
	Logger     *slog.Logger     // slog.Default() when nil
	Now        func() time.Time // stamps published events; time.Now when nil
}

// Bus publishes events to the Redis stream and reads them from it. Build
// it with New and Start it; it is safe for concurrent use.
type Bus struct {
	rdb    *redis.Client
	key    string
	maxLen int64
	src    string // this bus's id in the entries it writes
	opts   Options
	log    *slog.Logger
	now    func() time.Time

	q      chan record
	loaded chan struct{} // closed after the reader's first load
	lost   atomic.Bool   // events dropped since the last write: the next write adds a gap marker

	versions map[string]int64 // the reader's: latest version read by order id

	published, received, rebases prometheus.Counter
	droppedFull, droppedRedis    prometheus.Counter

	cancel    context.CancelFunc
	writer    sync.WaitGroup
	reader    sync.WaitGroup
	started   bool
	closeOnce sync.Once
	closeErr  error
}

// record is one queued event.
type record struct {
	kind, user, asset, currency, price string
	order                              *entity.Order // a copy
	at                                 time.Time
}

// New returns a bus on the Redis of url (as redisstate.New: redis://,
// rediss://, unix://). It does not connect: Start does, and retries while
// Redis is unreachable.
func New(url string, opts Options) (*Bus, error) {
	ropt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("eventbus: parse url: %w", err)
	}
	// No retries inside go-redis: a write that failed may have been
	// applied, and a retry would publish its events twice; a failed read
	// must reach read, which checks for lost entries.
	ropt.MaxRetries = -1
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.MaxLen <= 0 {
		opts.MaxLen = DefaultMaxLen
	}
	if opts.Broker != nil {
		opts.MaxLen = max(opts.MaxLen, int64(opts.Broker.HistorySize()))
	}
	if opts.Buffer <= 0 {
		opts.Buffer = DefaultBuffer
	}
	if opts.MaxPriceAge <= 0 {
		opts.MaxPriceAge = DefaultMaxPriceAge
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	b := &Bus{rdb: redis.NewClient(ropt), key: opts.Prefix + "events", maxLen: opts.MaxLen,
		src: strings.ToLower(rand.Text()[:10]), opts: opts, log: opts.Logger, now: opts.Now,
		q: make(chan record, opts.Buffer), loaded: make(chan struct{}), versions: map[string]int64{}}
	counter := func(name, help string, labels prometheus.Labels) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels})
	}
	b.published = counter("orderprocessor_events_published_total", "Events written to the Redis event stream.", nil)
	b.received = counter("orderprocessor_events_received_total", "Events read from the Redis event stream.", nil)
	b.rebases = counter("orderprocessor_events_rebases_total", "Times the live stream was rebased because events were lost.", nil)
	dropped := "Events dropped before they reached the Redis event stream, by reason (full: the publishing queue was full; redis: the write failed)."
	b.droppedFull = counter("orderprocessor_events_dropped_total", dropped, prometheus.Labels{"reason": "full"})
	b.droppedRedis = counter("orderprocessor_events_dropped_total", dropped, prometheus.Labels{"reason": "redis"})
	if r := opts.Registerer; r != nil {
		for _, c := range []prometheus.Collector{b.published, b.received, b.rebases, b.droppedFull, b.droppedRedis} {
			if err := r.Register(c); err != nil {
				_ = b.rdb.Close()
				return nil, fmt.Errorf("eventbus: register metrics: %w", err)
			}
		}
	}
	return b, nil
}

// Key returns the stream's key.
func (b *Bus) Key() string { return b.key }

// Start starts the writer and, with Options.Broker or Options.OnPrice, the
// reader. They run until Close.
func (b *Bus) Start() {
	if b.started {
		return
	}
	b.started = true
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	b.writer.Add(1)
	go func() {
		defer b.writer.Done()
		b.write(ctx)
	}()
	if b.opts.Broker != nil || b.opts.OnPrice != nil {
		b.reader.Add(1)
		go func() {
			defer b.reader.Done()
			b.read(ctx)
		}()
	}
}

// Loaded is closed once the reader has loaded the stream's history into
// the broker: from then on the broker has the events since the history's
// start, and events published later are read live.
func (b *Bus) Loaded() <-chan struct{} { return b.loaded }

// Close stops the bus: it writes what is queued (for at most a few
// seconds), stops reading and closes the connections. It is idempotent.
func (b *Bus) Close() error {
	b.closeOnce.Do(func() {
		if b.cancel != nil {
			b.cancel()
		}
		b.writer.Wait()
		err := b.rdb.Close() // ends a blocked XREAD
		b.reader.Wait()
		if err != nil {
			b.closeErr = fmt.Errorf("eventbus: close: %w", err)
		}
	})
	return b.closeErr
}

// Publish implements trading.Notifier: it queues an order event (with a
// non-nil Order) or a balance event of e.Username. It never blocks.
func (b *Bus) Publish(e trading.Event) {
	if e.Username == "" {
		return
	}
	r := record{kind: e.Kind, user: e.Username, asset: e.AssetID}
	switch e.Kind {
	case trading.EventOrder:
		if e.Order == nil {
			return
		}
		r.order = e.Order.Clone() // the caller keeps its order
		if r.asset == "" {
			r.asset = r.order.AssetID
		}
	case trading.EventBalance:
		r.currency = e.Currency
	default:
		return
	}
	b.enqueue(r)
}

// RateChanged queues an exchange-rate event (a rate of currency was
// stored). It never blocks.
func (b *Bus) RateChanged(currency string, rate decimal.Decimal) {
	b.enqueue(record{kind: stream.KindFX, currency: currency, price: rate.String()})
}

// PriceChanged queues a price event; it is an inventory price-change hook
// (inventory.PriceChangeFunc). It never blocks.
func (b *Bus) PriceChanged(_ context.Context, assetID string, _, price decimal.Decimal) {
	b.enqueue(record{kind: stream.KindPrice, asset: assetID, price: entity.FormatPrice(price)})
}

func (b *Bus) enqueue(r record) {
	r.at = b.now()
	select {
	case b.q <- r:
	default:
		b.droppedFull.Inc()
		b.lost.Store(true)
	}
}

// write sends the queued events, a pipeline at a time, until ctx is done;
// then it sends what is left, for at most flushLimit.
func (b *Bus) write(ctx context.Context) {
	batch := make([]record, 0, batchMax)
	failing := false
	for {
		select {
		case r := <-b.q:
			batch = append(batch, r)
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), flushLimit)
			defer cancel()
			for {
				batch = b.fill(batch[:0])
				if len(batch) == 0 {
					return
				}
				if b.send(fctx, batch) != nil {
					b.droppedRedis.Add(float64(len(b.q))) // not written either
					return
				}
			}
		}
		batch = b.fill(batch)
		// Not ctx: Close lets the writes in flight end.
		wctx, cancel := context.WithTimeout(context.Background(), writeLimit)
		err := b.send(wctx, batch)
		cancel()
		batch = batch[:0]
		switch {
		case err != nil && !failing && ctx.Err() == nil:
			failing = true
			b.log.Warn("event bus: write to redis failed; events are dropped until it answers", "err", err)
		case err == nil && failing:
			failing = false
			b.log.Info("event bus: writing to redis again")
		}
	}
}

// fill adds queued events to batch, without waiting, up to batchMax.
func (b *Bus) fill(batch []record) []record {
	for len(batch) < batchMax {
		select {
		case r := <-b.q:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// send writes batch in one pipeline, after a gap marker when events were
// lost since the last write; on failure the batch is dropped.
func (b *Bus) send(ctx context.Context, batch []record) error {
	pipe := b.rdb.Pipeline()
	gap := b.lost.Swap(false)
	if gap {
		b.xadd(ctx, pipe, record{kind: kindGap, at: b.now()})
	}
	for _, r := range batch {
		b.xadd(ctx, pipe, r)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		b.droppedRedis.Add(float64(len(batch)))
		b.lost.Store(true)
		return fmt.Errorf("xadd %d events: %w", len(batch), err)
	}
	b.published.Add(float64(len(batch)))
	return nil
}

// Entry fields.
const (
	fKind, fUser, fAsset, fCurrency, fPrice, fOrder, fAt, fSource = "k", "u", "a", "c", "p", "o", "t", "s"
	fOrderID, fVersion                                            = "i", "v"
)

func (b *Bus) xadd(ctx context.Context, pipe redis.Pipeliner, r record) {
	v := make([]any, 0, 16)
	v = append(v, fKind, r.kind, fSource, b.src, fAt, strconv.FormatInt(r.at.UnixMicro(), 10))
	for _, f := range [][2]string{{fUser, r.user}, {fAsset, r.asset}, {fCurrency, r.currency}, {fPrice, r.price}} {
		if f[1] != "" {
			v = append(v, f[0], f[1])
		}
	}
	if r.order != nil {
		resp := r.order.Response()
		v = append(v, fOrder, resp.AppendJSON(nil), fOrderID, r.order.OrderID, fVersion, strconv.FormatInt(r.order.Version, 10))
	}
	pipe.XAdd(ctx, &redis.XAddArgs{Stream: b.key, MaxLen: b.maxLen, Approx: true, Values: v})
}

// ID returns the live-stream id of a Redis stream id "ms-seq":
// ms*1,000,000 + seq, which keeps the stream's order. It fails for an id
// that is not of that form or whose seq is 1,000,000 or more (a million
// entries in one millisecond).
func ID(streamID string) (uint64, error) {
	msPart, seqPart, ok := strings.Cut(streamID, "-")
	ms, err1 := strconv.ParseUint(msPart, 10, 64)
	seq, err2 := strconv.ParseUint(seqPart, 10, 64)
	if !ok || err1 != nil || err2 != nil || seq >= 1e6 || ms > (1<<64-1-seq)/1e6 {
		return 0, fmt.Errorf("eventbus: stream id %q has no live-stream id", streamID)
	}
	return ms*1e6 + seq, nil
}

// read follows the stream until ctx is done: it loads the history, then
// reads new entries (XREAD BLOCK) from the last one it read. After a
// failure it retries with a growing pause; when its last entry has left
// the stream meanwhile, it loads the history again (rebasing the broker).
func (b *Bus) read(ctx context.Context) {
	last := "" // the stream id of the last entry read; "" to load the history
	pause := retryMin
	failed := false
	fail := func(err error) {
		if ctx.Err() != nil {
			return
		}
		if !failed {
			b.log.Warn("event bus: read from redis failed; retrying", "err", err)
		}
		failed = true
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
		pause = min(2*pause, retryMax)
	}
	for ctx.Err() == nil {
		if last != "" && failed {
			gone, err := b.gone(ctx, last)
			if err != nil {
				fail(err)
				continue
			}
			if gone {
				last = ""
			}
		}
		if last == "" {
			var err error
			if last, err = b.load(ctx); err != nil {
				fail(err)
				continue
			}
			select {
			case <-b.loaded:
			default:
				close(b.loaded)
			}
		}
		res, err := b.rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{b.key, last}, Count: readCount, Block: readBlock}).Result()
		if errors.Is(err, redis.Nil) {
			continue // nothing within readBlock
		}
		if err != nil {
			fail(err)
			continue
		}
		if failed {
			b.log.Info("event bus: reading from redis again")
			failed, pause = false, retryMin
		}
		for _, s := range res {
			for _, m := range s.Messages {
				b.handle(m, true)
				last = m.ID
			}
		}
	}
}

// gone reports whether the entry id has left the stream.
func (b *Bus) gone(ctx context.Context, id string) (bool, error) {
	if id == "0-0" {
		return false, nil
	}
	msgs, err := b.rdb.XRange(ctx, b.key, id, id).Result()
	if err != nil {
		return false, fmt.Errorf("xrange %s: %w", b.key, err)
	}
	return len(msgs) == 0, nil
}

// load reads the stream's last entries as the broker's history (rebasing
// it to the oldest) and returns the id of the newest ("0-0" for an empty
// stream).
func (b *Bus) load(ctx context.Context) (string, error) {
	n := int64(1)
	if b.opts.Broker != nil {
		n = int64(b.opts.Broker.HistorySize()) + 1
	}
	msgs, err := b.rdb.XRevRangeN(ctx, b.key, "+", "-", n).Result()
	if err != nil {
		return "", fmt.Errorf("xrevrange %s: %w", b.key, err)
	}
	if len(msgs) == 0 {
		b.rebase(0)
		return "0-0", nil
	}
	slices.Reverse(msgs)
	// The oldest is the position; the history is what follows it.
	id, err := ID(msgs[0].ID)
	if err != nil {
		return "", err
	}
	b.rebase(id)
	for _, m := range msgs[1:] {
		b.handle(m, false)
	}
	return msgs[len(msgs)-1].ID, nil
}

// stale reports whether the reader has read a later version of the order
// than version, and otherwise remembers version. Only the reader calls it.
func (b *Bus) stale(orderID, version string) bool {
	v, err := strconv.ParseInt(version, 10, 64)
	if orderID == "" || err != nil {
		return false
	}
	if v < b.versions[orderID] {
		return true
	}
	if len(b.versions) >= maxOrders {
		clear(b.versions) // the orders out of order are recent ones
	}
	b.versions[orderID] = v
	return false
}

func (b *Bus) rebase(id uint64) {
	if b.opts.Broker != nil {
		b.rebases.Inc()
		b.opts.Broker.Rebase(id)
	}
}

// handle hands one entry to the broker and, when live, a price to OnPrice.
func (b *Bus) handle(m redis.XMessage, live bool) {
	b.received.Inc()
	id, err := ID(m.ID)
	if err != nil {
		b.log.Error("event bus: entry skipped", "err", err)
		return
	}
	f := func(k string) string { s, _ := m.Values[k].(string); return s }
	kind := f(fKind)
	if kind == kindGap {
		if live {
			b.log.Warn("event bus: events were lost; the live stream's clients re-read their state", "id", m.ID)
			b.rebase(id)
		}
		return
	}
	ev := stream.Event{ID: id, Kind: kind, Username: f(fUser), AssetID: f(fAsset), Currency: f(fCurrency)}
	if us, err := strconv.ParseInt(f(fAt), 10, 64); err == nil {
		ev.At = time.UnixMicro(us).UTC()
	}
	var data []byte
	switch kind {
	case stream.KindPrice:
		price, err := decimal.Parse(f(fPrice))
		if err != nil || ev.AssetID == "" {
			b.log.Error("event bus: bad price entry skipped", "id", m.ID, "price", f(fPrice))
			return
		}
		ev.PriceUSD = f(fPrice)
		own := b.opts.SkipOwnPrices && f(fSource) == b.src
		if live && b.opts.OnPrice != nil && !own && b.now().Sub(ev.At) <= b.opts.MaxPriceAge {
			b.opts.OnPrice(ev.AssetID, price)
		}
	case stream.KindFX:
		if _, err := decimal.Parse(f(fPrice)); err != nil || ev.Currency == "" {
			b.log.Error("event bus: bad rate entry skipped", "id", m.ID, "rate", f(fPrice))
			return
		}
		ev.Rate = f(fPrice)
	case stream.KindOrder:
		if data = []byte(f(fOrder)); len(data) == 0 || ev.Username == "" || b.stale(f(fOrderID), f(fVersion)) {
			return
		}
	case stream.KindBalance:
		if ev.Username == "" {
			return
		}
	default:
		return // a kind of a later version
	}
	if b.opts.Broker != nil {
		b.opts.Broker.Append(ev, data)
	}
}
