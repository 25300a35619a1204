// Package inventory is the inventory service: the asset catalogue over HTTP
// (public reads, admin writes), the seeding of the catalogue on first start,
// the price source the price feed moves (pricing.Source), and the exchange
// rates (fx.go: their routes, the admin set, the source the rate feed
// moves).
//
// Every price change (an admin price set, an admin update that changes
// price_usd, a feed tick) is written to the store first, together with a
// point of the asset's price history (dao.AssetDAO.PriceHistory, served by
// GET /api/v1/inventory/assets/{asset_id}/history), and then reported to the
// hooks registered with OnPriceChange, in the caller's goroutine: the order
// service's trigger engine subscribes there.
package inventory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/pricing"
)

// PriceChangeFunc is called after a price change was stored, with the price
// before and after. ctx is the context of the change (the admin's request or
// the price feed's loop): a hook that works beyond the call must detach from
// it. Hooks run synchronously and in registration order, so they should be
// quick or hand the work off; a panicking hook is recovered and logged.
// Calls for concurrent changes of one asset (an admin set racing a feed
// tick) may arrive in either order: new is what this change stored, which
// a later change may already have replaced, so a subscriber that needs the
// current price reads it.
type PriceChangeFunc func(ctx context.Context, assetID string, old, new decimal.Decimal)

// DeactivateFunc is called after a deactivation of assetID was stored (by
// POST .../deactivate or by PUT with is_active false), before the admin's
// request is answered: the trading service cancels the asset's resting
// orders there and returns how many it cancelled. ctx carries the
// request's values without its cancellation, so that an admin who gives up
// waiting does not stop the pass half-way; an error is logged (the trigger
// engine's sweep cancels what the pass left).
type DeactivateFunc func(ctx context.Context, assetID string) (int, error)

// Assets is what the service needs of the store: the catalogue's items and
// their price history (dao.AssetDAO).
type Assets interface {
	Create(ctx context.Context, a *entity.Asset) error
	Get(ctx context.Context, id string) (*entity.Asset, error)
	List(ctx context.Context, f dao.AssetFilter) ([]*entity.Asset, string, error)
	All(ctx context.Context) ([]*entity.Asset, error)
	Modify(ctx context.Context, id string, now time.Time, fn func(*entity.Asset) error) (*entity.Asset, error)
	SetActive(ctx context.Context, id string, active bool, now time.Time) (*entity.Asset, error)
	PriceHistory(ctx context.Context, id string, from, to time.Time, limit int) ([]dao.PricePoint, bool, error)
}

var _ Assets = (*dao.AssetDAO)(nil)

// Service serves the catalogue. Build it with New; it is safe for concurrent use.
type Service struct {
	assets Assets
	now    func() time.Time
	log    *slog.Logger

	mu          sync.RWMutex
	hooks       []PriceChangeFunc
	deactivated []DeactivateFunc

	historyScan int // MaxHistoryScan; smaller in tests

	rates      Rates
	rateMaxAge time.Duration
	spread     decimal.Decimal
	onRate     RateChangeFunc
}

// Options are a Service's optional settings; the zero value is the defaults.
type Options struct {
	Now    func() time.Time // the clock; time.Now when nil
	Logger *slog.Logger     // slog.Default() when nil
	// OnPriceChange and OnDeactivate, when set, are the first hooks of
	// their kind (see PriceChangeFunc, DeactivateFunc); the methods of the
	// same names add more.
	OnPriceChange PriceChangeFunc
	OnDeactivate  DeactivateFunc
	// Rates, when set, are the stored exchange rates the service serves
	// (GET /api/v1/fx/rates, the history, the admin set) and its rate feed
	// moves (RateSource); RateMaxAge is the age beyond which the money
	// flows refuse a rate (shown as stale; 0: no bound); OnRateChange is
	// called after each rate change.
	Rates        Rates
	RateMaxAge   time.Duration
	OnRateChange RateChangeFunc
	// Spread is the conversions' spread (trading.Config.FXSpread), answered
	// with the rates.
	Spread decimal.Decimal
}

// New returns the inventory service over the catalogue's store.
func New(assets Assets, opts Options) *Service {
	s := &Service{assets: assets, now: opts.Now, log: opts.Logger, historyScan: MaxHistoryScan,
		rates: opts.Rates, rateMaxAge: opts.RateMaxAge, onRate: opts.OnRateChange, spread: opts.Spread}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.OnPriceChange(opts.OnPriceChange)
	s.OnDeactivate(opts.OnDeactivate)
	return s
}

// OnPriceChange registers fn as a price-change hook after construction (for
// a subscriber built later than the service); nil is ignored. Changes stored
// before the call are not replayed.
func (s *Service) OnPriceChange(fn PriceChangeFunc) {
	if fn == nil {
		return
	}
	s.mu.Lock()
	s.hooks = append(s.hooks, fn)
	s.mu.Unlock()
}

// OnDeactivate registers fn as a deactivation hook after construction; nil
// is ignored.
func (s *Service) OnDeactivate(fn DeactivateFunc) {
	if fn == nil {
		return
	}
	s.mu.Lock()
	s.deactivated = append(s.deactivated, fn)
	s.mu.Unlock()
}

// fireDeactivated calls every deactivation hook in turn and returns how many
// orders they cancelled; a failing or panicking hook is logged (the
// deactivation is already stored).
func (s *Service) fireDeactivated(ctx context.Context, id string) int {
	s.mu.RLock()
	hooks := s.deactivated
	s.mu.RUnlock()
	ctx = context.WithoutCancel(ctx)
	total := 0
	for _, h := range hooks {
		func() {
			defer func() {
				if r := recover(); r != nil {
					s.log.ErrorContext(ctx, "inventory: deactivation hook panicked",
						"asset_id", id, "panic", fmt.Sprint(r))
				}
			}()
			n, err := h(ctx, id)
			total += n
			if err != nil {
				s.log.ErrorContext(ctx, "inventory: deactivation hook failed; the trigger engine's sweep completes it",
					"asset_id", id, "cancelled", n, "err", err)
			}
		}()
	}
	return total
}

// firePriceChange calls every hook; a panic in one is logged and does not
// stop the others (the change is already stored).
func (s *Service) firePriceChange(ctx context.Context, id string, old, new decimal.Decimal) {
	s.mu.RLock()
	hooks := s.hooks
	s.mu.RUnlock()
	for _, h := range hooks {
		func() {
			defer func() {
				if r := recover(); r != nil {
					s.log.ErrorContext(ctx, "inventory: price-change hook panicked",
						"asset_id", id, "panic", fmt.Sprint(r))
				}
			}()
			h(ctx, id, old, new)
		}()
	}
}

// setPrice stores price as id's price (and last_updated), fires the hooks
// and returns the asset.
func (s *Service) setPrice(ctx context.Context, id string, price decimal.Decimal) (*entity.Asset, error) {
	now := s.now()
	var old decimal.Decimal
	a, err := s.assets.Modify(ctx, id, now, func(a *entity.Asset) error {
		old = a.PriceUSD // Modify may retry: the last call is the one stored
		a.PriceUSD = price
		a.LastUpdated = entity.At(now)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("set price of %s: %w", id, err)
	}
	s.firePriceChange(ctx, id, old, price)
	return a, nil
}

// Prices returns the current price of every active asset (pricing.Source).
func (s *Service) Prices(ctx context.Context) (map[string]decimal.Decimal, error) {
	all, err := s.assets.All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read prices: %w", err)
	}
	out := make(map[string]decimal.Decimal, len(all))
	for _, a := range all {
		if a.IsActive {
			out[a.AssetID] = a.PriceUSD
		}
	}
	return out, nil
}

// ApplyTicks stores each tick's price (recording a price point) and its
// market data, and fires the price-change hooks for a changed price
// (pricing.Source). A tick is rejected (and reported in the returned error)
// when its asset id is malformed or unknown, its price breaks the price
// rules (> 0, <= entity.MaxAssetPrice, <= 8 decimals) or its market data the
// asset rules (caps, volumes, highs, lows >= 0); the other ticks are still
// applied. A tick equal to the stored price and market data writes nothing
// and fires nothing; one that changes only market data writes it, records
// no point and fires nothing.
func (s *Service) ApplyTicks(ctx context.Context, ticks []pricing.Tick) error {
	var errs []error
	for _, t := range ticks {
		if err := s.applyTick(ctx, t); err != nil {
			if ctx.Err() != nil {
				return errors.Join(append(errs, err)...)
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Service) applyTick(ctx context.Context, t pricing.Tick) error {
	id, ok := entity.NormalizeAssetID(t.AssetID)
	if !ok {
		return fmt.Errorf("tick for malformed asset id %q", t.AssetID)
	}
	price := t.Price
	if err := (&entity.PriceUpdate{PriceUSD: &price}).Validate(); err != nil {
		return fmt.Errorf("tick %s %s: %w", id, price, err)
	}
	upd := entity.AssetUpdate{PriceUSD: &price}
	if m := t.Market; m != nil {
		upd.MarketData = entity.MarketData{
			MarketCap: m.MarketCap, TotalVolume24h: m.TotalVolume24h, High24h: m.High24h, Low24h: m.Low24h,
			PriceChange24h: m.PriceChange24h, PriceChangePercentage24h: m.PriceChangePercentage24h,
		}
		if err := upd.Validate(); err != nil {
			return fmt.Errorf("tick %s market data: %w", id, err)
		}
	}
	now := s.now()
	var old decimal.Decimal
	changed := false
	_, err := s.assets.Modify(ctx, id, now, func(a *entity.Asset) error {
		old, changed = a.PriceUSD, !a.PriceUSD.Equal(price)
		if !changed && !marketChanges(&a.MarketData, &upd.MarketData) {
			return errUnchanged
		}
		upd.Apply(a, entity.At(now))
		return nil
	})
	if errors.Is(err, errUnchanged) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("tick %s: %w", id, err)
	}
	if changed {
		s.firePriceChange(ctx, id, old, price)
	}
	return nil
}

// marketChanges reports whether applying the market data of a tick (the
// fields a feed sets) to cur would change it.
func marketChanges(cur, tick *entity.MarketData) bool {
	differs := func(c, t *decimal.Decimal) bool { return t != nil && (c == nil || !c.Equal(*t)) }
	return differs(cur.MarketCap, tick.MarketCap) || differs(cur.TotalVolume24h, tick.TotalVolume24h) ||
		differs(cur.High24h, tick.High24h) || differs(cur.Low24h, tick.Low24h) ||
		differs(cur.PriceChange24h, tick.PriceChange24h) ||
		differs(cur.PriceChangePercentage24h, tick.PriceChangePercentage24h)
}

// errUnchanged aborts a Modify that would not change anything.
var errUnchanged = errors.New("unchanged")

var _ pricing.Source = (*Service)(nil)
