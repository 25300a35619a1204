// Package stream delivers live updates to clients: a Broker receives the
// trading layer's committed changes (it is a trading.Notifier) and the
// catalogue's price changes, numbers them, keeps a bounded history of them
// and fans them out to subscribers; Handler serves them to users as
// Server-Sent Events on GET /api/v1/stream.
//
// Delivery is best effort and the store stays the truth:
//   - order and balance events go only to their user's subscriptions; price
//     ticks go to every subscription (optionally filtered by asset);
//   - event ids are assigned under one lock in publication order, are
//     contiguous within a process, and start at the broker's creation time in
//     microseconds since the Unix epoch (Options.FirstID), so the ids of a
//     restarted process are above those of the one before it (unless it
//     published more than a million events a second on average); a broker
//     fed by a bus (Append, package eventbus) takes the bus's ids instead,
//     increasing but not contiguous, the same on every replica;
//   - Publish never blocks: each subscription has a bounded buffer, and a
//     subscription whose buffer is full is dropped (its channel is closed
//     after the events already buffered); the client reconnects with the
//     last id it saw and gets the rest from the history;
//   - the history is a ring of the last Options.HistorySize events: a client
//     resuming from an id that has left it (or from an id this broker never
//     held) is told to re-read its state (Catchup.Reset) instead.
package stream

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/trading"
)

// Event kinds on the stream.
const (
	KindOrder   = trading.EventOrder   // an order was placed or changed status
	KindBalance = trading.EventBalance // a user's cash or holding changed
	KindPrice   = "price"              // an asset's price changed
	KindFX      = "fx"                 // an exchange rate changed
	KindReset   = "reset"              // the client missed events: re-read state (Handler only)
)

// Defaults of Options.
const (
	DefaultBufferSize  = 256
	DefaultHistorySize = 8192
)

// Event is one numbered event. Events are immutable once published and are
// shared between subscribers: do not modify them.
type Event struct {
	ID       uint64
	Kind     string        // KindOrder, KindBalance, KindPrice or KindFX
	Username string        // the owner; "" for price ticks and rates (everyone's)
	Order    *entity.Order // KindOrder: a snapshot of the order as committed
	Currency string        // KindBalance: the cash currency that may have changed; KindFX: the rate's
	Rate     string        // KindFX: the new rate, the USD value of one unit of Currency
	AssetID  string        // the asset (order, holding or price)
	PriceUSD string        // KindPrice: the new price, formatted as entity.FormatPrice
	At       time.Time     // when the broker received it

	data *lazyJSON
}

type lazyJSON struct {
	once sync.Once
	b    []byte
}

// BalanceHint is the data of a balance event without a balance read.
type BalanceHint struct {
	Currency string `json:"currency"`
	AssetID  string `json:"asset_id"`
}

// PriceTick is the data of a price event.
type PriceTick struct {
	AssetID  string      `json:"asset_id"`
	PriceUSD string      `json:"price_usd"`
	At       entity.Time `json:"at"`
}

// FXTick is the data of an exchange-rate event: the pair's new rate, the
// USD value of one unit of Currency.
type FXTick struct {
	Pair     string      `json:"pair"`
	Currency string      `json:"currency"`
	Rate     string      `json:"rate"`
	At       entity.Time `json:"at"`
}

// JSON returns the event's data as one line of JSON (no trailing newline),
// encoded once per event: for an order event the entity.OrderResponse, for
// a balance event a BalanceHint, for a price event a PriceTick, for a rate
// event an FXTick.
func (e Event) JSON() []byte {
	if e.data == nil {
		return e.encode()
	}
	e.data.once.Do(func() { e.data.b = e.encode() })
	return e.data.b
}

func (e Event) encode() []byte {
	switch e.Kind {
	case KindOrder:
		if e.Order == nil {
			return []byte("null")
		}
		r := e.Order.Response()
		return r.AppendJSON(nil)
	case KindPrice:
		return encodeLine(PriceTick{AssetID: e.AssetID, PriceUSD: e.PriceUSD, At: entity.At(e.At)})
	case KindFX:
		return encodeLine(FXTick{Pair: entity.PairName(entity.Currency(e.Currency)), Currency: e.Currency, Rate: e.Rate, At: entity.At(e.At)})
	default:
		return encodeLine(BalanceHint{Currency: e.Currency, AssetID: e.AssetID})
	}
}

// encodeLine is JSON without HTML escaping (as httpapi.WriteJSON) and without
// the trailing newline. The values encoded here cannot fail.
func encodeLine(v any) []byte {
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return []byte("null")
	}
	return []byte(strings.TrimSuffix(sb.String(), "\n"))
}

// Options configure a Broker.
type Options struct {
	// BufferSize is each subscription's buffer, in events (DefaultBufferSize when 0).
	BufferSize int
	// HistorySize is how many recent events are kept for resuming clients
	// (DefaultHistorySize when 0).
	HistorySize int
	// FirstID is the id of the first event; when 0, the clock's time in
	// microseconds since the Unix epoch (at least 1).
	FirstID uint64
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// ResumeWait is how long Subscribe waits for a resumed id above the
	// broker's last event to arrive before it reports it unknown: a broker
	// fed by a bus receives an event a little after another replica's
	// broker, to which the client may have been connected. 0: no wait.
	ResumeWait time.Duration
}

// Broker numbers, keeps and fans out events. Build it with NewBroker; it is
// safe for concurrent use.
type Broker struct {
	bufSize    int
	now        func() time.Time
	resumeWait time.Duration

	mu       sync.Mutex
	seq      uint64        // id of the last event published (FirstID-1 before any)
	floor    uint64        // every event after this id is in the ring
	advanced chan struct{} // closed when seq moves, when a Subscribe waits for it
	ring     []Event       // the history, circular, in id order
	head     int           // index of the oldest retained event
	n        int           // events retained
	subs     map[*Subscription]struct{}
	users    map[string]map[*Subscription]struct{}
	closed   bool
	dropped  uint64
	done     chan struct{}
}

// NewBroker returns a broker with no subscriptions.
func NewBroker(opts Options) *Broker {
	if opts.BufferSize <= 0 {
		opts.BufferSize = DefaultBufferSize
	}
	if opts.HistorySize <= 0 {
		opts.HistorySize = DefaultHistorySize
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	first := opts.FirstID
	if first == 0 {
		first = uint64(max(opts.Now().UnixMicro(), 1))
	}
	return &Broker{bufSize: opts.BufferSize, now: opts.Now, resumeWait: opts.ResumeWait, seq: first - 1, floor: first - 1,
		ring: make([]Event, opts.HistorySize), subs: map[*Subscription]struct{}{},
		users: map[string]map[*Subscription]struct{}{}, done: make(chan struct{})}
}

// Publish implements trading.Notifier: an order event (with a non-nil Order)
// or a balance event for e.Username. Other kinds and events without a user
// are ignored. It never blocks.
func (b *Broker) Publish(e trading.Event) {
	if e.Username == "" {
		return
	}
	ev := Event{Kind: e.Kind, Username: e.Username, AssetID: e.AssetID}
	switch e.Kind {
	case trading.EventOrder:
		if e.Order == nil {
			return
		}
		// A copy (its API shape is only built when a subscriber needs it):
		// later changes of the order by the trading layer cannot reach it,
		// its decimals are immutable values.
		ev.Order = e.Order.Clone()
		if ev.AssetID == "" {
			ev.AssetID = ev.Order.AssetID
		}
	case trading.EventBalance:
		ev.Currency = e.Currency
	default:
		return
	}
	b.publish(ev)
}

// PublishPrice publishes a price tick for every subscription. It never blocks.
func (b *Broker) PublishPrice(assetID string, price decimal.Decimal) {
	b.publish(Event{Kind: KindPrice, AssetID: assetID, PriceUSD: entity.FormatPrice(price)})
}

// PublishRate publishes an exchange-rate change of currency for every
// subscription. It never blocks.
func (b *Broker) PublishRate(currency string, rate decimal.Decimal) {
	b.publish(Event{Kind: KindFX, Currency: currency, Rate: rate.String()})
}

// PriceChanged publishes the new price; it has the signature of an
// inventory price-change hook (inventory.PriceChangeFunc).
func (b *Broker) PriceChanged(_ context.Context, assetID string, _, price decimal.Decimal) {
	b.PublishPrice(assetID, price)
}

func (b *Broker) publish(ev Event) {
	ev.data = new(lazyJSON)
	b.mu.Lock()
	defer b.mu.Unlock()
	ev.ID = b.seq + 1
	ev.At = b.now()
	b.add(ev)
}

// Append adds an event numbered elsewhere (by a bus): ev.ID, ev.At and the
// fields of its Kind are set, and data, when not nil, is its JSON (what
// Event.JSON returns). It reports false, and drops the event, unless ev.ID
// is above every id the broker holds. It never blocks.
func (b *Broker) Append(ev Event, data []byte) bool {
	ev.data = new(lazyJSON)
	if data != nil {
		ev.data.once.Do(func() { ev.data.b = data })
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if ev.ID <= b.seq {
		return false
	}
	b.add(ev)
	return true
}

// Rebase forgets the history and moves the broker's position to id (lower
// or higher than before): the events up to id are unknown to it. Every
// subscription ends as if dropped (Dropped reports true), so its client
// reconnects and, resuming from an id before the new position, is told to
// re-read its state. A bus calls it when it may have missed events.
func (b *Broker) Rebase(id uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	clear(b.ring)
	b.head, b.n = 0, 0
	b.seq, b.floor = id, id
	b.signal()
	for s := range b.subs {
		b.dropped++
		s.dropped = true
		b.remove(s)
	}
}

// HistorySize returns how many events the history keeps.
func (b *Broker) HistorySize() int { return len(b.ring) }

// signal wakes the Subscribe calls waiting for seq to move. Called with
// b.mu held.
func (b *Broker) signal() {
	if b.advanced != nil {
		close(b.advanced)
		b.advanced = nil
	}
}

// add numbers ev as the last event, keeps it and fans it out. Called with
// b.mu held.
func (b *Broker) add(ev Event) {
	b.seq = ev.ID
	b.signal()
	if b.n < len(b.ring) {
		b.ring[(b.head+b.n)%len(b.ring)] = ev
		b.n++
	} else {
		b.floor = b.ring[b.head].ID
		b.ring[b.head] = ev
		b.head = (b.head + 1) % len(b.ring)
	}
	if b.closed {
		return
	}
	if ev.Username == "" {
		for s := range b.subs {
			b.deliver(s, ev)
		}
		return
	}
	for s := range b.users[ev.Username] {
		b.deliver(s, ev)
	}
}

// deliver sends ev to s without blocking, dropping s when its buffer is
// full. Called with b.mu held.
func (b *Broker) deliver(s *Subscription, ev Event) {
	if !s.admits(ev) {
		return
	}
	select {
	case s.ch <- ev:
	default:
		b.dropped++
		s.dropped = true
		b.remove(s)
	}
}

// remove unregisters s and closes its channel. Called with b.mu held.
func (b *Broker) remove(s *Subscription) {
	if s.done {
		return
	}
	s.done = true
	delete(b.subs, s)
	if set := b.users[s.username]; set != nil {
		delete(set, s)
		if len(set) == 0 {
			delete(b.users, s.username)
		}
	}
	close(s.ch)
}

// SubscribeOptions select what a subscription receives.
type SubscribeOptions struct {
	// Username receives the order and balance events of this user; price
	// ticks go to every subscription.
	Username string
	// Assets, when not empty, limits price ticks to these asset ids (exact
	// match: normalise the case before).
	Assets []string
	// Resume asks for the events after LastEventID (in Catchup.Events).
	Resume      bool
	LastEventID uint64
}

// Catchup is what a resuming subscriber missed.
type Catchup struct {
	// Events are the retained events after LastEventID that the
	// subscription admits, oldest first; none when Reset.
	Events []Event
	// Reset reports that LastEventID is not in the history (too old, or
	// never issued by this broker): the client must re-read its state.
	Reset bool
	// Unknown reports, with Reset, that LastEventID is not an id this
	// broker issued or received (rather than one that left the history).
	Unknown bool
	// Cursor is the id of the last event published before the subscription:
	// every later event the subscription admits arrives on its channel.
	Cursor uint64
}

// Subscribe registers a subscription and, when opts.Resume, returns what it
// missed. The catch-up and the registration are atomic: no event is missed
// or delivered twice between them. On a closed broker the subscription's
// channel is already closed. A resume from an id above the broker's last
// event waits up to Options.ResumeWait for it.
func (b *Broker) Subscribe(opts SubscribeOptions) (*Subscription, Catchup) {
	s := &Subscription{b: b, ch: make(chan Event, b.bufSize), username: opts.Username}
	if len(opts.Assets) > 0 {
		s.assets = make(map[string]bool, len(opts.Assets))
		for _, a := range opts.Assets {
			s.assets[a] = true
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if opts.Resume && opts.LastEventID > b.seq && b.resumeWait > 0 {
		b.await(opts.LastEventID)
	}
	c := Catchup{Cursor: b.seq}
	if opts.Resume && opts.LastEventID != b.seq {
		// i is the first retained event after LastEventID.
		i := sort.Search(b.n, func(i int) bool { return b.at(i).ID > opts.LastEventID })
		switch {
		case opts.LastEventID > b.seq:
			c.Reset, c.Unknown = true, true
		case opts.LastEventID < b.floor:
			c.Reset = true
		case opts.LastEventID != b.floor && (i == 0 || b.at(i-1).ID != opts.LastEventID):
			c.Reset, c.Unknown = true, true
		default:
			for ; i < b.n; i++ {
				if ev := b.at(i); s.admits(ev) {
					c.Events = append(c.Events, ev)
				}
			}
		}
	}
	if b.closed {
		s.done = true
		close(s.ch)
		return s, c
	}
	b.subs[s] = struct{}{}
	set := b.users[s.username]
	if set == nil {
		set = map[*Subscription]struct{}{}
		b.users[s.username] = set
	}
	set[s] = struct{}{}
	return s, c
}

// at returns the i-th retained event, oldest first. Called with b.mu held.
func (b *Broker) at(i int) Event { return b.ring[(b.head+i)%len(b.ring)] }

// await waits, releasing b.mu meanwhile, until the broker holds an event
// with an id of at least id, is closed, or Options.ResumeWait has passed.
// Called with b.mu held.
func (b *Broker) await(id uint64) {
	t := time.NewTimer(b.resumeWait)
	defer t.Stop()
	for id > b.seq && !b.closed {
		if b.advanced == nil {
			b.advanced = make(chan struct{})
		}
		ch := b.advanced
		b.mu.Unlock()
		select {
		case <-ch:
			b.mu.Lock()
		case <-t.C:
			b.mu.Lock()
			return
		}
	}
}

// Close ends every subscription (their channels close; Dropped reports
// false) and refuses new ones; events published later are still numbered
// and kept. It is idempotent.
func (b *Broker) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	b.signal()
	for s := range b.subs {
		b.remove(s)
	}
	close(b.done)
}

// Done is closed when the broker is closed.
func (b *Broker) Done() <-chan struct{} { return b.done }

// Stats are a broker's counters.
type Stats struct {
	LastID        uint64 // id of the last event published
	Retained      int    // events in the history
	Subscriptions int    // active subscriptions
	Dropped       uint64 // subscriptions dropped for a full buffer or by Rebase, ever
}

// Stats returns the broker's counters.
func (b *Broker) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return Stats{LastID: b.seq, Retained: b.n, Subscriptions: len(b.subs), Dropped: b.dropped}
}

// Subscription receives events. Read Events until it is closed, and Close
// the subscription when done.
type Subscription struct {
	b        *Broker
	ch       chan Event
	username string
	assets   map[string]bool // price filter; nil admits every asset

	// guarded by b.mu
	done    bool
	dropped bool
}

// Events returns the channel of events, in id order. It is closed when the
// subscription ends: Close, Broker.Close, a full buffer or Rebase (Dropped).
func (s *Subscription) Events() <-chan Event { return s.ch }

// Dropped reports whether the subscription was ended because it missed
// events: its buffer was full (the client was too slow), or the broker was
// rebased.
func (s *Subscription) Dropped() bool {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	return s.dropped
}

// Close ends the subscription; it is idempotent.
func (s *Subscription) Close() {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.b.remove(s)
}

// admits reports whether the subscription receives ev.
func (s *Subscription) admits(ev Event) bool {
	if ev.Username != "" {
		return ev.Username == s.username
	}
	if ev.Kind == KindFX {
		return true // rates are no asset's: every subscription has them
	}
	return s.assets == nil || s.assets[ev.AssetID]
}
