// Package pricing produces asset price movements: a static feed (prices stay
// as they are), a simulated feed (a seeded, reproducible, bounded random walk
// per asset) and the loop that applies a feed's ticks on a schedule.
package pricing

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/orderprocessor/orderprocessor/decimal"
)

// Tick is a new price of one asset.
type Tick struct {
	AssetID string
	Price   decimal.Decimal
}

// Feed proposes the next prices given the current ones (asset id -> price).
type Feed interface {
	Next(current map[string]decimal.Decimal) []Tick
}

// Static is a feed under which prices only change when an admin sets them.
type Static struct{}

// Next returns no ticks.
func (Static) Next(map[string]decimal.Decimal) []Tick { return nil }

// Simulated moves each price by a random step of at most MaxStep (a fraction,
// e.g. 0.005 = 0.5%) per tick, never leaving [Floor, Ceil] times the asset's
// first seen price. The same seed and the same inputs give the same ticks.
type Simulated struct {
	MaxStep     float64
	Floor, Ceil float64
	rng         *rand.Rand
	anchor      map[string]decimal.Decimal
}

// NewSimulated returns a simulated feed with the given seed and sane bounds
// (steps of at most 0.5%, prices within 0.5x..2x of their starting value).
func NewSimulated(seed uint64) *Simulated {
	return &Simulated{MaxStep: 0.005, Floor: 0.5, Ceil: 2,
		rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), anchor: map[string]decimal.Decimal{}}
}

// Next returns one tick per asset, in asset id order.
func (s *Simulated) Next(current map[string]decimal.Decimal) []Tick {
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
		scale := p.Scale()
		if scale < 2 {
			scale = 2
		}
		next := p.Mul(factor).Round(scale, decimal.HalfEven)
		lo := anchor.Mul(decimal.New(int64(s.Floor*1000), -3))
		hi := anchor.Mul(decimal.New(int64(s.Ceil*1000), -3))
		next = decimal.Min(decimal.Max(next, lo), hi).Round(scale, decimal.HalfEven)
		if !next.IsPositive() || next.Equal(p) {
			continue
		}
		ticks = append(ticks, Tick{AssetID: id, Price: next})
	}
	return ticks
}

// Source reads current prices and applies new ones (the inventory service).
type Source interface {
	Prices(ctx context.Context) (map[string]decimal.Decimal, error)
	ApplyTicks(ctx context.Context, ticks []Tick) error
}

// Run applies feed's ticks to src every interval until ctx is done.
func Run(ctx context.Context, feed Feed, src Source, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		prices, err := src.Prices(ctx)
		if err != nil {
			log.Warn("price feed: read prices", "err", err)
			continue
		}
		ticks := feed.Next(prices)
		if len(ticks) == 0 {
			continue
		}
		if err := src.ApplyTicks(ctx, ticks); err != nil && ctx.Err() == nil {
			log.Warn("price feed: apply ticks", "err", err, "ticks", len(ticks))
		}
	}
}
