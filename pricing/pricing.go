// Package pricing produces asset price movements: a static feed (prices stay
// as they are), a simulated feed (a seeded, reproducible, bounded random walk
// per asset), an HTTP feed polling a CoinGecko-compatible markets endpoint
// (HTTP), and the loop that applies a feed's ticks on a schedule (Run). The
// same feeds move exchange rates, keyed by currency code: the static one, a
// simulated walk of small steps (NewSimulatedFX) and an HTTP feed of the
// frankfurter.app shape (FXHTTP).
package pricing

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/orderprocessor/orderprocessor/decimal"
)

// Tick is a new price of one asset, with optional market data.
type Tick struct {
	AssetID string
	Price   decimal.Decimal
	// Market, when set, carries market data observed with the price (a
	// provider's figures); nil for feeds that only move prices.
	Market *Market
}

// Market is market data that comes with a tick. A nil field is unknown: the
// stored value is kept.
type Market struct {
	MarketCap                *decimal.Decimal
	TotalVolume24h           *decimal.Decimal
	High24h                  *decimal.Decimal
	Low24h                   *decimal.Decimal
	PriceChange24h           *decimal.Decimal
	PriceChangePercentage24h *decimal.Decimal
}

// Feed proposes the next prices given the current ones (asset id -> price of
// every active asset). A feed may do I/O under ctx. It returns the ticks it
// has, and an error describing what went wrong (the ticks returned with an
// error are still valid: a feed that polls in parts returns the parts that
// worked). A failing feed changes no price: the last good prices stay.
type Feed interface {
	Next(ctx context.Context, current map[string]decimal.Decimal) ([]Tick, error)
}

// Static is a feed under which prices only change when an admin sets them.
type Static struct{}

// Next returns no ticks.
func (Static) Next(context.Context, map[string]decimal.Decimal) ([]Tick, error) { return nil, nil }

// Simulated moves each price by a random step of at most MaxStep (a fraction,
// e.g. 0.005 = 0.5%) per tick, never leaving [Floor, Ceil] times the asset's
// first seen price. The same seed and the same inputs give the same ticks.
type Simulated struct {
	MaxStep     float64
	Floor, Ceil float64
	// MinScale is the fewest decimal places a new price has (at least 2):
	// a walk of small steps needs places to move in.
	MinScale int32
	rng      *rand.Rand
	anchor   map[string]decimal.Decimal
}

// NewSimulated returns a simulated feed with the given seed and sane bounds
// (steps of at most 0.5%, prices within 0.5x..2x of their starting value).
func NewSimulated(seed uint64) *Simulated {
	return &Simulated{MaxStep: 0.005, Floor: 0.5, Ceil: 2,
		rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), anchor: map[string]decimal.Decimal{}}
}

// Next returns one tick per asset, in asset id order, and never an error. It
// is not safe for concurrent use (Run calls it from one goroutine).
func (s *Simulated) Next(_ context.Context, current map[string]decimal.Decimal) ([]Tick, error) {
	ids := make([]string, 0, len(current))
	for id := range current {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	ticks := make([]Tick, 0, len(ids))
	for _, id := range ids {
		p := current[id]
		if !p.IsPositive() {
			continue
		}
		anchor, ok := s.anchor[id]
		if !ok {
			anchor = p
			s.anchor[id] = p
		}
		// The step is drawn as a whole number of basis points of a basis point
		// so that the walk itself is exact decimal arithmetic.
		maxUnits := int64(s.MaxStep * 1e6)
		units := s.rng.Int64N(2*maxUnits+1) - maxUnits
		factor := decimal.New(1_000_000+units, -6)
		scale := max(p.Scale(), s.MinScale, 2)
		next := p.Mul(factor).Round(scale, decimal.HalfEven)
		lo := anchor.Mul(decimal.New(int64(s.Floor*1000), -3))
		hi := anchor.Mul(decimal.New(int64(s.Ceil*1000), -3))
		next = decimal.Min(decimal.Max(next, lo), hi).Round(scale, decimal.HalfEven)
		if !next.IsPositive() || next.Equal(p) {
			continue
		}
		ticks = append(ticks, Tick{AssetID: id, Price: next})
	}
	return ticks, nil
}

// Source reads current prices and applies new ones (the inventory service).
type Source interface {
	Prices(ctx context.Context) (map[string]decimal.Decimal, error)
	ApplyTicks(ctx context.Context, ticks []Tick) error
}

// Run applies feed's ticks to src every interval until ctx is done. An HTTP
// feed is also polled once at start, so that real prices replace the seeded
// ones without waiting an interval. Errors (reading prices, the feed's,
// applying ticks) are logged and the loop goes on: prices a step could not
// obtain stay as they were.
func Run(ctx context.Context, feed Feed, src Source, interval time.Duration, log *slog.Logger) {
	if PollsAtStart(feed) {
		Step(ctx, feed, src, log)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		Step(ctx, feed, src, log)
	}
}

// PollsAtStart reports whether Run polls feed once at start: the feeds of a
// provider (HTTP, FXHTTP).
func PollsAtStart(feed Feed) bool {
	switch feed.(type) {
	case *HTTP, *FXHTTP:
		return true
	}
	return false
}

// NewSimulatedFX returns a simulated feed of exchange rates with the given
// seed: steps of at most 0.05%, rates with at least 6 places, within
// 0.8x..1.25x of their starting value.
func NewSimulatedFX(seed uint64) *Simulated {
	s := NewSimulated(seed)
	s.MaxStep, s.Floor, s.Ceil, s.MinScale = 0.0005, 0.8, 1.25, 6
	return s
}

// Step runs one round of Run: it reads the current prices from src, asks
// feed for ticks and applies them, and returns how many ticks it applied or
// tried to apply. Errors are logged (unless ctx is done), not returned.
func Step(ctx context.Context, feed Feed, src Source, log *slog.Logger) int {
	prices, err := src.Prices(ctx)
	if err != nil {
		if ctx.Err() == nil {
			log.Warn("price feed: read prices", "err", err)
		}
		return 0
	}
	ticks, err := feed.Next(ctx, prices)
	if err != nil && ctx.Err() == nil {
		log.Warn("price feed: next prices", "err", err, "ticks", len(ticks))
	}
	if len(ticks) == 0 {
		return 0
	}
	if err := src.ApplyTicks(ctx, ticks); err != nil && ctx.Err() == nil {
		log.Warn("price feed: apply ticks", "err", err, "ticks", len(ticks))
	}
	return len(ticks)
}
