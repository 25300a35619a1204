package platform

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/eventbus"
	"github.com/orderprocessor/orderprocessor/services/inventory"
	"github.com/orderprocessor/orderprocessor/stream"
	"github.com/orderprocessor/orderprocessor/trading"
)

// events are where a process's business events go and where its live
// stream and trigger engine hear of them. Without Redis (or in a process
// without a store) the broker is the bus, in process. With Redis every
// process with a store publishes to the event bus; a role that serves the
// stream or runs the engine reads it: the bus feeds the broker (whose ids
// are then the bus's, the same on every replica) and hands every price
// change to the engine.
type events struct {
	broker *stream.Broker
	bus    *eventbus.Bus   // nil without Redis
	engine *trading.Engine // told of the bus's price events; set before start
}

func newEvents(cfg Config, spec roleSpec, hasStore bool, reg prometheus.Registerer, log *slog.Logger, now func() time.Time) (*events, error) {
	if cfg.RedisURL == "" || !hasStore {
		return &events{broker: stream.NewBroker(stream.Options{Now: now})}, nil
	}
	e := &events{}
	opts := eventbus.Options{Prefix: cfg.RedisPrefix, Registerer: reg, Logger: log, Now: now}
	if spec.engine != engineNone {
		e.broker = stream.NewBroker(stream.Options{Now: now, ResumeWait: eventbus.DefaultResumeWait})
		opts.Broker = e.broker
		opts.OnPrice = func(assetID string, price decimal.Decimal) { e.engine.PriceChanged(assetID, price) }
		// The all-in-one engine hears its own process's changes directly.
		opts.SkipOwnPrices = spec.engine == engineLive
	} else {
		e.broker = stream.NewBroker(stream.Options{Now: now}) // serves no stream
	}
	var err error
	e.bus, err = eventbus.New(cfg.RedisURL, opts)
	return e, err
}

// notifier is where the trading layer publishes order and balance events.
func (e *events) notifier() trading.Notifier {
	if e.bus != nil {
		return e.bus
	}
	return e.broker
}

// priceHook is where the catalogue publishes price changes.
func (e *events) priceHook() inventory.PriceChangeFunc {
	if e.bus != nil {
		return e.bus.PriceChanged
	}
	return e.broker.PriceChanged
}

// rateHook is where the inventory service publishes exchange-rate changes:
// the stream's fx events.
func (e *events) rateHook() inventory.RateChangeFunc {
	return func(_ context.Context, r *dao.FXRate) {
		if e.bus != nil {
			e.bus.RateChanged(string(r.Currency), r.Rate)
			return
		}
		e.broker.PublishRate(string(r.Currency), r.Rate)
	}
}

// sweepPrices is the engine's price reader: inv.Prices, which without a bus
// a role that does not see price changes (RoleOrder) wraps so that the
// prices its sweep reads that differ from the previous read are published
// to the stream.
func (e *events) sweepPrices(spec roleSpec, read func(context.Context) (map[string]decimal.Decimal, error)) func(context.Context) (map[string]decimal.Decimal, error) {
	if e.bus != nil || spec.engine != engineRemote {
		return read
	}
	return sweepPrices(read, e.broker)
}

// loadWait bounds how long start waits for the bus's history.
const loadWait = 5 * time.Second

// start starts the bus, once the engine is set, and waits (up to loadWait)
// until the broker holds the bus's history, so that the process serves
// streams from the bus's ids once it is open.
func (e *events) start(engine *trading.Engine, log *slog.Logger) {
	e.engine = engine
	if e.bus == nil {
		return
	}
	e.bus.Start()
	if e.engine == nil {
		return // publishes only
	}
	select {
	case <-e.bus.Loaded():
	case <-time.After(loadWait):
		log.Warn("event bus: the history is not loaded yet; the live stream starts when Redis answers")
	}
}

// close writes the bus's queued events and closes it.
func (e *events) close() error {
	if e.bus == nil {
		return nil
	}
	return e.bus.Close()
}
